//! A runaway script is stopped by its fuel budget, `pcall` cannot catch it,
//! and the next call runs in a fresh sandbox.
//!
//! Run: `cargo run --example limits`
use bext_plugin_lua_wasm::{Error, LuaPluginConfig, LuaPluginRuntime, LuaSandboxLimits};

const SCRIPT: &str = r#"
local calls = 0
return {
  on_request = function(self, ctx_json)
    calls = calls + 1
    if ctx_json:find('"path":"/spin"', 1, true) then
      pcall(function() while true do end end)
    end
    return bext.middleware_continue()
  end,
}"#;

fn main() {
    let runtime = LuaPluginRuntime::new();
    let manifest = serde_json::from_str(r#"{"name":"spinner","version":"1.0.0"}"#).unwrap();
    let plugin = runtime
        .load_plugin(
            LuaPluginConfig::new("spinner", manifest, SCRIPT).limits(
                LuaSandboxLimits::default()
                    .fuel_per_call(10_000_000)
                    .timeout_ms(200),
            ),
        )
        .unwrap();
    let mut ctx = bext_plugin_api::middleware::RequestContext {
        method: "GET".into(),
        path: "/spin".into(),
        hostname: "example.com".into(),
        headers: vec![],
        query_string: String::new(),
        peer_ip: None,
        tenant_id: None,
        site_id: None,
        extensions: Default::default(),
    };
    let err = plugin.try_on_request(&mut ctx).unwrap_err();
    assert!(
        matches!(
            err,
            Error::OutOfFuel {
                fuel_limit: 10_000_000,
                ..
            }
        ),
        "{err:?}"
    );
    println!("runaway call: {err}");

    ctx.path = "/ok".into();
    plugin.try_on_request(&mut ctx).unwrap();
    let stats = plugin.stats();
    assert_eq!((stats.traps, stats.instances_created), (1, 2));
    println!("next call succeeded in a fresh sandbox: {stats:?}");
}
