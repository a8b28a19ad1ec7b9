//! Where the tenants' plugins come from: the `--source` flag, turned into
//! one of `bext-plugin-sources`' sources. The [`Reconciler`] of the
//! gateway ([`Gateway::reconciler`]) watches it.
//!
//! [`Reconciler`]: bext_plugin_sources::Reconciler
//! [`Gateway::reconciler`]: crate::Gateway::reconciler

use bext_plugin_sources::{DynacodeSource, EtcdSource, FolderSource, PluginSource, StoreTls};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

/// A plugin source as the command line names it.
///
/// | flag value | source |
/// |---|---|
/// | `folder:<dir>` | [`FolderSource`]: `<dir>/<tenant>/<name>.lua`, with the tenant's `config.json` / `manifest.json`; watched |
/// | `etcd:[https://]<host:port>[,...]<prefix>` | [`EtcdSource`]: one key per plugin, `<prefix><tenant>/<name>`; watched |
/// | `https://<host:port>/<path>` or `http://...` | [`DynacodeSource`]: a JSON API in lua-resty-dynacode's format; polled |
///
/// For example `etcd:127.0.0.1:2379/bext/plugins/` or
/// `etcd:https://10.0.0.1:2379,https://10.0.0.2:2379/bext/plugins/`. An
/// etcd endpoint without a scheme is `http://`; the endpoints of one
/// source are all `https://` or all `http://`. How `https://` stores are
/// verified and logged in to is the configuration file's `store` section
/// ([`StoreAccess`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceSpec {
    /// A plugin folder.
    Folder(PathBuf),
    /// An etcd key prefix.
    Etcd {
        /// Client URLs (`https://host:port` or `http://host:port`).
        endpoints: Vec<String>,
        /// The key prefix, starting with `/`.
        prefix: String,
    },
    /// A dynacode-style HTTP endpoint (`https://` or `http://` URL).
    Dynacode(String),
}

impl FromStr for SourceSpec {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        if let Some(dir) = text.strip_prefix("folder:") {
            if dir.is_empty() {
                return Err("`folder:` needs a folder: folder:<dir>".into());
            }
            return Ok(SourceSpec::Folder(dir.into()));
        }
        if let Some(rest) = text.strip_prefix("etcd:") {
            return parse_etcd(text, rest);
        }
        if text.starts_with("https://") || text.starts_with("http://") {
            return Ok(SourceSpec::Dynacode(text.into()));
        }
        Err(format!(
            "unknown plugin source `{text}`: expected folder:<dir>, etcd:<host:port>/<prefix> or https://<host:port>/<path>"
        ))
    }
}

/// `etcd:` followed by `rest`: endpoints (each with an optional scheme),
/// comma-separated, then the key prefix from the first `/` on.
fn parse_etcd(text: &str, mut rest: &str) -> Result<SourceSpec, String> {
    let usage =
        "etcd:[https://]<host:port>[,...]/<prefix>/, e.g. etcd:127.0.0.1:2379/bext/plugins/";
    let mut endpoints = Vec::new();
    let prefix = loop {
        rest = rest.trim_start();
        let (scheme, after) = match (rest.strip_prefix("https://"), rest.strip_prefix("http://")) {
            (Some(after), _) => ("https", after),
            (None, Some(after)) => ("http", after),
            (None, None) => ("http", rest),
        };
        let end = after
            .find([',', '/'])
            .ok_or_else(|| format!("`{text}` has no key prefix: {usage}"))?;
        let host = after[..end].trim();
        if host.is_empty() {
            return Err(format!("`{text}` has an empty endpoint: {usage}"));
        }
        endpoints.push(format!("{scheme}://{host}"));
        match after[end..].strip_prefix(',') {
            Some(next) => rest = next,
            None => break after[end..].to_string(),
        }
    };
    let https = endpoints
        .iter()
        .filter(|e| e.starts_with("https://"))
        .count();
    if https != 0 && https != endpoints.len() {
        return Err(format!(
            "`{text}` mixes https:// and http:// endpoints: a plain-text endpoint would bypass TLS"
        ));
    }
    Ok(SourceSpec::Etcd { endpoints, prefix })
}

impl std::fmt::Display for SourceSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SourceSpec::Folder(dir) => write!(f, "folder:{}", dir.display()),
            SourceSpec::Etcd { endpoints, prefix } => {
                write!(f, "etcd:{}{prefix}", endpoints.join(","))
            }
            SourceSpec::Dynacode(url) => f.write_str(url),
        }
    }
}

/// How the gateway reaches an etcd or `https://` store: the configuration
/// file's `store` section. Every field is optional; relative paths are
/// relative to the configuration file's folder. The folder source ignores
/// it.
///
/// ```json
/// "store": {"ca_file": "etcd-ca.pem", "cert_file": "gateway.pem", "key_file": "gateway.key",
///           "etcd_user": "bext", "etcd_password_file": "etcd-password"}
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreAccess {
    /// CA certificates (PEM) that sign the store's certificate, trusted
    /// instead of the system's trust store. Default: the system's.
    pub ca_file: Option<PathBuf>,
    /// A client certificate (PEM) to show, with `key_file`. Default: none.
    pub cert_file: Option<PathBuf>,
    /// The client certificate's private key (PEM).
    pub key_file: Option<PathBuf>,
    /// The etcd user to log in as, with `etcd_password_file`. Default: no
    /// authentication.
    pub etcd_user: Option<String>,
    /// A file holding the etcd user's password (one trailing newline is
    /// dropped), so the password is in neither the command line nor the
    /// configuration.
    pub etcd_password_file: Option<PathBuf>,
}

impl StoreAccess {
    /// The paths resolved against `base` (the configuration file's folder).
    pub fn resolved(mut self, base: &Path) -> Self {
        for path in [
            &mut self.ca_file,
            &mut self.cert_file,
            &mut self.key_file,
            &mut self.etcd_password_file,
        ]
        .into_iter()
        .flatten()
        {
            if path.is_relative() {
                *path = base.join(&*path);
            }
        }
        self
    }

    fn uses_tls(&self) -> bool {
        self.ca_file.is_some() || self.cert_file.is_some() || self.key_file.is_some()
    }

    /// The TLS settings, read and checked.
    fn tls(&self) -> Result<StoreTls, String> {
        let mut tls = StoreTls::new();
        if let Some(ca) = &self.ca_file {
            tls = tls.ca_file(ca).map_err(|e| e.to_string())?;
        }
        match (&self.cert_file, &self.key_file) {
            (Some(cert), Some(key)) => {
                tls = tls
                    .client_identity_files(cert, key)
                    .map_err(|e| e.to_string())?
            }
            (None, None) => {}
            _ => return Err("store: `cert_file` and `key_file` go together".into()),
        }
        Ok(tls)
    }

    /// The etcd user and password, if any.
    fn etcd_credentials(&self) -> Result<Option<(String, String)>, String> {
        match (&self.etcd_user, &self.etcd_password_file) {
            (None, None) => Ok(None),
            (Some(user), Some(file)) => {
                let password = std::fs::read_to_string(file)
                    .map_err(|e| format!("store: etcd_password_file {}: {e}", file.display()))?;
                let password = password.strip_suffix('\n').unwrap_or(&password);
                Ok(Some((user.clone(), password.to_string())))
            }
            _ => Err("store: `etcd_user` and `etcd_password_file` go together".into()),
        }
    }
}

impl SourceSpec {
    /// The source. `poll` is the folder's quiet time before it is read
    /// after a change, and the HTTP endpoint's poll interval (etcd pushes
    /// its changes); `access` says how an etcd or `https://` store is
    /// verified and logged in to. TLS settings for an `http://` store are
    /// an error, not ignored.
    pub fn open(
        &self,
        poll: Duration,
        access: &StoreAccess,
    ) -> Result<Box<dyn PluginSource>, String> {
        let plain = |scheme_https: bool| {
            if access.uses_tls() && !scheme_https {
                Err(format!(
                    "{self}: the configuration's `store` has TLS settings but the source is http://; use https://"
                ))
            } else {
                Ok(())
            }
        };
        Ok(match self {
            SourceSpec::Folder(dir) => Box::new(FolderSource::new(dir).debounce(poll)),
            SourceSpec::Etcd { endpoints, prefix } => {
                plain(endpoints.iter().all(|e| e.starts_with("https://")))?;
                let mut source = EtcdSource::new(endpoints.as_slice(), prefix.clone());
                if access.uses_tls() {
                    source = source.tls(access.tls()?);
                }
                if let Some((user, password)) = access.etcd_credentials()? {
                    source = source.user(user, password);
                }
                Box::new(source)
            }
            SourceSpec::Dynacode(url) => {
                plain(url.starts_with("https://"))?;
                let mut source = DynacodeSource::new(url)
                    .map_err(|e| e.to_string())?
                    .interval(poll);
                if access.uses_tls() {
                    source = source.tls(access.tls()?);
                }
                Box::new(source)
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_each_kind_and_says_what_is_wrong() {
        assert_eq!(
            "folder:/srv/plugins".parse::<SourceSpec>(),
            Ok(SourceSpec::Folder("/srv/plugins".into()))
        );
        let etcd = SourceSpec::Etcd {
            endpoints: vec!["http://127.0.0.1:2379".into()],
            prefix: "/bext/plugins/".into(),
        };
        assert_eq!(
            "etcd:127.0.0.1:2379/bext/plugins/".parse::<SourceSpec>(),
            Ok(etcd.clone())
        );
        assert_eq!(
            "etcd:http://127.0.0.1:2379/bext/plugins/".parse::<SourceSpec>(),
            Ok(etcd.clone())
        );
        assert_eq!(etcd.to_string(), "etcd:http://127.0.0.1:2379/bext/plugins/");
        let two: SourceSpec = "etcd:a:1,http://b:2/p/".parse().unwrap();
        assert_eq!(
            two,
            SourceSpec::Etcd {
                endpoints: vec!["http://a:1".into(), "http://b:2".into()],
                prefix: "/p/".into()
            }
        );
        assert_eq!(
            "http://api:8000/plugins.json".parse::<SourceSpec>(),
            Ok(SourceSpec::Dynacode("http://api:8000/plugins.json".into()))
        );
        let err = |text: &str| text.parse::<SourceSpec>().unwrap_err();
        assert!(err("etcd:127.0.0.1:2379").contains("no key prefix"));
        assert!(err("etcd:a:1,/p/").contains("empty endpoint"));
        assert!(err("folder:").contains("folder:<dir>"));
        assert!(err("ftp://x/y").contains("unknown plugin source"));
        assert!(err("etcd:https://a:1,http://b:2/p/").contains("mixes https:// and http://"));
        assert_eq!(
            "etcd:https://a:1, https://b:2/p/".parse::<SourceSpec>(),
            Ok(SourceSpec::Etcd {
                endpoints: vec!["https://a:1".into(), "https://b:2".into()],
                prefix: "/p/".into()
            })
        );
        assert_eq!(
            "https://api:8443/plugins.json".parse::<SourceSpec>(),
            Ok(SourceSpec::Dynacode("https://api:8443/plugins.json".into()))
        );
    }

    #[test]
    fn tls_settings_for_a_plain_store_are_refused() {
        let access = StoreAccess {
            ca_file: Some("ca.pem".into()),
            ..StoreAccess::default()
        };
        for plain in ["etcd:127.0.0.1:2379/p/", "http://127.0.0.1:1/plugins.json"] {
            let spec: SourceSpec = plain.parse().unwrap();
            let error = spec
                .open(Duration::from_millis(10), &access)
                .err()
                .expect("refused");
            assert!(error.contains("use https://"), "{error}");
        }
        let half = StoreAccess {
            etcd_user: Some("bext".into()),
            ..StoreAccess::default()
        };
        let spec: SourceSpec = "etcd:https://127.0.0.1:2379/p/".parse().unwrap();
        let error = spec
            .open(Duration::from_millis(10), &half)
            .err()
            .expect("refused");
        assert!(error.contains("go together"), "{error}");
    }
}
