//! `LifecyclePlugin`: hooks called with `self`, each optional.
//!
//! | trait method | script method |
//! |---|---|
//! | `on_server_start(config_json)` | `on_server_start(self, config_json)` |
//! | `on_server_stop()` | `on_server_stop(self)` |
//! | `on_request_complete(event_json)` | `on_request_complete(self, event_json)` |
//! | `on_cache_write(key, tags_json)` | `on_cache_write(self, key, tags_json)` |
//! | `on_cache_invalidate(pattern, count)` | `on_cache_invalidate(self, pattern, count)` (count: an integer) |
//! | `on_reload()` | `on_reload(self)` |
//! | `cleanup()` | `cleanup(self)` |
//!
//! A hook the script does not define is a no-op, as in the trait's defaults.
//! Return values are ignored, but like every value leaving a sandbox they
//! are bounded by `max_payload_bytes` (the host copies a result out before
//! it knows it is not needed): a larger one is [`Error::PayloadTooLarge`]. A
//! hook fails by raising an error. `priority()` is the script's `priority`
//! field, else 1000.

use crate::error::Error;
use crate::guest::abi::{Arg, Output};
use crate::guest::call_mode::{CallMode, run_sync};
use crate::plugin::LuaPlugin;
use bext_plugin_api::LifecyclePlugin;
use bext_plugin_api::types::PluginCapability;

/// One lifecycle hook and its arguments, for [`LuaPlugin::try_lifecycle`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LifecycleHook<'a> {
    /// `on_server_start(self, config_json)`.
    ServerStart {
        /// This plugin's config section as JSON.
        config_json: &'a str,
    },
    /// `on_server_stop(self)`.
    ServerStop,
    /// `on_request_complete(self, event_json)`.
    RequestComplete {
        /// path, method, status, cache_status, render_time_us, ... as JSON.
        event_json: &'a str,
    },
    /// `on_cache_write(self, key, tags_json)`.
    CacheWrite {
        /// The cache key written.
        key: &'a str,
        /// Its tags as a JSON array.
        tags_json: &'a str,
    },
    /// `on_cache_invalidate(self, pattern, count)`.
    CacheInvalidate {
        /// The tag or path pattern invalidated.
        pattern: &'a str,
        /// How many entries were dropped (a Lua integer).
        count: u32,
    },
    /// `on_reload(self)`.
    Reload,
    /// `cleanup(self)`.
    Cleanup,
}

impl LifecycleHook<'_> {
    /// The script method's name.
    pub fn method(&self) -> &'static str {
        match self {
            LifecycleHook::ServerStart { .. } => "on_server_start",
            LifecycleHook::ServerStop => "on_server_stop",
            LifecycleHook::RequestComplete { .. } => "on_request_complete",
            LifecycleHook::CacheWrite { .. } => "on_cache_write",
            LifecycleHook::CacheInvalidate { .. } => "on_cache_invalidate",
            LifecycleHook::Reload => "on_reload",
            LifecycleHook::Cleanup => "cleanup",
        }
    }
}

impl LuaPlugin {
    /// Runs a lifecycle hook with the typed [`Error`]: `Ok` without a call
    /// when the script does not define it.
    pub fn try_lifecycle(&self, hook: LifecycleHook<'_>) -> Result<(), Error> {
        run_sync(self.lifecycle_in(CallMode::Sync, hook))
    }

    /// [`try_lifecycle`](Self::try_lifecycle) for async servers.
    pub async fn try_lifecycle_async(&self, hook: LifecycleHook<'_>) -> Result<(), Error> {
        self.lifecycle_in(CallMode::Async, hook).await
    }

    async fn lifecycle_in(&self, mode: CallMode, hook: LifecycleHook<'_>) -> Result<(), Error> {
        let Some(args) = self.lifecycle_args(&hook)? else {
            return Ok(());
        };
        hook_done(self.call_in(mode, hook.method(), &args).await)
    }

    /// The hook's arguments, or `None` when the script does not define it.
    fn lifecycle_args<'a>(&self, hook: &LifecycleHook<'a>) -> Result<Option<Vec<Arg<'a>>>, Error> {
        self.require_capability(PluginCapability::Lifecycle)?;
        if !self.has_method(hook.method()) {
            return Ok(None);
        }
        Ok(Some(match *hook {
            LifecycleHook::ServerStart { config_json: json }
            | LifecycleHook::RequestComplete { event_json: json } => {
                vec![Arg::from(json)]
            }
            LifecycleHook::CacheWrite { key, tags_json } => {
                vec![Arg::from(key), Arg::from(tags_json)]
            }
            LifecycleHook::CacheInvalidate { pattern, count } => {
                vec![Arg::from(pattern), Arg::Int(count.into())]
            }
            LifecycleHook::ServerStop | LifecycleHook::Reload | LifecycleHook::Cleanup => vec![],
        }))
    }
}

/// A hook's outcome: its return value is ignored.
fn hook_done(result: Result<Output, Error>) -> Result<(), Error> {
    match result {
        // Defined at load, removed since: the trait's default.
        Ok(_) | Err(Error::MissingMethod { .. }) => Ok(()),
        Err(e) => Err(e),
    }
}

impl LifecyclePlugin for LuaPlugin {
    fn name(&self) -> &str {
        LuaPlugin::name(self)
    }

    /// The script's `priority` field, else 1000.
    fn priority(&self) -> u32 {
        self.priority_for(PluginCapability::Lifecycle)
    }

    fn on_server_start(&self, config_json: &str) -> Result<(), String> {
        self.try_lifecycle(LifecycleHook::ServerStart { config_json })
            .map_err(|e| e.to_string())
    }

    fn on_server_stop(&self) -> Result<(), String> {
        self.try_lifecycle(LifecycleHook::ServerStop)
            .map_err(|e| e.to_string())
    }

    fn on_request_complete(&self, event_json: &str) -> Result<(), String> {
        self.try_lifecycle(LifecycleHook::RequestComplete { event_json })
            .map_err(|e| e.to_string())
    }

    fn on_cache_write(&self, key: &str, tags_json: &str) -> Result<(), String> {
        self.try_lifecycle(LifecycleHook::CacheWrite { key, tags_json })
            .map_err(|e| e.to_string())
    }

    fn on_cache_invalidate(&self, pattern: &str, count: u32) -> Result<(), String> {
        self.try_lifecycle(LifecycleHook::CacheInvalidate { pattern, count })
            .map_err(|e| e.to_string())
    }

    fn on_reload(&self) -> Result<(), String> {
        self.try_lifecycle(LifecycleHook::Reload)
            .map_err(|e| e.to_string())
    }

    fn cleanup(&self) -> Result<(), String> {
        self.try_lifecycle(LifecycleHook::Cleanup)
            .map_err(|e| e.to_string())
    }
}
