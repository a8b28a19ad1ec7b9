//! `bext.shared`: the OpenResty-style API and its return values, the memory
//! bound, isolation between plugins, life across traps, reloads and unload,
//! fuel, and an exact rate limit under parallel calls through a pool.

use crate::common::*;
use bext_plugin_lua_wasm::{
    Error, LuaPlugin, LuaPluginConfig, LuaSandboxLimits, PoolConfig, SHARED_CALL_FUEL,
};

/// The eval harness under its own name: each test has its own dictionary.
fn evaluator(name: &str) -> LuaPlugin {
    load(name, &script("eval.lua")).unwrap()
}

fn evaluator_with_limits(name: &str, limits: LuaSandboxLimits) -> LuaPlugin {
    load_with_limits(name, &script("eval.lua"), limits)
}

/// set/get/add/replace/incr and their OpenResty return values, the same on
/// every backend (`shared_redis.rs` runs it against Redis).
pub(crate) fn assert_core_operations(p: &LuaPlugin) {
    assert_eq!(
        eval_results(p, "bext.shared:set('a', 'x')"),
        "true nil false"
    );
    assert_eq!(eval_ok(p, "return bext.shared:get('a')"), "x");
    assert_eq!(
        eval_ok(p, "return tostring(bext.shared:get('missing'))"),
        "nil"
    );
    assert_eq!(
        eval_results(p, "bext.shared:add('a', 'y')"),
        "false exists false"
    );
    assert_eq!(
        eval_results(p, "bext.shared:add('b', 'y')"),
        "true nil false"
    );
    assert_eq!(
        eval_results(p, "bext.shared:replace('nope', 1)"),
        "false not found false"
    );
    assert_eq!(
        eval_results(p, "bext.shared:replace('b', 2)"),
        "true nil false"
    );
    assert_eq!(eval_results(p, "bext.shared:incr('b', 40)"), "42 nil false");
    assert_eq!(
        eval_results(p, "bext.shared:incr('c', 1)"),
        "nil not found nil"
    );
    assert_eq!(
        eval_results(p, "bext.shared:incr('c', 1, 10)"),
        "11 nil false"
    );
    assert_eq!(
        eval_results(p, "bext.shared:incr('c', 0.5)"),
        "11.5 nil false"
    );
    assert_eq!(
        eval_results(p, "bext.shared:incr('a', 1)"),
        "nil not a number nil"
    );
}

#[test]
fn operations_return_what_openresty_returns() {
    let p = evaluator("shared-api");
    assert_core_operations(&p);
    // Types survive: integers, floats, booleans, binary strings.
    assert_eq!(
        eval_ok(&p, "bext.shared:set('i', 7); bext.shared:set('f', 2.5); bext.shared:set('t', false); bext.shared:set('s', 'a\\0b')
                 return math.type(bext.shared:get('i')) .. math.type(bext.shared:get('f'))
                   .. tostring(bext.shared:get('t')) .. #bext.shared:get('s')"),
        "integerfloatfalse3"
    );
    // ttl / expire in milliseconds; 0 means no expiry.
    assert_eq!(eval_ok(&p, "return bext.shared:ttl('a')"), "0");
    assert_eq!(
        eval_results(&p, "bext.shared:ttl('missing')"),
        "nil not found nil"
    );
    assert_eq!(
        eval_ok(
            &p,
            "assert(bext.shared:expire('a', 60000)); local t = bext.shared:ttl('a'); return t > 59000 and t <= 60000"
        ),
        "true"
    );
    assert_eq!(
        eval_ok(
            &p,
            "bext.shared:set('e', 1, 5000); local t = bext.shared:ttl('e'); return t > 4000 and t <= 5000"
        ),
        "true"
    );
    assert_eq!(
        eval_results(&p, "bext.shared:expire('missing', 10)"),
        "nil not found nil"
    );
    // delete; set with a nil value deletes too; the dot form works as well.
    assert_eq!(
        eval_ok(
            &p,
            "bext.shared:delete('b'); bext.shared.set('c', nil); return tostring(bext.shared.get('b')) .. tostring(bext.shared.get('c'))"
        ),
        "nilnil"
    );
    // keys (limit; 0 = all) and flush_expired, then flush_all.
    assert_eq!(
        eval_ok(
            &p,
            "local k = bext.shared:keys(0); table.sort(k); return table.concat(k, ',')"
        ),
        "a,e,f,i,s,t"
    );
    assert_eq!(eval_ok(&p, "return #bext.shared:keys(2)"), "2");
    assert_eq!(eval_ok(&p, "return bext.shared:flush_expired()"), "0");
    assert_eq!(
        eval_ok(&p, "bext.shared:flush_all(); return #bext.shared:keys()"),
        "0"
    );
    // Numbers as keys are converted, as Lua converts them to strings.
    assert_eq!(
        eval_ok(&p, "bext.shared:set(12, 'n'); return bext.shared:get('12')"),
        "n"
    );
}

#[test]
fn large_values_and_many_keys_cross_the_boundary() {
    let p = evaluator("shared-large");
    assert_eq!(
        eval_ok(
            &p,
            "bext.shared:set('big', string.rep('x', 100000)); return #bext.shared:get('big')"
        ),
        "100000"
    );
    assert_eq!(
        eval_ok(
            &p,
            "for i = 1, 500 do bext.shared:set('key' .. i, i) end return #bext.shared:keys(0)"
        ),
        "501"
    );
}

#[test]
fn bad_arguments_raise_errors_naming_the_plugin_and_the_call() {
    let p = evaluator("shared-bad");
    let error = |code: &str| match eval(&p, code) {
        Err(Error::Lua {
            plugin, message, ..
        }) => {
            assert_eq!(plugin, "shared-bad");
            message
        }
        other => panic!("{code}: {other:?}"),
    };
    assert!(
        error("bext.shared:set('k', {})").contains("bext.shared:set: cannot store a table value"),
        "{}",
        error("bext.shared:set('k', {})")
    );
    assert!(error("bext.shared:set('k', print)").contains("cannot store a function value"));
    assert!(error("bext.shared:get()").contains("string expected, got no value"));
    assert!(error("bext.shared:get({})").contains("string expected"));
    assert!(
        error("bext.shared:incr('k', 'one')")
            .contains("bext.shared:incr: `by` must be a number, got a string")
    );
    assert!(
        error("bext.shared:set('k', 1, -5)")
            .contains("bext.shared:set: ttl_ms must be a number of milliseconds >= 0, got -5")
    );
    assert!(
        error("bext.shared:add('k', nil)").contains("bext.shared:add: the value must not be nil")
    );
    assert!(
        error("bext.shared:keys(-1)")
            .contains("bext.shared:keys: the limit must be an integer >= 0")
    );
    // Keys that are empty or too long are answered, not raised, as in OpenResty.
    assert_eq!(
        eval_results(&p, "bext.shared:set('', 1)"),
        "false empty key false"
    );
    assert_eq!(
        eval_results(&p, "bext.shared:get(string.rep('k', 70000))"),
        "nil key too long nil"
    );
    // pcall catches these errors: they are script errors, not traps.
    assert_eq!(
        eval_ok(&p, "return (pcall(bext.shared.set, 'k', {}))"),
        "false"
    );
    assert_eq!(p.stats().traps, 0);
}

#[test]
fn the_memory_bound_evicts_least_recent_and_refuses_what_cannot_fit() {
    // Room for about ten 100-byte entries (key + value + 64 bytes overhead).
    let p = evaluator_with_limits(
        "shared-bound",
        LuaSandboxLimits::default().shared_dict_bytes(10 * 170),
    );
    let out = eval_ok(
        &p,
        "local forcible_seen = false
         for i = 1, 30 do
           local ok, err, forcible = bext.shared:set('k' .. i, string.rep('v', 100))
           assert(ok, err)
           forcible_seen = forcible_seen or forcible
         end
         local live = 0
         for i = 1, 30 do if bext.shared:get('k' .. i) then live = live + 1 end end
         return tostring(forcible_seen) .. ' ' .. live .. ' ' .. tostring(bext.shared:get('k30') ~= nil)
           .. ' ' .. tostring(bext.shared:get('k1'))",
    );
    assert_eq!(
        out, "true 10 true nil",
        "the oldest were evicted, the newest kept"
    );
    assert_eq!(
        eval_results(&p, "bext.shared:set('huge', string.rep('x', 4000))"),
        "false no memory false"
    );
    // A read makes an entry recent: k21 survives the next eviction, k22 does not.
    assert_eq!(
        eval_ok(&p, "bext.shared:get('k21'); bext.shared:set('new', string.rep('v', 100))
                 return tostring(bext.shared:get('k21') ~= nil) .. tostring(bext.shared:get('k22'))"),
        "truenil"
    );
}

#[test]
fn plugins_never_see_each_others_dictionary() {
    let a = evaluator("shared-tenant-a");
    let b = evaluator("shared-tenant-b");
    eval_ok(
        &a,
        "bext.shared:set('secret', 'a-only'); bext.shared:incr('n', 1, 0); return true",
    );
    assert_eq!(
        eval_ok(&b, "return tostring(bext.shared:get('secret'))"),
        "nil"
    );
    assert_eq!(eval_ok(&b, "return #bext.shared:keys(0)"), "0");
    assert_eq!(eval_ok(&b, "return bext.shared:incr('n', 1, 100)"), "101");
    assert_eq!(eval_ok(&a, "return bext.shared:get('n')"), "1");
    eval_ok(&b, "bext.shared:flush_all(); return true");
    assert_eq!(eval_ok(&a, "return bext.shared:get('secret')"), "a-only");
}

#[test]
fn the_dictionary_survives_traps_and_reloads_and_unload_drops_it() {
    let name = "shared-lifetime";
    let limits = LuaSandboxLimits::default().fuel_per_call(5_000_000);
    let p = evaluator_with_limits(name, limits.clone());
    eval_ok(
        &p,
        "bext.shared:set('kept', 'yes'); x_global = 'sandbox state'; return true",
    );
    // A trap discards the sandbox (and its globals), not the dictionary.
    assert!(matches!(
        eval(&p, "while true do end"),
        Err(Error::OutOfFuel { .. })
    ));
    assert_eq!(
        eval_ok(
            &p,
            "return tostring(x_global) .. ' ' .. bext.shared:get('kept')"
        ),
        "nil yes"
    );
    // A hot reload of the same name keeps it.
    let reloaded = runtime()
        .load_plugin(
            LuaPluginConfig::new(name, manifest(name), script("eval.lua")).limits(limits.clone()),
        )
        .unwrap();
    assert_eq!(eval_ok(&reloaded, "return bext.shared:get('kept')"), "yes");
    // A reload that fails leaves it too.
    assert!(
        runtime()
            .load_plugin(LuaPluginConfig::new(name, manifest(name), "return 1"))
            .is_err()
    );
    assert_eq!(eval_ok(&reloaded, "return bext.shared:get('kept')"), "yes");
    // Unload drops it: the same name loaded again starts empty.
    runtime().unload_plugin(name);
    let fresh = evaluator_with_limits(name, limits);
    assert_eq!(
        eval_ok(&fresh, "return tostring(bext.shared:get('kept'))"),
        "nil"
    );
}

#[test]
fn shared_calls_are_charged_fuel() {
    let p = evaluator_with_limits(
        "shared-fuel",
        LuaSandboxLimits::default().fuel_per_call(10_000_000),
    );
    let before = p.stats().fuel_consumed;
    eval_ok(
        &p,
        "for i = 1, 1000 do bext.shared:incr('n', 1, 0) end return 0",
    );
    let used = p.stats().fuel_consumed - before;
    assert!(
        used >= 1000 * SHARED_CALL_FUEL,
        "{used} fuel for 1000 incr calls"
    );
    // So a loop over the dictionary is stopped by the budget like any loop.
    assert!(matches!(
        eval(&p, "while true do bext.shared:incr('n', 1) end"),
        Err(Error::OutOfFuel { .. })
    ));
    assert!(
        eval_ok(&p, "return bext.shared:get('n')")
            .parse::<i64>()
            .unwrap()
            >= 1000
    );
}

/// The README's story: the rate limiter with a limit of 100, 8 threads, a
/// pool of 8 sandboxes. Per-sandbox counters would let up to 800 through.
#[test]
fn eight_threads_through_eight_sandboxes_admit_exactly_the_limit() {
    let limiter = runtime()
        .load_plugin(
            LuaPluginConfig::new(
                "shared-ratelimit",
                manifest("shared-ratelimit"),
                example_plugin("ratelimit.lua"),
            )
            .config_json(r#"{"limit": 100, "window_secs": 3600}"#)
            .pool(
                PoolConfig::default()
                    .size(8)
                    .max_size(8)
                    .acquire_timeout_ms(60_000),
            ),
        )
        .unwrap();
    let admitted = admitted_by(std::slice::from_ref(&limiter), 8, 40);
    assert_eq!(admitted, 100, "320 requests, a limit of 100");
    assert_eq!(
        limiter.pool().stats().in_use + limiter.pool().stats().idle,
        8,
        "the pool held 8 sandboxes"
    );
}
