//! One middleware call with a realistic request context (300 B and 2 KB of
//! JSON), on a warm instance: rate limiter, auth check, security headers.

use bext_lua_bench::tiers::{NativeSide, Side, WasmSetup, WasmSide};
use bext_lua_bench::workloads::{
    ContextSize, middleware, request_context, security_headers, upstream_response,
};
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};

fn per_call(c: &mut Criterion) {
    let wasm = WasmSide::new(WasmSetup::default()).expect("runtime");
    let native = NativeSide::default();
    let sides: [&dyn Side; 2] = [&wasm, &native];
    for spec in middleware() {
        let mut group = c.benchmark_group(format!("on_request/{}", spec.name));
        for side in sides {
            let plugin = side.load(&spec).expect("load");
            for size in ContextSize::ALL {
                let mut i = 0;
                group.bench_function(BenchmarkId::new(side.label(), size.label()), |b| {
                    b.iter(|| {
                        i += 1;
                        plugin
                            .on_request(&mut request_context(size, i))
                            .expect("on_request")
                    })
                });
            }
        }
        group.finish();
    }
    let spec = security_headers();
    let mut group = c.benchmark_group("on_response/security_headers");
    for side in sides {
        let plugin = side.load(&spec).expect("load");
        for size in ContextSize::ALL {
            let ctx = request_context(size, 0);
            group.bench_function(BenchmarkId::new(side.label(), size.label()), |b| {
                b.iter(|| {
                    plugin
                        .on_response(&ctx, &mut upstream_response())
                        .expect("on_response")
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, per_call);
criterion_main!(benches);
