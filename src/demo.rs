//! The demo: loads the sample plugins in `examples/plugins/`, builds a
//! middleware chain from them the way a bext server does, and serves a batch
//! of sample requests through it, printing what each plugin decided. Then it
//! uses the other three capabilities briefly: every completed request goes to
//! a lifecycle plugin, pages go through a Lua cache backend, and a transform
//! rewrites a source file.
//!
//! Run it with `scripts/demo` (or `cargo run --release --bin demo`).

use bext_plugin_api::cache::CacheEntry;
use bext_plugin_api::middleware::{RequestAction, RequestContext, ResponseHeaders};
use bext_plugin_api::transform::TransformContext;
use bext_plugin_api::types::PluginManifest;
use bext_plugin_api::{CacheBackend, LifecyclePlugin, MiddlewarePlugin, TransformPlugin};
use bext_plugin_lua_wasm::{LuaPlugin, LuaPluginConfig, LuaPluginRuntime, LuaSandboxLimits};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

/// (plugin name, file, config section)
const PLUGINS: &[(&str, &str, &str)] = &[
    ("hello", "hello.lua", "{}"),
    (
        "cors",
        "cors.lua",
        r#"{"allowed_origins": ["https://shop.example"]}"#,
    ),
    (
        "ratelimit",
        "ratelimit.lua",
        r#"{"limit": 3, "window_secs": 60}"#,
    ),
    (
        "auth",
        "auth.lua",
        r#"{"protected_prefix": "/api/", "tokens": ["s3cret-token"]}"#,
    ),
    ("security-headers", "security_headers.lua", "{}"),
    ("runaway", "runaway.lua", "{}"),
];

/// (method, path, peer ip, headers)
type Request = (
    &'static str,
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
);

const REQUESTS: &[Request] = &[
    ("GET", "/", "203.0.113.7", &[("accept", "text/html")]),
    ("GET", "/api/orders", "203.0.113.7", &[]),
    (
        "GET",
        "/api/orders",
        "203.0.113.7",
        &[("authorization", "Bearer wrong")],
    ),
    (
        "GET",
        "/api/orders",
        "198.51.100.23",
        &[("authorization", "Bearer s3cret-token")],
    ),
    ("GET", "/spin", "198.51.100.23", &[]),
    (
        "POST",
        "/api/orders",
        "198.51.100.23",
        &[("authorization", "Bearer s3cret-token")],
    ),
    (
        "GET",
        "/api/orders",
        "198.51.100.23",
        &[("authorization", "Bearer s3cret-token")],
    ),
    (
        "GET",
        "/",
        "192.0.2.99",
        &[("origin", "https://shop.example")],
    ),
    (
        "OPTIONS",
        "/api/orders",
        "192.0.2.99",
        &[
            ("origin", "https://shop.example"),
            ("access-control-request-method", "POST"),
        ],
    ),
];

fn main() {
    tracing_subscriber::fmt()
        .with_target(false)
        .without_time()
        .with_ansi(false)
        .init();
    let plugin_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/plugins");

    let started = Instant::now();
    let runtime = LuaPluginRuntime::new();
    println!(
        "runtime ready in {:.1} ms (guest compiled once for this process)",
        ms(started)
    );

    let load = |name: &str, file: &str, config: &str| -> Option<LuaPlugin> {
        let source =
            std::fs::read_to_string(plugin_dir.join(file)).expect("reading a sample plugin");
        let manifest: PluginManifest =
            serde_json::from_value(serde_json::json!({"name": name, "version": "1.0.0"})).unwrap();
        runtime
            .load_plugin(LuaPluginConfig::new(name, manifest, source).config_json(config))
            .map_err(|e| println!("could not load {name}: {e}"))
            .ok()
    };
    let lifecycle: Option<Arc<dyn LifecyclePlugin>> = load("request-log", "request_log.lua", "{}")
        .map(|p| Arc::new(p) as Arc<dyn LifecyclePlugin>);
    let mut chain: Vec<Arc<dyn MiddlewarePlugin>> = Vec::new();
    for (name, file, config) in PLUGINS {
        let source =
            std::fs::read_to_string(plugin_dir.join(file)).expect("reading a sample plugin");
        let manifest: PluginManifest =
            serde_json::from_value(serde_json::json!({"name": name, "version": "1.0.0"})).unwrap();
        let started = Instant::now();
        // The runaway plugin gets a small budget so the demo stays quick.
        let limits = LuaSandboxLimits::default().timeout_ms(100);
        match runtime.load_plugin(
            LuaPluginConfig::new(*name, manifest, source)
                .config_json(*config)
                .limits(limits),
        ) {
            Ok(plugin) => {
                println!(
                    "loaded {name:<17} priority {:<4} in {:.2} ms",
                    plugin_priority(&plugin),
                    ms(started)
                );
                chain.push(Arc::new(plugin));
            }
            Err(e) => println!("could not load {name}: {e}"),
        }
    }
    chain.sort_by_key(|plugin| plugin.priority());
    println!();

    for (method, path, ip, headers) in REQUESTS {
        let mut ctx = RequestContext {
            method: method.to_string(),
            path: path.to_string(),
            hostname: "shop.example".into(),
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            query_string: String::new(),
            peer_ip: Some(ip.to_string()),
            tenant_id: Some("tenant-42".into()),
            site_id: None,
            extensions: Default::default(),
        };
        println!("{method} {path} from {ip}");
        let started = Instant::now();
        let (status, mut response) = serve(&chain, &mut ctx);
        for plugin in chain.iter().rev() {
            if let Err(e) = plugin.on_response(&ctx, &mut response) {
                println!("    {:<17} on_response failed: {e}", plugin.name());
            }
        }
        let added: Vec<&str> = response.headers.iter().map(|(k, _)| k.as_str()).collect();
        println!(
            "    => {status} {} [{:.2} ms] headers: {}",
            reason(status),
            ms(started),
            added.join(", ")
        );
        if !ctx.extensions.is_empty() {
            let mut extensions: Vec<String> = ctx
                .extensions
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            extensions.sort();
            println!("       extensions: {}", extensions.join(", "));
        }
        if let Some(hooks) = &lifecycle {
            let event = serde_json::json!({"path": path, "method": method, "status": response.status, "cache_status": "bypass",
                                           "render_time_us": started.elapsed().as_micros() as u64, "tenant_id": "tenant-42",
                                           "site_id": null, "encoding": "identity", "is_bot": false});
            if let Err(e) = hooks.on_request_complete(&event.to_string()) {
                println!("    request-log failed: {e}");
            }
        }
    }

    println!();
    if let Some(plugin) = load("page-cache", "cache.lua", r#"{"max_entries": 100}"#) {
        demo_cache(Arc::new(plugin));
    }
    if let Some(plugin) = load("env-inline", "env_inline.lua", "{}") {
        demo_transform(Arc::new(plugin));
    }
    if let Some(hooks) = &lifecycle {
        println!(
            "lifecycle: on_server_stop (the request log reports its totals as a lifecycle event)"
        );
        if let Err(e) = hooks.on_server_stop() {
            println!("    failed: {e}");
        }
    }

    println!();
    for name in runtime.plugin_names() {
        let stats = runtime.plugin(&name).unwrap().stats();
        println!(
            "{name:<17} calls {:>2}  errors {}  traps {}  sandboxes created {}",
            stats.calls, stats.errors, stats.traps, stats.instances_created
        );
    }
}

/// A few pages through the Lua cache backend: set, hit, tag invalidation.
fn demo_cache(cache: Arc<dyn CacheBackend>) {
    println!("cache backend `{}`:", cache.name());
    let page = |html: &str, tags: &[&str]| CacheEntry {
        html: html.into(),
        headers: vec![("content-type".into(), "text/html".into())],
        etag: format!("\"{}\"", html.len()),
        tags: tags.iter().map(|t| t.to_string()).collect(),
        created_at_ms: 0,
    };
    let report = |what: &str, result: Result<String, String>| match result {
        Ok(outcome) => println!("    {what:<32} {outcome}"),
        Err(e) => println!("    {what:<32} error: {e}"),
    };
    report(
        "get /blog/hello",
        cache
            .get("/blog/hello")
            .map(|e| if e.is_some() { "hit" } else { "miss" }.into()),
    );
    report(
        "set /blog/hello [blog]",
        cache
            .set(
                "/blog/hello",
                page("<h1>Hello</h1>", &["blog"]),
                Some(60_000),
            )
            .map(|_| "stored".into()),
    );
    report(
        "set /blog/news [blog, home]",
        cache
            .set("/blog/news", page("<h1>News</h1>", &["blog", "home"]), None)
            .map(|_| "stored".into()),
    );
    report(
        "get /blog/hello",
        cache
            .get("/blog/hello")
            .map(|e| e.map_or("miss".into(), |e| format!("hit: {}", e.html))),
    );
    report(
        "invalidate_tag blog",
        cache
            .invalidate_tag("blog")
            .map(|n| format!("{n} entries dropped")),
    );
    report(
        "get /blog/news",
        cache
            .get("/blog/news")
            .map(|e| if e.is_some() { "hit" } else { "miss" }.into()),
    );
    println!("    healthy: {}", cache.is_healthy());
}

/// A source file through the Lua transform.
fn demo_transform(transform: Arc<dyn TransformPlugin>) {
    let source = "const api = process.env.NEXT_PUBLIC_API_URL;\nif (process.env.NODE_ENV === 'development') enableDebug();\n";
    let ctx = TransformContext {
        node_env: "production".into(),
        env_vars: vec![(
            "NEXT_PUBLIC_API_URL".into(),
            "https://api.shop.example".into(),
        )],
    };
    println!(
        "transform `{}` (priority {}) on src/config.ts:",
        transform.name(),
        transform.priority()
    );
    if !transform.matches("src/config.ts", source) {
        println!("    does not match");
        return;
    }
    match transform.transform(source, "src/config.ts", &ctx) {
        Some(out) => {
            for line in out.lines() {
                println!("    | {line}");
            }
        }
        None => println!("    unchanged"),
    }
}

/// Runs `on_request` through the chain; a plugin error is logged and skipped,
/// as a server would.
fn serve(chain: &[Arc<dyn MiddlewarePlugin>], ctx: &mut RequestContext) -> (u16, ResponseHeaders) {
    for plugin in chain {
        match plugin.on_request(ctx) {
            Ok(RequestAction::Continue) => println!("    {:<17} continue", plugin.name()),
            Ok(RequestAction::Respond(response)) => {
                println!(
                    "    {:<17} respond {} {:?}",
                    plugin.name(),
                    response.status,
                    String::from_utf8_lossy(&response.body)
                );
                return (
                    response.status,
                    ResponseHeaders {
                        status: response.status,
                        headers: response.headers,
                    },
                );
            }
            Err(e) => println!("    {:<17} error (skipped): {e}", plugin.name()),
        }
    }
    let headers = vec![("content-type".to_string(), "text/html".to_string())];
    (
        200,
        ResponseHeaders {
            status: 200,
            headers,
        },
    )
}

fn plugin_priority(plugin: &bext_plugin_lua_wasm::LuaPlugin) -> u32 {
    MiddlewarePlugin::priority(plugin)
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        204 => "No Content",
        401 => "Unauthorized",
        403 => "Forbidden",
        429 => "Too Many Requests",
        _ => "",
    }
}

fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1e3
}
