//! [`LuaPluginRuntime`]: one per process (or per server), owns the engine and
//! the registry of loaded plugins.

use crate::capabilities::check_declared_capabilities;
use crate::config::plugin::{ColdStart, LuaPluginConfig, SharedBackend};
use crate::config::pool::PoolConfig;
use crate::config::runtime::LuaRuntimeConfig;
use crate::config::validate;
use crate::engine::GuestEngine;
use crate::error::Error;
use crate::guest::GUEST_WASM;
use crate::guest::state::PluginServices;
use crate::periodic::Periodic;
use crate::plugin::LuaPlugin;
use crate::sandbox::SandboxSpec;
use crate::shared::local::{LocalDict, SharedRegistry};
use crate::shared::op::SharedStore;
use bext_plugin_api::types::PluginManifest;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

/// The registry of loaded plugins, by name.
type Registry = RwLock<HashMap<String, LuaPlugin>>;

/// The Lifecycle method a reloaded plugin's new version gets first.
const ON_RELOAD: &str = "on_reload";

/// Compiles the guest once and loads plugins, each into its own sandbox.
///
/// Cheap to share (`Send + Sync`); plugins keep the engine alive on their own,
/// so dropping the runtime only empties its registry.
pub struct LuaPluginRuntime {
    engine: Arc<GuestEngine>,
    plugins: Arc<Registry>,
    /// Drops idle sandboxes of plugins with an idle timeout; started by the
    /// first such plugin.
    idle_sweeper: Mutex<Option<Periodic>>,
    /// Each plugin's `bext.shared` dictionary, by name: kept across hot
    /// reloads and sandbox rebuilds, dropped by `unload_plugin`.
    shared: SharedRegistry,
}

impl std::fmt::Debug for LuaPluginRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LuaPluginRuntime")
            .field("config", &self.engine.config)
            .field("plugins", &self.plugin_names())
            .finish()
    }
}

/// Like [`LuaPluginRuntime::new`] but without the on-disk cache: `Default`
/// reads no environment (the cache folder comes from it), so it compiles
/// the guest once per process. Panics where `new` does; the fallible form
/// is `with_config(LuaRuntimeConfig::default())`.
impl Default for LuaPluginRuntime {
    fn default() -> Self {
        Self::with_config(LuaRuntimeConfig::default())
            .unwrap_or_else(|e| panic!("bext-plugin-lua-wasm: {e}"))
    }
}

impl LuaPluginRuntime {
    /// A runtime with [`LuaRuntimeConfig::default`] (fuel and deadlines on)
    /// that keeps the compiled guest in the per-user cache folder
    /// ([`LuaRuntimeConfig::user_artifact_cache`],
    /// [`default_artifact_cache_dir`](crate::default_artifact_cache_dir)), so
    /// only the first process of a user compiles it. For no on-disk cache,
    /// use `with_config(LuaRuntimeConfig::default())` or set
    /// `BEXT_LUA_WASM_CACHE_DIR=off`.
    ///
    /// # Panics
    ///
    /// If the engine cannot be set up (the embedded guest does not compile,
    /// the process is out of address space or threads).
    /// [`try_new`](Self::try_new) returns that as an error instead.
    pub fn new() -> Self {
        Self::try_new().unwrap_or_else(|e| panic!("bext-plugin-lua-wasm: {e}"))
    }

    /// [`new`](Self::new), returning [`Error::Engine`] (with wasmtime's error
    /// as its [`source`](std::error::Error::source)) instead of panicking
    /// when the engine cannot be set up.
    pub fn try_new() -> Result<Self, Error> {
        Self::with_config(LuaRuntimeConfig::default().user_artifact_cache())
    }

    /// A runtime with engine-wide settings.
    pub fn with_config(config: LuaRuntimeConfig) -> Result<Self, Error> {
        Self::with_module(config, GUEST_WASM)
    }

    /// **For testing the host's defences only.** A runtime whose sandboxes
    /// run the binary module `wasm` instead of
    /// the embedded Lua guest: a stand-in for a guest whose Lua VM was
    /// compromised, which must not be able to make the host panic, hang or
    /// read outside the guest's memory. Not part of the supported API.
    #[doc(hidden)]
    pub fn with_guest_module(config: LuaRuntimeConfig, wasm: &[u8]) -> Result<Self, Error> {
        Self::with_module(config, wasm)
    }

    fn with_module(config: LuaRuntimeConfig, wasm: &[u8]) -> Result<Self, Error> {
        Ok(LuaPluginRuntime {
            engine: Arc::new(GuestEngine::new(config, wasm)?),
            plugins: Arc::default(),
            idle_sweeper: Mutex::default(),
            shared: SharedRegistry::default(),
        })
    }

    /// The engine-wide settings.
    pub fn config(&self) -> &LuaRuntimeConfig {
        &self.engine.config
    }

    /// Loads a plugin and registers it under its name.
    ///
    /// Loading an existing name is a **hot reload**: the new version is
    /// loaded, checked, and its `on_reload` method (if the script has one)
    /// runs first; only then is it swapped in, atomically. Calls already
    /// running finish on the old version, new calls get the new one. If the
    /// new version fails to load, the manifest declares a capability whose
    /// methods the script does not define ([`Error::CapabilityMismatch`]),
    /// the script lacks a method the running version has
    /// ([`Error::MethodsRemoved`], unless
    /// [`LuaPluginConfig::allow_removing_methods`]; checked whether or not
    /// the manifest declares capabilities), or its `on_reload` fails, the
    /// error is returned and the old version keeps serving. Loading compiles
    /// no wasm.
    pub fn load_plugin(&self, config: LuaPluginConfig) -> Result<LuaPlugin, Error> {
        let LuaPluginConfig {
            name,
            manifest,
            source,
            config_json,
            limits,
            pool,
            cold_start,
            shared_backend,
            allow_removing_methods,
        } = config;
        if let Some(pooling) = &self.engine.config.pooling
            && limits.max_heap_bytes > pooling.max_heap_bytes
        {
            return Err(Error::CapacityExhausted {
                plugin: name,
                message: format!(
                    "max_heap_bytes {} exceeds the pooling slots' {} bytes (PoolingLimits::max_heap_bytes)",
                    limits.max_heap_bytes, pooling.max_heap_bytes
                ),
            });
        }
        validate::plugin_config(
            &self.engine.config,
            self.engine.image.len(),
            &name,
            &limits,
            &pool,
        )?;
        let (dict, created) = self.shared.dict(&name, limits.shared_dict_bytes);
        let backend = shared_backend
            .as_ref()
            .unwrap_or(&self.engine.config.shared_backend);
        let services = Arc::new(PluginServices {
            name: name.clone(),
            metrics: self.engine.config.metrics.clone(),
            shared: Some(shared_store(backend, &name, dict.clone())),
        });
        let shared_dict_bytes = limits.shared_dict_bytes;
        let spec = SandboxSpec {
            services,
            source,
            config_json,
            limits,
        };
        let loaded = self.load_checked(
            &name,
            spec,
            manifest,
            pool,
            cold_start,
            allow_removing_methods,
        );
        match &loaded {
            Ok(_) => dict.set_capacity(shared_dict_bytes),
            // A first load that failed leaves no dictionary behind.
            Err(_) if created => self.shared.remove(&name),
            Err(_) => {}
        }
        loaded
    }

    fn load_checked(
        &self,
        name: &str,
        spec: SandboxSpec,
        manifest: PluginManifest,
        pool: PoolConfig,
        cold_start: ColdStart,
        allow_removing_methods: bool,
    ) -> Result<LuaPlugin, Error> {
        let plugin = LuaPlugin::load(self.engine.clone(), spec, manifest, pool, cold_start)?;
        check_declared_capabilities(name, plugin.manifest(), |m| plugin.has_method(m))?;
        let running = self.plugin(name);
        if let Some(running) = &running {
            let removed: Vec<String> = running
                .methods()
                .filter(|m| !plugin.has_method(m))
                .map(String::from)
                .collect();
            if !removed.is_empty() && !allow_removing_methods {
                return Err(Error::MethodsRemoved {
                    plugin: name.to_string(),
                    methods: removed,
                });
            }
        }
        if running.is_some() && plugin.has_method(ON_RELOAD) {
            plugin.call(ON_RELOAD, &[])?;
        }
        self.write_registry()
            .insert(name.to_string(), plugin.clone());
        if pool.idle_timeout_ms > 0 {
            self.sweep_idle_sandboxes_every(Duration::from_millis(pool.idle_timeout_ms) / 4);
        }
        Ok(plugin)
    }

    /// Drops the sandboxes of registered plugins that have been idle longer
    /// than their [`PoolConfig::idle_timeout_ms`](crate::PoolConfig::idle_timeout_ms);
    /// returns how many. The runtime also does this on its own (see there);
    /// call it to free memory at a moment of your choosing.
    pub fn drop_idle_sandboxes(&self) -> usize {
        drop_idle_sandboxes(&self.plugins)
    }

    /// Starts the sweeper, or makes it check at least every `period`.
    fn sweep_idle_sandboxes_every(&self, period: Duration) {
        let period = period.clamp(MIN_SWEEP_PERIOD, MAX_SWEEP_PERIOD);
        let mut sweeper = self.idle_sweeper.lock().unwrap_or_else(|e| e.into_inner());
        match sweeper.as_ref() {
            Some(running) if running.period <= period => {}
            // A new thread with the shorter period replaces the old one
            // (which keeps running if the new one cannot start).
            _ => {
                let registry = Arc::downgrade(&self.plugins);
                let started = Periodic::start("bext-lua-idle", period, move || {
                    let Some(registry) = registry.upgrade() else {
                        return false;
                    };
                    drop_idle_sandboxes(&registry);
                    true
                });
                match started {
                    Ok(faster) => *sweeper = Some(faster),
                    Err(e) => {
                        tracing::error!(target: "bext_lua", "could not start the idle-sandbox thread ({e}): idle sandboxes are kept")
                    }
                }
            }
        }
    }

    /// The plugin registered under `name`.
    pub fn plugin(&self, name: &str) -> Option<LuaPlugin> {
        self.read_registry().get(name).cloned()
    }

    /// Removes a plugin from the registry; its sandbox is freed once the last
    /// handle to it is dropped. Its in-process `bext.shared` dictionary is
    /// dropped too: a plugin loaded later under the same name starts empty.
    pub fn unload_plugin(&self, name: &str) -> Option<LuaPlugin> {
        self.shared.remove(name);
        self.write_registry().remove(name)
    }

    /// Names of the registered plugins, sorted.
    pub fn plugin_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.read_registry().keys().cloned().collect();
        names.sort();
        names
    }

    fn read_registry(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, LuaPlugin>> {
        read_registry(&self.plugins)
    }

    fn write_registry(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, LuaPlugin>> {
        self.plugins.write().unwrap_or_else(|e| e.into_inner())
    }
}

fn read_registry(
    registry: &Registry,
) -> std::sync::RwLockReadGuard<'_, HashMap<String, LuaPlugin>> {
    // The registry holds plain handles; a panic elsewhere cannot leave it torn.
    registry.read().unwrap_or_else(|e| e.into_inner())
}

fn drop_idle_sandboxes(registry: &Registry) -> usize {
    let now = Instant::now();
    // Handles are cloned out so no sandbox is freed under the registry's lock.
    let plugins: Vec<LuaPlugin> = read_registry(registry).values().cloned().collect();
    plugins
        .iter()
        .map(|plugin| plugin.drop_idle_sandboxes(now))
        .sum()
}

/// Bounds of the sweeper's period (a quarter of the shortest idle timeout).
const MIN_SWEEP_PERIOD: Duration = Duration::from_millis(10);
const MAX_SWEEP_PERIOD: Duration = Duration::from_secs(1);

/// The `bext.shared` store of plugin `plugin` on `backend`, whose
/// in-process dictionary is `dict`.
fn shared_store(
    backend: &SharedBackend,
    plugin: &str,
    dict: Arc<LocalDict>,
) -> Arc<dyn SharedStore> {
    match backend {
        SharedBackend::Local => {
            let _ = plugin;
            dict
        }
        #[cfg(feature = "redis")]
        SharedBackend::Redis(redis) => Arc::new(redis.store(plugin, dict)),
    }
}
