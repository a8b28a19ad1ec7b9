//! The twelve extended capabilities through `Arc<dyn Trait>`, each with its
//! reference script in examples/plugins/ and at least one error path; plus
//! the shared conventions (trait defaults, missing methods, the capability
//! gate, the manifest check).

use crate::common::*;
use bext_plugin_api::auth::{
    AuthProviderKind, AuthRequestContext, CallbackData, LoginAction, LoginParams,
};
use bext_plugin_api::authz_policy::{PolicyContext, PolicyDecision};
use bext_plugin_api::feature_flag::{FlagContext, FlagValue};
use bext_plugin_api::i18n::{I18nError, I18nValue, TransVars};
use bext_plugin_api::mailer::{Address, MailerError, Message};
use bext_plugin_api::scheduled::{LockingHint, MissedRunPolicy, ScheduledRunCtx};
use bext_plugin_api::search::{Document, SearchError, SearchQuery};
use bext_plugin_api::session::{CreateOptions, SessionError, SessionId};
use bext_plugin_api::storage::{PresignOp, PutOpts, StorageError};
use bext_plugin_api::tracer::{AttrValue, SpanEvent, SpanKind, SpanStart, SpanStatus};
use bext_plugin_api::types::PluginCapability;
use bext_plugin_api::webhook::{WebhookError, WebhookRequest, WebhookSchemeKind};
use bext_plugin_api::{
    AuthPlugin, AuthzPolicyPlugin, FeatureFlagPlugin, I18nPlugin, LockingPlugin, MailerPlugin,
    ScheduledPlugin, SearchClientPlugin, SessionPlugin, StorageClientPlugin, TracerPlugin,
    WebhookPlugin,
};
use bext_plugin_lua_wasm::{Error, LuaPlugin, LuaPluginConfig};
use std::collections::HashMap;
use std::sync::Arc;

fn example(name: &str, file: &str) -> LuaPlugin {
    load(name, &example_plugin(file)).unwrap_or_else(|e| panic!("{file}: {e}"))
}

fn load_declaring(name: &str, source: &str, capabilities: &[&str]) -> Result<LuaPlugin, Error> {
    let manifest = serde_json::from_value(serde_json::json!({
        "name": name, "version": "1.0.0", "capabilities": capabilities
    }))
    .unwrap();
    runtime().load_plugin(LuaPluginConfig::new(name, manifest, source))
}

fn auth_ctx(headers: &[(&str, &str)]) -> AuthRequestContext {
    AuthRequestContext {
        method: "GET".into(),
        path: "/account".into(),
        hostname: "example.com".into(),
        headers: headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        query_string: String::new(),
        peer_ip: None,
        tenant_id: Some("tenant-1".into()),
        site_id: None,
        session_id: None,
    }
}

#[test]
fn auth_provider_resolves_tokens_and_runs_the_login_flow() {
    let auth: Arc<dyn AuthPlugin> = Arc::new(example("auth-provider", "auth_provider.lua"));
    assert_eq!(auth.name(), "auth-provider");
    assert_eq!(auth.provider_kind(), AuthProviderKind::Password);
    let user = auth
        .resolve(&auth_ctx(&[("Authorization", "Bearer tok-ada")]))
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            user.subject.as_str(),
            user.role.as_str(),
            user.tenant_id.as_deref()
        ),
        ("ada", "admin", Some("tenant-1"))
    );
    assert!(user.permissions.contains(&"admin".to_string()));
    assert!(
        auth.resolve(&auth_ctx(&[("Authorization", "Bearer nope")]))
            .unwrap()
            .is_none()
    );
    assert!(auth.resolve(&auth_ctx(&[])).unwrap().is_none());
    match auth
        .begin_login(&auth_ctx(&[]), LoginParams::default())
        .unwrap()
    {
        LoginAction::Prompt { message } => assert!(message.contains("username")),
        other => panic!("{other:?}"),
    }
    let params = LoginParams {
        return_to: None,
        inputs: HashMap::from([("username".into(), "bob".into())]),
    };
    match auth.begin_login(&auth_ctx(&[]), params).unwrap() {
        LoginAction::Redirect { url } => assert_eq!(url, "/login/callback?user=bob"),
        other => panic!("{other:?}"),
    }
    let form = |user: &str, password: &str| CallbackData {
        form: HashMap::from([
            ("username".into(), user.into()),
            ("password".into(), password.into()),
        ]),
        ..Default::default()
    };
    assert_eq!(
        auth.complete_login(&auth_ctx(&[]), form("bob", "builder"))
            .unwrap()
            .role,
        "editor"
    );
    // Error path: a Lua error names plugin and method.
    let err = auth
        .complete_login(&auth_ctx(&[]), form("bob", "wrong"))
        .unwrap_err();
    assert!(
        err.contains("auth-provider")
            && err.contains("complete_login")
            && err.contains("wrong username or password"),
        "{err}"
    );
    // logout is not defined: the trait default.
    auth.logout(&auth_ctx(&[])).unwrap();
}

#[test]
fn auth_trait_defaults_when_the_script_has_no_login_flow() {
    let auth: Arc<dyn AuthPlugin> = Arc::new(
        load(
            "tokens-only",
            "return { provider_kind = function() return 'token' end, resolve = function() end }",
        )
        .unwrap(),
    );
    assert_eq!(auth.provider_kind(), AuthProviderKind::Token);
    assert_eq!(
        auth.begin_login(&auth_ctx(&[]), LoginParams::default())
            .unwrap_err(),
        "login flow not supported by this provider"
    );
    assert!(
        auth.complete_login(&auth_ctx(&[]), CallbackData::default())
            .is_err()
    );
    assert!(auth.logout(&auth_ctx(&[])).is_ok());
}

#[test]
fn session_store_creates_reads_updates_and_expires() {
    let sessions: Arc<dyn SessionPlugin> = Arc::new(example("sessions", "session.lua"));
    let opts = CreateOptions {
        user_id: Some("ada".into()),
        data_json: r#"{"cart":[1,2]}"#.into(),
        ttl_ms: 60_000,
    };
    let id = sessions.create(opts).unwrap();
    let record = sessions.read(&id).unwrap();
    assert_eq!(
        (
            &record.id,
            record.user_id.as_deref(),
            record.data_json.as_str()
        ),
        (&id, Some("ada"), r#"{"cart":[1,2]}"#)
    );
    assert_eq!(record.expires_at_ms - record.created_at_ms, 60_000);
    assert_eq!(
        sessions.update(&id, r#"{"cart":[]}"#).unwrap(),
        id,
        "nil keeps the id"
    );
    assert_eq!(sessions.read(&id).unwrap().data_json, r#"{"cart":[]}"#);
    assert_eq!(sessions.touch(&id, 5).unwrap(), id);
    assert!(sessions.is_healthy());
    sessions.delete(&id).unwrap();
    // Error paths: the codes pick the variants.
    assert!(matches!(sessions.read(&id), Err(SessionError::NotFound)));
    assert!(matches!(
        sessions.update(&id, "{}"),
        Err(SessionError::NotFound)
    ));
    match sessions.create(CreateOptions {
        data_json: "not json".into(),
        ..Default::default()
    }) {
        Err(SessionError::Invalid(m)) => assert!(
            m.contains("sessions") && m.contains("create") && m.contains("data_json"),
            "{m}"
        ),
        other => panic!("{other:?}"),
    }
    let expired = sessions
        .create(CreateOptions {
            data_json: "{}".into(),
            ttl_ms: 0,
            ..Default::default()
        })
        .unwrap();
    assert!(matches!(
        sessions.read(&expired),
        Err(SessionError::NotFound)
    ));
    // A method the script lacks (no trait default): Backend, naming plugin and method.
    let partial: Arc<dyn SessionPlugin> = Arc::new(
        load(
            "partial-sessions",
            "return { create = function() return 's1' end }",
        )
        .unwrap(),
    );
    assert_eq!(
        partial.create(CreateOptions::default()).unwrap(),
        SessionId::new("s1")
    );
    match partial.touch(&SessionId::new("s1"), 1) {
        Err(SessionError::Backend(m)) => assert_eq!(
            m,
            "lua plugin `partial-sessions`: the script defines no method `touch`"
        ),
        other => panic!("{other:?}"),
    }
}

fn message(to: &str) -> Message {
    Message {
        from: Address::named("noreply@example.com", "Example"),
        to: vec![Address::new(to)],
        subject: "Welcome".into(),
        text: Some("Hi!".into()),
        ..Default::default()
    }
}

#[test]
fn mailer_sends_validates_and_batches() {
    let mailer: Arc<dyn MailerPlugin> = Arc::new(example("mailer", "mailer.lua"));
    assert_eq!(mailer.send(message("ada@example.com")).unwrap().id, "msg-1");
    assert!(mailer.is_healthy(), "no is_healthy: the trait default");
    match mailer.send(Message {
        to: vec![],
        ..message("x@example.com")
    }) {
        Err(MailerError::InvalidMessage(m)) => assert!(
            m.contains("mailer") && m.contains("send") && m.contains("no recipients"),
            "{m}"
        ),
        other => panic!("{other:?}"),
    }
    // send_batch is the trait default: send per message.
    let outcomes = mailer.send_batch(vec![
        message("bob@example.com"),
        message("eve@blocked.example"),
    ]);
    assert_eq!(outcomes[0].as_ref().unwrap().id, "msg-2");
    assert!(
        matches!(&outcomes[1], Err(MailerError::Rejected(m)) if m.contains("does not accept mail")),
        "{outcomes:?}"
    );
}

#[test]
fn mailer_send_batch_from_the_script() {
    let source = r#"return {
        send = function() return "single" end,
        send_batch = function(self, msgs_json)
          local out = {}
          for i, m in ipairs(bext.json.decode(msgs_json)) do
            out[i] = i == 2 and { error = "slow down", kind = "rate_limited" } or { id = "b" .. i }
          end
          return out
        end }"#;
    let mailer: Arc<dyn MailerPlugin> = Arc::new(load("batch-mailer", source).unwrap());
    let outcomes = mailer.send_batch(vec![message("a@example.com"), message("b@example.com")]);
    assert_eq!(outcomes[0].as_ref().unwrap().id, "b1");
    assert_eq!(
        outcomes[1],
        Err(MailerError::RateLimited(
            "lua plugin `batch-mailer`: send_batch: slow down".into()
        ))
    );
}

#[test]
fn tracer_records_spans_and_flush_reports_open_ones() {
    let tracer: Arc<dyn TracerPlugin> = Arc::new(example("tracer", "tracer.lua"));
    let root = tracer.start_span(SpanStart {
        name: "GET /",
        kind: SpanKind::Server,
        attributes: vec![("http.method".into(), AttrValue::from("GET"))],
        ..Default::default()
    });
    assert!(!root.is_invalid());
    let child = tracer.start_span(SpanStart {
        name: "db",
        parent: Some(root),
        ..Default::default()
    });
    assert_eq!(
        child.trace_id, root.trace_id,
        "a child joins its parent's trace"
    );
    assert_ne!(child.span_id, root.span_id);
    tracer.set_attribute(child, "rows", AttrValue::I64(3));
    tracer.set_attribute(child, "tags", AttrValue::StringArray(vec!["a".into()]));
    tracer.add_event(
        child,
        SpanEvent {
            name: "retry",
            attributes: vec![],
            time_unix_nanos: Some(1),
        },
    );
    tracer.set_status(
        child,
        SpanStatus::Error {
            description: "timeout".into(),
        },
    );
    tracer.end_span(child, None);
    // Error path: flush fails while the root is open.
    let err = tracer.flush().unwrap_err();
    assert_eq!(err, "lua plugin `tracer`: flush: 1 span(s) still open");
    tracer.end_span(root, Some(2));
    tracer.flush().unwrap();
    // A handle that is not hex: logged, and the invalid span.
    let bad: Arc<dyn TracerPlugin> = Arc::new(
        load(
            "bad-tracer",
            "return { start_span = function() return { trace_id = 'xyz', span_id = '' } end }",
        )
        .unwrap(),
    );
    let logs = capture_logs(|| assert!(bad.start_span(SpanStart::default()).is_invalid()));
    assert!(logs.contains("hex digits"), "{logs}");
    assert!(
        bad.flush()
            .unwrap_err()
            .contains("defines no method `flush`")
    );
}

#[test]
fn scheduled_jobs_list_schedules_and_run() {
    let plugin = example("jobs", "scheduled.lua");
    let jobs: Arc<dyn ScheduledPlugin> = Arc::new(plugin.clone());
    assert_eq!(jobs.priority(), 500);
    let schedules = jobs.schedules().unwrap();
    assert_eq!(schedules.len(), 2);
    assert_eq!(
        (schedules[0].id.as_str(), schedules[0].cron.as_str()),
        ("sitemap", "0 3 * * *")
    );
    assert_eq!(
        schedules[0].locking,
        LockingHint::RequireGlobal,
        "serde default"
    );
    assert_eq!(
        (schedules[1].jitter_ms, schedules[1].missed_run_policy),
        (30_000, MissedRunPolicy::Skip)
    );
    assert_eq!(schedules[1].config_json, r#"{"paths":["/","/blog"]}"#);
    let ctx = |id: &str, is_catchup| ScheduledRunCtx {
        schedule_id: id.into(),
        scheduled_at_ms: 1_700_000_000_000,
        run_count: 1,
        is_catchup,
        tenant_id: None,
        site_id: None,
    };
    jobs.run(&ctx("sitemap", false)).unwrap();
    jobs.run(&ctx("warm_cache", true)).unwrap();
    let err = jobs.run(&ctx("nope", false)).unwrap_err();
    assert_eq!(err, "lua plugin `jobs`: run: no job for schedule `nope`");
    jobs.cleanup().unwrap();
    let bad: Arc<dyn ScheduledPlugin> = Arc::new(
        load(
            "bad-jobs",
            "return { schedules = function() return { { id = 'x' } } end, run = function() end }",
        )
        .unwrap(),
    );
    let err = bad.schedules().unwrap_err();
    assert!(
        err.contains("bad-jobs") && err.contains("schedules") && err.contains("cron"),
        "{err}"
    );
    assert_eq!(bad.priority(), 1000);
}

fn webhook_request(token: &str, ts: &str, body: &[u8]) -> WebhookRequest {
    let mut headers = vec![("X-Webhook-Timestamp".to_string(), ts.to_string())];
    if !token.is_empty() {
        headers.push(("X-Webhook-Token".into(), token.into()));
    }
    WebhookRequest {
        url: "https://example.com/hooks".into(),
        method: "POST".into(),
        headers,
        body: body.to_vec(),
        received_at_ms: 1_700_000_060_000,
    }
}

#[test]
fn webhook_verifies_tokens_and_maps_error_codes() {
    let hooks: Arc<dyn WebhookPlugin> = Arc::new(example("payments", "webhook.lua"));
    assert_eq!(hooks.provider(), "payments");
    assert_eq!(hooks.scheme(), WebhookSchemeKind::HmacBody);
    assert!(hooks.is_healthy());
    let ts = "1700000000000";
    hooks
        .verify(&webhook_request("s3cret", ts, br#"{"event":"paid"}"#))
        .unwrap();
    let code = |req: WebhookRequest| hooks.verify(&req).unwrap_err();
    assert!(matches!(
        code(webhook_request("s3creT", ts, b"{}")),
        WebhookError::InvalidSignature(_)
    ));
    assert!(
        matches!(code(webhook_request("", ts, b"{}")), WebhookError::MissingHeader(m) if m.contains("x-webhook-token"))
    );
    assert!(matches!(
        code(webhook_request("s3cret", ts, b"\xff\x00")),
        WebhookError::MalformedPayload(_)
    ));
    assert!(matches!(
        code(webhook_request("s3cret", "1", b"{}")),
        WebhookError::ReplayDetected(_)
    ));
    // A script raising a plain error: Backend (500), naming plugin and method.
    let broken: Arc<dyn WebhookPlugin> = Arc::new(
        load(
            "broken-hooks",
            "return { verify = function() error('db down', 0) end }",
        )
        .unwrap(),
    );
    let err = broken.verify(&webhook_request("t", ts, b"{}")).unwrap_err();
    assert_eq!(
        (err.http_status(), err.message()),
        (500, "lua plugin `broken-hooks`: verify: db down")
    );
    let logs = capture_logs(|| assert_eq!(broken.scheme(), WebhookSchemeKind::HmacBody));
    assert!(logs.contains("defines no method `scheme`"), "{logs}");
}

#[test]
fn feature_flags_evaluate_every_kind_of_value() {
    let flags: Arc<dyn FeatureFlagPlugin> = Arc::new(example("flags", "feature_flags.lua"));
    let anon = FlagContext::anonymous();
    assert_eq!(
        flags.evaluate("dark_mode", &anon).unwrap(),
        FlagValue::Bool(true)
    );
    assert_eq!(
        flags.evaluate("banner", &anon).unwrap(),
        FlagValue::String("spring-sale".into())
    );
    assert_eq!(
        flags.evaluate("new_checkout", &anon).unwrap(),
        FlagValue::Bool(false),
        "no user: not in the rollout"
    );
    let pro = FlagContext::for_user("ada").with_attribute("plan", "pro");
    assert_eq!(
        flags.evaluate("max_uploads", &pro).unwrap(),
        FlagValue::Int(100)
    );
    assert_eq!(
        flags.evaluate("max_uploads", &anon).unwrap(),
        FlagValue::Int(3)
    );
    // The rollout is stable per user and splits users.
    let rolled: Vec<bool> = (0..40)
        .map(|i| {
            flags
                .evaluate("new_checkout", &FlagContext::for_user(format!("user-{i}")))
                .unwrap()
                .as_bool()
        })
        .collect();
    assert!(
        rolled.contains(&true) && rolled.contains(&false),
        "{rolled:?}"
    );
    assert_eq!(
        flags
            .evaluate("new_checkout", &FlagContext::for_user("user-7"))
            .unwrap()
            .as_bool(),
        rolled[7]
    );
    // evaluate_batch is the trait default; an unknown flag fails the batch.
    let batch = flags
        .evaluate_batch(&["dark_mode", "banner"], &anon)
        .unwrap();
    assert_eq!(batch.len(), 2);
    let err = flags
        .evaluate_batch(&["dark_mode", "nope"], &anon)
        .unwrap_err();
    assert_eq!(err, "lua plugin `flags`: evaluate: unknown flag `nope`");
    flags.refresh().unwrap();
    assert!(flags.is_healthy());
}

#[test]
fn feature_flag_tables_and_a_script_batch() {
    let source = r#"return {
        evaluate = function(self, key) if key == "cfg" then return { limit = 5 } end
          if key == "tagged" then return { kind = "int", value = 9 } end
          if key == "half" then return 0.5 end end,
        evaluate_batch = function(self, keys_json, ctx_json)
          local out = {}
          for _, k in ipairs(bext.json.decode(keys_json)) do out[k] = k == "on" end
          return out
        end }"#;
    let flags: Arc<dyn FeatureFlagPlugin> = Arc::new(load("table-flags", source).unwrap());
    let ctx = FlagContext::anonymous();
    assert_eq!(
        flags.evaluate("cfg", &ctx).unwrap(),
        FlagValue::Json(r#"{"limit":5}"#.into())
    );
    assert_eq!(flags.evaluate("tagged", &ctx).unwrap(), FlagValue::Int(9));
    assert!(
        flags
            .evaluate("half", &ctx)
            .unwrap_err()
            .contains("must be an integer")
    );
    assert!(
        flags
            .evaluate("missing", &ctx)
            .unwrap_err()
            .ends_with("evaluate must return a flag value, it returned nil")
    );
    let batch = flags.evaluate_batch(&["on", "off"], &ctx).unwrap();
    assert_eq!(
        (batch["on"].clone(), batch["off"].clone()),
        (FlagValue::Bool(true), FlagValue::Bool(false))
    );
}

#[test]
fn i18n_translates_negotiates_and_maps_error_codes() {
    let i18n: Arc<dyn I18nPlugin> = Arc::new(example("i18n", "i18n.lua"));
    let vars: TransVars = HashMap::from([
        ("name".to_string(), I18nValue::from("Ada")),
        ("count".to_string(), I18nValue::from(3)),
    ]);
    assert_eq!(
        i18n.translate("greeting", "fr", &vars).unwrap(),
        "Bonjour, Ada !"
    );
    assert_eq!(
        i18n.translate("items", "pt-BR", &vars).unwrap(),
        "You have 3 items",
        "falls back to en per key"
    );
    assert_eq!(i18n.supported_locales(), ["en", "fr", "pt-BR"]);
    assert_eq!(i18n.fallback_locale(), "en");
    assert!(i18n.has_locale("PT-br"));
    assert_eq!(i18n.negotiate("fr-CA"), "fr");
    assert_eq!(i18n.negotiate("pt-BR"), "pt-BR");
    assert_eq!(i18n.negotiate("de-DE"), "en");
    assert!(
        matches!(i18n.translate("greeting", "de", &vars), Err(I18nError::LocaleUnavailable(m)) if m.contains("de"))
    );
    assert!(matches!(
        i18n.translate("nope", "en", &vars),
        Err(I18nError::FormatError(_))
    ));
    assert!(
        matches!(i18n.translate("greeting", "en", &TransVars::new()), Err(I18nError::FormatError(m)) if m.contains("{name}"))
    );
    let bare: Arc<dyn I18nPlugin> = Arc::new(
        load(
            "bare-i18n",
            "return { translate = function() return 1 end }",
        )
        .unwrap(),
    );
    assert!(
        matches!(bare.translate("k", "en", &vars), Err(I18nError::Unknown(m)) if m.contains("bare-i18n") && m.contains("translate"))
    );
    let logs = capture_logs(|| assert_eq!(bare.negotiate("fr"), "en"));
    assert!(
        logs.contains("defines no method `supported_locales`"),
        "{logs}"
    );
}

#[test]
fn storage_puts_gets_lists_and_maps_error_codes() {
    let config = LuaPluginConfig::new(
        "objects",
        manifest("objects"),
        example_plugin("storage.lua"),
    )
    .config_json(r#"{"quota_bytes": 64, "page_size": 2}"#);
    let storage: Arc<dyn StorageClientPlugin> = Arc::new(runtime().load_plugin(config).unwrap());
    let opts = || PutOpts {
        content_type: "application/octet-stream".into(),
        ..Default::default()
    };
    let binary = vec![0u8, 255, 10, 13, 0];
    storage.put("a/1", binary.clone(), opts()).unwrap();
    assert_eq!(storage.get("a/1").unwrap(), binary, "bytes cross exactly");
    storage.put("a/2", b"two".to_vec(), opts()).unwrap();
    storage.put("a/3", b"three".to_vec(), opts()).unwrap();
    storage.put("b/1", b"other".to_vec(), opts()).unwrap();
    let (page, next) = storage.list_page("a/", None).unwrap();
    assert_eq!(
        page.iter().map(|o| o.key.as_str()).collect::<Vec<_>>(),
        ["a/1", "a/2"]
    );
    assert_eq!(page[0].size, 5);
    let (page, next) = storage.list_page("a/", next.as_deref()).unwrap();
    assert_eq!((page.len(), page[0].key.as_str(), next), (1, "a/3", None));
    assert!(storage.list_page("zzz/", None).unwrap().0.is_empty());
    assert_eq!(
        storage.presigned_url("a/1", PresignOp::Put, 60).unwrap(),
        "https://objects.example.com/a/1?op=put&expires_in=60"
    );
    storage.delete("a/1").unwrap();
    assert!(matches!(storage.get("a/1"), Err(StorageError::NotFound)));
    assert!(matches!(storage.delete("a/1"), Err(StorageError::NotFound)));
    assert!(matches!(
        storage.put("private/x", vec![], opts()),
        Err(StorageError::AccessDenied)
    ));
    assert!(matches!(
        storage.put("big", vec![1; 100], opts()),
        Err(StorageError::QuotaExceeded)
    ));
    assert!(storage.is_healthy());
}

#[test]
fn search_indexes_queries_and_maps_error_codes() {
    let search: Arc<dyn SearchClientPlugin> = Arc::new(example("search", "search.lua"));
    let doc = |id: &str, fields: serde_json::Value| Document {
        id: id.into(),
        fields_json: fields.to_string(),
    };
    search
        .index(
            "posts",
            vec![
                doc(
                    "1",
                    serde_json::json!({"title": "Lua in WebAssembly", "lang": "en"}),
                ),
                doc(
                    "2",
                    serde_json::json!({"title": "Lua tables", "lang": "en"}),
                ),
                doc(
                    "3",
                    serde_json::json!({"title": "Tables en Lua", "lang": "es"}),
                ),
            ],
        )
        .unwrap();
    let query = |text: &str, filters: &[(&str, &str)]| SearchQuery {
        text: text.into(),
        filters: filters
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        limit: 10,
        offset: 0,
    };
    let results = search.search("posts", &query("lua", &[])).unwrap();
    assert_eq!(results.total, 3);
    let results = search
        .search("posts", &query("lua tables", &[("lang", "en")]))
        .unwrap();
    assert_eq!((results.total, results.hits[0].id.as_str()), (1, "2"));
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&results.hits[0].source_json).unwrap()["lang"],
        "en"
    );
    let none = search.search("posts", &query("cobol", &[])).unwrap();
    assert!(none.hits.is_empty() && none.total == 0);
    search.delete("posts", vec!["2".into()]).unwrap();
    assert_eq!(
        search.search("posts", &query("tables", &[])).unwrap().total,
        1
    );
    assert!(
        matches!(search.search("users", &query("x", &[])), Err(SearchError::IndexNotFound(m)) if m.contains("users"))
    );
    assert!(matches!(
        search.search("posts", &query(&"x".repeat(201), &[])),
        Err(SearchError::BadQuery(_))
    ));
    let broken: Arc<dyn SearchClientPlugin> = Arc::new(
        load(
            "broken-search",
            "return { search = function() return { hits = 1 } end }",
        )
        .unwrap(),
    );
    match broken.search("i", &query("x", &[])) {
        Err(SearchError::Backend(m)) => assert!(
            m.contains("broken-search") && m.contains("search") && m.contains("SearchResults"),
            "{m}"
        ),
        other => panic!("{other:?}"),
    }
    assert!(
        matches!(broken.index("i", vec![]), Err(SearchError::Backend(m)) if m.contains("defines no method `index`"))
    );
}

#[test]
fn authz_policy_allows_denies_mutates_and_fails_closed() {
    let policy: Arc<dyn AuthzPolicyPlugin> = Arc::new(example("policy", "authz_policy.lua"));
    let ctx = |action: &str, resource: &str, role: &str| {
        PolicyContext::new(action, resource)
            .with_principal("ada")
            .with_attribute("role", role)
    };
    assert_eq!(
        policy.evaluate(&ctx("delete", "users/1", "admin")),
        PolicyDecision::Allow
    );
    assert_eq!(
        policy.evaluate(&PolicyContext::new("read", "posts/1")),
        PolicyDecision::Allow
    );
    assert_eq!(
        policy.evaluate(&ctx("write", "posts/1", "editor")),
        PolicyDecision::Allow
    );
    assert_eq!(
        policy.evaluate(&ctx("write", "users/1", "editor")),
        PolicyDecision::deny("editor may not write users/1 (policy v1)")
    );
    assert_eq!(
        policy.evaluate(&ctx("export", "posts/1", "editor")),
        PolicyDecision::Mutate {
            headers: vec![("x-watermark".into(), "ada".into())],
            body: None
        }
    );
    policy.reload_policies().unwrap();
    assert_eq!(
        policy.evaluate(&ctx("write", "users/1", "guest")),
        PolicyDecision::deny("guest may not write users/1 (policy v2)")
    );
    policy.cleanup().unwrap();
    // Error path: an error denies, with the reason naming plugin and method.
    let logs = capture_logs(|| {
        let decision = policy.evaluate(&PolicyContext::new("write", "posts/1"));
        assert_eq!(
            decision,
            PolicyDecision::deny("lua plugin `policy`: evaluate: anonymous write of posts/1")
        );
    });
    assert!(logs.contains("denying"), "{logs}");
    let bare: Arc<dyn AuthzPolicyPlugin> = Arc::new(
        load(
            "bare-policy",
            "return { evaluate = function() return 'maybe' end }",
        )
        .unwrap(),
    );
    assert!(!bare.evaluate(&PolicyContext::new("read", "x")).is_allowed());
    assert_eq!(
        bare.reload_policies().unwrap_err(),
        "lua plugin `bare-policy`: the script defines no method `reload_policies`"
    );
}

#[test]
fn locking_grants_one_holder_and_rejects_stale_handles() {
    let locks: Arc<dyn LockingPlugin> = Arc::new(example("locks", "locking.lua"));
    let handle = locks.try_lock("job:sitemap", 60_000).unwrap().unwrap();
    assert_eq!(
        (handle.key.as_str(), handle.ttl_ms),
        ("job:sitemap", 60_000)
    );
    assert!(
        locks.try_lock("job:sitemap", 60_000).unwrap().is_none(),
        "held"
    );
    locks.renew(&handle).unwrap();
    locks.release(handle.clone()).unwrap();
    let again = locks.try_lock("job:sitemap", 60_000).unwrap().unwrap();
    assert_ne!(again.lock_id, handle.lock_id);
    // Error path: a released handle.
    let err = locks.renew(&handle).unwrap_err();
    assert_eq!(
        err,
        format!(
            "lua plugin `locks`: renew: lock `job:sitemap` is not held by {}",
            handle.lock_id
        )
    );
    locks.cleanup().unwrap();
    assert!(
        locks.try_lock("job:sitemap", 1).unwrap().is_some(),
        "cleanup dropped every lock"
    );
    // A lock id alone is a handle.
    let ids: Arc<dyn LockingPlugin> = Arc::new(
        load(
            "id-locks",
            "return { try_lock = function() return 'L1' end }",
        )
        .unwrap(),
    );
    let h = ids.try_lock("k", 5).unwrap().unwrap();
    assert_eq!(
        (h.key.as_str(), h.lock_id.as_str(), h.ttl_ms),
        ("k", "L1", 5)
    );
    assert!(
        ids.release(h)
            .unwrap_err()
            .contains("defines no method `release`")
    );
    assert!(ids.cleanup().is_ok(), "the trait default");
}

#[test]
fn a_capability_the_manifest_does_not_declare_is_a_typed_error() {
    let source = example_plugin("locking.lua");
    let plugin = load_declaring("declared-locking", &source, &["locking"]).unwrap();
    assert!(plugin.provides(PluginCapability::Locking));
    assert!(!plugin.provides(PluginCapability::Session));
    let sessions: Arc<dyn SessionPlugin> = Arc::new(plugin.clone());
    match sessions.delete(&SessionId::new("x")) {
        Err(SessionError::Backend(m)) => {
            assert_eq!(
                m,
                "lua plugin `declared-locking`: the plugin does not provide the session capability"
            )
        }
        other => panic!("{other:?}"),
    }
    let flags: Arc<dyn FeatureFlagPlugin> = Arc::new(plugin.clone());
    assert!(
        flags
            .refresh()
            .unwrap_err()
            .contains("does not provide the feature_flag capability"),
        "gated before the default"
    );
    assert!(!flags.is_healthy());
    let locks: Arc<dyn LockingPlugin> = Arc::new(plugin);
    assert!(locks.try_lock("k", 10).unwrap().is_some());
}

#[test]
fn the_manifest_check_covers_the_extended_capabilities() {
    let err = load_declaring(
        "claims-search",
        "return { search = function() end }",
        &["search_client"],
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "lua plugin `claims-search`: the manifest claims the search_client capability but the script defines no `index`, `delete`"
    );
    for (file, capability) in [
        ("auth_provider.lua", PluginCapability::Auth),
        ("session.lua", PluginCapability::Session),
        ("mailer.lua", PluginCapability::Mailer),
        ("tracer.lua", PluginCapability::Tracer),
        ("scheduled.lua", PluginCapability::Scheduled),
        ("webhook.lua", PluginCapability::Webhook),
        ("feature_flags.lua", PluginCapability::FeatureFlag),
        ("i18n.lua", PluginCapability::I18n),
        ("storage.lua", PluginCapability::StorageClient),
        ("search.lua", PluginCapability::SearchClient),
        ("authz_policy.lua", PluginCapability::AuthzPolicy),
        ("locking.lua", PluginCapability::Locking),
    ] {
        let plugin = example(file, file);
        assert!(
            plugin.provides(capability),
            "{file} provides {capability:?} (inferred)"
        );
    }
}
