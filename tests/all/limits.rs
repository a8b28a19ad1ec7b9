//! Budgets: fuel and deadlines stop runaway scripts, memory is capped, and
//! none of it can be caught by the script; the next call gets a fresh sandbox.

use crate::common::*;
use bext_plugin_api::middleware::RequestAction;
use bext_plugin_lua_wasm::{
    BEXT_TICKS_PER_CALL, Error, FUEL_PER_KILO_INSTRUCTIONS, LuaPlugin, LuaPluginConfig,
    LuaPluginRuntime, LuaRuntimeConfig, LuaSandboxLimits,
};
use std::sync::OnceLock;

fn call(plugin: &LuaPlugin, path: &str) -> Result<RequestAction, Error> {
    plugin.try_on_request(&mut request("GET", path, &[]))
}

fn assert_next_call_works(plugin: &LuaPlugin) {
    assert!(
        matches!(call(plugin, "/ok"), Ok(RequestAction::Continue)),
        "the call after a trap must succeed"
    );
}

/// Fuel on, generous deadline: fuel decides.
fn fuel_limited() -> LuaPlugin {
    load_with_limits(
        "fuel-limited",
        &script("loop_or_continue.lua"),
        LuaSandboxLimits::default()
            .fuel_per_call(5_000_000)
            .timeout_ms(60_000),
    )
}

/// A runtime without fuel metering: the deadline decides.
fn deadline_runtime() -> &'static LuaPluginRuntime {
    static RT: OnceLock<LuaPluginRuntime> = OnceLock::new();
    RT.get_or_init(|| {
        LuaPluginRuntime::with_config(LuaRuntimeConfig::default().fuel_metering(false)).unwrap()
    })
}

fn deadline_limited() -> LuaPlugin {
    deadline_runtime()
        .load_plugin(
            LuaPluginConfig::new(
                "deadline-limited",
                manifest("deadline-limited"),
                script("loop_or_continue.lua"),
            )
            .limits(LuaSandboxLimits::default().timeout_ms(50)),
        )
        .unwrap()
}

#[test]
fn infinite_loops_run_out_of_fuel_even_inside_pcall_xpcall_and_coroutines() {
    let plugin = fuel_limited();
    for path in ["/loop", "/pcall-loop", "/xpcall-loop", "/coroutine-loop"] {
        match call(&plugin, path) {
            Err(Error::OutOfFuel {
                plugin: name,
                method,
                fuel_limit,
            }) => {
                assert_eq!(
                    (name.as_str(), method.as_str(), fuel_limit),
                    ("fuel-limited", "on_request", 5_000_000)
                );
            }
            other => panic!("{path}: expected OutOfFuel, got {other:?}"),
        }
        assert_next_call_works(&plugin);
    }
    let stats = plugin.stats();
    assert_eq!((stats.traps, stats.instances_created), (4, 5), "{stats:?}");
}

#[test]
fn infinite_loops_hit_the_deadline_even_inside_pcall() {
    let plugin = deadline_limited();
    for path in ["/loop", "/pcall-loop", "/coroutine-loop"] {
        match call(&plugin, path) {
            Err(Error::Timeout {
                timeout_ms,
                elapsed_ms,
                ..
            }) => {
                assert_eq!(timeout_ms, 50);
                assert!(elapsed_ms >= 50, "stopped after {elapsed_ms} ms");
            }
            other => panic!("{path}: expected Timeout, got {other:?}"),
        }
        assert_next_call_works(&plugin);
    }
}

#[test]
fn budgets_are_reset_not_topped_up() {
    let source = "return { on_request = function(self, ctx)
                    if ctx:find('/expensive', 1, true) then local x = 0 for i = 1, 20000 do x = x + i end end
                  end }";
    let unlimited = load_with_limits(
        "measure",
        source,
        LuaSandboxLimits::default().fuel_per_call(0),
    );
    call(&unlimited, "/expensive").unwrap();
    let cost = unlimited.stats().fuel_consumed;
    assert!(cost > 200_000, "the expensive call used only {cost} fuel");

    // Cheap calls leave most of their budget unused; none of it carries over.
    let tight = load_with_limits(
        "tight",
        source,
        LuaSandboxLimits::default().fuel_per_call(cost * 2 / 3),
    );
    for _ in 0..20 {
        call(&tight, "/cheap").unwrap();
    }
    assert!(matches!(
        call(&tight, "/expensive"),
        Err(Error::OutOfFuel { .. })
    ));

    // Expensive calls use most of their budget; none of them drains the next.
    let roomy = load_with_limits(
        "roomy",
        source,
        LuaSandboxLimits::default().fuel_per_call(cost * 3 / 2),
    );
    for _ in 0..50 {
        call(&roomy, "/expensive").unwrap();
    }
    assert_eq!(roomy.stats().traps, 0);
}

#[test]
fn memory_bombs_stop_at_the_limit_even_inside_pcall() {
    let plugin = load_with_limits(
        "bomber",
        &script("loop_or_continue.lua"),
        LuaSandboxLimits::default()
            .max_heap_bytes(16 << 20)
            .fuel_per_call(0)
            .timeout_ms(60_000),
    );
    for path in [
        "/memory-bomb",
        "/pcall-memory-bomb",
        "/pcall-recursion",
        "/huge-string",
    ] {
        match call(&plugin, path) {
            Err(Error::MemoryLimit {
                limit_bytes,
                method,
                ..
            }) => {
                assert_eq!((limit_bytes, method.as_str()), (16 << 20, "on_request"));
            }
            other => panic!("{path}: expected MemoryLimit, got {other:?}"),
        }
        assert_next_call_works(&plugin);
    }
}

#[test]
fn memory_kept_across_calls_is_bounded_too() {
    let plugin = load_with_limits(
        "hoarder",
        &script("loop_or_continue.lua"),
        // Unlimited fuel: string.rep("k", 1 MiB) costs more than the default budget.
        LuaSandboxLimits::default()
            .max_heap_bytes(8 << 20)
            .fuel_per_call(0),
    );
    let mut stopped = None;
    for i in 0..20 {
        if let Err(e) = call(&plugin, "/keep") {
            stopped = Some((i, e));
            break;
        }
    }
    let (calls, error) = stopped.expect("8 MiB cannot hold 20 MiB");
    assert!(matches!(error, Error::MemoryLimit { .. }), "{error:?}");
    assert!((4..8).contains(&calls), "stopped after {calls} MiB kept");
    assert_next_call_works(&plugin);
}

/// Lua gives an error whose value is its own memory-error message the
/// status of a memory error (`lua_error` compares the value with "not enough
/// memory"). The sandbox's memory limit never reaches the script as that
/// status (it is a trap), so a script that raises the message, or a
/// `bext.shared` error reply carrying it (found by the `shared_reply` fuzz
/// target), gets its own error back, not `MemoryLimit`, and keeps its
/// sandbox and state.
#[test]
fn a_script_raising_the_memory_error_message_gets_its_error_not_the_limit() {
    let plugin = load(
        "raiser",
        r#"local calls = 0
return { on_request = function(self, ctx)
  calls = calls + 1
  if calls == 1 then error("not enough memory", 0) end
  return bext.middleware_respond('{"status":200,"body":"' .. calls .. '"}')
end }"#,
    )
    .unwrap();
    match call(&plugin, "/") {
        Err(Error::Lua { message, .. }) => assert_eq!(message, "not enough memory"),
        other => panic!("expected the script's Lua error, got {other:?}"),
    }
    match call(&plugin, "/") {
        Ok(RequestAction::Respond(response)) => assert_eq!(response.body, b"2"),
        other => panic!("the sandbox and its state stay: {other:?}"),
    }
    assert_eq!(plugin.stats().traps, 0);
}

/// Lua VM instructions and wasm fuel of one `on_request` of `workload`:
/// instructions counted by native Lua 5.4's count hook, fuel by the runtime.
/// Both are deterministic, so this is not a timing measurement.
fn instructions_and_fuel(name: &str, workload: &str) -> (u64, u64) {
    let ctx = request(
        "GET",
        "/api/v1/users/12345/profile",
        &[
            ("accept", "application/json"),
            ("user-agent", "Mozilla/5.0"),
        ],
    );
    let ctx_json = serde_json::json!({
        "method": ctx.method, "path": ctx.path, "hostname": ctx.hostname, "headers": ctx.headers,
        "query_string": ctx.query_string, "peer_ip": ctx.peer_ip, "tenant_id": ctx.tenant_id,
        "site_id": ctx.site_id, "extensions": {}
    })
    .to_string();

    let lua = mlua::Lua::new();
    let bext = lua.create_table().unwrap();
    bext.set(
        "middleware_continue",
        lua.create_function(|_, ()| Ok("{\"action\":\"continue\"}"))
            .unwrap(),
    )
    .unwrap();
    lua.globals().set("bext", bext).unwrap();
    let plugin: mlua::Table = lua.load(workload).eval().unwrap();
    let on_request: mlua::Function = plugin.get("on_request").unwrap();
    on_request
        .call::<mlua::Value>((&plugin, ctx_json.as_str()))
        .unwrap(); // same state as the second wasm call
    let count = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let counter = count.clone();
    lua.set_hook(
        mlua::HookTriggers::new().every_nth_instruction(1),
        move |_, _| {
            counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            Ok(mlua::VmState::Continue)
        },
    )
    .unwrap();
    on_request
        .call::<mlua::Value>((&plugin, ctx_json.as_str()))
        .unwrap();
    let instructions = count.load(std::sync::atomic::Ordering::Relaxed);

    let wasm = load_with_limits(name, workload, LuaSandboxLimits::default().fuel_per_call(0));
    wasm.try_on_request(&mut request(
        "GET",
        &ctx.path,
        &[
            ("accept", "application/json"),
            ("user-agent", "Mozilla/5.0"),
        ],
    ))
    .unwrap();
    let before = wasm.stats().fuel_consumed;
    wasm.try_on_request(&mut request(
        "GET",
        &ctx.path,
        &[
            ("accept", "application/json"),
            ("user-agent", "Mozilla/5.0"),
        ],
    ))
    .unwrap();
    (instructions, wasm.stats().fuel_consumed - before)
}

/// The default budget in Lua instructions of `workload` (its fuel per
/// instruction measured against native's count hook), as a multiple of
/// bext's 200 x 1000 instructions.
fn default_budget_against_bext(name: &str, workload: &str) -> f64 {
    let (instructions, fuel) = instructions_and_fuel(name, workload);
    assert!(
        instructions > 10_000,
        "{name}: workload too small to measure"
    );
    let per_kilo = fuel * 1000 / instructions;
    let share = LuaSandboxLimits::default().fuel_per_call as f64
        / per_kilo as f64
        / BEXT_TICKS_PER_CALL as f64;
    println!(
        "{name:12} {instructions:7} Lua instructions, {fuel:9} fuel: {per_kilo:7} per 1000 instructions, \
         the default budget is {share:.2}x bext's"
    );
    share
}

/// Issue 28: a budget means what bext's means. Pure bytecode (arithmetic and
/// table loops, where the interpreter loop dominates), empty loops (what a
/// runaway script spins on) and plugin-like code (pattern matching, string
/// building, tables: library calls doing real work) all get bext's 200 x
/// 1000 instructions within 0.8x-1.25x under the default fuel.
#[test]
fn the_default_budget_is_bexts_instruction_budget_for_bytecode_and_plugin_like_code() {
    assert_eq!(
        LuaSandboxLimits::default().fuel_per_call,
        BEXT_TICKS_PER_CALL * FUEL_PER_KILO_INSTRUCTIONS
    );
    for (name, file) in [
        ("plugin-like", "fuel_workload.lua"),
        ("bytecode", "fuel_workload_bytecode.lua"),
        ("empty loops", "fuel_workload_loop.lua"),
    ] {
        let share = default_budget_against_bext(name, &script(file));
        assert!(
            (0.8..=1.25).contains(&share),
            "{name}: the default budget is {share:.2}x bext's instructions, outside 0.8x-1.25x"
        );
    }
}
