//! `bext-lua bench PLUGIN.lua`: cold start and per-call time of one plugin
//! in the wasm sandbox against native Lua (mlua), in the same process.

use super::requests::{context_json, sample_context};
use bext_lua_native::{NativeLimits, NativePlugin};
use bext_plugin_lua_wasm::{
    ColdStart, LuaPluginConfig, LuaPluginRuntime, LuaRuntimeConfig, PoolConfig, PoolingLimits,
};
use clap::Args;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Arguments of `bext-lua bench`.
#[derive(Debug, Args)]
pub(super) struct BenchArgs {
    /// The plugin script (a middleware: it needs `on_request`).
    plugin: PathBuf,
    /// The plugin's config section, what `bext.get_config()` returns.
    #[arg(long, value_name = "JSON", default_value = "{}")]
    config: String,
    /// Runs per measure; the table shows medians.
    #[arg(long, default_value_t = 21, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    runs: u32,
    /// Calls per run for the per-call measure.
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    calls: u32,
}

/// Median of `samples` (sorted in place).
fn median(samples: &mut [Duration]) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn fmt_duration(d: Duration) -> String {
    bext_lua_bench::format::format_seconds(d.as_secs_f64())
}

pub(super) fn bench(args: BenchArgs, engine: LuaRuntimeConfig) -> i32 {
    let source = match super::read_script(&args.plugin) {
        Ok(source) => source,
        Err(e) => return super::fail(e),
    };
    let name = super::plugin_name(&args.plugin);
    let ctx = sample_context();
    let ctx_json = context_json(&ctx);

    let started = Instant::now();
    // Pre-reserved instance slots: the configuration for fast sandbox starts.
    let runtime = match LuaPluginRuntime::with_config(engine.pooling(PoolingLimits::default())) {
        Ok(runtime) => runtime,
        Err(e) => return super::fail(e),
    };
    let engine_setup = started.elapsed();
    let load_wasm = |i: u32| {
        let manifest = super::check::default_manifest(&args.plugin);
        runtime.load_plugin(
            LuaPluginConfig::new(format!("{name}#{i}"), manifest, source.as_str())
                .config_json(args.config.as_str()),
        )
    };
    let load_native = || NativePlugin::load(&name, &source, &args.config, NativeLimits::default());

    // Both sides must load and answer the sample request before timing.
    let wasm = match load_wasm(0) {
        Ok(plugin) => plugin,
        Err(e) => return super::fail(e),
    };
    if !wasm.has_method("on_request") {
        return super::fail(format!(
            "{name} has no on_request: bench times middleware plugins"
        ));
    }
    let native = match load_native() {
        Ok(plugin) => plugin,
        Err(e) => return super::fail(format!("native Lua: {e}")),
    };
    if let Err(e) = wasm.try_on_request(&mut sample_context()) {
        return super::fail(e);
    }
    if let Err(e) = native.on_request(&ctx_json) {
        return super::fail(format!("native Lua: {e}"));
    }

    // A fresh sandbox for every call: the cold start of an isolated instance
    // of an already-loaded plugin, by each path the runtime offers.
    let fresh = |cold_start: ColdStart, tag: &str| {
        let manifest = super::check::default_manifest(&args.plugin);
        runtime.load_plugin(
            LuaPluginConfig::new(format!("{name}-{tag}"), manifest, source.as_str())
                .config_json(args.config.as_str())
                .cold_start(cold_start)
                .pool(PoolConfig::default().fresh_instance_per_call(true)),
        )
    };
    let (fork, from_source) = match (
        fresh(ColdStart::Fork, "fork"),
        fresh(ColdStart::Source, "source"),
    ) {
        (Ok(fork), Ok(source)) => (fork, source),
        (Err(e), _) | (_, Err(e)) => return super::fail(e),
    };
    let mut fork_wasm = Vec::new();
    let mut source_wasm = Vec::new();
    let mut cold_wasm = Vec::new();
    let mut cold_native = Vec::new();
    for i in 0..args.runs {
        for (plugin, samples) in [(&fork, &mut fork_wasm), (&from_source, &mut source_wasm)] {
            let t = Instant::now();
            let result = plugin.try_on_request(&mut sample_context());
            samples.push(t.elapsed());
            if let Err(e) = result {
                return super::fail(e);
            }
        }
        let t = Instant::now();
        let plugin =
            load_wasm(i + 1).and_then(|p| p.try_on_request(&mut sample_context()).map(|_| p));
        cold_wasm.push(t.elapsed());
        if let Err(e) = plugin {
            return super::fail(e);
        }
        runtime.unload_plugin(&format!("{name}#{}", i + 1));
        let t = Instant::now();
        let plugin = load_native().and_then(|p| p.on_request(&ctx_json).map(|_| p));
        cold_native.push(t.elapsed());
        if let Err(e) = plugin {
            return super::fail(format!("native Lua: {e}"));
        }
    }

    let mut call_wasm = Vec::new();
    let mut call_native = Vec::new();
    let calls = args.calls;
    for _ in 0..args.runs {
        let t = Instant::now();
        for _ in 0..calls {
            // The wasm side serialises the context on every call, as a server does.
            if let Err(e) = wasm.try_on_request(&mut sample_context()) {
                return super::fail(e);
            }
        }
        call_wasm.push(t.elapsed() / calls);
        let t = Instant::now();
        for _ in 0..calls {
            let json = context_json(&sample_context());
            if let Err(e) = native.on_request(&json) {
                return super::fail(format!("native Lua: {e}"));
            }
        }
        call_native.push(t.elapsed() / calls);
    }

    let native_cold = median(&mut cold_native);
    let rows = [
        (
            "cold start, new sandbox by fork + first on_request",
            median(&mut fork_wasm),
            native_cold,
        ),
        (
            "cold start, new sandbox from source + first on_request",
            median(&mut source_wasm),
            native_cold,
        ),
        (
            "plugin load (parse, fork template) + first on_request",
            median(&mut cold_wasm),
            native_cold,
        ),
        (
            "on_request per call",
            median(&mut call_wasm),
            median(&mut call_native),
        ),
    ];
    println!(
        "bext-lua bench {name}: medians of {} runs ({} calls per run for per-call)",
        args.runs, calls
    );
    println!(
        "wasm: fuel metering and epoch deadlines on, default limits, pooling allocator (1000 slots); native: mlua (Lua 5.4.8) with bext's count hook (200 x 1000 instructions) and 64 MiB limit"
    );
    println!(
        "native cold start (every cold-start row): new state + libraries + load + first on_request"
    );
    println!(
        "engine setup and guest compile (once per process): {}",
        fmt_duration(engine_setup)
    );
    println!();
    println!("| measure | wasm | native mlua | wasm/native |");
    println!("|---|---:|---:|---:|");
    for (measure, w, n) in rows {
        let ratio = w.as_secs_f64() / n.as_secs_f64().max(1e-12);
        println!(
            "| {measure} | {} | {} | {ratio:.2}x |",
            fmt_duration(w),
            fmt_duration(n)
        );
    }
    0
}
