//! The fork template (once per plugin load): the script is loaded into one
//! instance of the generic snapshot (`engine/snapshot.rs`), and the 4 KiB pages
//! that differ from the snapshot's memory are kept (a few dozen KiB for a
//! typical plugin). A new sandbox for the plugin ([`ColdStart::Fork`]) is an
//! instance of the generic snapshot with those pages put in: no parsing, no
//! running of the script's top level. Every instance made this way is then
//! reseeded (`bext_reseed`): a fresh `math.random` state and `os.clock`
//! origin.
//!
//! **Where the pages live.** Every template of the process is stored back to
//! back in one memfd, the template arena (only the changed pages, freed with
//! the template). With memory mapped on demand (the default), a fork maps
//! its template's pages copy-on-write from the arena over the fresh
//! instance's memory, so the sandboxes of one plugin share one copy of them
//! until each writes to a page: a live sandbox costs the pages it has
//! written, not the whole template. With the pooling allocator the pages are
//! copied instead: wasmtime resets a slot for its next instance by
//! discarding its private pages, which over our mapping would bring back
//! this plugin's pages, not the generic image, for another plugin's
//! sandbox. Where a memfd cannot be made, templates are kept on the heap and
//! copied.
//!
//! **An idle plugin keeps only the changed words.** Loading a script
//! changes a few KiB scattered over its template's pages (7.3 KiB of bytes
//! over 11 pages for the rate limiter). When a plugin's pools have dropped
//! every sandbox ([`PoolConfig::idle_timeout_ms`]), [`ForkTemplate::compact`]
//! replaces the pages with the 8-byte words that changed, and the next fork
//! puts the pages back together from the generic image. Every fork holds
//! its template's pages ([`TemplatePages`]) for as long as its memory may
//! map them, so compacting never takes pages from under a live sandbox.
//!
//! [`PoolConfig::idle_timeout_ms`]: crate::PoolConfig::idle_timeout_ms
//! [`ColdStart::Fork`]: crate::ColdStart::Fork

use crate::config::runtime::LuaRuntimeConfig;
use crate::guest::state::HostState;
use std::collections::BTreeMap;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::{Arc, Mutex, OnceLock};
use wasmtime::{Memory, Store};

/// Page granularity of fork templates (the host's page size, checked before
/// mapping).
const PAGE: usize = 4096;

/// How a fork gets its template's pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PagesBy {
    /// Mapped copy-on-write from the arena (memory mapped on demand).
    Mapping,
    /// Copied (pooling allocator).
    Copying,
}

impl PagesBy {
    /// Mapping with memory on demand; copying into the pooling allocator's
    /// slots (see the module's docs).
    pub(crate) fn for_config(config: &LuaRuntimeConfig) -> PagesBy {
        if config.pooling.is_some() {
            PagesBy::Copying
        } else {
            PagesBy::Mapping
        }
    }
}

/// Consecutive changed pages: `pages` pages from page `first` of the
/// memory, stored from byte `at` of the template's pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Run {
    first: usize,
    pages: usize,
    at: usize,
}

/// The pages of a plugin's loaded state that differ from the generic image.
pub(crate) struct ForkTemplate {
    memory_len: usize,
    runs: Vec<Run>,
    stored: Mutex<Stored>,
}

/// What a template keeps: whole pages while its plugin has sandboxes, only
/// the changed words while it is idle.
enum Stored {
    Pages(Arc<StoredPages>),
    Bytes(ChangedBytes),
}

enum StoredPages {
    Arena(ArenaBlock),
    Heap(Box<[u8]>),
}

/// A template's pages, held by every sandbox forked from them: an on-demand
/// memory may map them (`ArenaBlock::map_over`), so they are freed only
/// after the last such sandbox (declared after its store, which unmaps the
/// memory when dropped).
pub(crate) struct TemplatePages(
    #[allow(dead_code)] // held for when it drops, never read
    Arc<StoredPages>,
);

/// The words of a template's pages that differ from the generic image:
/// `(offset in memory, length)` spans, their bytes back to back.
struct ChangedBytes {
    spans: Box<[(u32, u32)]>,
    bytes: Box<[u8]>,
}

/// Unchanged bytes up to this long between two changed words are kept in
/// one span: a span costs 8 bytes.
const SPAN_GAP: usize = 8;

/// The unit changes are kept in: a changed byte keeps its 8-byte word.
const WORD: usize = 8;

/// The blocks a page is compared in when its changed bytes are sought.
const BLOCK: usize = 64;

/// `image`'s `BLOCK` bytes at `at`, zeros past its end (an image is whole
/// wasm pages, so a block never straddles it).
fn original_block(image: &[u8], at: usize) -> &[u8] {
    const ZEROS: [u8; BLOCK] = [0; BLOCK];
    image.get(at..at + BLOCK).unwrap_or(&ZEROS)
}

impl ForkTemplate {
    /// Diffs `memory` (an instance of the generic snapshot after the script
    /// was loaded) against `image` (the generic snapshot's own memory).
    /// Memory grown past the image starts zeroed, so zero pages there are
    /// left out.
    pub(crate) fn capture(image: &[u8], memory: &[u8]) -> Self {
        let (runs, bytes) = Self::changed_pages(image, memory);
        tracing::debug!(target: "bext_lua", pages = bytes.len() / PAGE, runs = runs.len(), "fork template captured");
        ForkTemplate {
            memory_len: memory.len(),
            runs,
            stored: Mutex::new(Stored::Pages(Arc::new(StoredPages::store(bytes)))),
        }
    }

    /// [`capture`](Self::capture), compacted at once (a plugin that starts
    /// with no sandbox): the pages never reach the arena.
    pub(crate) fn capture_compacted(image: &[u8], memory: &[u8]) -> Self {
        let (runs, bytes) = Self::changed_pages(image, memory);
        let changed = ChangedBytes::between(image, &runs, &bytes);
        ForkTemplate {
            memory_len: memory.len(),
            runs,
            stored: Mutex::new(Stored::Bytes(changed)),
        }
    }

    /// The runs of pages of `memory` that differ from `image`, and those
    /// pages back to back.
    fn changed_pages(image: &[u8], memory: &[u8]) -> (Vec<Run>, Vec<u8>) {
        let mut runs: Vec<Run> = Vec::new();
        let mut bytes = Vec::new();
        for (index, page) in memory.chunks(PAGE).enumerate() {
            let changed = match image.get(index * PAGE..index * PAGE + page.len()) {
                Some(original) => original != page,
                None => page.iter().any(|&b| b != 0),
            };
            if !changed {
                continue;
            }
            match runs.last_mut() {
                Some(run) if run.first + run.pages == index => run.pages += 1,
                _ => runs.push(Run {
                    first: index,
                    pages: 1,
                    at: bytes.len(),
                }),
            }
            bytes.extend_from_slice(page);
            // Wasm memory is whole 64 KiB pages: a short last chunk cannot
            // happen, but a run must still cover whole host pages.
            bytes.resize(bytes.len().next_multiple_of(PAGE), 0);
        }
        (runs, bytes)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Stored> {
        // Every update of the state is complete before anything can panic.
        self.stored.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Bytes the template keeps: its pages, or its changed words and their
    /// spans once compacted.
    pub(crate) fn bytes(&self) -> usize {
        match &*self.lock() {
            Stored::Pages(_) => self.page_bytes(),
            Stored::Bytes(changed) => changed.bytes.len() + size_of_val(&*changed.spans),
        }
    }

    /// Bytes of the template's pages.
    fn page_bytes(&self) -> usize {
        self.runs.iter().map(|run| run.pages * PAGE).sum()
    }

    /// Keeps only the words that differ from `image` (the generic snapshot's
    /// memory, which the template was captured against); the pages are
    /// freed once no sandbox forked from them is left. Call when the
    /// plugin has no sandbox: a fork made after this puts the pages back
    /// together, in a new block.
    pub(crate) fn compact(&self, image: &[u8]) -> std::io::Result<()> {
        let mut stored = self.lock();
        let Stored::Pages(pages) = &*stored else {
            return Ok(());
        };
        let mut bytes = vec![0u8; self.page_bytes()];
        pages.read_into(&mut bytes, 0)?;
        let changed = ChangedBytes::between(image, &self.runs, &bytes);
        tracing::debug!(target: "bext_lua", pages = bytes.len() / PAGE, changed = changed.bytes.len(), spans = changed.spans.len(), "fork template compacted");
        *stored = Stored::Bytes(changed);
        Ok(())
    }

    /// The template's pages, put back together from `image` if it was
    /// compacted.
    fn pages(&self, image: &[u8]) -> Arc<StoredPages> {
        let mut stored = self.lock();
        let pages = match &*stored {
            Stored::Pages(pages) => return pages.clone(),
            Stored::Bytes(changed) => {
                Arc::new(StoredPages::store(changed.pages(image, &self.runs)))
            }
        };
        *stored = Stored::Pages(pages.clone());
        pages
    }

    /// Makes `memory` (a fresh instance of the generic snapshot, whose
    /// memory is `image`) equal to the template's memory. The pages returned
    /// must outlive the store.
    pub(crate) fn apply(
        &self,
        memory: Memory,
        store: &mut Store<HostState>,
        by: PagesBy,
        image: &[u8],
    ) -> wasmtime::Result<TemplatePages> {
        let pages = self.pages(image);
        let current = memory.data_size(&*store);
        if self.memory_len > current {
            let wasm_page = memory.page_size(&*store) as usize;
            memory.grow(
                &mut *store,
                ((self.memory_len - current) / wasm_page) as u64,
            )?;
        }
        let data = memory.data_mut(store);
        for run in &self.runs {
            let target = data
                .get_mut(run.first * PAGE..(run.first + run.pages) * PAGE)
                .ok_or_else(|| {
                    wasmtime::Error::msg("the fork template lies outside the instance's memory")
                })?;
            match &*pages {
                StoredPages::Heap(bytes) => {
                    target.copy_from_slice(&bytes[run.at..run.at + target.len()])
                }
                StoredPages::Arena(block) => {
                    if by == PagesBy::Copying || !block.map_over(target, run.at) {
                        block.read_into(target, run.at)?;
                    }
                }
            }
        }
        Ok(TemplatePages(pages))
    }
}

impl StoredPages {
    /// `bytes` (whole pages) in the process's arena, or on the heap where
    /// there is none.
    fn store(bytes: Vec<u8>) -> StoredPages {
        match TemplateArena::shared().and_then(|arena| arena.store(&bytes)) {
            Some(block) => StoredPages::Arena(block),
            None => StoredPages::Heap(bytes.into_boxed_slice()),
        }
    }

    /// Copies the stored bytes from `at` into `target`.
    fn read_into(&self, target: &mut [u8], at: usize) -> std::io::Result<()> {
        match self {
            StoredPages::Heap(bytes) => {
                target.copy_from_slice(&bytes[at..at + target.len()]);
                Ok(())
            }
            StoredPages::Arena(block) => block.read_into(target, at),
        }
    }
}

impl ChangedBytes {
    /// The 8-byte words of `pages` (laid out as `runs` say) that differ from
    /// `image` (zeros past its end), in spans.
    fn between(image: &[u8], runs: &[Run], pages: &[u8]) -> ChangedBytes {
        let (mut spans, mut bytes) = (Vec::<(u32, u32)>::new(), Vec::new());
        for run in runs {
            let start = run.first * PAGE;
            let stored = &pages[run.at..run.at + run.pages * PAGE];
            // Where this run's last span ends (spans stay within a run: runs
            // are apart by at least a page).
            let mut span_end: Option<usize> = None;
            for (block, chunk) in stored.chunks(BLOCK).enumerate() {
                let base = block * BLOCK;
                let original = original_block(image, start + base);
                if original == chunk {
                    continue; // most of a page is unchanged
                }
                let words = chunk.chunks_exact(WORD).zip(original.chunks_exact(WORD));
                for (w, (word, was)) in words.enumerate() {
                    if word == was {
                        continue;
                    }
                    let i = base + w * WORD;
                    match (span_end, spans.last_mut()) {
                        (Some(end), Some((_, len))) if i - end <= SPAN_GAP => {
                            bytes.extend_from_slice(&stored[end..i + WORD]);
                            *len += (i + WORD - end) as u32;
                        }
                        _ => {
                            spans.push(((start + i) as u32, WORD as u32));
                            bytes.extend_from_slice(word);
                        }
                    }
                    span_end = Some(i + WORD);
                }
            }
        }
        ChangedBytes {
            spans: spans.into_boxed_slice(),
            bytes: bytes.into_boxed_slice(),
        }
    }

    /// The template's pages (laid out as `runs` say) again: `image`'s pages
    /// (zeros past its end) with the changed bytes put in.
    fn pages(&self, image: &[u8], runs: &[Run]) -> Vec<u8> {
        let mut pages = vec![0u8; runs.iter().map(|run| run.pages * PAGE).sum()];
        for run in runs {
            let start = run.first * PAGE;
            let end = (start + run.pages * PAGE).min(image.len()).max(start);
            if let Some(original) = image.get(start..end) {
                pages[run.at..run.at + original.len()].copy_from_slice(original);
            }
        }
        let mut from = 0;
        for &(offset, len) in &self.spans {
            let (offset, len) = (offset as usize, len as usize);
            let run = runs
                .iter()
                .find(|run| (run.first * PAGE..(run.first + run.pages) * PAGE).contains(&offset))
                .expect("a changed byte lies in a changed page");
            let at = run.at + offset - run.first * PAGE;
            pages[at..at + len].copy_from_slice(&self.bytes[from..from + len]);
            from += len;
        }
        pages
    }
}

/// Bytes of fork templates held in the process's template arena (shared
/// memory, which a process's PSS counts only where and as often as it is
/// mapped): what every loaded plugin's template costs, once.
pub fn fork_template_arena_bytes() -> u64 {
    TemplateArena::shared().map_or(0, |arena| arena.lock().used)
}

/// One memfd for the templates of every runtime of the process. Written by
/// hand over rustix: no crate offers an allocator over a file's ranges, and
/// one file (not one per template) keeps a process with 100,000 plugins at
/// one descriptor.
struct TemplateArena {
    file: File,
    space: Mutex<ArenaSpace>,
}

#[derive(Default)]
struct ArenaSpace {
    /// The file's length.
    end: u64,
    /// Free ranges (offset → length), coalesced; their pages are punched out.
    free: BTreeMap<u64, u64>,
    /// Bytes held by live blocks.
    used: u64,
}

/// A template's range of the arena, returned to it on drop.
struct ArenaBlock {
    arena: Arc<TemplateArena>,
    offset: u64,
    len: u64,
}

impl TemplateArena {
    /// The process's arena, or `None` where a memfd cannot be made.
    fn shared() -> Option<&'static Arc<TemplateArena>> {
        static ARENA: OnceLock<Option<Arc<TemplateArena>>> = OnceLock::new();
        ARENA.get_or_init(Self::new).as_ref()
    }

    #[cfg(target_os = "linux")]
    fn new() -> Option<Arc<TemplateArena>> {
        let fd = rustix::fs::memfd_create("bext-lua-fork-templates", rustix::fs::MemfdFlags::CLOEXEC)
            .inspect_err(|e| tracing::warn!(target: "bext_lua", "no memfd for fork templates ({e}): templates are copied from the heap"))
            .ok()?;
        Some(Arc::new(TemplateArena {
            file: File::from(fd),
            space: Mutex::default(),
        }))
    }

    #[cfg(not(target_os = "linux"))]
    fn new() -> Option<Arc<TemplateArena>> {
        None
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ArenaSpace> {
        // Every update of the space is complete before anything can panic.
        self.space.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Copies `bytes` (whole pages) into a new block, or `None` if the file
    /// cannot hold them.
    fn store(self: &Arc<Self>, bytes: &[u8]) -> Option<ArenaBlock> {
        let len = bytes.len() as u64;
        let offset = {
            let mut space = self.lock();
            let fit = space
                .free
                .iter()
                .find(|(_, free)| **free >= len)
                .map(|(at, free)| (*at, *free));
            let offset = match fit {
                Some((at, free)) => {
                    space.free.remove(&at);
                    if free > len {
                        space.free.insert(at + len, free - len);
                    }
                    at
                }
                None => {
                    let at = space.end;
                    if let Err(e) = rustix::fs::ftruncate(&self.file, at + len) {
                        tracing::warn!(target: "bext_lua", "growing the fork template arena failed ({e}): this template stays on the heap");
                        return None;
                    }
                    space.end = at + len;
                    at
                }
            };
            space.used += len;
            offset
        };
        let block = ArenaBlock {
            arena: self.clone(),
            offset,
            len,
        };
        match self.file.write_all_at(bytes, offset) {
            Ok(()) => Some(block),
            Err(e) => {
                tracing::warn!(target: "bext_lua", "writing a fork template to its arena failed ({e}): it stays on the heap");
                None // `block` drops here and frees its range
            }
        }
    }
}

impl ArenaBlock {
    /// Maps this block's bytes from `at` copy-on-write over `target`, a
    /// range of whole pages of a live instance's memory. False (nothing
    /// changed) if the range is not page-aligned or the kernel refuses the
    /// mapping (e.g. at the process's limit of mappings): copy instead.
    fn map_over(&self, target: &mut [u8], at: usize) -> bool {
        let aligned = rustix::param::page_size() == PAGE
            && target.as_ptr().addr().is_multiple_of(PAGE)
            && target.len().is_multiple_of(PAGE);
        if !aligned || at as u64 + target.len() as u64 > self.len {
            return false;
        }
        // SAFETY: `target` is exclusively borrowed, page-aligned memory of a
        // wasmtime linear memory allocated on demand: an mmap that wasmtime
        // unmaps as a whole when the instance is dropped (see the module's
        // docs for why this is not done with the pooling allocator). The
        // private mapping replaces those pages with the same bytes a copy
        // would have written, readable and writable like the rest of the
        // memory. The block outlives every sandbox forked from it (each
        // holds it, `TemplatePages`, past its store): freeing it punches its
        // pages out of the file, and a mapping's unwritten pages would then
        // read zeros.
        let mapped = unsafe {
            rustix::mm::mmap(
                target.as_mut_ptr().cast(),
                target.len(),
                rustix::mm::ProtFlags::READ | rustix::mm::ProtFlags::WRITE,
                rustix::mm::MapFlags::PRIVATE | rustix::mm::MapFlags::FIXED,
                &self.arena.file,
                self.offset + at as u64,
            )
        };
        match mapped {
            Ok(address) if address == target.as_mut_ptr().cast() => true,
            Ok(_) => unreachable!("MAP_FIXED maps at the address given"),
            Err(_) => false,
        }
    }

    /// Copies this block's bytes from `at` into `target`.
    fn read_into(&self, target: &mut [u8], at: usize) -> std::io::Result<()> {
        self.arena
            .file
            .read_exact_at(target, self.offset + at as u64)
    }
}

impl Drop for ArenaBlock {
    fn drop(&mut self) {
        if self.len == 0 {
            return;
        }
        // Gives the pages back to the kernel. No sandbox maps them any more
        // (see `map_over`).
        #[cfg(target_os = "linux")]
        {
            let flags =
                rustix::fs::FallocateFlags::PUNCH_HOLE | rustix::fs::FallocateFlags::KEEP_SIZE;
            if let Err(e) = rustix::fs::fallocate(&self.arena.file, flags, self.offset, self.len) {
                tracing::warn!(target: "bext_lua", "freeing a fork template's pages failed ({e})");
            }
        }
        let mut space = self.arena.lock();
        space.used -= self.len;
        let (mut offset, mut len) = (self.offset, self.len);
        // Coalesce with the free ranges on either side.
        if let Some((&before, &before_len)) = space.free.range(..offset).next_back()
            && before + before_len == offset
        {
            space.free.remove(&before);
            offset = before;
            len += before_len;
        }
        if let Some(after_len) = space.free.remove(&(offset + len)) {
            len += after_len;
        }
        space.free.insert(offset, len);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capture_keeps_only_changed_and_new_pages_in_runs() {
        let image = vec![0u8; 4 * PAGE];
        let mut memory = vec![0u8; 6 * PAGE];
        memory[PAGE + 7] = 1; // pages 1 and 2 changed: one run
        memory[2 * PAGE] = 3;
        memory[5 * PAGE] = 2; // page 5 is beyond the image
        let template = ForkTemplate::capture(&image, &memory);
        assert_eq!(
            template.runs,
            [
                Run {
                    first: 1,
                    pages: 2,
                    at: 0
                },
                Run {
                    first: 5,
                    pages: 1,
                    at: 2 * PAGE
                }
            ],
            "zero pages beyond the image stay out"
        );
        assert_eq!(template.bytes(), 3 * PAGE);
    }

    /// A module with one memory whose first page is an image of 0x11 bytes.
    fn module_with_an_image(engine: &wasmtime::Engine) -> wasmtime::Module {
        let mut wasm = b"\0asm\x01\0\0\0".to_vec();
        wasm.extend([5, 3, 1, 0, 1]); // memory section: one memory of 1 wasm page
        wasm.extend([7, 10, 1, 6]); // export section: "memory", memory 0
        wasm.extend(b"memory");
        wasm.extend([2, 0]);
        // data section: one active segment at 0, 4096 bytes
        wasm.extend([11, 0x87, 0x20, 1, 0, 0x41, 0, 0x0b, 0x80, 0x20]);
        wasm.extend([0x11; PAGE]);
        wasmtime::Module::new(engine, &wasm).unwrap()
    }

    /// A store of `config`'s engine holding an instance of
    /// [`module_with_an_image`], its memory, and that memory's bytes.
    fn instance_with_an_image(
        config: &crate::LuaRuntimeConfig,
    ) -> (Store<HostState>, Memory, Vec<u8>) {
        let engine = wasmtime::Engine::new(&crate::engine::engine_config(config)).unwrap();
        let module = module_with_an_image(&engine);
        let mut store = Store::new(&engine, HostState::internal());
        let instance = wasmtime::Instance::new(&mut store, &module, &[]).unwrap();
        let memory = instance.get_memory(&mut store, "memory").unwrap();
        let image = memory.data(&store).to_vec();
        (store, memory, image)
    }

    /// Forks the template into an instance, drops it, and returns the memory
    /// the next instance of the module starts with (with the pooling
    /// allocator, in the same slot).
    fn memory_after_a_fork(config: crate::LuaRuntimeConfig) -> (Vec<u8>, Vec<u8>) {
        let engine = wasmtime::Engine::new(&crate::engine::engine_config(&config)).unwrap();
        let module = module_with_an_image(&engine);
        let instance_memory = |store: &mut Store<HostState>| {
            let instance = wasmtime::Instance::new(&mut *store, &module, &[]).unwrap();
            instance.get_memory(&mut *store, "memory").unwrap()
        };
        let mut store = Store::new(&engine, HostState::internal());
        let memory = instance_memory(&mut store);
        let image = memory.data(&store).to_vec();
        let mut loaded = image.clone();
        loaded[..PAGE].fill(0x22);
        loaded[3 * PAGE..4 * PAGE].fill(0x33);
        let template = ForkTemplate::capture(&image, &loaded);
        let pages = template
            .apply(memory, &mut store, PagesBy::for_config(&config), &image)
            .unwrap();
        assert!(
            memory.data(&store) == loaded.as_slice(),
            "the fork holds the template's memory"
        );
        drop(store);
        drop(pages);
        let mut next = Store::new(&engine, HostState::internal());
        let memory = instance_memory(&mut next);
        (image, memory.data(&next).to_vec())
    }

    #[test]
    fn the_next_instance_never_sees_a_forks_template() {
        let on_demand = crate::LuaRuntimeConfig::default();
        let pooled = |keep_resident| {
            let limits = crate::PoolingLimits::default()
                .max_instances(1)
                .keep_resident_bytes(keep_resident);
            crate::LuaRuntimeConfig::default().pooling(limits)
        };
        // Kept resident, a slot is reset by copying the image back; else its
        // private pages are discarded, which over a mapping of the template
        // would bring the template's pages back.
        for config in [on_demand, pooled(0), pooled(1 << 20)] {
            let (image, next) = memory_after_a_fork(config.clone());
            assert!(
                next == image,
                "{:?}: the next instance starts from the image",
                PagesBy::for_config(&config)
            );
        }
    }

    /// The mappings of `block`'s range of the arena in this process, as
    /// `(start, end)` addresses, from `/proc/self/maps` (a mapping's offset
    /// is in the file, so another test's templates never match).
    fn mappings_of(block: &ArenaBlock) -> Vec<(usize, usize)> {
        let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
        maps.lines()
            .filter(|line| line.contains("memfd:bext-lua-fork-templates"))
            .filter_map(|line| {
                let mut fields = line.split_whitespace();
                let (start, end) = fields.next()?.split_once('-')?;
                let offset = u64::from_str_radix(fields.nth(1)?, 16).ok()?;
                let (start, end) = (
                    usize::from_str_radix(start, 16).ok()?,
                    usize::from_str_radix(end, 16).ok()?,
                );
                let overlaps = offset < block.offset + block.len
                    && offset + (end - start) as u64 > block.offset;
                overlaps.then_some((start, end))
            })
            .collect()
    }

    /// What the fork's mapping relies on (`ArenaBlock::map_over`), checked
    /// against the wasmtime in use: an instance's memory allocated on
    /// demand is page-aligned, so the template is mapped, not copied, and
    /// it is one mapping that wasmtime unmaps whole when the store drops,
    /// taking the template's mapping with it. Should wasmtime start keeping
    /// or reusing on-demand memories (a cache, a slab), the mapping would
    /// outlive its sandbox and this test fails; the supported route is then
    /// `Config::with_host_memory` (benches/RESULTS.md has its measured
    /// cost).
    #[test]
    fn an_on_demand_memory_unmaps_the_forks_mapping_with_it() {
        let config = crate::LuaRuntimeConfig::default();
        assert_eq!(PagesBy::for_config(&config), PagesBy::Mapping);
        let (mut store, memory, image) = instance_with_an_image(&config);
        let mut loaded = image.clone();
        loaded[PAGE..3 * PAGE].fill(0x44);
        let template = ForkTemplate::capture(&image, &loaded);
        let pages = template.pages(&image);
        let StoredPages::Arena(block) = &*pages else {
            panic!("Linux has memfds: the template is in the arena")
        };
        let _fork_pages = template
            .apply(memory, &mut store, PagesBy::Mapping, &image)
            .unwrap();
        let base = memory.data_ptr(&store).addr();
        let (low, high) = (base, base + memory.data_size(&store));
        let mapped = mappings_of(block);
        assert!(
            mapped
                .iter()
                .any(|&(start, end)| start >= low && end <= high),
            "the template is mapped inside the instance's memory [{low:#x}, {high:#x}): {mapped:x?}"
        );
        drop(store);
        assert_eq!(
            mappings_of(block),
            vec![],
            "dropping the store unmapped the fork's pages"
        );
    }

    /// A memory of five pages over a two-page image: bytes changed here and
    /// there (one alone, a cluster with small gaps, a whole page), and a
    /// page past the image.
    fn scattered_changes() -> (Vec<u8>, Vec<u8>) {
        let image: Vec<u8> = (0..2 * PAGE).map(|i| (i % 251) as u8).collect();
        let mut memory = image.clone();
        memory.resize(5 * PAGE, 0);
        memory[10] ^= 0xff;
        for i in [PAGE + 100, PAGE + 103, PAGE + 112, PAGE + 140] {
            memory[i] ^= 0x5a;
        }
        memory[PAGE - 1] ^= 1; // the last byte of page 0 and the first of page 1
        memory[PAGE] ^= 1;
        memory[3 * PAGE..4 * PAGE].fill(7);
        memory[5 * PAGE - 1] = 9;
        (image, memory)
    }

    #[test]
    fn changed_bytes_put_the_pages_back_together() {
        let (image, memory) = scattered_changes();
        let template = ForkTemplate::capture(&image, &memory);
        let mut pages = vec![0u8; template.page_bytes()];
        template.pages(&image).read_into(&mut pages, 0).unwrap();
        let changed = ChangedBytes::between(&image, &template.runs, &pages);
        let page = PAGE as u32;
        assert_eq!(
            changed.spans.as_ref(),
            [
                (8, 8),            // byte 10's word
                (page - 8, 16),    // two words on either side of a page's end
                (page + 96, 24),   // a gap of one word is kept in the span
                (page + 136, 8),   // a gap of two words starts another
                (3 * page, page),  // a whole page (past the image: over zeros)
                (5 * page - 8, 8), // in the same run, a page later
            ]
        );
        assert_eq!(changed.pages(&image, &template.runs), pages);
        let compacted = ForkTemplate::capture_compacted(&image, &memory);
        assert_eq!(
            compacted.bytes(),
            changed.bytes.len() + changed.spans.len() * 8
        );
        let mut rebuilt = vec![0u8; compacted.page_bytes()];
        compacted.pages(&image).read_into(&mut rebuilt, 0).unwrap();
        assert_eq!(
            rebuilt, pages,
            "captured compacted, the same pages come back"
        );
    }

    /// A template compacted, then forked with either allocator, gives the
    /// memory it was captured from; compacting keeps the changed bytes only.
    #[test]
    fn a_compacted_template_forks_the_memory_it_was_captured_from() {
        let on_demand = crate::LuaRuntimeConfig::default();
        let pooled = crate::LuaRuntimeConfig::default()
            .pooling(crate::PoolingLimits::default().max_instances(2));
        for config in [on_demand, pooled] {
            let (mut store, memory, image) = instance_with_an_image(&config);
            let mut loaded = image.clone();
            loaded[5] = 0;
            loaded[9 * PAGE + 17] = 0x99;
            let template = ForkTemplate::capture(&image, &loaded);
            assert_eq!(template.bytes(), 2 * PAGE);
            template.compact(&image).unwrap();
            assert_eq!(template.bytes(), 2 * 8 + 2 * 8, "two words in two spans");
            let _pages = template
                .apply(memory, &mut store, PagesBy::for_config(&config), &image)
                .unwrap();
            assert!(memory.data(&store) == loaded.as_slice());
            assert_eq!(
                template.bytes(),
                2 * PAGE,
                "the fork brought the pages back"
            );
        }
    }

    /// Compacting a template while a fork maps its pages leaves them in
    /// place: a template stored after it cannot take their range.
    #[test]
    fn compacting_never_takes_pages_from_under_a_fork() {
        let config = crate::LuaRuntimeConfig::default();
        let (mut store, memory, image) = instance_with_an_image(&config);
        let mut loaded = image.clone();
        loaded[2 * PAGE..4 * PAGE].fill(0x55);
        let template = ForkTemplate::capture(&image, &loaded);
        let pages = template
            .apply(memory, &mut store, PagesBy::Mapping, &image)
            .unwrap();
        template.compact(&image).unwrap();
        // Other templates come and go in the arena meanwhile.
        let mut others = Vec::new();
        for fill in 1..=4u8 {
            let mut other = image.clone();
            other[..4 * PAGE].fill(fill);
            others.push(ForkTemplate::capture(&image, &other));
            others.push(ForkTemplate::capture(&image, &other)); // and freed
            others.pop();
        }
        assert!(
            memory.data(&store) == loaded.as_slice(),
            "the fork still reads its template's pages"
        );
        drop(store);
        drop(pages);
    }

    #[test]
    fn the_arena_reuses_freed_ranges_and_coalesces_them() {
        // An arena of its own: other tests' templates would take the freed range.
        let arena = TemplateArena::new().expect("a memfd on Linux");
        let page = |b: u8| vec![b; PAGE];
        let a = arena.store(&page(1)).unwrap();
        let b = arena.store(&[page(2), page(2)].concat()).unwrap();
        let c = arena.store(&page(3)).unwrap();
        let (a_at, b_at) = (a.offset, b.offset);
        drop(a);
        drop(b);
        // a's and b's ranges coalesced: three pages fit where they were.
        let d = arena.store(&[page(4), page(4), page(4)].concat()).unwrap();
        assert_eq!(d.offset, a_at.min(b_at));
        let mut read = vec![0u8; PAGE];
        c.read_into(&mut read, 0).unwrap();
        assert_eq!(read, page(3), "a neighbour's pages are untouched");
        d.read_into(&mut read, 2 * PAGE).unwrap();
        assert_eq!(read, page(4));
    }
}
