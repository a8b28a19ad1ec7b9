//! [`LuaPlugin`]: the handle a server holds.

use crate::abi::{Arg, Output};
use crate::engine::EngineShared;
use crate::error::Error;
use crate::quarantine::Quarantine;
use crate::sandbox::{PluginShape, PluginSpec, Sandbox};
use bext_plugin_api::types::PluginManifest;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// A loaded Lua plugin: cheap to clone, `Send + Sync`.
///
/// It implements the capability traits of `bext-plugin-api`, so a server
/// holds it as `Arc<dyn MiddlewarePlugin>` like a native plugin. Calls on one
/// plugin are serialised on its sandbox.
#[derive(Clone)]
pub struct LuaPlugin {
    inner: Arc<PluginInner>,
}

struct PluginInner {
    spec: PluginSpec,
    manifest: PluginManifest,
    shape: PluginShape,
    engine: Arc<EngineShared>,
    /// The live sandbox; `None` after a trap until the next call rebuilds it.
    sandbox: Mutex<Option<Sandbox>>,
    stats: Counters,
    /// Fails calls fast after consecutive traps.
    quarantine: Quarantine,
}

#[derive(Default)]
struct Counters {
    calls: AtomicU64,
    errors: AtomicU64,
    traps: AtomicU64,
    instances_created: AtomicU64,
    fuel_consumed: AtomicU64,
    quarantined: AtomicU64,
}

/// Counters of one plugin, for the embedding server's monitoring.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PluginStats {
    /// Calls made (successful or not).
    pub calls: u64,
    /// Calls that returned an error of any kind.
    pub errors: u64,
    /// Calls that trapped (fuel, deadline, memory, stack, other traps): each
    /// discarded the instance.
    pub traps: u64,
    /// Sandboxes created, the first one at load included: after the first,
    /// one per trap.
    pub instances_created: u64,
    /// Fuel consumed by all calls (0 when the runtime does not meter fuel).
    pub fuel_consumed: u64,
    /// Calls refused with [`Error::Quarantined`] (also counted in `calls`
    /// and `errors`); they entered no sandbox.
    pub quarantined: u64,
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
    /// Creates the plugin's first sandbox (which runs the script) and reads
    /// what the script defines.
    pub(crate) fn load(engine: Arc<EngineShared>, spec: PluginSpec, manifest: PluginManifest) -> Result<Self, Error> {
        let mut sandbox = Sandbox::new(&engine, &spec)?;
        let shape = sandbox.describe(&engine, &spec)?;
        let stats = Counters::default();
        stats.instances_created.store(1, Ordering::Relaxed);
        let quarantine = Quarantine::new(spec.limits.quarantine_after_traps, spec.limits.quarantine_ms);
        let sandbox = Mutex::new(Some(sandbox));
        Ok(LuaPlugin { inner: Arc::new(PluginInner { spec, manifest, shape, engine, sandbox, stats, quarantine }) })
    }

    /// The configured name.
    pub fn name(&self) -> &str {
        self.inner.spec.name()
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
        PluginStats {
            calls: c.calls.load(Ordering::Relaxed),
            errors: c.errors.load(Ordering::Relaxed),
            traps: c.traps.load(Ordering::Relaxed),
            instances_created: c.instances_created.load(Ordering::Relaxed),
            fuel_consumed: c.fuel_consumed.load(Ordering::Relaxed),
            quarantined: c.quarantined.load(Ordering::Relaxed),
        }
    }

    /// Calls `plugin:method(args...)` in the sandbox, rebuilding it first if
    /// the previous call trapped, and discarding it if this one does. A
    /// quarantined plugin fails fast instead (see [`Quarantine`]).
    pub(crate) fn call(&self, method: &str, args: &[Arg<'_>]) -> Result<Output, Error> {
        let inner = &*self.inner;
        inner.stats.calls.fetch_add(1, Ordering::Relaxed);
        if let Err(refused) = inner.quarantine.check(self.name(), method) {
            inner.stats.quarantined.fetch_add(1, Ordering::Relaxed);
            self.count_error(false);
            return Err(refused);
        }
        let result = self.call_in_sandbox(method, args);
        inner.quarantine.record(&result);
        result
    }

    fn call_in_sandbox(&self, method: &str, args: &[Arg<'_>]) -> Result<Output, Error> {
        let inner = &*self.inner;
        // A panic cannot happen while the lock is held (nothing in a call
        // panics), but if it did, the sandbox is dropped rather than trusted.
        let mut slot = inner.sandbox.lock().unwrap_or_else(|poisoned| {
            let mut guard = poisoned.into_inner();
            *guard = None;
            guard
        });
        let mut sandbox = match slot.take() {
            Some(sandbox) => sandbox,
            None => {
                inner.stats.instances_created.fetch_add(1, Ordering::Relaxed);
                Sandbox::new(&inner.engine, &inner.spec).inspect_err(|e| self.count_error(e.is_trap()))?
            }
        };
        let result = sandbox.call(&inner.engine, &inner.spec, method, args);
        inner.stats.fuel_consumed.fetch_add(sandbox.last_fuel_used, Ordering::Relaxed);
        match &result {
            Err(e) if e.is_trap() => self.count_error(true), // the sandbox is dropped here
            Err(_) => {
                self.count_error(false);
                *slot = Some(sandbox);
            }
            Ok(_) => *slot = Some(sandbox),
        }
        result
    }

    fn count_error(&self, trapped: bool) {
        let stats = &self.inner.stats;
        stats.errors.fetch_add(1, Ordering::Relaxed);
        if trapped {
            stats.traps.fetch_add(1, Ordering::Relaxed);
        }
    }
}
