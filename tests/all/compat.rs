//! The snippets of bext's Lua tier documentation run unchanged and behave as
//! documented. None uses `bext.json` (the mlua tier has none): they match
//! JSON with Lua patterns, as the docs suggest. The hello-world is
//! examples/plugins/hello.lua; the others are in tests/scripts/compat/.

use crate::common::*;
use bext_plugin_api::cache::CacheEntry;
use bext_plugin_api::middleware::{RequestAction, ResponseHeaders};
use bext_plugin_api::transform::TransformContext;
use bext_plugin_api::{CacheBackend, LifecyclePlugin, MiddlewarePlugin, TransformPlugin};
use bext_plugin_lua_wasm::LuaPluginConfig;
use std::sync::Arc;

fn snippet(file: &str) -> String {
    script(&format!("compat/{file}"))
}

#[test]
fn hello_world_middleware() {
    let mw: Arc<dyn MiddlewarePlugin> =
        Arc::new(load("compat-hello", &example_plugin("hello.lua")).unwrap());
    let mut ctx = request("GET", "/docs", &[]);
    let logs = capture_logs(|| {
        assert!(matches!(
            mw.on_request(&mut ctx).unwrap(),
            RequestAction::Continue
        ))
    });
    assert!(
        logs.contains("INFO")
            && logs.contains("plugin saw: {\"method\":\"GET\",\"path\":\"/docs\""),
        "{logs}"
    );
    let mut response = ResponseHeaders {
        status: 200,
        headers: vec![],
    };
    mw.on_response(&ctx, &mut response).unwrap();
    assert_eq!((response.status, response.headers.len()), (200, 0));
    assert_eq!(mw.priority(), 600);
}

#[test]
fn middleware_respond_429() {
    let mw: Arc<dyn MiddlewarePlugin> =
        Arc::new(load("limit", &snippet("ratelimit_429.lua")).unwrap());
    for _ in 0..2 {
        assert!(matches!(
            mw.on_request(&mut request("GET", "/", &[])).unwrap(),
            RequestAction::Continue
        ));
    }
    match mw.on_request(&mut request("GET", "/", &[])).unwrap() {
        RequestAction::Respond(r) => {
            assert_eq!(r.status, 429);
            assert_eq!(
                r.headers,
                vec![("retry-after".to_string(), "60".to_string())]
            );
            assert_eq!(r.body, b"slow down");
        }
        RequestAction::Continue => panic!("expected 429"),
    }
}

#[test]
fn cache_event() {
    let cache: Arc<dyn CacheBackend> =
        Arc::new(load("doc-cache", &snippet("cache_event.lua")).unwrap());
    let entry = CacheEntry {
        html: "<p>hi</p>".into(),
        headers: vec![],
        etag: "e1".into(),
        tags: vec!["t".into()],
        created_at_ms: 5,
    };
    let logs = capture_logs(|| {
        assert!(cache.get("/p").unwrap().is_none());
        cache.set("/p", entry.clone(), Some(1000)).unwrap();
        assert_eq!(cache.get("/p").unwrap().unwrap().html, "<p>hi</p>");
        assert!(cache.delete("/p").unwrap());
    });
    let events: Vec<&str> = logs.lines().filter(|l| l.contains("cache event")).collect();
    assert_eq!(events.len(), 4, "{logs}");
    for (line, kind) in events.iter().zip(["miss", "set", "hit", "delete"]) {
        assert!(
            line.contains(&format!("kind={kind}"))
                && line.contains("key=/p")
                && line.contains("plugin=\"doc-cache\""),
            "{line}"
        );
    }
    assert!(cache.is_healthy(), "no is_healthy: healthy");
}

#[test]
fn lifecycle_event() {
    let hooks: Arc<dyn LifecyclePlugin> =
        Arc::new(load("doc-lifecycle", &snippet("lifecycle_event.lua")).unwrap());
    let logs = capture_logs(|| {
        hooks.on_server_start(r#"{"mode":"prod"}"#).unwrap();
        hooks
            .on_request_complete(r#"{"path":"/","status":200}"#)
            .unwrap();
        hooks.on_server_stop().unwrap();
    });
    let events: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains("lifecycle event"))
        .collect();
    assert_eq!(events.len(), 2, "{logs}");
    assert!(
        events[0].contains("event=started") && events[0].contains(r#"data={"mode":"prod"}"#),
        "{}",
        events[0]
    );
    assert!(
        events[1].contains("event=request_complete")
            && events[1].contains(r#"data={"path":"/","status":200}"#),
        "{}",
        events[1]
    );
}

#[test]
fn transform_unchanged() {
    let t: Arc<dyn TransformPlugin> =
        Arc::new(load("doc-transform", &snippet("transform_unchanged.lua")).unwrap());
    let ctx = TransformContext {
        node_env: "production".into(),
        env_vars: vec![],
    };
    assert!(t.matches("app.js", ""));
    assert!(!t.matches("app.css", ""));
    assert_eq!(t.transform("let v = 1;", "app.js", &ctx), None);
    assert_eq!(
        t.transform("let v = '__VERSION__';", "app.js", &ctx)
            .as_deref(),
        Some("let v = '1.2.3';")
    );
}

#[test]
fn get_config() {
    let greet = |plugin: &bext_plugin_lua_wasm::LuaPlugin| match plugin
        .try_on_request(&mut request("GET", "/greet", &[]))
        .unwrap()
    {
        RequestAction::Respond(r) => String::from_utf8(r.body).unwrap(),
        RequestAction::Continue => panic!("expected a response"),
    };
    let configured = runtime()
        .load_plugin(
            LuaPluginConfig::new("greeter", manifest("greeter"), snippet("get_config.lua"))
                .config_json(r#"{"greeting": "bonjour"}"#),
        )
        .unwrap();
    assert_eq!(greet(&configured), "bonjour");
    let unconfigured = load("greeter-default", &snippet("get_config.lua")).unwrap();
    assert_eq!(greet(&unconfigured), "hello");
    assert!(matches!(
        unconfigured
            .try_on_request(&mut request("GET", "/", &[]))
            .unwrap(),
        RequestAction::Continue
    ));
}
