//! Guest output into host values: every conversion of a script's result
//! (a Lua value copied out of the sandbox, [`Output`]) into a boolean, a
//! count, a string, JSON or a typed value, and the errors naming the plugin
//! and method when it does not fit. A string must be UTF-8; a returned table
//! arrives as the JSON text the shim encoded.

use crate::error::Error;
use crate::guest::abi::{Arg, Output};
use crate::plugin::LuaPlugin;
use crate::plugin::pooled::PooledInstance;
use serde::de::DeserializeOwned;
use serde_json::Value;

impl PooledInstance {
    /// Calls `plugin:method(args...)` with string arguments (JSON by the
    /// script contract) and returns its string result, `None` for nil.
    pub fn call_json(&mut self, method: &str, args: &[&str]) -> Result<Option<String>, Error> {
        let args: Vec<Arg<'_>> = args.iter().map(|a| Arg::from(*a)).collect();
        let out = self.call(method, &args)?;
        LuaPlugin {
            inner: self.inner.clone(),
        }
        .expect_optional_string(method, out)
    }
}

impl LuaPlugin {
    /// A boolean result. A documented coercion, as Lua reads conditions (and
    /// as mlua converts to `bool`): nil is false, numbers and strings (what
    /// `path:find(...)` returns) are true. Tables, functions and userdata
    /// are an error.
    pub(crate) fn expect_truthy(&self, method: &str, out: Output) -> Result<bool, Error> {
        match out {
            Output::Bool(b) => Ok(b),
            Output::Nil => Ok(false),
            Output::Int(_) | Output::Float(_) | Output::Str(_) => Ok(true),
            other => Err(self.wrong_type(method, "a boolean", &other)),
        }
    }

    /// A count: an integer from 0 to `u32::MAX`; a float with an integral
    /// value (`n / 2` in Lua 5.4 is a float) is accepted as that integer.
    /// Negative, fractional, out-of-range and non-numbers are an error.
    pub(crate) fn expect_count(&self, method: &str, out: Output) -> Result<u32, Error> {
        const EXPECTED: &str = "a count (an integer from 0 to 4294967295)";
        let found = match out {
            Output::Int(n) => match u32::try_from(n) {
                Ok(n) => return Ok(n),
                Err(_) => n.to_string(),
            },
            Output::Float(x) => {
                if x.fract() == 0.0 && (0.0..=u32::MAX as f64).contains(&x) {
                    return Ok(x as u32);
                }
                format!("{x:?}")
            }
            other => other.type_name(),
        };
        Err(Error::WrongReturnType {
            plugin: self.name().into(),
            method: method.into(),
            expected: EXPECTED,
            found,
        })
    }

    /// JSON text from a JSON string or a returned table, or `None` for nil;
    /// other types are a [`Error::WrongReturnType`] naming `expected`.
    pub(crate) fn expect_optional_json_text(
        &self,
        method: &str,
        out: Output,
        expected: &'static str,
    ) -> Result<Option<String>, Error> {
        match out {
            Output::Nil => Ok(None),
            Output::Str(bytes) | Output::Json(bytes) => self.utf8(method, bytes).map(Some),
            Output::JsonError(message) => Err(self.unencodable_table(method, message)),
            other => Err(self.wrong_type(method, expected, &other)),
        }
    }

    /// A string result, or `None` for nil; other types are an error.
    pub(crate) fn expect_optional_string(
        &self,
        method: &str,
        out: Output,
    ) -> Result<Option<String>, Error> {
        match out {
            Output::Nil => Ok(None),
            Output::Str(bytes) => self.utf8(method, bytes).map(Some),
            other => Err(self.wrong_type(method, "a string or nil", &other)),
        }
    }

    pub(crate) fn wrong_type(&self, method: &str, expected: &'static str, found: &Output) -> Error {
        Error::WrongReturnType {
            plugin: self.name().into(),
            method: method.into(),
            expected,
            found: found.type_name(),
        }
    }

    pub(crate) fn bad_envelope(&self, method: &str, message: String) -> Error {
        Error::BadEnvelope {
            plugin: self.name().into(),
            method: method.into(),
            message,
        }
    }

    pub(crate) fn bad_input(&self, method: &str, message: String) -> Error {
        Error::BadInput {
            plugin: self.name().into(),
            method: method.into(),
            message,
        }
    }

    /// A Lua result as JSON.
    pub(crate) fn output_value(&self, method: &str, out: Output) -> Result<Option<Value>, Error> {
        match out {
            Output::Nil => Ok(None),
            Output::Bool(b) => Ok(Some(Value::Bool(b))),
            Output::Int(n) => Ok(Some(Value::from(n))),
            Output::Float(x) => serde_json::Number::from_f64(x)
                .map(|n| Some(Value::Number(n)))
                .ok_or_else(|| self.bad_envelope(method, format!("{x} is not a JSON number"))),
            Output::Str(bytes) => self.utf8(method, bytes).map(|s| Some(Value::String(s))),
            Output::Json(bytes) => self.parse_json_bounded(method, &bytes).map(Some),
            Output::JsonError(message) => Err(self.unencodable_table(method, message)),
            other => Err(self.wrong_type(method, "a value that converts to JSON", &other)),
        }
    }

    /// `value` as `R`: as it is, else (a string) its decoded JSON, else with
    /// empty objects read as empty arrays; a [`Error::BadEnvelope`] when
    /// nothing fits.
    pub(crate) fn decode_value<R: DeserializeOwned>(
        &self,
        method: &str,
        value: Value,
        expected: &'static str,
    ) -> Result<R, Error> {
        let first = match serde_json::from_value::<R>(value.clone()) {
            Ok(r) => return Ok(r),
            Err(e) => e,
        };
        let value = match value {
            // Only a structured value (object, array) may come as JSON text:
            // `"\"token\""` or `"5"` is not the scalar it holds.
            Value::String(text) => match self.parse_json_bounded(method, text.as_bytes()) {
                Ok(decoded @ (Value::Object(_) | Value::Array(_))) => {
                    match serde_json::from_value::<R>(decoded.clone()) {
                        Ok(r) => return Ok(r),
                        Err(_) => decoded,
                    }
                }
                Err(too_large @ Error::PayloadTooLarge { .. }) => return Err(too_large),
                _ => return Err(self.bad_envelope(method, format!("not {expected}: {first}"))),
            },
            other => other,
        };
        serde_json::from_value::<R>(empty_objects_as_arrays(value))
            .map_err(|_| self.bad_envelope(method, format!("not {expected}: {first}")))
    }

    /// A returned string as UTF-8 text, else a [`Error::BadEnvelope`].
    fn utf8(&self, method: &str, bytes: Vec<u8>) -> Result<String, Error> {
        String::from_utf8(bytes)
            .map_err(|_| self.bad_envelope(method, "the returned string is not valid UTF-8".into()))
    }

    /// A returned table the shim could not encode as JSON.
    fn unencodable_table(&self, method: &str, message: String) -> Error {
        self.bad_envelope(
            method,
            format!("the returned table cannot be encoded as JSON: {message}"),
        )
    }
}

/// Empty objects anywhere in `value` replaced by empty arrays.
fn empty_objects_as_arrays(value: Value) -> Value {
    match value {
        Value::Object(map) if map.is_empty() => Value::Array(Vec::new()),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (k, empty_objects_as_arrays(v)))
                .collect(),
        ),
        Value::Array(items) => {
            Value::Array(items.into_iter().map(empty_objects_as_arrays).collect())
        }
        other => other,
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
