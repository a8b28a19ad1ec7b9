//! Helpers shared by the tests.
#![allow(dead_code)] // each module uses a different subset

use bext_plugin_api::middleware::{RequestAction, RequestContext};
use bext_plugin_lua_wasm::LuaPluginRuntime;
use bext_plugin_sources::{DesiredPlugin, Reconciler, manifest_or_default};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// A fresh runtime (after the first, a runtime costs well under a
/// millisecond: the compiled guest is cached in the process).
pub fn runtime() -> Arc<LuaPluginRuntime> {
    Arc::new(LuaPluginRuntime::new())
}

/// A middleware that answers every request with `body`.
pub fn answering(body: &str) -> String {
    format!(
        "return {{ on_request = function(self, ctx)\n  return bext.middleware_respond('{{\"status\":200,\"body\":\"{body}\"}}')\nend }}\n"
    )
}

/// A middleware that answers with its config section.
pub const ANSWERS_CONFIG: &str = "return { on_request = function(self, ctx)\n  return bext.middleware_respond(bext.json.encode({status = 200, body = bext.get_config()}))\nend }\n";

/// Lua that does not compile.
pub const BROKEN: &str = "return { on_request = function(self, ctx) return ( end }";

pub fn desired(tenant: &str, plugin: &str, source: &str) -> DesiredPlugin {
    DesiredPlugin::new(
        "test",
        tenant,
        plugin,
        manifest_or_default(plugin, None).unwrap(),
        "{}",
        source,
    )
    .unwrap()
}

/// What `tenant/plugin` answers a request with now (`None`: not loaded).
pub fn served(runtime: &LuaPluginRuntime, tenant: &str, plugin: &str) -> Option<String> {
    let plugin = runtime.plugin(&format!("{tenant}/{plugin}"))?;
    let mut ctx = RequestContext {
        method: "GET".into(),
        path: "/".into(),
        hostname: "example.com".into(),
        headers: Vec::new(),
        query_string: String::new(),
        peer_ip: None,
        tenant_id: Some(tenant.into()),
        site_id: None,
        extensions: Default::default(),
    };
    match plugin.try_on_request(&mut ctx) {
        Ok(RequestAction::Respond(r)) => Some(String::from_utf8_lossy(&r.body).into_owned()),
        Ok(RequestAction::Continue) => Some("<continue>".into()),
        Err(e) => Some(format!("<error: {e}>")),
    }
}

/// Polls `condition` until it holds; panics naming `what` after 30 s (a
/// bound for a stuck test, not a timing assertion).
pub fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Waits until `runtime` serves `body` for `tenant/plugin`.
pub fn wait_served(runtime: &LuaPluginRuntime, tenant: &str, plugin: &str, body: &str) {
    wait_until(&format!("{tenant}/{plugin} answers {body:?}"), || {
        served(runtime, tenant, plugin).as_deref() == Some(body)
    });
}

/// A temporary folder, removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(label: &str) -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "bext-sources-{label}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Writes `text` to `path` the safe way: a hidden temporary file renamed
/// over the target.
pub fn write_atomically(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let temporary = path.with_file_name(format!(
        ".{}.tmp",
        path.file_name().unwrap().to_string_lossy()
    ));
    std::fs::write(&temporary, text).unwrap();
    std::fs::rename(&temporary, path).unwrap();
}

pub fn reconciler() -> Reconciler {
    Reconciler::new(runtime())
}

/// The etcd server and client of the tests (bext-test-support's, which the
/// gateway's tests use too).
#[cfg(feature = "etcd")]
pub use bext_test_support::etcd_server::{EtcdClient, EtcdServer};

/// The etcd value of a plugin with default manifest and config.
#[cfg(feature = "etcd")]
pub fn etcd_value(source: &str) -> String {
    bext_plugin_sources::EtcdSource::value(source, None, None)
}
