//! The fork template (once per plugin load): the script is loaded into one
//! instance of the generic snapshot (`snapshot.rs`), and the 4 KiB pages
//! that differ from the snapshot's memory are kept (a few dozen KiB for a
//! typical plugin). A new sandbox for the plugin ([`ColdStart::Fork`]) is an
//! instance of the generic snapshot with those pages copied in: no parsing,
//! no running of the script's top level. Every instance made this way is
//! then reseeded (`bext_reseed`): a fresh `math.random` state and `os.clock`
//! origin.
//!
//! [`ColdStart::Fork`]: crate::ColdStart::Fork

use crate::state::HostState;
use wasmtime::{Memory, Store};

/// Page granularity of fork templates.
const PAGE: usize = 4096;

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
