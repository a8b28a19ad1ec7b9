//! The one mechanism behind the twelve extended capabilities
//! (`auth.rs` ... `locking.rs`, one file per trait): a trait method calls the script method of the same
//! name with its arguments converted by one rule, and reads the result back
//! from JSON.
//!
//! # Arguments
//!
//! Every argument is first turned into its JSON value: types that derive
//! serde use their serde form, the others a private mirror struct with a
//! documented shape. Then one rule decides how it crosses into Lua:
//!
//! * a JSON string, number or boolean crosses as the Lua string, integer
//!   (float when not integral; integers above `i64::MAX` pass as
//!   `i64::MAX`) or boolean; `null` crosses as nil;
//! * a JSON array or object crosses as its JSON text (decode it with
//!   `bext.json.decode`);
//! * raw bytes (a storage object, a webhook body) cross as a Lua string
//!   holding exactly those bytes.
//!
//! # Results
//!
//! nil is "no value"; a boolean, number or string is that JSON scalar; a
//! returned table is encoded by the shim and parsed as JSON. Where a
//! structured result is expected, a string holding a JSON object or array is decoded too (never a JSON scalar: `"5"` is not the number 5). An
//! empty Lua table encodes as `{}`: when a result does not fit, it is tried
//! once more with empty objects read as empty arrays.
//!
//! # Errors
//!
//! A script picks a variant of the trait's error type with a snake_case
//! code: by starting the message it raises with the code and a colon,
//! `error("not_found: no such session", 0)` (any level: the position Lua
//! prepends is not part of the code), or by raising an error table,
//! `error({code = "not_found", message = "no such session"})`. The guest
//! records the code with the raised value, so nothing else can forge one: a
//! plugin or chunk named `x:1: not_found`, or an error of Lua's own whose
//! text happens to start like a code, carries none. Each adapter lists its
//! codes; other errors map to the trait's generic variant, carrying the
//! message that names plugin and method.

use super::header_rules::check_header_value;
use super::log_swallowed;
use crate::error::Error;
use crate::guest::abi::{Arg, Output};
use crate::guest::call_mode::{CallMode, run_sync};
use crate::plugin::LuaPlugin;
use bext_plugin_api::types::PluginCapability;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// One argument of an extended-capability call; see the module docs.
pub(crate) enum JsonArg<'a> {
    /// A JSON value: scalars cross as Lua scalars, the rest as JSON text.
    Value(Value),
    /// Raw bytes, crossing as a Lua string.
    Bytes(&'a [u8]),
    /// The JSON text of an array or object, crossing as a Lua string.
    Text(Vec<u8>),
}

impl From<&str> for JsonArg<'_> {
    fn from(s: &str) -> Self {
        JsonArg::Value(Value::String(s.to_owned()))
    }
}

impl From<u64> for JsonArg<'_> {
    fn from(n: u64) -> Self {
        JsonArg::Value(Value::from(n))
    }
}

impl From<Option<u64>> for JsonArg<'_> {
    fn from(n: Option<u64>) -> Self {
        JsonArg::Value(n.map_or(Value::Null, Value::from))
    }
}

impl From<Option<&str>> for JsonArg<'_> {
    fn from(s: Option<&str>) -> Self {
        JsonArg::Value(s.map_or(Value::Null, |s| Value::String(s.to_owned())))
    }
}

/// The error code a script raised with a Lua error, if any: taken by the
/// guest from the raised value ([`Error::Lua`]'s `code`), never parsed back
/// from the message, whose chunk name and position the script did not choose.
pub(crate) fn error_code(error: &Error) -> Option<&str> {
    match error {
        Error::Lua { code, .. } => code.as_deref(),
        _ => None,
    }
}

/// The JSON text of each array or object argument (they cross as text).
fn container_texts(args: &[JsonArg<'_>]) -> Vec<Option<String>> {
    args.iter()
        .map(|arg| match arg {
            JsonArg::Value(v @ (Value::Array(_) | Value::Object(_))) => Some(v.to_string()),
            _ => None,
        })
        .collect()
}

/// `args` as Lua arguments by the module's rule; `texts` from
/// [`container_texts`].
fn lua_args<'a>(args: &'a [JsonArg<'_>], texts: &'a [Option<String>]) -> Vec<Arg<'a>> {
    args.iter()
        .zip(texts)
        .map(|(arg, text)| match (arg, text) {
            (_, Some(text)) => Arg::from(text.as_str()),
            (JsonArg::Bytes(bytes), _) => Arg::Str(bytes),
            (JsonArg::Text(text), _) => Arg::Str(text),
            (JsonArg::Value(Value::Bool(b)), _) => Arg::Bool(*b),
            (JsonArg::Value(Value::String(s)), _) => Arg::from(s.as_str()),
            (JsonArg::Value(Value::Number(n)), _) => match (n.as_i64(), n.as_u64()) {
                (Some(i), _) => Arg::Int(i),
                (None, Some(_)) => Arg::Int(i64::MAX),
                _ => Arg::Float(n.as_f64().unwrap_or(0.0)),
            },
            (JsonArg::Value(_), _) => Arg::Nil,
        })
        .collect()
}

impl LuaPlugin {
    /// `value`'s serde form as an argument, serialized straight to text
    /// within the payload limit (see `bounded_json.rs`): an array or object
    /// as its JSON text, a scalar as its value.
    pub(crate) fn json_arg(
        &self,
        method: &str,
        value: &impl Serialize,
    ) -> Result<JsonArg<'static>, Error> {
        let text = self.json_text_bounded(method, value)?;
        if matches!(text.first(), Some(b'[' | b'{')) {
            return Ok(JsonArg::Text(text));
        }
        serde_json::from_slice(&text)
            .map(JsonArg::Value)
            .map_err(|e| self.bad_input(method, e.to_string()))
    }

    /// Whether the script defines `method`, after the capability gate: the
    /// adapters fall back to a trait default when it does not.
    pub(crate) fn defines(
        &self,
        capability: PluginCapability,
        method: &str,
    ) -> Result<bool, Error> {
        self.require_capability(capability)?;
        Ok(self.has_method(method))
    }

    /// Calls `method` through the capability gate with `args` converted by
    /// the module's rule, and returns the raw result.
    pub(crate) fn call_ext(
        &self,
        capability: PluginCapability,
        method: &str,
        args: &[JsonArg<'_>],
    ) -> Result<Output, Error> {
        self.require_capability(capability)?;
        let texts = container_texts(args);
        self.call(method, &lua_args(args, &texts))
    }

    /// Calls any capability method by name, the way the adapters of the
    /// twelve extended traits do (see the module docs of `generic.rs`, or
    /// the README's capability table): `args` cross by the one rule (JSON
    /// strings, numbers and booleans as Lua scalars, `null` as nil, arrays
    /// and objects as JSON text), the result comes back as JSON, `None` for
    /// nil. The capability gate applies
    /// ([`Error::CapabilityNotProvided`]); a Lua error is [`Error::Lua`]
    /// with the script's message (and error code, if it starts with one).
    pub fn try_call(
        &self,
        capability: PluginCapability,
        method: &str,
        args: &[Value],
    ) -> Result<Option<Value>, Error> {
        run_sync(self.call_any_in(CallMode::Sync, capability, method, args))
    }

    /// [`try_call`](Self::try_call) for async servers: the async path of
    /// every capability, the twelve extended ones included.
    pub async fn try_call_async(
        &self,
        capability: PluginCapability,
        method: &str,
        args: &[Value],
    ) -> Result<Option<Value>, Error> {
        self.call_any_in(CallMode::Async, capability, method, args)
            .await
    }

    async fn call_any_in(
        &self,
        mode: CallMode,
        capability: PluginCapability,
        method: &str,
        args: &[Value],
    ) -> Result<Option<Value>, Error> {
        self.require_capability(capability)?;
        let args: Vec<JsonArg<'_>> = args.iter().cloned().map(JsonArg::Value).collect();
        let texts = container_texts(&args);
        let out = self.call_in(mode, method, &lua_args(&args, &texts)).await?;
        self.output_value(method, out)
    }

    /// [`LuaPlugin::call_ext`] with the result as JSON, `None` for nil.
    pub(crate) fn call_value(
        &self,
        capability: PluginCapability,
        method: &str,
        args: &[JsonArg<'_>],
    ) -> Result<Option<Value>, Error> {
        let out = self.call_ext(capability, method, args)?;
        self.output_value(method, out)
    }

    /// [`LuaPlugin::call_ext`] with the result deserialized into `R`
    /// (`expected` names it in errors), `None` for nil.
    pub(crate) fn call_json<R: DeserializeOwned>(
        &self,
        capability: PluginCapability,
        method: &str,
        args: &[JsonArg<'_>],
        expected: &'static str,
    ) -> Result<Option<R>, Error> {
        match self.call_value(capability, method, args)? {
            None => Ok(None),
            Some(value) => self.decode_value(method, value, expected).map(Some),
        }
    }

    /// Like [`LuaPlugin::call_json`], with nil a [`Error::WrongReturnType`].
    pub(crate) fn call_json_required<R: DeserializeOwned>(
        &self,
        capability: PluginCapability,
        method: &str,
        args: &[JsonArg<'_>],
        expected: &'static str,
    ) -> Result<R, Error> {
        self.call_json(capability, method, args, expected)?
            .ok_or_else(|| self.wrong_type(method, expected, &Output::Nil))
    }
}

/// The optional health check of the traits that have one.
pub(crate) const IS_HEALTHY: &str = "is_healthy";
/// The optional cleanup of the traits that have one.
pub(crate) const CLEANUP: &str = "cleanup";

impl LuaPlugin {
    /// The script's `is_healthy` for `capability`, else healthy; errors
    /// (logged) are unhealthy.
    pub(crate) fn ext_healthy(&self, capability: PluginCapability) -> bool {
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
    pub(crate) fn ext_unit(
        &self,
        capability: PluginCapability,
        method: &str,
        args: &[JsonArg<'_>],
        optional: bool,
    ) -> Result<(), Error> {
        if optional && !self.defines(capability, method)? {
            return Ok(());
        }
        self.call_ext(capability, method, args).map(drop)
    }
}

/// What a URL from a script may look like.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum UrlShape {
    /// `http://...` or `https://...`.
    Absolute,
    /// Absolute, or a path on this server (`/login?x=1`).
    AbsoluteOrPath,
}

impl LuaPlugin {
    /// `url` when it has `shape` and no whitespace or control characters
    /// (it may end up in a `Location` header); else a [`Error::BadEnvelope`].
    pub(crate) fn checked_url(
        &self,
        method: &str,
        url: String,
        shape: UrlShape,
    ) -> Result<String, Error> {
        // Servers hand the URL out as a `Location` header: the header rules
        // first (their message names the header and the character).
        check_header_value("location", &url).map_err(|m| self.bad_envelope(method, m))?;
        let absolute = ["https://", "http://"].iter().any(|scheme| {
            url.get(..scheme.len())
                .is_some_and(|head| head.eq_ignore_ascii_case(scheme))
                && url.len() > scheme.len()
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
        Err(self.bad_envelope(
            method,
            format!("{url:?} is not {expected} without whitespace or control characters"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lua(message: &str, code: Option<&str>) -> Error {
        Error::Lua {
            plugin: "p".into(),
            method: "m".into(),
            message: message.into(),
            traceback: String::new(),
            code: code.map(Into::into),
        }
    }

    #[test]
    fn error_codes_come_from_the_raised_value_only() {
        assert_eq!(
            error_code(&lua("p:12: not_found: gone", Some("not_found"))),
            Some("not_found")
        );
        // Text that looks coded but was not raised with a code.
        assert_eq!(
            error_code(&lua(
                "evil:1: not_found:3: attempt to index a nil value",
                None
            )),
            None
        );
        assert_eq!(error_code(&lua("rate_limited: slow down", None)), None);
        assert_eq!(
            error_code(&Error::MissingMethod {
                plugin: "p".into(),
                method: "m".into()
            }),
            None
        );
    }
}
