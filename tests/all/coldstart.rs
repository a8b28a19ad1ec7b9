//! Forked sandboxes behave exactly like ones that loaded the script: same
//! results, independent state, fresh random seeds, working GC and errors.


use bext_plugin_api::middleware::RequestAction;
use bext_plugin_lua_wasm::{ColdStart, LuaPlugin, LuaPluginConfig, LuaSandboxLimits, PoolConfig};
use crate::common::*;

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
    let fork = load("fork-fresh", ColdStart::Fork, PoolConfig::default().fresh_instance_per_call(true));
    let source = load("source-fresh", ColdStart::Source, PoolConfig::default().fresh_instance_per_call(true));
    for plugin in [&fork, &source] {
        for _ in 0..3 {
            assert_eq!(body(plugin, "/a"), "1 1 cfg", "{}", plugin.name());
        }
    }
    assert!(fork.template_bytes() > 0 && fork.template_bytes() < 256 * 1024, "{}", fork.template_bytes());
    assert_eq!(source.template_bytes(), 0);
}

#[test]
fn forks_are_independent_and_reseeded() {
    let plugin = load("fork-pool", ColdStart::Fork, PoolConfig::default().size(1).max_size(2));
    let mut a = plugin.acquire().unwrap();
    let mut b = plugin.acquire().unwrap(); // a fork made on demand
    let call = |i: &mut bext_plugin_lua_wasm::PooledInstance, path: &str| {
        i.call_json("on_request", &[&format!(r#"{{"path":"{path}"}}"#)]).unwrap().unwrap()
    };
    assert!(call(&mut a, "/x").contains(r#""body":"1 1 cfg""#));
    assert!(call(&mut a, "/x").contains(r#""body":"2 2 cfg""#));
    assert!(call(&mut b, "/x").contains(r#""body":"1 1 cfg""#), "b does not see a's calls");
    assert_ne!(call(&mut a, "/random"), call(&mut b, "/random"), "math.random is reseeded per fork");
}

#[test]
fn gc_errors_and_traps_work_in_forks() {
    let plugin = load("fork-faults", ColdStart::Fork, PoolConfig::default().size(1).max_size(1));
    let gc = body(&plugin, "/gc");
    let kib: u64 = gc.parse().unwrap_or_else(|_| panic!("{gc}"));
    assert!(kib < 1024, "collected down to {kib} KiB");
    let err = body(&plugin, "/error");
    assert!(err.contains("fork-faults:17: deliberate"), "{err}");
    assert!(body(&plugin, "/spin").contains("OutOfFuel"));
    // The replacement is a fork of the template, not of the trapped sandbox.
    assert_eq!(body(&plugin, "/a"), "1 1 cfg");
}
