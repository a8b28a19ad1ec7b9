//! Where the tenants' plugins come from: the `--source` flag, turned into
//! one of `bext-plugin-sources`' sources. The [`Reconciler`] of the
//! gateway ([`Gateway::reconciler`]) watches it.
//!
//! [`Reconciler`]: bext_plugin_sources::Reconciler
//! [`Gateway::reconciler`]: crate::Gateway::reconciler

use bext_plugin_sources::{DynacodeSource, EtcdSource, FolderSource, PluginSource, SourceError};
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

/// A plugin source as the command line names it.
///
/// | flag value | source |
/// |---|---|
/// | `folder:<dir>` | [`FolderSource`]: `<dir>/<tenant>/<name>.lua`, with the tenant's `config.json` / `manifest.json`; watched |
/// | `etcd:<host:port>[,<host:port>...]<prefix>` | [`EtcdSource`]: one key per plugin, `<prefix><tenant>/<name>`; watched |
/// | `http://<host:port>/<path>` | [`DynacodeSource`]: a JSON API in lua-resty-dynacode's format; polled |
///
/// For example `etcd:127.0.0.1:2379/bext/plugins/` or
/// `etcd:10.0.0.1:2379,10.0.0.2:2379/bext/plugins/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceSpec {
    /// A plugin folder.
    Folder(PathBuf),
    /// An etcd key prefix.
    Etcd {
        /// Client URLs (`http://host:port`).
        endpoints: Vec<String>,
        /// The key prefix, starting with `/`.
        prefix: String,
    },
    /// A dynacode-style HTTP endpoint (`http://` URL).
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
            let usage = "etcd:<host:port>[,<host:port>...]/<prefix>/, e.g. etcd:127.0.0.1:2379/bext/plugins/";
            // Endpoints are plain http (etcd-client without TLS): drop the
            // scheme, so the first `/` left starts the prefix.
            let rest = rest.replace("http://", "");
            let (endpoints, prefix) = rest
                .split_once('/')
                .ok_or_else(|| format!("`{text}` has no key prefix: {usage}"))?;
            let endpoints: Vec<String> = endpoints
                .split(',')
                .map(str::trim)
                .map(|e| {
                    if e.is_empty() {
                        Err(format!("`{text}` has an empty endpoint: {usage}"))
                    } else {
                        Ok(format!("http://{e}"))
                    }
                })
                .collect::<Result<_, _>>()?;
            return Ok(SourceSpec::Etcd {
                endpoints,
                prefix: format!("/{prefix}"),
            });
        }
        if text.starts_with("http://") {
            return Ok(SourceSpec::Dynacode(text.into()));
        }
        Err(format!(
            "unknown plugin source `{text}`: expected folder:<dir>, etcd:<host:port>/<prefix> or http://<host:port>/<path>"
        ))
    }
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

impl SourceSpec {
    /// The source. `poll` is the folder's quiet time before it is read
    /// after a change, and the HTTP endpoint's poll interval (etcd pushes
    /// its changes).
    #[allow(clippy::result_large_err)] // bext-plugin-sources' error type, on the start-up path
    pub fn open(&self, poll: Duration) -> Result<Box<dyn PluginSource>, SourceError> {
        Ok(match self {
            SourceSpec::Folder(dir) => Box::new(FolderSource::new(dir).debounce(poll)),
            SourceSpec::Etcd { endpoints, prefix } => {
                Box::new(EtcdSource::new(endpoints.as_slice(), prefix.clone()))
            }
            SourceSpec::Dynacode(url) => Box::new(DynacodeSource::new(url)?.interval(poll)),
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
        assert!(err("https://x/y").contains("unknown plugin source"));
    }
}
