//! The async API (`try_*_async`): same results and typed errors as the sync
//! API, yields to the executor while a guest runs, cancellation by dropping
//! the future, the per-plugin cap on concurrent calls, quarantine and hot
//! reload, and a looping tenant next to good ones on two tokio workers.
//! Assertions are on outcomes, counts and ordering, never on wall-clock time.

use crate::common::*;
use bext_plugin_api::cache::CacheEntry;
use bext_plugin_api::middleware::{RequestAction, ResponseHeaders};
use bext_plugin_api::transform::TransformContext;
use bext_plugin_api::types::PluginCapability;
use bext_plugin_lua_wasm::{
    Error, LifecycleHook, LuaPlugin, LuaPluginConfig, LuaSandboxLimits, PoolConfig,
};
use serde_json::json;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

/// A runtime with one thread: a guest that did not yield would hold it.
fn current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn two_workers() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// `tests/scripts/loop_or_continue.lua`: loops on `/loop`, continues otherwise.
fn looping(name: &str, limits: LuaSandboxLimits, pool: PoolConfig) -> LuaPlugin {
    let config = LuaPluginConfig::new(name, manifest(name), script("loop_or_continue.lua"))
        .limits(limits)
        .pool(pool);
    runtime().load_plugin(config).unwrap()
}

/// Limits for a tenant that loops until its deadline: no fuel budget, no
/// quarantine (so every call runs to the deadline).
fn deadline_only(timeout_ms: u64) -> LuaSandboxLimits {
    LuaSandboxLimits::default()
        .fuel_per_call(0)
        .timeout_ms(timeout_ms)
        .quarantine_after_traps(0)
}

fn assert_send<F: Future + Send>(future: F) -> F {
    future
}

#[test]
fn async_middleware_gives_the_sync_results() {
    let plugin = load("async-ratelimit", &example_plugin("ratelimit.lua")).unwrap();
    let headers = load("async-headers", &example_plugin("security_headers.lua")).unwrap();
    current_thread().block_on(async {
        let mut ctx = request("GET", "/", &[]);
        let action = assert_send(plugin.try_on_request_async(&mut ctx))
            .await
            .unwrap();
        assert!(matches!(action, RequestAction::Continue));
        assert!(
            ctx.extensions.contains_key("ratelimit.remaining"),
            "extensions are applied: {:?}",
            ctx.extensions
        );

        let mut sync_response = ResponseHeaders {
            status: 200,
            headers: vec![],
        };
        headers.try_on_response(&ctx, &mut sync_response).unwrap();
        let mut async_response = ResponseHeaders {
            status: 200,
            headers: vec![],
        };
        assert_send(headers.try_on_response_async(&ctx, &mut async_response))
            .await
            .unwrap();
        assert_eq!(async_response.headers, sync_response.headers);
        assert_eq!(async_response.headers.len(), 4);
    });
    let async_stats = plugin.pool().async_stats();
    assert_eq!(
        (async_stats.created, async_stats.in_use, async_stats.idle),
        (1, 0, 1),
        "built on first use, kept"
    );
}

#[test]
fn every_capability_has_an_async_path() {
    let cache = load("async-cache", &example_plugin("cache.lua")).unwrap();
    let flags = load("async-flags", &example_plugin("feature_flags.lua")).unwrap();
    let hooks = load(
        "async-hooks",
        r#"local seen = {}
           return {
             on_request_complete = function(self, event) seen[#seen + 1] = event end,
             cleanup = function(self) error("cleanup failed: " .. #seen) end,
             matches = function(self, path) return path:find("%.js$") end,
             transform = function(self, source) return source:upper() end }"#,
    )
    .unwrap();
    current_thread().block_on(async {
        let entry = CacheEntry {
            html: "<p>hi</p>".into(),
            headers: vec![("content-type".into(), "text/html".into())],
            etag: "\"9\"".into(),
            tags: vec!["home".into()],
            created_at_ms: 1,
        };
        cache
            .try_cache_set_async("/", &entry, Some(60_000))
            .await
            .unwrap();
        assert_eq!(
            cache.try_cache_get_async("/").await.unwrap().unwrap().html,
            "<p>hi</p>"
        );
        assert!(
            cache
                .try_cache_get_async("/missing")
                .await
                .unwrap()
                .is_none()
        );
        assert_eq!(cache.try_invalidate_tag_async("home").await.unwrap(), 1);
        assert_eq!(cache.try_invalidate_path_async("/*").await.unwrap(), 0);
        assert!(!cache.try_cache_delete_async("/").await.unwrap());
        assert!(cache.try_is_healthy_async().await.unwrap());

        hooks
            .try_lifecycle_async(LifecycleHook::RequestComplete { event_json: "{}" })
            .await
            .unwrap();
        hooks
            .try_lifecycle_async(LifecycleHook::ServerStop)
            .await
            .unwrap(); // not defined: a no-op
        let err = hooks
            .try_lifecycle_async(LifecycleHook::Cleanup)
            .await
            .unwrap_err();
        assert!(
            matches!(&err, Error::Lua { message, .. } if message.ends_with("cleanup failed: 1")),
            "{err}"
        );

        let ctx = TransformContext {
            node_env: "production".into(),
            env_vars: vec![],
        };
        assert!(hooks.try_matches_async("app.js", "x").await.unwrap());
        assert!(!hooks.try_matches_async("app.css", "x").await.unwrap());
        assert_eq!(
            hooks
                .try_transform_async("abc", "app.js", &ctx)
                .await
                .unwrap()
                .as_deref(),
            Some("ABC")
        );

        // The generic path: any capability's method by name, JSON in and out.
        let ctx_json = json!({ "user_id": null, "attributes": { "plan": "pro" } });
        let value = flags
            .try_call_async(
                PluginCapability::FeatureFlag,
                "evaluate",
                &[json!("max_uploads"), ctx_json.clone()],
            )
            .await;
        assert_eq!(value.unwrap(), Some(json!(100)));
        let sync = flags
            .try_call(
                PluginCapability::FeatureFlag,
                "evaluate",
                &[json!("max_uploads"), ctx_json],
            )
            .unwrap();
        assert_eq!(sync, Some(json!(100)));
        let err = flags
            .try_call_async(
                PluginCapability::FeatureFlag,
                "evaluate",
                &[json!("nope"), json!({})],
            )
            .await
            .unwrap_err();
        assert!(
            matches!(&err, Error::Lua { message, .. } if message == "unknown flag `nope`"),
            "{err}"
        );
    });
}

#[test]
fn limits_stop_async_calls_with_the_same_typed_errors() {
    let fuel = looping(
        "async-fuel",
        LuaSandboxLimits::default()
            .fuel_per_call(1_000_000)
            .quarantine_after_traps(0),
        PoolConfig::default(),
    );
    let deadline = looping("async-deadline", deadline_only(30), PoolConfig::default());
    let memory = looping(
        "async-memory",
        // No fuel limit: the bomb must reach the heap limit first.
        LuaSandboxLimits::default()
            .max_heap_bytes(16 << 20)
            .fuel_per_call(0)
            .quarantine_after_traps(0),
        PoolConfig::default(),
    );
    current_thread().block_on(async {
        let err = fuel
            .try_on_request_async(&mut request("GET", "/loop", &[]))
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                Error::OutOfFuel {
                    fuel_limit: 1_000_000,
                    ..
                }
            ),
            "{err}"
        );
        let err = deadline
            .try_on_request_async(&mut request("GET", "/pcall-loop", &[]))
            .await
            .unwrap_err();
        assert!(
            matches!(err, Error::Timeout { timeout_ms: 30, .. }),
            "pcall cannot catch it: {err}"
        );
        let err = memory
            .try_on_request_async(&mut request("GET", "/memory-bomb", &[]))
            .await
            .unwrap_err();
        assert!(matches!(err, Error::MemoryLimit { .. }), "{err}");
        // Each trapped sandbox was discarded; the next call gets a fresh one.
        for plugin in [&fuel, &deadline, &memory] {
            let action = plugin
                .try_on_request_async(&mut request("GET", "/", &[]))
                .await
                .unwrap();
            assert!(matches!(action, RequestAction::Continue));
            let (stats, pool) = (plugin.stats(), plugin.pool().async_stats());
            assert_eq!(
                (stats.traps, pool.discarded_after_trap, pool.in_use),
                (1, 1, 0),
                "{}",
                plugin.name()
            );
        }
    });
}

#[test]
fn a_looping_guest_yields_so_other_tasks_run_on_the_same_thread() {
    let bad = looping(
        "async-yield-bad",
        deadline_only(1000),
        PoolConfig::default(),
    );
    let good = load("async-yield-good", &example_plugin("security_headers.lua")).unwrap();
    let finished_good = Arc::new(AtomicUsize::new(0));
    current_thread().block_on(async {
        let looping_call = {
            let bad = bad.clone();
            tokio::spawn(async move {
                bad.try_on_request_async(&mut request("GET", "/loop", &[]))
                    .await
            })
        };
        let good_calls: Vec<_> = (0..20)
            .map(|_| {
                let (good, finished_good) = (good.clone(), finished_good.clone());
                tokio::spawn(async move {
                    good.try_on_request_async(&mut request("GET", "/", &[]))
                        .await
                        .unwrap();
                    finished_good.fetch_add(1, Ordering::SeqCst)
                })
            })
            .collect();
        let err = looping_call.await.unwrap().unwrap_err();
        // The one thread ran every good call while the loop was suspended
        // at an epoch yield, before the loop reached its deadline.
        assert_eq!(
            finished_good.load(Ordering::SeqCst),
            20,
            "the looping guest never yielded"
        );
        assert!(matches!(err, Error::Timeout { .. }), "{err}");
        for call in good_calls {
            call.await.unwrap();
        }
    });
}

#[test]
fn dropping_the_future_cancels_the_call_and_frees_its_slot() {
    // One concurrent call allowed: a leaked permit or slot would make the
    // calls after the cancellations fail.
    let pool = PoolConfig::default()
        .max_concurrent_calls(1)
        .acquire_timeout_ms(60_000);
    let plugin = looping("async-cancel", deadline_only(60_000), pool);
    current_thread().block_on(async {
        for round in 1..=3 {
            let mut ctx = request("GET", "/loop", &[]);
            let call = plugin.try_on_request_async(&mut ctx);
            let timed_out = tokio::time::timeout(Duration::from_millis(20), call).await;
            assert!(timed_out.is_err(), "the loop only ends by cancellation");
            let (stats, pool) = (plugin.stats(), plugin.pool().async_stats());
            assert_eq!(
                (
                    stats.cancelled,
                    pool.discarded_after_cancel,
                    pool.in_use,
                    pool.idle
                ),
                (round, round, 0, 0)
            );
        }
        // A waiter dropped while queued for the permit frees nothing it did not take.
        let (mut looping_ctx, mut plain_ctx) =
            (request("GET", "/loop", &[]), request("GET", "/", &[]));
        let holder = plugin.try_on_request_async(&mut looping_ctx);
        let waiter = plugin.try_on_request_async(&mut plain_ctx);
        let both = async {
            let (mut holder, mut waiter) = (std::pin::pin!(holder), std::pin::pin!(waiter));
            std::future::poll_fn(|cx| {
                let _ = holder.as_mut().poll(cx);
                let _ = waiter.as_mut().poll(cx);
                std::task::Poll::<()>::Pending
            })
            .await
        };
        assert!(
            tokio::time::timeout(Duration::from_millis(20), both)
                .await
                .is_err()
        );
        let action = plugin
            .try_on_request_async(&mut request("GET", "/", &[]))
            .await
            .unwrap();
        assert!(matches!(action, RequestAction::Continue));
        let (stats, pool) = (plugin.stats(), plugin.pool().async_stats());
        assert_eq!(
            (stats.traps, stats.cancelled, pool.in_use, pool.idle),
            (0, 4, 0, 1)
        );
    });
    // The sync pool was never touched.
    assert_eq!(plugin.pool().stats().in_use, 0);
}

#[test]
fn calls_beyond_the_cap_wait_their_turn_then_fail_typed() {
    let pool = PoolConfig::default()
        .max_concurrent_calls(1)
        .acquire_timeout_ms(30);
    let plugin = looping("async-cap", deadline_only(60_000), pool);
    current_thread().block_on(async {
        let holder = {
            let plugin = plugin.clone();
            tokio::spawn(async move { plugin.try_on_request_async(&mut request("GET", "/loop", &[])).await })
        };
        tokio::task::yield_now().await; // the holder takes the only permit
        let err = plugin.try_on_request_async(&mut request("GET", "/", &[])).await.unwrap_err();
        assert!(matches!(&err, Error::ConcurrencyLimit { max_concurrent_calls: 1, method, .. } if method == "on_request"), "{err}");
        assert!(err.to_string().contains("async-cap"), "{err}");
        assert_eq!(plugin.pool().async_stats().acquire_timeouts, 1);
        holder.abort();
        assert!(holder.await.unwrap_err().is_cancelled());
        assert!(plugin.try_on_request_async(&mut request("GET", "/", &[])).await.is_ok(), "the permit came back");
    });

    // Waiters are served in turn when the holder finishes (here: at its deadline).
    let pool = PoolConfig::default()
        .max_concurrent_calls(1)
        .acquire_timeout_ms(60_000);
    let plugin = looping("async-cap-fifo", deadline_only(30), pool);
    two_workers().block_on(async {
        let spawn_call = |path: &'static str| {
            let plugin = plugin.clone();
            tokio::spawn(async move {
                plugin
                    .try_on_request_async(&mut request("GET", path, &[]))
                    .await
            })
        };
        let (first, second) = (spawn_call("/loop"), spawn_call("/"));
        let (first, second) = (first.await.unwrap(), second.await.unwrap());
        assert!(matches!(first, Err(Error::Timeout { .. })), "{first:?}");
        assert!(matches!(second, Ok(RequestAction::Continue)), "{second:?}");
    });
}

#[test]
fn quarantine_and_hot_reload_work_through_the_async_api() {
    let limits = LuaSandboxLimits::default()
        .fuel_per_call(0)
        .timeout_ms(10)
        .quarantine_after_traps(2)
        .quarantine_ms(60_000);
    let plugin = looping("async-quarantine", limits, PoolConfig::default());
    current_thread().block_on(async {
        for _ in 0..2 {
            let err = plugin
                .try_on_request_async(&mut request("GET", "/loop", &[]))
                .await
                .unwrap_err();
            assert!(matches!(err, Error::Timeout { .. }), "{err}");
        }
        let err = plugin
            .try_on_request_async(&mut request("GET", "/", &[]))
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                Error::Quarantined {
                    recent_traps: 2,
                    ..
                }
            ),
            "{err}"
        );
        assert_eq!(plugin.stats().quarantined, 1);
    });

    let version = |v: u32| {
        format!(
            r#"return {{ on_request = function() return bext.middleware_respond('{{"status":200,"body":"v{v}"}}') end }}"#
        )
    };
    let body = |action: RequestAction| match action {
        RequestAction::Respond(response) => String::from_utf8(response.body).unwrap(),
        RequestAction::Continue => panic!("expected a response"),
    };
    runtime()
        .load_plugin(LuaPluginConfig::new(
            "async-reload",
            manifest("async-reload"),
            version(1),
        ))
        .unwrap();
    let old = runtime().plugin("async-reload").unwrap();
    current_thread().block_on(async {
        assert_eq!(
            body(
                old.try_on_request_async(&mut request("GET", "/", &[]))
                    .await
                    .unwrap()
            ),
            "v1"
        );
        runtime()
            .load_plugin(LuaPluginConfig::new(
                "async-reload",
                manifest("async-reload"),
                version(2),
            ))
            .unwrap();
        let new = runtime().plugin("async-reload").unwrap();
        assert_eq!(
            body(
                new.try_on_request_async(&mut request("GET", "/", &[]))
                    .await
                    .unwrap()
            ),
            "v2"
        );
        assert_eq!(
            body(
                old.try_on_request_async(&mut request("GET", "/", &[]))
                    .await
                    .unwrap()
            ),
            "v1",
            "held handles keep their version"
        );
    });
}

/// The issue's scenario: two tokio workers serve four tenants; one loops to
/// its deadline under 50 concurrent requests. Every good request is served
/// (none waits for a loop to end), and all of them finish before the
/// looping tenant's requests are through.
#[test]
fn a_looping_tenant_does_not_stall_good_tenants_on_two_workers() {
    let bad = looping(
        "tenant-loop",
        deadline_only(100),
        PoolConfig::default()
            .max_concurrent_calls(1)
            .acquire_timeout_ms(500),
    );
    let good = [
        load("tenant-headers", &example_plugin("security_headers.lua")).unwrap(),
        load("tenant-ratelimit", &example_plugin("ratelimit.lua")).unwrap(),
        load("tenant-hello", &example_plugin("hello.lua")).unwrap(),
    ];
    let bad_running = Arc::new(AtomicBool::new(true));
    let timeouts = two_workers().block_on(async {
        let bad_calls: Vec<_> = (0..50)
            .map(|_| {
                let bad = bad.clone();
                tokio::spawn(async move {
                    bad.try_on_request_async(&mut request("GET", "/loop", &[]))
                        .await
                })
            })
            .collect();
        let bad_done = {
            let bad_running = bad_running.clone();
            tokio::spawn(async move {
                let results: Vec<_> = futures_join_all(bad_calls).await;
                bad_running.store(false, Ordering::SeqCst);
                results
            })
        };
        let good_calls: Vec<_> = good
            .iter()
            .flat_map(|plugin| (0..20).map(move |_| plugin.clone()))
            .map(|plugin| {
                let bad_running = bad_running.clone();
                tokio::spawn(async move {
                    let action = plugin
                        .try_on_request_async(&mut request(
                            "GET",
                            "/",
                            &[("x-forwarded-for", "198.51.100.1")],
                        ))
                        .await;
                    (action, bad_running.load(Ordering::SeqCst))
                })
            })
            .collect();
        for call in good_calls {
            let (action, bad_still_running) = call.await.unwrap();
            assert!(matches!(action, Ok(RequestAction::Continue)), "{action:?}");
            assert!(
                bad_still_running,
                "a good request waited for the looping tenant's requests to end"
            );
        }
        let bad_results = bad_done.await.unwrap();
        let timeouts = bad_results
            .iter()
            .filter(|r| matches!(r, Err(Error::Timeout { .. })))
            .count();
        let refused = bad_results
            .iter()
            .filter(|r| matches!(r, Err(Error::ConcurrencyLimit { .. })))
            .count();
        assert_eq!(
            timeouts + refused,
            50,
            "every looping call ends with a typed error"
        );
        assert!(timeouts >= 1, "the loops ran to their deadline");
        assert!(refused > 0, "the fair share turned the excess away");
        timeouts as u64
    });
    let stats = bad.pool().async_stats();
    assert_eq!(
        (stats.in_use, stats.idle, stats.discarded_after_trap),
        (0, 0, timeouts),
        "each loop's sandbox discarded, none leaked"
    );
}

/// Awaits every task (tokio has no join_all of its own).
async fn futures_join_all<T>(tasks: Vec<tokio::task::JoinHandle<T>>) -> Vec<T> {
    let mut out = Vec::with_capacity(tasks.len());
    for task in tasks {
        out.push(task.await.unwrap());
    }
    out
}
