//! `MiddlewarePlugin`: `on_request(self, ctx_json)` and
//! `on_response(self, arg_json)`.
//!
//! * `ctx_json` carries the `RequestContext` fields: `method`, `path`,
//!   `hostname`, `headers` (`[[name, value], ...]`, order and duplicates
//!   kept), `query_string`, `peer_ip`, `tenant_id`, `site_id` (string or
//!   null) and `extensions` (object of strings).
//! * `on_request` returns an action: the string `bext.middleware_continue()`
//!   or `bext.middleware_respond(envelope_json)` made, nil (continue), or
//!   nothing after calling one of them. Actions are JSON:
//!   `{"action":"continue","extensions":{...}?}` or
//!   `{"action":"respond","response":{"status":429,"headers":[["retry-after","60"]],"body":"slow down"}}`.
//!   Extensions (`bext.middleware_continue(extensions_json)` or
//!   `bext.middleware_respond(envelope_json, extensions_json)`) are merged
//!   into `RequestContext.extensions` (non-string values as JSON text), so
//!   the server and every later `on_response` (whose argument carries the
//!   request) see them. A table is not an action: the helpers make actions.
//! * `on_response` gets `{"status":N,"headers":[[k,v],...],"request":ctx}`
//!   and returns nil (unchanged) or a JSON object (a string or a table)
//!   whose `status` and/or `headers` replace the response's. A script without
//!   `on_response` leaves responses unchanged.

use super::header_rules::check_extension;
use super::output::json_kind;
use super::parse_headers;
use super::request_json::RequestJson;
use crate::error::Error;
use crate::guest::abi::{Arg, Output};
use crate::guest::call_mode::{CallMode, run_sync};
use crate::plugin::LuaPlugin;
use bext_plugin_api::MiddlewarePlugin;
use bext_plugin_api::middleware::{PluginResponse, RequestAction, RequestContext, ResponseHeaders};
use bext_plugin_api::types::PluginCapability;
use serde::Serialize;
use serde_json::Value;

const ON_REQUEST: &str = "on_request";
const ON_RESPONSE: &str = "on_response";

#[derive(Serialize)]
struct ResponseJson<'a> {
    status: u16,
    headers: &'a [(String, String)],
    request: RequestJson<'a>,
}

/// `ctx` as the JSON `on_request` receives: the `RequestContext` fields, in
/// order, `headers` as `[[name, value], ...]`. Benchmarks and tools use it to
/// give native Lua the identical input.
pub fn request_context_json(ctx: &RequestContext) -> String {
    serde_json::to_string(&RequestJson::from(ctx)).expect("string fields always serialise")
}

impl LuaPlugin {
    /// `on_request` with the typed [`Error`]; the trait method returns its
    /// text.
    pub fn try_on_request(&self, ctx: &mut RequestContext) -> Result<RequestAction, Error> {
        run_sync(self.on_request_in(CallMode::Sync, ctx))
    }

    /// [`try_on_request`](Self::try_on_request) for async servers: the
    /// guest yields to the executor at every epoch tick, and dropping the
    /// future cancels the call (see the README's "Async servers"). The
    /// future is `Send`.
    pub async fn try_on_request_async(
        &self,
        ctx: &mut RequestContext,
    ) -> Result<RequestAction, Error> {
        self.on_request_in(CallMode::Async, ctx).await
    }

    async fn on_request_in(
        &self,
        mode: CallMode,
        ctx: &mut RequestContext,
    ) -> Result<RequestAction, Error> {
        let ctx_json = self.on_request_arg(ctx)?;
        let out = self
            .call_in_from(
                mode,
                ctx.peer_ip.as_deref(),
                ON_REQUEST,
                &[Arg::from(ctx_json.as_str())],
            )
            .await?;
        self.apply_action(ctx, out)
    }

    /// `on_response` with the typed [`Error`].
    pub fn try_on_response(
        &self,
        ctx: &RequestContext,
        response: &mut ResponseHeaders,
    ) -> Result<(), Error> {
        run_sync(self.on_response_in(CallMode::Sync, ctx, response))
    }

    /// [`try_on_response`](Self::try_on_response) for async servers.
    pub async fn try_on_response_async(
        &self,
        ctx: &RequestContext,
        response: &mut ResponseHeaders,
    ) -> Result<(), Error> {
        self.on_response_in(CallMode::Async, ctx, response).await
    }

    async fn on_response_in(
        &self,
        mode: CallMode,
        ctx: &RequestContext,
        response: &mut ResponseHeaders,
    ) -> Result<(), Error> {
        let Some(arg_json) = self.on_response_arg(ctx, response)? else {
            return Ok(());
        };
        let out = self
            .call_in_from(
                mode,
                ctx.peer_ip.as_deref(),
                ON_RESPONSE,
                &[Arg::from(arg_json.as_str())],
            )
            .await?;
        self.apply_response_change(response, out)
    }

    fn on_request_arg(&self, ctx: &RequestContext) -> Result<String, Error> {
        self.require_capability(PluginCapability::Middleware)?;
        self.to_json(ON_REQUEST, &RequestJson::from(ctx))
    }

    /// `on_response`'s argument, or `None` when the script has no
    /// `on_response` (the response stays unchanged).
    fn on_response_arg(
        &self,
        ctx: &RequestContext,
        response: &ResponseHeaders,
    ) -> Result<Option<String>, Error> {
        self.require_capability(PluginCapability::Middleware)?;
        if !self.has_method(ON_RESPONSE) {
            return Ok(None);
        }
        let arg = ResponseJson {
            status: response.status,
            headers: &response.headers,
            request: ctx.into(),
        };
        self.to_json(ON_RESPONSE, &arg).map(Some)
    }

    fn apply_response_change(
        &self,
        response: &mut ResponseHeaders,
        out: Output,
    ) -> Result<(), Error> {
        let Some(text) = self.expect_optional_json_text(
            ON_RESPONSE,
            out,
            "a JSON object (a string or a table) or nil",
        )?
        else {
            return Ok(());
        };
        let change = self.parse_json_bounded(ON_RESPONSE, text.as_bytes())?;
        parse_response_change(&change)
            .map_err(|m| self.bad_envelope(ON_RESPONSE, m))?
            .apply(response);
        Ok(())
    }

    /// `value` as JSON text within the payload limit (see `bounded_json.rs`).
    pub(crate) fn to_json(&self, method: &str, value: &impl Serialize) -> Result<String, Error> {
        let text = self.json_text_bounded(method, value)?;
        String::from_utf8(text).map_err(|e| self.bad_input(method, e.to_string()))
    }

    fn apply_action(&self, ctx: &mut RequestContext, out: Output) -> Result<RequestAction, Error> {
        // Strings only: the helpers make actions, a table is not one.
        let Some(text) = self.expect_optional_string(ON_REQUEST, out)? else {
            return Ok(RequestAction::Continue);
        };
        let action = self.parse_json_bounded(ON_REQUEST, text.as_bytes())?;
        Ok(parse_middleware_action(&action)
            .map_err(|m| self.bad_envelope(ON_REQUEST, m))?
            .apply(ctx))
    }
}

/// An `on_request` action, checked: what the server does next and the
/// extensions to merge into `RequestContext.extensions` first.
#[derive(Debug)]
#[non_exhaustive]
pub struct MiddlewareAction {
    /// Continue, or respond with this response.
    pub action: RequestAction,
    /// Extensions to set (non-string JSON values as their JSON text).
    pub extensions: Vec<(String, String)>,
}

impl MiddlewareAction {
    /// Merges the extensions into `ctx` and returns the action.
    pub fn apply(self, ctx: &mut RequestContext) -> RequestAction {
        ctx.extensions.extend(self.extensions);
        self.action
    }
}

/// Parses the action JSON an `on_request` returns (what
/// `bext.middleware_continue` / `bext.middleware_respond` make) exactly as
/// the sandboxed adapter does: `{"action":"continue","extensions":{...}?}`
/// or `{"action":"respond","response":{"status":N,"headers":...,"body":"..."}}`.
/// The status must be an integer from 100 to 999, every header an RFC 9110
/// token with a value free of control characters, every extension free of
/// CR, LF and NUL. The error is the message of the
/// [`Error::BadEnvelope`] the adapter would raise. Public so a native
/// baseline or gateway parses actions exactly as strictly.
pub fn parse_middleware_action(action: &Value) -> Result<MiddlewareAction, String> {
    let Value::Object(action) = action else {
        return Err(format!("expected a JSON object, got {}", json_kind(action)));
    };
    let extensions = match action.get("extensions") {
        None | Some(Value::Null) => None,
        Some(Value::Object(extensions)) => Some(extensions),
        Some(other) => {
            return Err(format!(
                "extensions must be a JSON object, got {}",
                json_kind(other)
            ));
        }
    };
    let result = match action.get("action").and_then(Value::as_str) {
        Some("continue") => RequestAction::Continue,
        Some("respond") => {
            let envelope = action
                .get("response")
                .ok_or("a respond action needs a response")?;
            RequestAction::Respond(parse_envelope(envelope)?)
        }
        Some(other) => {
            return Err(format!(
                "unknown action `{other}` (expected continue or respond)"
            ));
        }
        None => return Err("the action object needs an \"action\" field".into()),
    };
    let extensions = extensions
        .into_iter()
        .flatten()
        .map(|(key, value)| {
            let value = match value {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            check_extension(key, &value).map(|()| (key.clone(), value))
        })
        .collect::<Result<_, _>>()?;
    Ok(MiddlewareAction {
        action: result,
        extensions,
    })
}

/// An `on_response` result, checked: the status and/or headers that
/// replace the response's.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ResponseChange {
    /// The new status, if any.
    pub status: Option<u16>,
    /// The new headers (all of them), if any.
    pub headers: Option<Vec<(String, String)>>,
}

impl ResponseChange {
    /// Replaces what the change sets.
    pub fn apply(self, response: &mut ResponseHeaders) {
        if let Some(status) = self.status {
            response.status = status;
        }
        if let Some(headers) = self.headers {
            response.headers = headers;
        }
    }
}

/// Parses what an `on_response` returns (a JSON object whose `status`
/// and/or `headers` replace the response's) exactly as the sandboxed
/// adapter does, with the rules of [`parse_middleware_action`]; the whole
/// change is checked before anything is applied.
pub fn parse_response_change(change: &Value) -> Result<ResponseChange, String> {
    let Value::Object(change) = change else {
        return Err(format!("expected a JSON object, got {}", json_kind(change)));
    };
    let status = match change.get("status") {
        None | Some(Value::Null) => None,
        Some(status) => Some(parse_status(status)?),
    };
    let headers = match change.get("headers") {
        None | Some(Value::Null) => None,
        Some(headers) => Some(parse_headers(headers)?),
    };
    Ok(ResponseChange { status, headers })
}

/// `{"status":429,"headers":[["retry-after","60"]],"body":"slow down"}`.
fn parse_envelope(envelope: &Value) -> Result<PluginResponse, String> {
    let Value::Object(map) = envelope else {
        return Err(format!(
            "the response envelope must be a JSON object, got {}",
            json_kind(envelope)
        ));
    };
    let status = parse_status(
        map.get("status")
            .ok_or("the response envelope needs a status")?,
    )?;
    let headers = match map.get("headers") {
        None | Some(Value::Null) => Vec::new(),
        Some(headers) => parse_headers(headers)?,
    };
    let body = match map.get("body") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(body)) => body.as_bytes().to_vec(),
        Some(other) => return Err(format!("body must be a string, got {}", json_kind(other))),
    };
    Ok(PluginResponse {
        status,
        headers,
        body,
    })
}

fn parse_status(value: &Value) -> Result<u16, String> {
    value
        .as_u64()
        .filter(|s| (100..=999).contains(s))
        .map(|s| s as u16)
        .ok_or_else(|| format!("status must be an integer from 100 to 999, got {value}"))
}

impl MiddlewarePlugin for LuaPlugin {
    fn name(&self) -> &str {
        LuaPlugin::name(self)
    }

    /// The script's `priority` field, else 600 (after the built-ins).
    fn priority(&self) -> u32 {
        self.priority_for(PluginCapability::Middleware)
    }

    fn on_request(&self, ctx: &mut RequestContext) -> Result<RequestAction, String> {
        self.try_on_request(ctx).map_err(|e| e.to_string())
    }

    fn on_response(
        &self,
        ctx: &RequestContext,
        headers: &mut ResponseHeaders,
    ) -> Result<(), String> {
        self.try_on_response(ctx, headers)
            .map_err(|e| e.to_string())
    }
}
