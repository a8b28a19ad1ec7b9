//! The two Lua tiers under comparison, behind one interface: one [`Side`] is
//! the wasm sandbox ([`WasmSide`]), the other native mlua ([`NativeSide`]),
//! and every benchmark drives both through it with identical input
//! ([`PluginSpec`]) and budgets ([`Metering`], [`Budget`]).

use bext_lua_native::{NativeLimits, NativePlugin};
use bext_plugin_api::middleware::{RequestAction, RequestContext, ResponseHeaders};
use bext_plugin_lua_wasm::{
    BEXT_TICKS_PER_CALL, ColdStart, FUEL_PER_KILO_INSTRUCTIONS, LuaPlugin, LuaPluginConfig,
    LuaPluginRuntime, LuaRuntimeConfig, LuaSandboxLimits, PoolConfig, PooledInstance,
    PoolingLimits, SharedBackend, parse_middleware_action, parse_response_change,
    request_context_json,
};
use serde_json::Value;
use std::any::Any;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// A plugin script and its config section: the input both sides load.
#[derive(Debug, Clone)]
pub struct PluginSpec {
    /// Plugin name (chunk name in errors).
    pub name: String,
    /// The Lua source.
    pub source: Arc<str>,
    /// What `bext.get_config()` returns.
    pub config_json: String,
}

impl PluginSpec {
    /// A spec from its parts.
    pub fn new(
        name: impl Into<String>,
        source: impl Into<Arc<str>>,
        config_json: impl Into<String>,
    ) -> Self {
        PluginSpec {
            name: name.into(),
            source: source.into(),
            config_json: config_json.into(),
        }
    }
}

/// A failure on either side, naming the side and the plugin.
#[derive(Debug)]
pub enum BenchError {
    /// The wasm runtime's typed error (it names the plugin itself).
    Wasm(bext_plugin_lua_wasm::Error),
    /// Native Lua failed.
    Native {
        /// The plugin.
        plugin: String,
        /// mlua's message.
        message: String,
    },
    /// The two sides disagree on a workload's result, or a measure is
    /// impossible (for example on a machine without `/proc`).
    Invalid(String),
}

impl std::fmt::Display for BenchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BenchError::Wasm(e) => write!(f, "wasm: {e}"),
            BenchError::Native { plugin, message } => {
                write!(f, "native: plugin {plugin}: {message}")
            }
            BenchError::Invalid(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for BenchError {}

impl From<bext_plugin_lua_wasm::Error> for BenchError {
    fn from(e: bext_plugin_lua_wasm::Error) -> Self {
        BenchError::Wasm(e)
    }
}

/// Result of the benchmark interface.
pub type BenchResult<T> = Result<T, BenchError>;

/// Which budgets are enforced. The wasm side has two mechanisms (fuel and
/// epoch deadlines); native Lua has one, the count hook, which every
/// setting but `None` installs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metering {
    /// No budget at all.
    None,
    /// Wasm fuel only.
    Fuel,
    /// Wasm epoch deadlines only.
    Deadline,
    /// Fuel and deadlines: the runtime's default.
    Both,
}

impl Metering {
    /// Every setting, in report order.
    pub const ALL: [Metering; 4] = [
        Metering::None,
        Metering::Fuel,
        Metering::Deadline,
        Metering::Both,
    ];

    /// A short label.
    pub fn label(self) -> &'static str {
        match self {
            Metering::None => "none",
            Metering::Fuel => "fuel",
            Metering::Deadline => "deadline",
            Metering::Both => "fuel+deadline",
        }
    }
}

/// How large the per-call budget is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Budget {
    /// bext's per-call budget: 200 ticks of 1000 instructions (the wasm
    /// side's default fuel and 1 s deadline).
    Bext,
    /// Room for CPU-bound programs, the same on both sides: 10^10 Lua
    /// instructions, a 60 s deadline.
    Large,
}

impl Budget {
    fn ticks(self) -> u64 {
        match self {
            Budget::Bext => BEXT_TICKS_PER_CALL,
            Budget::Large => 10_000_000,
        }
    }

    /// The wasm side's equivalent: fuel for the same instructions, and a
    /// deadline (the runtime's default for bext's budget).
    fn wasm_limits(self) -> LuaSandboxLimits {
        let limits =
            LuaSandboxLimits::default().fuel_per_call(self.ticks() * FUEL_PER_KILO_INSTRUCTIONS);
        match self {
            Budget::Bext => limits,
            Budget::Large => limits.timeout_ms(60_000),
        }
    }
}

/// One side of a comparison: loads specs into plugins it can call.
///
/// `Sync` so threads can share it; the plugins it returns are used on the
/// thread that made them (native Lua states are single-threaded).
pub trait Side: Sync {
    /// `wasm` or `native`.
    fn label(&self) -> &'static str;

    /// Loads a plugin: from nothing to ready for its first call.
    fn load(&self, spec: &PluginSpec) -> BenchResult<Box<dyn Plugin + '_>>;

    /// A factory each worker thread calls to get its own handles to
    /// `specs`. Wasm threads share plugins loaded once (each call takes a
    /// sandbox from the plugin's pool); native threads load their own Lua
    /// states, as a multi-threaded server on mlua must.
    fn per_thread<'s>(&'s self, specs: &'s [PluginSpec]) -> BenchResult<ThreadFactory<'s>>;
}

/// What [`Side::per_thread`] returns.
pub type ThreadFactory<'s> = Box<dyn Fn() -> BenchResult<Vec<Box<dyn Plugin + 's>>> + Sync + 's>;

/// A loaded plugin on either side.
pub trait Plugin {
    /// `on_request` with the context serialised to JSON and the action
    /// parsed and applied, as a server does.
    fn on_request(&self, ctx: &mut RequestContext) -> BenchResult<RequestAction>;

    /// `on_response`, its header changes applied.
    fn on_response(&self, ctx: &RequestContext, response: &mut ResponseHeaders) -> BenchResult<()>;

    /// `plugin:method(arg)`, its string (or JSON-encoded table) result.
    fn call(&self, method: &str, arg: &str) -> BenchResult<Option<String>>;

    /// `count` live instances of this plugin in all (a loaded plugin has
    /// one already: the sandbox its pool built, or its Lua state), each
    /// having served `ctx` once, kept until the returned value is dropped
    /// (memory measures).
    fn live_instances(&self, count: usize, ctx: &RequestContext) -> BenchResult<Box<dyn Any>>;
}

/// How the wasm side is set up.
#[derive(Debug, Clone, Copy)]
pub struct WasmSetup {
    /// Which budgets are on.
    pub metering: Metering,
    /// Budget size.
    pub budget: Budget,
    /// Pre-reserved instance slots (wasmtime's pooling allocator).
    pub pooling: bool,
    /// How new sandboxes start.
    pub cold_start: ColdStart,
    /// A fresh sandbox for every call (cold-start measures).
    pub fresh_instance_per_call: bool,
    /// Largest number of live sandboxes per plugin.
    pub max_instances_per_plugin: usize,
    /// Sandboxes each plugin's pool builds when it loads.
    pub ready_instances_per_plugin: usize,
}

impl Default for WasmSetup {
    /// The runtime's defaults: fuel and deadlines, bext's budget, sandboxes
    /// forked from the plugin's template, memory mapped on demand.
    fn default() -> Self {
        WasmSetup {
            metering: Metering::Both,
            budget: Budget::Bext,
            pooling: false,
            cold_start: ColdStart::Fork,
            fresh_instance_per_call: false,
            max_instances_per_plugin: 8,
            ready_instances_per_plugin: 1,
        }
    }
}

/// The wasm sandbox side: one [`LuaPluginRuntime`].
pub struct WasmSide {
    runtime: LuaPluginRuntime,
    setup: WasmSetup,
    next_id: AtomicU64,
}

impl std::fmt::Debug for WasmSide {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WasmSide")
            .field("setup", &self.setup)
            .finish_non_exhaustive()
    }
}

impl WasmSide {
    /// A runtime configured by `setup`.
    pub fn new(setup: WasmSetup) -> BenchResult<Self> {
        Self::with_cache(setup, None)
    }

    /// Like [`new`](Self::new), with the compiled guest kept in `cache_dir`.
    pub fn with_cache(setup: WasmSetup, cache_dir: Option<PathBuf>) -> BenchResult<Self> {
        Self::build(setup, cache_dir, SharedBackend::Local)
    }

    /// Like [`new`](Self::new), with the plugins' `bext.shared` in `backend`.
    pub fn with_shared_backend(setup: WasmSetup, backend: SharedBackend) -> BenchResult<Self> {
        Self::build(setup, None, backend)
    }

    fn build(
        setup: WasmSetup,
        cache_dir: Option<PathBuf>,
        backend: SharedBackend,
    ) -> BenchResult<Self> {
        let mut config = LuaRuntimeConfig::default()
            .shared_backend(backend)
            .fuel_metering(matches!(setup.metering, Metering::Fuel | Metering::Both))
            .epoch_deadlines(matches!(
                setup.metering,
                Metering::Deadline | Metering::Both
            ));
        if setup.pooling {
            config = config.pooling(PoolingLimits::default().max_instances(2000));
        }
        if let Some(dir) = cache_dir {
            config = config.artifact_cache_dir(dir);
        }
        Ok(WasmSide {
            runtime: LuaPluginRuntime::with_config(config)?,
            setup,
            next_id: AtomicU64::new(0),
        })
    }

    fn load_plugin(&self, spec: &PluginSpec) -> BenchResult<WasmPlugin<'_>> {
        // Unique names: the runtime keeps one plugin per name (hot reload).
        let name = format!(
            "{}#{}",
            spec.name,
            self.next_id.fetch_add(1, Ordering::Relaxed)
        );
        let manifest = crate::manifest_without_capabilities(spec.name.as_str());
        let limits = self.setup.budget.wasm_limits().quarantine_after_traps(0);
        let pool = PoolConfig::default()
            .max_size(self.setup.max_instances_per_plugin)
            .size(self.setup.ready_instances_per_plugin)
            .fresh_instance_per_call(self.setup.fresh_instance_per_call);
        let config = LuaPluginConfig::new(name.clone(), manifest, spec.source.clone())
            .config_json(spec.config_json.as_str())
            .limits(limits)
            .cold_start(self.setup.cold_start)
            .pool(pool);
        let plugin = self.runtime.load_plugin(config)?;
        Ok(WasmPlugin(Arc::new(Registered {
            runtime: &self.runtime,
            name,
            plugin,
        })))
    }
}

impl Side for WasmSide {
    fn label(&self) -> &'static str {
        "wasm"
    }

    fn load(&self, spec: &PluginSpec) -> BenchResult<Box<dyn Plugin + '_>> {
        Ok(Box::new(self.load_plugin(spec)?))
    }

    fn per_thread<'s>(&'s self, specs: &'s [PluginSpec]) -> BenchResult<ThreadFactory<'s>> {
        let shared = specs
            .iter()
            .map(|spec| self.load_plugin(spec))
            .collect::<BenchResult<Vec<_>>>()?;
        Ok(Box::new(move || {
            Ok(shared
                .iter()
                .map(|p| Box::new(p.clone()) as Box<dyn Plugin + 's>)
                .collect())
        }))
    }
}

/// A plugin in the runtime's registry, unloaded when the last handle goes.
struct Registered<'r> {
    runtime: &'r LuaPluginRuntime,
    name: String,
    plugin: LuaPlugin,
}

impl Drop for Registered<'_> {
    fn drop(&mut self) {
        self.runtime.unload_plugin(&self.name);
    }
}

#[derive(Clone)]
struct WasmPlugin<'r>(Arc<Registered<'r>>);

impl Plugin for WasmPlugin<'_> {
    fn on_request(&self, ctx: &mut RequestContext) -> BenchResult<RequestAction> {
        Ok(self.0.plugin.try_on_request(ctx)?)
    }

    fn on_response(&self, ctx: &RequestContext, response: &mut ResponseHeaders) -> BenchResult<()> {
        Ok(self.0.plugin.try_on_response(ctx, response)?)
    }

    fn call(&self, method: &str, arg: &str) -> BenchResult<Option<String>> {
        Ok(self.0.plugin.acquire()?.call_json(method, &[arg])?)
    }

    fn live_instances(&self, count: usize, ctx: &RequestContext) -> BenchResult<Box<dyn Any>> {
        let ctx_json = request_context_json(ctx);
        let mut held: Vec<PooledInstance> = Vec::with_capacity(count);
        for _ in 0..count {
            let mut instance = self.0.plugin.acquire()?;
            instance.call_json("on_request", &[ctx_json.as_str()])?;
            held.push(instance);
        }
        Ok(Box::new(held))
    }
}

/// The native side: mlua states set up as bext's native tier sets them up.
#[derive(Debug, Clone, Copy)]
pub struct NativeSide {
    limits: NativeLimits,
}

impl NativeSide {
    /// bext's count hook (or none, for [`Metering::None`]) with `budget`.
    pub fn new(metering: Metering, budget: Budget) -> Self {
        let limits = NativeLimits {
            ticks_per_call: budget.ticks(),
            count_hook: metering != Metering::None,
            ..NativeLimits::default()
        };
        NativeSide { limits }
    }
}

impl Default for NativeSide {
    /// bext's native tier: the count hook and its per-call budget.
    fn default() -> Self {
        NativeSide::new(Metering::Both, Budget::Bext)
    }
}

impl Side for NativeSide {
    fn label(&self) -> &'static str {
        "native"
    }

    fn load(&self, spec: &PluginSpec) -> BenchResult<Box<dyn Plugin + '_>> {
        Ok(Box::new(NativeHandle::load(spec, self.limits)?))
    }

    fn per_thread<'s>(&'s self, specs: &'s [PluginSpec]) -> BenchResult<ThreadFactory<'s>> {
        Ok(Box::new(move || {
            specs.iter().map(|spec| self.load(spec)).collect()
        }))
    }
}

struct NativeHandle {
    spec: PluginSpec,
    limits: NativeLimits,
    state: NativePlugin,
}

impl NativeHandle {
    fn load(spec: &PluginSpec, limits: NativeLimits) -> BenchResult<Self> {
        let state = NativePlugin::load(&spec.name, &spec.source, &spec.config_json, limits)
            .map_err(|e| native_error(&spec.name, e))?;
        Ok(NativeHandle {
            spec: spec.clone(),
            limits,
            state,
        })
    }

    fn invalid(&self, message: impl std::fmt::Display) -> BenchError {
        BenchError::Native {
            plugin: self.spec.name.clone(),
            message: message.to_string(),
        }
    }
}

fn native_error(plugin: &str, e: bext_lua_native::Error) -> BenchError {
    BenchError::Native {
        plugin: plugin.into(),
        message: e.to_string(),
    }
}

impl Plugin for NativeHandle {
    fn on_request(&self, ctx: &mut RequestContext) -> BenchResult<RequestAction> {
        let Some(text) = self.call("on_request", &request_context_json(ctx))? else {
            return Ok(RequestAction::Continue);
        };
        // The same parsing work, and the same checks, as the wasm side's
        // adapter: the host's own parser.
        let action: Value = serde_json::from_str(&text).map_err(|e| self.invalid(e))?;
        Ok(parse_middleware_action(&action)
            .map_err(|e| self.invalid(e))?
            .apply(ctx))
    }

    fn on_response(&self, ctx: &RequestContext, response: &mut ResponseHeaders) -> BenchResult<()> {
        let headers = serde_json::to_string(&response.headers).map_err(|e| self.invalid(e))?;
        let arg = format!(
            r#"{{"status":{},"headers":{headers},"request":{}}}"#,
            response.status,
            request_context_json(ctx)
        );
        let Some(text) = self.call("on_response", &arg)? else {
            return Ok(());
        };
        let change: Value = serde_json::from_str(&text).map_err(|e| self.invalid(e))?;
        parse_response_change(&change)
            .map_err(|e| self.invalid(e))?
            .apply(response);
        Ok(())
    }

    fn call(&self, method: &str, arg: &str) -> BenchResult<Option<String>> {
        self.state
            .call(method, arg)
            .map_err(|e| native_error(&self.spec.name, e))
    }

    fn live_instances(&self, count: usize, ctx: &RequestContext) -> BenchResult<Box<dyn Any>> {
        // A native instance is a Lua state: the script loaded into a new one.
        let ctx_json = request_context_json(ctx);
        self.call("on_request", &ctx_json)?;
        let mut held = Vec::with_capacity(count);
        for _ in 1..count {
            let instance = NativeHandle::load(&self.spec, self.limits)?;
            instance.call("on_request", &ctx_json)?;
            held.push(instance);
        }
        Ok(Box::new(held))
    }
}
