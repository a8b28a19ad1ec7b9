//! Engine-wide settings, fixed when the runtime is created: [`LuaRuntimeConfig`]
//! and the pooling allocator's slots ([`PoolingLimits`]).

use crate::config::plugin::SharedBackend;
use crate::metrics::{MetricsSink, TracingMetrics};
use std::path::PathBuf;
use std::sync::Arc;

/// Pre-reserved instance slots (wasmtime's pooling allocator): sandboxes are
/// created and dropped without mapping or unmapping memory, which makes a
/// new sandbox several times cheaper. Sized up front; when every slot is in
/// use, creating a sandbox fails with [`Error::CapacityExhausted`](crate::Error::CapacityExhausted).
/// `max_instances` must be from 1 to `u32::MAX / 2` and `max_heap_bytes`
/// from 1 to 4 GiB ([`Error::InvalidConfig`](crate::Error::InvalidConfig)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct PoolingLimits {
    /// Live sandboxes across all plugins of the runtime. Each reserves
    /// address space (not memory) for two memories: its heap and the GC heap
    /// that holds Lua errors in flight. Default: 1000.
    pub max_instances: u32,
    /// Largest `max_heap_bytes` a plugin may ask for. Default: 64 MiB.
    pub max_heap_bytes: usize,
    /// Bytes of each freed slot's memory kept mapped and merely cleared for
    /// the next sandbox, instead of returned to the OS: it should cover the
    /// guest's stack, static data and a typical heap. Default: 1 MiB.
    pub keep_resident_bytes: usize,
}

impl Default for PoolingLimits {
    fn default() -> Self {
        PoolingLimits {
            max_instances: 1000,
            max_heap_bytes: 64 << 20,
            keep_resident_bytes: 1 << 20,
        }
    }
}

impl PoolingLimits {
    /// Sets [`max_instances`](Self::max_instances).
    pub fn max_instances(mut self, n: u32) -> Self {
        self.max_instances = n;
        self
    }

    /// Sets [`max_heap_bytes`](Self::max_heap_bytes).
    pub fn max_heap_bytes(mut self, bytes: usize) -> Self {
        self.max_heap_bytes = bytes;
        self
    }

    /// Sets [`keep_resident_bytes`](Self::keep_resident_bytes).
    pub fn keep_resident_bytes(mut self, bytes: usize) -> Self {
        self.keep_resident_bytes = bytes;
        self
    }
}

/// Engine-wide settings, fixed when the runtime is created.
#[derive(Clone)]
#[non_exhaustive]
pub struct LuaRuntimeConfig {
    /// Count wasm fuel so each call gets a deterministic budget
    /// ([`LuaSandboxLimits::fuel_per_call`](crate::LuaSandboxLimits::fuel_per_call)). Costs about 15-25% on CPU-bound
    /// code. Default: `true`.
    pub fuel_metering: bool,
    /// Interrupt calls at their wall-clock deadline
    /// ([`LuaSandboxLimits::timeout_ms`](crate::LuaSandboxLimits::timeout_ms)) with epoch interruption; one ticker
    /// thread per runtime. Costs about 10%. Default: `true`.
    pub epoch_deadlines: bool,
    /// Epoch tick in milliseconds: the granularity of deadlines. Default: 1.
    /// At least 1 (with `epoch_deadlines`).
    pub epoch_tick_ms: u64,
    /// Largest wasm call stack in bytes (host-side native stack used by wasm
    /// frames). Default: 512 KiB, above what Lua's own C-stack limit reaches.
    /// At most [`MAX_WASM_STACK_BYTES`](crate::MAX_WASM_STACK_BYTES): it must
    /// fit the stack of every thread that calls plugins.
    pub max_wasm_stack_bytes: usize,
    /// Where `bext.emit_metric` goes. Default: [`TracingMetrics`].
    pub metrics: Arc<dyn MetricsSink>,
    /// A directory for the compiled guest, so later processes start without
    /// compiling (about 0.6 s in an optimised build, far more in a debug
    /// build). It must be writable only by the server's own user: loading a
    /// compiled artifact runs its code (on Unix the runtime creates it with
    /// mode 0700 and refuses files in a folder others may write to). Files
    /// are written atomically; damaged or stale ones are ignored and
    /// rebuilt. The cached snapshot fixes Lua's string-hash seed for every
    /// process using the file; delete the file to rotate it. Default
    /// (`LuaRuntimeConfig::default()`): none, compile once per process;
    /// [`LuaPluginRuntime::new`](crate::LuaPluginRuntime::new) and
    /// [`user_artifact_cache`](Self::user_artifact_cache) use
    /// [`default_artifact_cache_dir`](crate::default_artifact_cache_dir).
    pub artifact_cache_dir: Option<std::path::PathBuf>,
    /// Pre-reserved instance slots for fast sandbox creation. Default: none
    /// (each sandbox maps its own memory), which keeps the runtime's
    /// footprint proportional to what it uses.
    pub pooling: Option<PoolingLimits>,
    /// Where the plugins' `bext.shared` dictionaries live, unless a plugin
    /// chooses ([`LuaPluginConfig::shared_backend`](crate::LuaPluginConfig::shared_backend)). Default:
    /// [`SharedBackend::Local`].
    pub shared_backend: SharedBackend,
}

impl Default for LuaRuntimeConfig {
    fn default() -> Self {
        LuaRuntimeConfig {
            fuel_metering: true,
            epoch_deadlines: true,
            epoch_tick_ms: 1,
            max_wasm_stack_bytes: 512 << 10,
            metrics: Arc::new(TracingMetrics),
            artifact_cache_dir: None,
            pooling: None,
            shared_backend: SharedBackend::Local,
        }
    }
}

impl std::fmt::Debug for LuaRuntimeConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LuaRuntimeConfig")
            .field("fuel_metering", &self.fuel_metering)
            .field("epoch_deadlines", &self.epoch_deadlines)
            .field("epoch_tick_ms", &self.epoch_tick_ms)
            .field("max_wasm_stack_bytes", &self.max_wasm_stack_bytes)
            .field("artifact_cache_dir", &self.artifact_cache_dir)
            .field("pooling", &self.pooling)
            .field("shared_backend", &self.shared_backend)
            .finish_non_exhaustive()
    }
}

impl LuaRuntimeConfig {
    /// Sets [`fuel_metering`](Self::fuel_metering).
    pub fn fuel_metering(mut self, on: bool) -> Self {
        self.fuel_metering = on;
        self
    }

    /// Sets [`epoch_deadlines`](Self::epoch_deadlines).
    pub fn epoch_deadlines(mut self, on: bool) -> Self {
        self.epoch_deadlines = on;
        self
    }

    /// Sets [`pooling`](Self::pooling).
    pub fn pooling(mut self, limits: PoolingLimits) -> Self {
        self.pooling = Some(limits);
        self
    }

    /// Sets [`artifact_cache_dir`](Self::artifact_cache_dir).
    pub fn artifact_cache_dir(mut self, dir: impl Into<std::path::PathBuf>) -> Self {
        self.artifact_cache_dir = Some(dir.into());
        self
    }

    /// Keeps compiled guests in the per-user cache folder,
    /// [`default_artifact_cache_dir`](crate::default_artifact_cache_dir)
    /// (read from the environment now; none if it resolves to none).
    pub fn user_artifact_cache(mut self) -> Self {
        self.artifact_cache_dir = default_artifact_cache_dir();
        self
    }

    /// No on-disk cache: the guest is compiled once per process.
    pub fn no_artifact_cache(mut self) -> Self {
        self.artifact_cache_dir = None;
        self
    }

    /// Sets [`metrics`](Self::metrics).
    pub fn metrics(mut self, sink: Arc<dyn MetricsSink>) -> Self {
        self.metrics = sink;
        self
    }

    /// Sets [`shared_backend`](Self::shared_backend).
    pub fn shared_backend(mut self, backend: SharedBackend) -> Self {
        self.shared_backend = backend;
        self
    }
}

/// The environment variable that overrides [`default_artifact_cache_dir`]:
/// a folder, or `off` (or empty) for no on-disk cache.
pub const ARTIFACT_CACHE_ENV: &str = "BEXT_LUA_WASM_CACHE_DIR";

/// The name of this crate's folder inside the per-user cache folder.
const CACHE_SUBDIR: &str = "bext-plugin-lua-wasm";

/// The per-user folder compiled guests are kept in by default
/// ([`LuaPluginRuntime::new`](crate::LuaPluginRuntime::new) and
/// [`LuaRuntimeConfig::user_artifact_cache`](crate::LuaRuntimeConfig::user_artifact_cache)),
/// read from the environment when called:
///
/// 1. `$BEXT_LUA_WASM_CACHE_DIR` if set: that folder, or no cache when it is
///    `off` or empty;
/// 2. else `$XDG_CACHE_HOME/bext-plugin-lua-wasm`;
/// 3. else `$HOME/.cache/bext-plugin-lua-wasm` (`%LOCALAPPDATA%\bext-plugin-lua-wasm`
///    on Windows);
/// 4. else `None` (no on-disk cache; the guest is compiled once per process).
pub fn default_artifact_cache_dir() -> Option<PathBuf> {
    let var = |name: &str| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    if let Some(value) = std::env::var_os(ARTIFACT_CACHE_ENV) {
        return (!value.is_empty() && value != "off").then(|| PathBuf::from(value));
    }
    let base = if cfg!(windows) {
        var("LOCALAPPDATA")
    } else {
        var("XDG_CACHE_HOME").or_else(|| var("HOME").map(|home| home.join(".cache")))
    };
    base.map(|base| base.join(CACHE_SUBDIR))
}
