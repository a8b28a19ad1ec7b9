//! What a new user writes after `cargo add bext-plugin-lua-wasm`: one crate
//! (the API crate comes re-exported), a runtime, a plugin, a request.
//! Prints how long `LuaPluginRuntime::new()` took; scripts/check-dependent
//! runs it twice against an empty compiled-guest cache.
use bext_plugin_lua_wasm::bext_plugin_api::MiddlewarePlugin;
use bext_plugin_lua_wasm::bext_plugin_api::middleware::{RequestAction, RequestContext};
use bext_plugin_lua_wasm::{LuaPluginConfig, LuaPluginRuntime};
use std::time::Instant;

fn main() {
    let started = Instant::now();
    let runtime = LuaPluginRuntime::new();
    let new_ms = started.elapsed().as_secs_f64() * 1000.0;

    let manifest = serde_json::from_str(r#"{"name":"guard","version":"1.0.0"}"#).unwrap();
    let script = r#"return {
      on_request = function(self, ctx_json)
        if ctx_json:find('"path":"/admin', 1, true) then
          return bext.middleware_respond('{"status":403,"headers":[["x-why","admin"]],"body":"no"}')
        end
        return bext.middleware_continue()
      end }"#;
    let plugin = runtime.load_plugin(LuaPluginConfig::from_manifest(manifest, script)).expect("loading the plugin");
    let mut ctx = RequestContext {
        method: "GET".into(),
        path: "/admin".into(),
        hostname: "example.com".into(),
        headers: Vec::new(),
        query_string: String::new(),
        peer_ip: None,
        tenant_id: None,
        site_id: None,
        extensions: Default::default(),
    };
    match plugin.on_request(&mut ctx).expect("calling the plugin") {
        RequestAction::Respond(response) => {
            assert_eq!(response.status, 403);
            assert_eq!(response.headers, vec![("x-why".to_string(), "admin".to_string())]);
        }
        RequestAction::Continue => panic!("the guard let /admin through"),
    }
    println!("LuaPluginRuntime::new() took {new_ms:.0} ms; the plugin answered 403");
}
