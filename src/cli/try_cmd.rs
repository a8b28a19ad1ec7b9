//! `bext-lua try PLUGIN.lua --requests FILE.jsonl`: sends each request
//! context through `on_request` / `on_response` and prints what happened.

use super::requests::RequestLine;
use bext_plugin_api::middleware::{RequestAction, ResponseHeaders};
use bext_plugin_lua_wasm::{
    LuaPlugin, LuaPluginConfig, LuaPluginRuntime, LuaRuntimeConfig, MetricsSink,
};
use clap::Args;
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tracing_subscriber::Layer as _;
use tracing_subscriber::layer::SubscriberExt as _;

/// Arguments of `bext-lua try`.
#[derive(Debug, Args)]
pub(super) struct TryArgs {
    /// The plugin script.
    plugin: PathBuf,
    /// Request contexts, one JSON object per line: the RequestContext fields
    /// (method, path, hostname, headers as [[name, value], ...], query_string,
    /// peer_ip, tenant_id, site_id, extensions; all optional) and an optional
    /// "response" ({"status":200,"headers":[...]}) for on_response.
    #[arg(long, value_name = "FILE.jsonl")]
    requests: PathBuf,
    /// The plugin's config section, what `bext.get_config()` returns.
    #[arg(long, value_name = "JSON", default_value = "{}")]
    config: String,
}

/// Records the metrics the script emits.
#[derive(Default)]
struct RecordedMetrics(Mutex<Vec<String>>);

impl MetricsSink for RecordedMetrics {
    fn emit(&self, _plugin: &str, name: &str, value: f64, tags: &[(String, String)]) {
        let tags: Vec<String> = tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let line = format!("{name} = {value} {{{}}}", tags.join(", "));
        self.0.lock().unwrap_or_else(|e| e.into_inner()).push(line);
    }
}

impl RecordedMetrics {
    fn drain(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// Collects the log lines the plugin's `tracing` events produce.
#[derive(Clone, Default)]
struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl Write for LogBuffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl LogBuffer {
    fn drain(&self) -> Vec<String> {
        let bytes = std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()));
        String::from_utf8_lossy(&bytes)
            .lines()
            .map(str::to_string)
            .collect()
    }
}

pub(super) fn try_requests(args: TryArgs, engine: LuaRuntimeConfig) -> i32 {
    let source = match super::read_script(&args.plugin) {
        Ok(source) => source,
        Err(e) => return super::fail(e),
    };
    let lines = match std::fs::read_to_string(&args.requests) {
        Ok(text) => text,
        Err(e) => return super::fail(format!("cannot read {}: {e}", args.requests.display())),
    };
    let mut requests = Vec::new();
    for (i, line) in lines.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<RequestLine>(line) {
            Ok(request) => requests.push(request),
            Err(e) => {
                return super::fail(format!(
                    "{}:{}: not a request context: {e}",
                    args.requests.display(),
                    i + 1
                ));
            }
        }
    }

    let logs = LogBuffer::default();
    let writer = logs.clone();
    // The script's own logs and events, one line each: the runtime's call
    // spans are left out (each line belongs to the call printed above it).
    let subscriber = tracing_subscriber::registry().with(
        tracing_subscriber::fmt::layer()
            .with_ansi(false)
            .without_time()
            .with_writer(move || writer.clone())
            .with_filter(tracing_subscriber::filter::filter_fn(|meta| {
                meta.is_event() && *meta.level() <= tracing::Level::DEBUG
            })),
    );
    let _guard = tracing::subscriber::set_default(subscriber);

    let metrics = Arc::new(RecordedMetrics::default());
    let runtime = match LuaPluginRuntime::with_config(engine.metrics(metrics.clone())) {
        Ok(runtime) => runtime,
        Err(e) => return super::fail(e),
    };
    let name = super::plugin_name(&args.plugin);
    let manifest = super::check::default_manifest(&args.plugin);
    let plugin = match runtime
        .load_plugin(LuaPluginConfig::new(&name, manifest, source).config_json(args.config))
    {
        Ok(plugin) => plugin,
        Err(e) => return super::fail(e),
    };
    print_events(&logs, &metrics);

    let mut failures = 0;
    for (i, request) in requests.iter().enumerate() {
        let mut ctx = request.context();
        println!(
            "#{} {} {}{} from {}",
            i + 1,
            ctx.method,
            ctx.path,
            if ctx.query_string.is_empty() {
                String::new()
            } else {
                format!("?{}", ctx.query_string)
            },
            ctx.peer_ip.as_deref().unwrap_or("-")
        );
        let (fuel, started) = (plugin.stats().fuel_consumed, Instant::now());
        let action = plugin.try_on_request(&mut ctx);
        let spent = cost(&plugin, fuel, started);
        let mut response = match action {
            Ok(RequestAction::Continue) => {
                let extensions = if ctx.extensions.is_empty() {
                    String::new()
                } else {
                    format!(" extensions {:?}", sorted(&ctx.extensions))
                };
                println!("  on_request: continue{extensions}  [{spent}]");
                Some(request.upstream_response())
            }
            Ok(RequestAction::Respond(r)) => {
                println!(
                    "  on_request: respond {} headers {:?} body {:?}  [{spent}]",
                    r.status,
                    r.headers,
                    String::from_utf8_lossy(&r.body)
                );
                Some(ResponseHeaders {
                    status: r.status,
                    headers: r.headers,
                })
            }
            Err(e) => {
                failures += 1;
                println!("  on_request: error: {e}  [{spent}]");
                None
            }
        };
        print_events(&logs, &metrics);
        if let Some(response) = response
            .as_mut()
            .filter(|_| plugin.has_method("on_response"))
        {
            let (fuel, started) = (plugin.stats().fuel_consumed, Instant::now());
            let result = plugin.try_on_response(&ctx, response);
            let spent = cost(&plugin, fuel, started);
            match result {
                Ok(()) => println!(
                    "  on_response: status {} headers {:?}  [{spent}]",
                    response.status, response.headers
                ),
                Err(e) => {
                    failures += 1;
                    println!("  on_response: error: {e}  [{spent}]");
                }
            }
            print_events(&logs, &metrics);
        }
    }
    let stats = plugin.stats();
    println!(
        "{} requests: {} calls, {} errors, {} traps, {} sandboxes created, {} fuel",
        requests.len(),
        stats.calls,
        stats.errors,
        stats.traps,
        stats.instances_created,
        stats.fuel_consumed
    );
    i32::from(failures > 0)
}

fn cost(plugin: &LuaPlugin, fuel_before: u64, started: Instant) -> String {
    let elapsed = started.elapsed();
    let fuel = plugin.stats().fuel_consumed - fuel_before;
    format!("fuel {fuel}, {:.3} ms", elapsed.as_secs_f64() * 1e3)
}

fn sorted(map: &std::collections::HashMap<String, String>) -> Vec<(&String, &String)> {
    let mut pairs: Vec<_> = map.iter().collect();
    pairs.sort();
    pairs
}

fn print_events(logs: &LogBuffer, metrics: &RecordedMetrics) {
    for line in logs.drain() {
        println!("    log: {}", line.trim());
    }
    for metric in metrics.drain() {
        println!("    metric: {metric}");
    }
}
