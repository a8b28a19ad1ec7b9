//! What a new user writes after `cargo add bext-plugin-lua-wasm`: one crate
//! (the API crate comes re-exported), a runtime, a plugin, a request; then,
//! with `cargo add bext-plugin-sources --no-default-features -F folder`, a
//! tenant's plugin from a folder. Prints how long `LuaPluginRuntime::new()`
//! took; scripts/check-dependent runs it twice against an empty
//! compiled-guest cache.
use bext_plugin_lua_wasm::bext_plugin_api::MiddlewarePlugin;
use bext_plugin_lua_wasm::bext_plugin_api::middleware::{RequestAction, RequestContext};
use bext_plugin_lua_wasm::{LuaPluginConfig, LuaPluginRuntime};
use bext_plugin_sources::{FolderSource, Reconciler};
use std::sync::Arc;
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
    let mut ctx = request("/admin");
    match plugin.on_request(&mut ctx).expect("calling the plugin") {
        RequestAction::Respond(response) => {
            assert_eq!(response.status, 403);
            assert_eq!(response.headers, vec![("x-why".to_string(), "admin".to_string())]);
        }
        RequestAction::Continue => panic!("the guard let /admin through"),
    }
    println!("LuaPluginRuntime::new() took {new_ms:.0} ms; the plugin answered 403");

    // The same guard as tenant acme's plugin in a folder, loaded by a
    // reconciler watching it (`watch_ready`: the folder is read before it
    // returns).
    let plugins = std::env::temp_dir().join(format!("lua-wasm-dependent-{}", std::process::id()));
    let tenant = plugins.join("acme");
    std::fs::create_dir_all(&tenant).expect("creating the plugin folder");
    std::fs::write(tenant.join("guard.lua"), script).expect("writing the plugin");
    std::fs::write(
        tenant.join("manifest.json"),
        r#"{"guard": {"version": "1.0.0", "capabilities": ["middleware"]}}"#,
    )
    .expect("writing the manifest");
    let runtime = Arc::new(runtime);
    let reconciler = Reconciler::new(runtime.clone());
    let watch = reconciler.watch_ready(FolderSource::new(&plugins));
    let plugin = runtime.plugin("acme/guard").expect("the folder source loaded acme/guard");
    match plugin.on_request(&mut request("/admin/users")).expect("calling the folder's plugin") {
        RequestAction::Respond(response) => assert_eq!(response.status, 403),
        RequestAction::Continue => panic!("the folder's guard let /admin through"),
    }
    watch.stop();
    let _ = std::fs::remove_dir_all(&plugins);
    println!("bext-plugin-sources: acme/guard loaded from a folder answered 403");
}

/// A GET request for `path` on example.com.
fn request(path: &str) -> RequestContext {
    RequestContext {
        method: "GET".into(),
        path: path.into(),
        hostname: "example.com".into(),
        headers: Vec::new(),
        query_string: String::new(),
        peer_ip: None,
        tenant_id: None,
        site_id: None,
        extensions: Default::default(),
    }
}
