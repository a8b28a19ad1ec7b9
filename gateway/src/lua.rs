//! Sandboxed Lua plugins behind [`Middleware`]: the one place that knows
//! how the gateway calls the runtime.

use crate::chain::{BoxFuture, Middleware, PluginFailure};
use bext_plugin_api::MiddlewarePlugin;
use bext_plugin_api::middleware::{RequestAction, RequestContext, ResponseHeaders};
use bext_plugin_lua_wasm::{Error, LuaPlugin, PluginStats};

/// A loaded [`LuaPlugin`] and the version of its source.
#[derive(Debug, Clone)]
pub struct LuaMiddleware {
    plugin: LuaPlugin,
    version: String,
}

impl LuaMiddleware {
    /// Wraps a plugin loaded from source version `version`.
    pub fn new(plugin: LuaPlugin, version: impl Into<String>) -> Self {
        LuaMiddleware {
            plugin,
            version: version.into(),
        }
    }

    /// The runtime's handle.
    pub fn plugin(&self) -> &LuaPlugin {
        &self.plugin
    }
}

/// The runtime's typed error as the gateway answers it.
fn failure(plugin: &LuaPlugin, error: Error) -> PluginFailure {
    let retry_after_ms = match &error {
        Error::Quarantined { retry_after_ms, .. } => Some(*retry_after_ms),
        _ => None,
    };
    PluginFailure {
        plugin: plugin.name().to_string(),
        message: error.to_string(),
        retry_after_ms,
    }
}

impl Middleware for LuaMiddleware {
    fn name(&self) -> &str {
        self.plugin.name()
    }

    fn priority(&self) -> u32 {
        MiddlewarePlugin::priority(&self.plugin)
    }

    fn version(&self) -> &str {
        &self.version
    }

    // The runtime's async path: the guest yields to the executor every
    // epoch tick, so a looping tenant never holds a worker thread.
    fn on_request<'a>(
        &'a self,
        ctx: &'a mut RequestContext,
    ) -> BoxFuture<'a, Result<RequestAction, PluginFailure>> {
        Box::pin(async move {
            self.plugin
                .try_on_request_async(ctx)
                .await
                .map_err(|e| failure(&self.plugin, e))
        })
    }

    fn on_response<'a>(
        &'a self,
        ctx: &'a RequestContext,
        response: &'a mut ResponseHeaders,
    ) -> BoxFuture<'a, Result<(), PluginFailure>> {
        Box::pin(async move {
            self.plugin
                .try_on_response_async(ctx, response)
                .await
                .map_err(|e| failure(&self.plugin, e))
        })
    }

    fn stats(&self) -> Option<PluginStats> {
        Some(self.plugin.stats())
    }
}
