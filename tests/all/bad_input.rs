//! Every kind of bad input gets a typed error naming the plugin and the
//! problem, and leaves the plugin usable.

use crate::common::*;
use bext_plugin_api::MiddlewarePlugin;
use bext_plugin_api::middleware::RequestAction;
use bext_plugin_lua_wasm::{Error, LuaPlugin, LuaSandboxLimits};
use std::sync::Arc;

fn on_request(plugin: &LuaPlugin, path: &str) -> Result<RequestAction, Error> {
    plugin.try_on_request(&mut request("GET", path, &[]))
}

/// A plugin whose on_request returns `expr` (a Lua expression).
fn returning(name: &str, expr: &str) -> LuaPlugin {
    load(
        name,
        &format!("return {{ on_request = function(self, ctx) return {expr} end }}"),
    )
    .unwrap()
}

#[test]
fn syntax_error_at_load_names_plugin_and_line() {
    let err = load(
        "broken",
        "return {\n  on_request = function(self, ctx)\n    return 1 +\n  end\n}",
    )
    .unwrap_err();
    match &err {
        Error::Syntax { plugin, message } => {
            assert_eq!(plugin, "broken");
            assert!(message.starts_with("broken:4:"), "{message}");
            assert!(
                message.contains("unexpected symbol near 'end'"),
                "{message}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(
        err.to_string()
            .contains("lua plugin `broken`: syntax error: broken:4:"),
        "{err}"
    );
    assert!(
        runtime().plugin("broken").is_none(),
        "a failed load registers nothing"
    );
}

#[test]
fn errors_while_running_the_script_and_non_table_results() {
    match load("init-error", "local x = nil\nreturn x.field") {
        Err(Error::ScriptInit {
            plugin,
            message,
            traceback,
        }) => {
            assert_eq!(plugin, "init-error");
            assert!(
                message.contains("init-error:2: attempt to index a nil value (local 'x')"),
                "{message}"
            );
            assert!(traceback.starts_with("stack traceback:"), "{traceback}");
        }
        other => panic!("{other:?}"),
    }
    for (source, found) in [
        ("return 42", "number"),
        ("return 'x'", "string"),
        ("", "nil"),
    ] {
        match load("not-a-table", source) {
            Err(Error::NotATable { found: f, .. }) => assert_eq!(f, found),
            other => panic!("{source}: {other:?}"),
        }
    }
}

#[test]
fn runtime_error_at_call_carries_message_and_traceback() {
    let plugin = load(
        "thrower",
        "local function inner() error('boom') end\nreturn { on_request = function(self, ctx)\n  inner()\nend }",
    )
    .unwrap();
    match on_request(&plugin, "/") {
        Err(Error::Lua {
            plugin,
            method,
            message,
            traceback,
            ..
        }) => {
            assert_eq!(
                (plugin.as_str(), method.as_str()),
                ("thrower", "on_request")
            );
            assert_eq!(message, "thrower:1: boom");
            assert!(
                traceback.contains("in upvalue 'inner'") || traceback.contains("inner"),
                "{traceback}"
            );
        }
        other => panic!("{other:?}"),
    }
    // Non-string error values are described, not lost.
    let plugin = returning("table-thrower", "error({code = 42})");
    match on_request(&plugin, "/") {
        Err(Error::Lua { message, .. }) => assert_eq!(message, "(error object is a table value)"),
        other => panic!("{other:?}"),
    }
    // A Lua error does not discard the sandbox: state survives.
    assert_eq!(plugin.stats().instances_created, 1);
}

#[test]
fn wrong_return_types_are_typed_errors() {
    for (expr, found) in [
        ("42", "a number"),
        ("{}", "a table"),
        ("true", "a boolean"),
        ("print", "a function"),
    ] {
        let plugin = returning("wrong-type", expr);
        match on_request(&plugin, "/") {
            Err(Error::WrongReturnType {
                plugin,
                method,
                expected,
                found: f,
            }) => {
                assert_eq!(
                    (plugin.as_str(), method.as_str()),
                    ("wrong-type", "on_request")
                );
                assert_eq!(expected, "a string or nil");
                assert_eq!(f, found, "{expr}");
            }
            other => panic!("{expr}: {other:?}"),
        }
    }
}

#[test]
fn malformed_envelopes_are_typed_errors() {
    let cases = [
        (r#"bext.middleware_respond('{"status":')"#, "invalid JSON"),
        (
            r#"bext.middleware_respond('{"status":"429"}')"#,
            "status must be an integer",
        ),
        (
            r#"bext.middleware_respond('{"status":42}')"#,
            "status must be an integer from 100 to 999",
        ),
        (
            r#"bext.middleware_respond('{"headers":[]}')"#,
            "needs a status",
        ),
        (
            r#"bext.middleware_respond('{"status":200,"headers":[["a"]]}')"#,
            "[name, value] pair",
        ),
        (
            r#"bext.middleware_respond('{"status":200,"body":7}')"#,
            "body must be a string",
        ),
        (
            r#"bext.middleware_respond('[1,2]')"#,
            "must be a JSON object",
        ),
        (r#"'{"action":"explode"}'"#, "unknown action `explode`"),
        (r#"'not json at all'"#, "invalid JSON"),
        (r#"'"a json string"'"#, "expected a JSON object"),
        (
            r#"bext.middleware_continue('[1]')"#,
            "extensions must be a JSON object",
        ),
        (r#""\xff\xfe""#, "not valid UTF-8"),
    ];
    for (expr, expected) in cases {
        let plugin = returning("bad-envelope", expr);
        let err = on_request(&plugin, "/").unwrap_err();
        match &err {
            Error::BadEnvelope {
                plugin, message, ..
            } => {
                assert_eq!(plugin, "bad-envelope");
                assert!(message.contains(expected), "{expr}: {message}");
            }
            other => panic!("{expr}: {other:?}"),
        }
        // The trait method reports the same, naming the plugin.
        let text =
            MiddlewarePlugin::on_request(&plugin, &mut request("GET", "/", &[])).unwrap_err();
        assert!(text.starts_with("lua plugin `bad-envelope`"), "{text}");
    }
}

#[test]
fn missing_method_is_a_typed_error() {
    let plugin = load("no-methods", "return { helper = function() end }").unwrap();
    match on_request(&plugin, "/") {
        Err(Error::MissingMethod { plugin, method }) => assert_eq!(
            (plugin.as_str(), method.as_str()),
            ("no-methods", "on_request")
        ),
        other => panic!("{other:?}"),
    }
    // on_response has a natural default: unchanged.
    let mut response = bext_plugin_api::middleware::ResponseHeaders {
        status: 204,
        headers: vec![],
    };
    plugin
        .try_on_response(&request("GET", "/", &[]), &mut response)
        .unwrap();
    assert_eq!(response.status, 204);
}

#[test]
fn oversized_payloads_are_refused_in_both_directions() {
    let limits = LuaSandboxLimits::default().max_payload_bytes(4096);
    let plugin = load_with_limits(
        "small-payloads",
        "return { on_request = function(self, ctx) if ctx:find('/big', 1, true) then return string.rep('x', 10000) end end }",
        limits,
    );
    let big_header = "v".repeat(5000);
    match plugin.try_on_request(&mut request("GET", "/", &[("x-big", &big_header)])) {
        Err(Error::PayloadTooLarge {
            limit: 4096, bytes, ..
        }) => assert!(bytes > 5000),
        other => panic!("{other:?}"),
    }
    match on_request(&plugin, "/big") {
        Err(Error::PayloadTooLarge {
            limit: 4096,
            bytes: 10000,
            ..
        }) => {}
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        on_request(&plugin, "/"),
        Ok(RequestAction::Continue)
    ));
}

#[test]
fn bad_arguments_to_bext_functions_are_lua_errors() {
    let cases = [
        ("bext.log('loud', 'x')", "invalid option 'loud'"),
        ("bext.log('info')", "bad argument #2 to 'log'"),
        (
            "bext.emit_metric('m', 1, 'not json')",
            "tags_json must be a JSON object",
        ),
        (
            "bext.emit_metric('m', 'one')",
            "bad argument #2 to 'emit_metric'",
        ),
        (
            "bext.middleware_respond({})",
            "bad argument #1 to 'middleware_respond'",
        ),
        (
            "load(string.char(27) .. 'Lua', 'x', 'b')",
            "binary chunks are not allowed",
        ),
    ];
    for (stmt, expected) in cases {
        let plugin = load(
            "bad-args",
            &format!("return {{ on_request = function(self, ctx) {stmt} end }}"),
        )
        .unwrap();
        match on_request(&plugin, "/") {
            Err(Error::Lua { message, .. }) => {
                assert!(message.contains(expected), "{stmt}: {message}")
            }
            other => panic!("{stmt}: {other:?}"),
        }
    }
}

/// A manifest declaring `capabilities` (and optionally `provides_capabilities`).
fn manifest_declaring(
    name: &str,
    capabilities: &[&str],
    provides: &[&str],
) -> bext_plugin_api::types::PluginManifest {
    serde_json::from_value(serde_json::json!({
        "name": name, "version": "1.0.0", "capabilities": capabilities, "provides_capabilities": provides
    }))
    .unwrap()
}

fn load_declaring(
    name: &str,
    source: &str,
    capabilities: &[&str],
    provides: &[&str],
) -> Result<LuaPlugin, Error> {
    runtime().load_plugin(bext_plugin_lua_wasm::LuaPluginConfig::new(
        name,
        manifest_declaring(name, capabilities, provides),
        source,
    ))
}

#[test]
fn a_manifest_claiming_methods_the_script_lacks_fails_to_load() {
    let cases: [(&str, &[&str], &[&str], &str); 4] = [
        (
            "return { set = function() end, delete = function() end }",
            &["cache_backend"],
            &[],
            "the manifest claims the cache_backend capability but the script defines no `get`, `invalidate_tag`, `invalidate_path`",
        ),
        (
            "return { on_request = function() end }",
            &[],
            &["transform"],
            "claims the transform capability but the script defines no `matches`, `transform`",
        ),
        (
            "return { helper = function() end }",
            &["lifecycle"],
            &[],
            "claims the lifecycle capability but the script defines none of on_server_start, on_server_stop",
        ),
        (
            "return { matches = function() end }",
            &["middleware", "transform"],
            &[],
            "claims the middleware capability but the script defines no `on_request`; it claims the transform capability but the script defines no `transform`",
        ),
    ];
    for (source, capabilities, provides, expected) in cases {
        match load_declaring("claims-too-much", source, capabilities, provides) {
            Err(Error::CapabilityMismatch { plugin, message }) => {
                assert_eq!(plugin, "claims-too-much");
                assert!(message.contains(expected), "{source}: {message}");
            }
            other => panic!("{source}: {other:?}"),
        }
    }
    assert!(
        runtime().plugin("claims-too-much").is_none(),
        "a failed load registers nothing"
    );
    // Methods inherited through __index count (class-style plugins).
    let class_style = r#"local Cache = {}
        Cache.__index = Cache
        function Cache:get(key) return nil end
        function Cache:set() end
        function Cache:delete() return false end
        function Cache:invalidate_tag() return 0 end
        function Cache:invalidate_path() return 0 end
        return setmetatable({ prefix = "x" }, Cache)"#;
    let plugin = load_declaring("class-cache", class_style, &["cache_backend"], &[]).unwrap();
    assert!(plugin.has_method("invalidate_path"));
    assert_eq!(plugin.try_invalidate_tag("t").unwrap(), 0);
    // The extended capabilities (issue 4) are checked too.
    let err = load_declaring(
        "auth-claim",
        "return { on_request = function() end }",
        &["middleware", "auth"],
        &[],
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "lua plugin `auth-claim`: the manifest claims the auth capability but the script defines no `provider_kind`, `resolve`"
    );
}

#[test]
fn calling_a_capability_the_manifest_does_not_declare_is_a_typed_error() {
    use bext_plugin_api::types::PluginCapability;
    use bext_plugin_api::{CacheBackend, LifecyclePlugin, TransformPlugin};
    // Defines everything, declares only middleware.
    let source = "return { on_request = function() end, get = function() end, set = function() end,
                  delete = function() return true end, invalidate_tag = function() return 1 end,
                  invalidate_path = function() return 1 end, matches = function() return true end,
                  transform = function() return 'new' end, on_reload = function() end }";
    let plugin = load_declaring("middleware-only", source, &["middleware"], &[]).unwrap();
    assert!(plugin.try_on_request(&mut request("GET", "/", &[])).is_ok());
    let not_provided = |result: Result<(), Error>, capability: &str| match result {
        Err(Error::CapabilityNotProvided {
            plugin,
            capability: c,
        }) => {
            assert_eq!(
                (plugin.as_str(), c.as_str()),
                ("middleware-only", capability)
            )
        }
        other => panic!("{capability}: {other:?}"),
    };
    not_provided(plugin.try_cache_get("/k").map(drop), "cache_backend");
    not_provided(plugin.try_invalidate_path("/*").map(drop), "cache_backend");
    not_provided(plugin.try_matches("a.js", "").map(drop), "transform");
    not_provided(
        plugin.try_lifecycle(bext_plugin_lua_wasm::LifecycleHook::Reload),
        "lifecycle",
    );
    assert_eq!(
        plugin.stats().calls,
        1,
        "refused before entering the sandbox"
    );
    // Through the traits: errors where the trait has them, safe values where not.
    let cache: Arc<dyn CacheBackend> = Arc::new(plugin.clone());
    assert_eq!(
        cache.delete("/k").unwrap_err(),
        "lua plugin `middleware-only`: the plugin does not provide the cache_backend capability"
    );
    assert!(!cache.is_healthy());
    let transform: Arc<dyn TransformPlugin> = Arc::new(plugin.clone());
    assert!(!transform.matches("a.js", ""));
    assert_eq!(
        transform.transform(
            "x",
            "a.js",
            &bext_plugin_api::transform::TransformContext {
                node_env: "p".into(),
                env_vars: vec![]
            }
        ),
        None
    );
    let hooks: Arc<dyn LifecyclePlugin> = Arc::new(plugin.clone());
    assert!(
        hooks
            .on_reload()
            .unwrap_err()
            .contains("does not provide the lifecycle capability")
    );
    // What the plugin provides, for a server sorting plugins into registries.
    assert!(plugin.provides(PluginCapability::Middleware));
    assert!(!plugin.provides(PluginCapability::CacheBackend));
    // A manifest that declares nothing gates nothing; provides() is inferred.
    let undeclared = load("undeclared", source).unwrap();
    assert_eq!(undeclared.try_invalidate_tag("t").unwrap(), 1);
    for capability in [
        PluginCapability::Middleware,
        PluginCapability::CacheBackend,
        PluginCapability::Transform,
        PluginCapability::Lifecycle,
    ] {
        assert!(undeclared.provides(capability), "{capability:?}");
    }
    assert!(
        !undeclared.provides(PluginCapability::Auth),
        "no provider_kind or resolve"
    );
    let middleware_only = load("inferred", "return { on_request = function() end }").unwrap();
    assert!(!middleware_only.provides(PluginCapability::CacheBackend));
}
