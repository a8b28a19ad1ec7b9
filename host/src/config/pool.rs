//! One plugin's pool of sandboxes: [`PoolConfig`].

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
    /// plugin then costs its fork template only, kept as the 8-byte words
    /// its script's load changed (a few KiB), and its next call puts the
    /// template's pages back together and forks a sandbox (tens of
    /// microseconds). A plugin with an idle timeout and no sandbox kept at
    /// load ([`size`](Self::size) 0) starts so. The runtime checks every plugin it
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
