//! Noisy neighbours under load: 8 threads call 20 plugins while one plugin
//! loops forever and another allocates up to its memory limit on every call.
//! Every call of the 18 well-behaved plugins must succeed; their latency
//! percentiles are printed (no timing assertion: the machine is shared).
//!
//! What a noisy plugin's *own* callers see (README, "Noisy neighbours"): its
//! own trap (`OutOfFuel`/`Timeout`, `MemoryLimit`), or, when all of its
//! `max_size` sandboxes are busy with slow noisy calls for longer than
//! `acquire_timeout_ms`, `PoolTimeout`: backpressure on that plugin only.
//! The load test gives every pool one sandbox per thread, so no call ever
//! waits for a sandbox and each outcome is the plugin's own, whatever the
//! machine's load (a busy machine once turned the hoarder's `MemoryLimit`
//! into a `PoolTimeout` with the default two sandboxes);
//! `a_saturated_noisy_pool_times_out_its_own_callers_only` shows the
//! backpressure deterministically.

use crate::common::*;
use bext_plugin_api::middleware::RequestAction;
use bext_plugin_lua_wasm::{Error, LuaPlugin, LuaPluginConfig, LuaSandboxLimits, PoolConfig};
// The same load as the report's noisy-neighbour rows (one copy of the scripts).
use bext_lua_bench::noisy::{HOARDER, LIMITER, LOOPER, THREADS, WELL_BEHAVED};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const ROUNDS: usize = 6;

/// A plugin whose pool holds one sandbox per test thread: no call waits.
fn load_for_threads(name: &str, source: &str, limits: LuaSandboxLimits) -> LuaPlugin {
    let pool = PoolConfig::default().max_size(THREADS);
    runtime()
        .load_plugin(
            LuaPluginConfig::new(name, manifest(name), source)
                .limits(limits)
                .pool(pool),
        )
        .unwrap()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

#[test]
fn well_behaved_plugins_keep_serving_next_to_a_looper_and_a_hoarder() {
    // The noisy ones trap on every call and are never quarantined: the worst case.
    let noisy = LuaSandboxLimits::default().quarantine_after_traps(0);
    let looper = load_for_threads("noisy-looper", LOOPER, noisy.clone());
    // The hoarder's stop is its memory limit: no fuel limit, and a deadline
    // far enough that a loaded machine does not turn it into a timeout.
    let hoarder = load_for_threads(
        "noisy-hoarder",
        HOARDER,
        noisy
            .max_heap_bytes(8 << 20)
            .fuel_per_call(0)
            .timeout_ms(60_000),
    );
    let good: Vec<LuaPlugin> = (0..WELL_BEHAVED)
        .map(|i| load_for_threads(&format!("quiet-{i}"), LIMITER, LuaSandboxLimits::default()))
        .collect();

    let latencies = Arc::new(Mutex::new(Vec::new()));
    let started = Instant::now();
    std::thread::scope(|scope| {
        for thread in 0..THREADS {
            let (good, looper, hoarder, latencies) = (&good, &looper, &hoarder, latencies.clone());
            scope.spawn(move || {
                let mut mine = Vec::new();
                for round in 0..ROUNDS {
                    // Each thread walks the 20 plugins from a different start.
                    for k in 0..WELL_BEHAVED + 2 {
                        let slot = (k + thread * 3 + round) % (WELL_BEHAVED + 2);
                        let mut ctx = request(
                            "GET",
                            &format!("/item/{round}"),
                            &[("x-thread", &thread.to_string())],
                        );
                        match slot {
                            0 => match looper.try_on_request(&mut ctx) {
                                Err(Error::OutOfFuel { .. } | Error::Timeout { .. }) => {}
                                other => panic!("looper: {other:?}"),
                            },
                            1 => match hoarder.try_on_request(&mut ctx) {
                                Err(Error::MemoryLimit { limit_bytes, .. }) => {
                                    assert_eq!(limit_bytes, 8 << 20)
                                }
                                other => panic!("hoarder: {other:?}"),
                            },
                            n => {
                                let plugin = &good[n - 2];
                                let t0 = Instant::now();
                                let result = plugin.try_on_request(&mut ctx);
                                mine.push(t0.elapsed());
                                assert!(
                                    matches!(result, Ok(RequestAction::Continue)),
                                    "{}: {result:?}",
                                    plugin.name()
                                );
                                assert!(ctx.extensions.contains_key("hits"));
                            }
                        }
                    }
                }
                latencies.lock().unwrap().extend(mine);
            });
        }
    });
    let wall = started.elapsed();

    let mut latencies = latencies.lock().unwrap().clone();
    latencies.sort();
    assert_eq!(latencies.len(), THREADS * ROUNDS * WELL_BEHAVED);
    for plugin in &good {
        let stats = plugin.stats();
        assert_eq!(
            (stats.calls, stats.errors, stats.traps),
            ((THREADS * ROUNDS) as u64, 0, 0)
        );
        // Parallel calls may grow the pool up to its max_size; nothing is
        // ever discarded or rebuilt.
        let pool = plugin.pool();
        assert!(
            (1..=pool.config().max_size as u64).contains(&stats.instances_created),
            "{stats:?}"
        );
        assert_eq!(pool.stats().discarded_after_trap, 0);
    }
    let (l, h) = (looper.stats(), hoarder.stats());
    assert_eq!(
        (l.traps, h.traps),
        ((THREADS * ROUNDS) as u64, (THREADS * ROUNDS) as u64)
    );
    println!(
        "noisy neighbour: {THREADS} threads x {ROUNDS} rounds x 20 plugins in {:.2} s; {} well-behaved calls, all ok",
        wall.as_secs_f64(),
        latencies.len()
    );
    println!(
        "well-behaved latency: p50 {:?}  p90 {:?}  p99 {:?}  max {:?}",
        percentile(&latencies, 0.50),
        percentile(&latencies, 0.90),
        percentile(&latencies, 0.99),
        latencies[latencies.len() - 1]
    );
    println!(
        "looper: {} calls, {} traps, {} sandboxes; hoarder: {} calls, {} traps, {} sandboxes",
        l.calls, l.traps, l.instances_created, h.calls, h.traps, h.instances_created
    );
}

/// The backpressure a noisy plugin's own callers may see, made deterministic:
/// its only sandbox is held (as by a slow noisy call), so its next caller
/// waits `acquire_timeout_ms` and gets `PoolTimeout`, while a neighbour's
/// calls go on; once the sandbox is back, the noisy plugin's callers see its
/// own trap again.
#[test]
fn a_saturated_noisy_pool_times_out_its_own_callers_only() {
    let pool = PoolConfig::default()
        .size(1)
        .max_size(1)
        .acquire_timeout_ms(50);
    let limits = LuaSandboxLimits::default()
        .max_heap_bytes(8 << 20)
        .fuel_per_call(0)
        .timeout_ms(60_000)
        .quarantine_after_traps(0);
    let hoarder = runtime()
        .load_plugin(
            LuaPluginConfig::new("saturated-hoarder", manifest("saturated-hoarder"), HOARDER)
                .limits(limits)
                .pool(pool),
        )
        .unwrap();
    let neighbour = load("saturated-neighbour", LIMITER).unwrap();
    let held = hoarder.acquire().unwrap();
    match hoarder.try_on_request(&mut request("GET", "/", &[])) {
        Err(Error::PoolTimeout {
            plugin,
            max_size,
            waited_ms,
        }) => {
            assert_eq!((plugin.as_str(), max_size), ("saturated-hoarder", 1));
            assert!(waited_ms >= 50, "{waited_ms}");
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        neighbour.try_on_request(&mut request("GET", "/", &[])),
        Ok(RequestAction::Continue)
    ));
    drop(held);
    assert!(matches!(
        hoarder.try_on_request(&mut request("GET", "/", &[])),
        Err(Error::MemoryLimit { .. })
    ));
}
