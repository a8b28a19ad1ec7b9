//! `PluginStats` and `PoolStats`: one test per counter, serialization for a
//! metrics endpoint, fuel accounting with unlimited fuel.

use crate::common::*;
use bext_plugin_api::middleware::RequestAction;
use bext_plugin_lua_wasm::{
    Error, LuaPlugin, LuaPluginConfig, LuaSandboxLimits, PluginStats, PoolConfig,
};

fn call(plugin: &LuaPlugin, path: &str) -> Result<RequestAction, Error> {
    plugin.try_on_request(&mut request("GET", path, &[]))
}

fn load_counted(name: &str, limits: LuaSandboxLimits) -> LuaPlugin {
    runtime()
        .load_plugin(
            LuaPluginConfig::new(name, manifest(name), script("loop_or_continue.lua"))
                .limits(limits)
                .pool(PoolConfig::default().size(1).max_size(1)),
        )
        .unwrap()
}

/// `after - before` for every counter.
fn delta(before: PluginStats, after: PluginStats) -> [u64; 6] {
    [
        after.calls - before.calls,
        after.errors - before.errors,
        after.traps - before.traps,
        after.timeouts - before.timeouts,
        after.instances_created - before.instances_created,
        after.quarantined - before.quarantined,
    ]
}

#[test]
fn calls_errors_traps_and_instances_are_counted() {
    let plugin = load_counted(
        "counted",
        LuaSandboxLimits::default()
            .fuel_per_call(2_000_000)
            .quarantine_after_traps(0),
    );
    let loaded = plugin.stats();
    assert_eq!(
        (loaded.calls, loaded.instances_created),
        (0, 1),
        "{loaded:?}"
    );
    call(&plugin, "/").unwrap();
    let ok = plugin.stats();
    assert_eq!(delta(loaded, ok), [1, 0, 0, 0, 0, 0], "a good call: {ok:?}");
    assert!(matches!(
        call(&plugin, "/loop"),
        Err(Error::OutOfFuel { .. })
    ));
    let trapped = plugin.stats();
    // The trapped sandbox was discarded and replaced to keep `size` ready.
    assert_eq!(
        delta(ok, trapped),
        [1, 1, 1, 0, 1, 0],
        "a trap: {trapped:?}"
    );
    let lua_error = runtime()
        .load_plugin(LuaPluginConfig::new(
            "counted-lua-error",
            manifest("counted-lua-error"),
            "return { on_request = function() error('no') end }",
        ))
        .unwrap();
    let before = lua_error.stats();
    assert!(matches!(call(&lua_error, "/"), Err(Error::Lua { .. })));
    assert_eq!(
        delta(before, lua_error.stats()),
        [1, 1, 0, 0, 0, 0],
        "a Lua error is an error, not a trap"
    );
}

#[test]
fn timeouts_are_counted_and_add_no_stale_fuel_when_fuel_is_unlimited() {
    let plugin = load_counted(
        "unlimited-fuel",
        LuaSandboxLimits::default()
            .fuel_per_call(0)
            .timeout_ms(50)
            .quarantine_after_traps(0),
    );
    let before = plugin.stats();
    call(&plugin, "/").unwrap();
    let one_call = plugin.stats().fuel_consumed - before.fuel_consumed;
    assert!(
        one_call > 0 && one_call < 10_000_000,
        "a small call with unlimited fuel: {one_call}"
    );
    let before_loops = plugin.stats();
    for _ in 0..2 {
        assert!(matches!(call(&plugin, "/loop"), Err(Error::Timeout { .. })));
    }
    let after_loops = plugin.stats();
    assert_eq!(
        delta(before_loops, after_loops),
        [2, 2, 2, 2, 2, 0],
        "{after_loops:?}"
    );
    assert_eq!(
        after_loops.fuel_consumed, before_loops.fuel_consumed,
        "the fuel of a call stopped at its deadline is unknown and not made up"
    );
    call(&plugin, "/").unwrap();
    let again = plugin.stats().fuel_consumed - after_loops.fuel_consumed;
    assert!(again > 0 && again < 10_000_000, "{again}");
}

#[test]
fn fuel_of_metered_calls_adds_up() {
    let plugin = load_counted(
        "metered",
        LuaSandboxLimits::default()
            .fuel_per_call(2_000_000)
            .quarantine_after_traps(0),
    );
    let start = plugin.stats().fuel_consumed;
    call(&plugin, "/").unwrap();
    let first = plugin.stats().fuel_consumed - start;
    assert!(first > 0);
    assert!(matches!(
        call(&plugin, "/loop"),
        Err(Error::OutOfFuel { .. })
    ));
    assert_eq!(
        plugin.stats().fuel_consumed - start - first,
        2_000_000,
        "a call out of fuel used its whole budget"
    );
}

#[test]
fn quarantine_counters() {
    let plugin = load_counted(
        "quarantine-counted",
        LuaSandboxLimits::default()
            .fuel_per_call(2_000_000)
            .quarantine_after_traps(2)
            .quarantine_ms(600_000),
    );
    assert_eq!(
        (
            plugin.stats().quarantines,
            plugin.stats().recent_traps,
            plugin.stats().quarantined_for_ms
        ),
        (0, 0, None)
    );
    assert!(call(&plugin, "/loop").is_err());
    assert_eq!(plugin.stats().recent_traps, 1);
    call(&plugin, "/").unwrap();
    assert!(call(&plugin, "/loop").is_err());
    let stats = plugin.stats();
    assert_eq!((stats.quarantines, stats.recent_traps), (1, 2), "{stats:?}");
    assert!(
        stats
            .quarantined_for_ms
            .is_some_and(|ms| ms > 0 && ms <= 600_000),
        "{stats:?}"
    );
    let before = plugin.stats();
    assert!(matches!(call(&plugin, "/"), Err(Error::Quarantined { .. })));
    assert_eq!(delta(before, plugin.stats()), [1, 1, 0, 0, 0, 1]);
}

#[test]
fn latency_is_recorded_per_call() {
    let plugin = load_counted("latency", LuaSandboxLimits::default());
    assert_eq!(plugin.stats().latency.count(), 0);
    assert_eq!(plugin.stats().latency.quantile(0.5), None);
    for _ in 0..10 {
        call(&plugin, "/").unwrap();
    }
    let latency = plugin.stats().latency;
    assert_eq!(latency.count(), 10);
    let (p50, p99) = (
        latency.quantile(0.5).unwrap(),
        latency.quantile(0.99).unwrap(),
    );
    assert!(p50 <= p99, "{p50:?} {p99:?}");
}

#[test]
fn stats_serialize_for_a_metrics_endpoint() {
    let plugin = load_counted("serialized", LuaSandboxLimits::default());
    call(&plugin, "/").unwrap();
    let json = serde_json::to_value(plugin.stats()).unwrap();
    for key in [
        "calls",
        "errors",
        "traps",
        "instances_created",
        "timeouts",
        "fuel_consumed",
        "quarantined",
        "quarantines",
        "recent_traps",
        "quarantined_for_ms",
    ] {
        assert!(json.get(key).is_some(), "{key} missing from {json}");
    }
    assert_eq!(json["calls"], 1);
    assert_eq!(
        json["latency"]["buckets_us"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n.as_u64().unwrap())
            .sum::<u64>(),
        1
    );
    let pool = serde_json::to_value(plugin.pool().stats()).unwrap();
    for key in [
        "in_use",
        "idle",
        "created",
        "discarded_after_trap",
        "acquire_timeouts",
    ] {
        assert!(pool.get(key).is_some(), "{key} missing from {pool}");
    }
}
