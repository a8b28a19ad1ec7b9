//! Memory: proportional set size per live plugin instance with 1, 100 and
//! 1000 live instances, for 1 plugin and for 100 different plugins, read
//! from `/proc/self/smaps_rollup`. Criterion measures bytes here, not time
//! (a custom [`Measurement`]).

use bext_lua_bench::measure::pss_per_instance;
use bext_lua_bench::tiers::{NativeSide, Side, WasmSetup, WasmSide};
use bext_lua_bench::workloads::plugin_sets;
use criterion::measurement::{Measurement, ValueFormatter};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

/// Bytes of PSS per live instance, as criterion's measured value.
struct PssPerInstance;

impl Measurement for PssPerInstance {
    type Intermediate = ();
    type Value = f64;
    // Values come from `iter_custom`; start and end are not used.
    fn start(&self) {}
    fn end(&self, _: ()) -> f64 {
        0.0
    }
    fn add(&self, a: &f64, b: &f64) -> f64 {
        a + b
    }
    fn zero(&self) -> f64 {
        0.0
    }
    fn to_f64(&self, value: &f64) -> f64 {
        *value
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        &KibFormatter
    }
}

struct KibFormatter;

impl ValueFormatter for KibFormatter {
    fn scale_values(&self, _typical: f64, values: &mut [f64]) -> &'static str {
        values.iter_mut().for_each(|v| *v /= 1024.0);
        "KiB"
    }
    fn scale_throughputs(
        &self,
        _typical: f64,
        _throughput: &Throughput,
        values: &mut [f64],
    ) -> &'static str {
        values.iter_mut().for_each(|v| *v /= 1024.0);
        "KiB"
    }
    fn scale_for_machines(&self, _values: &mut [f64]) -> &'static str {
        "B"
    }
}

fn memory(c: &mut Criterion<PssPerInstance>) {
    let wasm = WasmSide::new(WasmSetup {
        max_instances_per_plugin: 1000,
        ..WasmSetup::default()
    })
    .expect("runtime");
    let native = NativeSide::default();
    let [(one_label, one), (many_label, many)] = plugin_sets();
    let cases = [
        (one_label, &one, 1),
        (one_label, &one, 100),
        (one_label, &one, 1000),
        (many_label, &many, 100),
        (many_label, &many, 1000),
    ];
    let mut group = c.benchmark_group("pss_per_instance");
    group.sample_size(10);
    for (label, specs, instances) in cases {
        for side in [&wasm as &dyn Side, &native] {
            let id = BenchmarkId::new(
                format!("{}/{label}", side.label()),
                format!("{instances} live"),
            );
            group.bench_function(id, |b| {
                // Criterion divides by `iters`: report the per-instance PSS
                // of one measure per iteration.
                b.iter_custom(|iters| {
                    (0..iters)
                        .map(|_| pss_per_instance(side, specs, instances).expect("pss"))
                        .sum::<f64>()
                })
            });
        }
    }
    group.finish();
}

fn config() -> Criterion<PssPerInstance> {
    Criterion::default()
        .with_measurement(PssPerInstance)
        .warm_up_time(std::time::Duration::from_millis(1))
}

criterion_group! {
    name = benches;
    config = config();
    targets = memory
}
criterion_main!(benches);
