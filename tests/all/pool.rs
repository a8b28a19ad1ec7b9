//! LuaPluginPool: eager sizing, parallel calls, timeouts, traps under load,
//! and the fresh-instance-per-call mode.

use crate::common::*;
use bext_plugin_api::middleware::RequestAction;
use bext_plugin_lua_wasm::{Error, LuaPlugin, LuaPluginConfig, LuaSandboxLimits, PoolConfig};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};

/// Counts its calls; `/spin` loops until the budget stops it.
const COUNTER: &str = r#"
local calls = 0
return {
  on_request = function(self, ctx)
    calls = calls + 1
    if ctx:find('"path":"/spin"', 1, true) then while true do end end
    return bext.middleware_respond('{"status":200,"body":"' .. calls .. '"}')
  end,
}"#;

fn load_pooled(name: &str, pool: PoolConfig) -> LuaPlugin {
    load_pooled_with_limits(name, pool, LuaSandboxLimits::default())
}

fn load_pooled_with_limits(name: &str, pool: PoolConfig, limits: LuaSandboxLimits) -> LuaPlugin {
    runtime()
        .load_plugin(
            LuaPluginConfig::new(name, manifest(name), COUNTER)
                .pool(pool)
                .limits(limits.fuel_per_call(2_000_000)),
        )
        .unwrap()
}

fn body(plugin: &LuaPlugin, path: &str) -> Result<String, Error> {
    match plugin.try_on_request(&mut request("GET", path, &[]))? {
        RequestAction::Respond(r) => Ok(String::from_utf8(r.body).unwrap()),
        RequestAction::Continue => Ok(String::new()),
    }
}

#[test]
fn size_sandboxes_are_ready_after_load() {
    let plugin = load_pooled("eager", PoolConfig::default().max_size(4).size(3));
    let stats = plugin.pool().stats();
    assert_eq!((stats.idle, stats.in_use, stats.created), (3, 0, 3));
}

#[test]
fn acquire_times_out_with_a_typed_error_and_try_acquire_does_not_wait() {
    let plugin = load_pooled(
        "single",
        PoolConfig::default()
            .size(1)
            .max_size(1)
            .acquire_timeout_ms(30),
    );
    let held = plugin.acquire().unwrap();
    match plugin.acquire() {
        Err(Error::PoolTimeout {
            plugin: name,
            waited_ms,
            max_size,
        }) => {
            assert_eq!((name.as_str(), max_size), ("single", 1));
            assert!(waited_ms >= 30, "{waited_ms}");
        }
        other => panic!("{other:?}"),
    }
    assert!(plugin.pool().try_acquire().unwrap().is_none());
    assert!(
        matches!(body(&plugin, "/"), Err(Error::PoolTimeout { .. })),
        "trait calls wait the same way"
    );
    drop(held);
    assert!(plugin.pool().try_acquire().unwrap().is_some());
    assert_eq!(plugin.pool().stats().acquire_timeouts, 2);
}

#[test]
fn pooled_instance_calls_methods_directly() {
    let plugin = load_pooled("direct", PoolConfig::default());
    let mut instance = plugin.acquire().unwrap();
    let action = instance
        .call_json("on_request", &[r#"{"path":"/"}"#])
        .unwrap()
        .unwrap();
    assert!(action.contains(r#""body":"1""#), "{action}");
}

#[test]
fn eight_threads_with_traps_mixed_in() {
    const THREADS: usize = 8;
    const CALLS: usize = 40;
    // Quarantine off: with four sandboxes, spins that happen to finish back to
    // back can make five traps in a row, and the breaker (tested in
    // tests/all/attacks.rs) would then refuse the calls this test counts.
    let plugin = load_pooled_with_limits(
        "contended",
        PoolConfig::default()
            .size(2)
            .max_size(4)
            .acquire_timeout_ms(60_000),
        LuaSandboxLimits::default().quarantine_after_traps(0),
    );
    let barrier = Arc::new(Barrier::new(THREADS));
    let ok = Arc::new(AtomicUsize::new(0));
    let trapped = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            let (plugin, barrier, ok, trapped) =
                (plugin.clone(), barrier.clone(), ok.clone(), trapped.clone());
            std::thread::spawn(move || {
                barrier.wait();
                for i in 0..CALLS {
                    let spin = (t + i) % 10 == 0;
                    match body(&plugin, if spin { "/spin" } else { "/" }) {
                        Ok(_) if !spin => ok.fetch_add(1, Ordering::Relaxed),
                        Err(Error::OutOfFuel { .. }) if spin => {
                            trapped.fetch_add(1, Ordering::Relaxed)
                        }
                        other => panic!("thread {t} call {i} (spin {spin}): {other:?}"),
                    };
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    let traps = trapped.load(Ordering::Relaxed);
    assert_eq!(ok.load(Ordering::Relaxed) + traps, THREADS * CALLS);
    let pool = plugin.pool().stats();
    assert_eq!(pool.in_use, 0);
    assert_eq!(pool.discarded_after_trap, traps as u64);
    assert!(pool.idle >= 2 && pool.idle <= 4, "{pool:?}");
    let stats = plugin.stats();
    assert_eq!(
        (stats.calls, stats.traps),
        ((THREADS * CALLS) as u64, traps as u64)
    );
}

#[test]
fn calls_run_in_parallel_up_to_max_size() {
    // Four threads each hold a sandbox at the same time: only possible if the
    // pool hands out four different ones.
    let plugin = load_pooled(
        "parallel",
        PoolConfig::default()
            .size(1)
            .max_size(4)
            .acquire_timeout_ms(60_000),
    );
    let barrier = Arc::new(Barrier::new(4));
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let (plugin, barrier) = (plugin.clone(), barrier.clone());
            std::thread::spawn(move || {
                let instance = plugin.acquire().unwrap();
                barrier.wait(); // all four held at once
                drop(instance);
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    assert_eq!(plugin.pool().stats().created, 4);
}

#[test]
fn fresh_instance_per_call_keeps_no_state_between_calls() {
    let pooled = load_pooled("keeps-state", PoolConfig::default().size(1).max_size(1));
    assert_eq!(
        (body(&pooled, "/").unwrap(), body(&pooled, "/").unwrap()),
        ("1".into(), "2".into())
    );

    let fresh = load_pooled("fresh", PoolConfig::default().fresh_instance_per_call(true));
    for _ in 0..5 {
        assert_eq!(
            body(&fresh, "/").unwrap(),
            "1",
            "every call starts from the loaded script"
        );
    }
    let stats = fresh.pool().stats();
    assert_eq!((stats.idle, stats.created), (0, 5));
}
