//! The benchmark suite's common interface must give both sides the same
//! work: the same results, the same actions, measures that measure.

use bext_lua_wasm_suite::bench::measure::{pss_per_instance, seconds_per_call_across_threads};
use bext_lua_wasm_suite::bench::side::{Budget, Metering, NativeSide, Side, WasmSetup, WasmSide};
use bext_lua_wasm_suite::bench::workloads::{
    distinct_plugins, middleware, pcall_error, request_context, security_headers, upstream_response, ContextSize, CPU_PROGRAMS,
};
use bext_plugin_api::middleware::RequestAction;

fn sides(budget: Budget) -> (WasmSide, NativeSide) {
    let wasm = WasmSide::new(WasmSetup { budget, max_instances_per_plugin: 16, ..WasmSetup::default() }).expect("runtime");
    (wasm, NativeSide::new(Metering::Both, budget))
}

#[test]
fn every_cpu_program_computes_the_same_checksum_on_both_sides() {
    let (wasm, native) = sides(Budget::Large);
    for program in CPU_PROGRAMS {
        let arg = program.arg(true);
        let w = wasm.load(&program.spec()).unwrap().call("run", &arg).unwrap();
        let n = native.load(&program.spec()).unwrap().call("run", &arg).unwrap();
        assert!(w.as_deref().is_some_and(|s| !s.is_empty()), "{}: {w:?}", program.name);
        assert_eq!(w, n, "{}({arg})", program.name);
    }
}

#[test]
fn middleware_gives_the_same_action_and_extensions_on_both_sides() {
    let (wasm, native) = sides(Budget::Bext);
    for spec in middleware() {
        let (w, n) = (wasm.load(&spec).unwrap(), native.load(&spec).unwrap());
        for size in ContextSize::ALL {
            for i in 0..3 {
                let (mut wc, mut nc) = (request_context(size, i), request_context(size, i));
                let (wa, na) = (w.on_request(&mut wc).unwrap(), n.on_request(&mut nc).unwrap());
                assert!(matches!(wa, RequestAction::Continue), "{}: {wa:?}", spec.name);
                assert!(matches!(na, RequestAction::Continue), "{}: {na:?}", spec.name);
                assert_eq!(wc.extensions, nc.extensions, "{}", spec.name);
            }
        }
    }
    let spec = security_headers();
    let (w, n) = (wasm.load(&spec).unwrap(), native.load(&spec).unwrap());
    let ctx = request_context(ContextSize::Large, 0);
    let (mut wr, mut nr) = (upstream_response(), upstream_response());
    w.on_response(&ctx, &mut wr).unwrap();
    n.on_response(&ctx, &mut nr).unwrap();
    assert_eq!(wr.headers, nr.headers);
    assert_eq!(wr.headers.len(), upstream_response().headers.len() + 4);
}

#[test]
fn the_auth_benchmark_walks_the_accepted_token_path() {
    let (wasm, native) = sides(Budget::Bext);
    let spec = &middleware()[1];
    for side in [&wasm as &dyn Side, &native] {
        let mut ctx = request_context(ContextSize::Small, 0);
        side.load(spec).unwrap().on_request(&mut ctx).unwrap();
        assert_eq!(ctx.extensions.get("auth.token_index").map(String::as_str), Some("4"), "{}", side.label());
    }
}

#[test]
fn the_error_path_catches_every_error_on_both_sides() {
    let (wasm, native) = sides(Budget::Large);
    for side in [&wasm as &dyn Side, &native] {
        assert_eq!(side.load(&pcall_error()).unwrap().call("run", "500").unwrap().as_deref(), Some("500"));
    }
}

#[test]
fn metering_settings_change_what_is_enforced() {
    // An endless loop: stopped under every budget but none.
    let spec = bext_lua_wasm_suite::bench::side::PluginSpec::new(
        "spin",
        "return { run = function(self, arg) local n = 0 while n >= 0 do n = n + 1 end end }",
        "{}",
    );
    for metering in [Metering::Fuel, Metering::Deadline, Metering::Both] {
        let wasm = WasmSide::new(WasmSetup { metering, ..WasmSetup::default() }).unwrap();
        assert!(wasm.load(&spec).unwrap().call("run", "").is_err(), "wasm {metering:?}");
    }
    assert!(NativeSide::new(Metering::Both, Budget::Bext).load(&spec).unwrap().call("run", "").is_err());
}

#[test]
fn memory_and_scaling_measures_produce_figures() {
    let (wasm, native) = sides(Budget::Bext);
    let specs = distinct_plugins(4);
    for side in [&wasm as &dyn Side, &native] {
        let bytes = pss_per_instance(side, &specs, 16).unwrap();
        assert!(bytes > 1024.0, "{}: {bytes} bytes per instance", side.label());
        let seconds = seconds_per_call_across_threads(side, &specs, 2, 20).unwrap();
        assert!(seconds > 0.0 && seconds < 1.0, "{}: {seconds} s per call", side.label());
    }
    assert!(pss_per_instance(&wasm, &specs, 6).is_err(), "6 instances do not spread over 4 plugins");
}

/// The native baseline is tooling of this suite package: nothing the runtime
/// crate needs to build or run (its normal and build dependencies, followed
/// transitively) may pull in mlua or its Lua.
#[test]
fn the_runtime_crate_does_not_depend_on_mlua() {
    let output = std::process::Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1", "--manifest-path"])
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"))
        .output()
        .expect("cargo metadata runs");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let metadata: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let name_of = |id: &str| {
        metadata["packages"].as_array().unwrap().iter().find(|p| p["id"] == id).unwrap()["name"].as_str().unwrap().to_string()
    };
    let nodes = metadata["resolve"]["nodes"].as_array().unwrap();
    let runtime = nodes.iter().find(|n| name_of(n["id"].as_str().unwrap()) == "bext-plugin-lua-wasm").expect("runtime crate");

    let mut reached = std::collections::BTreeSet::new();
    let mut todo = vec![runtime["id"].as_str().unwrap().to_string()];
    while let Some(id) = todo.pop() {
        if !reached.insert(id.clone()) {
            continue;
        }
        let node = nodes.iter().find(|n| n["id"] == id.as_str()).unwrap();
        for dep in node["deps"].as_array().unwrap() {
            let not_dev_only = dep["dep_kinds"].as_array().unwrap().iter().any(|k| k["kind"] != "dev");
            if not_dev_only {
                todo.push(dep["pkg"].as_str().unwrap().to_string());
            }
        }
    }
    let names: Vec<String> = reached.iter().map(|id| name_of(id)).collect();
    assert!(names.len() > 10, "the walk found the runtime's dependencies: {names:?}");
    assert!(names.iter().any(|n| n == "wasmtime"), "{names:?}");
    assert!(!names.iter().any(|n| n.starts_with("mlua")), "{names:?}");
}
