//! `CacheBackend`: `get`, `set`, `delete`, `invalidate_tag`,
//! `invalidate_path` and `is_healthy` on the plugin table, called with `self`.
//!
//! * `get(self, key)` returns a `CacheEntry` or nil (a miss). The entry is a
//!   JSON object, as a string or as a table (encoded by the shim):
//!   `{"html":"...","headers":[["k","v"]],"etag":"...","tags":["t"],"created_at_ms":1700000000000}`.
//!   `html` is required; `headers` (pairs, or an object), `etag`, `tags` and
//!   `created_at_ms` default to empty / 0, so an empty Lua table `{}` (which
//!   encodes as an object) is accepted for `headers` and `tags`. Unknown
//!   fields are ignored.
//! * `set(self, key, entry_json, ttl_ms)` gets the entry as that JSON and the
//!   TTL as an integer, or nil for none (TTLs above `i64::MAX` ms pass as
//!   `i64::MAX`). Its return value is ignored; raise an error to fail.
//! * `delete(self, key)` returns whether the key existed: a boolean (nil is
//!   false; see [`LuaPlugin::expect_truthy`] for the coercion).
//! * `invalidate_tag(self, tag)` / `invalidate_path(self, pattern)` return how
//!   many entries they dropped: an integer from 0 to `u32::MAX` (an
//!   integral float such as `6 / 2` counts as that integer).
//! * `is_healthy(self)` returns a boolean; a script without it is healthy.
//!   The trait method cannot return an error: an error (logged) is unhealthy.

use super::http_text::check_header_value;
use super::{json_kind, log_swallowed, parse_headers};
use crate::abi::Arg;
use crate::error::Error;
use crate::plugin::LuaPlugin;
use bext_plugin_api::cache::CacheEntry;
use bext_plugin_api::types::PluginCapability;
use bext_plugin_api::CacheBackend;
use serde_json::{Map, Value};

const GET: &str = "get";
const SET: &str = "set";
const DELETE: &str = "delete";
const INVALIDATE_TAG: &str = "invalidate_tag";
const INVALIDATE_PATH: &str = "invalidate_path";
const IS_HEALTHY: &str = "is_healthy";

impl LuaPlugin {
    /// `get` with the typed [`Error`]; the trait method returns its text.
    pub fn try_cache_get(&self, key: &str) -> Result<Option<CacheEntry>, Error> {
        self.require_capability(PluginCapability::CacheBackend)?;
        let out = self.call(GET, &[Arg::from(key)])?;
        let Some(text) = self.expect_optional_json_text(GET, out, "a CacheEntry (a JSON string or a table) or nil")?
        else {
            return Ok(None);
        };
        let bad = |message: String| self.bad_envelope(GET, format!("not a CacheEntry: {message}"));
        match self.parse_json_bounded(GET, text.as_bytes()) {
            Ok(Value::Object(map)) => parse_entry(&map).map(Some).map_err(bad),
            Ok(other) => Err(bad(format!("expected a JSON object, got {}", json_kind(&other)))),
            Err(Error::BadEnvelope { message, .. }) => Err(bad(message)),
            Err(e) => Err(e),
        }
    }

    /// `set` with the typed [`Error`].
    pub fn try_cache_set(&self, key: &str, entry: &CacheEntry, ttl_ms: Option<u64>) -> Result<(), Error> {
        self.require_capability(PluginCapability::CacheBackend)?;
        let entry_json = self.to_json(SET, entry)?;
        let ttl = match ttl_ms {
            Some(ms) => Arg::Int(i64::try_from(ms).unwrap_or(i64::MAX)),
            None => Arg::Nil,
        };
        self.call(SET, &[Arg::from(key), Arg::from(entry_json.as_str()), ttl])?;
        Ok(())
    }

    /// `delete` with the typed [`Error`].
    pub fn try_cache_delete(&self, key: &str) -> Result<bool, Error> {
        self.require_capability(PluginCapability::CacheBackend)?;
        let out = self.call(DELETE, &[Arg::from(key)])?;
        self.expect_truthy(DELETE, out)
    }

    /// `invalidate_tag` with the typed [`Error`].
    pub fn try_invalidate_tag(&self, tag: &str) -> Result<u32, Error> {
        self.require_capability(PluginCapability::CacheBackend)?;
        let out = self.call(INVALIDATE_TAG, &[Arg::from(tag)])?;
        self.expect_count(INVALIDATE_TAG, out)
    }

    /// `invalidate_path` with the typed [`Error`].
    pub fn try_invalidate_path(&self, pattern: &str) -> Result<u32, Error> {
        self.require_capability(PluginCapability::CacheBackend)?;
        let out = self.call(INVALIDATE_PATH, &[Arg::from(pattern)])?;
        self.expect_count(INVALIDATE_PATH, out)
    }

    /// `is_healthy` with the typed [`Error`]: `Ok(true)` when the script has
    /// no `is_healthy`.
    pub fn try_is_healthy(&self) -> Result<bool, Error> {
        self.require_capability(PluginCapability::CacheBackend)?;
        if !self.has_method(IS_HEALTHY) {
            return Ok(true);
        }
        match self.call(IS_HEALTHY, &[]) {
            Ok(out) => self.expect_truthy(IS_HEALTHY, out),
            // Defined at load, removed since: the trait's default.
            Err(Error::MissingMethod { .. }) => Ok(true),
            Err(e) => Err(e),
        }
    }
}

/// A `CacheEntry` from a JSON object; see the module docs for the defaults.
fn parse_entry(map: &Map<String, Value>) -> Result<CacheEntry, String> {
    let string = |field: &str, required: bool| match map.get(field) {
        Some(Value::String(s)) => Ok(s.clone()),
        None | Some(Value::Null) if !required => Ok(String::new()),
        None | Some(Value::Null) => Err(format!("`{field}` is missing")),
        Some(other) => Err(format!("`{field}` must be a string, got {}", json_kind(other))),
    };
    let html = string("html", true)?;
    let etag = string("etag", false)?;
    check_header_value("etag", &etag)?;
    let headers = match map.get("headers") {
        None | Some(Value::Null) => Vec::new(),
        Some(headers) => parse_headers(headers)?,
    };
    let tags = match map.get("tags") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Object(empty)) if empty.is_empty() => Vec::new(),
        Some(Value::Array(tags)) => tags
            .iter()
            .map(|tag| match tag {
                Value::String(tag) => Ok(tag.clone()),
                other => Err(format!("each tag must be a string, got {}", json_kind(other))),
            })
            .collect::<Result<_, _>>()?,
        Some(other) => return Err(format!("`tags` must be an array of strings, got {}", json_kind(other))),
    };
    let created_at_ms = match map.get("created_at_ms") {
        None | Some(Value::Null) => 0,
        Some(value) => value
            .as_u64()
            .ok_or_else(|| format!("`created_at_ms` must be a non-negative integer, got {value}"))?,
    };
    Ok(CacheEntry { html, headers, etag, tags, created_at_ms })
}

impl CacheBackend for LuaPlugin {
    fn name(&self) -> &str {
        LuaPlugin::name(self)
    }

    fn get(&self, key: &str) -> Result<Option<CacheEntry>, String> {
        self.try_cache_get(key).map_err(|e| e.to_string())
    }

    fn set(&self, key: &str, entry: CacheEntry, ttl_ms: Option<u64>) -> Result<(), String> {
        self.try_cache_set(key, &entry, ttl_ms).map_err(|e| e.to_string())
    }

    fn delete(&self, key: &str) -> Result<bool, String> {
        self.try_cache_delete(key).map_err(|e| e.to_string())
    }

    fn invalidate_tag(&self, tag: &str) -> Result<u32, String> {
        self.try_invalidate_tag(tag).map_err(|e| e.to_string())
    }

    fn invalidate_path(&self, pattern: &str) -> Result<u32, String> {
        self.try_invalidate_path(pattern).map_err(|e| e.to_string())
    }

    /// The script's `is_healthy`, else healthy. An error (logged as a
    /// warning) counts as unhealthy.
    fn is_healthy(&self) -> bool {
        self.try_is_healthy().unwrap_or_else(|e| {
            log_swallowed(&e, "reporting the cache backend unhealthy");
            false
        })
    }
}
