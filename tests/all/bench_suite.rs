//! The benchmark suite's common interface must give both sides the same
//! work: the same results, the same actions, measures that measure.

use bext_lua_bench::isolation::{
    ATTACK_CLASSES, Attack, AttackClass, IsolationSettings, SideKind, Verdict, attack_class,
    run_attack,
};
use bext_lua_bench::measure::{pss_per_instance, seconds_per_call_across_threads};
use bext_lua_bench::noisy::{self, well_behaved_latency};
use bext_lua_bench::tiers::{Budget, Metering, NativeSide, Side, WasmSetup, WasmSide};
use bext_lua_bench::workloads::{
    CPU_PROGRAMS, ContextSize, distinct_plugins, middleware, pcall_error, request_context,
    security_headers, upstream_response,
};
use bext_plugin_api::middleware::RequestAction;
use std::time::Duration;

fn sides(budget: Budget) -> (WasmSide, NativeSide) {
    let wasm = WasmSide::new(WasmSetup {
        budget,
        max_instances_per_plugin: 16,
        ..WasmSetup::default()
    })
    .expect("runtime");
    (wasm, NativeSide::new(Metering::Both, budget))
}

#[test]
fn every_cpu_program_computes_the_same_checksum_on_both_sides() {
    let (wasm, native) = sides(Budget::Large);
    for program in CPU_PROGRAMS {
        let arg = program.arg(true);
        let w = wasm
            .load(&program.spec())
            .unwrap()
            .call("run", &arg)
            .unwrap();
        let n = native
            .load(&program.spec())
            .unwrap()
            .call("run", &arg)
            .unwrap();
        assert!(
            w.as_deref().is_some_and(|s| !s.is_empty()),
            "{}: {w:?}",
            program.name
        );
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
                let (wa, na) = (
                    w.on_request(&mut wc).unwrap(),
                    n.on_request(&mut nc).unwrap(),
                );
                assert!(
                    matches!(wa, RequestAction::Continue),
                    "{}: {wa:?}",
                    spec.name
                );
                assert!(
                    matches!(na, RequestAction::Continue),
                    "{}: {na:?}",
                    spec.name
                );
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
        assert_eq!(
            ctx.extensions.get("auth.token_index").map(String::as_str),
            Some("4"),
            "{}",
            side.label()
        );
    }
}

#[test]
fn the_error_path_catches_every_error_on_both_sides() {
    let (wasm, native) = sides(Budget::Large);
    for side in [&wasm as &dyn Side, &native] {
        assert_eq!(
            side.load(&pcall_error())
                .unwrap()
                .call("run", "500")
                .unwrap()
                .as_deref(),
            Some("500")
        );
    }
}

#[test]
fn metering_settings_change_what_is_enforced() {
    // An endless loop: stopped under every budget but none.
    let spec = bext_lua_bench::tiers::PluginSpec::new(
        "spin",
        "return { run = function(self, arg) local n = 0 while n >= 0 do n = n + 1 end end }",
        "{}",
    );
    for metering in [Metering::Fuel, Metering::Deadline, Metering::Both] {
        let wasm = WasmSide::new(WasmSetup {
            metering,
            ..WasmSetup::default()
        })
        .unwrap();
        assert!(
            wasm.load(&spec).unwrap().call("run", "").is_err(),
            "wasm {metering:?}"
        );
    }
    assert!(
        NativeSide::new(Metering::Both, Budget::Bext)
            .load(&spec)
            .unwrap()
            .call("run", "")
            .is_err()
    );
}

#[test]
fn memory_and_scaling_measures_produce_figures() {
    let (wasm, native) = sides(Budget::Bext);
    let specs = distinct_plugins(4);
    for side in [&wasm as &dyn Side, &native] {
        let bytes = pss_per_instance(side, &specs, 16).unwrap();
        assert!(
            bytes > 1024.0,
            "{}: {bytes} bytes per instance",
            side.label()
        );
        let seconds = seconds_per_call_across_threads(side, &specs, 2, 20).unwrap();
        assert!(
            seconds > 0.0 && seconds < 1.0,
            "{}: {seconds} s per call",
            side.label()
        );
    }
    assert!(
        pss_per_instance(&wasm, &specs, 6).is_err(),
        "6 instances do not spread over 4 plugins"
    );
}

/// The native baseline is tooling of its own crate (native/): nothing the runtime
/// crate needs to build or run (its normal and build dependencies, followed
/// transitively) may pull in mlua or its Lua.
#[test]
fn the_runtime_crate_does_not_depend_on_mlua() {
    let output = std::process::Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1", "--manifest-path"])
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"))
        .output()
        .expect("cargo metadata runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let name_of = |id: &str| {
        metadata["packages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["id"] == id)
            .unwrap()["name"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let nodes = metadata["resolve"]["nodes"].as_array().unwrap();
    let runtime = nodes
        .iter()
        .find(|n| name_of(n["id"].as_str().unwrap()) == "bext-plugin-lua-wasm")
        .expect("runtime crate");

    let mut reached = std::collections::BTreeSet::new();
    let mut todo = vec![runtime["id"].as_str().unwrap().to_string()];
    while let Some(id) = todo.pop() {
        if !reached.insert(id.clone()) {
            continue;
        }
        let node = nodes.iter().find(|n| n["id"] == id.as_str()).unwrap();
        for dep in node["deps"].as_array().unwrap() {
            let not_dev_only = dep["dep_kinds"]
                .as_array()
                .unwrap()
                .iter()
                .any(|k| k["kind"] != "dev");
            if not_dev_only {
                todo.push(dep["pkg"].as_str().unwrap().to_string());
            }
        }
    }
    let names: Vec<String> = reached.iter().map(|id| name_of(id)).collect();
    assert!(
        names.len() > 10,
        "the walk found the runtime's dependencies: {names:?}"
    );
    assert!(names.iter().any(|n| n == "wasmtime"), "{names:?}");
    assert!(!names.iter().any(|n| n.starts_with("mlua")), "{names:?}");
}

/// Isolation settings for the tests: the report binary as the child, a
/// bound far above any contained call's time (the verdicts below do not
/// depend on the machine's speed), a compiled-guest cache of the test's own.
fn isolation_settings(tag: &str, attack_bound_secs: u64, repetitions: usize) -> IsolationSettings {
    IsolationSettings {
        program: env!("CARGO_BIN_EXE_bench-report").into(),
        attack_bound: Duration::from_secs(attack_bound_secs),
        repetitions,
        cache_dir: Some(
            std::env::temp_dir().join(format!("bench-suite-{tag}-{}", std::process::id())),
        ),
        neighbour_rounds: 1,
    }
}

fn attack(class: &str, path: &str) -> (&'static AttackClass, &'static Attack) {
    let class = attack_class(class).unwrap();
    (
        class,
        class.attacks.iter().find(|a| a.path == path).unwrap(),
    )
}

#[test]
fn a_loop_stopped_by_the_budget_is_reported_contained_on_both_sides() {
    let settings = isolation_settings("contained", 120, 2);
    let (class, plain) = attack("infinite-loops", "/plain");
    for side in SideKind::BOTH {
        let result = run_attack(&settings, side, class, plain).unwrap();
        assert_eq!(result.verdict, Verdict::Contained, "{}", side.label());
        assert_eq!(
            result.seconds.len(),
            2,
            "{}: one time per call",
            side.label()
        );
    }
    let _ = std::fs::remove_dir_all(settings.cache_dir.unwrap());
}

#[test]
fn a_native_hang_is_reported_as_hung_not_as_a_report_failure() {
    // Backtracking runs in C, where the count hook never fires: natively the
    // call never returns, and the child is killed at the bound.
    let settings = isolation_settings("hung", 2, 2);
    let (class, exponential) = attack("backtracking", "/exponential");
    let result = run_attack(&settings, SideKind::Native, class, exponential).unwrap();
    assert_eq!(
        result.verdict,
        Verdict::Hung {
            after: Duration::from_secs(2)
        }
    );
    assert!(result.seconds.is_empty(), "a hung call has no time to stop");
    // The sandbox's fuel counts the matcher's work: contained.
    let settings = isolation_settings("hung-wasm", 120, 1);
    assert_eq!(
        run_attack(&settings, SideKind::Wasm, class, exponential)
            .unwrap()
            .verdict,
        Verdict::Contained
    );
    let _ = std::fs::remove_dir_all(settings.cache_dir.unwrap());
}

#[test]
fn probes_are_judged_by_what_got_through() {
    let settings = isolation_settings("probes", 120, 1);
    let (bytecode, all) = attack("binary-chunks", "/");
    assert_eq!(
        run_attack(&settings, SideKind::Wasm, bytecode, all)
            .unwrap()
            .verdict,
        Verdict::Contained
    );
    // Native `load` takes binary chunks by default: the crafted one reaches
    // Lua's undumper, which does not verify bytecode.
    match run_attack(&settings, SideKind::Native, bytecode, all)
        .unwrap()
        .verdict
    {
        Verdict::NotContained(what) => assert!(what.starts_with("load-"), "{what}"),
        other => panic!("{other:?}"),
    }
    // Separate Lua states share nothing natively either.
    let (cross, tamper) = attack("cross-tenant", "/tamper");
    for side in SideKind::BOTH {
        assert_eq!(
            run_attack(&settings, side, cross, tamper).unwrap().verdict,
            Verdict::Contained,
            "{}",
            side.label()
        );
    }
    let _ = std::fs::remove_dir_all(settings.cache_dir.unwrap());
}

#[test]
fn a_child_that_dies_mid_call_is_reported_as_crashed() {
    // A stand-in child that announces its call and then dies by SIGSEGV.
    let dir = std::env::temp_dir().join(format!("bench-suite-crash-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let program = dir.join("crashing-child");
    std::fs::write(&program, "#!/bin/sh\necho 'start 0'\nkill -SEGV $$\n").unwrap();
    std::fs::set_permissions(
        &program,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let settings = IsolationSettings {
        program,
        cache_dir: None,
        ..isolation_settings("crash", 120, 1)
    };
    let (class, plain) = attack("infinite-loops", "/plain");
    // Another test's child forked while the script was open for writing
    // can make exec fail with "Text file busy" for a moment: retry.
    let mut attempts = 0;
    let result = loop {
        match run_attack(&settings, SideKind::Native, class, plain) {
            Err(e) if attempts < 20 && e.to_string().contains("busy") => attempts += 1,
            other => break other.unwrap(),
        }
    };
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(
        result.verdict,
        Verdict::Crashed("signal 11 (SIGSEGV)".into())
    );
}

#[test]
fn every_attack_file_is_a_class_of_the_isolation_section() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/attacks");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    let mut covered: Vec<String> = ATTACK_CLASSES.iter().map(|c| c.file.to_string()).collect();
    covered.sort();
    assert_eq!(files, covered);
}

#[test]
fn the_noisy_neighbour_load_serves_every_well_behaved_call_on_both_sides() {
    let (wasm, native) = sides(Budget::Bext);
    for side in [&wasm as &dyn Side, &native] {
        for noisy in [false, true] {
            let latency = well_behaved_latency(side, 1, noisy).unwrap();
            assert_eq!(
                (latency.calls, latency.failures),
                (noisy::THREADS * noisy::WELL_BEHAVED, 0),
                "{}",
                side.label()
            );
            let noisy_calls = if noisy { noisy::THREADS * 2 } else { 0 };
            assert_eq!(
                (latency.noisy_calls, latency.noisy_stopped),
                (noisy_calls, noisy_calls),
                "{}",
                side.label()
            );
            assert!(
                latency.p50 > 0.0 && latency.p99 >= latency.p50,
                "{}: {latency:?}",
                side.label()
            );
        }
    }
}

/// Actions and response changes the sandbox refuses (`Error::BadEnvelope`):
/// the native baseline, parsing with the host's parser, refuses each too,
/// instead of defaulting a status or dropping a bad header.
#[test]
fn the_native_side_rejects_every_action_the_sandbox_rejects() {
    use bext_lua_bench::tiers::{BenchError, PluginSpec};
    use bext_plugin_api::middleware::ResponseHeaders;
    let (wasm, native) = sides(Budget::Bext);
    let bad_actions = [
        r#"{"action":"respond","response":{"headers":[],"body":"no status"}}"#,
        r#"{"action":"respond","response":{"status":0}}"#,
        r#"{"action":"respond","response":{"status":1000}}"#,
        r#"{"action":"respond","response":{"status":"200"}}"#,
        r#"{"action":"respond","response":{"status":200,"headers":[["bad name","1"]]}}"#,
        r#"{"action":"respond","response":{"status":200,"headers":[["x","a\r\nset-cookie: s=1"]]}}"#,
        r#"{"action":"respond","response":{"status":200,"headers":[["only-a-name"]]}}"#,
        r#"{"action":"respond","response":{"status":200,"body":5}}"#,
        r#"{"action":"respond"}"#,
        r#"{"action":"continue","extensions":{"k":"a\nb"}}"#,
        r#"{"action":"continue","extensions":[1]}"#,
        r#"{"action":"stop"}"#,
        r#"{"extensions":{}}"#,
        r#"[1]"#,
    ];
    let bad_changes = [
        r#"{"status":0}"#,
        r#"{"headers":[["x y","1"]]}"#,
        r#"{"headers":{"x":"a\u0000b"}}"#,
        r#""text""#,
    ];
    let scripts = bad_actions
        .iter()
        .map(|json| format!("return {{ on_request = function(self, ctx) return [==[{json}]==] end }}"))
        .chain(bad_changes.iter().map(|json| {
            format!("return {{ on_request = function() end, on_response = function(self, arg) return [==[{json}]==] end }}")
        }));
    for (i, source) in scripts.enumerate() {
        let spec = PluginSpec::new(format!("strict{i}"), source.as_str(), "{}");
        for side in [&wasm as &dyn Side, &native] {
            let plugin = side.load(&spec).unwrap();
            let mut ctx = request_context(ContextSize::Small, 0);
            let mut response = ResponseHeaders {
                status: 200,
                headers: vec![],
            };
            let result = plugin
                .on_request(&mut ctx)
                .and_then(|_| plugin.on_response(&ctx, &mut response));
            match (side.label(), result) {
                (
                    "wasm",
                    Err(BenchError::Wasm(bext_plugin_lua_wasm::Error::BadEnvelope { .. })),
                )
                | ("native", Err(BenchError::Native { .. })) => {}
                (label, other) => panic!("{label} accepted or mis-typed {source}: {other:?}"),
            }
            assert!(
                ctx.extensions.is_empty(),
                "{}: {source}: extensions applied before the check",
                side.label()
            );
            assert_eq!(response.status, 200, "{}: {source}", side.label());
        }
    }
}
