//! Trap carriers: the error types a guest entry stops with when the host,
//! not wasm, ends it. Each is raised here as a `wasmtime::Error` and
//! recognised again by its type (`downcast_ref`) when the sandbox classifies
//! what stopped a call (`sandbox/classify.rs`), never by its text.

/// The guest broke the ABI: out-of-bounds pointers, unknown codes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AbiViolation(pub(crate) String);

impl std::fmt::Display for AbiViolation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for AbiViolation {}

/// A call's output (a result or an error message) is longer than the
/// payload limit; it was left in the guest, the sandbox stays usable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OutputTooLarge {
    pub(crate) bytes: usize,
}

impl std::fmt::Display for OutputTooLarge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "an output of {} bytes", self.bytes)
    }
}

impl std::error::Error for OutputTooLarge {}

/// The guest could not allocate an input buffer (its heap is at the limit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct GuestOutOfMemory {
    pub(crate) requested: usize,
}

impl std::fmt::Display for GuestOutOfMemory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the guest heap is exhausted (requested {} bytes)",
            self.requested
        )
    }
}

impl std::error::Error for GuestOutOfMemory {}
/// The trap `bext.heap_exhausted` raises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct HeapExhausted {
    pub(crate) requested: u32,
}

impl std::fmt::Display for HeapExhausted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "heap exhausted allocating {} bytes", self.requested)
    }
}

impl std::error::Error for HeapExhausted {}

/// The trap a host function that panicked raises instead of unwinding
/// through the guest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HostFunctionPanicked {
    /// The import, as `bext.metric`.
    pub(crate) import: &'static str,
    /// The panic's message, when it has one.
    pub(crate) message: String,
}

impl std::fmt::Display for HostFunctionPanicked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "host function {} panicked: {}",
            self.import, self.message
        )
    }
}

impl std::error::Error for HostFunctionPanicked {}

impl HostFunctionPanicked {
    /// The error for a panic payload caught at `import`.
    pub(crate) fn new(import: &'static str, payload: &(dyn std::any::Any + Send)) -> Self {
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "(a panic without a message)".into());
        HostFunctionPanicked { import, message }
    }
}
