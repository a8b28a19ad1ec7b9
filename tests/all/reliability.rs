//! Faults an outside round of hostile tests found (issue 19), each class
//! with its siblings: host callbacks that panic, embedder settings that
//! cannot work, method names that forge capabilities, error codes read from
//! text a script does not control, lenient parsing of script results, host
//! memory amplified before a limit is checked, and what reload and
//! lifecycle hooks do with quarantine and large returns.

use crate::common::*;
use bext_plugin_api::auth::{AuthProviderKind, AuthRequestContext, LoginAction, LoginParams};
use bext_plugin_api::mailer::{Address, Attachment, MailerError, Message};
use bext_plugin_api::middleware::RequestAction;
use bext_plugin_api::session::{SessionError, SessionId};
use bext_plugin_api::storage::{PresignOp, StorageError};
use bext_plugin_api::tracer::{SpanHandle, SpanKind, SpanStart};
use bext_plugin_api::types::PluginCapability;
use bext_plugin_api::{
    AuthPlugin, LifecyclePlugin, MailerPlugin, ScheduledPlugin, SessionPlugin, StorageClientPlugin,
    TracerPlugin,
};
use bext_plugin_lua_wasm::{
    Error, LuaPlugin, LuaPluginConfig, LuaPluginRuntime, LuaRuntimeConfig, LuaSandboxLimits,
    MetricsSink, PoolConfig, PoolingLimits,
};
use std::sync::Arc;

fn load_declaring(name: &str, source: &str, capabilities: &[&str]) -> Result<LuaPlugin, Error> {
    let manifest = serde_json::from_value(serde_json::json!({
        "name": name, "version": "1.0.0", "capabilities": capabilities
    }))
    .unwrap();
    runtime().load_plugin(LuaPluginConfig::new(name, manifest, source))
}

// ---------------------------------------------------------------- 1. panics in host functions

/// A sink with the embedder's bug: it panics on one metric name.
struct PanicsOnBoom;

impl MetricsSink for PanicsOnBoom {
    fn emit(&self, _plugin: &str, name: &str, _value: f64, _tags: &[(String, String)]) {
        if name == "boom" {
            panic!("the embedder's sink cannot handle `boom`");
        }
    }
}

/// The script picks the metric name from the path; `/pcall-NAME` emits it
/// under `pcall`, which must not catch the contained panic either.
const EMITTER: &str = r#"return { on_request = function(self, ctx)
  local name = ctx:match('"path":"/([^"]*)"')
  if name:sub(1, 6) == "pcall-" then
    pcall(bext.emit_metric, name:sub(7), 1)
  else
    bext.emit_metric(name, 1)
  end
  bext.log("info", name)
  return bext.middleware_continue()
end }"#;

#[test]
fn a_panicking_metrics_sink_is_contained_and_its_sandbox_discarded() {
    let rt =
        LuaPluginRuntime::with_config(LuaRuntimeConfig::default().metrics(Arc::new(PanicsOnBoom)))
            .unwrap();
    // Quarantine off: every call must reach the sink, the worst case.
    let limits = LuaSandboxLimits::default().quarantine_after_traps(0);
    let plugin = rt
        .load_plugin(
            LuaPluginConfig::new("panicky-metrics", manifest("panicky-metrics"), EMITTER)
                .limits(limits),
        )
        .unwrap();
    const PANICS: u64 = 150; // the reported failure came after about 100
    for i in 0..PANICS {
        let path = if i % 2 == 0 { "/boom" } else { "/pcall-boom" };
        match plugin.try_on_request(&mut request("GET", path, &[])) {
            Err(e @ Error::HostPanic { .. }) => {
                let Error::HostPanic {
                    ref plugin,
                    ref method,
                    import,
                    ref message,
                } = e
                else {
                    unreachable!()
                };
                assert_eq!(
                    (plugin.as_str(), method.as_str(), import),
                    ("panicky-metrics", "on_request", "bext.metric")
                );
                assert!(message.contains("cannot handle `boom`"), "{message}");
                assert!(e.is_trap() && e.to_string().contains("bext.metric"), "{e}");
            }
            other => panic!("call {i} ({path}): {other:?}"),
        }
    }
    // Every sandbox a panic ran in was thrown away, none went back to the pool.
    assert_eq!(plugin.pool().stats().discarded_after_trap, PANICS);
    assert_eq!(plugin.stats().traps, PANICS);
    for _ in 0..3 {
        assert!(matches!(
            plugin.try_on_request(&mut request("GET", "/fine", &[])),
            Ok(RequestAction::Continue)
        ));
    }
    // A neighbour of the same runtime never noticed.
    let other = rt
        .load_plugin(LuaPluginConfig::new("calm", manifest("calm"), EMITTER))
        .unwrap();
    assert!(matches!(
        other.try_on_request(&mut request("GET", "/calm", &[])),
        Ok(RequestAction::Continue)
    ));
}

/// A tracing subscriber (the embedder's) that panics on one log line: the
/// sibling path through `bext.log`, `print` and the event imports.
struct PanicsOnBoomLine;

impl tracing::Subscriber for PanicsOnBoomLine {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        struct Find(bool);
        impl tracing::field::Visit for Find {
            fn record_debug(&mut self, _: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                self.0 |= format!("{value:?}").contains("boom");
            }
        }
        let mut found = Find(false);
        event.record(&mut found);
        if found.0 {
            panic!("the embedder's subscriber cannot handle `boom`");
        }
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

#[test]
fn a_panicking_log_subscriber_is_contained_at_every_logging_import() {
    let script = r#"return { on_request = function(self, ctx)
      local how = ctx:match('"path":"/([^"]*)"')
      if how == "log" then bext.log("warn", "boom")
      elseif how == "print" then print("boom")
      elseif how == "event" then bext.cache_event("hit", "boom")
      end
      return bext.middleware_continue()
    end }"#;
    let plugin = load_with_limits(
        "panicky-log",
        script,
        LuaSandboxLimits::default().quarantine_after_traps(0),
    );
    tracing::subscriber::with_default(PanicsOnBoomLine, || {
        for (path, import) in [
            ("/log", "bext.log"),
            ("/print", "bext.log"),
            ("/event", "bext.event"),
        ] {
            for _ in 0..3 {
                match plugin.try_on_request(&mut request("GET", path, &[])) {
                    Err(Error::HostPanic { import: got, .. }) => assert_eq!(got, import, "{path}"),
                    other => panic!("{path}: {other:?}"),
                }
            }
        }
        assert!(matches!(
            plugin.try_on_request(&mut request("GET", "/quiet", &[])),
            Ok(RequestAction::Continue)
        ));
    });
    assert_eq!(plugin.pool().stats().discarded_after_trap, 9);
}

// ---------------------------------------------------------------- 2. embedder settings

#[test]
fn settings_that_cannot_work_are_typed_errors_at_build_and_load() {
    let ok = "return { on_request = function(self, ctx) return bext.middleware_continue() end }";
    let load_with = |name: &str, limits: LuaSandboxLimits, pool: PoolConfig| {
        runtime().load_plugin(
            LuaPluginConfig::new(name, manifest(name), ok)
                .limits(limits)
                .pool(pool),
        )
    };
    let setting_of = |result: Result<LuaPlugin, Error>, name: &str| match result {
        Err(Error::InvalidConfig {
            plugin,
            setting,
            reason,
        }) => {
            assert_eq!(plugin.as_deref(), Some(name));
            assert!(!reason.is_empty());
            setting
        }
        other => panic!("{name}: {other:?}"),
    };
    // The reported case: `size(usize::MAX)` built sandboxes without bound.
    let huge = load_with(
        "pool-huge",
        LuaSandboxLimits::default(),
        PoolConfig::default().size(usize::MAX),
    );
    assert_eq!(setting_of(huge, "pool-huge"), "PoolConfig::max_size");
    let mut inverted = PoolConfig::default().max_size(2);
    inverted.size = 3;
    assert_eq!(
        setting_of(
            load_with("pool-inverted", LuaSandboxLimits::default(), inverted),
            "pool-inverted"
        ),
        "PoolConfig::size"
    );
    let mut empty = PoolConfig::default();
    (empty.size, empty.max_size) = (0, 0);
    assert_eq!(
        setting_of(
            load_with("pool-empty", LuaSandboxLimits::default(), empty),
            "pool-empty"
        ),
        "PoolConfig::max_size"
    );
    let cases: [(&str, LuaSandboxLimits, &str); 6] = [
        (
            "heap-zero",
            LuaSandboxLimits::default().max_heap_bytes(0),
            "LuaSandboxLimits::max_heap_bytes",
        ),
        (
            "heap-64k",
            LuaSandboxLimits::default().max_heap_bytes(64 << 10),
            "LuaSandboxLimits::max_heap_bytes",
        ),
        (
            "heap-huge",
            LuaSandboxLimits::default().max_heap_bytes(usize::MAX),
            "LuaSandboxLimits::max_heap_bytes",
        ),
        (
            "timeout-zero",
            LuaSandboxLimits::default().timeout_ms(0),
            "LuaSandboxLimits::timeout_ms",
        ),
        (
            "payload-zero",
            LuaSandboxLimits::default().max_payload_bytes(0),
            "LuaSandboxLimits::max_payload_bytes",
        ),
        (
            "quarantine-zero",
            LuaSandboxLimits::default().quarantine_ms(0),
            "LuaSandboxLimits::quarantine_ms",
        ),
    ];
    for (name, limits, setting) in cases {
        assert_eq!(
            setting_of(load_with(name, limits, PoolConfig::default()), name),
            setting
        );
    }
    // Nothing half-loaded was registered.
    assert!(runtime().plugin("pool-huge").is_none());

    // Engine-wide settings fail the build.
    let build = |config: LuaRuntimeConfig| match LuaPluginRuntime::with_config(config) {
        Err(Error::InvalidConfig {
            plugin: None,
            setting,
            ..
        }) => setting,
        other => panic!("{:?}", other.map(|_| "a runtime")),
    };
    let mut c = LuaRuntimeConfig::default();
    c.max_wasm_stack_bytes = 0;
    assert_eq!(build(c), "LuaRuntimeConfig::max_wasm_stack_bytes");
    let mut c = LuaRuntimeConfig::default();
    c.max_wasm_stack_bytes = usize::MAX;
    assert_eq!(build(c), "LuaRuntimeConfig::max_wasm_stack_bytes");
    let mut c = LuaRuntimeConfig::default();
    c.epoch_tick_ms = 0;
    assert_eq!(build(c), "LuaRuntimeConfig::epoch_tick_ms");
    assert_eq!(
        build(LuaRuntimeConfig::default().pooling(PoolingLimits::default().max_instances(0))),
        "PoolingLimits::max_instances"
    );
    assert_eq!(
        build(
            LuaRuntimeConfig::default().pooling(PoolingLimits::default().max_instances(u32::MAX))
        ),
        "PoolingLimits::max_instances"
    );
    assert_eq!(
        build(LuaRuntimeConfig::default().pooling(PoolingLimits::default().max_heap_bytes(0))),
        "PoolingLimits::max_heap_bytes"
    );

    // A pool cannot outgrow the pooling allocator's slots.
    let pooled = LuaPluginRuntime::with_config(
        LuaRuntimeConfig::default().pooling(PoolingLimits::default().max_instances(4)),
    )
    .unwrap();
    let result = pooled.load_plugin(
        LuaPluginConfig::new("slots", manifest("slots"), ok)
            .pool(PoolConfig::default().max_size(5)),
    );
    assert_eq!(setting_of(result, "slots"), "PoolConfig::max_size");
    let fits = pooled.load_plugin(
        LuaPluginConfig::new("slots", manifest("slots"), ok)
            .pool(PoolConfig::default().max_size(4).size(2)),
    );
    assert!(matches!(
        fits.unwrap().try_on_request(&mut request("GET", "/", &[])),
        Ok(RequestAction::Continue)
    ));
}

// ---------------------------------------------------------------- 3. forged method names

#[test]
fn a_key_cannot_forge_method_names() {
    // One function stored under a key holding the cache methods' names.
    let forged = r#"local t = { on_request = function() end }
      t["get\nset\ndelete\ninvalidate_tag\ninvalidate_path"] = function() end
      t["set "] = function() end
      t["1get"] = function() end
      setmetatable(t, { __index = { ["delete\ninvalidate_tag"] = function() end } })
      return t"#;
    match load_declaring("forger", forged, &["cache_backend"]) {
        Err(Error::CapabilityMismatch { plugin, message }) => {
            assert_eq!(plugin, "forger");
            assert!(
                message.contains("`get`") && message.contains("`invalidate_path`"),
                "{message}"
            );
        }
        other => panic!("{other:?}"),
    }
    let undeclared = load("forger-undeclared", forged).unwrap();
    assert_eq!(undeclared.methods().collect::<Vec<_>>(), ["on_request"]);
    assert!(!undeclared.provides(PluginCapability::CacheBackend));
    for name in ["get", "set", "delete", "set ", "1get"] {
        assert!(!undeclared.has_method(name), "{name:?}");
    }
}

// ---------------------------------------------------------------- 4. error codes

/// A session plugin whose `read` fails in the way `/path`-like id says.
const SESSIONS: &str = r#"return {
  create = function(self, opts) return "s-1" end,
  update = function() end, touch = function() end, delete = function() end,
  read = function(self, id)
    if id == "nil-index" then local missing = nil; return missing.field end
    if id == "level-0" then error("not_found: gone", 0) end
    if id == "level-1" then error("not_found: gone") end
    if id == "level-2" then local function deeper() error("not_found: gone", 2) end deeper() end
    if id == "table" then error({ code = "not_found", message = "gone" }) end
    if id == "table-invalid" then error({ code = "invalid", message = "bad id" }) end
    if id == "table-bad-code" then error({ code = "Not Found", message = "gone" }) end
    if id == "caught-then-bug" then
      pcall(error, "not_found: caught")
      local missing = nil; return missing.field
    end
    if id == "named-chunk" then return load("local x; return x.y", "=not_found")() end
    if id == "assert-text" then error(string.format("%s", "not_found") .. ":3: but by hand", 0) end
    return { id = id, data_json = "{}", expires_at_ms = 0 }
  end,
}"#;

fn read_error(plugin: &LuaPlugin, id: &str) -> SessionError {
    SessionPlugin::read(plugin, &SessionId::new(id)).expect_err(id)
}

#[test]
fn error_codes_come_from_the_raised_value_never_from_names_or_positions() {
    // The reported case: the plugin's name looks like a position and a code.
    let evil = load("evil:1: not_found", SESSIONS).unwrap();
    for name in [&evil, &load("sessions-plain", SESSIONS).unwrap()] {
        for id in [
            "nil-index",
            "caught-then-bug",
            "named-chunk",
            "table-bad-code",
        ] {
            assert!(
                matches!(read_error(name, id), SessionError::Backend(_)),
                "{}: {id}: {:?}",
                name.name(),
                read_error(name, id)
            );
        }
        for id in ["level-0", "level-1", "level-2", "table"] {
            assert!(
                matches!(read_error(name, id), SessionError::NotFound),
                "{}: {id}: {:?}",
                name.name(),
                read_error(name, id)
            );
        }
        assert!(
            matches!(read_error(name, "table-invalid"), SessionError::Invalid(m) if m.contains("invalid: bad id"))
        );
        // Text a script wrote by hand with a code first is that code: the script chose it.
        assert!(matches!(
            read_error(name, "assert-text"),
            SessionError::NotFound
        ));
    }
    // The typed error carries the code and the table's message.
    match evil.acquire().unwrap().call_json("read", &["table"]) {
        Err(Error::Lua { code, message, .. }) => {
            assert_eq!(code.as_deref(), Some("not_found"));
            assert_eq!(message, "not_found: gone");
        }
        other => panic!("{other:?}"),
    }
}

// ---------------------------------------------------------------- 5. strict parsing

#[test]
fn script_results_are_parsed_strictly() {
    let tracer = load(
        "strict-tracer",
        r#"local ids = {
          plus = { trace_id = ("+f"):rep(16), span_id = ("+f"):rep(8) },
          upper = { trace_id = ("AB"):rep(16), span_id = ("CD"):rep(8) },
          space = { trace_id = (" f"):rep(16), span_id = ("ab"):rep(8) },
          good = { trace_id = ("ab"):rep(16), span_id = ("0f"):rep(8) },
        }
        return {
          start_span = function(self, span) return ids[bext.json.decode(span).name] end,
          set_attribute = function() end, set_status = function() end, add_event = function() end,
          end_span = function() end, flush = function() end,
        }"#,
    )
    .unwrap();
    let start = |name: &'static str| {
        TracerPlugin::start_span(
            &tracer,
            SpanStart {
                name,
                kind: SpanKind::Internal,
                ..Default::default()
            },
        )
    };
    for bad in ["plus", "upper", "space"] {
        assert_eq!(start(bad), SpanHandle::INVALID, "{bad}");
    }
    assert_eq!(
        start("good"),
        SpanHandle {
            trace_id: [0xab; 16],
            span_id: [0x0f; 8]
        }
    );

    let storage = load(
        "strict-storage",
        r#"return {
          get = function() end, put = function() end, delete = function() end, list_page = function() end,
          presigned_url = function(self, key) return ({
            ok = "https://objects.example.com/a?x=1",
            js = "javascript:alert(1)",
            crlf = "https://objects.example.com/a\r\nSet-Cookie: x=1",
            space = "https://objects.example.com/a b",
            bare = "https://",
            path = "/a",
          })[key] end,
        }"#,
    )
    .unwrap();
    assert_eq!(
        storage.presigned_url("ok", PresignOp::Get, 60).unwrap(),
        "https://objects.example.com/a?x=1"
    );
    for bad in ["js", "crlf", "space", "bare", "path"] {
        match storage.presigned_url(bad, PresignOp::Get, 60) {
            Err(StorageError::Backend(m)) => assert!(
                m.contains("strict-storage") && m.contains("presigned_url"),
                "{m}"
            ),
            other => panic!("{bad}: {other:?}"),
        }
    }

    let auth = load(
        "strict-auth",
        r#"return {
          provider_kind = function() return '"password"' end,
          resolve = function() end,
          begin_login = function(self, ctx, params)
            return { action = "redirect", url = bext.json.decode(params).return_to }
          end,
        }"#,
    )
    .unwrap();
    // A JSON scalar inside a string is not the scalar: logged, the default.
    assert_eq!(auth.provider_kind(), AuthProviderKind::Token);
    let ctx = AuthRequestContext {
        method: "GET".into(),
        path: "/login".into(),
        hostname: "example.com".into(),
        headers: vec![],
        query_string: String::new(),
        peer_ip: None,
        tenant_id: None,
        site_id: None,
        session_id: None,
    };
    let login = |to: &str| {
        auth.begin_login(
            &ctx,
            LoginParams {
                return_to: Some(to.into()),
                inputs: Default::default(),
            },
        )
    };
    assert!(
        matches!(login("/account?tab=1"), Ok(LoginAction::Redirect { url }) if url == "/account?tab=1")
    );
    assert!(matches!(
        login("https://id.example.com/x"),
        Ok(LoginAction::Redirect { .. })
    ));
    for bad in [
        "javascript:alert(1)",
        "/a\r\nSet-Cookie: x",
        "relative/path",
        "",
    ] {
        assert!(login(bad).is_err(), "{bad:?}");
    }
}

// ---------------------------------------------------------------- 6. memory amplification

const MAILER: &str = r#"return { send = function(self, msg) return { id = "m-" .. #msg } end }"#;

/// The process's peak resident set (`VmHWM`) in bytes.
fn peak_rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kb = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .expect("VmHWM in /proc/self/status");
    kb.trim()
        .trim_end_matches("kB")
        .trim()
        .parse::<u64>()
        .unwrap()
        * 1024
}

fn attachment_message(bytes: usize) -> Message {
    Message {
        from: Address::new("a@example.com"),
        to: vec![Address::new("b@example.com")],
        subject: "big".into(),
        attachments: vec![Attachment {
            filename: "big.bin".into(),
            content_type: "application/octet-stream".into(),
            bytes: vec![200; bytes],
            content_id: None,
        }],
        ..Default::default()
    }
}

/// The child's side: a 12 MiB attachment is refused with `PayloadTooLarge`
/// and costs the host at most a small multiple of `max_payload_bytes`.
fn refuse_a_large_attachment_and_report_the_peak() {
    let plugin = load("amplified-mailer", MAILER).unwrap();
    // Warm up: one small send, so the baseline holds a ready sandbox.
    assert!(plugin.send(attachment_message(1000)).is_ok());
    let message = attachment_message(12 << 20);
    let before = peak_rss_bytes();
    match plugin.send(message) {
        Err(MailerError::Unknown(m)) => assert!(m.contains("exceeds the limit"), "{m}"),
        other => panic!("{other:?}"),
    }
    let grown = peak_rss_bytes().saturating_sub(before);
    println!("PEAK_GROWTH {grown}");
}

#[test]
fn a_refused_payload_costs_the_host_a_small_multiple_of_the_limit() {
    const CHILD: &str = "BEXT_AMPLIFICATION_CHILD";
    if std::env::var_os(CHILD).is_some() {
        refuse_a_large_attachment_and_report_the_peak();
        return;
    }
    // In a child process: the peak RSS of this one would include whatever
    // the tests running beside it allocate.
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "reliability::a_refused_payload_costs_the_host_a_small_multiple_of_the_limit",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let grown: u64 = stdout
        .lines()
        .find_map(|l| l.split_once("PEAK_GROWTH ").map(|(_, figure)| figure))
        .unwrap_or_else(|| panic!("the child printed no figure: {stdout}"))
        .trim()
        .parse()
        .unwrap();
    let limit = LuaSandboxLimits::default().max_payload_bytes as u64;
    println!(
        "a refused 12 MiB attachment raised the peak RSS by {} KiB (limit {} KiB)",
        grown >> 10,
        limit >> 10
    );
    // Before the fix: about 484 MiB (a JSON value per attachment byte).
    assert!(
        grown <= 4 * limit,
        "{grown} bytes of host memory for a payload refused at {limit}"
    );
}

#[test]
fn oversized_json_results_are_refused_before_they_are_parsed() {
    // A 2 MB result of tiny JSON values: some 1M values, 48+ MB as a tree,
    // while the payload limit is 4 MB.
    let plugin = load_with_limits(
        "json-bomb",
        r#"return {
          schedules = function() return "[" .. ("0,"):rep(1000000) .. "0]" end,
          run = function() end,
        }"#,
        LuaSandboxLimits::default().max_payload_bytes(4 << 20),
    );
    match ScheduledPlugin::schedules(&plugin) {
        Err(m) => assert!(
            m.contains("json-bomb") && m.contains("exceeds the limit"),
            "{m}"
        ),
        other => panic!("{other:?}"),
    }
}

// ---------------------------------------------------------------- 8. reload, lifecycle returns

#[test]
fn reloading_a_quarantined_plugin_starts_it_with_a_clean_record() {
    let looping = "return { on_request = function(self, ctx) while true do end end }";
    let limits = LuaSandboxLimits::default()
        .fuel_per_call(1_000_000)
        .quarantine_after_traps(2)
        .quarantine_ms(600_000);
    let config = |source: &str| {
        LuaPluginConfig::new("reload-quarantined", manifest("reload-quarantined"), source)
            .limits(limits.clone())
    };
    let old = runtime().load_plugin(config(looping)).unwrap();
    for _ in 0..2 {
        assert!(matches!(
            old.try_on_request(&mut request("GET", "/", &[])),
            Err(Error::OutOfFuel { .. })
        ));
    }
    assert!(matches!(
        old.try_on_request(&mut request("GET", "/", &[])),
        Err(Error::Quarantined { .. })
    ));
    // The fixed version is a new plugin: its quarantine starts empty.
    let fixed = "return { on_request = function(self, ctx) return bext.middleware_continue() end }";
    let new = runtime().load_plugin(config(fixed)).unwrap();
    assert!(matches!(
        new.try_on_request(&mut request("GET", "/", &[])),
        Ok(RequestAction::Continue)
    ));
    assert!(matches!(
        runtime()
            .plugin("reload-quarantined")
            .unwrap()
            .try_on_request(&mut request("GET", "/", &[])),
        Ok(RequestAction::Continue)
    ));
    // A handle to the old version keeps the old record.
    assert!(matches!(
        old.try_on_request(&mut request("GET", "/", &[])),
        Err(Error::Quarantined { .. })
    ));
    // Reloading the same broken code starts clean too, and is quarantined again by its own traps.
    let again = runtime().load_plugin(config(looping)).unwrap();
    for _ in 0..2 {
        assert!(matches!(
            again.try_on_request(&mut request("GET", "/", &[])),
            Err(Error::OutOfFuel { .. })
        ));
    }
    assert!(matches!(
        again.try_on_request(&mut request("GET", "/", &[])),
        Err(Error::Quarantined { .. })
    ));
}

#[test]
fn lifecycle_returns_are_ignored_within_the_payload_limit() {
    // No fuel limit: copying 20 MiB in wasm costs more than a default budget.
    let plugin = load_with_limits(
        "lifecycle-returns",
        r#"return {
          on_server_start = function(self, config) return { ignored = true } end,
          on_reload = function(self) return 42 end,
          cleanup = function(self) return ("x"):rep(20 << 20) end,
        }"#,
        LuaSandboxLimits::default()
            .fuel_per_call(0)
            .timeout_ms(60_000),
    );
    assert!(plugin.on_server_start("{}").is_ok());
    assert!(plugin.on_reload().is_ok());
    // Ignored, but like every value leaving a sandbox it is bounded: the
    // host copies it out before it knows the hook's result is not needed.
    match plugin.try_lifecycle(bext_plugin_lua_wasm::LifecycleHook::Cleanup) {
        Err(Error::PayloadTooLarge {
            method,
            bytes,
            limit,
            ..
        }) => {
            assert_eq!(
                (method.as_str(), bytes, limit),
                ("cleanup", 20 << 20, 16 << 20)
            );
        }
        other => panic!("{other:?}"),
    }
}
