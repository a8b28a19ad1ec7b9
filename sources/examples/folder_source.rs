//! Plugins from a folder: a tenant's plugin is loaded, changed, broken
//! (the last good version keeps serving) and deleted, while a reconciler
//! watches the folder. Asserts each outcome.
//!
//! Run: `cargo run -p bext-plugin-sources --example folder_source`
use bext_plugin_api::middleware::{RequestAction, RequestContext};
use bext_plugin_lua_wasm::LuaPluginRuntime;
use bext_plugin_sources::{FolderSource, Reconciler, SourceError};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A middleware answering every request with `body`.
fn plugin(body: &str) -> String {
    format!(
        "return {{ on_request = function(self, ctx)\n  return bext.middleware_respond('{{\"status\":200,\"body\":\"{body}\"}}')\nend }}\n"
    )
}

/// Writes a file the safe way: a hidden temporary, renamed over the target.
fn write(path: &Path, text: &str) {
    let temporary = path.with_file_name(format!(
        ".{}.tmp",
        path.file_name().unwrap().to_string_lossy()
    ));
    std::fs::write(&temporary, text).unwrap();
    std::fs::rename(&temporary, path).unwrap();
}

/// What `acme/hello` answers now, if it is loaded.
fn answer(runtime: &LuaPluginRuntime) -> Option<String> {
    let plugin = runtime.plugin("acme/hello")?;
    let mut ctx = RequestContext {
        method: "GET".into(),
        path: "/".into(),
        hostname: "acme.example".into(),
        headers: Vec::new(),
        query_string: String::new(),
        peer_ip: None,
        tenant_id: Some("acme".into()),
        site_id: None,
        extensions: Default::default(),
    };
    match plugin.try_on_request(&mut ctx) {
        Ok(RequestAction::Respond(response)) => {
            Some(String::from_utf8_lossy(&response.body).into_owned())
        }
        other => panic!("unexpected {other:?}"),
    }
}

fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
    println!("ok: {what}");
}

fn main() {
    let root = std::env::temp_dir().join(format!("bext-folder-example-{}", std::process::id()));
    let tenant = root.join("acme");
    std::fs::create_dir_all(&tenant).unwrap();
    write(&tenant.join("hello.lua"), &plugin("hello v1"));
    write(
        &tenant.join("manifest.json"),
        r#"{"hello": {"version": "1.0.0", "capabilities": ["middleware"]}}"#,
    );

    let runtime = Arc::new(LuaPluginRuntime::new());
    let reconciler = Reconciler::new(runtime.clone());
    let watch = reconciler.watch(FolderSource::new(&root));

    wait_until("acme/hello serves v1", || {
        answer(&runtime).as_deref() == Some("hello v1")
    });
    write(&tenant.join("hello.lua"), &plugin("hello v2"));
    wait_until("an edit reloads it", || {
        answer(&runtime).as_deref() == Some("hello v2")
    });

    write(
        &tenant.join("hello.lua"),
        "return { on_request = function(self, ctx) return ( end }",
    );
    wait_until("a broken edit is rejected", || {
        matches!(
            reconciler
                .plugin_status("acme", "hello")
                .and_then(|s| s.last_error),
            Some(SourceError::Rejected { .. })
        )
    });
    assert_eq!(
        answer(&runtime).as_deref(),
        Some("hello v2"),
        "the last good version keeps serving"
    );
    println!(
        "status: {}",
        reconciler
            .plugin_status("acme", "hello")
            .unwrap()
            .last_error
            .unwrap()
    );

    std::fs::remove_file(tenant.join("hello.lua")).unwrap();
    wait_until("deleting the file unloads it", || {
        runtime.plugin("acme/hello").is_none()
    });

    watch.stop();
    std::fs::remove_dir_all(&root).unwrap();
}
