//! [`EtcdSource`]: plugins under a key prefix in etcd, watched.

use crate::desired::{DesiredPlugin, DesiredSet, check_name, manifest_or_default};
use crate::error::{SourceError, error_chain};
use crate::source::{PluginSource, SourceEvent, SourceSignal, Wait};
use crate::tls::StoreTls;
use etcd_client::{
    Client, ConnectOptions, EventType, GetOptions, KeyValue, WatchOptions, WatchStream,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

/// The value stored at `<prefix><tenant>/<plugin>`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EtcdPluginValue {
    /// The Lua source.
    pub source: String,
    /// The manifest (optional: `{"name": <plugin>, "version": "0.0.0"}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifest: Option<serde_json::Value>,
    /// The config section (optional: `{}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<serde_json::Value>,
}

/// Watches the plugins under a key prefix of an etcd cluster, as APISIX
/// keeps its configuration: every node watching the prefix converges on
/// the same set.
///
/// Layout: one key per plugin, `<prefix><tenant>/<plugin>`, whose value is
/// JSON ([`EtcdPluginValue`]):
///
/// ```json
/// {"source": "return { on_request = ... }", "manifest": {"version": "1.0.0", "capabilities": ["middleware"]}, "config": {"limit": 100}}
/// ```
///
/// A change to one plugin is one `put`; deleting the key unloads the
/// plugin. A value that is not such JSON is a broken entry (the plugin's
/// last good version keeps serving); a key not of the form
/// `<tenant>/<plugin>` under the prefix is reported in the source's status
/// and ignored.
///
/// The source lists the prefix, then watches it from the listed revision
/// on. When the connection breaks it reports [`SourceError::Unreachable`]
/// (everything keeps serving) and reconnects every retry interval (default
/// 1 s), resuming the watch from the last revision it saw; if etcd has
/// compacted that revision away, it lists the prefix again. Connect
/// timeout 2 s, request timeout 5 s, HTTP/2 keep-alive every 5 s so a dead
/// peer is noticed.
///
/// **TLS and credentials.** `https://` endpoints are reached over TLS
/// (rustls), verified as [`StoreTls`] says (default: the system's trust
/// store; [`tls`](Self::tls) sets the cluster's CA and a client
/// certificate for `--client-cert-auth`). [`user`](Self::user) logs in
/// with etcd's user and password authentication (default: none). A failed
/// handshake (a wrong CA, a plain-text server behind an `https://`
/// endpoint) or refused credentials are [`SourceError::Unreachable`] with
/// the cause; everything keeps serving and the source retries. TLS
/// settings with an `http://` endpoint are [`SourceError::Tls`], never
/// dropped for a plain-text connection.
pub struct EtcdSource {
    endpoints: Vec<String>,
    prefix: String,
    id: String,
    tls: Option<StoreTls>,
    user: Option<(String, String)>,
    connect_timeout: Duration,
    request_timeout: Duration,
    retry: Duration,
    runtime: Option<tokio::runtime::Runtime>,
    watch: Option<WatchStream>,
    entries: BTreeMap<String, Result<DesiredPlugin, SourceError>>,
    /// The last revision seen; `None` until the first list (or after a
    /// compaction), when the next connection must list.
    revision: Option<i64>,
    started: bool,
    reconnect_now: bool,
}

impl std::fmt::Debug for EtcdSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EtcdSource")
            .field("endpoints", &self.endpoints)
            .field("prefix", &self.prefix)
            .field("tls", &self.tls)
            // Never the password.
            .field("user", &self.user.as_ref().map(|(name, _)| name))
            .field("revision", &self.revision)
            .field("connected", &self.watch.is_some())
            .finish_non_exhaustive()
    }
}

/// How a (re)connection ended.
enum Synced {
    /// The prefix was listed.
    Listed,
    /// The watch resumed from the last revision seen.
    Resumed,
}

impl EtcdSource {
    /// Watches `prefix` (for example `/bext/plugins/`) on the cluster at
    /// `endpoints` (`https://10.0.0.1:2379`, `http://127.0.0.1:2379`).
    /// The source id is `etcd:<prefix>`.
    pub fn new(endpoints: &[impl AsRef<str>], prefix: impl Into<String>) -> Self {
        let prefix = prefix.into();
        EtcdSource {
            endpoints: endpoints.iter().map(|e| e.as_ref().to_string()).collect(),
            id: format!("etcd:{prefix}"),
            prefix,
            tls: None,
            user: None,
            connect_timeout: Duration::from_secs(2),
            request_timeout: Duration::from_secs(5),
            retry: Duration::from_secs(1),
            runtime: None,
            watch: None,
            entries: BTreeMap::new(),
            revision: None,
            started: false,
            reconnect_now: false,
        }
    }

    /// How long to wait between reconnection attempts. Default: 1 s.
    pub fn retry(mut self, retry: Duration) -> Self {
        self.retry = retry;
        self
    }

    /// Connect timeout. Default: 2 s.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How `https://` endpoints are verified and which client certificate
    /// is shown. Default: [`StoreTls::new`] (the system's trust store, no
    /// client certificate).
    pub fn tls(mut self, tls: StoreTls) -> Self {
        self.tls = Some(tls);
        self
    }

    /// Logs in as this etcd user (etcd's `auth enable`); the token is
    /// renewed when it expires. Default: no authentication.
    pub fn user(mut self, name: impl Into<String>, password: impl Into<String>) -> Self {
        self.user = Some((name.into(), password.into()));
        self
    }

    /// The JSON to `put` at `<prefix><tenant>/<plugin>` for a plugin.
    pub fn value(
        source: &str,
        manifest: Option<serde_json::Value>,
        config: Option<serde_json::Value>,
    ) -> String {
        serde_json::to_string(&EtcdPluginValue {
            source: source.into(),
            manifest,
            config,
        })
        .unwrap_or_default()
    }

    fn unreachable(&self, message: impl std::fmt::Display) -> SourceError {
        SourceError::Unreachable {
            source_id: self.id.clone(),
            message: message.to_string(),
        }
    }

    /// Runs `future` unless the signal stops first (`None`).
    fn block_on<T>(
        &mut self,
        signal: &SourceSignal,
        future: impl Future<Output = T>,
    ) -> Result<Option<T>, SourceError> {
        if self.runtime.is_none() {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| self.unreachable(format!("starting the I/O runtime: {e}")))?;
            self.runtime = Some(runtime);
        }
        let runtime = self.runtime.as_ref().expect("set above");
        Ok(runtime.block_on(signal.unless_stopped(future)))
    }

    /// Connects, lists the prefix (or resumes the watch) and starts
    /// watching.
    async fn sync(
        endpoints: Vec<String>,
        prefix: String,
        options: ConnectOptions,
        resume_from: Option<i64>,
    ) -> Result<(WatchStream, Option<(Vec<KeyValue>, i64)>), etcd_client::Error> {
        let mut client = Client::connect(&endpoints, Some(options)).await?;
        let (listed, start) = match resume_from {
            Some(revision) => (None, revision + 1),
            None => {
                let response = client
                    .get(prefix.as_bytes(), Some(GetOptions::new().with_prefix()))
                    .await?;
                let revision = response.header().map_or(0, |h| h.revision());
                (Some((response.kvs().to_vec(), revision)), revision + 1)
            }
        };
        let watch = client
            .watch(
                prefix.as_bytes(),
                Some(WatchOptions::new().with_prefix().with_start_revision(start)),
            )
            .await?;
        Ok((watch, listed))
    }

    fn connect(&mut self, signal: &SourceSignal) -> SourceEvent {
        let mut options = ConnectOptions::new()
            .with_connect_timeout(self.connect_timeout)
            .with_timeout(self.request_timeout)
            .with_keep_alive(Duration::from_secs(5), Duration::from_secs(5));
        // An https:// endpoint gets the default settings when none were
        // given; settings with an http:// one are refused, not dropped.
        let https = self.endpoints.iter().any(|e| e.starts_with("https://"));
        if self.tls.is_some() && self.endpoints.iter().any(|e| e.starts_with("http://")) {
            return SourceEvent::Unavailable(SourceError::Tls {
                message: format!(
                    "{}: TLS settings for an http:// endpoint (use https://)",
                    self.id
                ),
            });
        }
        if let Some(tls) = self.tls.clone().or_else(|| https.then(StoreTls::new)) {
            options = options.with_tls(tls.etcd());
        }
        if let Some((name, password)) = &self.user {
            options = options
                .with_user(name.clone(), password.clone())
                .with_auto_token_refresh(true);
        }
        let future = Self::sync(
            self.endpoints.clone(),
            self.prefix.clone(),
            options,
            self.revision,
        );
        let bound = self.request_timeout + self.connect_timeout;
        // The timer is made inside the runtime (an async block), which it needs.
        let outcome =
            match self.block_on(
                signal,
                async move { tokio::time::timeout(bound, future).await },
            ) {
                Err(error) => return SourceEvent::Unavailable(error),
                Ok(None) => return SourceEvent::Stopped,
                Ok(Some(outcome)) => outcome,
            };
        match outcome {
            Err(_elapsed) => SourceEvent::Unavailable(
                self.unreachable(format!("no answer within {} ms", bound.as_millis())),
            ),
            Ok(Err(error)) => SourceEvent::Unavailable(self.unreachable(etcd_error(&error))),
            Ok(Ok((watch, listed))) => {
                self.watch = Some(watch);
                match listed {
                    Some((kvs, revision)) => {
                        self.entries = kvs
                            .iter()
                            .map(|kv| (key_text(kv), self.parse(kv)))
                            .collect();
                        self.revision = Some(revision);
                        self.synced(Synced::Listed)
                    }
                    None => self.synced(Synced::Resumed),
                }
            }
        }
    }

    fn synced(&self, how: Synced) -> SourceEvent {
        match how {
            Synced::Listed => SourceEvent::Set(self.set()),
            // Nothing new until the watch says so.
            Synced::Resumed => SourceEvent::Unchanged,
        }
    }

    /// The next message of the watch: a changed set, or a lost connection.
    fn next_change(&mut self, signal: &SourceSignal) -> Option<SourceEvent> {
        let mut watch = self.watch.take()?;
        let message = match self.block_on(signal, watch.message()) {
            Err(error) => return Some(SourceEvent::Unavailable(error)),
            Ok(None) => return Some(SourceEvent::Stopped),
            Ok(Some(message)) => message,
        };
        let response = match message {
            Ok(Some(response)) => response,
            Ok(None) => {
                return Some(SourceEvent::Unavailable(
                    self.unreachable("the watch stream ended"),
                ));
            }
            Err(error) => {
                return Some(SourceEvent::Unavailable(
                    self.unreachable(etcd_error(&error)),
                ));
            }
        };
        if response.compact_revision() > 0 {
            tracing::warn!(source = %self.id, compacted = response.compact_revision(),
                "etcd compacted the revisions being watched; listing the prefix again");
            self.revision = None;
            self.reconnect_now = true;
            return None;
        }
        if response.canceled() {
            tracing::warn!(source = %self.id, reason = response.cancel_reason(), "etcd canceled the watch; listing again");
            self.revision = None;
            self.reconnect_now = true;
            return None;
        }
        self.watch = Some(watch);
        if response.events().is_empty() {
            return None;
        }
        for event in response.events() {
            let Some(kv) = event.kv() else { continue };
            self.revision = Some(self.revision.unwrap_or(0).max(kv.mod_revision()));
            match event.event_type() {
                EventType::Put => {
                    self.entries.insert(key_text(kv), self.parse(kv));
                }
                EventType::Delete => {
                    self.entries.remove(&key_text(kv));
                }
            }
        }
        Some(SourceEvent::Set(self.set()))
    }

    fn set(&self) -> DesiredSet {
        let mut set = DesiredSet::new();
        for entry in self.entries.values() {
            set.insert_result(&self.id, entry.clone());
        }
        set
    }

    /// One key-value pair as a plugin.
    fn parse(&self, kv: &KeyValue) -> Result<DesiredPlugin, SourceError> {
        let key = key_text(kv);
        let bad_key = |message: &str| SourceError::BadKey {
            source_id: self.id.clone(),
            key: key.clone(),
            message: message.into(),
        };
        let name = key
            .strip_prefix(&self.prefix)
            .ok_or_else(|| bad_key("outside the prefix"))?;
        let (tenant, plugin) = name
            .split_once('/')
            .ok_or_else(|| bad_key("expected <prefix><tenant>/<plugin>"))?;
        check_name(tenant).map_err(|m| bad_key(&format!("tenant: {m}")))?;
        check_name(plugin).map_err(|m| bad_key(&format!("plugin: {m}")))?;
        let bad = |message: String| SourceError::BadEntry {
            source_id: self.id.clone(),
            tenant: tenant.into(),
            plugin: plugin.into(),
            message,
        };
        let value: EtcdPluginValue = serde_json::from_slice(kv.value()).map_err(|e| {
            bad(format!(
                "the value is not {{\"source\": ..., \"manifest\": ..., \"config\": ...}} JSON: {e}"
            ))
        })?;
        let manifest = manifest_or_default(plugin, value.manifest).map_err(bad)?;
        let config = match value.config {
            None => "{}".to_string(),
            Some(config) => config.to_string(),
        };
        DesiredPlugin::new(&self.id, tenant, plugin, manifest, config, value.source)
    }
}

/// etcd-client's error with its cause (its own `source()` is empty: a TLS
/// failure would read "transport error" alone; a gRPC status shows its
/// own).
fn etcd_error(error: &etcd_client::Error) -> String {
    match error {
        etcd_client::Error::TransportError(e) => format!("transport error: {}", error_chain(e)),
        other => other.to_string(),
    }
}

fn key_text(kv: &KeyValue) -> String {
    String::from_utf8_lossy(kv.key()).into_owned()
}

impl PluginSource for EtcdSource {
    fn id(&self) -> &str {
        &self.id
    }

    fn next_event(&mut self, signal: &SourceSignal) -> SourceEvent {
        loop {
            if signal.is_stopped() {
                return SourceEvent::Stopped;
            }
            if self.watch.is_some() {
                match self.next_change(signal) {
                    Some(event) => return event,
                    None => continue,
                }
            }
            if self.started
                && !self.reconnect_now
                && let Wait::Stopped = signal.wait(signal.wakes(), Some(self.retry))
            {
                return SourceEvent::Stopped;
            }
            self.started = true;
            self.reconnect_now = false;
            return self.connect(signal);
        }
    }
}
