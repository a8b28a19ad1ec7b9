//! Fast sandbox start without compiling anything per plugin.
//!
//! * **Generic snapshot** (once per process): the guest with its Lua state
//!   created, the sandbox libraries opened and `bext` installed, captured
//!   with wasmtime-wizer and compiled once. Instances of it skip
//!   `bext_init`; their memory is mapped copy-on-write from the image.
//! * **Fork template** (once per plugin load): the script is loaded into one
//!   instance of the generic snapshot, and the 4 KiB pages that differ from
//!   the snapshot's memory are kept (a few dozen KiB for a typical plugin).
//!   A new sandbox for the plugin is an instance of the generic snapshot with
//!   those pages copied in: no parsing, no running of the script's top level.
//!
//! Every instance made this way is then reseeded (`bext_reseed`): a fresh
//! `math.random` state and `os.clock` origin. Lua's string-hash seed is part
//! of the Lua state, so it is shared by the instances of one generic
//! snapshot: random per process (or per on-disk cache file).

use crate::imports::HostState;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use wasmtime::{Engine, Instance, Linker, Memory, Module, Store, Val};
use wasmtime_wizer::{InstanceState, SnapshotVal, ValType, Wizer};

/// Page granularity of fork templates.
const PAGE: usize = 4096;

/// The generic snapshot of `guest`: a module whose instances start with the
/// Lua state created. Compiles the instrumented guest once to run its init.
pub(crate) fn generic_snapshot(engine: &Engine, linker: &Linker<HostState>, guest: &[u8]) -> wasmtime::Result<Vec<u8>> {
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
    instance.get_typed_func::<(), ()>(&mut store, "_initialize")?.call(&mut store, ())?;
    let status = instance.get_typed_func::<(), i32>(&mut store, "bext_init")?.call(&mut store, ())?;
    if status != 0 {
        return Err(wasmtime::Error::msg(format!("bext_init failed with status {status} while snapshotting")));
    }
    block_on(wizer.snapshot(&cx, &mut SnapshotSource { store: &mut store, instance }))
}

/// Reads an instance's state for wizer.
struct SnapshotSource<'a> {
    store: &'a mut Store<HostState>,
    instance: Instance,
}

impl InstanceState for SnapshotSource<'_> {
    async fn global_get(&mut self, name: &str, _type_hint: ValType) -> SnapshotVal {
        // Wizer only asks for the globals its instrumentation exported.
        let global = self.instance.get_global(&mut *self.store, name).expect("wizer-exported global");
        match global.get(&mut *self.store) {
            Val::I32(x) => SnapshotVal::I32(x),
            Val::I64(x) => SnapshotVal::I64(x),
            Val::F32(x) => SnapshotVal::F32(x),
            Val::F64(x) => SnapshotVal::F64(x),
            Val::V128(x) => SnapshotVal::V128(x.as_u128()),
            other => panic!("the guest has no reference-typed globals, found {other:?}"),
        }
    }

    async fn memory_contents(&mut self, name: &str, contents: impl FnOnce(&[u8]) + Send) {
        let memory = self.instance.get_memory(&mut *self.store, name).expect("wizer-exported memory");
        contents(memory.data(&*self.store))
    }
}

/// Drives a future that never waits (wizer's snapshot over in-memory state).
fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
    }
}

/// The pages of a plugin's loaded state that differ from the generic image.
pub(crate) struct ForkTemplate {
    memory_len: usize,
    /// (page index, page contents) in ascending page order.
    pages: Vec<(usize, Box<[u8]>)>,
}

impl ForkTemplate {
    /// Diffs `memory` (an instance of the generic snapshot after the script
    /// was loaded) against `image` (the generic snapshot's own memory).
    /// Memory grown past the image starts zeroed, so zero pages there are
    /// left out.
    pub(crate) fn capture(image: &[u8], memory: &[u8]) -> Self {
        let pages = memory
            .chunks(PAGE)
            .enumerate()
            .filter(|(index, page)| match image.get(index * PAGE..index * PAGE + page.len()) {
                Some(original) => original != *page,
                None => page.iter().any(|&b| b != 0),
            })
            .map(|(index, page)| (index, Box::from(page)))
            .collect();
        ForkTemplate { memory_len: memory.len(), pages }
    }

    /// Bytes the template keeps.
    pub(crate) fn bytes(&self) -> usize {
        self.pages.len() * PAGE
    }

    /// Makes `memory` (a fresh instance of the generic snapshot) equal to the
    /// template's memory.
    pub(crate) fn apply(&self, memory: Memory, store: &mut Store<HostState>) -> wasmtime::Result<()> {
        let current = memory.data_size(&*store);
        if self.memory_len > current {
            let wasm_page = memory.page_size(&*store) as usize;
            memory.grow(&mut *store, ((self.memory_len - current) / wasm_page) as u64)?;
        }
        let data = memory.data_mut(store);
        for (index, page) in &self.pages {
            let at = index * PAGE;
            data[at..at + page.len()].copy_from_slice(page);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capture_keeps_only_changed_and_new_pages() {
        let image = vec![0u8; 3 * PAGE];
        let mut memory = vec![0u8; 5 * PAGE];
        memory[PAGE + 7] = 1; // page 1 changed
        memory[4 * PAGE] = 2; // page 4 is beyond the image
        let template = ForkTemplate::capture(&image, &memory);
        let indices: Vec<usize> = template.pages.iter().map(|(i, _)| *i).collect();
        assert_eq!(indices, [1, 4], "zero pages beyond the image stay out");
        assert_eq!(template.bytes(), 2 * PAGE);
    }
}
