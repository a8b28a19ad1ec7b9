//! Helpers shared by the integration tests.
#![allow(dead_code)] // each test binary uses a different subset

use bext_plugin_api::middleware::RequestContext;
use bext_plugin_api::types::PluginManifest;
use bext_plugin_lua_wasm::{LuaPlugin, LuaPluginConfig, LuaPluginRuntime, LuaSandboxLimits, MetricsSink};
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

/// One runtime per test binary: the guest is compiled once.
pub fn runtime() -> &'static LuaPluginRuntime {
    static RT: OnceLock<LuaPluginRuntime> = OnceLock::new();
    RT.get_or_init(LuaPluginRuntime::new)
}

pub fn manifest(name: &str) -> PluginManifest {
    serde_json::from_value(serde_json::json!({ "name": name, "version": "1.0.0" })).unwrap()
}

/// Loads `source` as plugin `name` with default limits.
pub fn load(name: &str, source: &str) -> Result<LuaPlugin, bext_plugin_lua_wasm::Error> {
    runtime().load_plugin(LuaPluginConfig::new(name, manifest(name), source))
}

pub fn load_with_limits(name: &str, source: &str, limits: LuaSandboxLimits) -> LuaPlugin {
    runtime().load_plugin(LuaPluginConfig::new(name, manifest(name), source).limits(limits)).unwrap()
}

/// The text of `tests/scripts/<file>`.
pub fn script(file: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/scripts").join(file);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The text of `examples/plugins/<file>`.
pub fn example_plugin(file: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/plugins").join(file);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A request context with the given method, path and headers.
pub fn request(method: &str, path: &str, headers: &[(&str, &str)]) -> RequestContext {
    RequestContext {
        method: method.into(),
        path: path.into(),
        hostname: "example.com".into(),
        headers: headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        query_string: String::new(),
        peer_ip: Some("203.0.113.7".into()),
        tenant_id: Some("tenant-1".into()),
        site_id: None,
        extensions: Default::default(),
    }
}

/// Runs `f` with a tracing subscriber that records every event as text, and
/// returns what it recorded.
pub fn capture_logs(f: impl FnOnce()) -> String {
    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);
    impl Write for Buffer {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let buffer = Buffer::default();
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    tracing::subscriber::with_default(subscriber, f);
    let bytes = buffer.0.lock().unwrap().clone();
    String::from_utf8(bytes).unwrap()
}

/// A metrics sink that records what it receives.
#[derive(Default)]
pub struct RecordingMetrics(pub Mutex<Vec<(String, String, f64, Vec<(String, String)>)>>);

impl MetricsSink for RecordingMetrics {
    fn emit(&self, plugin: &str, name: &str, value: f64, tags: &[(String, String)]) {
        self.0.lock().unwrap().push((plugin.into(), name.into(), value, tags.to_vec()));
    }
}

/// The test harness in `tests/scripts/eval.lua`: a transform plugin that
/// runs Lua code and returns tostring() of its result.
pub fn eval_plugin() -> LuaPlugin {
    load("eval", &script("eval.lua")).unwrap()
}

/// Runs `code` (a Lua chunk) in `plugin` (from [`eval_plugin`]).
pub fn eval(plugin: &LuaPlugin, code: &str) -> Result<String, bext_plugin_lua_wasm::Error> {
    let ctx = bext_plugin_api::transform::TransformContext { node_env: "test".into(), env_vars: vec![] };
    plugin.try_transform(code, "eval", &ctx).map(|out| out.unwrap_or_else(|| code.to_string()))
}
