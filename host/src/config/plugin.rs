//! One plugin's description: [`LuaPluginConfig`], how its sandboxes start
//! ([`ColdStart`]) and where its `bext.shared` lives ([`SharedBackend`]).

use crate::config::limits::LuaSandboxLimits;
use crate::config::pool::PoolConfig;
use bext_plugin_api::types::PluginManifest;
use std::sync::Arc;

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
    Redis(crate::shared::redis::RedisShared),
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
    /// [`LuaRuntimeConfig::shared_backend`](crate::LuaRuntimeConfig::shared_backend).
    pub fn shared_backend(mut self, backend: SharedBackend) -> Self {
        self.shared_backend = Some(backend);
        self
    }

    /// The plugin's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}
