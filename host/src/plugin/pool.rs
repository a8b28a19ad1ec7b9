//! The blocking pool of one plugin's sandboxes ([`Pool`], sized by
//! [`PoolConfig`], counted in [`PoolStats`]). The handles users hold on it
//! are in `pooled.rs`.
//!
//! [`Pool`] is generic over what it holds and knows nothing about Lua, so
//! its bookkeeping is tested on its own (see the tests below). Waiting uses a
//! condition variable, never sleep-polling; building an item happens outside
//! the lock, after a slot was reserved, so a slow build never blocks returns.

use crate::config::pool::PoolConfig;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// A snapshot of a pool's counters (serializable, e.g. to JSON for a
/// metrics endpoint).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct PoolStats {
    /// Sandboxes handed out right now.
    pub in_use: usize,
    /// Sandboxes ready in the pool.
    pub idle: usize,
    /// Sandboxes ever built, at load included.
    pub created: u64,
    /// Sandboxes thrown away because their call trapped.
    pub discarded_after_trap: u64,
    /// Acquires that gave up after `acquire_timeout_ms`.
    pub acquire_timeouts: u64,
    /// Sandboxes thrown away because the async call running in them was
    /// cancelled (its future dropped).
    pub discarded_after_cancel: u64,
    /// Sandboxes dropped after [`PoolConfig::idle_timeout_ms`] unused.
    pub dropped_idle: u64,
}

/// What [`Pool::checkout`] found.
pub(crate) enum Checkout<'a, T> {
    /// An idle item, now in use.
    Idle(T),
    /// A slot reserved for an item the caller builds; freed again if the
    /// reservation is dropped before [`Reservation::built`].
    Build(Reservation<'a, T>),
    /// `max_size` items are live.
    Full,
}

/// A pool slot reserved for an item being built (see [`Pool::checkout`]).
pub(crate) struct Reservation<'a, T> {
    pool: &'a Pool<T>,
    done: bool,
}

impl<T> Reservation<'_, T> {
    /// The item was built: it counts as created and in use.
    pub(crate) fn built(mut self) {
        self.done = true;
        self.pool.lock().created += 1;
    }
}

impl<T> Drop for Reservation<'_, T> {
    fn drop(&mut self) {
        // A failed or cancelled build gives its slot back.
        if !self.done {
            self.pool.forget_slot();
        }
    }
}

/// Why an item comes back to [`Pool::release`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Release {
    /// Its call finished normally: kept for reuse (unless the pool makes a
    /// fresh item per call).
    Healthy,
    /// Its call trapped: dropped.
    Trapped,
    /// Its call was cancelled midway: dropped.
    Cancelled,
}

/// Why [`Pool::acquire`] returned without an item.
#[derive(Debug)]
pub(crate) enum AcquireError<E> {
    /// `max_size` items were busy for the whole timeout.
    TimedOut { waited: Duration },
    /// Building a new item failed.
    Build(E),
}

pub(crate) struct Pool<T> {
    config: PoolConfig,
    state: Mutex<State<T>>,
    returned: Condvar,
}

struct State<T> {
    /// Ready items and when each came back, oldest first (items are taken
    /// from the back, so the front is what has waited longest).
    idle: Vec<(T, Instant)>,
    /// Idle plus in use plus being built.
    live: usize,
    in_use: usize,
    created: u64,
    discarded_after_trap: u64,
    discarded_after_cancel: u64,
    acquire_timeouts: u64,
    dropped_idle: u64,
    /// Threads blocked in [`Pool::acquire`]. `Condvar::notify_one` is a
    /// futex syscall even with nobody waiting (std keeps no waiter count),
    /// and `release` runs once per call: counting the waiters here lets
    /// every release without one skip it.
    waiting: usize,
}

impl<T> Pool<T> {
    /// A pool holding `initial` (built by the caller) ready items.
    pub(crate) fn new(config: PoolConfig, initial: Vec<T>) -> Self {
        let n = initial.len();
        let now = Instant::now();
        Pool {
            config,
            state: Mutex::new(State {
                idle: initial.into_iter().map(|item| (item, now)).collect(),
                live: n,
                in_use: 0,
                created: n as u64,
                discarded_after_trap: 0,
                discarded_after_cancel: 0,
                acquire_timeouts: 0,
                dropped_idle: 0,
                waiting: 0,
            }),
            returned: Condvar::new(),
        }
    }

    pub(crate) fn config(&self) -> &PoolConfig {
        &self.config
    }

    /// An idle item, or a new one from `build` while fewer than `max_size`
    /// are live, else waits up to `timeout` (`None`: do not wait).
    pub(crate) fn acquire<E>(
        &self,
        timeout: Option<Duration>,
        build: impl FnOnce() -> Result<T, E>,
    ) -> Result<Option<T>, AcquireError<E>> {
        // Read only once the pool is found full: most acquires never wait.
        let mut started = None;
        let mut state = self.lock();
        loop {
            match self.checkout_locked(&mut state) {
                Checkout::Idle(item) => return Ok(Some(item)),
                Checkout::Build(reservation) => {
                    // Build without holding the lock.
                    drop(state);
                    return match build() {
                        Ok(item) => {
                            reservation.built();
                            Ok(Some(item))
                        }
                        Err(e) => Err(AcquireError::Build(e)),
                    };
                }
                Checkout::Full => {}
            }
            let Some(timeout) = timeout else {
                return Ok(None);
            };
            let started = *started.get_or_insert_with(Instant::now);
            let left = timeout.saturating_sub(started.elapsed());
            if left.is_zero() {
                state.acquire_timeouts += 1;
                return Err(AcquireError::TimedOut {
                    waited: started.elapsed(),
                });
            }
            state.waiting += 1;
            state = self
                .returned
                .wait_timeout(state, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
            state.waiting -= 1;
        }
    }

    /// An idle item or a reserved slot to build one in, without waiting.
    pub(crate) fn checkout(&self) -> Checkout<'_, T> {
        self.checkout_locked(&mut self.lock())
    }

    fn checkout_locked(&self, state: &mut State<T>) -> Checkout<'_, T> {
        if !self.config.fresh_instance_per_call
            && let Some((item, _)) = state.idle.pop()
        {
            state.in_use += 1;
            return Checkout::Idle(item);
        }
        if state.live < self.config.max_size {
            state.live += 1;
            state.in_use += 1;
            return Checkout::Build(Reservation {
                pool: self,
                done: false,
            });
        }
        Checkout::Full
    }

    /// Gives an item back: kept after a healthy call when the pool reuses
    /// items, dropped otherwise.
    pub(crate) fn release(&self, item: T, why: Release) {
        let mut state = self.lock();
        state.in_use -= 1;
        if why == Release::Healthy && !self.config.fresh_instance_per_call {
            state.idle.push((item, Instant::now()));
            self.wake_a_waiter(state);
        } else {
            state.live -= 1;
            match why {
                Release::Trapped => state.discarded_after_trap += 1,
                Release::Cancelled => state.discarded_after_cancel += 1,
                Release::Healthy => {}
            }
            self.wake_a_waiter(state);
            drop(item); // outside the lock: freeing a sandbox is not free
        }
    }

    /// Unlocks `state`, whose change (an item back, a slot freed) may let a
    /// blocked [`Pool::acquire`] go on, and wakes one such thread if there
    /// is one. A thread that starts waiting after the unlock has seen the
    /// change before it waits, so skipping the wake-up then loses nothing.
    fn wake_a_waiter(&self, state: MutexGuard<'_, State<T>>) {
        let waiting = state.waiting > 0;
        drop(state);
        if waiting {
            self.returned.notify_one();
        }
    }

    /// Whether no item is live (idle or in use).
    pub(crate) fn is_empty(&self) -> bool {
        self.lock().live == 0
    }

    /// Whether fewer than `size` items are live (after a trap discarded one).
    pub(crate) fn below_size(&self) -> bool {
        !self.config.fresh_instance_per_call && self.lock().live < self.config.size
    }

    /// Adds an item built to bring the pool back to `size`.
    pub(crate) fn refill(&self, item: T) {
        let mut state = self.lock();
        if state.live < self.config.max_size {
            state.live += 1;
            state.created += 1;
            state.idle.push((item, Instant::now()));
            self.wake_a_waiter(state);
        }
    }

    /// Drops the items idle since before `now - idle_timeout_ms` (none when
    /// the timeout is 0); returns how many.
    pub(crate) fn drop_idle(&self, now: Instant) -> usize {
        if self.config.idle_timeout_ms == 0 {
            return 0;
        }
        let timeout = Duration::from_millis(self.config.idle_timeout_ms);
        let mut state = self.lock();
        let stale = state
            .idle
            .partition_point(|(_, since)| now.saturating_duration_since(*since) >= timeout);
        if stale == 0 {
            return 0;
        }
        let dropped: Vec<(T, Instant)> = state.idle.drain(..stale).collect();
        state.live -= stale;
        state.dropped_idle += stale as u64;
        self.wake_a_waiter(state);
        drop(dropped); // outside the lock: freeing a sandbox is not free
        stale
    }

    pub(crate) fn stats(&self) -> PoolStats {
        let state = self.lock();
        PoolStats {
            in_use: state.in_use,
            idle: state.idle.len(),
            created: state.created,
            discarded_after_trap: state.discarded_after_trap,
            acquire_timeouts: state.acquire_timeouts,
            discarded_after_cancel: state.discarded_after_cancel,
            dropped_idle: state.dropped_idle,
        }
    }

    /// Counts a wait for an item that gave up (the async gate's timeouts).
    pub(crate) fn count_acquire_timeout(&self) {
        self.lock().acquire_timeouts += 1;
    }

    fn forget_slot(&self) {
        let mut state = self.lock();
        state.live -= 1;
        state.in_use -= 1;
        self.wake_a_waiter(state);
    }

    fn lock(&self) -> MutexGuard<'_, State<T>> {
        // The state is plain counters and a Vec; every update is complete
        // before anything that could panic, so a poisoned lock is still sound.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn pool(size: usize, max: usize) -> Pool<u32> {
        Pool::new(
            PoolConfig::default().max_size(max).size(size),
            (0..size as u32).collect(),
        )
    }

    fn ok(n: u32) -> impl FnOnce() -> Result<u32, ()> {
        move || Ok(n)
    }

    #[test]
    fn reuses_idle_items_then_grows_to_max() {
        let p = pool(1, 2);
        let a = p.acquire(None, ok(10)).unwrap().unwrap();
        assert_eq!(a, 0, "the idle item first");
        let b = p.acquire(None, ok(10)).unwrap().unwrap();
        assert_eq!(b, 10, "then a new one");
        assert!(
            p.acquire(None, ok(11)).unwrap().is_none(),
            "max_size reached"
        );
        p.release(a, Release::Healthy);
        assert_eq!(p.acquire(None, ok(12)).unwrap(), Some(0));
        let stats = p.stats();
        assert_eq!((stats.in_use, stats.idle, stats.created), (2, 0, 2));
    }

    #[test]
    fn trapped_items_are_discarded_and_counted() {
        let p = pool(1, 1);
        let a = p.acquire(None, ok(1)).unwrap().unwrap();
        p.release(a, Release::Trapped);
        let stats = p.stats();
        assert_eq!((stats.idle, stats.discarded_after_trap), (0, 1));
        assert!(p.below_size());
        p.refill(7);
        assert_eq!(p.acquire(None, ok(9)).unwrap(), Some(7));
    }

    #[test]
    fn a_failed_build_frees_its_slot() {
        let p: Pool<u32> = pool(0, 1);
        assert!(matches!(
            p.acquire(None, || Err::<u32, _>("boom")),
            Err(AcquireError::Build("boom"))
        ));
        assert_eq!(p.acquire(None, ok(3)).unwrap(), Some(3));
    }

    #[test]
    fn waiters_time_out_or_get_a_returned_item() {
        let p = Arc::new(pool(1, 1));
        let held = p.acquire(None, ok(1)).unwrap().unwrap();
        assert!(matches!(
            p.acquire(Some(Duration::from_millis(20)), ok(2)),
            Err(AcquireError::TimedOut { .. })
        ));
        assert_eq!(p.stats().acquire_timeouts, 1);
        let waiter = {
            let p = p.clone();
            std::thread::spawn(move || p.acquire(Some(Duration::from_secs(30)), ok(2)).unwrap())
        };
        p.release(held, Release::Healthy);
        assert_eq!(waiter.join().unwrap(), Some(0));
    }

    /// A thread blocked in `acquire` on the full pool `p`, once the pool
    /// counts it as waiting. It may wait 120 s; a waiter that nobody wakes
    /// only finds the item when that wait ends, so one back within 60 s was
    /// woken (a bound no stall of a busy machine reaches).
    fn blocked_waiter(
        p: &Arc<Pool<u32>>,
    ) -> std::thread::JoinHandle<Result<Option<u32>, AcquireError<()>>> {
        let waiter = {
            let p = p.clone();
            std::thread::spawn(move || {
                let started = Instant::now();
                let got = p.acquire(Some(Duration::from_secs(120)), ok(2));
                assert!(
                    started.elapsed() < Duration::from_secs(60),
                    "nobody woke the waiter"
                );
                got
            })
        };
        while p.lock().waiting == 0 {
            std::thread::yield_now();
        }
        waiter
    }

    #[test]
    fn a_blocked_waiter_is_woken_when_an_item_or_a_slot_comes_back() {
        for (why, expected) in [
            (Release::Healthy, 0), // the item itself
            (Release::Trapped, 2), // a slot: the waiter builds
            (Release::Cancelled, 2),
        ] {
            let p = Arc::new(pool(1, 1));
            let held = p.acquire(None, ok(1)).unwrap().unwrap();
            let waiter = blocked_waiter(&p);
            p.release(held, why);
            let got = waiter.join().unwrap();
            assert!(
                matches!(got, Ok(Some(item)) if item == expected),
                "{why:?}: {got:?}"
            );
            assert_eq!(p.lock().waiting, 0);
        }
        // A reservation dropped unbuilt frees its slot too.
        let p = Arc::new(pool(0, 1));
        let Checkout::Build(reservation) = p.checkout() else {
            panic!("an empty pool reserves a slot")
        };
        let waiter = blocked_waiter(&p);
        drop(reservation);
        assert!(matches!(waiter.join().unwrap(), Ok(Some(2))));
    }

    #[test]
    fn reservations_free_their_slot_unless_built() {
        let p: Pool<u32> = pool(0, 1);
        let Checkout::Build(reservation) = p.checkout() else {
            panic!("an empty pool reserves a slot")
        };
        assert!(matches!(p.checkout(), Checkout::Full));
        drop(reservation); // a cancelled build
        assert_eq!(p.stats().in_use, 0);
        let Checkout::Build(reservation) = p.checkout() else {
            panic!("the slot is free again")
        };
        reservation.built();
        p.release(5, Release::Cancelled);
        let stats = p.stats();
        assert_eq!(
            (
                stats.in_use,
                stats.idle,
                stats.created,
                stats.discarded_after_cancel
            ),
            (0, 0, 1, 1)
        );
        assert!(
            matches!(p.checkout(), Checkout::Build(_)),
            "a cancelled item's slot is free"
        );
    }

    #[test]
    fn idle_items_are_dropped_after_the_timeout_oldest_first() {
        // An hour: no stall of a busy machine makes an item idle that long.
        let p = Pool::new(
            PoolConfig::default()
                .size(0)
                .max_size(3)
                .idle_timeout_ms(3_600_000),
            Vec::new(),
        );
        let (a, b) = (
            p.acquire(None, ok(1)).unwrap().unwrap(),
            p.acquire(None, ok(2)).unwrap().unwrap(),
        );
        p.release(a, Release::Healthy);
        p.release(b, Release::Healthy);
        let returned = Instant::now();
        assert_eq!(p.drop_idle(returned), 0, "nothing idle long enough yet");
        assert_eq!(p.drop_idle(returned + Duration::from_secs(7200)), 2);
        let stats = p.stats();
        assert_eq!((stats.idle, stats.dropped_idle), (0, 2));
        // The slots are free again: a call builds a new item.
        assert_eq!(p.acquire(None, ok(9)).unwrap(), Some(9));
        let keep = Pool::new(PoolConfig::default().size(0).max_size(1), Vec::new());
        keep.release(
            keep.acquire(None, ok(1)).unwrap().unwrap(),
            Release::Healthy,
        );
        assert_eq!(
            keep.drop_idle(Instant::now() + Duration::from_secs(3600)),
            0,
            "0 keeps idle items"
        );
    }

    #[test]
    fn fresh_mode_never_reuses() {
        let p = Pool::new(
            PoolConfig::default()
                .size(0)
                .max_size(2)
                .fresh_instance_per_call(true),
            Vec::new(),
        );
        let a = p.acquire(None, ok(1)).unwrap().unwrap();
        p.release(a, Release::Healthy);
        assert_eq!(p.acquire(None, ok(2)).unwrap(), Some(2));
        assert_eq!(p.stats().idle, 0);
        assert!(!p.below_size());
    }
}
