//! `bext.shared` on Redis: the same API against Debian's `redis-server`
//! (started per test on a loopback port, stopped after), an exact rate limit
//! across two runtimes sharing one server, namespaces, the fallback when the
//! server is down, and a hung server stopped by the call's deadline.

use crate::common::*;
use bext_plugin_lua_wasm::{
    Error, LuaPlugin, LuaPluginConfig, LuaPluginRuntime, LuaRuntimeConfig, LuaSandboxLimits,
    PoolConfig, RedisShared, RedisUnavailable, SharedBackend,
};
use bext_test_support::redis_server::RedisServer;

fn redis(server: &RedisServer) -> RedisShared {
    RedisShared::new(&server.url()).unwrap().op_timeout_ms(2000)
}

/// The eval harness with its dictionary in Redis (chosen per plugin).
fn evaluator(name: &str, backend: RedisShared) -> LuaPlugin {
    runtime()
        .load_plugin(
            LuaPluginConfig::new(name, manifest(name), script("eval.lua"))
                .shared_backend(SharedBackend::Redis(backend)),
        )
        .unwrap()
}

#[test]
fn operations_on_redis_return_what_the_local_dictionary_returns() {
    let server = RedisServer::start().unwrap();
    let p = evaluator("redis-api", redis(&server));
    crate::shared::assert_core_operations(&p);
    assert_eq!(
        eval_ok(
            &p,
            "bext.shared:set('big', math.maxinteger - 1); return bext.shared:incr('big', 1) == math.maxinteger"
        ),
        "true"
    );
    assert_eq!(
        eval_ok(&p, "bext.shared:set('i', 7); bext.shared:set('f', 2.5); bext.shared:set('t', false); bext.shared:set('s', '12')
                 return math.type(bext.shared:get('i')) .. math.type(bext.shared:get('f'))
                   .. tostring(bext.shared:get('t')) .. type(bext.shared:get('s'))"),
        "integerfloatfalsestring"
    );
    assert_eq!(eval_ok(&p, "return bext.shared:ttl('a')"), "0");
    assert_eq!(
        eval_results(&p, "bext.shared:ttl('missing')"),
        "nil not found nil"
    );
    assert_eq!(
        eval_ok(
            &p,
            "assert(bext.shared:expire('a', 60000)); local t = bext.shared:ttl('a'); return t > 50000 and t <= 60000"
        ),
        "true"
    );
    assert_eq!(
        eval_ok(
            &p,
            "assert(bext.shared:expire('a', 0)); return bext.shared:ttl('a')"
        ),
        "0"
    );
    assert_eq!(
        eval_ok(
            &p,
            "local n = bext.shared:incr('w', 1, 0, 30000); return n .. ' ' .. tostring(bext.shared:ttl('w') > 20000)"
        ),
        "1 true"
    );
    assert_eq!(
        eval_results(&p, "bext.shared:expire('missing', 10)"),
        "nil not found nil"
    );
    assert_eq!(
        eval_ok(
            &p,
            "bext.shared:delete('b'); bext.shared:set('c', nil); return tostring(bext.shared:get('b')) .. tostring(bext.shared:get('c'))"
        ),
        "nilnil"
    );
    assert_eq!(
        eval_ok(
            &p,
            "local k = bext.shared:keys(0); table.sort(k); return table.concat(k, ',')"
        ),
        "a,big,f,i,s,t,w"
    );
    assert_eq!(eval_ok(&p, "return #bext.shared:keys(2)"), "2");
    assert_eq!(
        eval_ok(&p, "bext.shared:flush_all(); return #bext.shared:keys()"),
        "0"
    );
}

#[test]
fn redis_namespaces_keep_plugins_apart() {
    let server = RedisServer::start().unwrap();
    // Names chosen so that a naive "name:key" layout would collide.
    let a = evaluator("redis-tenant", redis(&server));
    let b = evaluator("redis-tenant:x", redis(&server));
    eval_ok(&a, "bext.shared:set('x:secret', 'a-only'); return true");
    assert_eq!(
        eval_ok(&b, "return tostring(bext.shared:get('secret'))"),
        "nil"
    );
    assert_eq!(eval_ok(&b, "return #bext.shared:keys(0)"), "0");
    eval_ok(&b, "bext.shared:flush_all(); return true");
    assert_eq!(eval_ok(&a, "return bext.shared:get('x:secret')"), "a-only");
}

/// Two runtimes (two nodes of a fleet), 4 threads and 4 sandboxes each, one
/// Redis: the limit holds across both.
#[test]
fn two_runtimes_sharing_redis_admit_exactly_the_limit() {
    let server = RedisServer::start().unwrap();
    let limiters: Vec<LuaPlugin> = (0..2)
        .map(|_| {
            let rt = LuaPluginRuntime::with_config(
                LuaRuntimeConfig::default().shared_backend(SharedBackend::Redis(redis(&server))),
            )
            .unwrap();
            rt.load_plugin(
                LuaPluginConfig::new(
                    "ratelimit",
                    manifest("ratelimit"),
                    example_plugin("ratelimit.lua"),
                )
                .config_json(r#"{"limit": 100, "window_secs": 3600}"#)
                .pool(
                    PoolConfig::default()
                        .size(4)
                        .max_size(4)
                        .acquire_timeout_ms(60_000),
                )
                .limits(LuaSandboxLimits::default().timeout_ms(10_000)),
            )
            .unwrap()
        })
        .collect();
    let admitted = admitted_by(&limiters, 8, 40);
    assert_eq!(
        admitted, 100,
        "320 requests across two runtimes, a limit of 100"
    );
}

#[test]
fn when_redis_is_down_the_embedder_chooses_fail_open_or_closed() {
    let mut server = RedisServer::start().unwrap();
    let open = evaluator(
        "redis-fail-open",
        redis(&server).on_unavailable(RedisUnavailable::FailOpen),
    );
    let closed = evaluator(
        "redis-fail-closed",
        redis(&server).on_unavailable(RedisUnavailable::FailClosed),
    );
    assert_eq!(eval_ok(&open, "return bext.shared:incr('n', 1, 0)"), "1");
    assert_eq!(eval_ok(&closed, "return bext.shared:incr('n', 1, 0)"), "1");
    server.stop();
    // Fail open: the plugin's local dictionary takes over (per-node counts).
    assert_eq!(eval_ok(&open, "return bext.shared:incr('n', 1, 0)"), "1");
    assert_eq!(eval_ok(&open, "return bext.shared:incr('n', 1, 0)"), "2");
    // Fail closed: the call raises, which fails the method (or pcall decides).
    match eval(&closed, "return bext.shared:incr('n', 1, 0)") {
        Err(Error::Lua {
            plugin, message, ..
        }) => {
            assert_eq!(plugin, "redis-fail-closed");
            assert!(
                message.contains("bext.shared:incr: redis unavailable"),
                "{message}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        eval_ok(&closed, "return (pcall(bext.shared.get, 'n'))"),
        "false"
    );
    assert_eq!(
        closed.stats().traps,
        0,
        "an unavailable backend is not a trap"
    );
}

#[test]
fn a_hung_redis_is_stopped_by_the_calls_deadline() {
    let server = RedisServer::start().unwrap();
    let p = runtime()
        .load_plugin(
            LuaPluginConfig::new("redis-hung", manifest("redis-hung"), script("eval.lua"))
                .limits(LuaSandboxLimits::default().timeout_ms(300))
                .shared_backend(SharedBackend::Redis(
                    RedisShared::new(&server.url())
                        .unwrap()
                        .op_timeout_ms(60_000),
                )),
        )
        .unwrap();
    assert_eq!(eval_ok(&p, "return bext.shared:incr('n', 1, 0)"), "1");
    // Every client's commands now wait 60 s: the server is up but hung.
    let paused = std::process::Command::new("redis-cli")
        .args([
            "-p",
            &server.port().to_string(),
            "CLIENT",
            "PAUSE",
            "60000",
            "ALL",
        ])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&paused.stdout).contains("OK"),
        "{paused:?}"
    );
    match eval(&p, "return bext.shared:incr('n', 1, 0)") {
        Err(Error::Timeout {
            plugin, timeout_ms, ..
        }) => assert_eq!((plugin.as_str(), timeout_ms), ("redis-hung", 300)),
        other => panic!("{other:?}"),
    }
}
