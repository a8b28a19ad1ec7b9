//! Quarantine under concurrency: traps are counted over the plugin's recent
//! calls, so good calls mixed in from other callers do not hide a looping
//! path; the quarantine shows in the stats, and a probe after the cool-down
//! either restarts it (the probe trapped) or lets the plugin serve again.

use crate::common::*;
use bext_plugin_api::middleware::RequestAction;
use bext_plugin_lua_wasm::{Error, LuaPlugin, LuaPluginConfig, LuaSandboxLimits, PoolConfig};
use std::sync::{Arc, Barrier};
use std::time::Duration;

fn call(plugin: &LuaPlugin, path: &str) -> Result<RequestAction, Error> {
    plugin.try_on_request(&mut request("GET", path, &[]))
}

fn load_mixed(name: &str, limits: LuaSandboxLimits, pool: PoolConfig) -> LuaPlugin {
    runtime()
        .load_plugin(
            LuaPluginConfig::new(name, manifest(name), script("loop_or_continue.lua"))
                .limits(limits)
                .pool(pool),
        )
        .unwrap()
}

/// Waits out the cool-down the plugin reports: the time is the rule under
/// test (a probe is let through once it has passed), not a guess at how
/// long something takes.
fn wait_for_probe(plugin: &LuaPlugin) {
    let refused = call(plugin, "/").unwrap_err();
    assert!(matches!(refused, Error::Quarantined { .. }), "{refused:?}");
    std::thread::sleep(
        refused
            .retry_after()
            .expect("a quarantine says when to retry"),
    );
}

#[test]
fn concurrent_good_and_looping_calls_get_quarantined_and_recover() {
    const THREADS: usize = 4;
    let limits = LuaSandboxLimits::default()
        .fuel_per_call(2_000_000)
        .quarantine_after_traps(4)
        .quarantine_window_calls(16)
        .quarantine_ms(300);
    let plugin = load_mixed(
        "mixed-quarantine",
        limits,
        PoolConfig::default()
            .size(2)
            .max_size(2)
            .acquire_timeout_ms(60_000),
    );
    let barrier = Arc::new(Barrier::new(THREADS));
    let callers: Vec<_> = (0..THREADS)
        .map(|t| {
            let (plugin, barrier) = (plugin.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                // Every caller alternates a good path and a looping one, so
                // no caller ever sees many traps in a row.
                for i in 0..500 {
                    let looping = (t + i) % 2 == 0;
                    match call(&plugin, if looping { "/loop" } else { "/" }) {
                        Err(Error::Quarantined { .. }) => return true,
                        Err(Error::OutOfFuel { .. }) if looping => {}
                        Ok(RequestAction::Continue) if !looping => {}
                        other => panic!("caller {t}, call {i} (looping {looping}): {other:?}"),
                    }
                }
                false
            })
        })
        .collect();
    for caller in callers {
        assert!(
            caller.join().unwrap(),
            "every caller ends up refused by the quarantine"
        );
    }
    let stats = plugin.stats();
    assert!(stats.quarantines >= 1, "{stats:?}");
    assert!(stats.quarantined >= THREADS as u64, "{stats:?}");
    assert!(stats.recent_traps >= 4, "{stats:?}");
    assert!(
        stats.quarantined_for_ms.is_some_and(|ms| ms <= 300),
        "{stats:?}"
    );

    // A probe that traps restarts the quarantine.
    wait_for_probe(&plugin);
    assert!(matches!(
        call(&plugin, "/loop"),
        Err(Error::OutOfFuel { .. })
    ));
    assert!(matches!(call(&plugin, "/"), Err(Error::Quarantined { .. })));

    // A probe that succeeds ends it: the plugin serves every path again.
    wait_for_probe(&plugin);
    assert!(matches!(call(&plugin, "/"), Ok(RequestAction::Continue)));
    let stats = plugin.stats();
    assert_eq!(
        (stats.quarantined_for_ms, stats.recent_traps),
        (None, 0),
        "{stats:?}"
    );
    assert!(
        matches!(call(&plugin, "/loop"), Err(Error::OutOfFuel { .. })),
        "one trap after recovering is not a quarantine"
    );
    assert!(matches!(call(&plugin, "/"), Ok(RequestAction::Continue)));
}

#[test]
fn callers_starved_behind_looping_calls_count_against_the_plugin() {
    // Every call loops until its 100 ms deadline; one sandbox, and waiters
    // give up after 1 ms: most calls end in a pool timeout, a few in a
    // trap. The streak rule this replaces never quarantined that mix.
    const THREADS: usize = 4;
    let limits = LuaSandboxLimits::default()
        .fuel_per_call(0)
        .timeout_ms(100)
        .quarantine_after_traps(3)
        .quarantine_window_calls(20)
        .quarantine_ms(600_000);
    let plugin = load_mixed(
        "starved-quarantine",
        limits,
        PoolConfig::default()
            .size(1)
            .max_size(1)
            .acquire_timeout_ms(1),
    );
    let callers: Vec<_> = (0..THREADS)
        .map(|t| {
            let plugin = plugin.clone();
            std::thread::spawn(move || {
                for i in 0..10_000 {
                    match call(&plugin, "/loop") {
                        Err(Error::Quarantined { .. }) => return true,
                        Err(Error::Timeout { .. } | Error::PoolTimeout { .. }) => {}
                        other => panic!("caller {t}, call {i}: {other:?}"),
                    }
                }
                false
            })
        })
        .collect();
    for caller in callers {
        assert!(
            caller.join().unwrap(),
            "every caller ends up refused by the quarantine"
        );
    }
    let stats = plugin.stats();
    assert!(stats.quarantines >= 1 && stats.timeouts >= 1, "{stats:?}");
}

#[test]
fn retry_after_is_set_for_load_errors_only() {
    let plugin = load_mixed(
        "retry-after",
        LuaSandboxLimits::default()
            .fuel_per_call(2_000_000)
            .quarantine_after_traps(1)
            .quarantine_ms(600_000),
        PoolConfig::default(),
    );
    let trap = call(&plugin, "/loop").unwrap_err();
    assert_eq!(trap.retry_after(), None, "{trap:?}");
    let refused = call(&plugin, "/").unwrap_err();
    let Error::Quarantined { retry_after_ms, .. } = refused else {
        panic!("{refused:?}")
    };
    assert_eq!(
        refused.retry_after(),
        Some(Duration::from_millis(retry_after_ms))
    );
    assert!(retry_after_ms > 0 && retry_after_ms <= 600_000);

    let busy = load_mixed(
        "retry-after-pool",
        LuaSandboxLimits::default(),
        PoolConfig::default()
            .size(1)
            .max_size(1)
            .acquire_timeout_ms(5),
    );
    let _held = busy.acquire().unwrap();
    let timeout = call(&busy, "/").unwrap_err();
    let Error::PoolTimeout { waited_ms, .. } = timeout else {
        panic!("{timeout:?}")
    };
    assert_eq!(
        timeout.retry_after(),
        Some(Duration::from_millis(waited_ms.max(1)))
    );
}
