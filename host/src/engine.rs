//! Process-wide machinery: the wasmtime engine, the guest compiled and
//! linked for both call modes, and the epoch ticker that drives deadlines.
//!
//! * [`snapshot`]: the generic snapshot, made, cached and imaged;
//! * [`artifact_cache`]: the on-disk format of compiled guests.

pub(crate) mod artifact_cache;
pub(crate) mod snapshot;

use crate::config::limits;
use crate::config::runtime::LuaRuntimeConfig;
use crate::config::validate;
use crate::error::Error;
use crate::guest::GUEST_WASM;
use crate::guest::call_mode::CallMode;
use crate::guest::imports;
use crate::guest::state::HostState;
use crate::periodic::Periodic;
use snapshot::{compiled_snapshot, memory_image};
use std::sync::Arc;
use std::time::Duration;
use wasmtime::{
    Config, Engine, InstanceAllocationStrategy, InstancePre, Linker, Module, OptLevel,
    PoolingAllocationConfig,
};

/// The engine with the guest compiled and linked: everything the sandboxes
/// of one runtime share.
pub(crate) struct GuestEngine {
    pub(crate) engine: Engine,
    /// The generic snapshot (see [`snapshot`]), ready to instantiate by
    /// stores of [`CallMode::Sync`].
    sync_pre: InstancePre<HostState>,
    /// The same module linked for [`CallMode::Async`] (see [`imports::linker`]).
    async_pre: InstancePre<HostState>,
    /// The memory of a fresh instance of it, which fork templates diff against.
    pub(crate) image: Arc<[u8]>,
    pub(crate) config: LuaRuntimeConfig,
    _ticker: Option<Periodic>,
}

impl GuestEngine {
    /// An engine running `guest_wasm`: normally [`GUEST_WASM`]; another
    /// module only through the test hook
    /// [`LuaPluginRuntime::with_guest_module`](crate::LuaPluginRuntime::with_guest_module).
    pub(crate) fn new(config: LuaRuntimeConfig, guest_wasm: &[u8]) -> Result<Self, Error> {
        validate::runtime_config(&config)?;
        let (engine, linker) = engine_and_linker(&config)?;
        let module = if std::ptr::eq(guest_wasm, GUEST_WASM) {
            compiled_snapshot(&engine, &linker, config.artifact_cache_dir.as_deref())
        } else {
            // Test modules are snapshotted and compiled every time, never cached.
            snapshot::generic_snapshot(&engine, &linker, guest_wasm)
                .and_then(|snapshot| Module::new(&engine, &snapshot))
        }
        .map_err(|e| engine_err("preparing the guest", e))?;
        let sync_pre = linker
            .instantiate_pre(&module)
            .map_err(|e| engine_err("resolving the guest's imports", e))?;
        let async_pre = imports::linker(&engine, CallMode::Async)
            .and_then(|linker| linker.instantiate_pre(&module))
            .map_err(|e| engine_err("resolving the guest's imports for async calls", e))?;
        let image = memory_image(&engine, &sync_pre)
            .map_err(|e| engine_err("reading the guest image", e))?;
        // One thread per runtime advances the engine's epoch every tick.
        let ticker = config.epoch_deadlines.then(|| {
            let engine = engine.clone();
            Periodic::start("bext-lua-epoch", Duration::from_millis(config.epoch_tick_ms.max(1)), move || {
                engine.increment_epoch();
                true
            })
            .inspect_err(|e| tracing::error!(target: "bext_lua", "could not start the epoch thread ({e}): deadlines will not fire"))
            .ok()
        });
        Ok(GuestEngine {
            engine,
            sync_pre,
            async_pre,
            image,
            config,
            _ticker: ticker.flatten(),
        })
    }

    /// The generic snapshot, ready to instantiate in a store of `mode`.
    pub(crate) fn instance_pre(&self, mode: CallMode) -> &InstancePre<HostState> {
        match mode {
            CallMode::Sync => &self.sync_pre,
            CallMode::Async => &self.async_pre,
        }
    }

    /// An engine and the guest as built, not snapshotted: for the full
    /// profile (`runner`), whose instances run `_initialize` with their own
    /// WASI preopens and create their own Lua state.
    #[cfg(feature = "runner")]
    pub(crate) fn raw_guest(
        config: &LuaRuntimeConfig,
    ) -> Result<(Engine, InstancePre<HostState>), Error> {
        validate::runtime_config(config)?;
        let (engine, linker) = engine_and_linker(config)?;
        let module =
            snapshot::cached_module(&engine, "raw", config.artifact_cache_dir.as_deref(), || {
                Module::new(&engine, GUEST_WASM)
            })
            .map_err(|e| engine_err("compiling the guest", e))?;
        let instance_pre = linker
            .instantiate_pre(&module)
            .map_err(|e| engine_err("resolving the guest's imports", e))?;
        Ok((engine, instance_pre))
    }
}

/// An engine for `config` and a linker with the guest's imports.
fn engine_and_linker(config: &LuaRuntimeConfig) -> Result<(Engine, Linker<HostState>), Error> {
    let engine =
        Engine::new(&engine_config(config)).map_err(|e| engine_err("creating the engine", e))?;
    let linker = imports::linker(&engine, CallMode::Sync)
        .map_err(|e| engine_err("linking host functions", e))?;
    Ok((engine, linker))
}

/// [`Error::Engine`]: `what` failed, with wasmtime's error as its cause.
fn engine_err(what: &str, e: wasmtime::Error) -> Error {
    Error::Engine {
        message: format!("{what}: {e:#}"),
        source: e.into(),
    }
}

pub(crate) fn engine_config(config: &LuaRuntimeConfig) -> Config {
    let mut c = Config::new();
    // Lua's error handling is setjmp/longjmp lowered to wasm exceptions.
    c.wasm_exceptions(true);
    c.consume_fuel(config.fuel_metering);
    if config.fuel_metering {
        // The price list that makes fuel count Lua instructions; it changes
        // the compiled code, and wasmtime's compatibility hash (part of
        // every artifact's cache key) covers it.
        c.operator_cost(limits::operator_costs());
    }
    c.epoch_interruption(config.epoch_deadlines);
    c.max_wasm_stack(config.max_wasm_stack_bytes);
    c.cranelift_opt_level(OptLevel::Speed);
    if let Some(limits) = &config.pooling {
        let mut pool = PoolingAllocationConfig::default();
        pool.total_core_instances(limits.max_instances)
            // Each instance has its linear memory and a GC heap (wasm
            // exceptions, which Lua errors are), both taken from the pool.
            .total_memories(limits.max_instances.saturating_mul(2))
            .total_gc_heaps(limits.max_instances)
            .total_tables(limits.max_instances)
            .max_memory_size(limits.max_heap_bytes)
            .linear_memory_keep_resident(limits.keep_resident_bytes)
            .table_keep_resident(limits.keep_resident_bytes);
        c.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    }
    c
}
