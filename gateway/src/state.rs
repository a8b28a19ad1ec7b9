//! The gateway's live state: tenants by host, each tenant's current chain,
//! and what the plugin source last delivered for every plugin.
//!
//! A plugin update loads the new version completely (parse, capability
//! check, `on_reload`) before it replaces anything; a tenant's chain is an
//! immutable [`Chain`] behind an `Arc` that a reload swaps, so requests in
//! flight finish on the version they started with. A version that fails to
//! load is logged, counted and shown at the admin endpoint, and the old one
//! keeps serving.

use crate::chain::{Chain, Middleware};
use crate::config::{GatewayConfig, TenantConfig};
use crate::lua::LuaMiddleware;
use bext_plugin_api::types::PluginManifest;
use bext_plugin_lua_wasm::{LuaPluginConfig, LuaPluginRuntime};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

/// Which tier runs the plugins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Tier {
    /// Each plugin in its own wasm sandbox (the product).
    #[default]
    Sandboxed,
    /// Native mlua, one state per executor thread (the load test's
    /// baseline; no isolation).
    Native,
}

impl Tier {
    /// The label used in metrics.
    pub fn label(self) -> &'static str {
        match self {
            Tier::Sandboxed => "wasm",
            Tier::Native => "native",
        }
    }
}

/// One version of one plugin, as a plugin source delivers it.
#[derive(Debug, Clone)]
pub struct PluginDefinition {
    /// The tenant it belongs to.
    pub tenant: String,
    /// The plugin's name within the tenant (`ratelimit`); the runtime knows
    /// it as `tenant/name`.
    pub name: String,
    /// The Lua source.
    pub source: Arc<str>,
    /// Its config section (what `bext.get_config()` returns).
    pub config_json: String,
    /// Its manifest, if the source has one (capabilities are then checked).
    pub manifest: Option<PluginManifest>,
    /// The source's version of it (a revision or a content hash).
    pub version: String,
}

impl PluginDefinition {
    /// The name the runtime and the metrics use: `tenant/name`.
    pub fn full_name(&self) -> String {
        format!("{}/{}", self.tenant, self.name)
    }
}

/// A tenant: its routing, its handler and its current chain.
pub struct Tenant {
    config: TenantConfig,
    upstream: Option<http::Uri>,
    /// The chain requests take (swapped whole by reloads).
    chain: RwLock<Arc<Chain>>,
    /// The plugins the chain is built from, by name (held while rebuilding).
    plugins: Mutex<BTreeMap<String, Arc<dyn Middleware>>>,
    /// Responses sent, by status class (index 0 = 1xx ... 4 = 5xx).
    responses: [AtomicU64; 5],
}

impl std::fmt::Debug for Tenant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tenant").field("id", &self.config.id).field("chain", &*self.chain()).finish_non_exhaustive()
    }
}

impl Tenant {
    fn new(config: TenantConfig) -> Self {
        // Checked by GatewayConfig::parse.
        let upstream = config.upstream.as_deref().and_then(|u| u.parse().ok());
        Tenant {
            config,
            upstream,
            chain: RwLock::default(),
            plugins: Mutex::default(),
            responses: Default::default(),
        }
    }

    /// The tenant's id.
    pub fn id(&self) -> &str {
        &self.config.id
    }

    /// The upstream requests are proxied to, if any.
    pub fn upstream(&self) -> Option<&http::Uri> {
        self.upstream.as_ref()
    }

    /// The chain a new request takes.
    pub fn chain(&self) -> Arc<Chain> {
        self.chain.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Counts a response sent with `status`.
    pub fn count_response(&self, status: u16) {
        let class = usize::from(status / 100).clamp(1, 5) - 1;
        self.responses[class].fetch_add(1, Ordering::Relaxed);
    }

    /// Responses sent by status class: `[1xx, 2xx, 3xx, 4xx, 5xx]`.
    pub fn responses(&self) -> [u64; 5] {
        std::array::from_fn(|i| self.responses[i].load(Ordering::Relaxed))
    }

    /// Puts (`Some`) or removes (`None`) one plugin and swaps in the new chain.
    fn set_plugin(&self, name: &str, plugin: Option<Arc<dyn Middleware>>) {
        let mut plugins = self.plugins.lock().unwrap_or_else(|e| e.into_inner());
        match plugin {
            Some(plugin) => plugins.insert(name.to_string(), plugin),
            None => plugins.remove(name),
        };
        let chain = Arc::new(Chain::new(plugins.values().cloned().collect()));
        *self.chain.write().unwrap_or_else(|e| e.into_inner()) = chain;
    }
}

/// What the admin endpoint shows for one plugin.
#[derive(Clone, Default)]
pub struct PluginStatus {
    /// The tenant.
    pub tenant: String,
    /// The version serving now; `None` when no version ever loaded (or it was
    /// removed).
    pub serving: Option<Arc<dyn Middleware>>,
    /// The error of the source's latest version if it failed to load (the
    /// serving version, if any, is the one before).
    pub failing: Option<String>,
    /// Versions loaded and swapped in.
    pub reloads_ok: u64,
    /// Versions rejected (failed to load).
    pub reloads_rejected: u64,
}

/// The gateway: tenants, the runtime and every plugin's status.
pub struct Gateway {
    runtime: LuaPluginRuntime,
    tier: Tier,
    tenants: BTreeMap<String, Arc<Tenant>>,
    hosts: HashMap<String, Arc<Tenant>>,
    status: Mutex<BTreeMap<String, PluginStatus>>,
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway").field("tier", &self.tier).field("tenants", &self.tenants).finish_non_exhaustive()
    }
}

impl Gateway {
    /// A gateway for `config`'s tenants, with no plugins loaded yet.
    pub fn new(config: &GatewayConfig, runtime: LuaPluginRuntime, tier: Tier) -> Self {
        let mut tenants = BTreeMap::new();
        let mut hosts = HashMap::new();
        for tenant_config in &config.tenants {
            let tenant = Arc::new(Tenant::new(tenant_config.clone()));
            for host in &tenant_config.hosts {
                hosts.insert(host.to_ascii_lowercase(), tenant.clone());
            }
            tenants.insert(tenant_config.id.clone(), tenant);
        }
        Gateway { runtime, tier, tenants, hosts, status: Mutex::default() }
    }

    /// The tier plugins run on.
    pub fn tier(&self) -> Tier {
        self.tier
    }

    /// The tenant serving `host` (lowercase, without port).
    pub fn tenant_for_host(&self, host: &str) -> Option<&Arc<Tenant>> {
        self.hosts.get(host)
    }

    /// The tenants by id.
    pub fn tenants(&self) -> impl Iterator<Item = &Arc<Tenant>> {
        self.tenants.values()
    }

    /// A copy of every plugin's status, by full name.
    pub fn plugin_status(&self) -> BTreeMap<String, PluginStatus> {
        self.lock_status().clone()
    }

    fn lock_status(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, PluginStatus>> {
        self.status.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Loads a new version of a plugin and swaps it into its tenant's chain;
    /// a version that fails to load is rejected (logged, counted, shown at
    /// the admin endpoint) and the serving one stays. Blocks while the
    /// script loads (a few hundred microseconds): call it off the executor.
    pub fn upsert(&self, definition: &PluginDefinition) -> Result<(), String> {
        let full_name = definition.full_name();
        let result = self.load(definition, &full_name);
        let mut status = self.lock_status();
        let entry = status.entry(full_name.clone()).or_insert_with(|| PluginStatus {
            tenant: definition.tenant.clone(),
            ..PluginStatus::default()
        });
        match result {
            Ok((tenant, plugin)) => {
                tenant.set_plugin(&full_name, Some(plugin.clone()));
                entry.serving = Some(plugin);
                entry.failing = None;
                entry.reloads_ok += 1;
                tracing::info!(plugin = %full_name, version = %definition.version, "plugin loaded");
                Ok(())
            }
            Err(message) => {
                tracing::error!(plugin = %full_name, version = %definition.version, "plugin version rejected, the previous one keeps serving: {message}");
                entry.failing = Some(message.clone());
                entry.reloads_rejected += 1;
                Err(message)
            }
        }
    }

    /// Unloads a plugin the source no longer has.
    pub fn remove(&self, tenant: &str, name: &str) {
        let full_name = format!("{tenant}/{name}");
        if let Some(tenant) = self.tenants.get(tenant) {
            tenant.set_plugin(&full_name, None);
        }
        self.runtime.unload_plugin(&full_name);
        self.lock_status().remove(&full_name);
        tracing::info!(plugin = %full_name, "plugin unloaded");
    }

    fn load(&self, definition: &PluginDefinition, full_name: &str) -> Result<(Arc<Tenant>, Arc<dyn Middleware>), String> {
        let tenant = self
            .tenants
            .get(&definition.tenant)
            .ok_or_else(|| format!("no tenant `{}` is configured", definition.tenant))?;
        let manifest = definition.manifest.clone().unwrap_or_else(|| bext_lua_wasm_suite::manifest_without_capabilities(full_name));
        let config = LuaPluginConfig::new(full_name, manifest, definition.source.clone())
            .config_json(definition.config_json.clone())
            .limits(tenant.config.limits.sandbox_limits());
        // Loading checks the script in the sandbox on both tiers, so a broken
        // edit is rejected the same way.
        let plugin = self.runtime.load_plugin(config).map_err(|e| e.to_string())?;
        let middleware: Arc<dyn Middleware> = match self.tier {
            Tier::Sandboxed => Arc::new(LuaMiddleware::new(plugin, definition.version.clone())),
            Tier::Native => native_middleware(definition, full_name, &plugin)?,
        };
        Ok((tenant.clone(), middleware))
    }
}

fn native_middleware(
    definition: &PluginDefinition,
    full_name: &str,
    plugin: &bext_plugin_lua_wasm::LuaPlugin,
) -> Result<Arc<dyn Middleware>, String> {
    use bext_plugin_api::MiddlewarePlugin;
    Ok(Arc::new(crate::native::NativeMiddleware::new(
        full_name,
        definition.version.clone(),
        definition.source.clone(),
        definition.config_json.clone(),
        MiddlewarePlugin::priority(plugin),
        plugin.has_method("on_response"),
    )))
}
