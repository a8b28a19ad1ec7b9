//! The handles users hold on a plugin's pool: [`LuaPluginPool`] and the
//! sandbox it lends, [`PooledInstance`] (the synchronous API's path).

use crate::config::pool::PoolConfig;
use crate::error::Error;
use crate::guest::abi::{Arg, Output};
use crate::guest::call_mode::{CallMode, run_sync};
use crate::plugin::core::PluginCore;
use crate::plugin::pool::{AcquireError, PoolStats, Release};
use crate::plugin::trace;
use crate::sandbox::Sandbox;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// The pool of sandboxes of one plugin (`LuaPlugin::pool`): `size` built
/// eagerly at load, growing up to `max_size` under parallel calls, each
/// trapped sandbox discarded and replaced.
#[derive(Clone)]
pub struct LuaPluginPool {
    pub(crate) inner: Arc<PluginCore>,
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
        match inner.pool.acquire(timeout, || {
            trace::record_new_sandbox(inner.template.is_some());
            run_sync(inner.new_sandbox(CallMode::Sync))
        }) {
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
                inner.stats.record_error(&e);
                Err(e)
            }
        }
    }
}

fn unreachable_timeout(inner: &PluginCore) -> Error {
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
    pub(crate) inner: Arc<PluginCore>,
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
    /// Calls `plugin:method(args...)` in this sandbox (see [`call_json`](Self::call_json)).
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
        let result = run_sync(sandbox.call(&inner.engine, &inner.spec, method, args, started));
        trace::record_fuel(sandbox.last_fuel_used);
        inner.stats.latency.record(started.elapsed());
        self.trapped = inner.stats.record_outcome(sandbox.last_fuel_used, &result);
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
            match run_sync(inner.new_sandbox(CallMode::Sync)) {
                Ok(fresh) => inner.pool.refill(fresh),
                Err(e) => {
                    tracing::warn!(target: "bext_lua", plugin = inner.spec.name(), "could not replace a trapped sandbox: {e}")
                }
            }
        }
    }
}
