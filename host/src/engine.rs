//! Process-wide machinery: the wasmtime engine, the compiled guest, and the
//! epoch ticker that drives deadlines.

use crate::coldstart;
use crate::config::LuaRuntimeConfig;
use crate::error::Error;
use crate::imports::{self, HostState};
use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::Path;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::Duration;
use wasmtime::{Config, Engine, InstanceAllocationStrategy, InstancePre, Linker, Module, OptLevel, PoolingAllocationConfig, Store};

/// The guest module built by `build.rs`: stock Lua 5.4 and the shim.
pub(crate) static GUEST_WASM: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/guest.wasm"));

/// SHA-256 of [`GUEST_WASM`], hex.
pub(crate) const GUEST_SHA256: &str = env!("BEXT_GUEST_SHA256");

/// Everything sandboxes of one runtime share.
pub(crate) struct EngineShared {
    pub(crate) engine: Engine,
    /// The generic snapshot (see [`coldstart`]), ready to instantiate.
    pub(crate) instance_pre: InstancePre<HostState>,
    /// The memory of a fresh instance of it, which fork templates diff against.
    pub(crate) image: Arc<[u8]>,
    pub(crate) config: LuaRuntimeConfig,
    _ticker: Option<EpochTicker>,
}

impl EngineShared {
    /// An engine running `guest_wasm`: normally [`GUEST_WASM`]; another
    /// module only through the test hook
    /// [`LuaPluginRuntime::with_guest_module`](crate::LuaPluginRuntime::with_guest_module).
    pub(crate) fn new(config: LuaRuntimeConfig, guest_wasm: &[u8]) -> Result<Self, Error> {
        let (engine, linker) = engine_and_linker(&config)?;
        let module = if std::ptr::eq(guest_wasm, GUEST_WASM) {
            compiled_snapshot(&engine, &linker, config.artifact_cache_dir.as_deref())
        } else {
            // Test modules are snapshotted and compiled every time, never cached.
            coldstart::generic_snapshot(&engine, &linker, guest_wasm).and_then(|snapshot| Module::new(&engine, &snapshot))
        }
        .map_err(|e| engine_err("preparing the guest", e))?;
        let instance_pre = linker.instantiate_pre(&module).map_err(|e| engine_err("resolving the guest's imports", e))?;
        let image = memory_image(&engine, &instance_pre).map_err(|e| engine_err("reading the guest image", e))?;
        let ticker = config
            .epoch_deadlines
            .then(|| EpochTicker::start(engine.clone(), Duration::from_millis(config.epoch_tick_ms.max(1))));
        Ok(EngineShared { engine, instance_pre, image, config, _ticker: ticker })
    }

    /// An engine and the guest as built, not snapshotted: for the full
    /// profile (`runner`), whose instances run `_initialize` with their own
    /// WASI preopens and create their own Lua state.
    pub(crate) fn raw_guest(config: &LuaRuntimeConfig) -> Result<(Engine, InstancePre<HostState>), Error> {
        let (engine, linker) = engine_and_linker(config)?;
        let module = compiled_artifact(&engine, "raw", config.artifact_cache_dir.as_deref(), || Module::new(&engine, GUEST_WASM))
            .map_err(|e| engine_err("compiling the guest", e))?;
        let instance_pre = linker.instantiate_pre(&module).map_err(|e| engine_err("resolving the guest's imports", e))?;
        Ok((engine, instance_pre))
    }

    /// Epoch ticks that cover `timeout_ms`: one more than the quotient,
    /// because the current tick is already partly over.
    /// Capped far below `u64::MAX`: wasmtime adds it to the current epoch
    /// (`timeout_ms: u64::MAX` means "no deadline" in practice, not a panic).
    pub(crate) fn deadline_ticks(&self, timeout_ms: u64) -> u64 {
        (timeout_ms / self.config.epoch_tick_ms.max(1)).saturating_add(1).min(u64::MAX >> 2)
    }
}

/// An engine for `config` and a linker with the guest's imports.
fn engine_and_linker(config: &LuaRuntimeConfig) -> Result<(Engine, Linker<HostState>), Error> {
    let engine = Engine::new(&engine_config(config)).map_err(|e| engine_err("creating the engine", e))?;
    let linker = imports::linker(&engine).map_err(|e| engine_err("linking host functions", e))?;
    Ok((engine, linker))
}

fn engine_err(what: &str, e: wasmtime::Error) -> Error {
    Error::Engine { message: format!("{what}: {e:#}") }
}

fn engine_config(config: &LuaRuntimeConfig) -> Config {
    let mut c = Config::new();
    // Lua's error handling is setjmp/longjmp lowered to wasm exceptions.
    c.wasm_exceptions(true);
    c.consume_fuel(config.fuel_metering);
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

/// The compiled generic snapshot, made once per process: kept in memory
/// (later runtimes deserialize it in well under a millisecond instead of
/// snapshotting and compiling again) and, when configured, in a file under
/// `cache_dir` that later processes load. Keyed by the guest build and the
/// engine's compatibility hash.
fn compiled_snapshot(engine: &Engine, linker: &Linker<HostState>, cache_dir: Option<&Path>) -> wasmtime::Result<Module> {
    compiled_artifact(engine, "snapshot", cache_dir, || {
        let snapshot = coldstart::generic_snapshot(engine, linker, GUEST_WASM)?;
        Module::new(engine, &snapshot)
    })
}

/// A compiled artifact of kind `kind` made by `build`: kept in memory for
/// the process ([`cached_module`]) and, when `cache_dir` is set, in a file
/// there that later processes load instead of compiling. The file name
/// carries the guest build and [`artifact_key`] (wasmtime's compatibility
/// hash, which covers its version and the engine settings); a file that does
/// not load (corrupt, truncated, another engine's) is ignored and replaced.
/// Files are written to a temporary name and renamed, so concurrent
/// processes never see a partial one.
fn compiled_artifact(
    engine: &Engine,
    kind: &str,
    cache_dir: Option<&Path>,
    build: impl FnOnce() -> wasmtime::Result<Module>,
) -> wasmtime::Result<Module> {
    let file_key = artifact_key(engine, kind);
    let file = cache_dir.map(|dir| dir.join(format!("bext-lua-guest-{}-{file_key:016x}.cwasm", &GUEST_SHA256[..16])));
    cached_module(engine, kind, || {
        if let Some(file) = file.as_ref().filter(|f| f.exists()) {
            // SAFETY: the file is one this crate wrote (name keyed by guest
            // build and engine); `deserialize_file` checks the engine
            // compatibility and the format. The cache directory must be
            // writable only by the server's own user: loading a compiled
            // artifact runs its code.
            match unsafe { Module::deserialize_file(engine, file) } {
                Ok(module) => return Ok(module),
                Err(e) => tracing::warn!(target: "bext_lua", "ignoring the guest cache {}: {e:#}", file.display()),
            }
        }
        let module = build()?;
        if let Some(file) = &file {
            if let Err(e) = write_atomically(file, &module.serialize()?) {
                tracing::warn!(target: "bext_lua", "could not write the guest cache {}: {e}", file.display());
            }
        }
        Ok(module)
    })
}

/// Identifies a compiled artifact: its kind, the guest build and the
/// engine's compatibility hash.
fn artifact_key(engine: &Engine, kind: &str) -> u64 {
    let mut hasher = DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut hasher);
    GUEST_SHA256.hash(&mut hasher);
    kind.hash(&mut hasher);
    hasher.finish()
}

/// A compiled module kept in memory for the whole process: later runtimes
/// deserialize it in well under a millisecond instead of building it again.
fn cached_module(engine: &Engine, kind: &str, build: impl FnOnce() -> wasmtime::Result<Module>) -> wasmtime::Result<Module> {
    static COMPILED: OnceLock<Mutex<HashMap<u64, Arc<[u8]>>>> = OnceLock::new();
    let key = artifact_key(engine, kind);
    // Holding the lock while building makes concurrent first runtimes wait
    // for one build instead of each doing their own.
    let mut cache = COMPILED.get_or_init(Default::default).lock().unwrap_or_else(|e| e.into_inner());
    if let Some(artifact) = cache.get(&key) {
        // SAFETY: the bytes were produced by `Module::serialize` in this
        // process, for an engine with the same compatibility hash.
        return unsafe { Module::deserialize(engine, artifact) };
    }
    let module = build()?;
    cache.insert(key, module.serialize()?.into());
    Ok(module)
}

fn write_atomically(file: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = file.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let tmp = file.with_extension(format!("tmp{}", std::process::id()));
    let written = std::fs::write(&tmp, bytes).and_then(|()| std::fs::rename(&tmp, file));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// The memory of a fresh instance of the generic snapshot.
fn memory_image(engine: &Engine, instance_pre: &InstancePre<HostState>) -> wasmtime::Result<Arc<[u8]>> {
    let mut store = Store::new(engine, HostState::internal());
    store.limiter(|state| &mut state.limiter);
    let instance = instance_pre.instantiate(&mut store)?;
    let memory = instance
        .get_memory(&mut store, "memory")
        .ok_or_else(|| wasmtime::Error::msg("the guest exports no memory"))?;
    Ok(memory.data(&store).into())
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
