//! Thousands of tenants on one node: loads N distinct tenant plugins
//! (generated variants of the reference plugins), one live sandbox each,
//! serves a request through every one, and prints memory (proportional set
//! size) and load time per tenant.
//!
//! Run: `cargo run --release --example tenants -- 10000` (default 1000, the
//! size CI runs).
use bext_plugin_api::middleware::{RequestAction, RequestContext};
use bext_plugin_lua_wasm::{LuaPluginConfig, LuaPluginRuntime, LuaRuntimeConfig, PoolConfig, PoolingLimits};
use std::time::Instant;

const TEMPLATES: [(&str, &str); 3] = [
    ("ratelimit", include_str!("plugins/ratelimit.lua")),
    ("auth", include_str!("plugins/auth.lua")),
    ("security_headers", include_str!("plugins/security_headers.lua")),
];

/// Proportional set size of this process in KiB.
fn pss_kib() -> u64 {
    let rollup = std::fs::read_to_string("/proc/self/smaps_rollup").expect("reading /proc/self/smaps_rollup");
    rollup
        .lines()
        .find_map(|l| l.strip_prefix("Pss:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .expect("a Pss line")
}

fn main() {
    let tenants: usize = std::env::args().nth(1).map_or(1000, |n| n.parse().expect("a tenant count"));
    let started = Instant::now();
    // One pre-reserved slot per tenant, plus room for replacements.
    let pooling = PoolingLimits::default().max_instances(tenants as u32 + 64);
    let runtime = LuaPluginRuntime::with_config(LuaRuntimeConfig::default().pooling(pooling)).expect("a runtime");
    let runtime_ms = started.elapsed().as_secs_f64() * 1e3;

    let mut ctx = RequestContext {
        method: "GET".into(),
        path: "/api/orders".into(),
        hostname: "tenant.example".into(),
        headers: vec![("authorization".into(), "Bearer token-1".into())],
        query_string: String::new(),
        peer_ip: Some("203.0.113.9".into()),
        tenant_id: None,
        site_id: None,
        extensions: Default::default(),
    };
    // Warm up code and the engine before the baseline.
    let sources: Vec<(String, String)> = (0..tenants)
        .map(|i| {
            let (kind, template) = TEMPLATES[i % TEMPLATES.len()];
            // A distinct script per tenant, as tenants' edits would make it.
            (format!("tenant-{i:05}-{kind}"), format!("-- tenant {i}\nlocal TENANT_ID = {i}\n{template}"))
        })
        .collect();
    let base_pss = pss_kib();
    let mut plugins = Vec::with_capacity(tenants);
    let loading = Instant::now();
    for (i, (name, source)) in sources.iter().enumerate() {
        let manifest = serde_json::from_value(serde_json::json!({"name": name, "version": "1.0.0"})).unwrap();
        let config = format!(r#"{{"limit": {}, "window_secs": 60, "protected_prefix": "/api/", "tokens": ["token-1"]}}"#, 10 + i % 90);
        let plugin = runtime
            .load_plugin(
                LuaPluginConfig::new(name.as_str(), manifest, source.as_str())
                    .config_json(config)
                    .pool(PoolConfig::default().size(1).max_size(1)),
            )
            .unwrap_or_else(|e| panic!("loading tenant {i}: {e}"));
        plugins.push(plugin);
    }
    let load_ms = loading.elapsed().as_secs_f64() * 1e3;
    let serving = Instant::now();
    for plugin in &plugins {
        ctx.extensions.clear();
        match plugin.try_on_request(&mut ctx) {
            Ok(RequestAction::Continue) => {}
            other => panic!("{}: {other:?}", plugin.name()),
        }
    }
    let serve_ms = serving.elapsed().as_secs_f64() * 1e3;
    let pss = pss_kib() - base_pss;
    let template_kib: usize = plugins.iter().map(|p| p.template_bytes()).sum::<usize>() / 1024;
    for plugin in &plugins {
        assert_eq!(plugin.pool().stats().idle, 1, "one live sandbox per tenant");
    }

    println!("tenants:                  {tenants}");
    println!("runtime start:            {runtime_ms:.1} ms (snapshot + compile, once per process)");
    println!("load time per tenant:     {:.3} ms ({load_ms:.0} ms total)", load_ms / tenants as f64);
    println!("first request per tenant: {:.1} us", serve_ms * 1e3 / tenants as f64);
    println!("memory (PSS) total:       {:.1} MiB", pss as f64 / 1024.0);
    println!("memory (PSS) per tenant:  {:.1} KiB (of which fork template {:.1} KiB)", pss as f64 / tenants as f64, template_kib as f64 / tenants as f64);
}
