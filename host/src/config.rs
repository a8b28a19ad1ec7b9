//! What users hand the runtime: engine-wide settings ([`LuaRuntimeConfig`])
//! and one plugin's description ([`LuaPluginConfig`]).

use crate::limits::LuaSandboxLimits;
use crate::metrics::{MetricsSink, TracingMetrics};
use crate::pool::PoolConfig;
use bext_plugin_api::types::PluginManifest;
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
    /// ([`LuaSandboxLimits::fuel_per_call`]). Costs about 15-25% on CPU-bound
    /// code. Default: `true`.
    pub fuel_metering: bool,
    /// Interrupt calls at their wall-clock deadline
    /// ([`LuaSandboxLimits::timeout_ms`]) with epoch interruption; one ticker
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
    /// chooses ([`LuaPluginConfig::shared_backend`]). Default:
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
        self.artifact_cache_dir = crate::artifact_cache::default_artifact_cache_dir();
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

/// Where a plugin's `bext.shared` dictionary lives. Either way each plugin
/// has its own namespace, which no other plugin can reach.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub enum SharedBackend {
    /// In this process: one dictionary per plugin name, shared by the
    /// plugin's sandboxes, bounded by
    /// [`LuaSandboxLimits::shared_dict_bytes`].
    #[default]
    Local,
    /// In Redis (cargo feature `redis`): shared by every runtime, on any
    /// node, that uses the same server and key prefix.
    #[cfg(feature = "redis")]
    Redis(crate::shared_redis::RedisShared),
}

/// How a plugin's new sandboxes start (see the crate docs on cold start).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum ColdStart {
    /// Copy the pages the script's load changed, captured once at load, into
    /// an instance of the generic snapshot: nothing is parsed or run again.
    #[default]
    Fork,
    /// Parse and run the script in each new instance of the generic snapshot.
    Source,
}

/// One plugin: its name, manifest, Lua source, config section and limits.
#[derive(Debug, Clone)]
pub struct LuaPluginConfig {
    pub(crate) name: String,
    pub(crate) manifest: PluginManifest,
    pub(crate) source: Arc<str>,
    pub(crate) config_json: String,
    pub(crate) limits: LuaSandboxLimits,
    pub(crate) pool: PoolConfig,
    pub(crate) cold_start: ColdStart,
    pub(crate) shared_backend: Option<SharedBackend>,
    pub(crate) allow_removing_methods: bool,
}

impl LuaPluginConfig {
    /// A plugin named after its manifest (`manifest.name`, the one source
    /// of the name) running `source`, a script that evaluates to a table of
    /// methods.
    pub fn from_manifest(manifest: PluginManifest, source: impl Into<Arc<str>>) -> Self {
        Self::new(manifest.name.clone(), manifest, source)
    }

    /// A plugin named `name` (the name the registry, the server and errors
    /// use, which may differ from `manifest.name`, e.g. one manifest loaded
    /// per tenant under several names) running `source`, a script that
    /// evaluates to a table of methods. When the names are the same, use
    /// [`from_manifest`](Self::from_manifest).
    pub fn new(
        name: impl Into<String>,
        manifest: PluginManifest,
        source: impl Into<Arc<str>>,
    ) -> Self {
        LuaPluginConfig {
            name: name.into(),
            manifest,
            source: source.into(),
            config_json: "{}".into(),
            limits: LuaSandboxLimits::default(),
            pool: PoolConfig::default(),
            cold_start: ColdStart::default(),
            shared_backend: None,
            allow_removing_methods: false,
        }
    }

    /// Whether a hot reload may replace a running version that defines
    /// methods this script does not (calls to them then fail with
    /// [`Error::MissingMethod`](crate::Error::MissingMethod) or fall back to
    /// the trait's default). Default: `false`, the reload fails with
    /// [`Error::MethodsRemoved`](crate::Error::MethodsRemoved) and the
    /// running version keeps serving.
    pub fn allow_removing_methods(mut self, allow: bool) -> Self {
        self.allow_removing_methods = allow;
        self
    }

    /// The sandbox limits. Default: [`LuaSandboxLimits::default`].
    pub fn limits(mut self, limits: LuaSandboxLimits) -> Self {
        self.limits = limits;
        self
    }

    /// The pool of sandboxes. Default: [`PoolConfig::default`] (one ready,
    /// up to one per CPU).
    pub fn pool(mut self, pool: PoolConfig) -> Self {
        self.pool = pool;
        self
    }

    /// How new sandboxes of this plugin start. Default: [`ColdStart::Fork`].
    pub fn cold_start(mut self, cold_start: ColdStart) -> Self {
        self.cold_start = cold_start;
        self
    }

    /// This plugin's config section as JSON: what `bext.get_config()` returns.
    /// Default: `{}`.
    pub fn config_json(mut self, json: impl Into<String>) -> Self {
        self.config_json = json.into();
        self
    }

    /// Where this plugin's `bext.shared` lives. Default: the runtime's
    /// [`LuaRuntimeConfig::shared_backend`].
    pub fn shared_backend(mut self, backend: SharedBackend) -> Self {
        self.shared_backend = Some(backend);
        self
    }

    /// The plugin's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}
