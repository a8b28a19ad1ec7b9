//! Capability adapters: `LuaPlugin` implements the traits of
//! `bext-plugin-api` by calling the script's methods of the same names.
//!
//! Conventions shared by every adapter: structured arguments go in as JSON
//! strings, scalars as Lua scalars; results come back as Lua values checked
//! here, one helper per expected shape, so every adapter reports a wrong type
//! or malformed JSON the same way.

mod middleware;

use crate::abi::Output;
use crate::error::Error;
use crate::plugin::LuaPlugin;
use serde_json::Value;

impl LuaPlugin {
    /// A string result, or `None` for nil; other types are an error.
    pub(crate) fn expect_optional_string(&self, method: &str, out: Output) -> Result<Option<String>, Error> {
        match out {
            Output::Nil => Ok(None),
            Output::Str(bytes) => String::from_utf8(bytes).map(Some).map_err(|_| {
                self.bad_envelope(method, "the returned string is not valid UTF-8".into())
            }),
            other => Err(self.wrong_type(method, "a string or nil", &other)),
        }
    }

    /// A JSON-object result (a string holding a JSON object), or `None` for nil.
    pub(crate) fn expect_optional_json_object(
        &self,
        method: &str,
        out: Output,
    ) -> Result<Option<serde_json::Map<String, Value>>, Error> {
        let Some(text) = self.expect_optional_string(method, out)? else {
            return Ok(None);
        };
        match serde_json::from_str::<Value>(&text) {
            Ok(Value::Object(map)) => Ok(Some(map)),
            Ok(other) => Err(self.bad_envelope(method, format!("expected a JSON object, got {}", json_kind(&other)))),
            Err(e) => Err(self.bad_envelope(method, format!("invalid JSON: {e}"))),
        }
    }

    pub(crate) fn wrong_type(&self, method: &str, expected: &'static str, found: &Output) -> Error {
        Error::WrongReturnType { plugin: self.name().into(), method: method.into(), expected, found: found.type_name() }
    }

    pub(crate) fn bad_envelope(&self, method: &str, message: String) -> Error {
        Error::BadEnvelope { plugin: self.name().into(), method: method.into(), message }
    }

    pub(crate) fn bad_input(&self, method: &str, message: String) -> Error {
        Error::BadInput { plugin: self.name().into(), method: method.into(), message }
    }
}

/// "a string", "an array", ... for messages about JSON values.
pub(crate) fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Header pairs from JSON: `[["k","v"], ...]` (order and duplicates kept) or
/// `{"k":"v", ...}`.
pub(crate) fn parse_headers(value: &Value) -> Result<Vec<(String, String)>, String> {
    match value {
        Value::Array(pairs) => pairs
            .iter()
            .map(|pair| match pair.as_array().map(Vec::as_slice) {
                Some([Value::String(k), Value::String(v)]) => Ok((k.clone(), v.clone())),
                _ => Err(format!("each header must be a [name, value] pair of strings, got {pair}")),
            })
            .collect(),
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| match v {
                Value::String(v) => Ok((k.clone(), v.clone())),
                other => Err(format!("header `{k}` must have a string value, got {}", json_kind(other))),
            })
            .collect(),
        other => Err(format!("headers must be an array of [name, value] pairs, got {}", json_kind(other))),
    }
}
