//! MiddlewarePlugin through `Arc<dyn MiddlewarePlugin>`: actions, responses,
//! config, logs and metrics.

use crate::common::*;
use bext_plugin_api::MiddlewarePlugin;
use bext_plugin_api::middleware::{RequestAction, ResponseHeaders};
use bext_plugin_lua_wasm::{LuaPluginConfig, LuaPluginRuntime, LuaRuntimeConfig};
use std::sync::Arc;

fn middleware(name: &str, source: &str) -> Arc<dyn MiddlewarePlugin> {
    Arc::new(load(name, source).unwrap())
}

fn respond(action: RequestAction) -> bext_plugin_api::middleware::PluginResponse {
    match action {
        RequestAction::Respond(response) => response,
        RequestAction::Continue => panic!("expected a respond action, got continue"),
    }
}

#[test]
fn hello_world_from_the_bext_docs_runs_unchanged() {
    let mw = middleware("hello", &example_plugin("hello.lua"));
    let mut ctx = request("GET", "/index.html", &[("accept", "text/html")]);
    let logs = capture_logs(|| {
        assert!(matches!(
            mw.on_request(&mut ctx).unwrap(),
            RequestAction::Continue
        ));
    });
    assert!(
        logs.contains("plugin saw: {\"method\":\"GET\",\"path\":\"/index.html\""),
        "{logs}"
    );
    assert!(logs.contains("hello"), "log lines name the plugin: {logs}");
    let mut response = ResponseHeaders {
        status: 200,
        headers: vec![("content-type".into(), "text/html".into())],
    };
    mw.on_response(&ctx, &mut response).unwrap();
    assert_eq!(response.status, 200);
    assert_eq!(
        response.headers,
        vec![("content-type".to_string(), "text/html".to_string())]
    );
}

#[test]
fn continue_action_in_its_three_forms() {
    let mw = middleware(
        "continue-forms",
        r#"return { on_request = function(self, ctx)
             if ctx:find("/nil", 1, true) then return nil end
             if ctx:find("/called", 1, true) then bext.middleware_continue() return end
             return bext.middleware_continue()
           end }"#,
    );
    for path in ["/nil", "/called", "/returned"] {
        let mut ctx = request("GET", path, &[]);
        assert!(
            matches!(mw.on_request(&mut ctx).unwrap(), RequestAction::Continue),
            "{path}"
        );
    }
}

#[test]
fn respond_action_keeps_status_header_order_duplicates_and_body() {
    let mw = middleware(
        "responder",
        r#"return { on_request = function(self, ctx)
             return bext.middleware_respond([=[{"status":429,"headers":[["retry-after","60"],["set-cookie","a=1"],["set-cookie","b=2"],["x-z","last"]],"body":"slow down \u00e9"}]=])
           end }"#,
    );
    let response = respond(mw.on_request(&mut request("GET", "/", &[])).unwrap());
    assert_eq!(response.status, 429);
    let headers: Vec<(&str, &str)> = response
        .headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        headers,
        [
            ("retry-after", "60"),
            ("set-cookie", "a=1"),
            ("set-cookie", "b=2"),
            ("x-z", "last")
        ]
    );
    assert_eq!(response.body, "slow down é".as_bytes());
}

#[test]
fn respond_made_but_not_returned_still_responds() {
    let mw = middleware(
        "respond-no-return",
        r#"return { on_request = function(self, ctx) bext.middleware_respond('{"status":503}') end }"#,
    );
    let response = respond(mw.on_request(&mut request("GET", "/", &[])).unwrap());
    assert_eq!(response.status, 503);
    assert!(response.headers.is_empty() && response.body.is_empty());
}

#[test]
fn request_context_reaches_the_script_with_every_field() {
    let plugin = load(
        "ctx-echo",
        r#"return { on_request = function(self, ctx)
             return bext.middleware_respond('{"status":200,"body":' .. string.format("%q", ctx):gsub("\\\n", "\\n") .. '}')
           end }"#,
    )
    .unwrap();
    let mut ctx = request("POST", "/p", &[("x-a", "1"), ("x-a", "2"), ("b", "3")]);
    ctx.query_string = "q=1".into();
    ctx.site_id = Some("site-9".into());
    ctx.extensions.insert("k".into(), "v".into());
    let body = respond(plugin.try_on_request(&mut ctx).unwrap()).body;
    let seen: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        seen,
        serde_json::json!({
            "method": "POST", "path": "/p", "hostname": "example.com",
            "headers": [["x-a", "1"], ["x-a", "2"], ["b", "3"]],
            "query_string": "q=1", "peer_ip": "203.0.113.7", "tenant_id": "tenant-1",
            "site_id": "site-9", "extensions": {"k": "v"}
        })
    );
}

#[test]
fn on_response_changes_status_and_adds_headers() {
    let mw = middleware("security-headers", &example_plugin("security_headers.lua"));
    let ctx = request("GET", "/", &[]);
    let mut response = ResponseHeaders {
        status: 200,
        headers: vec![("content-type".into(), "text/html".into())],
    };
    mw.on_response(&ctx, &mut response).unwrap();
    assert_eq!(response.status, 200);
    assert_eq!(
        response.headers[0],
        ("content-type".into(), "text/html".into())
    );
    assert!(
        response
            .headers
            .contains(&("x-frame-options".into(), "DENY".into()))
    );
    assert_eq!(response.headers.len(), 5);

    let mw = middleware(
        "status-changer",
        r#"return {
             on_request = function(self, ctx) return nil end,
             on_response = function(self, arg)
               if arg:find('"status":404', 1, true) then
                 return '{"status":410,"headers":[["x-gone","yes"]]}'
               end
             end }"#,
    );
    let mut response = ResponseHeaders {
        status: 404,
        headers: vec![],
    };
    mw.on_response(&ctx, &mut response).unwrap();
    assert_eq!(
        (response.status, response.headers),
        (410, vec![("x-gone".into(), "yes".into())])
    );
    let mut response = ResponseHeaders {
        status: 200,
        headers: vec![("a".into(), "b".into())],
    };
    mw.on_response(&ctx, &mut response).unwrap();
    assert_eq!(
        (response.status, response.headers),
        (200, vec![("a".into(), "b".into())]),
        "nil leaves it unchanged"
    );
}

#[test]
fn get_config_returns_the_plugins_config_section() {
    let source = r#"return { on_request = function(self, ctx)
                      return bext.middleware_respond('{"status":200,"body":' .. string.format("%q", bext.get_config()) .. '}')
                    end }"#;
    let plugin = runtime()
        .load_plugin(
            LuaPluginConfig::new("configured", manifest("configured"), source)
                .config_json(r#"{"limit": 100}"#),
        )
        .unwrap();
    let body = respond(
        plugin
            .try_on_request(&mut request("GET", "/", &[]))
            .unwrap(),
    )
    .body;
    assert_eq!(body, br#"{"limit": 100}"#);

    let unconfigured = load("unconfigured", source).unwrap();
    let body = respond(
        unconfigured
            .try_on_request(&mut request("GET", "/", &[]))
            .unwrap(),
    )
    .body;
    assert_eq!(body, b"{}");
}

#[test]
fn logs_reach_tracing_with_level_and_plugin_name() {
    let plugin = load(
        "logger",
        r#"return { on_request = function(self, ctx)
             bext.log("error", "e-msg") bext.log("warn", "w-msg") bext.log("info", "i-msg") bext.log("debug", "d-msg")
             print("printed", 42)
           end }"#,
    )
    .unwrap();
    let logs = capture_logs(|| {
        plugin
            .try_on_request(&mut request("GET", "/", &[]))
            .unwrap();
    });
    for (level, msg) in [
        ("ERROR", "e-msg"),
        ("WARN", "w-msg"),
        ("INFO", "i-msg"),
        ("DEBUG", "d-msg"),
        ("INFO", "printed\t42"),
    ] {
        let line = logs
            .lines()
            .find(|l| l.contains(msg))
            .unwrap_or_else(|| panic!("no {msg} in {logs}"));
        assert!(
            line.contains(level) && line.contains("plugin=\"logger\""),
            "{line}"
        );
    }
}

#[test]
fn metrics_reach_the_configured_sink() {
    let sink = Arc::new(RecordingMetrics::default());
    let rt =
        LuaPluginRuntime::with_config(LuaRuntimeConfig::default().metrics(sink.clone())).unwrap();
    let plugin = rt
        .load_plugin(LuaPluginConfig::new(
            "metered",
            manifest("metered"),
            r#"return { on_request = function(self, ctx)
                 bext.emit_metric("requests", 1)
                 bext.emit_metric("latency_ms", 12.5, '{"route":"/a","code":200}')
               end }"#,
        ))
        .unwrap();
    plugin
        .try_on_request(&mut request("GET", "/", &[]))
        .unwrap();
    let got = sink.0.lock().unwrap().clone();
    assert_eq!(
        got,
        vec![
            ("metered".into(), "requests".into(), 1.0, vec![]),
            (
                "metered".into(),
                "latency_ms".into(),
                12.5,
                vec![("code".into(), "200".into()), ("route".into(), "/a".into())]
            ),
        ]
    );
}

#[test]
fn priority_comes_from_the_script_or_the_trait_default() {
    assert_eq!(
        middleware(
            "prio",
            "return { priority = 150, on_request = function() end }"
        )
        .priority(),
        150
    );
    assert_eq!(
        middleware("no-prio", "return { on_request = function() end }").priority(),
        600
    );
}

#[test]
fn reference_plugins_rate_limit_and_auth() {
    let limiter = runtime()
        .load_plugin(
            LuaPluginConfig::new(
                "ratelimit",
                manifest("ratelimit"),
                example_plugin("ratelimit.lua"),
            )
            .config_json(r#"{"limit": 3, "window_secs": 60}"#),
        )
        .unwrap();
    for _ in 0..3 {
        assert!(matches!(
            limiter
                .try_on_request(&mut request("GET", "/", &[]))
                .unwrap(),
            RequestAction::Continue
        ));
    }
    let response = respond(
        limiter
            .try_on_request(&mut request("GET", "/", &[]))
            .unwrap(),
    );
    assert_eq!(response.status, 429);
    let retry: u64 = response
        .headers
        .iter()
        .find(|(k, _)| k == "retry-after")
        .unwrap()
        .1
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    let mut other_ip = request("GET", "/", &[]);
    other_ip.peer_ip = Some("198.51.100.1".into());
    assert!(matches!(
        limiter.try_on_request(&mut other_ip).unwrap(),
        RequestAction::Continue
    ));

    let auth = runtime()
        .load_plugin(
            LuaPluginConfig::new("auth", manifest("auth"), example_plugin("auth.lua"))
                .config_json(r#"{"protected_prefix": "/api/", "tokens": ["good"]}"#),
        )
        .unwrap();
    let status = |path: &str, headers: &[(&str, &str)]| match auth
        .try_on_request(&mut request("GET", path, headers))
        .unwrap()
    {
        RequestAction::Continue => 0,
        RequestAction::Respond(r) => r.status,
    };
    assert_eq!(status("/public", &[]), 0);
    assert_eq!(status("/api/x", &[]), 401);
    assert_eq!(status("/api/x", &[("Authorization", "Bearer bad")]), 403);
    assert_eq!(status("/api/x", &[("authorization", "Bearer good")]), 0);
}

#[test]
fn extensions_written_in_on_request_reach_the_server_and_on_response() {
    let plugin = load(
        "ext-writer",
        r#"return {
             on_request = function(self, ctx_json)
               local ctx = bext.json.decode(ctx_json)
               if ctx.path == "/deny" then
                 return bext.middleware_respond('{"status":403}', bext.json.encode({ ["deny.reason"] = "path" }))
               end
               return bext.middleware_continue(bext.json.encode({
                 user = "alice", ["seen.count"] = 2, flags = { "a", "b" }, before = ctx.extensions.before,
               }))
             end,
             on_response = function(self, arg_json)
               local ext = bext.json.decode(arg_json).request.extensions
               local names = {}
               for k, v in pairs(ext) do names[#names + 1] = k .. "=" .. v end
               table.sort(names)
               return { headers = { { "x-ext", table.concat(names, ";") } } }
             end,
           }"#,
    )
    .unwrap();
    let mw: Arc<dyn MiddlewarePlugin> = Arc::new(plugin);
    let mut ctx = request("GET", "/", &[]);
    ctx.extensions
        .insert("before".into(), "set-by-server".into());
    assert!(matches!(
        mw.on_request(&mut ctx).unwrap(),
        RequestAction::Continue
    ));
    // Strings stay strings; other JSON values arrive as their JSON text.
    let mut got: Vec<(&str, &str)> = ctx
        .extensions
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    got.sort();
    assert_eq!(
        got,
        [
            ("before", "set-by-server"),
            ("flags", r#"["a","b"]"#),
            ("seen.count", "2"),
            ("user", "alice")
        ]
    );
    let mut response = ResponseHeaders {
        status: 200,
        headers: vec![],
    };
    mw.on_response(&ctx, &mut response).unwrap();
    assert_eq!(
        response.headers,
        vec![(
            "x-ext".into(),
            r#"before=set-by-server;flags=["a","b"];seen.count=2;user=alice"#.into()
        )]
    );

    // The respond path carries extensions too.
    let mut ctx = request("GET", "/deny", &[]);
    assert_eq!(respond(mw.on_request(&mut ctx).unwrap()).status, 403);
    assert_eq!(
        ctx.extensions.get("deny.reason").map(String::as_str),
        Some("path")
    );
    // A malformed action changes nothing.
    let bad = load("ext-bad", r#"return { on_request = function() return bext.middleware_respond('{"status":1}', '{"k":"v"}') end }"#).unwrap();
    let mut ctx = request("GET", "/", &[]);
    assert!(bad.try_on_request(&mut ctx).is_err());
    assert!(ctx.extensions.is_empty());
}

#[test]
fn reference_rate_limiter_reports_remaining_through_extensions() {
    let limiter: Arc<dyn MiddlewarePlugin> = Arc::new(
        runtime()
            .load_plugin(
                LuaPluginConfig::new(
                    "ratelimit-ext",
                    manifest("ratelimit-ext"),
                    example_plugin("ratelimit.lua"),
                )
                .config_json(r#"{"limit": 2, "window_secs": 30}"#),
            )
            .unwrap(),
    );
    for remaining in ["1", "0"] {
        let mut ctx = request("GET", "/", &[]);
        assert!(matches!(
            limiter.on_request(&mut ctx).unwrap(),
            RequestAction::Continue
        ));
        let mut response = ResponseHeaders {
            status: 200,
            headers: vec![("a".into(), "b".into())],
        };
        limiter.on_response(&ctx, &mut response).unwrap();
        assert_eq!(
            response.headers,
            vec![
                ("a".into(), "b".into()),
                ("x-ratelimit-remaining".into(), remaining.into())
            ]
        );
    }
    let mut ctx = request("GET", "/", &[]);
    let response = respond(limiter.on_request(&mut ctx).unwrap());
    assert_eq!(response.status, 429);
    assert_eq!(
        ctx.extensions
            .get("ratelimit.remaining")
            .map(String::as_str),
        Some("0")
    );
    // A request without a peer address is keyed as "unknown", not an error.
    let mut anonymous = request("GET", "/", &[]);
    anonymous.peer_ip = None;
    assert!(matches!(
        limiter.on_request(&mut anonymous).unwrap(),
        RequestAction::Continue
    ));
}

#[test]
fn reference_cors_answers_preflights_and_adds_headers() {
    let cors: Arc<dyn MiddlewarePlugin> = Arc::new(
        runtime()
            .load_plugin(
                LuaPluginConfig::new("cors", manifest("cors"), example_plugin("cors.lua"))
                    .config_json(r#"{"allowed_origins": ["https://app.example"], "allow_methods": "GET, POST", "max_age_secs": 300}"#),
            )
            .unwrap(),
    );
    assert_eq!(cors.priority(), 100);
    let preflight = |origin: &str| {
        let mut ctx = request(
            "OPTIONS",
            "/api/x",
            &[
                ("Origin", origin),
                ("Access-Control-Request-Method", "POST"),
            ],
        );
        cors.on_request(&mut ctx).unwrap()
    };
    let ok = respond(preflight("https://app.example"));
    assert_eq!(ok.status, 204);
    // on_response leaves the preflight's own headers alone (no duplicates).
    let mut after = ResponseHeaders {
        status: ok.status,
        headers: ok.headers.clone(),
    };
    let preflight_ctx = request(
        "OPTIONS",
        "/api/x",
        &[
            ("origin", "https://app.example"),
            ("access-control-request-method", "POST"),
        ],
    );
    cors.on_response(&preflight_ctx, &mut after).unwrap();
    assert_eq!(after.headers, ok.headers);
    assert!(ok.headers.contains(&(
        "access-control-allow-origin".into(),
        "https://app.example".into()
    )));
    assert!(
        ok.headers
            .contains(&("access-control-allow-methods".into(), "GET, POST".into()))
    );
    assert!(
        ok.headers
            .contains(&("access-control-max-age".into(), "300".into()))
    );
    assert_eq!(respond(preflight("https://evil.example")).status, 403);
    // Simple requests pass; allowed origins get the headers on the way out.
    let mut ctx = request("GET", "/api/x", &[("origin", "https://app.example")]);
    assert!(matches!(
        cors.on_request(&mut ctx).unwrap(),
        RequestAction::Continue
    ));
    let mut response = ResponseHeaders {
        status: 200,
        headers: vec![],
    };
    cors.on_response(&ctx, &mut response).unwrap();
    assert_eq!(
        response.headers,
        vec![
            (
                "access-control-allow-origin".into(),
                "https://app.example".into()
            ),
            ("vary".into(), "origin".into())
        ]
    );
    let ctx = request("GET", "/api/x", &[("origin", "https://evil.example")]);
    let mut response = ResponseHeaders {
        status: 200,
        headers: vec![],
    };
    cors.on_response(&ctx, &mut response).unwrap();
    assert!(response.headers.is_empty());
}
