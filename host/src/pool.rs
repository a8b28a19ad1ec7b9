//! Every pool type: the blocking pool of sandboxes for one plugin
//! ([`Pool`], its sizing [`PoolConfig`] and counters [`PoolStats`]), and
//! the handles users hold on it, [`LuaPluginPool`] and [`PooledInstance`].
//!
//! [`Pool`] is generic over what it holds and knows nothing about Lua, so
//! its bookkeeping is tested on its own (see the tests below). Waiting uses a
//! condition variable, never sleep-polling; building an item happens outside
//! the lock, after a slot was reserved, so a slow build never blocks returns.

use crate::abi::{Arg, Output};
use crate::error::Error;
use crate::plugin::{LuaPlugin, PluginInner, count_error, count_outcome};
use crate::sandbox::Sandbox;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Pool sizing for one plugin. Checked at load: `max_size` from 1 to
/// [`MAX_POOL_SANDBOXES`](crate::MAX_POOL_SANDBOXES) and at most the pooling
/// allocator's `max_instances`, `size` at most `max_size`; otherwise
/// [`Error::InvalidConfig`](crate::Error::InvalidConfig).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct PoolConfig {
    /// Sandboxes built eagerly at load and kept ready, so the request path
    /// does not pay a cold start. Default: 1.
    pub size: usize,
    /// Upper bound of live sandboxes (idle plus in use): at most this many
    /// calls to the plugin run in parallel. Default: the number of CPUs.
    pub max_size: usize,
    /// How long a call waits for a sandbox when `max_size` are busy before it
    /// fails with [`Error::PoolTimeout`](crate::Error::PoolTimeout).
    /// Default: 1000 ms.
    pub acquire_timeout_ms: u64,
    /// Give every call a brand-new sandbox and discard it afterwards, so no
    /// state at all survives between calls of the same plugin. Default: off.
    pub fresh_instance_per_call: bool,
    /// Calls of this plugin that run at once through the async API (the
    /// `try_*_async` methods), its fair share of an async server: further
    /// calls wait in FIFO order, without blocking a thread, up to
    /// [`acquire_timeout_ms`](Self::acquire_timeout_ms), then fail with
    /// [`Error::ConcurrencyLimit`](crate::Error::ConcurrencyLimit). Async
    /// calls run in sandboxes of their own (at most this many). Synchronous
    /// calls are bounded by [`max_size`](Self::max_size) instead. Default:
    /// half the number of CPUs, at least 1, so that on a runtime with one
    /// worker per CPU a tenant whose calls are all stuck keeps at most half
    /// the workers busy (its calls still yield every epoch tick).
    pub max_concurrent_calls: usize,
    /// Sandboxes left idle this long are dropped, down to none: an idle
    /// plugin then costs its fork template only, and its next call forks a
    /// sandbox (tens of microseconds). The runtime checks every plugin it
    /// holds every quarter of the shortest such time (at least every
    /// second), and [`LuaPluginRuntime::drop_idle_sandboxes`](crate::LuaPluginRuntime::drop_idle_sandboxes)
    /// checks on demand. 0 (the default) keeps idle sandboxes.
    pub idle_timeout_ms: u64,
}

impl Default for PoolConfig {
    fn default() -> Self {
        PoolConfig {
            size: 1,
            max_size: cpus().unwrap_or(4),
            acquire_timeout_ms: 1000,
            fresh_instance_per_call: false,
            max_concurrent_calls: cpus().map_or(2, |n| (n / 2).max(1)),
            idle_timeout_ms: 0,
        }
    }
}

/// The CPUs this process may use, read once: `available_parallelism` reads
/// the cgroup's files on every call (tens of microseconds, a large share of
/// a plugin load).
fn cpus() -> Option<usize> {
    static CPUS: std::sync::OnceLock<Option<usize>> = std::sync::OnceLock::new();
    *CPUS.get_or_init(|| std::thread::available_parallelism().ok().map(|n| n.get()))
}

impl PoolConfig {
    /// Sets [`size`](Self::size) (and raises `max_size` to it if needed).
    pub fn size(mut self, size: usize) -> Self {
        self.size = size;
        self.max_size = self.max_size.max(size);
        self
    }

    /// Sets [`max_size`](Self::max_size) (at least 1).
    pub fn max_size(mut self, max_size: usize) -> Self {
        self.max_size = max_size.max(1);
        self.size = self.size.min(self.max_size);
        self
    }

    /// Sets [`acquire_timeout_ms`](Self::acquire_timeout_ms).
    pub fn acquire_timeout_ms(mut self, ms: u64) -> Self {
        self.acquire_timeout_ms = ms;
        self
    }

    /// Sets [`fresh_instance_per_call`](Self::fresh_instance_per_call).
    pub fn fresh_instance_per_call(mut self, on: bool) -> Self {
        self.fresh_instance_per_call = on;
        self
    }

    /// Sets [`max_concurrent_calls`](Self::max_concurrent_calls) (at least 1).
    pub fn max_concurrent_calls(mut self, calls: usize) -> Self {
        self.max_concurrent_calls = calls.max(1);
        self
    }

    /// Sets [`idle_timeout_ms`](Self::idle_timeout_ms).
    pub fn idle_timeout_ms(mut self, ms: u64) -> Self {
        self.idle_timeout_ms = ms;
        self
    }
}

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
        let started = Instant::now();
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
            let left = timeout.saturating_sub(started.elapsed());
            if left.is_zero() {
                state.acquire_timeouts += 1;
                return Err(AcquireError::TimedOut {
                    waited: started.elapsed(),
                });
            }
            state = self
                .returned
                .wait_timeout(state, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// An idle item or a reserved slot to build one in, without waiting.
    pub(crate) fn checkout(&self) -> Checkout<'_, T> {
        self.checkout_locked(&mut self.lock())
    }

    fn checkout_locked(&self, state: &mut State<T>) -> Checkout<'_, T> {
        if !self.config.fresh_instance_per_call {
            if let Some((item, _)) = state.idle.pop() {
                state.in_use += 1;
                return Checkout::Idle(item);
            }
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
        } else {
            state.live -= 1;
            match why {
                Release::Trapped => state.discarded_after_trap += 1,
                Release::Cancelled => state.discarded_after_cancel += 1,
                Release::Healthy => {}
            }
            drop(state);
            drop(item); // outside the lock: freeing a sandbox is not free
        }
        self.returned.notify_one();
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
            drop(state);
            self.returned.notify_one();
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
        drop(state);
        drop(dropped); // outside the lock: freeing a sandbox is not free
        self.returned.notify_one();
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
        drop(state);
        self.returned.notify_one();
    }

    fn lock(&self) -> MutexGuard<'_, State<T>> {
        // The state is plain counters and a Vec; every update is complete
        // before anything that could panic, so a poisoned lock is still sound.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

// ---------------------------------------------------------------- the plugin's pool

/// The pool of sandboxes of one plugin (`LuaPlugin::pool`): `size` built
/// eagerly at load, growing up to `max_size` under parallel calls, each
/// trapped sandbox discarded and replaced.
#[derive(Clone)]
pub struct LuaPluginPool {
    pub(crate) inner: Arc<PluginInner>,
}

impl std::fmt::Debug for LuaPluginPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LuaPluginPool")
            .field("plugin", &self.inner.spec.name())
            .field("config", self.inner.pool.config())
            .field("stats", &self.inner.pool.stats())
            .finish()
    }
}

impl LuaPluginPool {
    /// A sandbox, waiting up to `acquire_timeout_ms` while `max_size` are
    /// busy; then [`Error::PoolTimeout`].
    pub fn acquire(&self) -> Result<PooledInstance, Error> {
        let timeout = Duration::from_millis(self.inner.pool.config().acquire_timeout_ms);
        self.take(Some(timeout))?
            .ok_or_else(|| unreachable_timeout(&self.inner))
    }

    /// A sandbox if one is idle or may be built now; `None` when `max_size`
    /// are busy.
    pub fn try_acquire(&self) -> Result<Option<PooledInstance>, Error> {
        self.take(None)
    }

    /// The pool's sizing.
    pub fn config(&self) -> PoolConfig {
        *self.inner.pool.config()
    }

    /// The pool's counters.
    pub fn stats(&self) -> PoolStats {
        self.inner.pool.stats()
    }

    /// The counters of the plugin's async sandboxes, the ones the
    /// `try_*_async` methods use (see the README's "Async servers"): built
    /// on first use, at most [`PoolConfig::max_concurrent_calls`];
    /// `acquire_timeouts` counts calls refused with
    /// [`Error::ConcurrencyLimit`].
    pub fn async_stats(&self) -> PoolStats {
        self.inner.async_calls.pool.stats()
    }

    fn take(&self, timeout: Option<Duration>) -> Result<Option<PooledInstance>, Error> {
        let inner = &self.inner;
        match inner.pool.acquire(timeout, || inner.new_sandbox()) {
            Ok(Some(sandbox)) => Ok(Some(PooledInstance {
                inner: inner.clone(),
                sandbox: Some(sandbox),
                trapped: false,
            })),
            Ok(None) => Ok(None),
            Err(AcquireError::TimedOut { waited }) => Err(Error::PoolTimeout {
                plugin: inner.spec.name().into(),
                waited_ms: waited.as_millis() as u64,
                max_size: inner.pool.config().max_size,
            }),
            Err(AcquireError::Build(e)) => {
                count_error(inner, &e);
                Err(e)
            }
        }
    }
}

fn unreachable_timeout(inner: &PluginInner) -> Error {
    // `acquire` with a timeout returns an item or an error, never `None`.
    Error::PoolTimeout {
        plugin: inner.spec.name().into(),
        waited_ms: 0,
        max_size: inner.pool.config().max_size,
    }
}

/// A sandbox taken from a [`LuaPluginPool`]; returned to it when dropped
/// (or discarded, if a call on it trapped).
pub struct PooledInstance {
    inner: Arc<PluginInner>,
    sandbox: Option<Sandbox>,
    trapped: bool,
}

impl std::fmt::Debug for PooledInstance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PooledInstance")
            .field("plugin", &self.inner.spec.name())
            .finish_non_exhaustive()
    }
}

impl PooledInstance {
    /// Calls `plugin:method(args...)` with string arguments (JSON by the
    /// script contract) and returns its string result, `None` for nil.
    pub fn call_json(&mut self, method: &str, args: &[&str]) -> Result<Option<String>, Error> {
        let args: Vec<Arg<'_>> = args.iter().map(|a| Arg::from(*a)).collect();
        let out = self.call(method, &args)?;
        LuaPlugin {
            inner: self.inner.clone(),
        }
        .expect_optional_string(method, out)
    }

    pub(crate) fn call(&mut self, method: &str, args: &[Arg<'_>]) -> Result<Output, Error> {
        let inner = &*self.inner;
        inner.stats.calls.fetch_add(1, Ordering::Relaxed);
        let Some(sandbox) = self.sandbox.as_mut().filter(|_| !self.trapped) else {
            // A trapped sandbox is never called again.
            return Err(Error::Trap {
                plugin: inner.spec.name().into(),
                method: method.into(),
                message: "this pooled instance trapped earlier; acquire another".into(),
            });
        };
        // Counted as trapped until the call returns: should anything unwind
        // out of it, `Drop` discards the sandbox instead of pooling it.
        self.trapped = true;
        let started = Instant::now();
        let result = sandbox.call(&inner.engine, &inner.spec, method, args);
        inner.stats.latency.record(started.elapsed());
        self.trapped = count_outcome(inner, sandbox, &result);
        result
    }
}

impl Drop for PooledInstance {
    fn drop(&mut self) {
        let Some(sandbox) = self.sandbox.take() else {
            return;
        };
        let inner = &self.inner;
        inner.pool.release(
            sandbox,
            if self.trapped {
                Release::Trapped
            } else {
                Release::Healthy
            },
        );
        // Keep `size` ready so the next request does not pay the cold start.
        if self.trapped && inner.pool.below_size() {
            match inner.new_sandbox() {
                Ok(fresh) => inner.pool.refill(fresh),
                Err(e) => {
                    tracing::warn!(target: "bext_lua", plugin = inner.spec.name(), "could not replace a trapped sandbox: {e}")
                }
            }
        }
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
