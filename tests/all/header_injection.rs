//! Header and response splitting: every place a script's output becomes an
//! HTTP header, a redirect or a URL refuses names that are not RFC 9110
//! tokens and values with control characters (CR, LF, NUL, ...), with
//! `Error::BadEnvelope` naming the plugin and the header, before anything
//! reaches the server. Valid text passes unchanged.

use crate::common::*;
use bext_plugin_api::auth::{AuthRequestContext, LoginAction, LoginParams};
use bext_plugin_api::authz_policy::{PolicyContext, PolicyDecision};
use bext_plugin_api::middleware::{RequestAction, ResponseHeaders};
use bext_plugin_api::storage::{PresignOp, StorageError};
use bext_plugin_api::{AuthPlugin, AuthzPolicyPlugin, StorageClientPlugin};
use bext_plugin_lua_wasm::{Error, LuaPlugin};
use std::sync::OnceLock;

/// Injection attempts: `(name, value, what the error must mention)`.
const ATTACKS: &[(&str, &str, &str)] = &[
    ("x-note", "a\r\nset-cookie: session=stolen", "CR at byte 1"),
    (
        "x-note",
        "a\nlocation: https://evil.example",
        "LF at byte 1",
    ),
    ("x-note", "a\rb", "CR"),
    ("x-note", "a\0b", "NUL"),
    ("x-note", "bell\u{7}", "0x07"),
    ("x-note", "del\u{7f}", "0x7f"),
    (
        "set-cookie: session=stolen\r\nx-note",
        "v",
        "not an RFC 9110 token",
    ),
    ("x note", "v", "not an RFC 9110 token"),
    ("x-note:", "v", "not an RFC 9110 token"),
    ("", "v", "must not be empty"),
    ("x-é", "v", "not an RFC 9110 token"),
];

/// Valid headers that must pass unchanged.
const FINE: &[(&str, &str)] = &[
    ("x-note", "tab\tand unicode: é 🦀"),
    ("X-Mixed_Case.~!#$%&'*+^`|", ""),
    ("etag", "\"v1\""),
];

fn plugin() -> &'static LuaPlugin {
    static PLUGIN: OnceLock<LuaPlugin> = OnceLock::new();
    PLUGIN.get_or_init(|| load("injector", &script("header_injection.lua")).unwrap())
}

fn asking_for(path: &str, name: &str, value: &str) -> bext_plugin_api::middleware::RequestContext {
    request(
        "GET",
        path,
        &[("inject-name", name), ("inject-value", value)],
    )
}

/// A `BadEnvelope` from `method` of the injector naming the header and `what`.
#[track_caller]
fn assert_refused(
    result: Result<impl std::fmt::Debug, Error>,
    method: &str,
    name: &str,
    what: &str,
) {
    match result {
        Err(Error::BadEnvelope {
            ref plugin,
            method: ref m,
            ref message,
        }) => {
            assert_eq!((plugin.as_str(), m.as_str()), ("injector", method));
            assert!(message.contains(what), "{message} should mention {what}");
            let shown = if what.contains("token") || what.contains("empty") {
                format!("{name:?}")
            } else {
                format!("`{name}`")
            };
            assert!(
                name.is_empty() || message.contains(&shown),
                "{message} should name the header {shown}"
            );
            let text = result.unwrap_err().to_string();
            assert!(text.starts_with("lua plugin `injector`:"), "{text}");
        }
        other => panic!("{method} with {name:?}: expected BadEnvelope, got {other:?}"),
    }
}

#[test]
fn middleware_respond_headers_are_checked() {
    for (name, value, what) in ATTACKS {
        assert_refused(
            plugin().try_on_request(&mut asking_for("/", name, value)),
            "on_request",
            name,
            what,
        );
    }
    for (name, value) in FINE {
        match plugin()
            .try_on_request(&mut asking_for("/", name, value))
            .unwrap()
        {
            RequestAction::Respond(response) => assert_eq!(
                response.headers,
                vec![(name.to_string(), value.to_string())]
            ),
            RequestAction::Continue => panic!("expected a response"),
        }
    }
}

#[test]
fn on_response_headers_are_checked_and_the_response_is_left_alone() {
    for (name, value, what) in ATTACKS {
        let mut response = ResponseHeaders {
            status: 200,
            headers: vec![("kept".into(), "1".into())],
        };
        assert_refused(
            plugin().try_on_response(&asking_for("/", name, value), &mut response),
            "on_response",
            name,
            what,
        );
        assert_eq!(
            response.headers,
            vec![("kept".to_string(), "1".to_string())],
            "nothing changed"
        );
    }
    for (name, value) in FINE {
        let mut response = ResponseHeaders {
            status: 200,
            headers: Vec::new(),
        };
        plugin()
            .try_on_response(&asking_for("/", name, value), &mut response)
            .unwrap();
        assert_eq!(
            response.headers,
            vec![(name.to_string(), value.to_string())]
        );
    }
}

#[test]
fn extensions_carry_no_line_breaks_or_nul() {
    for (key, value, what) in [
        ("k", "v\r\nx-forwarded-user: admin", "CR"),
        ("k", "a\0", "NUL"),
        ("k\nx", "v", "LF"),
    ] {
        let mut ctx = asking_for("/extension", key, value);
        let result = plugin().try_on_request(&mut ctx);
        assert!(
            matches!(&result, Err(Error::BadEnvelope { plugin, message, .. }) if plugin == "injector" && message.contains(what) && message.contains("extension")),
            "{key:?}={value:?}: {result:?}"
        );
        assert!(ctx.extensions.is_empty(), "nothing merged");
    }
    let mut ctx = asking_for("/extension", "user.name", "tab\there é");
    assert!(matches!(
        plugin().try_on_request(&mut ctx),
        Ok(RequestAction::Continue)
    ));
    assert_eq!(ctx.extensions["user.name"], "tab\there é");
}

#[test]
fn cache_entry_headers_and_etags_are_checked() {
    for (name, value, what) in ATTACKS {
        let key = serde_json::json!({ "name": name, "value": value }).to_string();
        assert_refused(plugin().try_cache_get(&key), "get", name, what);
    }
    let key = serde_json::json!({ "etag": true, "value": "\"v1\"\r\nset-cookie: x" }).to_string();
    assert_refused(plugin().try_cache_get(&key), "get", "etag", "CR");
    let key = serde_json::json!({ "etag": true, "value": "\"v1\"" }).to_string();
    assert_eq!(
        plugin().try_cache_get(&key).unwrap().unwrap().etag,
        "\"v1\""
    );
}

#[test]
fn auth_redirects_are_checked() {
    let auth: &dyn AuthPlugin = plugin();
    let ctx = |url: &str| AuthRequestContext {
        method: "GET".into(),
        path: "/login".into(),
        hostname: "example.com".into(),
        headers: vec![("inject-value".into(), url.into())],
        query_string: String::new(),
        peer_ip: None,
        tenant_id: None,
        site_id: None,
        session_id: None,
    };
    let error = auth
        .begin_login(
            &ctx("https://idp.example/\r\nset-cookie: session=stolen"),
            LoginParams::default(),
        )
        .unwrap_err();
    assert!(
        error.starts_with("lua plugin `injector`: begin_login returned malformed data"),
        "{error}"
    );
    assert!(
        error.contains("`location`") && error.contains("CR"),
        "{error}"
    );
    match auth
        .begin_login(
            &ctx("https://idp.example/authorize?state=1"),
            LoginParams::default(),
        )
        .unwrap()
    {
        LoginAction::Redirect { url } => assert_eq!(url, "https://idp.example/authorize?state=1"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn authz_mutations_are_checked_and_fail_closed() {
    let policy: &dyn AuthzPolicyPlugin = plugin();
    for (name, value, what) in ATTACKS {
        let decision = policy.evaluate(
            &PolicyContext::new("read", "x")
                .with_attribute("name", *name)
                .with_attribute("value", *value),
        );
        match decision {
            PolicyDecision::Deny { reason } => {
                assert!(
                    reason.starts_with("lua plugin `injector`: evaluate returned malformed data"),
                    "{reason}"
                );
                assert!(reason.contains(what), "{reason}");
            }
            other => panic!("{name:?}: {value:?}: expected a denial, got {other:?}"),
        }
    }
    let fine = policy.evaluate(
        &PolicyContext::new("read", "x")
            .with_attribute("name", "x-watermark")
            .with_attribute("value", "ada"),
    );
    assert_eq!(
        fine,
        PolicyDecision::Mutate {
            headers: vec![("x-watermark".into(), "ada".into())],
            body: None
        }
    );
}

#[test]
fn storage_urls_and_etags_are_checked() {
    let storage: &dyn StorageClientPlugin = plugin();
    let url = storage.presigned_url(
        "https://bucket.example/k?sig=1\r\nset-cookie: x",
        PresignOp::Get,
        60,
    );
    assert!(
        matches!(&url, Err(StorageError::Backend(m)) if m.contains("injector") && m.contains("`location`") && m.contains("CR")),
        "{url:?}"
    );
    assert_eq!(
        storage
            .presigned_url("https://bucket.example/k?sig=1", PresignOp::Get, 60)
            .unwrap(),
        "https://bucket.example/k?sig=1"
    );
    let listed = storage.list_page("\"e\"\nx: y", None);
    assert!(
        matches!(&listed, Err(StorageError::Backend(m)) if m.contains("injector") && m.contains("`etag`") && m.contains("LF")),
        "{listed:?}"
    );
    assert_eq!(storage.list_page("\"e\"", None).unwrap().0[0].etag, "\"e\"");
}
