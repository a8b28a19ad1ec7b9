//! Forked sandboxes behave exactly like ones that loaded the script: same
//! results, independent state, fresh random seeds, working GC and errors.

use crate::common::*;
use bext_plugin_api::middleware::RequestAction;
use bext_plugin_lua_wasm::{
    ColdStart, LuaPlugin, LuaPluginConfig, LuaPluginRuntime, LuaRuntimeConfig, LuaSandboxLimits,
    PoolConfig, PoolingLimits,
};

const SCRIPT: &str = r#"
local calls, seen = 0, {}
local config = bext.get_config()
return {
  on_request = function(self, ctx)
    calls = calls + 1
    local path = ctx:match('"path":"([^"]*)"')
    if path == "/random" then
      return bext.middleware_respond('{"status":200,"body":"' .. math.random(1 << 40) .. '"}')
    elseif path == "/gc" then
      local t = {}
      for i = 1, 3000 do t[i] = { i, tostring(i) } end
      t = nil
      collectgarbage()
      return bext.middleware_respond('{"status":200,"body":"' .. math.floor(collectgarbage("count")) .. '"}')
    elseif path == "/error" then
      error("deliberate")
    elseif path == "/spin" then
      while true do end
    end
    seen[#seen + 1] = path
    return bext.middleware_respond('{"status":200,"body":"' .. calls .. ' ' .. #seen .. ' ' .. config .. '"}')
  end,
}"#;

fn load(name: &str, cold_start: ColdStart, pool: PoolConfig) -> LuaPlugin {
    runtime()
        .load_plugin(
            LuaPluginConfig::new(name, manifest(name), SCRIPT)
                .config_json("cfg")
                .cold_start(cold_start)
                .pool(pool)
                .limits(LuaSandboxLimits::default().fuel_per_call(50_000_000)),
        )
        .unwrap()
}

fn body(plugin: &LuaPlugin, path: &str) -> String {
    match plugin.try_on_request(&mut request("GET", path, &[])) {
        Ok(RequestAction::Respond(r)) => String::from_utf8(r.body).unwrap(),
        other => format!("{other:?}"),
    }
}

#[test]
fn forks_start_exactly_where_the_load_left_off() {
    // fresh_instance_per_call makes every call a new fork (or a new load).
    let fork = load(
        "fork-fresh",
        ColdStart::Fork,
        PoolConfig::default().fresh_instance_per_call(true),
    );
    let source = load(
        "source-fresh",
        ColdStart::Source,
        PoolConfig::default().fresh_instance_per_call(true),
    );
    for plugin in [&fork, &source] {
        for _ in 0..3 {
            assert_eq!(body(plugin, "/a"), "1 1 cfg", "{}", plugin.name());
        }
    }
    assert!(
        fork.template_bytes() > 0 && fork.template_bytes() < 256 * 1024,
        "{}",
        fork.template_bytes()
    );
    assert_eq!(source.template_bytes(), 0);
}

#[test]
fn forks_are_independent_and_reseeded() {
    let plugin = load(
        "fork-pool",
        ColdStart::Fork,
        PoolConfig::default().size(1).max_size(2),
    );
    let mut a = plugin.acquire().unwrap();
    let mut b = plugin.acquire().unwrap(); // a fork made on demand
    let call = |i: &mut bext_plugin_lua_wasm::PooledInstance, path: &str| {
        i.call_json("on_request", &[&format!(r#"{{"path":"{path}"}}"#)])
            .unwrap()
            .unwrap()
    };
    assert!(call(&mut a, "/x").contains(r#""body":"1 1 cfg""#));
    assert!(call(&mut a, "/x").contains(r#""body":"2 2 cfg""#));
    assert!(
        call(&mut b, "/x").contains(r#""body":"1 1 cfg""#),
        "b does not see a's calls"
    );
    assert_ne!(
        call(&mut a, "/random"),
        call(&mut b, "/random"),
        "math.random is reseeded per fork"
    );
}

#[test]
fn gc_errors_and_traps_work_in_forks() {
    let plugin = load(
        "fork-faults",
        ColdStart::Fork,
        PoolConfig::default().size(1).max_size(1),
    );
    let gc = body(&plugin, "/gc");
    let kib: u64 = gc.parse().unwrap_or_else(|_| panic!("{gc}"));
    assert!(kib < 1024, "collected down to {kib} KiB");
    let err = body(&plugin, "/error");
    assert!(err.contains("fork-faults:17: deliberate"), "{err}");
    assert!(body(&plugin, "/spin").contains("OutOfFuel"));
    // The replacement is a fork of the template, not of the trapped sandbox.
    assert_eq!(body(&plugin, "/a"), "1 1 cfg");
}

/// Forks of two plugins, made and dropped in turns (so freed memory, and
/// with the pooling allocator freed slots, are reused at once), only ever
/// see their own plugin's pages: also after one plugin is unloaded and its
/// template's pages freed, and for a sandbox live across that.
fn forks_see_only_their_own_plugins_pages(runtime: &LuaPluginRuntime, prefix: &str) {
    let load = |name: &str, tag: char| {
        // A 20 KB string makes each plugin's state span pages of its own.
        let script = format!(
            r#"local tag, calls = string.rep("{tag}", 20000), 0
return {{ on_request = function(self, ctx)
  calls = calls + 1
  return bext.middleware_respond('{{"status":200,"body":"' .. tag:sub(1, 3) .. ' ' .. #tag .. ' ' .. calls .. '"}}')
end }}"#
        );
        let name = format!("{prefix}-{name}");
        runtime
            .load_plugin(
                LuaPluginConfig::new(name.as_str(), manifest(&name), script).pool(
                    PoolConfig::default()
                        .size(1)
                        .max_size(2)
                        .fresh_instance_per_call(true),
                ),
            )
            .unwrap()
    };
    let (a, b) = (load("a", 'A'), load("b", 'B'));
    for _ in 0..20 {
        assert_eq!(body(&a, "/"), "AAA 20000 1");
        assert_eq!(body(&b, "/"), "BBB 20000 1");
    }
    let mut live_b = b.pool().acquire().unwrap();
    let call = |instance: &mut bext_plugin_lua_wasm::PooledInstance| {
        instance
            .call_json("on_request", &[r#"{"path":"/"}"#])
            .unwrap()
            .unwrap()
    };
    assert!(call(&mut live_b).contains("BBB 20000 1"));
    runtime.unload_plugin(a.name());
    drop(a); // the last handle: its template's pages go back to the kernel
    let c = load("c", 'C');
    for _ in 0..20 {
        assert_eq!(body(&c, "/"), "CCC 20000 1");
        assert_eq!(body(&b, "/"), "BBB 20000 1");
    }
    assert!(
        call(&mut live_b).contains("BBB 20000 2"),
        "a live fork keeps its own state"
    );
    runtime.unload_plugin(b.name());
    runtime.unload_plugin(c.name());
}

#[test]
fn mapped_forks_see_only_their_own_plugins_pages() {
    // Memory on demand: forks map their template copy-on-write.
    forks_see_only_their_own_plugins_pages(runtime(), "mapped");
}

#[test]
fn pooled_forks_see_only_their_own_plugins_pages() {
    // The pooling allocator: templates are copied into reused slots.
    let pooled = LuaPluginRuntime::with_config(
        LuaRuntimeConfig::default().pooling(PoolingLimits::default().max_instances(8)),
    )
    .unwrap();
    forks_see_only_their_own_plugins_pages(&pooled, "pooled");
}

#[test]
fn idle_sandboxes_are_dropped_and_the_next_call_forks_a_new_one() {
    // size(0): no sandbox is kept at load, so every count below holds
    // however slowly a busy machine runs the test.
    let plugin = load(
        "fork-idle",
        ColdStart::Fork,
        PoolConfig::default()
            .size(0)
            .max_size(1)
            .idle_timeout_ms(50),
    );
    assert_eq!(body(&plugin, "/a"), "1 1 cfg");
    let template_pages = plugin.template_bytes();
    // The runtime's sweeper drops it once idle, then keeps only the
    // template's changed bytes (bounded wait: no timing assertion).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while plugin.pool().stats().dropped_idle == 0 || plugin.template_bytes() == template_pages {
        assert!(
            std::time::Instant::now() < deadline,
            "the idle sandbox was never dropped, or its template never compacted"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let stats = plugin.pool().stats();
    assert_eq!((stats.idle, stats.dropped_idle, stats.created), (0, 1, 1));
    assert!(
        plugin.template_bytes() < template_pages / 2,
        "{} bytes kept of {template_pages}",
        plugin.template_bytes()
    );
    assert_eq!(runtime().drop_idle_sandboxes(), 0, "nothing left to drop");
    assert_eq!(body(&plugin, "/a"), "1 1 cfg", "a new fork of the template");
    assert_eq!(plugin.pool().stats().created, 2);
    assert_eq!(
        plugin.template_bytes(),
        template_pages,
        "the pages are back"
    );
}
