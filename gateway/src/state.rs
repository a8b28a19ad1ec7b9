//! The gateway's live state: tenants by host, each tenant's current chain,
//! and every plugin's status.
//!
//! Plugins come from a plugin source through the `bext-plugin-sources`
//! [`Reconciler`]: it loads a new version completely (parse, capability
//! check, `on_reload`) before it replaces anything in the runtime, and
//! tells the gateway what each apply changed ([`Reconciler::on_apply`]).
//! The gateway then rebuilds the affected tenant's chain: an immutable
//! [`Chain`] behind an `Arc` that is swapped whole, so requests in flight
//! finish on the version they started with. A version that fails to load
//! is logged by the reconciler, counted and shown at the admin endpoint,
//! and the old one keeps serving.

use crate::chain::{Chain, Middleware};
use crate::config::{GatewayConfig, TenantConfig};
use crate::lua::LuaMiddleware;
use bext_plugin_lua_wasm::{LuaPluginRuntime, LuaSandboxLimits, PoolConfig};
use bext_plugin_sources::{ApplyReport, Reconciler, runtime_name, split_runtime_name};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak};

/// Which tier runs the plugins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Tier {
    /// Each plugin in its own wasm sandbox (the product).
    #[default]
    Sandboxed,
    /// Native mlua, one state per executor thread (the load test's
    /// baseline; no isolation). With the `native-tier` feature only.
    #[cfg(feature = "native-tier")]
    Native,
}

impl Tier {
    /// The label used in metrics.
    pub fn label(self) -> &'static str {
        match self {
            Tier::Sandboxed => "wasm",
            #[cfg(feature = "native-tier")]
            Tier::Native => "native",
        }
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
        f.debug_struct("Tenant")
            .field("id", &self.config.id)
            .field("chain", &*self.chain())
            .finish_non_exhaustive()
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
    /// The version serving now; `None` when no version ever loaded.
    pub serving: Option<Arc<dyn Middleware>>,
    /// Why the source's latest version is not serving (rejected by the
    /// runtime, or a broken entry); `None` when the serving version is the
    /// source's.
    pub failing: Option<String>,
    /// Versions loaded and swapped in.
    pub reloads_ok: u64,
    /// Versions rejected (failed to load, or a broken entry).
    pub reloads_rejected: u64,
}

/// The gateway: tenants, the reconciler that feeds them plugins, and every
/// plugin's status.
pub struct Gateway {
    reconciler: Reconciler,
    tier: Tier,
    tenants: BTreeMap<String, Arc<Tenant>>,
    hosts: HashMap<String, Arc<Tenant>>,
    /// The chains' plugins and reload counters, by runtime name.
    status: Mutex<BTreeMap<String, PluginStatus>>,
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway")
            .field("tier", &self.tier)
            .field("tenants", &self.tenants)
            .finish_non_exhaustive()
    }
}

impl Gateway {
    /// A gateway for `config`'s tenants, with no plugins loaded yet. Its
    /// [`reconciler`](Self::reconciler) loads plugins into `runtime` with
    /// each tenant's sandbox limits; every change it applies (a watched
    /// source's, or a direct `apply`) reaches the tenants' chains before
    /// the apply returns.
    pub fn new(config: &GatewayConfig, runtime: Arc<LuaPluginRuntime>, tier: Tier) -> Arc<Self> {
        let limits: HashMap<String, (LuaSandboxLimits, PoolConfig)> = config
            .tenants
            .iter()
            .map(|t| {
                let limits = (t.limits.sandbox_limits(), t.limits.pool_config());
                (t.id.clone(), limits)
            })
            .collect();
        Arc::new_cyclic(|gateway: &Weak<Gateway>| {
            let gateway = gateway.clone();
            let reconciler = Reconciler::new(runtime)
                .configure(move |wanted, config| match limits.get(&wanted.tenant) {
                    Some((limits, pool)) => config.limits(limits.clone()).pool(*pool),
                    None => config,
                })
                .on_apply(move |_source, report| {
                    if let Some(gateway) = gateway.upgrade() {
                        gateway.apply(report);
                    }
                });
            let mut tenants = BTreeMap::new();
            let mut hosts = HashMap::new();
            for tenant_config in &config.tenants {
                let tenant = Arc::new(Tenant::new(tenant_config.clone()));
                for host in &tenant_config.hosts {
                    hosts.insert(host.to_ascii_lowercase(), tenant.clone());
                }
                tenants.insert(tenant_config.id.clone(), tenant);
            }
            Gateway {
                reconciler,
                tier,
                tenants,
                hosts,
                status: Mutex::default(),
            }
        })
    }

    /// The reconciler that loads the tenants' plugins: hand it a source
    /// ([`Reconciler::watch_ready`]) or apply sets to it directly.
    pub fn reconciler(&self) -> &Reconciler {
        &self.reconciler
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

    /// Every plugin the source holds, by runtime name (`tenant/name`), with
    /// the reason its latest version is not serving, if any.
    pub fn plugin_status(&self) -> BTreeMap<String, PluginStatus> {
        let counters = self.lock_status().clone();
        let mut status = BTreeMap::new();
        for plugin in self.reconciler.plugin_statuses() {
            let name = runtime_name(&plugin.tenant, &plugin.plugin);
            let mut entry = counters.get(&name).cloned().unwrap_or_default();
            entry.tenant = plugin.tenant;
            entry.failing = plugin.last_error.map(|e| e.to_string());
            status.insert(name, entry);
        }
        status
    }

    fn lock_status(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, PluginStatus>> {
        self.status.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Brings the tenants' chains to what the reconciler applied: a loaded
    /// or reloaded plugin's new version is swapped into its tenant's chain,
    /// an unloaded one leaves it, a rejected one is counted. Runs inside
    /// the reconciler's apply (cheap: nothing is loaded here).
    fn apply(&self, report: &ApplyReport) {
        for name in report.loaded.iter().chain(&report.reloaded) {
            self.serve(name);
        }
        for name in &report.unloaded {
            self.lock_status().remove(name);
            if let Some(tenant) =
                split_runtime_name(name).and_then(|(tenant, _)| self.tenants.get(tenant))
            {
                tenant.set_plugin(name, None);
            }
        }
        for (tenant, plugin) in report.rejected.iter().filter_map(|e| e.plugin()) {
            self.lock_status()
                .entry(runtime_name(tenant, plugin))
                .or_default()
                .reloads_rejected += 1;
        }
    }

    /// Swaps the version of `name` the runtime serves now into its
    /// tenant's chain.
    fn serve(&self, name: &str) {
        let (Some(plugin), Some(wanted)) = (
            self.reconciler.runtime().plugin(name),
            self.reconciler.serving(name),
        ) else {
            return;
        };
        let Some(tenant) = self.tenants.get(&wanted.tenant) else {
            tracing::warn!(plugin = %name, "tenant `{}` is not configured: its plugin is loaded but serves no host", wanted.tenant);
            return;
        };
        let version = wanted
            .content_hash
            .get(..12)
            .unwrap_or(&wanted.content_hash)
            .to_string();
        let middleware: Arc<dyn Middleware> = match self.tier {
            Tier::Sandboxed => Arc::new(LuaMiddleware::new(plugin, version)),
            #[cfg(feature = "native-tier")]
            Tier::Native => native_middleware(&wanted, name, version, &plugin),
        };
        tenant.set_plugin(name, Some(middleware.clone()));
        let mut status = self.lock_status();
        let entry = status.entry(name.to_string()).or_default();
        entry.tenant = wanted.tenant.clone();
        entry.serving = Some(middleware);
        entry.reloads_ok += 1;
    }
}

/// The native tier's middleware for a plugin the sandbox loaded (and so
/// validated) first.
#[cfg(feature = "native-tier")]
fn native_middleware(
    wanted: &bext_plugin_sources::DesiredPlugin,
    name: &str,
    version: String,
    plugin: &bext_plugin_lua_wasm::LuaPlugin,
) -> Arc<dyn Middleware> {
    use bext_plugin_api::MiddlewarePlugin;
    Arc::new(crate::native::NativeMiddleware::new(
        name,
        version,
        wanted.source.clone(),
        wanted.config_json.clone(),
        MiddlewarePlugin::priority(plugin),
        plugin.has_method("on_response"),
    ))
}
