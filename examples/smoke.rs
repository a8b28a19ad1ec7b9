use bext_plugin_lua_wasm::*;
fn main() {
    let t = std::time::Instant::now();
    let rt = LuaPluginRuntime::new();
    println!("runtime {:?}", t.elapsed());
    let manifest = serde_json::from_str(r#"{"name":"x","version":"1"}"#).unwrap();
    let src = r#"return { on_request = function(self, ctx_json) bext.log("info", "plugin saw: " .. ctx_json:sub(1, 80)); return bext.middleware_continue() end, on_response = function(self, arg) return nil end }"#;
    let t = std::time::Instant::now();
    let p = rt.load_plugin(LuaPluginConfig::new("hello", manifest, src));
    println!("load {:?} {:?}", t.elapsed(), p.as_ref().map(|p| p.methods().collect::<Vec<_>>()));
}
