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

use super::header_rules::check_header_value;
use super::{json_kind, log_swallowed, parse_headers};
use crate::error::Error;
use crate::guest::abi::{Arg, Output};
use crate::guest::call_mode::{CallMode, run_sync};
use crate::plugin::LuaPlugin;
use bext_plugin_api::CacheBackend;
use bext_plugin_api::cache::CacheEntry;
use bext_plugin_api::types::PluginCapability;
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
        run_sync(self.cache_get_in(CallMode::Sync, key))
    }

    /// [`try_cache_get`](Self::try_cache_get) for async servers.
    pub async fn try_cache_get_async(&self, key: &str) -> Result<Option<CacheEntry>, Error> {
        self.cache_get_in(CallMode::Async, key).await
    }

    async fn cache_get_in(&self, mode: CallMode, key: &str) -> Result<Option<CacheEntry>, Error> {
        self.require_capability(PluginCapability::CacheBackend)?;
        let out = self.call_in(mode, GET, &[Arg::from(key)]).await?;
        self.cache_entry(out)
    }

    /// `set` with the typed [`Error`].
    pub fn try_cache_set(
        &self,
        key: &str,
        entry: &CacheEntry,
        ttl_ms: Option<u64>,
    ) -> Result<(), Error> {
        run_sync(self.cache_set_in(CallMode::Sync, key, entry, ttl_ms))
    }

    /// [`try_cache_set`](Self::try_cache_set) for async servers.
    pub async fn try_cache_set_async(
        &self,
        key: &str,
        entry: &CacheEntry,
        ttl_ms: Option<u64>,
    ) -> Result<(), Error> {
        self.cache_set_in(CallMode::Async, key, entry, ttl_ms).await
    }

    async fn cache_set_in(
        &self,
        mode: CallMode,
        key: &str,
        entry: &CacheEntry,
        ttl_ms: Option<u64>,
    ) -> Result<(), Error> {
        let entry_json = self.cache_set_arg(entry)?;
        self.call_in(
            mode,
            SET,
            &[
                Arg::from(key),
                Arg::from(entry_json.as_str()),
                ttl_arg(ttl_ms),
            ],
        )
        .await?;
        Ok(())
    }

    /// `delete` with the typed [`Error`].
    pub fn try_cache_delete(&self, key: &str) -> Result<bool, Error> {
        run_sync(self.cache_delete_in(CallMode::Sync, key))
    }

    /// [`try_cache_delete`](Self::try_cache_delete) for async servers.
    pub async fn try_cache_delete_async(&self, key: &str) -> Result<bool, Error> {
        self.cache_delete_in(CallMode::Async, key).await
    }

    async fn cache_delete_in(&self, mode: CallMode, key: &str) -> Result<bool, Error> {
        self.require_capability(PluginCapability::CacheBackend)?;
        let out = self.call_in(mode, DELETE, &[Arg::from(key)]).await?;
        self.expect_truthy(DELETE, out)
    }

    /// `invalidate_tag` with the typed [`Error`].
    pub fn try_invalidate_tag(&self, tag: &str) -> Result<u32, Error> {
        run_sync(self.invalidate_tag_in(CallMode::Sync, tag))
    }

    /// [`try_invalidate_tag`](Self::try_invalidate_tag) for async servers.
    pub async fn try_invalidate_tag_async(&self, tag: &str) -> Result<u32, Error> {
        self.invalidate_tag_in(CallMode::Async, tag).await
    }

    async fn invalidate_tag_in(&self, mode: CallMode, tag: &str) -> Result<u32, Error> {
        self.require_capability(PluginCapability::CacheBackend)?;
        let out = self
            .call_in(mode, INVALIDATE_TAG, &[Arg::from(tag)])
            .await?;
        self.expect_count(INVALIDATE_TAG, out)
    }

    /// `invalidate_path` with the typed [`Error`].
    pub fn try_invalidate_path(&self, pattern: &str) -> Result<u32, Error> {
        run_sync(self.invalidate_path_in(CallMode::Sync, pattern))
    }

    /// [`try_invalidate_path`](Self::try_invalidate_path) for async servers.
    pub async fn try_invalidate_path_async(&self, pattern: &str) -> Result<u32, Error> {
        self.invalidate_path_in(CallMode::Async, pattern).await
    }

    async fn invalidate_path_in(&self, mode: CallMode, pattern: &str) -> Result<u32, Error> {
        self.require_capability(PluginCapability::CacheBackend)?;
        let out = self
            .call_in(mode, INVALIDATE_PATH, &[Arg::from(pattern)])
            .await?;
        self.expect_count(INVALIDATE_PATH, out)
    }

    /// `is_healthy` with the typed [`Error`]: `Ok(true)` when the script has
    /// no `is_healthy`.
    pub fn try_is_healthy(&self) -> Result<bool, Error> {
        run_sync(self.is_healthy_in(CallMode::Sync))
    }

    /// [`try_is_healthy`](Self::try_is_healthy) for async servers.
    pub async fn try_is_healthy_async(&self) -> Result<bool, Error> {
        self.is_healthy_in(CallMode::Async).await
    }

    async fn is_healthy_in(&self, mode: CallMode) -> Result<bool, Error> {
        if !self.defines_is_healthy()? {
            return Ok(true);
        }
        let result = self.call_in(mode, IS_HEALTHY, &[]).await;
        self.health(result)
    }

    fn cache_entry(&self, out: Output) -> Result<Option<CacheEntry>, Error> {
        let Some(text) = self.expect_optional_json_text(
            GET,
            out,
            "a CacheEntry (a JSON string or a table) or nil",
        )?
        else {
            return Ok(None);
        };
        let bad = |message: String| self.bad_envelope(GET, format!("not a CacheEntry: {message}"));
        match self.parse_json_bounded(GET, text.as_bytes()) {
            Ok(Value::Object(map)) => parse_entry(&map).map(Some).map_err(bad),
            Ok(other) => Err(bad(format!(
                "expected a JSON object, got {}",
                json_kind(&other)
            ))),
            Err(Error::BadEnvelope { message, .. }) => Err(bad(message)),
            Err(e) => Err(e),
        }
    }

    fn cache_set_arg(&self, entry: &CacheEntry) -> Result<String, Error> {
        self.require_capability(PluginCapability::CacheBackend)?;
        self.to_json(SET, entry)
    }

    fn defines_is_healthy(&self) -> Result<bool, Error> {
        self.require_capability(PluginCapability::CacheBackend)?;
        Ok(self.has_method(IS_HEALTHY))
    }

    fn health(&self, result: Result<Output, Error>) -> Result<bool, Error> {
        match result {
            Ok(out) => self.expect_truthy(IS_HEALTHY, out),
            // Defined at load, removed since: the trait's default.
            Err(Error::MissingMethod { .. }) => Ok(true),
            Err(e) => Err(e),
        }
    }
}

/// `set`'s TTL: an integer (above `i64::MAX` ms as `i64::MAX`), nil for none.
fn ttl_arg(ttl_ms: Option<u64>) -> Arg<'static> {
    match ttl_ms {
        Some(ms) => Arg::Int(i64::try_from(ms).unwrap_or(i64::MAX)),
        None => Arg::Nil,
    }
}

/// A `CacheEntry` from a JSON object; see the module docs for the defaults.
fn parse_entry(map: &Map<String, Value>) -> Result<CacheEntry, String> {
    let string = |field: &str, required: bool| match map.get(field) {
        Some(Value::String(s)) => Ok(s.clone()),
        None | Some(Value::Null) if !required => Ok(String::new()),
        None | Some(Value::Null) => Err(format!("`{field}` is missing")),
        Some(other) => Err(format!(
            "`{field}` must be a string, got {}",
            json_kind(other)
        )),
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
                other => Err(format!(
                    "each tag must be a string, got {}",
                    json_kind(other)
                )),
            })
            .collect::<Result<_, _>>()?,
        Some(other) => {
            return Err(format!(
                "`tags` must be an array of strings, got {}",
                json_kind(other)
            ));
        }
    };
    let created_at_ms = match map.get("created_at_ms") {
        None | Some(Value::Null) => 0,
        Some(value) => value.as_u64().ok_or_else(|| {
            format!("`created_at_ms` must be a non-negative integer, got {value}")
        })?,
    };
    Ok(CacheEntry {
        html,
        headers,
        etag,
        tags,
        created_at_ms,
    })
}

impl CacheBackend for LuaPlugin {
    fn name(&self) -> &str {
        LuaPlugin::name(self)
    }

    fn get(&self, key: &str) -> Result<Option<CacheEntry>, String> {
        self.try_cache_get(key).map_err(|e| e.to_string())
    }

    fn set(&self, key: &str, entry: CacheEntry, ttl_ms: Option<u64>) -> Result<(), String> {
        self.try_cache_set(key, &entry, ttl_ms)
            .map_err(|e| e.to_string())
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
