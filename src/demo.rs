//! The demo: loads the sample plugins in `examples/plugins/`, builds a
//! middleware chain from them the way a bext server does, and serves a batch
//! of sample requests through it, printing what each plugin decided.
//!
//! Run it with `scripts/demo` (or `cargo run --release --bin demo`).

use bext_plugin_api::middleware::{RequestAction, RequestContext, ResponseHeaders};
use bext_plugin_api::types::PluginManifest;
use bext_plugin_api::MiddlewarePlugin;
use bext_plugin_lua_wasm::{LuaPluginConfig, LuaPluginRuntime, LuaSandboxLimits};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

/// (plugin name, file, config section)
const PLUGINS: &[(&str, &str, &str)] = &[
    ("hello", "hello.lua", "{}"),
    ("ratelimit", "ratelimit.lua", r#"{"limit": 3, "window_secs": 60}"#),
    ("auth", "auth.lua", r#"{"protected_prefix": "/api/", "tokens": ["s3cret-token"]}"#),
    ("security-headers", "security_headers.lua", "{}"),
    ("runaway", "runaway.lua", "{}"),
];

/// (method, path, peer ip, headers)
const REQUESTS: &[(&str, &str, &str, &[(&str, &str)])] = &[
    ("GET", "/", "203.0.113.7", &[("accept", "text/html")]),
    ("GET", "/api/orders", "203.0.113.7", &[]),
    ("GET", "/api/orders", "203.0.113.7", &[("authorization", "Bearer wrong")]),
    ("GET", "/api/orders", "198.51.100.23", &[("authorization", "Bearer s3cret-token")]),
    ("GET", "/spin", "198.51.100.23", &[]),
    ("POST", "/api/orders", "198.51.100.23", &[("authorization", "Bearer s3cret-token")]),
    ("GET", "/api/orders", "198.51.100.23", &[("authorization", "Bearer s3cret-token")]),
    ("GET", "/", "192.0.2.99", &[]),
];

fn main() {
    tracing_subscriber::fmt().with_target(false).without_time().with_ansi(false).init();
    let plugin_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/plugins");

    let started = Instant::now();
    let runtime = LuaPluginRuntime::new();
    println!("runtime ready in {:.1} ms (guest compiled once for this process)", ms(started));

    let mut chain: Vec<Arc<dyn MiddlewarePlugin>> = Vec::new();
    for (name, file, config) in PLUGINS {
        let source = std::fs::read_to_string(plugin_dir.join(file)).expect("reading a sample plugin");
        let manifest: PluginManifest =
            serde_json::from_value(serde_json::json!({"name": name, "version": "1.0.0"})).unwrap();
        let started = Instant::now();
        // The runaway plugin gets a small budget so the demo stays quick.
        let limits = LuaSandboxLimits::default().timeout_ms(100);
        match runtime.load_plugin(LuaPluginConfig::new(*name, manifest, source).config_json(*config).limits(limits)) {
            Ok(plugin) => {
                println!("loaded {name:<17} priority {:<4} in {:.2} ms", plugin_priority(&plugin), ms(started));
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
            headers: headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
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
        println!("    => {status} {} [{:.2} ms] headers: {}", reason(status), ms(started), added.join(", "));
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
                return (response.status, ResponseHeaders { status: response.status, headers: response.headers });
            }
            Err(e) => println!("    {:<17} error (skipped): {e}", plugin.name()),
        }
    }
    let headers = vec![("content-type".to_string(), "text/html".to_string())];
    (200, ResponseHeaders { status: 200, headers })
}

fn plugin_priority(plugin: &bext_plugin_lua_wasm::LuaPlugin) -> u32 {
    MiddlewarePlugin::priority(plugin)
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        401 => "Unauthorized",
        403 => "Forbidden",
        429 => "Too Many Requests",
        _ => "",
    }
}

fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1e3
}
