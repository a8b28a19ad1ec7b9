//! [`LuaPlugin`]: the handle a server holds.

use crate::abi::{Arg, Output};
use crate::async_call::AsyncCalls;
use crate::config::ColdStart;
use crate::engine::EngineShared;
use crate::error::Error;
use crate::fork::ForkTemplate;
use crate::latency::{LatencyHistogram, LatencyRecorder};
use crate::pool::{LuaPluginPool, Pool, PoolConfig, PooledInstance};
use crate::quarantine::{Admission, Quarantine};
use crate::sandbox::{PluginShape, PluginSpec, Sandbox};
use bext_plugin_api::types::PluginManifest;
use serde::Serialize;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// A loaded Lua plugin: cheap to clone, `Send + Sync`.
///
/// It implements the capability traits of `bext-plugin-api`, so a server
/// holds it as `Arc<dyn MiddlewarePlugin>` like a native plugin. Every call
/// takes a sandbox from the plugin's [`LuaPluginPool`], so calls from many
/// threads run in parallel, up to [`PoolConfig::max_size`].
#[derive(Clone)]
pub struct LuaPlugin {
    pub(crate) inner: Arc<PluginInner>,
}

pub(crate) struct PluginInner {
    pub(crate) spec: PluginSpec,
    manifest: PluginManifest,
    shape: PluginShape,
    pub(crate) engine: Arc<EngineShared>,
    pub(crate) pool: Pool<Sandbox>,
    /// Sandboxes of the async API and its fair-share gate (`async_call.rs`).
    pub(crate) async_calls: AsyncCalls,
    pub(crate) stats: Counters,
    /// Fails calls fast after consecutive traps.
    pub(crate) quarantine: Quarantine,
    /// Pages of the loaded script, for [`ColdStart::Fork`]. Declared after
    /// the pools so it is dropped after every sandbox forked from it (their
    /// memory may map its pages: see `fork.rs`).
    pub(crate) template: Option<ForkTemplate>,
}

impl PluginInner {
    /// A new sandbox for this plugin, by its cold-start path.
    pub(crate) fn new_sandbox(&self) -> Result<Sandbox, Error> {
        match &self.template {
            Some(template) => Sandbox::fork(&self.engine, &self.spec, template),
            None => Sandbox::new(&self.engine, &self.spec),
        }
    }
}

#[derive(Default)]
pub(crate) struct Counters {
    pub(crate) calls: AtomicU64,
    errors: AtomicU64,
    traps: AtomicU64,
    timeouts: AtomicU64,
    pub(crate) fuel_consumed: AtomicU64,
    quarantined: AtomicU64,
    pub(crate) cancelled: AtomicU64,
    pub(crate) latency: LatencyRecorder,
}

/// Counters of one plugin, for the embedding server's monitoring
/// (serializable, e.g. to JSON for a metrics endpoint).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct PluginStats {
    /// Calls made (successful or not).
    pub calls: u64,
    /// Calls that returned an error of any kind.
    pub errors: u64,
    /// Calls that trapped (fuel, deadline, memory, stack, other traps): each
    /// discarded the instance.
    pub traps: u64,
    /// Sandboxes created, at load included.
    pub instances_created: u64,
    /// Calls stopped at their deadline ([`Error::Timeout`]; also counted in
    /// `traps`).
    pub timeouts: u64,
    /// Fuel consumed by all calls (0 when the runtime does not meter fuel),
    /// whether the plugin's fuel is limited or not. Calls stopped at their
    /// deadline (`timeouts`) add nothing: wasmtime does not record the fuel
    /// of an interrupted call.
    pub fuel_consumed: u64,
    /// Calls refused with [`Error::Quarantined`] (also counted in `calls`
    /// and `errors`); they entered no sandbox.
    pub quarantined: u64,
    /// Times the plugin entered quarantine since it was loaded.
    pub quarantines: u64,
    /// Failed calls (traps, and pool timeouts behind traps) among the recent
    /// calls the quarantine rule counts over
    /// ([`LuaSandboxLimits::quarantine_window_calls`](crate::LuaSandboxLimits::quarantine_window_calls)).
    pub recent_traps: u32,
    /// `Some(ms until the next probe call)` while the plugin is quarantined.
    pub quarantined_for_ms: Option<u64>,
    /// How long calls took inside their sandbox.
    pub latency: LatencyHistogram,
    /// Async calls cancelled (their future dropped) while the guest ran;
    /// each discarded its sandbox. Also counted in `calls`.
    pub cancelled: u64,
}

impl std::fmt::Debug for LuaPlugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LuaPlugin")
            .field("name", &self.name())
            .field("methods", &self.inner.shape.methods)
            .finish_non_exhaustive()
    }
}

impl LuaPlugin {
    /// Creates the plugin's first sandboxes (which run the script), reads
    /// what the script defines, and fills the pool to its `size`.
    pub(crate) fn load(
        engine: Arc<EngineShared>,
        spec: PluginSpec,
        manifest: PluginManifest,
        pool: PoolConfig,
        cold_start: ColdStart,
    ) -> Result<Self, Error> {
        let mut first = Sandbox::new(&engine, &spec)?;
        // Captured before anything else runs in it, so forks start exactly
        // where the script's load left off.
        let template = (cold_start == ColdStart::Fork).then(|| first.template(&engine));
        let shape = first.describe(&engine, &spec)?;
        crate::capabilities::check_declared_capabilities(spec.name(), &manifest, |m| {
            shape.methods.contains(m)
        })?;
        let limits = &spec.limits;
        let quarantine = Quarantine::new(
            limits.quarantine_after_traps,
            limits.quarantine_window_calls,
            limits.quarantine_ms,
        );
        let async_calls = AsyncCalls::new(&pool);
        let pool = Pool::new(pool, Vec::new());
        let inner = PluginInner {
            spec,
            manifest,
            shape,
            engine,
            template,
            pool,
            async_calls,
            stats: Counters::default(),
            quarantine,
        };
        let pool = *inner.pool.config();
        if pool.size > 0 && !pool.fresh_instance_per_call {
            inner.pool.refill(first);
            for _ in 1..pool.size {
                inner.pool.refill(inner.new_sandbox()?);
            }
        }
        Ok(LuaPlugin {
            inner: Arc::new(inner),
        })
    }

    /// Drops this plugin's sandboxes (sync and async) idle for longer than
    /// [`PoolConfig::idle_timeout_ms`] at `now`; returns how many.
    pub(crate) fn drop_idle_sandboxes(&self, now: std::time::Instant) -> usize {
        self.inner.pool.drop_idle(now) + self.inner.async_calls.pool.drop_idle(now)
    }

    /// Bytes of the fork template kept for this plugin (0 with
    /// [`ColdStart::Source`]).
    pub fn template_bytes(&self) -> usize {
        self.inner.template.as_ref().map_or(0, ForkTemplate::bytes)
    }

    /// The configured name.
    pub fn name(&self) -> &str {
        self.inner.spec.name()
    }

    /// The sandbox limits the plugin was loaded with.
    pub(crate) fn limits(&self) -> &crate::limits::LuaSandboxLimits {
        &self.inner.spec.limits
    }

    /// The manifest the plugin was loaded with.
    pub fn manifest(&self) -> &PluginManifest {
        &self.inner.manifest
    }

    /// Whether the script's table defines `method` as a function.
    pub fn has_method(&self, method: &str) -> bool {
        self.inner.shape.methods.contains(method)
    }

    /// The function-valued fields of the script's table, sorted.
    pub fn methods(&self) -> impl Iterator<Item = &str> {
        self.inner.shape.methods.iter().map(String::as_str)
    }

    /// The script's integer `priority` field, if it has one.
    pub fn script_priority(&self) -> Option<i64> {
        self.inner.shape.priority
    }

    /// The plugin's counters.
    pub fn stats(&self) -> PluginStats {
        let c = &self.inner.stats;
        let quarantine = self.inner.quarantine.snapshot();
        PluginStats {
            calls: c.calls.load(Ordering::Relaxed),
            errors: c.errors.load(Ordering::Relaxed),
            traps: c.traps.load(Ordering::Relaxed),
            instances_created: self.inner.pool.stats().created
                + self.inner.async_calls.pool.stats().created,
            timeouts: c.timeouts.load(Ordering::Relaxed),
            fuel_consumed: c.fuel_consumed.load(Ordering::Relaxed),
            quarantined: c.quarantined.load(Ordering::Relaxed),
            cancelled: c.cancelled.load(Ordering::Relaxed),
            quarantines: quarantine.entered,
            recent_traps: quarantine.recent_failures,
            quarantined_for_ms: quarantine.retry_after_ms,
            latency: c.latency.snapshot(),
        }
    }

    /// A handle that does not keep the plugin (and its sandboxes) alive.
    pub fn downgrade(&self) -> WeakLuaPlugin {
        WeakLuaPlugin {
            inner: Arc::downgrade(&self.inner),
        }
    }

    /// The plugin's pool of sandboxes.
    pub fn pool(&self) -> LuaPluginPool {
        LuaPluginPool {
            inner: self.inner.clone(),
        }
    }

    /// A sandbox from the pool, waiting up to the pool's `acquire_timeout_ms`.
    pub fn acquire(&self) -> Result<PooledInstance, Error> {
        self.pool().acquire()
    }

    /// Calls `plugin:method(args...)` in a pooled sandbox. A quarantined
    /// plugin fails fast instead (see [`Quarantine`]).
    pub(crate) fn call(&self, method: &str, args: &[Arg<'_>]) -> Result<Output, Error> {
        let admission = self.admit(method)?;
        let result = self
            .acquire()
            .and_then(|mut instance| instance.call(method, args));
        self.inner.quarantine.record(admission, &result);
        result
    }

    /// Whether a call of `method` may enter a sandbox now: refused (and
    /// counted) while the plugin is quarantined.
    pub(crate) fn admit(&self, method: &str) -> Result<Admission, Error> {
        let inner = &*self.inner;
        inner
            .quarantine
            .check(self.name(), method)
            .inspect_err(|refused| {
                inner.stats.calls.fetch_add(1, Ordering::Relaxed);
                inner.stats.quarantined.fetch_add(1, Ordering::Relaxed);
                count_error(inner, refused);
            })
    }
}

/// A [`LuaPlugin`] handle that does not keep it alive.
#[derive(Clone, Debug)]
pub struct WeakLuaPlugin {
    inner: std::sync::Weak<PluginInner>,
}

impl WeakLuaPlugin {
    /// The plugin, if a strong handle still exists.
    pub fn upgrade(&self) -> Option<LuaPlugin> {
        self.inner.upgrade().map(|inner| LuaPlugin { inner })
    }
}

/// Counts a finished call's fuel and error; true when it trapped.
pub(crate) fn count_outcome(
    inner: &PluginInner,
    sandbox: &Sandbox,
    result: &Result<Output, Error>,
) -> bool {
    inner
        .stats
        .fuel_consumed
        .fetch_add(sandbox.last_fuel_used, Ordering::Relaxed);
    match result {
        Err(e) => {
            count_error(inner, e);
            e.is_trap()
        }
        Ok(_) => false,
    }
}

pub(crate) fn count_error(inner: &PluginInner, error: &Error) {
    inner.stats.errors.fetch_add(1, Ordering::Relaxed);
    if error.is_trap() {
        inner.stats.traps.fetch_add(1, Ordering::Relaxed);
    }
    if matches!(error, Error::Timeout { .. }) {
        inner.stats.timeouts.fetch_add(1, Ordering::Relaxed);
    }
}
