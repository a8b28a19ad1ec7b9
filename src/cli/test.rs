//! `bext-lua test [FILES...]`: runs `*_spec.lua` files, busted style, in the
//! plugin sandbox, calling the plugins under test through the runtime.
//!
//! Where things run. The spec file runs in a sandbox of its own, loaded as
//! a plugin whose script is the harness (`test/harness.lua`: `describe`,
//! `it`, `before_each`, `after_each`, `assert.*`, `load_plugin`, `clock`).
//! Each plugin under test is loaded by this command with the real runtime
//! ([`LuaPluginRuntime::load_plugin`]), in its own sandbox. A sandbox cannot
//! call another, so the spec runs in a coroutine: when it calls
//! `plugin:on_request{...}`, the coroutine yields that request, the
//! harness's `step` method returns it as JSON, this command makes the call
//! through the capability's host adapter (`try_on_request` builds a
//! `RequestContext`, marshals it, decodes the action, ...) and hands the
//! result to the next `step`. So a spec exercises the same host path, JSON
//! marshalling, limits and `bext.shared` as production, and the spec's own
//! Lua runs in the same sandbox profile as a plugin.
//!
//! The fake clock. The runtime's clock cannot be replaced from outside, so
//! the plugin under test is wrapped (`test/prelude.lua`): its source is
//! loaded with its own file name as the chunk name (lines as in the file),
//! after `os.time`, `os.date`, `os.clock` and the TTLs of `bext.shared` are
//! made to follow the spec's `clock`. Values stay in the plugin's real
//! dictionary on the host; expiry is kept in the plugin's sandbox, so under
//! test a plugin runs in one sandbox (pool of 1), and a reload
//! (`set_config`) or a trap forgets pending TTLs.

use super::check::{capabilities_of, default_manifest};
use bext_plugin_api::cache::CacheEntry;
use bext_plugin_api::middleware::{RequestAction, RequestContext, ResponseHeaders};
use bext_plugin_api::transform::TransformContext;
use bext_plugin_api::types::PluginCapability as Cap;
use bext_plugin_lua_wasm::{
    CAPABILITIES, LifecycleHook, LuaPlugin, LuaPluginConfig, LuaPluginRuntime, LuaRuntimeConfig,
    LuaSandboxLimits, MetricsSink, PoolConfig,
};
use clap::Args;
use serde_json::{Map, Value, json};
use std::collections::{BTreeSet, HashMap};
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex};

const HARNESS: &str = include_str!("test/harness.lua");
const PRELUDE: &str = include_str!("test/prelude.lua");

/// Where the fake clock starts: 2026-01-01T00:00:00Z, in ms (as the harness).
const START_MS: i64 = 1_767_225_600_000;

/// Arguments of `bext-lua test`.
#[derive(Debug, Args)]
pub(super) struct TestArgs {
    /// Spec files, or folders searched (recursively) for `*_spec.lua`;
    /// default: the current folder.
    files: Vec<PathBuf>,
}

/// Metrics the plugins under test emit, by plugin name.
#[derive(Default)]
struct Metrics(Mutex<Vec<(String, Value)>>);

impl MetricsSink for Metrics {
    fn emit(&self, plugin: &str, name: &str, value: f64, tags: &[(String, String)]) {
        let tags: Map<String, Value> = tags
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect();
        let metric = json!({ "name": name, "value": value, "tags": tags });
        let mut metrics = self.0.lock().unwrap_or_else(|e| e.into_inner());
        metrics.push((plugin.to_string(), metric));
    }
}

impl Metrics {
    fn take(&self, plugin: &str) -> Vec<Value> {
        let mut metrics = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let (mine, others) = std::mem::take(&mut *metrics)
            .into_iter()
            .partition(|(p, _)| p == plugin);
        *metrics = others;
        mine.into_iter().map(|(_, m)| m).collect()
    }
}

/// One test's result as the harness reports it.
struct TestResult {
    name: String,
    position: String,
    error: Option<String>,
}

pub(super) fn test(args: TestArgs, engine: LuaRuntimeConfig) -> i32 {
    let roots = if args.files.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        args.files
    };
    let mut specs = Vec::new();
    for root in &roots {
        if let Err(e) = find_specs(root, &mut specs) {
            return super::fail(e);
        }
    }
    if specs.is_empty() {
        return super::fail(format!(
            "no *_spec.lua files in {}",
            roots
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let metrics = Arc::new(Metrics::default());
    let runtime = match LuaPluginRuntime::with_config(engine.metrics(metrics.clone())) {
        Ok(runtime) => runtime,
        Err(e) => return super::fail(e),
    };
    let (mut passed, mut failed, mut broken) = (0, 0, 0);
    for spec in &specs {
        println!("{}", spec.display());
        match run_spec(&runtime, &metrics, spec) {
            Ok(results) => {
                for result in results {
                    match result.error {
                        None => {
                            passed += 1;
                            println!("  ok    {}", result.name);
                        }
                        Some(error) => {
                            failed += 1;
                            println!("  FAIL  {} ({})", result.name, result.position);
                            for line in error.lines() {
                                println!("        {line}");
                            }
                        }
                    }
                }
            }
            Err(error) => {
                broken += 1;
                println!("  ERROR the spec did not run to the end:");
                for line in error.lines() {
                    println!("        {line}");
                }
            }
        }
    }
    println!(
        "{} spec file{}: {passed} passed, {failed} failed{}",
        specs.len(),
        if specs.len() == 1 { "" } else { "s" },
        if broken > 0 {
            format!(", {broken} spec file(s) with errors")
        } else {
            String::new()
        }
    );
    i32::from(failed > 0 || broken > 0)
}

fn find_specs(path: &Path, out: &mut Vec<PathBuf>) -> Result<(), String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if meta.is_file() {
        out.push(normalize(path));
        return Ok(());
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
        .map_err(|e| format!("{}: {e}", path.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for entry in entries {
        let name = entry.file_name().map(|n| n.to_string_lossy().into_owned());
        let name = name.unwrap_or_default();
        if name.starts_with('.') || name == "target" {
            continue;
        }
        if entry.is_dir() {
            find_specs(&entry, out)?;
        } else if name.ends_with("_spec.lua") {
            out.push(normalize(&entry));
        }
    }
    Ok(())
}

/// Runs one spec file to the end; `Err` when it could not run (a syntax
/// error, an error outside `it`, the spec's own sandbox stopped).
fn run_spec(
    runtime: &LuaPluginRuntime,
    metrics: &Metrics,
    spec: &Path,
) -> Result<Vec<TestResult>, String> {
    let source = super::read_script(&spec.to_path_buf())?;
    let name = super::plugin_name(spec);
    let config = json!({ "source": source, "chunkname": format!("@{name}") });
    let harness = runtime
        .load_plugin(
            LuaPluginConfig::new(&name, default_manifest(spec), HARNESS)
                .config_json(config.to_string()),
        )
        .map_err(|e| format!("the spec harness did not load: {e}"))?;
    let mut sandbox = harness.acquire().map_err(|e| e.to_string())?;
    let mut driver = Driver {
        runtime,
        metrics,
        spec_dir: spec.parent().unwrap_or(Path::new(".")).to_path_buf(),
        plugins: Vec::new(),
        limits: Vec::new(),
    };
    let mut reply: Option<String> = None;
    let outcome = loop {
        let args: Vec<&str> = reply.iter().map(String::as_str).collect();
        let request = match sandbox.call_json("step", &args) {
            Ok(Some(text)) => serde_json::from_str::<Value>(&text)
                .map_err(|e| format!("the harness answered {text:?}: {e}"))?,
            Ok(None) => return Err("the harness returned nothing".into()),
            Err(e) => break Err(format!("the spec's sandbox stopped: {e}")),
        };
        if request["op"] == "done" {
            break done(&request);
        }
        let answer = match driver.handle(&request) {
            Ok(value) => json!({ "ok": value }),
            Err(error) => json!({ "error": error }),
        };
        reply = Some(answer.to_string());
    };
    drop(sandbox);
    runtime.unload_plugin(&name);
    for plugin in driver.plugins {
        runtime.unload_plugin(plugin.name());
    }
    outcome
}

fn done(request: &Value) -> Result<Vec<TestResult>, String> {
    if let Some(error) = request["error"].as_str() {
        return Err(error.to_string());
    }
    let results = request["results"].as_array().cloned().unwrap_or_default();
    Ok(results
        .iter()
        .map(|r| TestResult {
            name: r["name"].as_str().unwrap_or("?").to_string(),
            position: r["where"].as_str().unwrap_or("?").to_string(),
            error: r["error"].as_str().map(str::to_string),
        })
        .collect())
}

/// `load_plugin`'s `limits` option (`{ max_heap_bytes = ..., timeout_ms =
/// ..., fuel_per_call = ... }`, as in a gateway's tenant) over the defaults.
fn sandbox_limits(options: &Value) -> Result<LuaSandboxLimits, String> {
    let mut limits = LuaSandboxLimits::default();
    let Some(fields) = options.as_object() else {
        return Ok(limits);
    };
    for (field, value) in fields {
        let n = value
            .as_u64()
            .ok_or_else(|| format!("load_plugin: limits.{field}: a whole number expected"))?;
        limits = match field.as_str() {
            "max_heap_bytes" => limits.max_heap_bytes(n as usize),
            "timeout_ms" => limits.timeout_ms(n),
            "fuel_per_call" => limits.fuel_per_call(n),
            other => return Err(format!("load_plugin: unknown limit {other:?}")),
        };
    }
    Ok(limits)
}

/// Carries out the spec's requests on the plugins it loaded.
struct Driver<'a> {
    runtime: &'a LuaPluginRuntime,
    metrics: &'a Metrics,
    spec_dir: PathBuf,
    /// By handle (index).
    plugins: Vec<LuaPlugin>,
    /// The `limits` option each was loaded with, by handle, kept across a
    /// `set_config` reload.
    limits: Vec<Value>,
}

impl Driver<'_> {
    fn handle(&mut self, request: &Value) -> Result<Value, String> {
        match request["op"].as_str().unwrap_or("") {
            "load" => self.load(request),
            "config" => {
                let plugin = self.plugin(request)?.clone();
                let path = PathBuf::from(plugin.name());
                let config = request["config"].to_string();
                let handle = request["plugin"].as_u64().unwrap_or(0) as usize;
                let limits = self.limits[handle].clone();
                let reloaded = self.load_as(&path, &config, &limits, START_MS)?;
                self.plugins[handle] = reloaded;
                Ok(Value::Null)
            }
            "metrics" => {
                let plugin = self.plugin(request)?;
                Ok(Value::Array(self.metrics.take(plugin.name())))
            }
            "shared" => {
                let plugin = self.plugin(request)?;
                let command = json!({
                    "now_ms": request["now_ms"],
                    "fn": request["fn"],
                    "args": request["args"],
                });
                let reply = door(plugin, &command)?;
                serde_json::from_str(reply.as_str().unwrap_or("null")).map_err(|e| e.to_string())
            }
            "call" => {
                let plugin = self.plugin(request)?;
                door(plugin, &json!({ "now_ms": request["now_ms"] }))?;
                let method = request["method"].as_str().unwrap_or("");
                let args = request["args"].as_array().cloned().unwrap_or_default();
                call(plugin, method, &args)
            }
            other => Err(format!("bext-lua test: unknown request {other:?}")),
        }
    }

    fn plugin(&self, request: &Value) -> Result<&LuaPlugin, String> {
        request["plugin"]
            .as_u64()
            .and_then(|h| self.plugins.get(h as usize))
            .ok_or_else(|| "no such plugin handle".to_string())
    }

    fn load(&mut self, request: &Value) -> Result<Value, String> {
        let relative = request["path"].as_str().unwrap_or("");
        let path = normalize(&self.spec_dir.join(relative));
        let now_ms = request["now_ms"].as_i64().unwrap_or(START_MS);
        // A fresh plugin: a new dictionary, not a hot reload.
        self.runtime.unload_plugin(&super::plugin_name(&path));
        let limits = request["limits"].clone();
        let plugin = self.load_as(&path, &request["config"].to_string(), &limits, now_ms)?;
        self.plugins.push(plugin);
        self.limits.push(limits);
        Ok(json!(self.plugins.len() - 1))
    }

    fn load_as(
        &self,
        path: &Path,
        config_json: &str,
        limits: &Value,
        now_ms: i64,
    ) -> Result<LuaPlugin, String> {
        let source = super::read_script(&path.to_path_buf())?;
        let name = super::plugin_name(path);
        let script = wrap(&source, &name, now_ms);
        let config = LuaPluginConfig::new(&name, default_manifest(path), script)
            .config_json(config_json)
            .limits(sandbox_limits(limits)?)
            .pool(PoolConfig::default().size(1).max_size(1));
        self.runtime.load_plugin(config).map_err(|e| e.to_string())
    }
}

/// `path` with `.` and `a/..` removed, so messages name `examples/x.lua`
/// rather than `examples/spec/../x.lua`.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir
                if matches!(out.components().next_back(), Some(Component::Normal(_))) =>
            {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// The plugin's script under test: the prelude, then its source as a long
/// string loaded with its own chunk name.
fn wrap(source: &str, name: &str, now_ms: i64) -> String {
    let mut level = 0;
    while source.contains(&format!("]{}]", "=".repeat(level))) {
        level += 1;
    }
    let eq = "=".repeat(level);
    // The newline after the opening bracket is not part of the string.
    let literal = format!("local SOURCE = [{eq}[\n{source}]{eq}]");
    PRELUDE
        .replace("@NOW_MS@", &now_ms.to_string())
        .replace("@CHUNKNAME@", &format!("{:?}", format!("@{name}")))
        .replace("--@SOURCE@", &literal)
}

/// Calls the prelude's `__bext_test` method: sets the clock, runs a
/// `bext.shared` function.
fn door(plugin: &LuaPlugin, command: &Value) -> Result<Value, String> {
    plugin
        .try_call(
            Cap::Middleware,
            "__bext_test",
            &[Value::String(command.to_string())],
        )
        .map(|v| v.unwrap_or(Value::Null))
        .map_err(|e| e.to_string())
}

/// Calls `method` through the host adapter of the capability it belongs to
/// (of those the plugin provides first), returning the decoded result.
fn call(plugin: &LuaPlugin, method: &str, args: &[Value]) -> Result<Value, String> {
    let methods: BTreeSet<String> = plugin.methods().map(str::to_string).collect();
    let (provided, _) = capabilities_of(&methods);
    let lists = |cap: Cap| {
        let row = bext_plugin_lua_wasm::capability_methods(cap);
        row.required.contains(&method) || row.optional.contains(&method)
    };
    let capability = provided.iter().copied().find(|c| lists(*c)).or_else(|| {
        CAPABILITIES
            .iter()
            .map(|r| r.capability)
            .find(|c| lists(*c))
    });
    let arg = |i: usize| args.get(i).cloned().unwrap_or(Value::Null);
    let text = |i: usize| match arg(i) {
        Value::String(s) => s,
        Value::Null => String::new(),
        other => other.to_string(),
    };
    let e = |e: bext_plugin_lua_wasm::Error| e.to_string();
    match capability {
        Some(Cap::Middleware) if method == "on_request" => {
            let mut ctx = request_context(&arg(0))?;
            let action = plugin.try_on_request(&mut ctx).map_err(e)?;
            Ok(match action {
                RequestAction::Continue => {
                    json!({ "action": "continue", "extensions": ctx.extensions })
                }
                RequestAction::Respond(r) => json!({
                    "action": "respond",
                    "status": r.status,
                    "headers": r.headers,
                    "body": String::from_utf8_lossy(&r.body),
                    "extensions": ctx.extensions,
                }),
            })
        }
        Some(Cap::Middleware) => {
            // on_response(response [, request])
            let response = arg(0);
            let ctx = request_context(&arg(1))?;
            let mut headers = ResponseHeaders {
                status: response["status"].as_u64().unwrap_or(200) as u16,
                headers: pairs(&response["headers"], "headers")?,
            };
            plugin.try_on_response(&ctx, &mut headers).map_err(e)?;
            Ok(json!({ "status": headers.status, "headers": headers.headers }))
        }
        Some(Cap::CacheBackend) => match method {
            "get" => Ok(plugin
                .try_cache_get(&text(0))
                .map_err(e)?
                .map(|entry| serde_json::to_value(entry).unwrap_or(Value::Null))
                .unwrap_or(Value::Null)),
            "set" => {
                let entry = cache_entry(&arg(1))?;
                plugin
                    .try_cache_set(&text(0), &entry, arg(2).as_u64())
                    .map_err(e)?;
                Ok(Value::Null)
            }
            "delete" => Ok(json!(plugin.try_cache_delete(&text(0)).map_err(e)?)),
            "invalidate_tag" => Ok(json!(plugin.try_invalidate_tag(&text(0)).map_err(e)?)),
            "invalidate_path" => Ok(json!(plugin.try_invalidate_path(&text(0)).map_err(e)?)),
            _ => Ok(json!(plugin.try_is_healthy().map_err(e)?)),
        },
        Some(Cap::Lifecycle) => {
            let (a, b) = (text(0), text(1));
            let hook = match method {
                "on_server_start" => LifecycleHook::ServerStart { config_json: &a },
                "on_server_stop" => LifecycleHook::ServerStop,
                "on_request_complete" => LifecycleHook::RequestComplete { event_json: &a },
                "on_cache_write" => LifecycleHook::CacheWrite {
                    key: &a,
                    tags_json: &b,
                },
                "on_cache_invalidate" => LifecycleHook::CacheInvalidate {
                    pattern: &a,
                    count: arg(1).as_u64().unwrap_or(0) as u32,
                },
                "on_reload" => LifecycleHook::Reload,
                _ => LifecycleHook::Cleanup,
            };
            plugin.try_lifecycle(hook).map_err(e)?;
            Ok(Value::Null)
        }
        Some(Cap::Transform) if method == "matches" => {
            Ok(json!(plugin.try_matches(&text(0), &text(1)).map_err(e)?))
        }
        Some(Cap::Transform) => {
            let ctx = arg(2);
            let ctx = TransformContext {
                node_env: ctx["node_env"].as_str().unwrap_or("production").to_string(),
                env_vars: pairs(&ctx["env_vars"], "env_vars")?,
            };
            let out = plugin.try_transform(&text(0), &text(1), &ctx).map_err(e)?;
            Ok(out.map(Value::String).unwrap_or(Value::Null))
        }
        // The twelve others, and names of no capability: the one generic
        // mechanism their trait adapters use, with its JSON result.
        capability => Ok(plugin
            .try_call(capability.unwrap_or(Cap::Middleware), method, args)
            .map_err(e)?
            .unwrap_or(Value::Null)),
    }
}

/// `[[k, v], ...]`, or an object `{k = v}` (in key order), or nothing.
fn pairs(value: &Value, field: &str) -> Result<Vec<(String, String)>, String> {
    let bad = || format!("{field}: a list of {{name, value}} pairs or a table of names expected");
    match value {
        Value::Null => Ok(Vec::new()),
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| Ok((k.clone(), v.as_str().ok_or_else(bad)?.to_string())))
            .collect(),
        Value::Array(items) => items
            .iter()
            .map(|pair| match pair.as_array().map(Vec::as_slice) {
                Some([Value::String(k), Value::String(v)]) => Ok((k.clone(), v.clone())),
                _ => Err(bad()),
            })
            .collect(),
        _ => Err(bad()),
    }
}

/// A `RequestContext` from the spec's table: every field optional
/// (GET / on localhost), an unknown field is an error.
fn request_context(value: &Value) -> Result<RequestContext, String> {
    let empty = Map::new();
    let map = match value {
        Value::Object(map) => map,
        Value::Null => &empty,
        _ => return Err("on_request: a table of RequestContext fields expected".into()),
    };
    const FIELDS: [&str; 9] = [
        "method",
        "path",
        "hostname",
        "headers",
        "query_string",
        "peer_ip",
        "tenant_id",
        "site_id",
        "extensions",
    ];
    if let Some(unknown) = map.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        return Err(format!(
            "unknown request field {unknown:?} (fields: {})",
            FIELDS.join(", ")
        ));
    }
    let string = |k: &str, default: &str| -> String {
        map.get(k)
            .and_then(Value::as_str)
            .unwrap_or(default)
            .to_string()
    };
    let optional = |k: &str| map.get(k).and_then(Value::as_str).map(str::to_string);
    let extensions: HashMap<String, String> =
        pairs(map.get("extensions").unwrap_or(&Value::Null), "extensions")?
            .into_iter()
            .collect();
    Ok(RequestContext {
        method: string("method", "GET"),
        path: string("path", "/"),
        hostname: string("hostname", "localhost"),
        headers: pairs(map.get("headers").unwrap_or(&Value::Null), "headers")?,
        query_string: string("query_string", ""),
        peer_ip: optional("peer_ip"),
        tenant_id: optional("tenant_id"),
        site_id: optional("site_id"),
        extensions,
    })
}

/// A `CacheEntry` from the spec's table: `html` required, the rest default.
fn cache_entry(value: &Value) -> Result<CacheEntry, String> {
    let html = value["html"]
        .as_str()
        .ok_or("set: the entry needs an `html` string")?;
    Ok(CacheEntry {
        html: html.to_string(),
        headers: pairs(&value["headers"], "headers")?,
        etag: value["etag"].as_str().unwrap_or("").to_string(),
        tags: value["tags"]
            .as_array()
            .map(|tags| {
                tags.iter()
                    .filter_map(|t| t.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default(),
        created_at_ms: value["created_at_ms"].as_u64().unwrap_or(0),
    })
}
