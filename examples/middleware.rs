//! A Lua middleware used through `Arc<dyn MiddlewarePlugin>`.
//!
//! Run: `cargo run --example middleware`
use bext_plugin_api::MiddlewarePlugin;
use bext_plugin_api::middleware::{RequestAction, RequestContext, ResponseHeaders};
use bext_plugin_lua_wasm::{LuaPluginConfig, LuaPluginRuntime};
use std::sync::Arc;

const SCRIPT: &str = r#"
return {
  on_request = function(self, ctx_json)
    if not ctx_json:find('"x-api-key"', 1, true) then
      return bext.middleware_respond('{"status":401,"headers":[["www-authenticate","ApiKey"]],"body":"missing key"}')
    end
    return bext.middleware_continue()
  end,
  on_response = function(self, arg_json)
    return '{"headers":[["x-served-by","lua"]]}'
  end,
}"#;

fn main() -> Result<(), bext_plugin_lua_wasm::Error> {
    let runtime = LuaPluginRuntime::new();
    let manifest = serde_json::from_str(r#"{"name":"api-key","version":"1.0.0"}"#).unwrap();
    let plugin: Arc<dyn MiddlewarePlugin> =
        Arc::new(runtime.load_plugin(LuaPluginConfig::new("api-key", manifest, SCRIPT))?);

    let mut ctx = RequestContext {
        method: "GET".into(),
        path: "/v1/items".into(),
        hostname: "api.example".into(),
        headers: vec![],
        query_string: String::new(),
        peer_ip: Some("198.51.100.4".into()),
        tenant_id: None,
        site_id: None,
        extensions: Default::default(),
    };
    let RequestAction::Respond(response) = plugin.on_request(&mut ctx).unwrap() else {
        panic!("expected 401")
    };
    assert_eq!(response.status, 401);
    println!(
        "without a key: {} {}",
        response.status,
        String::from_utf8_lossy(&response.body)
    );

    ctx.headers.push(("x-api-key".into(), "k-123".into()));
    assert!(matches!(
        plugin.on_request(&mut ctx).unwrap(),
        RequestAction::Continue
    ));
    let mut headers = ResponseHeaders {
        status: 200,
        headers: vec![],
    };
    plugin.on_response(&ctx, &mut headers).unwrap();
    assert_eq!(
        headers.headers,
        vec![("x-served-by".to_string(), "lua".to_string())]
    );
    println!(
        "with a key: continue, response headers {:?}",
        headers.headers
    );
    Ok(())
}
