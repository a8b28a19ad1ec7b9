//! The attack suite: one `.lua` file per attack class in `tests/attacks/`,
//! run against the host. For every attack the outcome is asserted (a typed
//! error or a harmless result), the host keeps serving every other plugin,
//! and the attacked plugin serves its next request.

use crate::common::*;
use bext_plugin_api::middleware::RequestAction;
use bext_plugin_lua_wasm::{
    Error, LuaPlugin, LuaPluginConfig, LuaPluginRuntime, LuaRuntimeConfig, LuaSandboxLimits,
    PoolConfig,
};
use std::path::PathBuf;
use std::sync::OnceLock;

/// The text of `tests/attacks/<file>`.
fn attack_script(file: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/attacks")
        .join(file);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn call(plugin: &LuaPlugin, path: &str) -> Result<RequestAction, Error> {
    plugin.try_on_request(&mut request("GET", path, &[]))
}

fn body(plugin: &LuaPlugin, path: &str) -> String {
    match call(plugin, path) {
        Ok(RequestAction::Respond(r)) => String::from_utf8(r.body).unwrap(),
        other => panic!(
            "{}{path}: expected a response, got {other:?}",
            plugin.name()
        ),
    }
}

/// Well-behaved plugins in the same runtime: each counts its calls, so a
/// lost or shared state would show. One sandbox each (the tests run in
/// parallel, and a second pooled sandbox would keep a count of its own).
fn bystanders() -> &'static [LuaPlugin] {
    static B: OnceLock<Vec<LuaPlugin>> = OnceLock::new();
    B.get_or_init(|| {
        (0..3)
            .map(|i| {
                let name = format!("bystander-{i}");
                let source = r#"local n = 0
                       return { on_request = function(self, ctx) n = n + 1
                         return bext.middleware_respond('{"status":200,"body":"' .. n .. '"}') end }"#;
                runtime()
                    .load_plugin(LuaPluginConfig::new(name.as_str(), manifest(&name), source).pool(PoolConfig::default().max_size(1)))
                    .unwrap()
            })
            .collect()
    })
}

/// Every bystander answers, with its own count going up by one.
fn others_keep_serving() {
    for plugin in bystanders() {
        // Holding the plugin's only sandbox makes reading the count and the
        // call one step, however many tests run at once.
        let mut instance = plugin.acquire().unwrap();
        let before = plugin.stats().calls;
        let action = instance
            .call_json("on_request", &["{}"])
            .unwrap()
            .unwrap_or_default();
        assert!(
            action.contains(&format!(r#""body":"{}""#, before + 1)),
            "{}: {action}",
            plugin.name()
        );
        drop(instance);
        assert_eq!(plugin.stats().traps, 0);
    }
}

/// The attacked plugin answers an ordinary request.
fn serves_next_request(plugin: &LuaPlugin) {
    match call(plugin, "/ok") {
        Ok(RequestAction::Continue) => {}
        other => panic!(
            "{}: the request after an attack must succeed, got {other:?}",
            plugin.name()
        ),
    }
}

fn load_attack(name: &str, file: &str, limits: LuaSandboxLimits) -> LuaPlugin {
    runtime()
        .load_plugin(LuaPluginConfig::new(name, manifest(name), attack_script(file)).limits(limits))
        .unwrap()
}

/// Runs each path and checks its outcome with `expect`, then that the
/// plugin and the bystanders keep serving.
fn run_attacks(
    plugin: &LuaPlugin,
    paths: &[&str],
    expect: impl Fn(&str, &Result<RequestAction, Error>) -> bool,
) {
    for path in paths {
        let result = call(plugin, path);
        assert!(
            expect(path, &result),
            "{}{path}: unexpected outcome {result:?}",
            plugin.name()
        );
        if let Err(e) = &result {
            assert_eq!(e.plugin(), Some(plugin.name()));
        }
        serves_next_request(plugin);
        others_keep_serving();
    }
}

const LOOPS: &[&str] = &[
    "/plain",
    "/pcall",
    "/xpcall",
    "/xpcall-handler",
    "/coroutine",
    "/coroutine-wrap",
    "/gc",
    "/gc-incremental",
    "/gsub",
    "/sort",
    "/close",
    "/tostring",
    "/load",
];

#[test]
fn infinite_loops_run_out_of_fuel_wherever_they_hide() {
    // Every attack must run: the quarantine (tested on its own) would refuse the later ones.
    let limits = LuaSandboxLimits::default()
        .fuel_per_call(5_000_000)
        .timeout_ms(60_000)
        .quarantine_after_traps(0);
    let plugin = load_attack("loops-fuel", "infinite_loops.lua", limits);
    run_attacks(&plugin, LOOPS, |_, r| {
        matches!(
            r,
            Err(Error::OutOfFuel {
                fuel_limit: 5_000_000,
                ..
            })
        )
    });
    let stats = plugin.stats();
    assert_eq!(
        (stats.traps, stats.instances_created),
        (LOOPS.len() as u64, LOOPS.len() as u64 + 1),
        "{stats:?}"
    );
}

#[test]
fn infinite_loops_hit_the_deadline_wherever_they_hide() {
    static RT: OnceLock<LuaPluginRuntime> = OnceLock::new();
    let rt = RT.get_or_init(|| {
        LuaPluginRuntime::with_config(LuaRuntimeConfig::default().fuel_metering(false)).unwrap()
    });
    let plugin = rt
        .load_plugin(
            LuaPluginConfig::new("loops-deadline", manifest("loops-deadline"), attack_script("infinite_loops.lua"))
                // Every attack must run: see infinite_loops_run_out_of_fuel_wherever_they_hide.
                .limits(LuaSandboxLimits::default().timeout_ms(50).quarantine_after_traps(0)),
        )
        .unwrap();
    run_attacks(
        &plugin,
        LOOPS,
        |_, r| matches!(r, Err(Error::Timeout { timeout_ms: 50, elapsed_ms, .. }) if *elapsed_ms >= 50),
    );
}

#[test]
fn memory_bombs_stop_at_the_memory_limit() {
    // Every attack must run: see infinite_loops_run_out_of_fuel_wherever_they_hide.
    let limits = LuaSandboxLimits::default()
        .max_heap_bytes(16 << 20)
        .fuel_per_call(0)
        .timeout_ms(60_000)
        .quarantine_after_traps(0);
    let plugin = load_attack("memory-bombs", "memory_bombs.lua", limits);
    let bombs = [
        "/string-rep",
        "/string-rep-loop",
        "/table-growth",
        "/table-growth-pcall",
        "/concat",
        "/concat-keep",
        "/gc-stop-keep",
        "/table-concat",
        "/coroutine-bomb",
    ];
    run_attacks(
        &plugin,
        &bombs,
        |_, r| matches!(r, Err(Error::MemoryLimit { limit_bytes, .. }) if *limit_bytes == 16 << 20),
    );
    // Garbage made with the collector stopped is still collected at the
    // limit (Lua's emergency collection), so this one completes.
    run_attacks(&plugin, &["/gc-stop"], |_, r| {
        matches!(r, Ok(RequestAction::Continue))
    });
}

/// Splits a "name=outcome|name=outcome" body and checks that each outcome
/// starts with its expected prefix (and that nothing is missing or extra).
fn assert_outcomes(body: &str, expected: &[(&str, &str)]) {
    let lines: Vec<(&str, &str)> = body
        .split('|')
        .map(|l| l.split_once('=').unwrap_or((l, "")))
        .collect();
    assert_eq!(lines.len(), expected.len(), "{body}");
    for ((name, outcome), (want_name, want)) in lines.iter().zip(expected) {
        assert_eq!(name, want_name, "{body}");
        assert!(
            outcome.starts_with(want),
            "{name}: expected `{want}...`, got `{outcome}`"
        );
    }
}

#[test]
fn table_unpack_and_string_format_extremes_are_lua_errors_or_harmless() {
    let plugin = load_attack(
        "extremes",
        "extremes.lua",
        LuaSandboxLimits::default()
            .fuel_per_call(0)
            .timeout_ms(10_000),
    );
    assert_outcomes(
        &body(&plugin, "/"),
        &[
            (
                "unpack-huge-range",
                "error extremes:5: too many results to unpack",
            ),
            (
                "unpack-full-range",
                "error extremes:6: too many results to unpack",
            ),
            ("unpack-negative", "ok 0"),
            ("unpack-near-limit", "ok 999000"),
            (
                "format-width",
                "error extremes:9: invalid conversion specification: '%99999d'",
            ),
            (
                "format-width-100",
                "error extremes:10: invalid conversion specification: '%100d'",
            ),
            ("format-precision", "ok 409"),
            (
                "format-precision-100",
                "error extremes:12: invalid conversion specification: '%.100f'",
            ),
            (
                "format-star",
                "error extremes:13: invalid conversion '%*' to 'format'",
            ),
            (
                "format-many",
                "error extremes:14: bad argument #2 to 'format' (number expected, got nil)",
            ),
            ("format-q-huge", "ok 200002"),
            ("format-s-width", "ok 1000000"),
            ("format-a", "ok inf"),
            (
                "rep-maxinteger",
                "error extremes:18: resulting string too large",
            ),
            (
                "rep-separator",
                "error extremes:19: resulting string too large",
            ),
            ("rep-negative", "ok 0"),
            ("pack-huge", "ok 16"),
            (
                "pack-size",
                "error extremes:22: integral size (17) out of limits [1,16]",
            ),
            (
                "pack-string-len",
                "error extremes:23: bad argument #2 to 'pack' (string length does not fit in given size)",
            ),
            ("sub-extremes", "ok 3"),
            (
                "byte-huge",
                "error extremes:25: stack overflow (string slice too long)",
            ),
            ("char-many", "error extremes:26: too many results to unpack"),
            (
                "concat-range",
                "error extremes:27: invalid value (nil) at index 1 in table for 'concat'",
            ),
            (
                "insert-position",
                "error extremes:28: bad argument #2 to 'insert' (position out of bounds)",
            ),
            (
                "move-range",
                "error extremes:29: bad argument #4 to 'move' (destination wrap around)",
            ),
            ("utf8-char", "ok 6"),
            (
                "utf8-huge",
                "error extremes:31: bad argument #1 to 'char' (value out of range)",
            ),
            ("tointeger", "ok nil"),
            ("random-range", "ok true"),
            (
                "date-far",
                "error extremes:34: date result cannot be represented",
            ),
            (
                "time-far",
                "error extremes:35: field 'year' is out-of-bound",
            ),
        ],
    );
    // No trap: the sandbox and its state were kept.
    assert_eq!(
        (plugin.stats().traps, plugin.stats().instances_created),
        (0, 1)
    );
    assert!(matches!(
        call(&plugin, "/again"),
        Ok(RequestAction::Respond(_))
    ));
    others_keep_serving();
}

#[test]
fn pattern_backtracking_runs_out_of_fuel_and_deep_patterns_are_lua_errors() {
    let plugin = load_attack(
        "backtracking",
        "backtracking.lua",
        LuaSandboxLimits::default(),
    );
    run_attacks(
        &plugin,
        &[
            "/exponential",
            "/nested-frontier",
            "/gmatch-quadratic",
            "/gsub-everything",
        ],
        |_, r| matches!(r, Err(Error::OutOfFuel { .. })),
    );
    // The matcher's own recursion limit (200 levels) is a catchable error.
    assert_eq!(
        body(&plugin, "/deep-pattern"),
        "false pattern too complex|true 1|false too many captures"
    );
    serves_next_request(&plugin);
}

#[test]
fn binary_chunks_cannot_be_loaded() {
    let plugin = load_attack("bytecode", "bytecode.lua", LuaSandboxLimits::default());
    let body = body(&plugin, "/");
    assert!(!body.contains("LOADED"), "{body}");
    let refused = "raised bytecode:";
    let text_only = "nil attempt to load a binary chunk (mode is 't')";
    assert_outcomes(
        &body,
        &[
            ("load-mode-b", refused),
            ("load-mode-bt", refused),
            ("load-default-mode", text_only),
            ("load-mode-t", text_only),
            ("load-reader", refused),
            ("load-reader-default", text_only),
            ("string-dump", "nil nil"),
            ("dump-via-metatable", "nil nil"),
            ("load-is-wrapped", "nil nil"),
        ],
    );
    assert!(
        body.contains("load: binary chunks are not allowed in the sandbox"),
        "{body}"
    );
    serves_next_request_with_body(&plugin);
    others_keep_serving();
}

fn serves_next_request_with_body(plugin: &LuaPlugin) {
    assert!(
        matches!(call(plugin, "/again"), Ok(RequestAction::Respond(_))),
        "{}",
        plugin.name()
    );
}

#[test]
fn deep_nesting_in_the_parser_is_a_load_error() {
    let plugin = load_attack(
        "parser-nesting",
        "parser_nesting.lua",
        LuaSandboxLimits::default().fuel_per_call(0),
    );
    let overflow = "error C stack overflow";
    assert_outcomes(
        &body(&plugin, "/"),
        &[
            ("parentheses", overflow),
            ("table-constructors", overflow),
            ("unary-minus", overflow),
            ("not-chain", overflow),
            ("functions", overflow),
            ("blocks", overflow),
            ("if-chain", overflow),
            // Postfix chains and long brackets do not nest in the parser.
            ("index-chain", "compiled"),
            ("call-chain", "compiled"),
            ("concat-chain", overflow),
            ("power-chain", overflow),
            ("long-string", "compiled"),
            (
                "many-locals",
                "error nest:1: too many local variables (limit is 200)",
            ),
            (
                "many-upvalues",
                "error nest:201: too many local variables (limit is 200)",
            ),
        ],
    );
    assert_eq!(plugin.stats().traps, 0);
    serves_next_request_with_body(&plugin);
    others_keep_serving();
}

#[test]
fn deep_lua_recursion_ends_in_a_typed_error() {
    // Default limits: the fuel runs out long before Lua's stack limit.
    let plugin = load_attack(
        "recursion-default",
        "deep_recursion.lua",
        LuaSandboxLimits::default(),
    );
    run_attacks(&plugin, &["/lua", "/lua-pcall"], |_, r| {
        matches!(r, Err(Error::OutOfFuel { .. }))
    });
    // Unlimited fuel, 64 MiB: Lua's own "stack overflow" (1,000,000 slots
    // fit), an ordinary Lua error that pcall catches, as natively.
    let plugin = load_attack(
        "recursion-unmetered",
        "deep_recursion.lua",
        LuaSandboxLimits::default()
            .fuel_per_call(0)
            .timeout_ms(60_000),
    );
    run_attacks(
        &plugin,
        &["/lua"],
        |_, r| matches!(r, Err(Error::Lua { message, .. }) if message == "recursion-unmetered:8: stack overflow"),
    );
    assert_eq!(
        body(&plugin, "/lua-pcall"),
        "lua-pcall false recursion-unmetered:13: stack overflow"
    );
    // 16 MiB: the stack does not fit; the memory limit stops it, uncatchably.
    let plugin = load_attack(
        "recursion-16mib",
        "deep_recursion.lua",
        LuaSandboxLimits::default()
            .fuel_per_call(0)
            .timeout_ms(60_000)
            .max_heap_bytes(16 << 20),
    );
    run_attacks(&plugin, &["/lua", "/lua-pcall"], |_, r| {
        matches!(r, Err(Error::MemoryLimit { .. }))
    });
}

#[test]
fn deep_c_recursion_is_lua_s_catchable_c_stack_overflow() {
    let plugin = load_attack(
        "recursion-c",
        "deep_recursion.lua",
        LuaSandboxLimits::default(),
    );
    let overflow = "false C stack overflow";
    let body = body(&plugin, "/c-levels");
    assert_outcomes(
        &body,
        &[
            // The innermost pcall catches the overflow and the others return normally.
            ("pcall", "true true"),
            ("nested-pcall-error", overflow),
            ("gsub-callback", overflow),
            ("index-function", "false recursion-c:30: C stack overflow"),
            (
                "index-chain",
                "false recursion-c:36: '__index' chain too long; possible loop",
            ),
            ("tostring", overflow),
            ("coroutine-nesting", "false recursion-c:43: "),
            ("sort-comparator", overflow),
            // The innermost load fails; its reader then ends the outer chunks.
            ("load-reader", "true function"),
            (
                "concat-metamethod",
                "false recursion-c:56: C stack overflow",
            ),
            ("close", "false recursion-c:62: C stack overflow"),
        ],
    );
    assert!(
        body.split('|')
            .nth(6)
            .unwrap()
            .ends_with("C stack overflow"),
        "{body}"
    );
    // None of it trapped: the wasm stack (and the host) were never at risk.
    assert_eq!(
        (plugin.stats().traps, plugin.stats().instances_created),
        (0, 1)
    );
    serves_next_request(&plugin);
    others_keep_serving();
}

#[test]
fn escape_attempts_find_nothing() {
    let plugin = load_attack("escape", "escape.lua", LuaSandboxLimits::default());
    assert_outcomes(
        &body(&plugin, "/"),
        &[
            ("io", "nil"),
            (
                "io-open",
                "error escape:6: attempt to index a nil value (global 'io')",
            ),
            ("os.execute", "nil"),
            ("os.exit", "nil"),
            ("os.getenv", "nil"),
            ("os.remove", "nil"),
            ("os.rename", "nil"),
            ("os.tmpname", "nil"),
            ("os.setlocale", "nil"),
            ("require", "nil"),
            ("package", "nil"),
            (
                "package.loadlib",
                "error escape:16: attempt to index a nil value (global 'package')",
            ),
            ("debug", "nil"),
            (
                "debug.getregistry",
                "error escape:18: attempt to index a nil value (global 'debug')",
            ),
            ("dofile", "nil"),
            ("loadfile", "nil"),
            ("getfenv", "nil"),
            ("setfenv", "nil"),
            ("module", "nil"),
            ("newproxy", "nil"),
            ("collectgarbage-count", "float"),
            ("_ENV-io", "nil"),
            ("_G-io", "nil"),
            ("rawget-io", "nil"),
            ("load-env-io", "nil"),
            ("load-with-env", "nil"),
            ("string-metatable", "boolean true"),
            ("string-metatable-io", "nil"),
            ("coroutine-running", "thread"),
            ("os-keys", "clock,date,difftime,time"),
            (
                "globals",
                "_G,_VERSION,assert,bext,collectgarbage,coroutine,error,getmetatable,ipairs,load,math,next,os,pairs,\
                 pcall,print,rawequal,rawget,rawlen,rawset,select,setmetatable,string,table,tonumber,tostring,type,\
                 utf8,warn,xpcall",
            ),
            (
                "os.exit-call",
                "error escape:46: attempt to call a nil value (field 'exit')",
            ),
            (
                "require-call",
                "error escape:47: attempt to call a nil value (global 'require')",
            ),
        ],
    );
    serves_next_request_with_body(&plugin);
    others_keep_serving();
}

#[test]
fn cross_tenant_reads_and_writes_through_shared_metatables_see_nothing() {
    let tamperer = load_attack("tamperer", "cross_tenant.lua", LuaSandboxLimits::default());
    let inspector = load_attack("inspector", "cross_tenant.lua", LuaSandboxLimits::default());
    let pristine =
        "upper=ABC,meta=nil,index=true,concat=ab,pi=true,leak=nil,gmeta=nil,debug=nil,missing=nil";
    assert_eq!(body(&inspector, "/inspect"), pristine);
    assert!(matches!(
        call(&tamperer, "/tamper"),
        Ok(RequestAction::Continue)
    ));
    // The tamperer changed its own sandbox only (its strings lost `upper`).
    match call(&tamperer, "/inspect") {
        Err(Error::Lua { message, .. }) => assert!(
            message.ends_with("attempt to call a string value (method 'upper')"),
            "{message}"
        ),
        other => panic!("{other:?}"),
    }
    assert_eq!(body(&inspector, "/inspect"), pristine);
    // A plugin loaded afterwards starts pristine too.
    let late = load_attack(
        "late-inspector",
        "cross_tenant.lua",
        LuaSandboxLimits::default(),
    );
    assert_eq!(body(&late, "/inspect"), pristine);
    serves_next_request(&tamperer);
    others_keep_serving();
}

/// The iteration order of 64 string keys in a fresh sandbox: it follows the
/// keys' hashes, which depend on the Lua state's string-hash seed.
fn hash_order(name: &str) -> String {
    body(
        &load_attack(name, "cross_tenant.lua", LuaSandboxLimits::default()),
        "/hash-order",
    )
}

/// Sandboxes start from the process's generic snapshot (or a fork of it),
/// whose Lua state carries one string-hash seed drawn from the host's CSPRNG
/// when the snapshot was made: shared by the sandboxes of one process, and
/// by the processes that load the same compiled-guest cache file (see
/// SECURITY.md). Two runs of this test binary that each make their own
/// snapshot (the children run without the on-disk cache) must therefore see
/// different orders; equal orders would mean a fixed or time-based seed a
/// hash-flooding client could predict.
#[test]
fn every_process_draws_its_own_string_hash_seed() {
    const CHILD: &str = "BEXT_HASH_SEED_CHILD";
    if std::env::var_os(CHILD).is_some() {
        println!("ORDER {}", hash_order("seed-child"));
        return;
    }
    let order = hash_order("seed-parent");
    assert_eq!(order.split(',').count(), 64);
    assert_eq!(hash_order("seed-parent-2"), order, "one process, one seed");
    let child_order = || {
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "attacks::every_process_draws_its_own_string_hash_seed",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD, "1")
            .env(bext_plugin_lua_wasm::ARTIFACT_CACHE_ENV, "off")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let line = stdout
            .lines()
            .find_map(|l| l.split_once("ORDER "))
            .map(|(_, order)| order.trim().to_string());
        line.unwrap_or_else(|| panic!("the child printed no order: {stdout}"))
    };
    let (a, b) = (child_order(), child_order());
    // 64! orders: two equal ones by chance are not a concern.
    assert!(
        order != a && a != b && order != b,
        "processes share a hash seed:\n{order}\n{a}\n{b}"
    );
}

#[test]
fn a_plugin_that_traps_on_every_call_is_quarantined() {
    let limits = LuaSandboxLimits::default()
        .fuel_per_call(2_000_000)
        .quarantine_after_traps(3)
        .quarantine_ms(600_000);
    let plugin = load_attack("quarantined", "infinite_loops.lua", limits);
    // Two traps, a success, a third trap: traps are counted over the recent
    // calls, so a success in between does not hide them.
    for path in ["/plain", "/gc", "/ok"] {
        let r = call(&plugin, path);
        assert_eq!(r.is_ok(), path == "/ok", "{path}: {r:?}");
    }
    assert!(
        matches!(call(&plugin, "/gsub"), Err(Error::OutOfFuel { .. })),
        "the third trap in the window"
    );
    let before = plugin.stats();
    for path in ["/plain", "/ok"] {
        match call(&plugin, path) {
            Err(e @ Error::Quarantined { .. }) => {
                let Error::Quarantined {
                    ref plugin,
                    ref method,
                    retry_after_ms,
                    recent_traps,
                } = e
                else {
                    unreachable!()
                };
                assert_eq!(
                    (plugin.as_str(), method.as_str(), recent_traps),
                    ("quarantined", "on_request", 3)
                );
                assert!(
                    retry_after_ms > 0 && retry_after_ms <= 600_000,
                    "{retry_after_ms}"
                );
                assert!(!e.is_trap());
                assert!(
                    e.to_string()
                        .starts_with("lua plugin `quarantined`: on_request refused"),
                    "{e}"
                );
            }
            other => panic!("{path}: expected Quarantined, got {other:?}"),
        }
    }
    let after = plugin.stats();
    assert_eq!(after.quarantined - before.quarantined, 2);
    assert_eq!(after.calls - before.calls, 2);
    assert_eq!(after.errors - before.errors, 2);
    // Refused calls entered no sandbox and burnt no fuel.
    assert_eq!(
        (after.instances_created, after.traps, after.fuel_consumed),
        (before.instances_created, before.traps, before.fuel_consumed)
    );
    others_keep_serving();
}

#[test]
fn quarantine_is_on_by_default_and_can_be_disabled() {
    let defaults = LuaSandboxLimits::default();
    assert_eq!(
        (defaults.quarantine_after_traps, defaults.quarantine_ms),
        (5, 5000)
    );
    let plugin = load_attack(
        "never-quarantined",
        "infinite_loops.lua",
        defaults.fuel_per_call(2_000_000).quarantine_after_traps(0),
    );
    for _ in 0..20 {
        assert!(matches!(
            call(&plugin, "/plain"),
            Err(Error::OutOfFuel { .. })
        ));
    }
    assert_eq!(plugin.stats().quarantined, 0);
    serves_next_request(&plugin);
}

/// Limits at their extremes are configuration, not attacks, but they must
/// not panic the host either (regression: `timeout_ms(u64::MAX)` overflowed
/// the epoch deadline arithmetic).
#[test]
fn extreme_limit_settings_never_panic() {
    let ok = "return { on_request = function(self, ctx) return bext.middleware_continue() end }";
    let endless = LuaSandboxLimits::default()
        .timeout_ms(u64::MAX)
        .fuel_per_call(u64::MAX)
        .quarantine_ms(u64::MAX);
    let plugin = runtime()
        .load_plugin(LuaPluginConfig::new("endless", manifest("endless"), ok).limits(endless))
        .unwrap();
    assert!(matches!(call(&plugin, "/"), Ok(RequestAction::Continue)));
    // Settings that cannot work are refused at load (issue 19), naming the setting.
    let refused = runtime().load_plugin(
        LuaPluginConfig::new("no-payload", manifest("no-payload"), ok)
            .limits(LuaSandboxLimits::default().max_payload_bytes(0)),
    );
    assert!(
        matches!(
            refused,
            Err(Error::InvalidConfig {
                setting: "LuaSandboxLimits::max_payload_bytes",
                ..
            })
        ),
        "{refused:?}"
    );
    let plugin = runtime()
        .load_plugin(
            LuaPluginConfig::new("one-byte-payload", manifest("one-byte-payload"), ok)
                .limits(LuaSandboxLimits::default().max_payload_bytes(1)),
        )
        .unwrap();
    assert!(matches!(
        call(&plugin, "/"),
        Err(Error::PayloadTooLarge { limit: 1, .. })
    ));
    for heap in [0, 1, 64 << 10] {
        let limits = LuaSandboxLimits::default().max_heap_bytes(heap);
        match runtime()
            .load_plugin(LuaPluginConfig::new("no-heap", manifest("no-heap"), ok).limits(limits))
        {
            Err(e) => assert_eq!(e.plugin(), Some("no-heap"), "{e:?}"),
            Ok(_) => panic!("{heap} bytes cannot hold a Lua state"),
        }
    }
    // A zero deadline is refused at load; the smallest one leaves one or two
    // epoch ticks: the load itself may already run out of time; either way
    // it is a typed timeout.
    let limits = LuaSandboxLimits::default().timeout_ms(0).fuel_per_call(0);
    let refused = runtime().load_plugin(
        LuaPluginConfig::new("zero-timeout", manifest("zero-timeout"), ok).limits(limits),
    );
    assert!(
        matches!(
            refused,
            Err(Error::InvalidConfig {
                setting: "LuaSandboxLimits::timeout_ms",
                ..
            })
        ),
        "{refused:?}"
    );
    let limits = LuaSandboxLimits::default().timeout_ms(1).fuel_per_call(0);
    match runtime().load_plugin(
        LuaPluginConfig::new(
            "tiny-timeout",
            manifest("tiny-timeout"),
            attack_script("infinite_loops.lua"),
        )
        .limits(limits),
    ) {
        Ok(plugin) => assert!(matches!(
            call(&plugin, "/plain"),
            Err(Error::Timeout { timeout_ms: 1, .. })
        )),
        Err(e) => assert!(
            matches!(e, Error::Timeout { timeout_ms: 1, ref method, .. } if method == "load"),
            "{e:?}"
        ),
    }
}
