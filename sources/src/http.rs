//! [`DynacodeSource`]: plugins from a JSON API in lua-resty-dynacode's
//! format, polled with `If-None-Match`.

use crate::desired::{DesiredPlugin, DesiredSet};
use crate::error::{SourceError, error_chain};
use crate::source::{PluginSource, SourceEvent, SourceSignal, Wait};
use crate::tls::StoreTls;
use bext_plugin_api::types::{PluginCapability, PluginManifest};
use http_body_util::{BodyExt, Empty, Limited};
use hyper::body::Bytes;
use hyper::header::{ETAG, IF_NONE_MATCH};
use hyper::{StatusCode, Uri};
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::Deserialize;
use std::time::Duration;

/// Polls an HTTP endpoint that serves plugins in lua-resty-dynacode's JSON
/// format:
///
/// ```json
/// {
///   "general": {"status": "enabled"},
///   "domains": [
///     {"name": "acme.example",
///      "plugins": [
///        {"name": "block_admin", "phase": "access",
///         "code": "if ctx_json:find('\"path\":\"/admin', 1, true) then return bext.middleware_respond('{\"status\":403}') end"}
///      ]}
///   ]
/// }
/// ```
///
/// Each domain is a tenant (its `name` as is, `*` included) and each of its
/// plugins a plugin. As in dynacode, `code` is the **body of a function**
/// run in that phase; the source wraps it into a script of the bext
/// contract according to the phase ([`phase_capability`] has the table):
/// `rewrite`/`access` → `on_request(self, ctx_json)` (middleware),
/// `header_filter` → `on_response(self, arg_json)` (middleware), `log` →
/// `on_request_complete(self, event_json)` and `init`/`init_worker` →
/// `on_server_start(self, config_json)` (lifecycle). The manifest declares
/// that capability. The code runs in the sandbox with the `bext` table, not
/// OpenResty's `ngx`. An optional `"config"` object per plugin becomes its
/// config section. `"general": {"status": "disabled"}` means no plugins (as
/// dynacode runs none); `skip_domains` and the domain regexes are the
/// server's routing, not mapped here.
///
/// The endpoint is asked every interval (default 15 s, dynacode's
/// default), with the last `ETag` in `If-None-Match`: a `304` is
/// [`SourceEvent::Unchanged`]. A connection failure or no complete answer
/// within the timeout (default 5 s) is [`SourceError::Unreachable`]; an
/// error status, a body that is not JSON or not in this format, a
/// truncated body or one larger than the limit (default 16 MiB) is
/// [`SourceError::BadResponse`]. In every such case the last good set keeps
/// serving and the ETag is not updated. A plugin with a phase that has no
/// equivalent is a broken entry ([`SourceError::BadEntry`]).
///
/// `https://` URLs are fetched over TLS (rustls), verified as
/// [`StoreTls`] says (default: the system's trust store; [`tls`](Self::tls)
/// sets a private CA or a client certificate); a failed handshake is
/// [`SourceError::Unreachable`] with its cause, never a plain-text read.
/// `http://` URLs are plain text: an API on the same host or network.
pub struct DynacodeSource {
    uri: Uri,
    id: String,
    interval: Duration,
    timeout: Duration,
    max_body_bytes: usize,
    tls: Option<StoreTls>,
    etag: Option<String>,
    started: bool,
    runtime: Option<tokio::runtime::Runtime>,
    /// Made on the first poll (the TLS settings are known by then).
    client: Option<HttpClient>,
}

/// The client of the URL's scheme: an `https://` URL's connector speaks
/// TLS only (`https_only`), so it cannot fall back to plain text.
enum HttpClient {
    Plain(Client<HttpConnector, Empty<Bytes>>),
    Tls(Client<HttpsConnector<HttpConnector>, Empty<Bytes>>),
}

impl std::fmt::Debug for DynacodeSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DynacodeSource")
            .field("uri", &self.uri)
            .field("interval", &self.interval)
            .field("timeout", &self.timeout)
            .field("tls", &self.tls)
            .field("etag", &self.etag)
            .finish_non_exhaustive()
    }
}

impl DynacodeSource {
    /// Polls `url` (`https://host:port/path` or `http://host:port/path`).
    /// The source id is the URL.
    pub fn new(url: &str) -> Result<Self, SourceError> {
        let uri: Uri = url.parse().map_err(|e| SourceError::BadResponse {
            source_id: url.into(),
            message: format!("not a URL: {e}"),
        })?;
        if !matches!(uri.scheme_str(), Some("http" | "https")) {
            return Err(SourceError::BadResponse {
                source_id: url.into(),
                message: "only https:// and http:// URLs are supported".into(),
            });
        }
        Ok(DynacodeSource {
            id: url.into(),
            uri,
            interval: Duration::from_secs(15),
            timeout: Duration::from_secs(5),
            max_body_bytes: 16 << 20,
            tls: None,
            etag: None,
            started: false,
            runtime: None,
            client: None,
        })
    }

    /// How an `https://` URL's server is verified and which client
    /// certificate is shown. Default: [`StoreTls::new`] (the system's trust
    /// store, no client certificate). Given for an `http://` URL, every
    /// poll fails with [`SourceError::Tls`]: the settings are not ignored.
    pub fn tls(mut self, tls: StoreTls) -> Self {
        self.tls = Some(tls);
        self.client = None;
        self
    }

    fn make_client(&self) -> Result<HttpClient, SourceError> {
        let builder = Client::builder(TokioExecutor::new());
        if self.uri.scheme_str() == Some("https") {
            let config = self.tls.clone().unwrap_or_default().rustls()?;
            let connector = HttpsConnectorBuilder::new()
                .with_tls_config(config)
                .https_only()
                .enable_http1()
                .build();
            return Ok(HttpClient::Tls(builder.build(connector)));
        }
        if self.tls.is_some() {
            return Err(SourceError::Tls {
                message: format!(
                    "{}: TLS settings for an http:// URL (use https://)",
                    self.id
                ),
            });
        }
        Ok(HttpClient::Plain(builder.build_http()))
    }

    /// Time between polls. Default: 15 s.
    pub fn interval(mut self, interval: Duration) -> Self {
        self.interval = interval;
        self
    }

    /// Longest wait for a complete answer (connect, headers and body).
    /// Default: 5 s.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Largest body accepted. Default: 16 MiB.
    pub fn max_body_bytes(mut self, bytes: usize) -> Self {
        self.max_body_bytes = bytes;
        self
    }

    fn unreachable(&self, message: String) -> SourceError {
        SourceError::Unreachable {
            source_id: self.id.clone(),
            message,
        }
    }

    fn bad_response(&self, message: String) -> SourceError {
        SourceError::BadResponse {
            source_id: self.id.clone(),
            message,
        }
    }

    /// One request: the new set, `Unchanged`, or why not.
    async fn fetch(
        &self,
        client: &HttpClient,
    ) -> Result<Option<(DesiredSet, Option<String>)>, SourceError> {
        let mut request = hyper::Request::get(self.uri.clone());
        if let Some(etag) = &self.etag {
            request = request.header(IF_NONE_MATCH, etag);
        }
        let request = request
            .body(Empty::new())
            .map_err(|e| self.bad_response(format!("building the request: {e}")))?;
        let response = match client {
            HttpClient::Plain(client) => client.request(request).await,
            HttpClient::Tls(client) => client.request(request).await,
        }
        .map_err(|e| self.unreachable(error_chain(&e)))?;
        let status = response.status();
        if status == StatusCode::NOT_MODIFIED {
            return Ok(None);
        }
        if status != StatusCode::OK {
            return Err(self.bad_response(format!("HTTP {status}")));
        }
        let etag = response
            .headers()
            .get(ETAG)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = Limited::new(response.into_body(), self.max_body_bytes)
            .collect()
            .await
            .map_err(|e| self.bad_response(format!("reading the body: {}", error_chain(&*e))))?
            .to_bytes();
        let set = parse_dynacode(&self.id, &body)?;
        Ok(Some((set, etag)))
    }

    fn poll(&mut self, signal: &SourceSignal) -> SourceEvent {
        if self.client.is_none() {
            match self.make_client() {
                Ok(client) => self.client = Some(client),
                Err(error) => return SourceEvent::Unavailable(error),
            }
        }
        if self.runtime.is_none() {
            match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => self.runtime = Some(runtime),
                Err(e) => {
                    return SourceEvent::Unavailable(
                        self.unreachable(format!("starting the I/O runtime: {e}")),
                    );
                }
            }
        }
        let runtime = self.runtime.as_ref().expect("set above");
        let client = self.client.as_ref().expect("set above");
        // The timer is made inside the runtime (an async block), which it needs.
        let outcome = runtime.block_on(signal.unless_stopped(async {
            tokio::time::timeout(self.timeout, self.fetch(client)).await
        }));
        match outcome {
            None => SourceEvent::Stopped,
            Some(Err(_elapsed)) => SourceEvent::Unavailable(self.unreachable(format!(
                "no complete answer within {} ms",
                self.timeout.as_millis()
            ))),
            Some(Ok(Err(error))) => SourceEvent::Unavailable(error),
            Some(Ok(Ok(None))) => SourceEvent::Unchanged,
            Some(Ok(Ok(Some((set, etag))))) => {
                self.etag = etag;
                SourceEvent::Set(set)
            }
        }
    }
}

impl PluginSource for DynacodeSource {
    fn id(&self) -> &str {
        &self.id
    }

    fn next_event(&mut self, signal: &SourceSignal) -> SourceEvent {
        if self.started {
            // Wait out the interval; a wake polls at once.
            if let Wait::Stopped = signal.wait(signal.wakes(), Some(self.interval)) {
                return SourceEvent::Stopped;
            }
        }
        self.started = true;
        if signal.is_stopped() {
            return SourceEvent::Stopped;
        }
        self.poll(signal)
    }
}

#[derive(Deserialize)]
struct Response {
    #[serde(default)]
    general: Option<General>,
    domains: Vec<Domain>,
}

#[derive(Deserialize)]
struct General {
    #[serde(default)]
    status: Option<String>,
}

#[derive(Deserialize)]
struct Domain {
    name: String,
    #[serde(default)]
    plugins: Vec<Plugin>,
}

#[derive(Deserialize)]
struct Plugin {
    name: String,
    phase: String,
    code: String,
    #[serde(default)]
    version: Option<serde_json::Value>,
    #[serde(default)]
    config: Option<serde_json::Value>,
}

/// The capability a dynacode phase maps to, and the method its code
/// becomes the body of; `None` for phases with no equivalent here.
///
/// | dynacode phase | capability | the code is the body of |
/// |---|---|---|
/// | `rewrite`, `access` | `middleware` | `on_request(self, ctx_json)` |
/// | `header_filter` | `middleware` | `on_response(self, arg_json)` (requests pass on) |
/// | `log` | `lifecycle` | `on_request_complete(self, event_json)` |
/// | `init`, `init_worker` | `lifecycle` | `on_server_start(self, config_json)` |
/// | `content`, `body_filter`, `balancer`, `ssl_*`, `set`, `timer`, `exit_worker`, others | none: a broken entry | |
pub fn phase_capability(phase: &str) -> Option<(PluginCapability, &'static str)> {
    match phase {
        "rewrite" | "access" => Some((
            PluginCapability::Middleware,
            "on_request = function(self, ctx_json)",
        )),
        "header_filter" => Some((
            PluginCapability::Middleware,
            "on_request = function(self, ctx_json) return bext.middleware_continue() end,\non_response = function(self, arg_json)",
        )),
        "log" => Some((
            PluginCapability::Lifecycle,
            "on_request_complete = function(self, event_json)",
        )),
        "init" | "init_worker" => Some((
            PluginCapability::Lifecycle,
            "on_server_start = function(self, config_json)",
        )),
        _ => None,
    }
}

/// Reads a dynacode response body into a set (see [`DynacodeSource`]).
pub fn parse_dynacode(source_id: &str, body: &[u8]) -> Result<DesiredSet, SourceError> {
    let bad = |message: String| SourceError::BadResponse {
        source_id: source_id.into(),
        message,
    };
    let response: Response = serde_json::from_slice(body).map_err(|e| {
        bad(format!(
            "not a dynacode response (JSON with `domains`): {e}"
        ))
    })?;
    let mut set = DesiredSet::new();
    if response
        .general
        .and_then(|g| g.status)
        .is_some_and(|s| s != "enabled")
    {
        return Ok(set);
    }
    for domain in response.domains {
        for plugin in domain.plugins {
            set.insert_result(source_id, desired_plugin(source_id, &domain.name, plugin));
        }
    }
    Ok(set)
}

fn desired_plugin(
    source_id: &str,
    tenant: &str,
    plugin: Plugin,
) -> Result<DesiredPlugin, SourceError> {
    let bad = |message: String| SourceError::BadEntry {
        source_id: source_id.into(),
        tenant: tenant.into(),
        plugin: plugin.name.clone(),
        message,
    };
    let (capability, method) = phase_capability(&plugin.phase).ok_or_else(|| {
        bad(format!(
            "the dynacode phase `{}` has no equivalent capability",
            plugin.phase
        ))
    })?;
    let version = match &plugin.version {
        Some(serde_json::Value::String(v)) => v.clone(),
        Some(v) => v.to_string(),
        None => "0".into(),
    };
    let manifest = PluginManifest {
        name: plugin.name.clone(),
        version,
        description: format!("dynacode {} phase", plugin.phase),
        capabilities: vec![capability],
        requires_capabilities: Vec::new(),
        provides_capabilities: Vec::new(),
    };
    let config = match &plugin.config {
        None => "{}".to_string(),
        Some(c) if c.is_object() => c.to_string(),
        Some(c) => return Err(bad(format!("`config` must be a JSON object, found {c}"))),
    };
    // The code keeps its own lines: an error on its line N reads line N + 1.
    let source = format!("return {{ {method}\n{}\nend }}\n", plugin.code);
    DesiredPlugin::new(source_id, tenant, &plugin.name, manifest, config, source)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_map_to_capabilities() {
        let body = br#"{"general":{"status":"enabled"},"domains":[
            {"name":"acme.example","plugins":[
                {"name":"gate","phase":"access","code":"return bext.middleware_continue()"},
                {"name":"hdr","phase":"header_filter","code":"return nil"},
                {"name":"count","phase":"log","code":"bext.log('info', event_json)","config":{"n":1}},
                {"name":"page","phase":"content","code":"ngx.say('x')"}]},
            {"name":"*","plugins":[{"name":"gate","phase":"rewrite","code":"return nil","version":3}]}]}"#;
        let set = parse_dynacode("api", body).unwrap();
        assert_eq!(
            set.plugins().keys().collect::<Vec<_>>(),
            [
                "*/gate",
                "acme.example/count",
                "acme.example/gate",
                "acme.example/hdr"
            ]
        );
        let count = &set.plugins()["acme.example/count"];
        assert_eq!(count.manifest.capabilities, [PluginCapability::Lifecycle]);
        assert_eq!(count.config_json, r#"{"n":1}"#);
        assert!(
            count
                .source
                .contains("on_request_complete = function(self, event_json)\nbext.log")
        );
        assert_eq!(set.plugins()["*/gate"].manifest.version, "3");
        let page = &set.broken()["acme.example/page"];
        assert!(
            matches!(page, SourceError::BadEntry { message, .. } if message.contains("`content`")),
            "{page}"
        );
    }

    #[test]
    fn bad_bodies_are_typed_errors() {
        for body in [
            &b"<html>"[..],
            b"{\"domains\": 3}",
            b"{\"domains\":[{\"name\":\"a\",\"plugins\":[{\"name\":\"p\"}]}]}",
            b"{\"domai",
        ] {
            assert!(
                matches!(
                    parse_dynacode("api", body),
                    Err(SourceError::BadResponse { .. })
                ),
                "{body:?}"
            );
        }
        let disabled = parse_dynacode("api", br#"{"general":{"status":"disabled"},"domains":[{"name":"a","plugins":[{"name":"p","phase":"access","code":""}]}]}"#);
        assert!(disabled.unwrap().is_empty());
    }
}
