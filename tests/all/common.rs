//! Helpers shared by the integration tests.
#![allow(dead_code)] // each test binary uses a different subset

use bext_plugin_api::middleware::RequestContext;
use bext_plugin_api::types::PluginManifest;
use bext_plugin_lua_wasm::{
    LuaPlugin, LuaPluginConfig, LuaPluginRuntime, LuaSandboxLimits, MetricsSink,
};
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

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
    runtime()
        .load_plugin(LuaPluginConfig::new(name, manifest(name), source).limits(limits))
        .unwrap()
}

/// The text of `tests/scripts/<file>`.
pub fn script(file: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/scripts")
        .join(file);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The text of `examples/plugins/<file>`.
pub fn example_plugin(file: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("examples/plugins")
        .join(file);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A request context with the given method, path and headers.
pub fn request(method: &str, path: &str, headers: &[(&str, &str)]) -> RequestContext {
    RequestContext {
        method: method.into(),
        path: path.into(),
        hostname: "example.com".into(),
        headers: headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        query_string: String::new(),
        peer_ip: Some("203.0.113.7".into()),
        tenant_id: Some("tenant-1".into()),
        site_id: None,
        extensions: Default::default(),
    }
}

/// Runs `f` and returns, as text, every tracing event this thread emitted
/// while it ran.
///
/// One global subscriber serves the whole test binary and writes to a
/// per-thread buffer. A scoped subscriber per call (`with_default`) is flaky
/// when tests run in parallel: tracing caches each callsite's interest
/// process-wide, and a callsite first hit on another thread while no scoped
/// subscriber was registered can stay disabled for everyone.
pub fn capture_logs(f: impl FnOnce()) -> String {
    use std::cell::RefCell;
    use tracing_subscriber::Layer;
    use tracing_subscriber::layer::SubscriberExt;

    thread_local! {
        static CAPTURED: RefCell<Option<Vec<u8>>> = const { RefCell::new(None) };
    }
    fn capturing() -> bool {
        CAPTURED.with(|c| c.borrow().is_some())
    }
    struct ThisThread;
    impl Write for ThisThread {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            CAPTURED.with(|c| {
                c.borrow_mut()
                    .as_mut()
                    .map(|buffer| buffer.extend_from_slice(bytes))
            });
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    /// Stops capturing even if `f` panics, so the next test on this thread starts clean.
    struct Stop;
    impl Drop for Stop {
        fn drop(&mut self) {
            CAPTURED.with(|c| c.borrow_mut().take());
        }
    }

    static INSTALL: std::sync::Once = std::sync::Once::new();
    INSTALL.call_once(|| {
        let layer = tracing_subscriber::fmt::layer()
            .with_ansi(false)
            .with_writer(|| ThisThread)
            // Dynamic, so tracing asks on every event instead of caching the answer.
            .with_filter(tracing_subscriber::filter::dynamic_filter_fn(|meta, _| {
                *meta.level() <= tracing::Level::DEBUG && capturing()
            }));
        tracing::subscriber::set_global_default(tracing_subscriber::registry().with(layer))
            .expect("no other global subscriber in the test binaries");
    });

    CAPTURED.with(|c| *c.borrow_mut() = Some(Vec::new()));
    let stop = Stop;
    f();
    let bytes = CAPTURED.with(|c| c.borrow_mut().take()).unwrap_or_default();
    drop(stop);
    String::from_utf8(bytes).unwrap()
}

/// One metric a [`RecordingMetrics`] received: plugin, name, value, tags.
pub type RecordedMetric = (String, String, f64, Vec<(String, String)>);

/// A metrics sink that records what it receives.
#[derive(Default)]
pub struct RecordingMetrics(pub Mutex<Vec<RecordedMetric>>);

impl MetricsSink for RecordingMetrics {
    fn emit(&self, plugin: &str, name: &str, value: f64, tags: &[(String, String)]) {
        self.0
            .lock()
            .unwrap()
            .push((plugin.into(), name.into(), value, tags.to_vec()));
    }
}

/// The test harness in `tests/scripts/eval.lua`: a transform plugin that
/// runs Lua code and returns tostring() of its result.
pub fn eval_plugin() -> LuaPlugin {
    load("eval", &script("eval.lua")).unwrap()
}

/// Runs `code` (a Lua chunk) in `plugin` (from [`eval_plugin`]).
pub fn eval(plugin: &LuaPlugin, code: &str) -> Result<String, bext_plugin_lua_wasm::Error> {
    let ctx = bext_plugin_api::transform::TransformContext {
        node_env: "test".into(),
        env_vars: vec![],
    };
    plugin
        .try_transform(code, "eval", &ctx)
        .map(|out| out.unwrap_or_else(|| code.to_string()))
}

/// Runs `code` in `plugin` (from the eval harness) and returns its result;
/// panics on error.
pub fn eval_ok(plugin: &LuaPlugin, code: &str) -> String {
    eval(plugin, code).unwrap_or_else(|e| panic!("{code}: {e}"))
}

/// The first three results of the Lua expression list `code`, each through
/// `tostring`, joined with spaces (`"false exists false"`).
pub fn eval_results(plugin: &LuaPlugin, code: &str) -> String {
    eval_ok(
        plugin,
        &format!(
            "local a, b, c = {code}; return tostring(a) .. ' ' .. tostring(b) .. ' ' .. tostring(c)"
        ),
    )
}

/// `threads` threads, started together, each make `per_thread` requests to
/// a middleware (thread i to `limiters[i % len]`); returns how many were let
/// through. Every other answer must be a 429.
pub fn admitted_by(limiters: &[LuaPlugin], threads: usize, per_thread: usize) -> usize {
    use bext_plugin_api::middleware::RequestAction;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Barrier};
    let admitted = Arc::new(AtomicUsize::new(0));
    let start = Arc::new(Barrier::new(threads));
    let handles: Vec<_> = (0..threads)
        .map(|i| {
            let (limiter, admitted, start) = (
                limiters[i % limiters.len()].clone(),
                admitted.clone(),
                start.clone(),
            );
            std::thread::spawn(move || {
                start.wait();
                for _ in 0..per_thread {
                    match limiter
                        .try_on_request(&mut request("GET", "/", &[]))
                        .unwrap()
                    {
                        RequestAction::Continue => {
                            admitted.fetch_add(1, Ordering::Relaxed);
                        }
                        RequestAction::Respond(r) => assert_eq!(r.status, 429),
                    }
                }
            })
        })
        .collect();
    for handle in handles {
        handle.join().unwrap();
    }
    admitted.load(Ordering::Relaxed)
}

/// xorshift64*: a small seeded generator, so generated cases are the same
/// on every run for a given seed.
pub struct Rng(u64);

impl Rng {
    /// A generator for `seed` (0, which xorshift never leaves, becomes 1).
    pub fn new(seed: u64) -> Self {
        Rng(seed.max(1))
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    /// True once in `one_in` times on average.
    pub fn chance(&mut self, one_in: usize) -> bool {
        self.below(one_in) == 0
    }

    /// One of `items` (which must not be empty).
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// Up to `max_len` random bytes.
    pub fn bytes(&mut self, max_len: usize) -> Vec<u8> {
        let len = self.below(max_len + 1);
        (0..len).map(|_| self.next() as u8).collect()
    }
}

/// A fresh folder under the system's temporary folder, removed on drop.
pub struct TempDir(pub std::path::PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let path = std::env::temp_dir().join(format!(
            "bext-lua-test-{tag}-{}-{nanos}",
            std::process::id()
        ));
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }

    pub fn write(&self, name: &str, text: &str) -> std::path::PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The lines of what `plugin`'s `transform` method returns: how tests walk
/// a sandbox's tables (`_G`, `bext`) from inside it.
pub fn transform_lines(plugin: &LuaPlugin) -> std::collections::BTreeSet<String> {
    let ctx = bext_plugin_api::transform::TransformContext {
        node_env: "test".into(),
        env_vars: vec![],
    };
    let text = plugin.try_transform("", "walk", &ctx).unwrap().unwrap();
    text.lines().map(str::to_string).collect()
}
