//! The twelve extended capabilities of `bext-plugin-api`, each a thin
//! adapter over the one mechanism in `generic.rs` (argument and result
//! conventions, error codes). Every trait method calls the script method of
//! the same name with `self`; the README's capability table lists the
//! argument and result shapes. Trait methods with a default keep it when the
//! script does not define the method; a method without a default that the
//! script lacks is [`Error::MissingMethod`], mapped into the trait's error
//! type. Methods whose trait signature cannot fail log the error (a
//! warning) and return the documented safe value.

use super::generic::{error_code, JsonArg};
use super::log_swallowed;
use super::http_text::{check_header, check_header_value};
use crate::abi::Output;
use crate::error::Error;
use crate::plugin::LuaPlugin;
use bext_plugin_api::auth::{AuthProviderKind, AuthRequestContext, AuthUser, CallbackData, LoginAction, LoginParams};
use bext_plugin_api::authz_policy::{PolicyContext, PolicyDecision};
use bext_plugin_api::feature_flag::{FlagContext, FlagValue};
use bext_plugin_api::i18n::{I18nError, TransVars};
use bext_plugin_api::locking::LockHandle;
use bext_plugin_api::mailer::{BatchOutcome, MailerError, Message, SendOutcome};
use bext_plugin_api::scheduled::{Schedule, ScheduledRunCtx};
use bext_plugin_api::search::{Document, SearchError, SearchQuery, SearchResults};
use bext_plugin_api::session::{CreateOptions, SessionError, SessionId, SessionRecord};
use bext_plugin_api::storage::{Object, PresignOp, PutOpts, StorageError};
use bext_plugin_api::tracer::{AttrValue, SpanEvent, SpanHandle, SpanKind, SpanStart, SpanStatus};
use bext_plugin_api::types::PluginCapability as Cap;
use bext_plugin_api::webhook::{WebhookError, WebhookRequest, WebhookSchemeKind};
use bext_plugin_api::{
    AuthPlugin, AuthzPolicyPlugin, FeatureFlagPlugin, I18nPlugin, LockingPlugin, MailerPlugin, ScheduledPlugin,
    SearchClientPlugin, SessionPlugin, StorageClientPlugin, TracerPlugin, WebhookPlugin,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::HashMap;

const IS_HEALTHY: &str = "is_healthy";
const CLEANUP: &str = "cleanup";

impl LuaPlugin {
    /// The script's `is_healthy` for `capability`, else healthy; errors
    /// (logged) are unhealthy.
    fn ext_healthy(&self, capability: Cap) -> bool {
        let result = self.defines(capability, IS_HEALTHY).and_then(|defined| {
            if !defined {
                return Ok(true);
            }
            let out = self.call_ext(capability, IS_HEALTHY, &[])?;
            self.expect_truthy(IS_HEALTHY, out)
        });
        result.unwrap_or_else(|e| {
            log_swallowed(&e, "reporting unhealthy");
            false
        })
    }

    /// A method returning nothing, with `Ok(())` when the script does not
    /// define it (the trait default) if `optional`.
    fn ext_unit(&self, capability: Cap, method: &str, args: &[JsonArg<'_>], optional: bool) -> Result<(), Error> {
        if optional && !self.defines(capability, method)? {
            return Ok(());
        }
        self.call_ext(capability, method, args).map(drop)
    }
}

fn text(e: Error) -> String {
    e.to_string()
}

/// What a URL from a script may look like.
#[derive(Clone, Copy, PartialEq, Eq)]
enum UrlShape {
    /// `http://...` or `https://...`.
    Absolute,
    /// Absolute, or a path on this server (`/login?x=1`).
    AbsoluteOrPath,
}

impl LuaPlugin {
    /// `url` when it has `shape` and no whitespace or control characters
    /// (it may end up in a `Location` header); else a [`Error::BadEnvelope`].
    fn checked_url(&self, method: &str, url: String, shape: UrlShape) -> Result<String, Error> {
        // Servers hand the URL out as a `Location` header: the header rules
        // first (their message names the header and the character).
        check_header_value("location", &url).map_err(|m| self.bad_envelope(method, m))?;
        let absolute = ["https://", "http://"].iter().any(|scheme| {
            url.get(..scheme.len()).is_some_and(|head| head.eq_ignore_ascii_case(scheme)) && url.len() > scheme.len()
        });
        let path = shape == UrlShape::AbsoluteOrPath && url.starts_with('/');
        let clean = !url.chars().any(|c| c.is_whitespace() || c.is_control());
        if (absolute || path) && clean {
            return Ok(url);
        }
        let expected = match shape {
            UrlShape::Absolute => "an http(s) URL",
            UrlShape::AbsoluteOrPath => "an http(s) URL or a path starting with /",
        };
        Err(self.bad_envelope(method, format!("{url:?} is not {expected} without whitespace or control characters")))
    }
}

// ---------------------------------------------------------------- Auth

/// `AuthRequestContext` as the script sees it.
#[derive(Serialize)]
struct AuthContextJson<'a> {
    method: &'a str,
    path: &'a str,
    hostname: &'a str,
    headers: &'a [(String, String)],
    query_string: &'a str,
    peer_ip: Option<&'a str>,
    tenant_id: Option<&'a str>,
    site_id: Option<&'a str>,
    session_id: Option<&'a str>,
}

fn auth_context(ctx: &AuthRequestContext) -> AuthContextJson<'_> {
    AuthContextJson {
        method: &ctx.method,
        path: &ctx.path,
        hostname: &ctx.hostname,
        headers: &ctx.headers,
        query_string: &ctx.query_string,
        peer_ip: ctx.peer_ip.as_deref(),
        tenant_id: ctx.tenant_id.as_deref(),
        site_id: ctx.site_id.as_deref(),
        session_id: ctx.session_id.as_deref(),
    }
}

/// `LoginParams` as the script sees it.
#[derive(Serialize)]
struct LoginParamsJson<'a> {
    return_to: Option<&'a str>,
    inputs: &'a HashMap<String, String>,
}

/// `CallbackData` as the script sees it; `body` is text (invalid UTF-8
/// replaced by U+FFFD).
#[derive(Serialize)]
struct CallbackJson<'a> {
    query: &'a HashMap<String, String>,
    form: &'a HashMap<String, String>,
    body: String,
}

/// `LoginAction` from the script: `{"action":"redirect","url":...}`,
/// `{"action":"prompt","message":...}` or `{"action":"complete","user":{...}}`.
#[derive(Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
enum LoginActionJson {
    Redirect { url: String },
    Prompt { message: String },
    Complete { user: AuthUser },
}

const LOGIN_UNSUPPORTED: &str = "login flow not supported by this provider";

impl AuthPlugin for LuaPlugin {
    fn name(&self) -> &str {
        LuaPlugin::name(self)
    }

    /// The script's `provider_kind()` (`"token"`, `"password"`, `"o_auth"`,
    /// `"magic_link"`, `"passkey"`); on error (logged) `Token`.
    fn provider_kind(&self) -> AuthProviderKind {
        self.call_json_required(Cap::Auth, "provider_kind", &[], "an auth provider kind").unwrap_or_else(|e| {
            log_swallowed(&e, "assuming a token provider");
            AuthProviderKind::Token
        })
    }

    fn resolve(&self, ctx: &AuthRequestContext) -> Result<Option<AuthUser>, String> {
        const M: &str = "resolve";
        let ctx = self.json_arg(M, &auth_context(ctx)).map_err(text)?;
        self.call_json(Cap::Auth, M, &[ctx], "an AuthUser").map_err(text)
    }

    fn begin_login(&self, ctx: &AuthRequestContext, params: LoginParams) -> Result<LoginAction, String> {
        const M: &str = "begin_login";
        if !self.defines(Cap::Auth, M).map_err(text)? {
            return Err(LOGIN_UNSUPPORTED.into());
        }
        let params = LoginParamsJson { return_to: params.return_to.as_deref(), inputs: &params.inputs };
        let args = [self.json_arg(M, &auth_context(ctx)).map_err(text)?, self.json_arg(M, &params).map_err(text)?];
        let action: LoginActionJson = self.call_json_required(Cap::Auth, M, &args, "a login action").map_err(text)?;
        Ok(match action {
            LoginActionJson::Redirect { url } => {
                LoginAction::Redirect { url: self.checked_url(M, url, UrlShape::AbsoluteOrPath).map_err(text)? }
            }
            LoginActionJson::Prompt { message } => LoginAction::Prompt { message },
            LoginActionJson::Complete { user } => LoginAction::Complete { user },
        })
    }

    fn complete_login(&self, ctx: &AuthRequestContext, callback: CallbackData) -> Result<AuthUser, String> {
        const M: &str = "complete_login";
        if !self.defines(Cap::Auth, M).map_err(text)? {
            return Err(LOGIN_UNSUPPORTED.into());
        }
        let callback = CallbackJson {
            query: &callback.query,
            form: &callback.form,
            body: String::from_utf8_lossy(&callback.body).into_owned(),
        };
        let args = [self.json_arg(M, &auth_context(ctx)).map_err(text)?, self.json_arg(M, &callback).map_err(text)?];
        self.call_json_required(Cap::Auth, M, &args, "an AuthUser").map_err(text)
    }

    fn logout(&self, ctx: &AuthRequestContext) -> Result<(), String> {
        const M: &str = "logout";
        let ctx = self.json_arg(M, &auth_context(ctx)).map_err(text)?;
        self.ext_unit(Cap::Auth, M, &[ctx], true).map_err(text)
    }
}

// ---------------------------------------------------------------- Session

/// Codes: `not_found` → `NotFound`, `invalid` → `Invalid`; else `Backend`.
fn session_error(e: Error) -> SessionError {
    match error_code(&e) {
        Some("not_found") => SessionError::NotFound,
        Some("invalid") => SessionError::Invalid(e.to_string()),
        _ => SessionError::Backend(e.to_string()),
    }
}

/// `CreateOptions` as the script sees it.
#[derive(Serialize)]
struct CreateOptionsJson<'a> {
    user_id: Option<&'a str>,
    data_json: &'a str,
    ttl_ms: u64,
}

impl SessionPlugin for LuaPlugin {
    fn name(&self) -> &str {
        LuaPlugin::name(self)
    }

    fn create(&self, opts: CreateOptions) -> Result<SessionId, SessionError> {
        const M: &str = "create";
        let opts = CreateOptionsJson { user_id: opts.user_id.as_deref(), data_json: &opts.data_json, ttl_ms: opts.ttl_ms };
        let opts = self.json_arg(M, &opts).map_err(session_error)?;
        self.call_json_required(Cap::Session, M, &[opts], "a session id").map_err(session_error)
    }

    /// nil is `NotFound`.
    fn read(&self, id: &SessionId) -> Result<SessionRecord, SessionError> {
        self.call_json(Cap::Session, "read", &[id.as_str().into()], "a SessionRecord")
            .map_err(session_error)?
            .ok_or(SessionError::NotFound)
    }

    /// The new id, or nil for the same id.
    fn update(&self, id: &SessionId, data_json: &str) -> Result<SessionId, SessionError> {
        let new = self.call_json(Cap::Session, "update", &[id.as_str().into(), data_json.into()], "a session id");
        Ok(new.map_err(session_error)?.unwrap_or_else(|| id.clone()))
    }

    /// The new id, or nil for the same id.
    fn touch(&self, id: &SessionId, ttl_ms: u64) -> Result<SessionId, SessionError> {
        let new = self.call_json(Cap::Session, "touch", &[id.as_str().into(), ttl_ms.into()], "a session id");
        Ok(new.map_err(session_error)?.unwrap_or_else(|| id.clone()))
    }

    fn delete(&self, id: &SessionId) -> Result<(), SessionError> {
        self.ext_unit(Cap::Session, "delete", &[id.as_str().into()], false).map_err(session_error)
    }

    fn is_healthy(&self) -> bool {
        self.ext_healthy(Cap::Session)
    }
}

// ---------------------------------------------------------------- Mailer

/// Codes: `invalid_message`, `unauthorized`, `rejected`, `transport`,
/// `rate_limited` pick those variants; anything else is `Unknown`.
fn mailer_error(e: Error) -> MailerError {
    mailer_error_kind(error_code(&e), e.to_string())
}

fn mailer_error_kind(code: Option<&str>, message: String) -> MailerError {
    match code {
        Some("invalid_message") => MailerError::InvalidMessage(message),
        Some("unauthorized") => MailerError::Unauthorized(message),
        Some("rejected") => MailerError::Rejected(message),
        Some("transport") => MailerError::Transport(message),
        Some("rate_limited") => MailerError::RateLimited(message),
        _ => MailerError::Unknown(message),
    }
}

/// A send result: `{"id":...}`, or the id as a string.
fn send_outcome(plugin: &LuaPlugin, method: &str, value: Value) -> Result<SendOutcome, Error> {
    match value {
        Value::String(id) => Ok(SendOutcome { id }),
        other => plugin.decode_value(method, other, "a SendOutcome"),
    }
}

impl MailerPlugin for LuaPlugin {
    fn name(&self) -> &str {
        LuaPlugin::name(self)
    }

    fn send(&self, msg: Message) -> Result<SendOutcome, MailerError> {
        const M: &str = "send";
        let msg = self.json_arg(M, &msg).map_err(mailer_error)?;
        let value = self.call_value(Cap::Mailer, M, &[msg]).map_err(mailer_error)?;
        let value = value.ok_or_else(|| self.wrong_type(M, "a SendOutcome", &Output::Nil)).map_err(mailer_error)?;
        send_outcome(self, M, value).map_err(mailer_error)
    }

    /// The script's `send_batch(messages)` when defined: an array with one
    /// entry per message, `{"id":...}` (or the id) or
    /// `{"error":"...","kind":"rejected"}` (`kind` as the error codes).
    /// Otherwise the trait default: `send` per message.
    fn send_batch(&self, msgs: Vec<Message>) -> Vec<BatchOutcome> {
        const M: &str = "send_batch";
        match self.defines(Cap::Mailer, M) {
            Ok(false) => return msgs.into_iter().map(|m| MailerPlugin::send(self, m)).collect(),
            Ok(true) => {}
            Err(e) => return msgs.iter().map(|_| Err(mailer_error(e.clone()))).collect(),
        }
        let count = msgs.len();
        let result = self.json_arg(M, &msgs).and_then(|arg| self.call_value(Cap::Mailer, M, &[arg]));
        let entries = match result {
            Ok(Some(Value::Array(entries))) if entries.len() == count => entries,
            Ok(Some(Value::Object(empty))) if empty.is_empty() && count == 0 => Vec::new(),
            Ok(other) => {
                let found = other.map_or("nil".to_string(), |v| super::json_kind(&v).to_string());
                let e = self.bad_envelope(M, format!("expected an array of {count} outcomes, got {found}"));
                return (0..count).map(|_| Err(mailer_error(e.clone()))).collect();
            }
            Err(e) => return (0..count).map(|_| Err(mailer_error(e.clone()))).collect(),
        };
        entries
            .into_iter()
            .map(|entry| match entry {
                Value::Object(map) if map.contains_key("error") => {
                    let message = match map.get("error") {
                        Some(Value::String(s)) => s.clone(),
                        other => other.map(Value::to_string).unwrap_or_default(),
                    };
                    let message = format!("lua plugin `{}`: {M}: {message}", self.name());
                    Err(mailer_error_kind(map.get("kind").and_then(Value::as_str), message))
                }
                other => send_outcome(self, M, other).map_err(mailer_error),
            })
            .collect()
    }

    fn is_healthy(&self) -> bool {
        self.ext_healthy(Cap::Mailer)
    }
}

// ---------------------------------------------------------------- Tracer

/// `SpanHandle` as the script sees it: lowercase hex,
/// `{"trace_id":"<32 hex>","span_id":"<16 hex>"}`.
#[derive(Serialize, Deserialize)]
struct SpanHandleJson {
    trace_id: String,
    span_id: String,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Exactly `2 * N` lowercase hex digits, the documented shape (a bare
/// `from_str_radix` would also take `+f` pairs and uppercase).
fn unhex<const N: usize>(text: &str) -> Option<[u8; N]> {
    if text.len() != 2 * N || !text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    let mut out = [0u8; N];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

fn span_json(span: SpanHandle) -> SpanHandleJson {
    SpanHandleJson { trace_id: hex(&span.trace_id), span_id: hex(&span.span_id) }
}

/// `SpanStart` as the script sees it; `attributes` are `[key, value]` pairs.
#[derive(Serialize)]
struct SpanStartJson<'a> {
    name: &'a str,
    kind: SpanKind,
    parent: Option<SpanHandleJson>,
    attributes: &'a [(String, AttrValue)],
    start_time_unix_nanos: Option<u64>,
}

/// `SpanEvent` as the script sees it.
#[derive(Serialize)]
struct SpanEventJson<'a> {
    name: &'a str,
    attributes: &'a [(String, AttrValue)],
    time_unix_nanos: Option<u64>,
}

impl LuaPlugin {
    /// A tracer call whose trait method returns nothing: errors are logged.
    fn tracer_call(&self, method: &str, args: Result<Vec<JsonArg<'_>>, Error>) {
        if let Err(e) = args.and_then(|args| self.call_ext(Cap::Tracer, method, &args)) {
            log_swallowed(&e, "dropping the span update");
        }
    }
}

impl TracerPlugin for LuaPlugin {
    fn name(&self) -> &str {
        LuaPlugin::name(self)
    }

    /// The handle the script returns; on error (logged)
    /// `SpanHandle::INVALID`.
    fn start_span(&self, span: SpanStart<'_>) -> SpanHandle {
        const M: &str = "start_span";
        let start = SpanStartJson {
            name: span.name,
            kind: span.kind,
            parent: span.parent.map(span_json),
            attributes: &span.attributes,
            start_time_unix_nanos: span.start_time_unix_nanos,
        };
        let result = self.json_arg(M, &start).and_then(|arg| {
            let handle: SpanHandleJson = self.call_json_required(Cap::Tracer, M, &[arg], "a span handle")?;
            match (unhex::<16>(&handle.trace_id), unhex::<8>(&handle.span_id)) {
                (Some(trace_id), Some(span_id)) => Ok(SpanHandle { trace_id, span_id }),
                _ => Err(self.bad_envelope(M, "trace_id must be 32 and span_id 16 hex digits".into())),
            }
        });
        result.unwrap_or_else(|e| {
            log_swallowed(&e, "returning an invalid span");
            SpanHandle::INVALID
        })
    }

    fn set_attribute(&self, span: SpanHandle, key: &str, value: AttrValue) {
        const M: &str = "set_attribute";
        let args = (|| Ok(vec![self.json_arg(M, &span_json(span))?, key.into(), self.json_arg(M, &value)?]))();
        self.tracer_call(M, args)
    }

    fn set_status(&self, span: SpanHandle, status: SpanStatus) {
        const M: &str = "set_status";
        let args = (|| Ok(vec![self.json_arg(M, &span_json(span))?, self.json_arg(M, &status)?]))();
        self.tracer_call(M, args)
    }

    fn add_event(&self, span: SpanHandle, event: SpanEvent<'_>) {
        const M: &str = "add_event";
        let event = SpanEventJson { name: event.name, attributes: &event.attributes, time_unix_nanos: event.time_unix_nanos };
        let args = (|| Ok(vec![self.json_arg(M, &span_json(span))?, self.json_arg(M, &event)?]))();
        self.tracer_call(M, args)
    }

    fn end_span(&self, span: SpanHandle, end_time_unix_nanos: Option<u64>) {
        const M: &str = "end_span";
        let args = self.json_arg(M, &span_json(span)).map(|handle| vec![handle, end_time_unix_nanos.into()]);
        self.tracer_call(M, args)
    }

    fn flush(&self) -> Result<(), String> {
        self.ext_unit(Cap::Tracer, "flush", &[], false).map_err(text)
    }
}

// ---------------------------------------------------------------- Scheduled

/// `ScheduledRunCtx` as the script sees it.
#[derive(Serialize)]
struct RunContextJson<'a> {
    schedule_id: &'a str,
    scheduled_at_ms: u64,
    run_count: u64,
    is_catchup: bool,
    tenant_id: Option<&'a str>,
    site_id: Option<&'a str>,
}

impl ScheduledPlugin for LuaPlugin {
    fn name(&self) -> &str {
        LuaPlugin::name(self)
    }

    /// The script's `priority` field, else 1000.
    fn priority(&self) -> u32 {
        self.priority_for(Cap::Scheduled)
    }

    /// An array of `Schedule`s; nil is none.
    fn schedules(&self) -> Result<Vec<Schedule>, String> {
        let schedules = self.call_json(Cap::Scheduled, "schedules", &[], "an array of Schedules").map_err(text)?;
        Ok(schedules.unwrap_or_default())
    }

    fn run(&self, ctx: &ScheduledRunCtx) -> Result<(), String> {
        const M: &str = "run";
        let ctx = RunContextJson {
            schedule_id: &ctx.schedule_id,
            scheduled_at_ms: ctx.scheduled_at_ms,
            run_count: ctx.run_count,
            is_catchup: ctx.is_catchup,
            tenant_id: ctx.tenant_id.as_deref(),
            site_id: ctx.site_id.as_deref(),
        };
        let ctx = self.json_arg(M, &ctx).map_err(text)?;
        self.ext_unit(Cap::Scheduled, M, &[ctx], false).map_err(text)
    }

    fn cleanup(&self) -> Result<(), String> {
        self.ext_unit(Cap::Scheduled, CLEANUP, &[], true).map_err(text)
    }
}

// ---------------------------------------------------------------- Webhook

/// Codes: `missing_header`, `malformed_payload`, `invalid_signature`,
/// `replay_detected` pick those variants; anything else is `Backend`.
fn webhook_error(e: Error) -> WebhookError {
    let message = e.to_string();
    match error_code(&e) {
        Some("missing_header") => WebhookError::MissingHeader(message),
        Some("malformed_payload") => WebhookError::MalformedPayload(message),
        Some("invalid_signature") => WebhookError::InvalidSignature(message),
        Some("replay_detected") => WebhookError::ReplayDetected(message),
        _ => WebhookError::Backend(message),
    }
}

/// `WebhookRequest` as the script sees it, without the body (the body is
/// the second argument, its exact bytes as a Lua string).
#[derive(Serialize)]
struct WebhookRequestJson<'a> {
    url: &'a str,
    method: &'a str,
    headers: &'a [(String, String)],
    received_at_ms: u64,
}

impl WebhookPlugin for LuaPlugin {
    /// The plugin's name.
    fn provider(&self) -> &str {
        LuaPlugin::name(self)
    }

    /// The script's `scheme()` (`"hmac_body"`, `"hmac_timestamped_body"`,
    /// `"hmac_url_form_fields"`); on error (logged) `HmacBody`.
    fn scheme(&self) -> WebhookSchemeKind {
        self.call_json_required(Cap::Webhook, "scheme", &[], "a webhook scheme").unwrap_or_else(|e| {
            log_swallowed(&e, "assuming hmac_body");
            WebhookSchemeKind::HmacBody
        })
    }

    /// `verify(self, request_json, body)` must return `true` to accept;
    /// `false` or nil is `InvalidSignature`.
    fn verify(&self, req: &WebhookRequest) -> Result<(), WebhookError> {
        const M: &str = "verify";
        let json = WebhookRequestJson { url: &req.url, method: &req.method, headers: &req.headers, received_at_ms: req.received_at_ms };
        let json = self.json_arg(M, &json).map_err(webhook_error)?;
        match self.call_ext(Cap::Webhook, M, &[json, JsonArg::Bytes(&req.body)]).map_err(webhook_error)? {
            Output::Bool(true) => Ok(()),
            Output::Bool(false) | Output::Nil => Err(WebhookError::InvalidSignature(format!(
                "lua plugin `{}`: {M}: the signature does not match",
                self.name()
            ))),
            other => Err(webhook_error(self.wrong_type(M, "true, false or nil", &other))),
        }
    }

    fn is_healthy(&self) -> bool {
        self.ext_healthy(Cap::Webhook)
    }
}

// ---------------------------------------------------------------- FeatureFlag

/// `FlagContext` as the script sees it.
#[derive(Serialize)]
struct FlagContextJson<'a> {
    user_id: Option<&'a str>,
    attributes: &'a HashMap<String, String>,
}

impl LuaPlugin {
    /// A flag value: a boolean, an integer, a string, a tagged
    /// `{"kind":"json","value":"..."}`, or any other table (its JSON text,
    /// `FlagValue::Json`).
    fn flag_value(&self, method: &str, value: Value) -> Result<FlagValue, Error> {
        match value {
            Value::Bool(b) => Ok(FlagValue::Bool(b)),
            Value::String(s) => Ok(FlagValue::String(s)),
            Value::Number(n) => n
                .as_i64()
                .map(FlagValue::Int)
                .ok_or_else(|| self.bad_envelope(method, format!("a flag number must be an integer, got {n}"))),
            Value::Object(ref map) if map.contains_key("kind") => self.decode_value(method, value, "a FlagValue"),
            other => Ok(FlagValue::Json(other.to_string())),
        }
    }
}

impl FeatureFlagPlugin for LuaPlugin {
    fn name(&self) -> &str {
        LuaPlugin::name(self)
    }

    fn evaluate(&self, key: &str, ctx: &FlagContext) -> Result<FlagValue, String> {
        const M: &str = "evaluate";
        let ctx = self.json_arg(M, &FlagContextJson { user_id: ctx.user_id.as_deref(), attributes: &ctx.attributes }).map_err(text)?;
        let value = self.call_value(Cap::FeatureFlag, M, &[key.into(), ctx]).map_err(text)?;
        let value = value.ok_or_else(|| self.wrong_type(M, "a flag value", &Output::Nil)).map_err(text)?;
        self.flag_value(M, value).map_err(text)
    }

    /// The script's `evaluate_batch(keys, ctx)` (an object of key → flag
    /// value) when defined; else `evaluate` per key.
    fn evaluate_batch(&self, keys: &[&str], ctx: &FlagContext) -> Result<HashMap<String, FlagValue>, String> {
        const M: &str = "evaluate_batch";
        if !self.defines(Cap::FeatureFlag, M).map_err(text)? {
            let mut out = HashMap::with_capacity(keys.len());
            for key in keys {
                out.insert((*key).to_string(), FeatureFlagPlugin::evaluate(self, key, ctx)?);
            }
            return Ok(out);
        }
        let flag_ctx = FlagContextJson { user_id: ctx.user_id.as_deref(), attributes: &ctx.attributes };
        let args = [self.json_arg(M, &keys).map_err(text)?, self.json_arg(M, &flag_ctx).map_err(text)?];
        let map: serde_json::Map<String, Value> =
            self.call_json(Cap::FeatureFlag, M, &args, "an object of flag values").map_err(text)?.unwrap_or_default();
        map.into_iter().map(|(k, v)| Ok((k, self.flag_value(M, v).map_err(text)?))).collect()
    }

    fn refresh(&self) -> Result<(), String> {
        self.ext_unit(Cap::FeatureFlag, "refresh", &[], true).map_err(text)
    }

    fn is_healthy(&self) -> bool {
        self.ext_healthy(Cap::FeatureFlag)
    }
}

// ---------------------------------------------------------------- I18n

/// Codes: `locale_unavailable`, `format_error`, `unavailable` pick those
/// variants; a missing method or capability is `Unavailable`; anything
/// else is `Unknown`.
fn i18n_error(e: Error) -> I18nError {
    let message = e.to_string();
    match (error_code(&e), &e) {
        (Some("locale_unavailable"), _) => I18nError::LocaleUnavailable(message),
        (Some("format_error"), _) => I18nError::FormatError(message),
        (Some("unavailable"), _) | (_, Error::MissingMethod { .. } | Error::CapabilityNotProvided { .. }) => {
            I18nError::Unavailable(message)
        }
        _ => I18nError::Unknown(message),
    }
}

impl I18nPlugin for LuaPlugin {
    fn name(&self) -> &str {
        LuaPlugin::name(self)
    }

    /// `vars` in its serde form: `{"name":{"type":"string","value":"Ada"}}`.
    fn translate(&self, key: &str, locale: &str, vars: &TransVars) -> Result<String, I18nError> {
        const M: &str = "translate";
        let vars = self.json_arg(M, vars).map_err(i18n_error)?;
        match self.call_ext(Cap::I18n, M, &[key.into(), locale.into(), vars]).map_err(i18n_error)? {
            out @ Output::Str(_) => Ok(self.expect_optional_string(M, out).map_err(i18n_error)?.unwrap_or_default()),
            other => Err(i18n_error(self.wrong_type(M, "a string", &other))),
        }
    }

    /// An array of locale tags; on error (logged) none.
    fn supported_locales(&self) -> Vec<String> {
        let locales = self.call_json(Cap::I18n, "supported_locales", &[], "an array of locale strings");
        locales.map(Option::unwrap_or_default).unwrap_or_else(|e| {
            log_swallowed(&e, "reporting no locales");
            Vec::new()
        })
    }

    /// A locale tag; on error (logged) `"en"`.
    fn fallback_locale(&self) -> String {
        self.call_json_required(Cap::I18n, "fallback_locale", &[], "a locale string").unwrap_or_else(|e| {
            log_swallowed(&e, "falling back to en");
            "en".into()
        })
    }

    /// The script's `has_locale(locale)` when defined; else whether
    /// `supported_locales` holds it (ASCII case-insensitive).
    fn has_locale(&self, locale: &str) -> bool {
        const M: &str = "has_locale";
        let result = self.defines(Cap::I18n, M).and_then(|defined| match defined {
            true => self.call_ext(Cap::I18n, M, &[locale.into()]).and_then(|out| self.expect_truthy(M, out)).map(Some),
            false => Ok(None),
        });
        match result {
            Ok(Some(has)) => has,
            Ok(None) => self.supported_locales().iter().any(|l| l.eq_ignore_ascii_case(locale)),
            Err(e) => {
                log_swallowed(&e, "reporting the locale missing");
                false
            }
        }
    }

    /// The script's `negotiate(requested)` when defined; else the trait's
    /// algorithm (drop `-subtags` until a supported locale, else the
    /// fallback).
    fn negotiate(&self, requested: &str) -> String {
        const M: &str = "negotiate";
        match self.defines(Cap::I18n, M) {
            Ok(true) => {
                return self.call_json_required(Cap::I18n, M, &[requested.into()], "a locale string").unwrap_or_else(|e| {
                    log_swallowed(&e, "using the fallback locale");
                    self.fallback_locale()
                })
            }
            Ok(false) => {}
            Err(e) => {
                log_swallowed(&e, "using the fallback locale");
                return self.fallback_locale();
            }
        }
        let mut candidate = requested.to_owned();
        loop {
            if self.has_locale(&candidate) {
                return candidate;
            }
            match candidate.rfind('-') {
                Some(idx) => candidate.truncate(idx),
                None => return self.fallback_locale(),
            }
        }
    }
}

// ---------------------------------------------------------------- StorageClient

/// Codes: `not_found`, `access_denied`, `quota_exceeded` pick those
/// variants; anything else is `Backend`.
fn storage_error(e: Error) -> StorageError {
    match error_code(&e) {
        Some("not_found") => StorageError::NotFound,
        Some("access_denied") => StorageError::AccessDenied,
        Some("quota_exceeded") => StorageError::QuotaExceeded,
        _ => StorageError::Backend(e.to_string()),
    }
}

/// `PutOpts` as the script sees it.
#[derive(Serialize)]
struct PutOptsJson<'a> {
    content_type: &'a str,
    cache_control: &'a str,
    metadata: &'a [(String, String)],
}

/// A `list_page` result: `{"objects":[Object...],"next":"token"|null}`.
#[derive(Deserialize)]
struct PageJson {
    #[serde(default)]
    objects: Vec<Object>,
    #[serde(default)]
    next: Option<String>,
}

impl StorageClientPlugin for LuaPlugin {
    fn name(&self) -> &str {
        LuaPlugin::name(self)
    }

    /// The object's bytes as a Lua string; nil is `NotFound`.
    fn get(&self, key: &str) -> Result<Vec<u8>, StorageError> {
        const M: &str = "get";
        match self.call_ext(Cap::StorageClient, M, &[key.into()]).map_err(storage_error)? {
            Output::Str(bytes) => Ok(bytes),
            Output::Nil => Err(StorageError::NotFound),
            other => Err(storage_error(self.wrong_type(M, "a string or nil", &other))),
        }
    }

    fn put(&self, key: &str, body: Vec<u8>, opts: PutOpts) -> Result<(), StorageError> {
        const M: &str = "put";
        let opts = PutOptsJson { content_type: &opts.content_type, cache_control: &opts.cache_control, metadata: &opts.metadata };
        let opts = self.json_arg(M, &opts).map_err(storage_error)?;
        self.ext_unit(Cap::StorageClient, M, &[key.into(), JsonArg::Bytes(&body), opts], false).map_err(storage_error)
    }

    fn delete(&self, key: &str) -> Result<(), StorageError> {
        self.ext_unit(Cap::StorageClient, "delete", &[key.into()], false).map_err(storage_error)
    }

    /// nil is an empty last page.
    fn list_page(&self, prefix: &str, continuation_token: Option<&str>) -> Result<(Vec<Object>, Option<String>), StorageError> {
        let page: Option<PageJson> = self
            .call_json(Cap::StorageClient, "list_page", &[prefix.into(), continuation_token.into()], "a page of objects")
            .map_err(storage_error)?;
        let (objects, next) = page.map_or((Vec::new(), None), |p| (p.objects, p.next));
        for object in &objects {
            check_header_value("etag", &object.etag).map_err(|m| storage_error(self.bad_envelope("list_page", m)))?;
        }
        Ok((objects, next))
    }

    fn presigned_url(&self, key: &str, op: PresignOp, ttl_secs: u64) -> Result<String, StorageError> {
        const M: &str = "presigned_url";
        let op = self.json_arg(M, &op).map_err(storage_error)?;
        let url = self
            .call_json_required(Cap::StorageClient, M, &[key.into(), op, ttl_secs.into()], "a URL string")
            .map_err(storage_error)?;
        self.checked_url(M, url, UrlShape::Absolute).map_err(storage_error)
    }

    fn is_healthy(&self) -> bool {
        self.ext_healthy(Cap::StorageClient)
    }
}

// ---------------------------------------------------------------- SearchClient

/// Codes: `index_not_found`, `access_denied`, `bad_query` pick those
/// variants; anything else is `Backend`.
fn search_error(e: Error) -> SearchError {
    let message = e.to_string();
    match error_code(&e) {
        Some("index_not_found") => SearchError::IndexNotFound(message),
        Some("access_denied") => SearchError::AccessDenied(message),
        Some("bad_query") => SearchError::BadQuery(message),
        _ => SearchError::Backend(message),
    }
}

impl SearchClientPlugin for LuaPlugin {
    fn name(&self) -> &str {
        LuaPlugin::name(self)
    }

    fn search(&self, index: &str, query: &SearchQuery) -> Result<SearchResults, SearchError> {
        const M: &str = "search";
        let query = self.json_arg(M, query).map_err(search_error)?;
        self.call_json_required(Cap::SearchClient, M, &[index.into(), query], "SearchResults").map_err(search_error)
    }

    fn index(&self, index: &str, docs: Vec<Document>) -> Result<(), SearchError> {
        const M: &str = "index";
        let docs = self.json_arg(M, &docs).map_err(search_error)?;
        self.ext_unit(Cap::SearchClient, M, &[index.into(), docs], false).map_err(search_error)
    }

    fn delete(&self, index: &str, ids: Vec<String>) -> Result<(), SearchError> {
        const M: &str = "delete";
        let ids = self.json_arg(M, &ids).map_err(search_error)?;
        self.ext_unit(Cap::SearchClient, M, &[index.into(), ids], false).map_err(search_error)
    }

    fn is_healthy(&self) -> bool {
        self.ext_healthy(Cap::SearchClient)
    }
}

// ---------------------------------------------------------------- AuthzPolicy

/// `PolicyContext` as the script sees it.
#[derive(Serialize)]
struct PolicyContextJson<'a> {
    action: &'a str,
    resource: &'a str,
    principal: Option<&'a str>,
    attributes: &'a HashMap<String, String>,
}

/// A decision from the script: `{"decision":"allow"}`,
/// `{"decision":"deny","reason":...}` or
/// `{"decision":"mutate","headers":[[k,v]],"body":"..."}`.
#[derive(Deserialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
enum DecisionJson {
    Allow,
    Deny {
        #[serde(default)]
        reason: String,
    },
    Mutate {
        #[serde(default)]
        headers: Vec<(String, String)>,
        #[serde(default)]
        body: Option<String>,
    },
}

impl LuaPlugin {
    fn try_policy(&self, ctx: &PolicyContext) -> Result<PolicyDecision, Error> {
        const M: &str = "evaluate";
        let json = PolicyContextJson {
            action: &ctx.action,
            resource: &ctx.resource,
            principal: ctx.principal.as_deref(),
            attributes: &ctx.attributes,
        };
        let json = self.json_arg(M, &json)?;
        let denied = || PolicyDecision::Deny { reason: format!("denied by policy `{}`", self.name()) };
        Ok(match self.call_value(Cap::AuthzPolicy, M, &[json])? {
            Some(Value::Bool(true)) => PolicyDecision::Allow,
            None | Some(Value::Bool(false)) => denied(),
            Some(Value::String(s)) if s == "allow" => PolicyDecision::Allow,
            Some(Value::String(s)) if s == "deny" => denied(),
            Some(value) => match self.decode_value(M, value, "a policy decision")? {
                DecisionJson::Allow => PolicyDecision::Allow,
                DecisionJson::Deny { reason } => PolicyDecision::Deny { reason },
                DecisionJson::Mutate { headers, body } => {
                    for (name, value) in &headers {
                        check_header(name, value).map_err(|m| self.bad_envelope(M, m))?;
                    }
                    PolicyDecision::Mutate { headers, body: body.map(String::into_bytes) }
                }
            },
        })
    }
}

impl AuthzPolicyPlugin for LuaPlugin {
    fn name(&self) -> &str {
        LuaPlugin::name(self)
    }

    /// `true`/`"allow"` allow; `false`, nil or `"deny"` deny; or a decision
    /// object. Fails closed: an error (logged) is a `Deny` carrying it.
    fn evaluate(&self, ctx: &PolicyContext) -> PolicyDecision {
        self.try_policy(ctx).unwrap_or_else(|e| {
            log_swallowed(&e, "denying");
            PolicyDecision::Deny { reason: e.to_string() }
        })
    }

    fn reload_policies(&self) -> Result<(), String> {
        self.ext_unit(Cap::AuthzPolicy, "reload_policies", &[], false).map_err(text)
    }

    fn cleanup(&self) -> Result<(), String> {
        self.ext_unit(Cap::AuthzPolicy, CLEANUP, &[], true).map_err(text)
    }
}

// ---------------------------------------------------------------- Locking

impl LockingPlugin for LuaPlugin {
    fn name(&self) -> &str {
        LuaPlugin::name(self)
    }

    /// A `LockHandle` (`{"key","lock_id","ttl_ms"}`), or just the lock id as
    /// a string; nil or `false` when the lock is held elsewhere.
    fn try_lock(&self, key: &str, ttl_ms: u64) -> Result<Option<LockHandle>, String> {
        const M: &str = "try_lock";
        match self.call_value(Cap::Locking, M, &[key.into(), ttl_ms.into()]).map_err(text)? {
            None | Some(Value::Bool(false)) => Ok(None),
            Some(Value::String(lock_id)) => Ok(Some(LockHandle { key: key.into(), lock_id, ttl_ms })),
            Some(value) => self.decode_value(M, value, "a LockHandle").map(Some).map_err(text),
        }
    }

    fn renew(&self, handle: &LockHandle) -> Result<(), String> {
        const M: &str = "renew";
        let handle = self.json_arg(M, handle).map_err(text)?;
        self.ext_unit(Cap::Locking, M, &[handle], false).map_err(text)
    }

    fn release(&self, handle: LockHandle) -> Result<(), String> {
        const M: &str = "release";
        let handle = self.json_arg(M, &handle).map_err(text)?;
        self.ext_unit(Cap::Locking, M, &[handle], false).map_err(text)
    }

    fn cleanup(&self) -> Result<(), String> {
        self.ext_unit(Cap::Locking, CLEANUP, &[], true).map_err(text)
    }
}
