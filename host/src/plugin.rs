//! [`LuaPlugin`]: the handle a server holds, and what it is made of.
//!
//! * [`core`]: one loaded version of the plugin ([`PluginCore`]);
//! * [`pool`]: the generic blocking pool of sandboxes;
//! * [`pooled`]: the pool's public handles ([`LuaPluginPool`], [`PooledInstance`]);
//! * [`async_call`]: calls that never hold an executor thread;
//! * [`quarantine`]: failing fast after traps;
//! * [`stats`] and [`latency`]: the plugin's counters;
//! * [`trace`]: the `tracing` span of each call.

pub(crate) mod async_call;
pub(crate) mod core;
pub(crate) mod latency;
pub(crate) mod pool;
pub(crate) mod pooled;
pub(crate) mod quarantine;
pub(crate) mod stats;
pub(crate) mod trace;

use crate::config::limits::LuaSandboxLimits;
use crate::config::plugin::ColdStart;
use crate::config::pool::PoolConfig;
use crate::engine::GuestEngine;
use crate::error::Error;
use crate::guest::abi::{Arg, Output};
use crate::guest::call_mode::{CallMode, run_sync};
use crate::plugin::core::{AsyncCalls, PluginCore};
use crate::plugin::pool::Pool;
use crate::plugin::pooled::{LuaPluginPool, PooledInstance};
use crate::plugin::quarantine::Admission;
use crate::plugin::quarantine::Quarantine;
use crate::plugin::stats::Counters;
use crate::plugin::stats::PluginStats;
use crate::sandbox::Sandbox;
use crate::sandbox::SandboxSpec;
use crate::sandbox::fork::ForkTemplate;
use bext_plugin_api::types::PluginManifest;
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// A loaded Lua plugin: cheap to clone, `Send + Sync`.
///
/// It implements the capability traits of `bext-plugin-api`, so a server
/// holds it as `Arc<dyn MiddlewarePlugin>` like a native plugin. Every call
/// takes a sandbox from the plugin's [`LuaPluginPool`], so calls from many
/// threads run in parallel, up to [`PoolConfig::max_size`].
#[derive(Clone)]
pub struct LuaPlugin {
    pub(crate) inner: Arc<PluginCore>,
}

impl std::fmt::Debug for LuaPlugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LuaPlugin")
            .field("name", &self.name())
            .field("methods", &self.inner.exports.methods)
            .finish_non_exhaustive()
    }
}

impl LuaPlugin {
    /// Creates the plugin's first sandbox (which runs the script), reads
    /// what the script defines, and fills the pool to its `size`.
    pub(crate) fn load(
        engine: Arc<GuestEngine>,
        spec: SandboxSpec,
        manifest: PluginManifest,
        pool: PoolConfig,
        cold_start: ColdStart,
    ) -> Result<Self, Error> {
        let core = run_sync(async {
            let mut first = Sandbox::new(CallMode::Sync, &engine, &spec).await?;
            // The loaded sandbox is kept unless the pool keeps none ready.
            let keeps_sandboxes = pool.size > 0 && !pool.fresh_instance_per_call;
            // Captured before anything else runs in it, so forks start
            // exactly where the script's load left off. A plugin idle from
            // the start (no sandbox kept, an idle timeout) keeps only its
            // template's changed words until its first call.
            let idle = !keeps_sandboxes && pool.idle_timeout_ms > 0;
            let template = (cold_start == ColdStart::Fork).then(|| first.template(&engine, idle));
            let exports = first.describe(&engine, &spec).await?;
            let limits = &spec.limits;
            let quarantine = Quarantine::new(
                limits.quarantine_after_traps,
                limits.quarantine_window_calls,
                limits.quarantine_ms,
            );
            let core = PluginCore {
                async_calls: AsyncCalls::new(&pool),
                pool: Pool::new(pool, Vec::new()),
                spec,
                manifest,
                exports,
                engine,
                template,
                stats: Counters::default(),
                quarantine,
            };
            if keeps_sandboxes {
                core.pool.refill(first);
                for _ in 1..pool.size {
                    core.pool.refill(core.new_sandbox(CallMode::Sync).await?);
                }
            }
            Ok(core)
        })?;
        Ok(LuaPlugin {
            inner: Arc::new(core),
        })
    }

    /// Drops this plugin's sandboxes (sync and async) idle for longer than
    /// [`PoolConfig::idle_timeout_ms`] at `now`; returns how many.
    /// A plugin left with no sandbox keeps only its fork template's changed
    /// words (`ForkTemplate::compact`) until its next call.
    pub(crate) fn drop_idle_sandboxes(&self, now: std::time::Instant) -> usize {
        let inner = &*self.inner;
        let dropped = inner.pool.drop_idle(now) + inner.async_calls.pool.drop_idle(now);
        if dropped > 0 && inner.pool.is_empty() && inner.async_calls.pool.is_empty() {
            inner.compact_template();
        }
        dropped
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
    pub(crate) fn limits(&self) -> &LuaSandboxLimits {
        &self.inner.spec.limits
    }

    /// The manifest the plugin was loaded with.
    pub fn manifest(&self) -> &PluginManifest {
        &self.inner.manifest
    }

    /// Whether the script's table defines `method` as a function.
    pub fn has_method(&self, method: &str) -> bool {
        self.inner.exports.methods.contains(method)
    }

    /// The function-valued fields of the script's table, sorted.
    pub fn methods(&self) -> impl Iterator<Item = &str> {
        self.inner.exports.methods.iter().map(String::as_str)
    }

    /// The script's integer `priority` field, if it has one.
    pub fn script_priority(&self) -> Option<i64> {
        self.inner.exports.priority
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

    /// Calls `plugin:method(args...)` in a sandbox of `mode`'s pool: the
    /// one entry of every capability adapter, for both APIs.
    pub(crate) async fn call_in(
        &self,
        mode: CallMode,
        method: &str,
        args: &[Arg<'_>],
    ) -> Result<Output, Error> {
        self.call_in_from(mode, None, method, args).await
    }

    /// [`call_in`](Self::call_in) on behalf of a client (`source`, its
    /// address), which the quarantine counts apart (see
    /// `plugin/quarantine.rs`).
    pub(crate) async fn call_in_from(
        &self,
        mode: CallMode,
        source: Option<&str>,
        method: &str,
        args: &[Arg<'_>],
    ) -> Result<Output, Error> {
        match mode {
            CallMode::Sync => self.call_from(source, method, args),
            // Boxed: the async call's future is large, and inlined here it
            // would size every adapter's future, which the sync API moves
            // onto its stack on every call (measured with callgrind: about
            // 1,000 instructions of a trivial call's 23,000).
            CallMode::Async => Box::pin(self.call_async(source, method, args)).await,
        }
    }

    /// Calls `plugin:method(args...)` in a pooled sandbox. A quarantined
    /// plugin fails fast instead (see `plugin/quarantine.rs`).
    pub(crate) fn call(&self, method: &str, args: &[Arg<'_>]) -> Result<Output, Error> {
        self.call_from(None, method, args)
    }

    /// [`call`](Self::call) on behalf of `source`.
    fn call_from(
        &self,
        source: Option<&str>,
        method: &str,
        args: &[Arg<'_>],
    ) -> Result<Output, Error> {
        let span = trace::call_span(self.name(), method);
        let _entered = span.enter();
        let result = self.admit(method, source).and_then(|admission| {
            let result = self
                .acquire()
                .and_then(|mut instance| instance.call(method, args));
            self.inner.quarantine.record(admission, &result);
            result
        });
        trace::record_outcome(&span, &result);
        result
    }

    /// Whether a call of `method` from `source` may enter a sandbox now:
    /// refused (and counted) while the plugin or that source is
    /// quarantined.
    pub(crate) fn admit<'a>(
        &self,
        method: &str,
        source: Option<&'a str>,
    ) -> Result<Admission<'a>, Error> {
        let inner = &*self.inner;
        inner
            .quarantine
            .check(self.name(), method, source)
            .inspect_err(|refused| {
                inner.stats.calls.fetch_add(1, Ordering::Relaxed);
                inner.stats.quarantined.fetch_add(1, Ordering::Relaxed);
                inner.stats.record_error(refused);
            })
    }
}

/// A [`LuaPlugin`] handle that does not keep it alive.
#[derive(Clone, Debug)]
pub struct WeakLuaPlugin {
    inner: std::sync::Weak<PluginCore>,
}

impl WeakLuaPlugin {
    /// The plugin, if a strong handle still exists.
    pub fn upgrade(&self) -> Option<LuaPlugin> {
        self.inner.upgrade().map(|inner| LuaPlugin { inner })
    }
}
