//! `WebhookPlugin` over the generic mechanism (`generic.rs`): each trait method
//! calls the script method of the same name; the README's capability table
//! lists the argument and result shapes.

use super::generic::{JsonArg, error_code};
use super::log_swallowed;
use crate::error::Error;
use crate::guest::abi::Output;
use crate::plugin::LuaPlugin;
use bext_plugin_api::WebhookPlugin;
use bext_plugin_api::types::PluginCapability as Cap;
use bext_plugin_api::webhook::{WebhookError, WebhookRequest, WebhookSchemeKind};
use serde::Serialize;

/// Codes: `missing_header`, `malformed_payload`, `invalid_signature`,
/// `replay_detected` pick those variants; anything else is `Backend`.
impl From<Error> for WebhookError {
    fn from(e: Error) -> Self {
        let message = e.to_string();
        match error_code(&e) {
            Some("missing_header") => WebhookError::MissingHeader(message),
            Some("malformed_payload") => WebhookError::MalformedPayload(message),
            Some("invalid_signature") => WebhookError::InvalidSignature(message),
            Some("replay_detected") => WebhookError::ReplayDetected(message),
            _ => WebhookError::Backend(message),
        }
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
        self.call_json_required(Cap::Webhook, "scheme", &[], "a webhook scheme")
            .unwrap_or_else(|e| {
                log_swallowed(&e, "assuming hmac_body");
                WebhookSchemeKind::HmacBody
            })
    }

    /// `verify(self, request_json, body)` must return `true` to accept;
    /// `false` or nil is `InvalidSignature`.
    fn verify(&self, req: &WebhookRequest) -> Result<(), WebhookError> {
        const M: &str = "verify";
        let json = WebhookRequestJson {
            url: &req.url,
            method: &req.method,
            headers: &req.headers,
            received_at_ms: req.received_at_ms,
        };
        let json = self.json_arg(M, &json)?;
        match self.call_ext(Cap::Webhook, M, &[json, JsonArg::Bytes(&req.body)])? {
            Output::Bool(true) => Ok(()),
            Output::Bool(false) | Output::Nil => Err(WebhookError::InvalidSignature(format!(
                "lua plugin `{}`: {M}: the signature does not match",
                self.name()
            ))),
            other => Err(WebhookError::from(self.wrong_type(
                M,
                "true, false or nil",
                &other,
            ))),
        }
    }

    fn is_healthy(&self) -> bool {
        self.ext_healthy(Cap::Webhook)
    }
}
