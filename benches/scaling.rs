//! Calls per second across 1, 2 and 4 threads, on one plugin and on 100
//! different plugins (criterion reports the throughput).

use bext_lua_bench::measure::seconds_per_call_across_threads;
use bext_lua_bench::tiers::{NativeSide, Side, WasmSetup, WasmSide};
use bext_lua_bench::workloads::plugin_sets;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::time::Duration;

fn scaling(c: &mut Criterion) {
    let wasm = WasmSide::new(WasmSetup {
        ready_instances_per_plugin: 4,
        ..WasmSetup::default()
    })
    .expect("runtime");
    let native = NativeSide::default();
    let mut group = c.benchmark_group("scaling");
    group.sample_size(10).throughput(Throughput::Elements(1));
    for (label, specs) in plugin_sets() {
        for threads in [1, 2, 4] {
            for side in [&wasm as &dyn Side, &native] {
                let id = BenchmarkId::new(
                    format!("{}/{label}", side.label()),
                    format!("{threads} threads"),
                );
                group.bench_function(id, |b| {
                    b.iter_custom(|calls| {
                        let per_thread = (calls as usize).div_ceil(threads).max(1);
                        let per_call =
                            seconds_per_call_across_threads(side, &specs, threads, per_thread)
                                .expect("calls");
                        Duration::from_secs_f64(per_call * calls as f64)
                    })
                });
            }
        }
    }
    group.finish();
}

criterion_group!(benches, scaling);
criterion_main!(benches);
