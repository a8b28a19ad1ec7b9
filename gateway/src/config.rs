//! The gateway's configuration file: listeners, the plugin source, tenants.

use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// `gateway.json`. Relative paths are relative to the file's folder.
///
/// ```json
/// {
///   "listen": "127.0.0.1:8080",
///   "admin": "127.0.0.1:9901",
///   "plugins": "plugins",
///   "tenants": [
///     {"id": "shop", "hosts": ["shop.localhost"], "limits": {"timeout_ms": 200}},
///     {"id": "api", "hosts": ["api.localhost"], "upstream": "http://127.0.0.1:9000"}
///   ]
/// }
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayConfig {
    /// Where requests are served. Default `127.0.0.1:8080`.
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// Where `/metrics` (Prometheus text) and `/healthz` are served.
    /// Default `127.0.0.1:9901`.
    #[serde(default = "default_admin")]
    pub admin: SocketAddr,
    /// The plugin folder of the default folder source: one sub-folder per
    /// tenant, named by the tenant's id. Default `plugins`.
    #[serde(default = "default_plugins")]
    pub plugins: PathBuf,
    /// The tenants.
    pub tenants: Vec<TenantConfig>,
}

/// One tenant.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantConfig {
    /// The tenant's id: its plugins' folder (and name prefix `id/`) and the
    /// `tenant_id` plugins see.
    pub id: String,
    /// `Host` names routed to this tenant (matched without the port,
    /// case-insensitively).
    pub hosts: Vec<String>,
    /// An upstream origin (`http://host:port`) requests are proxied to
    /// after the plugins; none: the built-in echo handler answers.
    #[serde(default)]
    pub upstream: Option<String>,
    /// Sandbox limits for this tenant's plugins; unset fields keep the
    /// runtime's defaults.
    #[serde(default)]
    pub limits: TenantLimits,
}

/// Per-tenant sandbox limits (see `LuaSandboxLimits` for the defaults).
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantLimits {
    /// Wall-clock budget per call, in milliseconds.
    pub timeout_ms: Option<u64>,
    /// Fuel per call.
    pub fuel_per_call: Option<u64>,
    /// Heap limit per sandbox, in bytes.
    pub max_heap_bytes: Option<usize>,
    /// How long a plugin that keeps trapping stays quarantined, in
    /// milliseconds.
    pub quarantine_ms: Option<u64>,
    /// Calls of each of the tenant's plugins that run at once (the
    /// plugin's fair share of the executor's workers, see
    /// `PoolConfig::max_concurrent_calls`); further calls wait their turn
    /// without holding a worker. At least 1.
    pub max_concurrent_calls: Option<usize>,
}

impl TenantLimits {
    /// These limits over the runtime's defaults.
    pub fn sandbox_limits(&self) -> bext_plugin_lua_wasm::LuaSandboxLimits {
        let mut limits = bext_plugin_lua_wasm::LuaSandboxLimits::default();
        if let Some(ms) = self.timeout_ms {
            limits = limits.timeout_ms(ms);
        }
        if let Some(fuel) = self.fuel_per_call {
            limits = limits.fuel_per_call(fuel);
        }
        if let Some(bytes) = self.max_heap_bytes {
            limits = limits.max_heap_bytes(bytes);
        }
        if let Some(ms) = self.quarantine_ms {
            limits = limits.quarantine_ms(ms);
        }
        limits
    }

    /// The tenant's pool settings over the runtime's defaults.
    pub fn pool_config(&self) -> bext_plugin_lua_wasm::PoolConfig {
        let pool = bext_plugin_lua_wasm::PoolConfig::default();
        match self.max_concurrent_calls {
            Some(calls) => pool.max_concurrent_calls(calls),
            None => pool,
        }
    }
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8080))
}

fn default_admin() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 9901))
}

fn default_plugins() -> PathBuf {
    PathBuf::from("plugins")
}

/// A configuration file that could not be used.
#[derive(Debug)]
pub struct ConfigError(pub String);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

impl GatewayConfig {
    /// Reads and checks `path`; `plugins` is resolved against its folder.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError(format!("{}: {e}", path.display())))?;
        let mut config =
            Self::parse(&text).map_err(|e| ConfigError(format!("{}: {}", path.display(), e.0)))?;
        if config.plugins.is_relative() {
            config.plugins = path
                .parent()
                .unwrap_or(Path::new("."))
                .join(&config.plugins);
        }
        Ok(config)
    }

    /// Parses and checks a configuration: tenant ids are unique folder
    /// names, every host belongs to one tenant, upstreams are `http://` URLs.
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        let config: GatewayConfig =
            serde_json::from_str(text).map_err(|e| ConfigError(e.to_string()))?;
        let mut ids = std::collections::HashSet::new();
        let mut hosts = std::collections::HashSet::new();
        for tenant in &config.tenants {
            let valid_id = !tenant.id.is_empty()
                && tenant
                    .id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if !valid_id {
                return Err(ConfigError(format!(
                    "tenant id `{}` must be letters, digits, `-` or `_`",
                    tenant.id
                )));
            }
            if !ids.insert(tenant.id.as_str()) {
                return Err(ConfigError(format!(
                    "tenant `{}` is configured twice",
                    tenant.id
                )));
            }
            for host in &tenant.hosts {
                if !hosts.insert(host.to_ascii_lowercase()) {
                    return Err(ConfigError(format!(
                        "host `{host}` belongs to more than one tenant"
                    )));
                }
            }
            if tenant.limits.max_concurrent_calls == Some(0) {
                return Err(ConfigError(format!(
                    "tenant `{}`: max_concurrent_calls must be at least 1",
                    tenant.id
                )));
            }
            if let Some(upstream) = &tenant.upstream {
                let uri: http::Uri = upstream.parse().map_err(|e| {
                    ConfigError(format!(
                        "tenant `{}`: upstream `{upstream}`: {e}",
                        tenant.id
                    ))
                })?;
                if uri.scheme_str() != Some("http") || uri.authority().is_none() {
                    return Err(ConfigError(format!(
                        "tenant `{}`: upstream `{upstream}` must be http://host:port",
                        tenant.id
                    )));
                }
            }
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_defaults_and_tenants() {
        let c = GatewayConfig::parse(
            r#"{"tenants":[{"id":"a","hosts":["A.localhost"],"limits":{"timeout_ms":50}}]}"#,
        )
        .unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(c.tenants[0].limits.sandbox_limits().timeout_ms, 50);
        assert_eq!(c.tenants[0].upstream, None);
        assert_eq!(
            c.tenants[0].limits.pool_config().max_concurrent_calls,
            bext_plugin_lua_wasm::PoolConfig::default().max_concurrent_calls
        );
    }

    #[test]
    fn a_tenant_sets_its_concurrency_cap() {
        let c = GatewayConfig::parse(
            r#"{"tenants":[{"id":"a","hosts":[],"limits":{"max_concurrent_calls":3}}]}"#,
        )
        .unwrap();
        assert_eq!(c.tenants[0].limits.pool_config().max_concurrent_calls, 3);
        let err = GatewayConfig::parse(
            r#"{"tenants":[{"id":"a","hosts":[],"limits":{"max_concurrent_calls":0}}]}"#,
        )
        .unwrap_err()
        .0;
        assert!(
            err.contains("tenant `a`: max_concurrent_calls must be at least 1"),
            "{err}"
        );
    }

    #[test]
    fn rejects_bad_configurations_with_the_reason() {
        let err = |text: &str| GatewayConfig::parse(text).unwrap_err().0;
        assert!(err(r#"{"tenants":[{"id":"a/b","hosts":[]}]}"#).contains("tenant id `a/b`"));
        assert!(
            err(r#"{"tenants":[{"id":"a","hosts":[]},{"id":"a","hosts":[]}]}"#).contains("twice")
        );
        assert!(
            err(r#"{"tenants":[{"id":"a","hosts":["x"]},{"id":"b","hosts":["X"]}]}"#)
                .contains("host `X`")
        );
        assert!(
            err(r#"{"tenants":[{"id":"a","hosts":[],"upstream":"https://x"}]}"#)
                .contains("http://host:port")
        );
        assert!(err(r#"{"tenants":[],"typo":1}"#).contains("unknown field `typo`"));
    }
}
