//! The CPU-bound Lua programs of `benches/lua/` (quick sizes), default
//! metering on both sides with a budget large enough for them.

use bext_lua_bench::tiers::{Budget, Metering, NativeSide, Side, WasmSetup, WasmSide};
use bext_lua_bench::workloads::CPU_PROGRAMS;
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};

fn cpu(c: &mut Criterion) {
    let wasm = WasmSide::new(WasmSetup {
        budget: Budget::Large,
        ..WasmSetup::default()
    })
    .expect("runtime");
    let native = NativeSide::new(Metering::Both, Budget::Large);
    let mut group = c.benchmark_group("cpu");
    group.sample_size(20);
    for program in CPU_PROGRAMS {
        let arg = program.arg(true);
        let mut results = Vec::new();
        for side in [&wasm as &dyn Side, &native] {
            let plugin = side.load(&program.spec()).expect("load");
            results.push(plugin.call("run", &arg).expect("run"));
            group.bench_function(BenchmarkId::new(side.label(), program.name), |b| {
                b.iter(|| plugin.call("run", &arg).expect("run"))
            });
        }
        assert_eq!(
            results[0], results[1],
            "{} computes the same on both sides",
            program.name
        );
    }
    group.finish();
}

criterion_group!(benches, cpu);
criterion_main!(benches);
