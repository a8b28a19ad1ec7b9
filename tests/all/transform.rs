//! TransformPlugin through `Arc<dyn TransformPlugin>`: the reference env
//! inliner (examples/plugins/env_inline.lua), conventions, and bad results.

use crate::common::*;
use bext_plugin_api::TransformPlugin;
use bext_plugin_api::transform::TransformContext;
use bext_plugin_lua_wasm::{Error, LuaPlugin, LuaSandboxLimits};
use std::sync::Arc;

fn ctx() -> TransformContext {
    TransformContext {
        node_env: "production".into(),
        env_vars: vec![
            (
                "NEXT_PUBLIC_API".into(),
                "https://api.example/\"v1\"".into(),
            ),
            ("NEXT_PUBLIC_N".into(), "7".into()),
        ],
    }
}

/// A transform whose `matches` returns `matches_expr` and `transform`
/// returns `transform_expr` (Lua expressions over path and source).
fn transform_returning(name: &str, matches_expr: &str, transform_expr: &str) -> LuaPlugin {
    load(
        name,
        &format!(
            "return {{
               matches = function(self, path, source) return {matches_expr} end,
               transform = function(self, source, path, ctx_json) return {transform_expr} end,
             }}"
        ),
    )
    .unwrap()
}

#[test]
fn reference_env_inliner_rewrites_a_source_file() {
    let t: Arc<dyn TransformPlugin> =
        Arc::new(load("env-inline", &example_plugin("env_inline.lua")).unwrap());
    assert_eq!((t.name(), t.priority()), ("env-inline", 1100));
    let source = "const api = process.env.NEXT_PUBLIC_API;\nif (process.env.NODE_ENV !== 'production') debug();\nconst n = process.env.NEXT_PUBLIC_N, secret = process.env.SECRET;\n";
    assert!(t.matches("src/app.tsx", source));
    assert!(!t.matches("src/app.css", source), "not a script");
    assert!(
        !t.matches("node_modules/x/index.js", "process.env.X"),
        "dependencies are left alone"
    );
    assert!(
        !t.matches("src/plain.js", "const a = 1;"),
        "nothing to inline"
    );
    let out = t.transform(source, "src/app.tsx", &ctx()).unwrap();
    assert_eq!(
        out,
        "const api = \"https://api.example/\\\"v1\\\"\";\nif (\"production\" !== 'production') debug();\nconst n = \"7\", secret = process.env.SECRET;\n"
    );
    // Nothing it knows: unchanged (None), through bext.transform_unchanged().
    assert_eq!(t.transform("x = process.env.OTHER", "a.js", &ctx()), None);
}

#[test]
fn transform_gets_source_path_and_context_json() {
    let t = transform_returning(
        "echo-args",
        "true",
        "source .. '|' .. path .. '|' .. ctx_json",
    );
    let out = t.try_transform("src", "dir/f.js", &ctx()).unwrap().unwrap();
    let (head, ctx_json) = out.split_at("src|dir/f.js|".len());
    assert_eq!(head, "src|dir/f.js|");
    let ctx_value: serde_json::Value = serde_json::from_str(ctx_json).unwrap();
    assert_eq!(
        ctx_value,
        serde_json::json!({"node_env": "production", "env_vars": [["NEXT_PUBLIC_API", "https://api.example/\"v1\""], ["NEXT_PUBLIC_N", "7"]]})
    );
}

#[test]
fn unchanged_is_nil_the_helper_or_the_same_source() {
    for expr in ["nil", "bext.transform_unchanged()", "source"] {
        let t = transform_returning("unchanged", "true", expr);
        assert_eq!(
            t.try_transform("same", "a.js", &ctx()).unwrap(),
            None,
            "{expr}"
        );
    }
    let t = transform_returning("changed", "true", "source:upper()");
    assert_eq!(
        t.try_transform("abc", "a.js", &ctx()).unwrap().as_deref(),
        Some("ABC")
    );
}

#[test]
fn matches_reads_booleans_and_the_find_idiom() {
    // booleans as they are, nil false, a string or number (what find/match return) true
    for (expr, want) in [
        ("true", true),
        ("false", false),
        ("nil", false),
        ("path:find('%.js$')", true),
        ("path:match('%.css$')", false),
        ("path:match('%.(js)$')", true),
    ] {
        let t = transform_returning("matcher", expr, "nil");
        assert_eq!(t.try_matches("app.js", "").unwrap(), want, "{expr}");
    }
}

#[test]
fn matches_returning_a_non_boolean_is_a_typed_error() {
    for (expr, found) in [
        ("{}", "a table"),
        ("print", "a function"),
        ("coroutine.create(print)", "a thread"),
    ] {
        let t = transform_returning("bad-matches", expr, "nil");
        match t.try_matches("a.js", "") {
            Err(Error::WrongReturnType {
                plugin,
                method,
                expected,
                found: f,
            }) => {
                assert_eq!(
                    (plugin.as_str(), method.as_str(), expected),
                    ("bad-matches", "matches", "a boolean")
                );
                assert_eq!(f, found);
            }
            other => panic!("{expr}: {other:?}"),
        }
        // The trait cannot return the error: logged, and the file is skipped.
        let dyn_t: Arc<dyn TransformPlugin> = Arc::new(t);
        let logs = capture_logs(|| assert!(!dyn_t.matches("a.js", "")));
        assert!(
            logs.contains("WARN")
                && logs.contains("lua plugin `bad-matches`: matches must return a boolean"),
            "{logs}"
        );
    }
}

#[test]
fn transform_returning_a_number_or_a_table_is_a_typed_error() {
    for (expr, found) in [
        ("42", "a number"),
        ("1.5", "a number"),
        ("true", "a boolean"),
        ("{ source }", "a table"),
    ] {
        let t = transform_returning("bad-transform", "true", expr);
        match t.try_transform("src", "a.js", &ctx()) {
            Err(Error::WrongReturnType {
                method,
                expected,
                found: f,
                ..
            }) => {
                assert_eq!(
                    (method.as_str(), expected),
                    ("transform", "a string or nil")
                );
                assert_eq!(f, found, "{expr}");
            }
            other => panic!("{expr}: {other:?}"),
        }
        let dyn_t: Arc<dyn TransformPlugin> = Arc::new(t.clone());
        assert_eq!(
            dyn_t.transform("src", "a.js", &ctx()),
            None,
            "the trait leaves the file unchanged"
        );
        assert_eq!(t.stats().instances_created, 1, "no trap");
    }
}

#[test]
fn invalid_utf8_from_a_transform_is_a_typed_error() {
    // Rust strings going in are UTF-8; what comes back is checked.
    let t = transform_returning("bad-utf8", "true", "source .. '\\xff\\xfe'");
    match t.try_transform("ok ✓", "a.js", &ctx()) {
        Err(Error::BadEnvelope {
            plugin,
            method,
            message,
        }) => {
            assert_eq!(
                (plugin.as_str(), method.as_str()),
                ("bad-utf8", "transform")
            );
            assert!(message.contains("not valid UTF-8"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    // A multi-byte character cut in half is invalid too; whole ones are fine.
    let t = transform_returning("cut-utf8", "true", "source:sub(1, #source - 1)");
    assert!(matches!(
        t.try_transform("añ", "a.js", &ctx()),
        Err(Error::BadEnvelope { .. })
    ));
    assert_eq!(
        t.try_transform("a✓b", "a.js", &ctx()).unwrap().as_deref(),
        Some("a✓")
    );
}

#[test]
fn a_10_mb_source_works_with_budget_and_fails_typed_without() {
    let source: String = "const x = process.env.NEXT_PUBLIC_N; // filler ✓\n".repeat(200_000);
    assert!(source.len() > 10_000_000);
    // The default budget (72 M fuel) is not enough to rewrite 10 MB with
    // gsub: a typed error, and the plugin carries on in a fresh sandbox.
    let plugin = load("env-inline-10mb", &example_plugin("env_inline.lua")).unwrap();
    assert!(plugin.try_matches("big.js", &source).unwrap());
    match plugin.try_transform(&source, "big.js", &ctx()) {
        Err(Error::OutOfFuel { plugin, method, .. }) => assert_eq!(
            (plugin.as_str(), method.as_str()),
            ("env-inline-10mb", "transform")
        ),
        other => panic!("{:?}", other.map(|o| o.map(|s| s.len()))),
    }
    assert_eq!(
        plugin
            .try_transform("process.env.NODE_ENV", "s.js", &ctx())
            .unwrap()
            .as_deref(),
        Some("\"production\"")
    );
    // With a budget that fits, the 10 MB rewrite completes.
    let limits = LuaSandboxLimits::default()
        .fuel_per_call(0)
        .timeout_ms(30_000);
    let plugin = load_with_limits(
        "env-inline-10mb-unmetered",
        &example_plugin("env_inline.lua"),
        limits,
    );
    let out = plugin
        .try_transform(&source, "big.js", &ctx())
        .unwrap()
        .unwrap();
    assert_eq!(
        out.len(),
        source.len() - 200_000 * ("process.env.NEXT_PUBLIC_N".len() - "\"7\"".len())
    );
    assert!(out.starts_with("const x = \"7\"; // filler ✓\n"));
    // Beyond the payload limit: refused before entering the guest.
    let small = load_with_limits(
        "env-inline-small",
        &example_plugin("env_inline.lua"),
        LuaSandboxLimits::default().max_payload_bytes(1 << 20),
    );
    assert!(matches!(
        small.try_transform(&source, "big.js", &ctx()),
        Err(Error::PayloadTooLarge { .. })
    ));
}

#[test]
fn priority_defaults_to_1000() {
    let t: Arc<dyn TransformPlugin> =
        Arc::new(transform_returning("transform-no-prio", "true", "nil"));
    assert_eq!(t.priority(), 1000);
    let t: Arc<dyn TransformPlugin> =
        Arc::new(load("transform-prio", "return { priority = 450, matches = function() return true end, transform = function() end }").unwrap());
    assert_eq!(t.priority(), 450);
}
