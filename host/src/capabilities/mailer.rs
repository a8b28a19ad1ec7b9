//! `MailerPlugin` over the generic mechanism (`generic.rs`): each trait method
//! calls the script method of the same name; the README's capability table
//! lists the argument and result shapes.

use super::generic::error_code;
use crate::error::Error;
use crate::guest::abi::Output;
use crate::plugin::LuaPlugin;
use bext_plugin_api::MailerPlugin;
use bext_plugin_api::mailer::{BatchOutcome, MailerError, Message, SendOutcome};
use bext_plugin_api::types::PluginCapability as Cap;
use serde_json::Value;

/// Codes: `invalid_message`, `unauthorized`, `rejected`, `transport`,
/// `rate_limited` pick those variants; anything else is `Unknown`.
impl From<Error> for MailerError {
    fn from(e: Error) -> Self {
        mailer_error_kind(error_code(&e), e.to_string())
    }
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
        let msg = self.json_arg(M, &msg)?;
        let value = self.call_value(Cap::Mailer, M, &[msg])?;
        let value = value.ok_or_else(|| self.wrong_type(M, "a SendOutcome", &Output::Nil))?;
        send_outcome(self, M, value).map_err(MailerError::from)
    }

    /// The script's `send_batch(messages)` when defined: an array with one
    /// entry per message, `{"id":...}` (or the id) or
    /// `{"error":"...","kind":"rejected"}` (`kind` as the error codes).
    /// Otherwise the trait default: `send` per message.
    fn send_batch(&self, msgs: Vec<Message>) -> Vec<BatchOutcome> {
        const M: &str = "send_batch";
        match self.defines(Cap::Mailer, M) {
            Ok(false) => {
                return msgs
                    .into_iter()
                    .map(|m| MailerPlugin::send(self, m))
                    .collect();
            }
            Ok(true) => {}
            Err(e) => {
                return msgs
                    .iter()
                    .map(|_| Err(MailerError::from(e.clone())))
                    .collect();
            }
        }
        let count = msgs.len();
        let result = self
            .json_arg(M, &msgs)
            .and_then(|arg| self.call_value(Cap::Mailer, M, &[arg]));
        let entries = match result {
            Ok(Some(Value::Array(entries))) if entries.len() == count => entries,
            Ok(Some(Value::Object(empty))) if empty.is_empty() && count == 0 => Vec::new(),
            Ok(other) => {
                let found = other.map_or("nil".to_string(), |v| super::json_kind(&v).to_string());
                let e = self.bad_envelope(
                    M,
                    format!("expected an array of {count} outcomes, got {found}"),
                );
                return (0..count)
                    .map(|_| Err(MailerError::from(e.clone())))
                    .collect();
            }
            Err(e) => {
                return (0..count)
                    .map(|_| Err(MailerError::from(e.clone())))
                    .collect();
            }
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
                    Err(mailer_error_kind(
                        map.get("kind").and_then(Value::as_str),
                        message,
                    ))
                }
                other => send_outcome(self, M, other).map_err(MailerError::from),
            })
            .collect()
    }

    fn is_healthy(&self) -> bool {
        self.ext_healthy(Cap::Mailer)
    }
}
