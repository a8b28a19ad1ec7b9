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
    /// How an etcd or `https://` plugin store is verified and logged in
    /// to (CA, client certificate, etcd user). Default: the system's trust
    /// store, no client certificate, no etcd user.
    #[serde(default)]
    pub store: crate::source::StoreAccess,
    /// Where the plugins' `bext.shared` dictionaries live: a Redis URL
    /// (`redis://host:port/`), shared by every gateway on the same server,
    /// or none (default) for one in-process dictionary per plugin. Needs the
    /// `redis` feature. While Redis is unreachable, operations fail open to
    /// the in-process dictionary (`RedisUnavailable::FailOpen`).
    #[serde(default)]
    pub shared_redis: Option<String>,
    /// The CA (and client certificate) of a `rediss://` `shared_redis`;
    /// paths relative to the file. Default: the system's trust store, no
    /// client certificate. A user and password go in the URL
    /// (`rediss://user:password@host:6380/`).
    #[serde(default)]
    pub shared_redis_tls: Option<RedisTlsFiles>,
    /// The tenants.
    pub tenants: Vec<TenantConfig>,
}

/// `shared_redis_tls`: PEM files.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedisTlsFiles {
    /// CA certificates that sign the server's certificate, trusted instead
    /// of the system's trust store.
    pub ca_file: Option<PathBuf>,
    /// A client certificate to show, with `key_file`.
    pub cert_file: Option<PathBuf>,
    /// The client certificate's private key.
    pub key_file: Option<PathBuf>,
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

#[cfg(feature = "redis")]
impl RedisTlsFiles {
    /// The files' contents as the runtime's TLS settings.
    fn read(&self) -> Result<bext_plugin_lua_wasm::RedisTls, ConfigError> {
        let read = |path: &PathBuf| {
            std::fs::read(path)
                .map_err(|e| ConfigError(format!("shared_redis_tls: {}: {e}", path.display())))
        };
        let mut tls = bext_plugin_lua_wasm::RedisTls::new();
        if let Some(ca) = &self.ca_file {
            tls = tls.ca_pem(read(ca)?);
        }
        match (&self.cert_file, &self.key_file) {
            (Some(cert), Some(key)) => tls = tls.client_identity_pem(read(cert)?, read(key)?),
            (None, None) => {}
            _ => {
                return Err(ConfigError(
                    "shared_redis_tls: `cert_file` and `key_file` go together".into(),
                ));
            }
        }
        Ok(tls)
    }
}

impl GatewayConfig {
    /// Reads and checks `path`; `plugins` and the `store` files are
    /// resolved against its folder.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError(format!("{}: {e}", path.display())))?;
        let mut config =
            Self::parse(&text).map_err(|e| ConfigError(format!("{}: {}", path.display(), e.0)))?;
        let base = path.parent().unwrap_or(Path::new("."));
        if config.plugins.is_relative() {
            config.plugins = base.join(&config.plugins);
        }
        config.store = config.store.resolved(base);
        if let Some(tls) = &mut config.shared_redis_tls {
            for path in [&mut tls.ca_file, &mut tls.cert_file, &mut tls.key_file]
                .into_iter()
                .flatten()
            {
                if path.is_relative() {
                    *path = base.join(&*path);
                }
            }
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
        if config.shared_redis.is_some() && !cfg!(feature = "redis") {
            return Err(ConfigError(
                "shared_redis needs the gateway built with its `redis` feature".into(),
            ));
        }
        Ok(config)
    }

    /// The runtime's `bext.shared` backend: Redis when
    /// [`shared_redis`](Self::shared_redis) is set, else in process.
    pub fn shared_backend(&self) -> Result<bext_plugin_lua_wasm::SharedBackend, ConfigError> {
        match &self.shared_redis {
            None => Ok(bext_plugin_lua_wasm::SharedBackend::Local),
            #[cfg(feature = "redis")]
            Some(url) => {
                let redis = match &self.shared_redis_tls {
                    None => bext_plugin_lua_wasm::RedisShared::new(url),
                    Some(files) => bext_plugin_lua_wasm::RedisShared::with_tls(url, files.read()?),
                };
                redis
                    .map(bext_plugin_lua_wasm::SharedBackend::Redis)
                    .map_err(|e| ConfigError(format!("shared_redis: {e}")))
            }
            #[cfg(not(feature = "redis"))]
            Some(_) => Err(ConfigError(
                "shared_redis needs the gateway built with its `redis` feature".into(),
            )),
        }
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
    fn shared_redis_is_checked_and_named_in_its_error() {
        let config = |url: &str| {
            GatewayConfig::parse(&format!(r#"{{"shared_redis":"{url}","tenants":[]}}"#))
        };
        // The tests build the gateway with its `redis` feature.
        let ok = config("redis://127.0.0.1:6379/").unwrap();
        assert!(matches!(
            ok.shared_backend().unwrap(),
            bext_plugin_lua_wasm::SharedBackend::Redis(_)
        ));
        let err = config("mysql://nowhere")
            .unwrap()
            .shared_backend()
            .unwrap_err();
        assert!(err.0.starts_with("shared_redis: "), "{err}");
        let local = GatewayConfig::parse(r#"{"tenants":[]}"#).unwrap();
        assert!(matches!(
            local.shared_backend().unwrap(),
            bext_plugin_lua_wasm::SharedBackend::Local
        ));
    }

    #[test]
    fn shared_redis_tls_files_are_read_and_checked() {
        let dir =
            std::env::temp_dir().join(format!("bext-gateway-redis-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let config = dir.join("gateway.json");
        let write = |tls: &str| {
            std::fs::write(
                &config,
                format!(
                    r#"{{"shared_redis": "rediss://bext:pw@127.0.0.1:6380/", "shared_redis_tls": {tls}, "tenants": []}}"#
                ),
            )
            .unwrap();
            GatewayConfig::load(&config).unwrap()
        };
        bext_test_support::tls::TestCerts::generate(&dir, "gateway test CA");
        let ok = write(r#"{"ca_file": "ca.pem"}"#);
        assert_eq!(
            ok.shared_redis_tls.as_ref().unwrap().ca_file,
            Some(dir.join("ca.pem"))
        );
        assert!(matches!(
            ok.shared_backend().unwrap(),
            bext_plugin_lua_wasm::SharedBackend::Redis(_)
        ));
        let missing = write(r#"{"ca_file": "missing.pem"}"#)
            .shared_backend()
            .unwrap_err();
        assert!(missing.0.contains("missing.pem"), "{missing}");
        let half = write(r#"{"cert_file": "ca.pem"}"#)
            .shared_backend()
            .unwrap_err();
        assert!(half.0.contains("go together"), "{half}");
        let _ = std::fs::remove_dir_all(&dir);
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
