//! LifecyclePlugin through `Arc<dyn LifecyclePlugin>`: the reference request
//! log (examples/plugins/request_log.lua), optional hooks, arguments.

use crate::common::*;
use bext_plugin_api::LifecyclePlugin;
use bext_plugin_lua_wasm::{
    Error, LifecycleHook, LuaPluginConfig, LuaPluginRuntime, LuaRuntimeConfig,
};
use std::sync::Arc;

#[test]
fn reference_request_log_counts_and_logs_completions() {
    let sink = Arc::new(RecordingMetrics::default());
    let rt =
        LuaPluginRuntime::with_config(LuaRuntimeConfig::default().metrics(sink.clone())).unwrap();
    let plugin = rt
        .load_plugin(
            LuaPluginConfig::new(
                "request-log",
                manifest("request-log"),
                example_plugin("request_log.lua"),
            )
            .config_json(r#"{"log_every": 2}"#),
        )
        .unwrap();
    let hooks: Arc<dyn LifecyclePlugin> = Arc::new(plugin);
    assert_eq!((hooks.name(), hooks.priority()), ("request-log", 900));
    let logs = capture_logs(|| {
        hooks.on_server_start(r#"{"log_every": 2}"#).unwrap();
        for (path, status) in [("/", 200), ("/missing", 404), ("/a", 200), ("/boom", 503)] {
            let event = serde_json::json!({
                "path": path, "method": "GET", "status": status, "cache_status": "miss",
                "render_time_us": 1200, "tenant_id": null, "site_id": null, "encoding": "br", "is_bot": false
            });
            hooks.on_request_complete(&event.to_string()).unwrap();
        }
        hooks.on_cache_write("/a", r#"["blog"]"#).unwrap();
        hooks.on_cache_invalidate("blog", 3).unwrap();
        hooks.on_reload().unwrap(); // not defined: a no-op
        hooks.on_server_stop().unwrap();
        hooks.cleanup().unwrap(); // not defined: a no-op
    });
    assert!(logs.contains("event=server_start"), "{logs}");
    // Every second completion is logged.
    assert!(
        logs.contains("GET /missing -> 404 (2 completed)")
            && logs.contains("GET /boom -> 503 (4 completed)"),
        "{logs}"
    );
    assert!(
        !logs.contains("(1 completed)") && !logs.contains("(3 completed)"),
        "{logs}"
    );
    let summary_line = logs
        .lines()
        .find(|l| l.contains("event=summary"))
        .expect("a summary event");
    let summary_json = &summary_line[summary_line.find("data=").unwrap() + 5..];
    let summary: serde_json::Value = serde_json::from_str(summary_json.trim()).unwrap();
    assert_eq!(
        summary,
        serde_json::json!({"completed": 4, "by_class": {"2xx": 2, "4xx": 1, "5xx": 1}, "cache_writes": 1, "invalidated": 3})
    );
    let metrics = sink.0.lock().unwrap();
    assert_eq!(metrics.len(), 4);
    assert_eq!(
        metrics[1],
        (
            "request-log".into(),
            "requests.completed".into(),
            1.0,
            vec![("status_class".into(), "4xx".into())]
        )
    );
}

#[test]
fn hooks_receive_their_arguments_and_absent_hooks_are_no_ops() {
    let plugin = load(
        "hook-args",
        r##"local seen = {}
           local function record(...) seen[#seen + 1] = table.concat({ ... }, ",") end
           return {
             on_server_start = function(self, config_json) record("start", config_json) end,
             on_cache_write = function(self, key, tags_json) record("write", key, tags_json) end,
             on_cache_invalidate = function(self, pattern, count) record("invalidate", pattern, math.type(count), count) end,
             on_server_stop = function(self) record("stop", select("#", self)) end,
             cleanup = function(self) error("last: " .. table.concat(seen, ";")) end,
           }"##,
    )
    .unwrap();
    let hooks: Arc<dyn LifecyclePlugin> = Arc::new(plugin.clone());
    assert_eq!(hooks.priority(), 1000, "the trait's default");
    hooks.on_server_start("{}").unwrap();
    hooks.on_cache_write("/k", "[\"t\"]").unwrap();
    hooks.on_cache_invalidate("/blog/*", u32::MAX).unwrap();
    hooks.on_server_stop().unwrap();
    hooks.on_request_complete("{}").unwrap();
    hooks.on_reload().unwrap();
    // cleanup raises the record: the error names the plugin and carries it.
    match plugin.try_lifecycle(LifecycleHook::Cleanup) {
        Err(Error::Lua {
            plugin,
            method,
            message,
            ..
        }) => {
            assert_eq!((plugin.as_str(), method.as_str()), ("hook-args", "cleanup"));
            assert!(
                message.ends_with(
                    r#"last: start,{};write,/k,["t"];invalidate,/blog/*,integer,4294967295;stop,1"#
                ),
                "{message}"
            );
        }
        other => panic!("{other:?}"),
    }
    let text = hooks.cleanup().unwrap_err();
    assert!(
        text.starts_with("lua plugin `hook-args`: cleanup:"),
        "{text}"
    );
    // Absent hooks cost no call.
    assert_eq!(plugin.stats().calls, 6);
}

#[test]
fn a_plugin_with_no_hooks_is_a_valid_no_op_lifecycle_plugin() {
    let hooks: Arc<dyn LifecyclePlugin> = Arc::new(load("no-hooks", "return {}").unwrap());
    hooks.on_server_start("{}").unwrap();
    hooks.on_request_complete("{}").unwrap();
    hooks.on_cache_invalidate("x", 1).unwrap();
    hooks.cleanup().unwrap();
}
