//! An async server's view of the plugin runtime (tokio, no HTTP): two
//! workers serve four tenants while one tenant's plugin loops on every
//! request. The async API yields to the executor at every epoch tick, and
//! each plugin may run only `max_concurrent_calls` calls at once, so the
//! good tenants keep being served. A `tokio::time::timeout` around a call
//! cancels it. Asserts its outcome.
//!
//! Run: `cargo run --example async_server`
use bext_plugin_api::middleware::{RequestAction, RequestContext};
use bext_plugin_lua_wasm::{
    Error, LuaPlugin, LuaPluginConfig, LuaPluginRuntime, LuaSandboxLimits, PoolConfig,
};
use std::time::Duration;

fn request(path: &str) -> RequestContext {
    RequestContext {
        method: "GET".into(),
        path: path.into(),
        hostname: "example.com".into(),
        headers: vec![],
        query_string: String::new(),
        peer_ip: Some("203.0.113.7".into()),
        tenant_id: None,
        site_id: None,
        extensions: Default::default(),
    }
}

fn load(rt: &LuaPluginRuntime, name: &str, source: &str, limits: LuaSandboxLimits) -> LuaPlugin {
    let manifest =
        serde_json::from_value(serde_json::json!({ "name": name, "version": "1.0.0" })).unwrap();
    let config = LuaPluginConfig::new(name, manifest, source)
        .limits(limits)
        // One call of each tenant at a time: its fair share of two workers.
        .pool(PoolConfig::default().max_concurrent_calls(1).acquire_timeout_ms(2000));
    rt.load_plugin(config)
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn main() {
    let server = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    server.block_on(serve());
}

async fn serve() {
    let rt = LuaPluginRuntime::new();
    let good = [
        load(
            &rt,
            "headers",
            include_str!("plugins/security_headers.lua"),
            LuaSandboxLimits::default(),
        ),
        load(
            &rt,
            "ratelimit",
            include_str!("plugins/ratelimit.lua"),
            LuaSandboxLimits::default(),
        ),
        load(
            &rt,
            "hello",
            include_str!("plugins/hello.lua"),
            LuaSandboxLimits::default(),
        ),
    ];
    // The runaway tenant loops on /spin until its 50 ms deadline (no fuel
    // budget, no quarantine: every request runs to the deadline).
    let runaway_limits = LuaSandboxLimits::default()
        .fuel_per_call(0)
        .timeout_ms(50)
        .quarantine_after_traps(0);
    let runaway = load(
        &rt,
        "runaway",
        include_str!("plugins/runaway.lua"),
        runaway_limits,
    );

    // 20 looping requests at once...
    let spinning: Vec<_> = (0..20)
        .map(|_| {
            let runaway = runaway.clone();
            tokio::spawn(async move { runaway.try_on_request_async(&mut request("/spin")).await })
        })
        .collect();
    // ...while the good tenants serve 300 requests.
    let served: Vec<_> = (0..300)
        .map(|i| {
            let plugin = good[i % good.len()].clone();
            tokio::spawn(async move { plugin.try_on_request_async(&mut request("/")).await })
        })
        .collect();
    for call in served {
        assert!(matches!(call.await.unwrap(), Ok(RequestAction::Continue)));
    }
    let (mut timeouts, mut refused) = (0, 0);
    for call in spinning {
        match call.await.unwrap() {
            Err(Error::Timeout { .. }) => timeouts += 1,
            Err(Error::ConcurrencyLimit { .. }) => refused += 1,
            other => panic!("a looping request ended with {other:?}"),
        }
    }
    assert_eq!(timeouts + refused, 20);
    println!(
        "300 good requests served; 20 looping ones stopped: {timeouts} at their deadline, {refused} over the fair share"
    );

    // A client that goes away: dropping the future (here by a timeout)
    // stops the guest at its next yield and discards its sandbox.
    let mut spin = request("/spin");
    let slow_client = tokio::time::timeout(
        Duration::from_millis(5),
        runaway.try_on_request_async(&mut spin),
    );
    assert!(slow_client.await.is_err(), "the call was cancelled");
    let pool = runaway.pool().async_stats();
    assert_eq!((pool.in_use, pool.discarded_after_cancel), (0, 1));
    assert!(matches!(
        runaway.try_on_request_async(&mut request("/")).await,
        Ok(RequestAction::Continue)
    ));
    println!(
        "cancelled call: sandbox discarded, no slot leaked; the tenant serves its next request"
    );
}
