//! Sandboxed Lua plugins behind [`Middleware`]: the one place that knows
//! how the gateway calls the runtime.

use crate::chain::{BoxFuture, Middleware, PluginFailure};
use bext_plugin_api::middleware::{RequestAction, RequestContext, ResponseHeaders};
use bext_plugin_api::MiddlewarePlugin;
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
        LuaMiddleware { plugin, version: version.into() }
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
    PluginFailure { plugin: plugin.name().to_string(), message: error.to_string(), retry_after_ms }
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

    fn on_request<'a>(&'a self, ctx: &'a mut RequestContext) -> BoxFuture<'a, Result<RequestAction, PluginFailure>> {
        Box::pin(async move { self.plugin.try_on_request_async(ctx).await.map_err(|e| failure(&self.plugin, e)) })
    }

    fn on_response<'a>(
        &'a self,
        ctx: &'a RequestContext,
        response: &'a mut ResponseHeaders,
    ) -> BoxFuture<'a, Result<(), PluginFailure>> {
        Box::pin(async move { self.plugin.try_on_response_async(ctx, response).await.map_err(|e| failure(&self.plugin, e)) })
    }

    fn stats(&self) -> Option<PluginStats> {
        Some(self.plugin.stats())
    }
}

/// Stand-in for the runtime's async call path until it is merged: the sync
/// calls on tokio's blocking pool, so no executor thread waits on a plugin.
trait AsyncCalls {
    async fn try_on_request_async(&self, ctx: &mut RequestContext) -> Result<RequestAction, Error>;
    async fn try_on_response_async(&self, ctx: &RequestContext, response: &mut ResponseHeaders) -> Result<(), Error>;
}

fn copy_context(ctx: &RequestContext) -> RequestContext {
    RequestContext {
        method: ctx.method.clone(),
        path: ctx.path.clone(),
        hostname: ctx.hostname.clone(),
        headers: ctx.headers.clone(),
        query_string: ctx.query_string.clone(),
        peer_ip: ctx.peer_ip.clone(),
        tenant_id: ctx.tenant_id.clone(),
        site_id: ctx.site_id.clone(),
        extensions: ctx.extensions.clone(),
    }
}

fn joined<T>(plugin: &LuaPlugin, joined: Result<T, tokio::task::JoinError>) -> Result<T, Error> {
    joined.map_err(|e| Error::Trap { plugin: plugin.name().into(), method: "on_request".into(), message: e.to_string() })
}

impl AsyncCalls for LuaPlugin {
    async fn try_on_request_async(&self, ctx: &mut RequestContext) -> Result<RequestAction, Error> {
        let (plugin, mut owned) = (self.clone(), copy_context(ctx));
        let (owned, result) = joined(self, tokio::task::spawn_blocking(move || {
            let result = plugin.try_on_request(&mut owned);
            (owned, result)
        }).await)?;
        *ctx = owned;
        result
    }

    async fn try_on_response_async(&self, ctx: &RequestContext, response: &mut ResponseHeaders) -> Result<(), Error> {
        let (plugin, owned) = (self.clone(), copy_context(ctx));
        let mut headers = ResponseHeaders { status: response.status, headers: std::mem::take(&mut response.headers) };
        let (headers, result) = joined(self, tokio::task::spawn_blocking(move || {
            let result = plugin.try_on_response(&owned, &mut headers);
            (headers, result)
        }).await)?;
        *response = headers;
        result
    }
}
