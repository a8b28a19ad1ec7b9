//! What each budget mechanism costs on CPU-bound code (fib): wasm with no
//! metering, fuel, epoch deadlines or both; native with and without the
//! count hook.

use bext_lua_bench::tiers::{Budget, Metering, NativeSide, Side, WasmSetup, WasmSide};
use bext_lua_bench::workloads::CPU_PROGRAMS;
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};

fn metering(c: &mut Criterion) {
    let fib = CPU_PROGRAMS[0];
    let arg = fib.arg(true);
    let mut group = c.benchmark_group("metering");
    group.sample_size(20);
    for metering in Metering::ALL {
        let wasm = WasmSide::new(WasmSetup {
            metering,
            budget: Budget::Large,
            ..WasmSetup::default()
        })
        .expect("runtime");
        let plugin = wasm.load(&fib.spec()).expect("load");
        group.bench_function(BenchmarkId::new("wasm", metering.label()), |b| {
            b.iter(|| plugin.call("run", &arg).expect("run"))
        });
    }
    for (label, metering) in [("no hook", Metering::None), ("count hook", Metering::Both)] {
        let native = NativeSide::new(metering, Budget::Large);
        let plugin = native.load(&fib.spec()).expect("load");
        group.bench_function(BenchmarkId::new("native", label), |b| {
            b.iter(|| plugin.call("run", &arg).expect("run"))
        });
    }
    group.finish();
}

criterion_group!(benches, metering);
criterion_main!(benches);
