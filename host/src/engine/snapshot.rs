//! The generic snapshot: made, cached and imaged here.
//!
//! * **Made** (once per process): the guest with its Lua state created, the
//!   sandbox libraries opened and `bext` installed, captured with
//!   wasmtime-wizer. Instances of it skip `bext_init`; their memory is
//!   mapped copy-on-write from the image. Lua's string-hash seed is part of
//!   the Lua state, so it is shared by the instances of one snapshot: random
//!   per process (or per on-disk cache file).
//! * **Cached**: compiled once per process (kept serialized in memory) and,
//!   with an artifact cache folder, once per folder ([`artifact_cache`]).
//! * **Imaged**: the memory of a fresh instance, which fork templates
//!   (`sandbox/fork.rs`) diff against.

use crate::engine::artifact_cache;
use crate::guest::call_mode::run_sync;
use crate::guest::state::HostState;
use crate::guest::{GUEST_SHA256, GUEST_WASM};
use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};
use wasmtime::{Engine, Instance, InstancePre, Linker, Module, Store, Val};
use wasmtime_wizer::{InstanceState, SnapshotVal, ValType, Wizer};

/// The generic snapshot of `guest`: a module whose instances start with the
/// Lua state created. Compiles the instrumented guest once to run its init.
pub(crate) fn generic_snapshot(
    engine: &Engine,
    linker: &Linker<HostState>,
    guest: &[u8],
) -> wasmtime::Result<Vec<u8>> {
    let wizer = Wizer::new();
    let (cx, instrumented) = wizer.instrument(guest)?;
    let module = Module::new(engine, &instrumented)?;
    let mut store = Store::new(engine, HostState::internal());
    store.limiter(|state| &mut state.limiter);
    // Whatever the engine meters, initialisation runs to completion.
    let _ = store.set_fuel(u64::MAX);
    store.set_epoch_deadline(u64::MAX / 2);
    let instance = linker.instantiate(&mut store, &module)?;
    store.data_mut().memory = instance.get_memory(&mut store, "memory");
    instance
        .get_typed_func::<(), ()>(&mut store, "_initialize")?
        .call(&mut store, ())?;
    let status = instance
        .get_typed_func::<(), i32>(&mut store, "bext_init")?
        .call(&mut store, ())?;
    if status != 0 {
        return Err(wasmtime::Error::msg(format!(
            "bext_init failed with status {status} while snapshotting"
        )));
    }
    let mut source = SnapshotSource {
        store: &mut store,
        instance,
        problem: None,
    };
    // Wizer's snapshot of in-memory state never waits.
    let snapshot = run_sync(wizer.snapshot(&cx, &mut source))?;
    match source.problem {
        Some(problem) => Err(wasmtime::Error::msg(problem)),
        None => Ok(snapshot),
    }
}

/// Reads an instance's state for wizer. Wizer's callbacks cannot fail: a
/// state they cannot read is kept in `problem` (and a placeholder given),
/// which fails the snapshot once wizer returns.
struct SnapshotSource<'a> {
    store: &'a mut Store<HostState>,
    instance: Instance,
    problem: Option<String>,
}

impl InstanceState for SnapshotSource<'_> {
    async fn global_get(&mut self, name: &str, _type_hint: ValType) -> SnapshotVal {
        // Wizer only asks for the globals its instrumentation exported.
        let value = self
            .instance
            .get_global(&mut *self.store, name)
            .map(|global| global.get(&mut *self.store));
        match value {
            Some(Val::I32(x)) => SnapshotVal::I32(x),
            Some(Val::I64(x)) => SnapshotVal::I64(x),
            Some(Val::F32(x)) => SnapshotVal::F32(x),
            Some(Val::F64(x)) => SnapshotVal::F64(x),
            Some(Val::V128(x)) => SnapshotVal::V128(x.as_u128()),
            other => {
                self.problem.get_or_insert_with(|| match other {
                    None => {
                        format!("wizer asked for global `{name}`, which the guest does not export")
                    }
                    Some(value) => {
                        format!("the guest's global `{name}` is reference-typed ({value:?})")
                    }
                });
                SnapshotVal::I32(0)
            }
        }
    }

    async fn memory_contents(&mut self, name: &str, contents: impl FnOnce(&[u8]) + Send) {
        match self.instance.get_memory(&mut *self.store, name) {
            Some(memory) => contents(memory.data(&*self.store)),
            None => {
                self.problem.get_or_insert_with(|| {
                    format!("wizer asked for memory `{name}`, which the guest does not export")
                });
                contents(&[])
            }
        }
    }
}

/// The compiled generic snapshot (see [`cached_module`]).
pub(crate) fn compiled_snapshot(
    engine: &Engine,
    linker: &Linker<HostState>,
    cache_dir: Option<&Path>,
) -> wasmtime::Result<Module> {
    cached_module(engine, "snapshot", cache_dir, || {
        let snapshot = generic_snapshot(engine, linker, GUEST_WASM)?;
        Module::new(engine, &snapshot)
    })
}

/// Identifies a compiled artifact: its kind, the guest build and the
/// engine's compatibility hash (which covers wasmtime's exact version and
/// the settings that change compiled code: fuel, epochs, target features).
fn artifact_key(engine: &Engine, kind: &str) -> u64 {
    let mut hasher = DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut hasher);
    GUEST_SHA256.hash(&mut hasher);
    kind.hash(&mut hasher);
    hasher.finish()
}

/// The file name of an artifact in the on-disk cache.
fn artifact_file_name(engine: &Engine, kind: &str) -> String {
    format!(
        "guest-{}-{kind}-{:016x}",
        &GUEST_SHA256[..16],
        artifact_key(engine, kind)
    )
}

/// A compiled module of `kind`, built once per process and, with a
/// `cache_dir`, once per cache folder: kept in memory (later runtimes of the
/// process deserialize it in well under a millisecond) and in a file that
/// later processes load ([`artifact_cache`]).
pub(crate) fn cached_module(
    engine: &Engine,
    kind: &str,
    cache_dir: Option<&Path>,
    build: impl FnOnce() -> wasmtime::Result<Module>,
) -> wasmtime::Result<Module> {
    /// A compiled artifact kept for the process: owned bytes, or a mapped file.
    type Artifact = Arc<dyn AsRef<[u8]> + Send + Sync>;
    static COMPILED: OnceLock<Mutex<HashMap<u64, Artifact>>> = OnceLock::new();
    let key = artifact_key(engine, kind);
    // Holding the lock while building makes concurrent first runtimes wait
    // for one build instead of each doing their own.
    let mut cache = COMPILED
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if let Some(artifact) = cache.get(&key) {
        // SAFETY: the bytes were produced by `Module::serialize` in this
        // process, for an engine with the same compatibility hash.
        return unsafe { Module::deserialize(engine, (**artifact).as_ref()) };
    }
    let file = cache_dir.map(|dir| artifact_cache::file_in(dir, &artifact_file_name(engine, kind)));
    if let Some(file) = &file
        && let Some(cached) = artifact_cache::read(file)
    {
        // SAFETY: the file is one this crate wrote (its name is keyed by
        // guest build, wasmtime version and engine settings; its trailer
        // checksum matched) in a folder only the user may write to, and
        // never changed in place (writers rename a new file over it);
        // `deserialize_open_file` checks the engine compatibility and the
        // format, and maps the file rather than copying it.
        match unsafe { Module::deserialize_open_file(engine, cached.file) } {
            Ok(module) => {
                cache.insert(key, Arc::new(cached.mapped));
                return Ok(module);
            }
            Err(e) => {
                artifact_cache::ignore::<()>(file, &format!("{e:#}"));
            }
        }
    }
    let module = build()?;
    let artifact = module.serialize()?;
    if let Some(file) = &file {
        artifact_cache::write(file, &artifact);
    }
    cache.insert(key, Arc::new(artifact));
    Ok(module)
}

/// The memory of a fresh instance of the generic snapshot.
pub(crate) fn memory_image(
    engine: &Engine,
    instance_pre: &InstancePre<HostState>,
) -> wasmtime::Result<Arc<[u8]>> {
    let mut store = Store::new(engine, HostState::internal());
    store.limiter(|state| &mut state.limiter);
    let instance = instance_pre.instantiate(&mut store)?;
    let memory = instance
        .get_memory(&mut store, "memory")
        .ok_or_else(|| wasmtime::Error::msg("the guest exports no memory"))?;
    Ok(memory.data(&store).into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::runtime::LuaRuntimeConfig;
    use crate::engine::engine_config;

    /// The smallest valid module: compiled code without anything in it.
    const EMPTY_MODULE: &[u8] = b"\0asm\x01\0\0\0";

    /// Code compiled under another fuel price list counts fuel in other
    /// units: its cache key differs, and wasmtime refuses the artifact too.
    #[test]
    fn code_compiled_under_another_fuel_price_list_is_never_reused() {
        let config = LuaRuntimeConfig::default();
        let ours = Engine::new(&engine_config(&config)).unwrap();
        let mut wasmtime_prices = engine_config(&config);
        wasmtime_prices.operator_cost(wasmtime::OperatorCost::new());
        let other = Engine::new(&wasmtime_prices).unwrap();
        for kind in ["snapshot", "raw"] {
            assert_ne!(artifact_key(&ours, kind), artifact_key(&other, kind));
            assert_ne!(
                artifact_file_name(&ours, kind),
                artifact_file_name(&other, kind)
            );
        }
        let foreign = Module::new(&other, EMPTY_MODULE)
            .unwrap()
            .serialize()
            .unwrap();
        // SAFETY: the bytes were serialized by wasmtime just above.
        let loaded = unsafe { Module::deserialize(&ours, &foreign) };
        assert!(loaded.is_err(), "an artifact of another price list loaded");
        // The same engine settings give the same key, so the cache is used.
        let again = Engine::new(&engine_config(&config)).unwrap();
        assert_eq!(
            artifact_key(&ours, "snapshot"),
            artifact_key(&again, "snapshot")
        );
    }
}
