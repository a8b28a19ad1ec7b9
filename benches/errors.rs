//! The error path: throughput of `pcall(error, ...)` (1000 caught errors per
//! iteration).

use bext_lua_bench::tiers::{Budget, Metering, NativeSide, Side, WasmSetup, WasmSide};
use bext_lua_bench::workloads::pcall_error;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn errors(c: &mut Criterion) {
    let wasm = WasmSide::new(WasmSetup {
        budget: Budget::Large,
        ..WasmSetup::default()
    })
    .expect("runtime");
    let native = NativeSide::new(Metering::Both, Budget::Large);
    let mut group = c.benchmark_group("pcall_error");
    group.throughput(Throughput::Elements(1000));
    for side in [&wasm as &dyn Side, &native] {
        let plugin = side.load(&pcall_error()).expect("load");
        group.bench_function(side.label(), |b| {
            b.iter(|| {
                assert_eq!(
                    plugin.call("run", "1000").expect("run").as_deref(),
                    Some("1000")
                )
            })
        });
    }
    group.finish();
}

criterion_group!(benches, errors);
criterion_main!(benches);
