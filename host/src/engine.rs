//! Process-wide machinery: the wasmtime engine, the compiled guest, and the
//! epoch ticker that drives deadlines.

use crate::config::LuaRuntimeConfig;
use crate::error::Error;
use crate::imports::{self, HostState};
use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::Duration;
use wasmtime::{Config, Engine, InstancePre, Module, OptLevel};

/// The guest module built by `build.rs`: stock Lua 5.4 and the shim.
pub(crate) static GUEST_WASM: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/guest.wasm"));

/// SHA-256 of [`GUEST_WASM`], hex.
pub(crate) const GUEST_SHA256: &str = env!("BEXT_GUEST_SHA256");

/// Everything sandboxes of one runtime share.
pub(crate) struct EngineShared {
    pub(crate) engine: Engine,
    pub(crate) instance_pre: InstancePre<HostState>,
    pub(crate) config: LuaRuntimeConfig,
    _ticker: Option<EpochTicker>,
}

impl EngineShared {
    /// An engine running `guest_wasm`: normally [`GUEST_WASM`]; another
    /// module only through the test hook
    /// [`LuaPluginRuntime::with_guest_module`](crate::LuaPluginRuntime::with_guest_module).
    pub(crate) fn new(config: LuaRuntimeConfig, guest_wasm: &[u8]) -> Result<Self, Error> {
        let engine_err = |what: &str, e: wasmtime::Error| Error::Engine { message: format!("{what}: {e:#}") };
        let engine = Engine::new(&engine_config(&config)).map_err(|e| engine_err("creating the engine", e))?;
        let module = if std::ptr::eq(guest_wasm, GUEST_WASM) {
            compiled_guest(&engine)
        } else {
            // Test modules are compiled every time and never cached.
            Module::new(&engine, guest_wasm)
        }
        .map_err(|e| engine_err("compiling the guest", e))?;
        let linker = imports::linker(&engine).map_err(|e| engine_err("linking host functions", e))?;
        let instance_pre = linker
            .instantiate_pre(&module)
            .map_err(|e| engine_err("resolving the guest's imports", e))?;
        let ticker = config
            .epoch_deadlines
            .then(|| EpochTicker::start(engine.clone(), Duration::from_millis(config.epoch_tick_ms.max(1))));
        Ok(EngineShared { engine, instance_pre, config, _ticker: ticker })
    }

    /// Epoch ticks that cover `timeout_ms`: one more than the quotient,
    /// because the current tick is already partly over.
    /// Capped far below `u64::MAX`: wasmtime adds it to the current epoch
    /// (`timeout_ms: u64::MAX` means "no deadline" in practice, not a panic).
    pub(crate) fn deadline_ticks(&self, timeout_ms: u64) -> u64 {
        (timeout_ms / self.config.epoch_tick_ms.max(1)).saturating_add(1).min(u64::MAX >> 2)
    }
}

fn engine_config(config: &LuaRuntimeConfig) -> Config {
    let mut c = Config::new();
    // Lua's error handling is setjmp/longjmp lowered to wasm exceptions.
    c.wasm_exceptions(true);
    c.consume_fuel(config.fuel_metering);
    c.epoch_interruption(config.epoch_deadlines);
    c.max_wasm_stack(config.max_wasm_stack_bytes);
    c.cranelift_opt_level(OptLevel::Speed);
    c
}

/// Compiled guest artifacts, keyed by engine compatibility and guest build:
/// the guest is compiled once per process, later runtimes deserialize it
/// (~0.4 ms instead of ~200 ms).
fn compiled_guest(engine: &Engine) -> wasmtime::Result<Module> {
    static COMPILED: OnceLock<Mutex<HashMap<u64, Arc<[u8]>>>> = OnceLock::new();
    let mut hasher = DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut hasher);
    GUEST_SHA256.hash(&mut hasher);
    let key = hasher.finish();

    // Holding the lock while compiling makes concurrent first runtimes wait
    // for one compile instead of each doing their own.
    let mut cache = COMPILED.get_or_init(Default::default).lock().unwrap_or_else(|e| e.into_inner());
    if let Some(artifact) = cache.get(&key) {
        // SAFETY: the bytes were produced by `Module::serialize` in this
        // process, for an engine with the same compatibility hash.
        return unsafe { Module::deserialize(engine, artifact) };
    }
    let module = Module::new(engine, GUEST_WASM)?;
    cache.insert(key, module.serialize()?.into());
    Ok(module)
}

/// One thread per runtime that advances the engine's epoch every tick;
/// stopped and joined when the runtime's engine is dropped.
struct EpochTicker {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl EpochTicker {
    fn start(engine: Engine, tick: Duration) -> Self {
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("bext-lua-epoch".into())
            .spawn(move || {
                while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(tick) {
                    engine.increment_epoch();
                }
            })
            .ok();
        if thread.is_none() {
            tracing::error!(target: "bext_lua", "could not start the epoch thread: deadlines will not fire");
        }
        EpochTicker { stop: Some(stop), thread }
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        drop(self.stop.take()); // disconnects the channel: the thread ends
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
