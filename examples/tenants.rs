//! Thousands of tenants on one node: loads N distinct tenant plugins
//! (generated variants of the reference plugins) and prints the memory and
//! time they cost.
//!
//! * `tenants [N]` (default 1000, the size CI runs): one live sandbox per
//!   tenant, a request served through every one.
//! * `tenants [N] --idle` (`cargo run --release --example tenants -- 100000
//!   --idle` for the README's figures): tenants keep no sandbox while idle
//!   (`PoolConfig::size(0)` and an idle timeout), so an idle tenant costs
//!   its fork template; a sample of them is then served on demand, each
//!   call forking a sandbox, and once their idle timeout has passed the
//!   runtime drops those sandboxes again.
//!
//! Memory is the process's PSS growth, with the fork templates' shared
//! arena counted once (`bext_lua_bench::measure::memory_bytes`).
use bext_lua_bench::measure::memory_bytes;
use bext_plugin_api::middleware::{RequestAction, RequestContext};
use bext_plugin_lua_wasm::{
    LuaPlugin, LuaPluginConfig, LuaPluginRuntime, LuaRuntimeConfig, PoolConfig,
};
use std::time::{Duration, Instant};

const TEMPLATES: [(&str, &str); 3] = [
    ("ratelimit", include_str!("plugins/ratelimit.lua")),
    ("auth", include_str!("plugins/auth.lua")),
    (
        "security_headers",
        include_str!("plugins/security_headers.lua"),
    ),
];

/// How long an idle tenant keeps its sandbox in `--idle` mode.
const IDLE_TIMEOUT: Duration = Duration::from_millis(500);

/// Tenants served on demand in `--idle` mode.
const ON_DEMAND_SAMPLE: usize = 1000;

fn kib(bytes: u64) -> f64 {
    bytes as f64 / 1024.0
}

fn request() -> RequestContext {
    RequestContext {
        method: "GET".into(),
        path: "/api/orders".into(),
        hostname: "tenant.example".into(),
        headers: vec![("authorization".into(), "Bearer token-1".into())],
        query_string: String::new(),
        peer_ip: Some("203.0.113.9".into()),
        tenant_id: None,
        site_id: None,
        extensions: Default::default(),
    }
}

fn serve(plugin: &LuaPlugin, ctx: &mut RequestContext) {
    ctx.extensions.clear();
    match plugin.try_on_request(ctx) {
        Ok(RequestAction::Continue) => {}
        other => panic!("{}: {other:?}", plugin.name()),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let idle = args.iter().any(|a| a == "--idle");
    let tenants: usize = args
        .iter()
        .find(|a| !a.starts_with("--"))
        .map_or(1000, |n| n.parse().expect("a tenant count"));

    let started = Instant::now();
    // Memory on demand (the default): forks map their template's pages
    // copy-on-write, shared by the tenant's sandboxes.
    let runtime = LuaPluginRuntime::with_config(LuaRuntimeConfig::default()).expect("a runtime");
    let runtime_ms = started.elapsed().as_secs_f64() * 1e3;
    let pool = if idle {
        PoolConfig::default()
            .size(0)
            .max_size(1)
            .idle_timeout_ms(IDLE_TIMEOUT.as_millis() as u64)
    } else {
        PoolConfig::default().size(1).max_size(1)
    };

    let sources: Vec<(String, String)> = (0..tenants)
        .map(|i| {
            let (kind, template) = TEMPLATES[i % TEMPLATES.len()];
            // A distinct script per tenant, as tenants' edits would make it.
            (
                format!("tenant-{i:06}-{kind}"),
                format!("-- tenant {i}\nlocal TENANT_ID = {i}\n{template}"),
            )
        })
        .collect();
    let base = memory_bytes().expect("reading the process's memory");
    let mut plugins = Vec::with_capacity(tenants);
    let loading = Instant::now();
    for (i, (name, source)) in sources.iter().enumerate() {
        let manifest =
            serde_json::from_value(serde_json::json!({"name": name, "version": "1.0.0"})).unwrap();
        let config = format!(
            r#"{{"limit": {}, "window_secs": 60, "protected_prefix": "/api/", "tokens": ["token-1"]}}"#,
            10 + i % 90
        );
        let plugin = runtime
            .load_plugin(
                LuaPluginConfig::new(name.as_str(), manifest, source.as_str())
                    .config_json(config)
                    .pool(pool),
            )
            .unwrap_or_else(|e| panic!("loading tenant {i}: {e}"));
        plugins.push(plugin);
    }
    let load_ms = loading.elapsed().as_secs_f64() * 1e3;
    let template_bytes: usize = plugins.iter().map(|p| p.template_bytes()).sum();
    let per_tenant = |bytes: u64| kib(bytes) / tenants as f64;

    println!(
        "tenants:                  {tenants}{}",
        if idle {
            " (idle: no sandbox kept)"
        } else {
            " (one live sandbox each)"
        }
    );
    println!("runtime start:            {runtime_ms:.1} ms (snapshot + compile, once per process)");
    println!(
        "load time per tenant:     {:.3} ms ({load_ms:.0} ms total)",
        load_ms / tenants as f64
    );
    println!(
        "fork template per tenant: {:.1} KiB",
        kib(template_bytes as u64) / tenants as f64
    );
    let mut ctx = request();

    if !idle {
        let serving = Instant::now();
        plugins.iter().for_each(|plugin| serve(plugin, &mut ctx));
        let serve_ms = serving.elapsed().as_secs_f64() * 1e3;
        let used = memory_bytes().expect("reading the process's memory") - base;
        for plugin in &plugins {
            assert_eq!(plugin.pool().stats().idle, 1, "one live sandbox per tenant");
        }
        println!(
            "first request per tenant: {:.1} us",
            serve_ms * 1e3 / tenants as f64
        );
        println!("memory total:             {:.1} MiB", kib(used) / 1024.0);
        println!(
            "memory per tenant:        {:.1} KiB (template and live sandbox)",
            per_tenant(used)
        );
        return;
    }

    let idle_memory = memory_bytes().expect("reading the process's memory") - base;
    for plugin in &plugins {
        assert_eq!(
            plugin.pool().stats().idle + plugin.pool().stats().in_use,
            0,
            "an idle tenant keeps no sandbox"
        );
    }
    println!(
        "memory total, all idle:   {:.1} MiB",
        kib(idle_memory) / 1024.0
    );
    println!(
        "memory per idle tenant:   {:.1} KiB",
        per_tenant(idle_memory)
    );

    // Requests for tenants spread over the whole set, each one idle until
    // then: every call forks its tenant's sandbox.
    let sample = ON_DEMAND_SAMPLE.min(tenants);
    let mut first_calls = Vec::with_capacity(sample);
    for k in 0..sample {
        let plugin = &plugins[k * tenants / sample];
        let call = Instant::now();
        serve(plugin, &mut ctx);
        first_calls.push(call.elapsed());
        assert_eq!(
            plugin.pool().stats().created,
            1,
            "one sandbox, forked for this call"
        );
    }
    first_calls.sort();
    let percentile =
        |p: f64| first_calls[((sample - 1) as f64 * p).round() as usize].as_secs_f64() * 1e6;
    let busy_memory = memory_bytes().expect("reading the process's memory") - base;
    println!(
        "first call of an idle tenant (fork + on_request), {sample} tenants: p50 {:.1} us, p99 {:.1} us",
        percentile(0.5),
        percentile(0.99)
    );
    println!(
        "memory with {sample} of them live: {:.1} MiB",
        kib(busy_memory) / 1024.0
    );

    // The runtime drops those sandboxes once they have been idle long
    // enough; wait for it (bounded: the sweeper runs every 125 ms here).
    let deadline = Instant::now() + IDLE_TIMEOUT * 20;
    while plugins.iter().any(|p| p.pool().stats().idle > 0) {
        assert!(
            Instant::now() < deadline,
            "the runtime did not drop idle sandboxes"
        );
        std::thread::sleep(IDLE_TIMEOUT / 4);
    }
    let dropped: u64 = plugins.iter().map(|p| p.pool().stats().dropped_idle).sum();
    assert_eq!(
        dropped, sample as u64,
        "each on-demand sandbox dropped once idle"
    );
    let after = memory_bytes().expect("reading the process's memory") - base;
    println!(
        "idle again after {IDLE_TIMEOUT:?}: {dropped} sandboxes dropped, memory {:.1} MiB",
        kib(after) / 1024.0
    );
}
