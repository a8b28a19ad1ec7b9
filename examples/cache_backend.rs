//! A Lua cache backend (examples/plugins/cache.lua) used through
//! `Arc<dyn CacheBackend>`, with a manifest that declares the capability.
//!
//! Run: `cargo run --example cache_backend`
use bext_plugin_api::CacheBackend;
use bext_plugin_api::cache::CacheEntry;
use bext_plugin_api::types::{PluginCapability, PluginManifest};
use bext_plugin_lua_wasm::{Error, LuaPluginConfig, LuaPluginRuntime};
use std::sync::Arc;

fn main() -> Result<(), Error> {
    let source = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/plugins/cache.lua"
    ))
    .unwrap();
    let manifest: PluginManifest = serde_json::from_str(
        r#"{"name":"page-cache","version":"1.0.0","capabilities":["cache_backend"]}"#,
    )
    .unwrap();
    let runtime = LuaPluginRuntime::new();
    let plugin = runtime.load_plugin(
        LuaPluginConfig::new("page-cache", manifest, source)
            .config_json(r#"{"max_entries": 1000}"#),
    )?;
    assert!(
        plugin.provides(PluginCapability::CacheBackend)
            && !plugin.provides(PluginCapability::Middleware)
    );
    let cache: Arc<dyn CacheBackend> = Arc::new(plugin.clone());

    let entry = CacheEntry {
        html: "<h1>Hello</h1>".into(),
        headers: vec![("content-type".into(), "text/html".into())],
        etag: "\"v1\"".into(),
        tags: vec!["blog".into()],
        created_at_ms: 1_700_000_000_000,
    };
    cache.set("/blog/hello", entry, Some(60_000)).unwrap();
    let hit = cache.get("/blog/hello").unwrap().expect("a hit");
    assert_eq!(
        (hit.html.as_str(), hit.etag.as_str()),
        ("<h1>Hello</h1>", "\"v1\"")
    );
    println!(
        "get /blog/hello: hit, {} bytes of html, tags {:?}",
        hit.html.len(),
        hit.tags
    );

    assert_eq!(cache.invalidate_tag("blog").unwrap(), 1);
    assert!(cache.get("/blog/hello").unwrap().is_none());
    println!("after invalidate_tag(\"blog\"): miss");

    // The manifest declares only cache_backend: other capabilities are refused.
    let mut ctx = bext_plugin_api::middleware::RequestContext {
        method: "GET".into(),
        path: "/".into(),
        hostname: "example.com".into(),
        headers: vec![],
        query_string: String::new(),
        peer_ip: None,
        tenant_id: None,
        site_id: None,
        extensions: Default::default(),
    };
    let err = plugin.try_on_request(&mut ctx).unwrap_err();
    assert!(matches!(err, Error::CapabilityNotProvided { .. }));
    println!("as middleware: {err}");
    Ok(())
}
