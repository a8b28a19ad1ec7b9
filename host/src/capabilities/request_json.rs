//! The request as a script sees it, shared by the capabilities that hand a
//! script a request: `MiddlewarePlugin` (`RequestContext`) and `AuthPlugin`
//! (`AuthRequestContext`). The fields keep the traits' order; `headers` are
//! `[[name, value], ...]` (order and duplicates kept).

use bext_plugin_api::auth::AuthRequestContext;
use bext_plugin_api::middleware::RequestContext;
use serde::Serialize;
use std::collections::HashMap;

/// One request in JSON: the fields common to both contexts, then the one
/// each adds (`extensions` for middleware, `session_id` for auth; a field
/// the context does not have is left out, not null).
#[derive(Serialize)]
pub(crate) struct RequestJson<'a> {
    method: &'a str,
    path: &'a str,
    hostname: &'a str,
    headers: &'a [(String, String)],
    query_string: &'a str,
    peer_ip: Option<&'a str>,
    tenant_id: Option<&'a str>,
    site_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    extensions: Option<&'a HashMap<String, String>>,
    /// `Some(None)` is a null session; `None` leaves the field out.
    #[serde(skip_serializing_if = "Option::is_none")]
    session_id: Option<Option<&'a str>>,
}

impl<'a> From<&'a RequestContext> for RequestJson<'a> {
    fn from(ctx: &'a RequestContext) -> Self {
        RequestJson {
            method: &ctx.method,
            path: &ctx.path,
            hostname: &ctx.hostname,
            headers: &ctx.headers,
            query_string: &ctx.query_string,
            peer_ip: ctx.peer_ip.as_deref(),
            tenant_id: ctx.tenant_id.as_deref(),
            site_id: ctx.site_id.as_deref(),
            extensions: Some(&ctx.extensions),
            session_id: None,
        }
    }
}

impl<'a> From<&'a AuthRequestContext> for RequestJson<'a> {
    fn from(ctx: &'a AuthRequestContext) -> Self {
        RequestJson {
            method: &ctx.method,
            path: &ctx.path,
            hostname: &ctx.hostname,
            headers: &ctx.headers,
            query_string: &ctx.query_string,
            peer_ip: ctx.peer_ip.as_deref(),
            tenant_id: ctx.tenant_id.as_deref(),
            site_id: ctx.site_id.as_deref(),
            extensions: None,
            session_id: Some(ctx.session_id.as_deref()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_context_keeps_its_own_fields() {
        let ctx = RequestContext {
            method: "GET".into(),
            path: "/".into(),
            hostname: "h".into(),
            headers: vec![],
            query_string: String::new(),
            peer_ip: None,
            tenant_id: None,
            site_id: None,
            extensions: HashMap::new(),
        };
        let json = serde_json::to_value(RequestJson::from(&ctx)).unwrap();
        assert!(json.get("extensions").is_some() && json.get("session_id").is_none());
        let auth = AuthRequestContext {
            method: "GET".into(),
            path: "/".into(),
            hostname: "h".into(),
            headers: vec![],
            query_string: String::new(),
            peer_ip: None,
            tenant_id: None,
            site_id: None,
            session_id: None,
        };
        let json = serde_json::to_value(RequestJson::from(&auth)).unwrap();
        assert_eq!(json.get("session_id"), Some(&serde_json::Value::Null));
        assert!(json.get("extensions").is_none());
    }
}
