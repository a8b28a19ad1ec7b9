//! The in-process store: one bounded dictionary per plugin, and the
//! runtime's registry of them by plugin name.

use crate::shared::SHARED_ENTRY_OVERHEAD_BYTES;
use crate::shared::op::{
    Number, Reply, SetMode, SharedFailure, SharedOp, SharedStore, SharedValue,
};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// The in-process dictionary of one plugin: bounded in bytes, LRU eviction
/// of expired entries first, then of the least recently used.
pub(crate) struct LocalDict {
    state: Mutex<DictState>,
}

struct DictEntry {
    value: SharedValue,
    expires_at: Option<Instant>,
    /// Position in the LRU order (larger = more recent).
    tick: u64,
}

struct DictState {
    capacity_bytes: usize,
    used_bytes: usize,
    next_tick: u64,
    entries: HashMap<Arc<[u8]>, DictEntry>,
    /// Least recently used first.
    lru: BTreeMap<u64, Arc<[u8]>>,
    /// Entries with a TTL, soonest expiry first.
    expiry: BTreeMap<(Instant, u64), Arc<[u8]>>,
}

fn entry_cost(key: &[u8], value: &SharedValue) -> usize {
    key.len() + value.bytes() + SHARED_ENTRY_OVERHEAD_BYTES
}

fn expiry_after(now: Instant, ttl_ms: u64) -> Option<Instant> {
    (ttl_ms > 0)
        .then(|| now.checked_add(Duration::from_millis(ttl_ms)))
        .flatten()
}

impl LocalDict {
    /// An empty dictionary holding at most `capacity_bytes` (see
    /// [`LuaSandboxLimits::shared_dict_bytes`](crate::LuaSandboxLimits::shared_dict_bytes)).
    pub(crate) fn new(capacity_bytes: usize) -> LocalDict {
        LocalDict {
            state: Mutex::new(DictState {
                capacity_bytes,
                used_bytes: 0,
                next_tick: 0,
                entries: HashMap::new(),
                lru: BTreeMap::new(),
                expiry: BTreeMap::new(),
            }),
        }
    }

    /// Changes the limit (a reload with other limits); evicts down to it.
    pub(crate) fn set_capacity(&self, capacity_bytes: usize) {
        let mut state = self.lock();
        state.capacity_bytes = capacity_bytes;
        state.make_room(0, Instant::now());
    }

    /// Bytes counted against the limit right now.
    #[cfg(test)]
    pub(crate) fn used_bytes(&self) -> usize {
        self.lock().used_bytes
    }

    /// Runs `op` as of `now` (a parameter so tests control the clock).
    pub(crate) fn execute_at(&self, op: &SharedOp, now: Instant) -> Reply {
        if let Some(reply) = op.bad_key_reply() {
            return reply;
        }
        self.lock().execute(op, now)
    }

    fn lock(&self) -> MutexGuard<'_, DictState> {
        // Every update of the state completes before anything that could
        // panic, so a poisoned lock still guards consistent data.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl SharedStore for LocalDict {
    fn execute(&self, op: &SharedOp, _deadline: Option<Instant>) -> Result<Reply, SharedFailure> {
        Ok(self.execute_at(op, Instant::now()))
    }
}

impl DictState {
    fn execute(&mut self, op: &SharedOp, now: Instant) -> Reply {
        match op {
            SharedOp::Get { key } => {
                Reply::one(self.live(key, now).map(|entry| entry.value.clone()))
            }
            SharedOp::Set {
                key, value: None, ..
            }
            | SharedOp::Delete { key } => {
                self.remove(key);
                match op {
                    SharedOp::Delete { .. } => Reply::default(),
                    _ => Reply::write(true, None, false),
                }
            }
            SharedOp::Set {
                key,
                value: Some(value),
                ttl_ms,
                mode,
            } => {
                let present = self.live(key, now).is_some();
                match (mode, present) {
                    (SetMode::IfAbsent, true) => Reply::write(false, Some("exists"), false),
                    (SetMode::IfPresent, false) => Reply::write(false, Some("not found"), false),
                    _ => match self.insert(key, value.clone(), expiry_after(now, *ttl_ms), now) {
                        Some(evicted) => Reply::write(true, None, evicted > 0),
                        None => Reply::write(false, Some("no memory"), false),
                    },
                }
            }
            SharedOp::Incr {
                key,
                by,
                init,
                init_ttl_ms,
            } => {
                let Some(entry) = self.live(key, now) else {
                    let Some(init) = init else {
                        return Reply::failed("not found");
                    };
                    let value = init.add(*by);
                    return match self.insert(
                        key,
                        value.into_value(),
                        expiry_after(now, *init_ttl_ms),
                        now,
                    ) {
                        Some(evicted) => Reply::incremented(value, evicted > 0),
                        None => Reply::failed("no memory"),
                    };
                };
                let current = match entry.value {
                    SharedValue::Int(i) => Number::Int(i),
                    SharedValue::Float(f) => Number::Float(f),
                    _ => return Reply::failed("not a number"),
                };
                let value = current.add(*by);
                // A number replaces a number: the size does not change.
                entry.value = value.into_value();
                Reply::incremented(value, false)
            }
            SharedOp::Ttl { key } => match self.live(key, now) {
                None => Reply::failed("not found"),
                Some(entry) => {
                    let left = entry
                        .expires_at
                        .map_or(0, |at| at.saturating_duration_since(now).as_millis().max(1));
                    Reply::one(Some(SharedValue::Int(left as i64)))
                }
            },
            SharedOp::Expire { key, ttl_ms } => {
                if self.live(key, now).is_none() {
                    return Reply::failed("not found");
                }
                self.set_expiry(key, expiry_after(now, *ttl_ms));
                Reply::one(Some(SharedValue::Bool(true)))
            }
            SharedOp::Keys { limit } => {
                let limit = if *limit == 0 { usize::MAX } else { *limit };
                let keys = self
                    .lru
                    .values()
                    .rev()
                    .filter(|key| self.entries[&***key].expires_at.is_none_or(|at| at > now))
                    .take(limit)
                    .map(|key| key.to_vec())
                    .collect();
                Reply::keys(keys)
            }
            SharedOp::FlushExpired { max } => {
                let max = if *max == 0 { usize::MAX } else { *max };
                let mut flushed = 0;
                while flushed < max && self.evict_expired(now) {
                    flushed += 1;
                }
                Reply {
                    values: vec![Some(SharedValue::Int(flushed as i64))],
                    entries_visited: flushed,
                }
            }
            SharedOp::FlushAll => {
                let flushed = self.entries.len();
                self.entries.clear();
                self.lru.clear();
                self.expiry.clear();
                self.used_bytes = 0;
                Reply {
                    values: Vec::new(),
                    entries_visited: flushed,
                }
            }
        }
    }

    /// The entry under `key` if it has not expired (an expired one is
    /// removed), marked as just used.
    fn live(&mut self, key: &[u8], now: Instant) -> Option<&mut DictEntry> {
        let (old_tick, expires_at) = self
            .entries
            .get(key)
            .map(|entry| (entry.tick, entry.expires_at))?;
        if expires_at.is_some_and(|at| at <= now) {
            self.remove(key);
            return None;
        }
        let tick = self.tick();
        let shared_key = self.lru.remove(&old_tick)?;
        if let Some(at) = expires_at {
            self.expiry.remove(&(at, old_tick));
            self.expiry.insert((at, tick), shared_key.clone());
        }
        self.lru.insert(tick, shared_key);
        let entry = self.entries.get_mut(key)?;
        entry.tick = tick;
        Some(entry)
    }

    fn tick(&mut self) -> u64 {
        self.next_tick += 1;
        self.next_tick
    }

    fn remove(&mut self, key: &[u8]) -> bool {
        let Some((key, entry)) = self.entries.remove_entry(key) else {
            return false;
        };
        self.lru.remove(&entry.tick);
        if let Some(at) = entry.expires_at {
            self.expiry.remove(&(at, entry.tick));
        }
        self.used_bytes -= entry_cost(&key, &entry.value);
        true
    }

    fn set_expiry(&mut self, key: &[u8], expires_at: Option<Instant>) {
        let Some((shared_key, entry)) = self.entries.get_key_value(key) else {
            return;
        };
        let (old, tick, shared_key) = (entry.expires_at, entry.tick, shared_key.clone());
        if let Some(at) = old {
            self.expiry.remove(&(at, tick));
        }
        if let Some(at) = expires_at {
            self.expiry.insert((at, tick), shared_key);
        }
        if let Some(entry) = self.entries.get_mut(key) {
            entry.expires_at = expires_at;
        }
    }

    /// Stores `value` under `key`, evicting others as needed. Returns how
    /// many unexpired entries were evicted, or `None` if the entry cannot
    /// fit even in an empty dictionary (then nothing changed).
    fn insert(
        &mut self,
        key: &[u8],
        value: SharedValue,
        expires_at: Option<Instant>,
        now: Instant,
    ) -> Option<usize> {
        let cost = entry_cost(key, &value);
        if cost > self.capacity_bytes {
            return None;
        }
        self.remove(key);
        let evicted = self.make_room(cost, now);
        let key: Arc<[u8]> = key.into();
        let tick = self.tick();
        self.lru.insert(tick, key.clone());
        if let Some(at) = expires_at {
            self.expiry.insert((at, tick), key.clone());
        }
        self.entries.insert(
            key,
            DictEntry {
                value,
                expires_at,
                tick,
            },
        );
        self.used_bytes += cost;
        Some(evicted)
    }

    /// Evicts until `incoming` more bytes fit: expired entries first, then
    /// the least recently used. Returns the number of unexpired entries
    /// evicted (OpenResty's `forcible`).
    fn make_room(&mut self, incoming: usize, now: Instant) -> usize {
        let mut forced = 0;
        while self.used_bytes + incoming > self.capacity_bytes {
            if self.evict_expired(now) {
                continue;
            }
            let Some(key) = self.lru.values().next().cloned() else {
                break;
            };
            self.remove(&key);
            forced += 1;
        }
        forced
    }

    /// Removes the entry that expired first, if any has expired.
    fn evict_expired(&mut self, now: Instant) -> bool {
        match self.expiry.first_key_value() {
            Some((&(at, _), key)) if at <= now => {
                let key = key.clone();
                self.remove(&key)
            }
            _ => false,
        }
    }
}

/// The runtime's dictionaries, one per plugin name.
#[derive(Default)]
pub(crate) struct SharedRegistry {
    dicts: Mutex<HashMap<String, Arc<LocalDict>>>,
}

impl SharedRegistry {
    /// The dictionary of `plugin`, created with `capacity_bytes` on first
    /// use. The flag says whether it was created now.
    pub(crate) fn dict(&self, plugin: &str, capacity_bytes: usize) -> (Arc<LocalDict>, bool) {
        let mut dicts = self.dicts.lock().unwrap_or_else(|e| e.into_inner());
        match dicts.get(plugin) {
            Some(dict) => (dict.clone(), false),
            None => {
                let dict = Arc::new(LocalDict::new(capacity_bytes));
                dicts.insert(plugin.to_string(), dict.clone());
                (dict, true)
            }
        }
    }

    /// Forgets the dictionary of `plugin` (unload, or a first load that failed).
    pub(crate) fn remove(&self, plugin: &str) {
        self.dicts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(plugin);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(k: &str) -> Vec<u8> {
        k.as_bytes().to_vec()
    }

    fn set(k: &str, v: SharedValue, ttl_ms: u64) -> SharedOp {
        SharedOp::Set {
            key: key(k),
            value: Some(v),
            ttl_ms,
            mode: SetMode::Always,
        }
    }

    fn get(dict: &LocalDict, k: &str, now: Instant) -> Option<SharedValue> {
        dict.execute_at(&SharedOp::Get { key: key(k) }, now)
            .values
            .remove(0)
    }

    fn s(text: &str) -> SharedValue {
        SharedValue::Str(text.into())
    }

    #[test]
    fn ttl_expiry_follows_the_clock() {
        let dict = LocalDict::new(1 << 20);
        let t0 = Instant::now();
        dict.execute_at(&set("a", s("x"), 100), t0);
        let ttl = dict.execute_at(
            &SharedOp::Ttl { key: key("a") },
            t0 + Duration::from_millis(40),
        );
        assert_eq!(ttl.values, vec![Some(SharedValue::Int(60))]);
        assert_eq!(
            get(&dict, "a", t0 + Duration::from_millis(99)),
            Some(s("x"))
        );
        assert_eq!(get(&dict, "a", t0 + Duration::from_millis(100)), None);
        assert_eq!(dict.used_bytes(), 0, "an expired entry read is freed");
        // expire(0) makes a key permanent; ttl reports 0 for it.
        dict.execute_at(&set("b", s("y"), 10), t0);
        dict.execute_at(
            &SharedOp::Expire {
                key: key("b"),
                ttl_ms: 0,
            },
            t0,
        );
        assert_eq!(
            get(&dict, "b", t0 + Duration::from_secs(3600)),
            Some(s("y"))
        );
        let ttl = dict.execute_at(&SharedOp::Ttl { key: key("b") }, t0);
        assert_eq!(ttl.values, vec![Some(SharedValue::Int(0))]);
    }

    #[test]
    fn eviction_takes_expired_entries_first_then_the_least_recent() {
        let cost = entry_cost(b"k1", &s("0123456789"));
        let dict = LocalDict::new(cost * 3);
        let t0 = Instant::now();
        let later = t0 + Duration::from_millis(50);
        for (k, ttl) in [("k1", 0), ("k2", 10), ("k3", 0)] {
            assert_eq!(
                dict.execute_at(&set(k, s("0123456789"), ttl), t0),
                Reply::write(true, None, false)
            );
        }
        // k2 has expired by `later`: it goes first and the write is not forcible.
        assert_eq!(
            dict.execute_at(&set("k4", s("0123456789"), 0), later),
            Reply::write(true, None, false)
        );
        assert_eq!(
            get(&dict, "k1", later),
            Some(s("0123456789")),
            "k1 is now the most recent"
        );
        // Nothing expired: the least recently used (k3) is evicted, forcibly.
        assert_eq!(
            dict.execute_at(&set("k5", s("0123456789"), 0), later),
            Reply::write(true, None, true)
        );
        assert_eq!(get(&dict, "k3", later), None);
        assert_eq!(get(&dict, "k1", later), Some(s("0123456789")));
        assert!(dict.used_bytes() <= cost * 3);
        // An entry larger than the whole dictionary fails and changes nothing.
        let huge = SharedValue::Str(vec![b'x'; cost * 3]);
        assert_eq!(
            dict.execute_at(&set("k6", huge, 0), later),
            Reply::write(false, Some("no memory"), false)
        );
        assert_eq!(get(&dict, "k5", later), Some(s("0123456789")));
    }

    #[test]
    fn incr_add_replace_follow_openresty() {
        let dict = LocalDict::new(1 << 20);
        let now = Instant::now();
        let incr = |by, init| SharedOp::Incr {
            key: key("n"),
            by,
            init,
            init_ttl_ms: 0,
        };
        assert_eq!(
            dict.execute_at(&incr(Number::Int(1), None), now),
            Reply::failed("not found")
        );
        assert_eq!(
            dict.execute_at(&incr(Number::Int(2), Some(Number::Int(10))), now),
            Reply::incremented(Number::Int(12), false)
        );
        assert_eq!(
            dict.execute_at(&incr(Number::Float(0.5), None), now),
            Reply::incremented(Number::Float(12.5), false)
        );
        dict.execute_at(&set("n", s("text"), 0), now);
        assert_eq!(
            dict.execute_at(&incr(Number::Int(1), None), now),
            Reply::failed("not a number")
        );
        let add = SharedOp::Set {
            key: key("n"),
            value: Some(s("v")),
            ttl_ms: 0,
            mode: SetMode::IfAbsent,
        };
        assert_eq!(
            dict.execute_at(&add, now),
            Reply::write(false, Some("exists"), false)
        );
        let replace = SharedOp::Set {
            key: key("m"),
            value: Some(s("v")),
            ttl_ms: 0,
            mode: SetMode::IfPresent,
        };
        assert_eq!(
            dict.execute_at(&replace, now),
            Reply::write(false, Some("not found"), false)
        );
        let empty = SharedOp::Get { key: Vec::new() };
        assert_eq!(dict.execute_at(&empty, now), Reply::failed("empty key"));
    }

    #[test]
    fn keys_and_flush_expired() {
        let dict = LocalDict::new(1 << 20);
        let t0 = Instant::now();
        for (i, ttl) in [0, 5, 0, 5].into_iter().enumerate() {
            dict.execute_at(&set(&format!("k{i}"), SharedValue::Int(i as i64), ttl), t0);
        }
        let later = t0 + Duration::from_millis(10);
        assert_eq!(
            dict.execute_at(&SharedOp::Keys { limit: 0 }, later),
            Reply::keys(vec![key("k2"), key("k0")])
        );
        assert_eq!(
            dict.execute_at(&SharedOp::Keys { limit: 1 }, later)
                .values
                .len(),
            1
        );
        let flushed = dict.execute_at(&SharedOp::FlushExpired { max: 0 }, later);
        assert_eq!(flushed.values, vec![Some(SharedValue::Int(2))]);
        assert_eq!(
            dict.used_bytes(),
            2 * entry_cost(b"k0", &SharedValue::Int(0))
        );
    }
}
