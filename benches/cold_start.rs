//! Cold start of the rate limiter, from nothing to the first `on_request`
//! returned: every path of the wasm runtime, and a new native Lua state.

use bext_lua_bench::tiers::{NativeSide, Plugin, Side, WasmSetup, WasmSide};
use bext_lua_bench::workloads::{ContextSize, ratelimit, request_context};
use bext_plugin_lua_wasm::ColdStart;
use criterion::{Criterion, criterion_group, criterion_main};

fn first_request(plugin: &dyn Plugin) {
    plugin
        .on_request(&mut request_context(ContextSize::Small, 0))
        .expect("on_request");
}

fn cold_start(c: &mut Criterion) {
    let spec = ratelimit();
    let mut group = c.benchmark_group("cold_start");
    let native = NativeSide::default();
    group.bench_function("native: new state + load + first call", |b| {
        b.iter(|| first_request(&*native.load(&spec).expect("native load")))
    });
    for (name, cold_start, pooling) in [
        ("wasm: fork, pooling", ColdStart::Fork, true),
        ("wasm: fork, on demand", ColdStart::Fork, false),
        ("wasm: source, pooling", ColdStart::Source, true),
        ("wasm: source, on demand", ColdStart::Source, false),
    ] {
        let setup = WasmSetup {
            cold_start,
            pooling,
            fresh_instance_per_call: true,
            ..WasmSetup::default()
        };
        let side = WasmSide::new(setup).expect("runtime");
        let plugin = side.load(&spec).expect("load");
        // Every call builds a new sandbox and drops it afterwards.
        group.bench_function(name, |b| b.iter(|| first_request(&*plugin)));
    }
    let side = WasmSide::new(WasmSetup::default()).expect("runtime");
    group.bench_function("wasm: plugin load + first call", |b| {
        b.iter(|| first_request(&*side.load(&spec).expect("load")))
    });
    group.finish();
}

criterion_group!(benches, cold_start);
criterion_main!(benches);
