//! Request contexts as `try` reads them and as `bench` sends them.

use bext_plugin_api::middleware::{RequestContext, ResponseHeaders};
use serde::Deserialize;
use std::collections::HashMap;

/// One line of a `--requests` file: the `RequestContext` fields (all
/// optional), plus the response `on_response` sees when `on_request`
/// continues.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RequestLine {
    #[serde(default = "default_method")]
    method: String,
    #[serde(default = "default_path")]
    path: String,
    #[serde(default = "default_hostname")]
    hostname: String,
    #[serde(default)]
    headers: Vec<(String, String)>,
    #[serde(default)]
    query_string: String,
    #[serde(default)]
    peer_ip: Option<String>,
    #[serde(default)]
    tenant_id: Option<String>,
    #[serde(default)]
    site_id: Option<String>,
    #[serde(default)]
    extensions: HashMap<String, String>,
    /// The upstream response when the plugin continues: default 200, no headers.
    #[serde(default)]
    response: Option<ResponseLine>,
}

/// The `response` field of a request line.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ResponseLine {
    #[serde(default = "default_status")]
    status: u16,
    #[serde(default)]
    headers: Vec<(String, String)>,
}

fn default_method() -> String {
    "GET".into()
}
fn default_path() -> String {
    "/".into()
}
fn default_hostname() -> String {
    "localhost".into()
}
fn default_status() -> u16 {
    200
}

impl RequestLine {
    /// The request context.
    pub(super) fn context(&self) -> RequestContext {
        RequestContext {
            method: self.method.clone(),
            path: self.path.clone(),
            hostname: self.hostname.clone(),
            headers: self.headers.clone(),
            query_string: self.query_string.clone(),
            peer_ip: self.peer_ip.clone(),
            tenant_id: self.tenant_id.clone(),
            site_id: self.site_id.clone(),
            extensions: self.extensions.clone(),
        }
    }

    /// The upstream response for `on_response` when the request continues.
    pub(super) fn upstream_response(&self) -> ResponseHeaders {
        match &self.response {
            Some(r) => ResponseHeaders {
                status: r.status,
                headers: r.headers.clone(),
            },
            None => ResponseHeaders {
                status: 200,
                headers: Vec::new(),
            },
        }
    }
}

/// A typical request for benchmarks: a JSON API call with a few headers.
pub(super) fn sample_context() -> RequestContext {
    RequestContext {
        method: "GET".into(),
        path: "/api/v1/users/12345/profile".into(),
        hostname: "shop.example".into(),
        headers: vec![
            ("accept".into(), "application/json".into()),
            (
                "user-agent".into(),
                "Mozilla/5.0 (X11; Linux x86_64)".into(),
            ),
            ("authorization".into(), "Bearer s3cret-token".into()),
        ],
        query_string: "page=2&sort=name".into(),
        peer_ip: Some("203.0.113.7".into()),
        tenant_id: Some("tenant-42".into()),
        site_id: None,
        extensions: HashMap::new(),
    }
}

/// `ctx` as the JSON the runtime hands `on_request` (same fields, same order).
pub(super) fn context_json(ctx: &RequestContext) -> String {
    bext_plugin_lua_wasm::request_context_json(ctx)
}
