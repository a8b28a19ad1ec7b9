//! The crate's one error type.

use std::fmt;
use std::path::PathBuf;

/// Everything that can go wrong between a store and the runtime.
///
/// None of these stops a node from serving: a rejected version or a broken
/// entry leaves the plugin's last good version loaded, and an unreachable
/// store leaves every plugin of that source as it was.
///
/// Fields: `source_id` is the source's [`id`](crate::PluginSource::id)
/// (`folder:/srv/plugins`, `http://...`, `etcd:/bext/plugins/`), `tenant`
/// and `plugin` name the plugin, `message` says what was wrong.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
#[allow(missing_docs)] // the fields are described once, above
pub enum SourceError {
    /// The runtime refused this version of the plugin: it does not load
    /// (syntax or top-level error), fails its capability check, or its
    /// `on_reload` fails. `content_hash` names the refused version; `error`
    /// is the runtime's typed error.
    Rejected {
        tenant: String,
        plugin: String,
        content_hash: String,
        error: bext_plugin_lua_wasm::Error,
    },
    /// An entry of the store cannot become a plugin: a bad tenant or plugin
    /// name, a manifest or config that is not valid JSON, a source that is
    /// not UTF-8, a dynacode phase with no equivalent capability.
    BadEntry {
        source_id: String,
        tenant: String,
        plugin: String,
        message: String,
    },
    /// An entry of the store that names no plugin at all (an etcd key
    /// outside the `<prefix><tenant>/<plugin>` shape, a folder entry that is
    /// not a tenant folder or a `.lua` file).
    BadKey {
        source_id: String,
        key: String,
        message: String,
    },
    /// Another source already serves this tenant's plugin; the first source
    /// keeps it.
    Conflict {
        tenant: String,
        plugin: String,
        owner: String,
    },
    /// The store could not be reached or read: connection refused, no
    /// answer within the timeout, the folder missing or unreadable.
    Unreachable { source_id: String, message: String },
    /// The store answered with something that is not a plugin set: an HTTP
    /// error status, a body that is not JSON or not in the expected format,
    /// a truncated body.
    BadResponse { source_id: String, message: String },
    /// The last good set could not be written or read back.
    LastGood { path: PathBuf, message: String },
    /// TLS settings that cannot be used ([`StoreTls`](crate::StoreTls)): a
    /// CA or client certificate that is not PEM, a key that does not match
    /// its certificate, a file that cannot be read, TLS settings for an
    /// `http://` URL. A store that fails the TLS handshake is
    /// [`Unreachable`](Self::Unreachable) instead.
    Tls { message: String },
}

impl SourceError {
    /// The `(tenant, plugin)` this error is about, if it is about one plugin.
    pub fn plugin(&self) -> Option<(&str, &str)> {
        match self {
            SourceError::Rejected { tenant, plugin, .. }
            | SourceError::BadEntry { tenant, plugin, .. }
            | SourceError::Conflict { tenant, plugin, .. } => Some((tenant, plugin)),
            _ => None,
        }
    }
}

impl fmt::Display for SourceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SourceError::Rejected {
                tenant,
                plugin,
                content_hash,
                error,
            } => write!(
                f,
                "tenant `{tenant}` plugin `{plugin}`: version {} rejected, the last good version keeps serving: {error}",
                short_hash(content_hash)
            ),
            SourceError::BadEntry {
                source_id,
                tenant,
                plugin,
                message,
            } => {
                write!(
                    f,
                    "{source_id}: tenant `{tenant}` plugin `{plugin}`: {message}"
                )
            }
            SourceError::BadKey {
                source_id,
                key,
                message,
            } => write!(f, "{source_id}: `{key}`: {message}"),
            SourceError::Conflict {
                tenant,
                plugin,
                owner,
            } => {
                write!(
                    f,
                    "tenant `{tenant}` plugin `{plugin}` is already served by {owner}"
                )
            }
            SourceError::Unreachable { source_id, message } => {
                write!(f, "{source_id}: store unreachable: {message}")
            }
            SourceError::BadResponse { source_id, message } => {
                write!(f, "{source_id}: bad response: {message}")
            }
            SourceError::LastGood { path, message } => {
                write!(f, "last good set {}: {message}", path.display())
            }
            SourceError::Tls { message } => write!(f, "store TLS settings: {message}"),
        }
    }
}

impl std::error::Error for SourceError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SourceError::Rejected { error, .. } => Some(error),
            _ => None,
        }
    }
}

/// An error and its sources, `: `-separated (hyper-util's client error
/// alone says only "client error (SendRequest)", tonic's "transport
/// error"; the cause, such as an unknown certificate issuer, is further
/// down).
#[cfg(any(feature = "http", feature = "etcd"))]
pub(crate) fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        // Some errors repeat their source's text in their own.
        if !text.ends_with(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// The first 12 hex digits of a content hash, as logs show it.
pub(crate) fn short_hash(hash: &str) -> &str {
    hash.get(..12).unwrap_or(hash)
}
