//! The store's state: what each wasmtime `Store` of a sandbox carries
//! ([`HostState`]): WASI with nothing granted, the heap cap, who the
//! instance belongs to, its guest memory and the running call's deadline.

use crate::metrics::MetricsSink;
use crate::shared::op::SharedStore;
use std::sync::Arc;
use std::time::Instant;
use wasmtime::{Memory, ResourceLimiter};
use wasmtime_wasi::p1::WasiP1Ctx;

/// Per-instance host state, the data of each wasmtime `Store`.
pub(crate) struct HostState {
    pub(crate) wasi: WasiP1Ctx,
    pub(crate) limiter: HeapLimiter,
    pub(crate) plugin: Arc<PluginServices>,
    /// Set once the instance is created; host functions read guest memory through it.
    pub(crate) memory: Option<Memory>,
    /// When the running call's wall-clock budget ends (set when budgets are
    /// armed): host calls that wait on the network stop there.
    pub(crate) call_deadline: Option<Instant>,
    /// A `bext.shared` reply too large for the shim's buffer, until
    /// `shared_take` copies it.
    pub(crate) shared_pending: Vec<u8>,
}

impl HostState {
    /// State for a new instance: WASI with nothing granted (no args, env or
    /// preopens; stdio discarded) and the heap capped at `max_heap_bytes`.
    pub(crate) fn new(plugin: Arc<PluginServices>, max_heap_bytes: usize) -> Self {
        HostState {
            wasi: wasmtime_wasi::WasiCtxBuilder::new().build_p1(),
            limiter: HeapLimiter {
                max_bytes: max_heap_bytes,
            },
            plugin,
            memory: None,
            call_deadline: None,
            shared_pending: Vec::new(),
        }
    }

    /// State for the runtime's own instances (snapshotting, reading the image).
    pub(crate) fn internal() -> Self {
        let services = PluginServices {
            name: "bext-lua-runtime".into(),
            metrics: Arc::new(crate::metrics::TracingMetrics),
            shared: None,
        };
        HostState::new(Arc::new(services), 64 << 20)
    }
}

/// What the host provides the instances of one plugin: the name their
/// logs, metrics and events carry, the metrics sink, and the `bext.shared`
/// store.
pub(crate) struct PluginServices {
    pub(crate) name: String,
    pub(crate) metrics: Arc<dyn MetricsSink>,
    /// Where `bext.shared` goes (`None` for the runtime's own instances).
    pub(crate) shared: Option<Arc<dyn SharedStore>>,
}

/// Caps the linear memory at `max_heap_bytes`. Growth past the cap fails
/// (the guest's `malloc` returns NULL and Lua runs its emergency GC); the
/// guest allocator then reports real exhaustion through `heap_exhausted`.
pub(crate) struct HeapLimiter {
    pub(crate) max_bytes: usize,
}

impl ResourceLimiter for HeapLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= self.max_bytes)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        // The guest's only table holds its function pointers and never grows.
        Ok(desired <= 4096)
    }
}
