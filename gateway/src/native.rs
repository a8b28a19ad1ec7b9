//! Native mlua plugins behind [`Middleware`]: the load test's baseline, the
//! same scripts on the native baseline
//! ([`bext_lua_native`], set up as bext's mlua tier is). Built with the
//! `native-tier` feature only.
//!
//! A native Lua state is not `Send`, so each executor thread keeps its own
//! state per plugin (made on the thread's first call): the native side pays
//! no pool, channel or lock, which makes it the fastest fair baseline. A
//! reloaded plugin gets a new id, and each thread replaces its state on its
//! next call; states of unloaded plugins stay until their thread ends (the
//! baseline is for measuring, not for serving tenants).

use crate::chain::{BoxFuture, Middleware, PluginFailure};
use bext_lua_native::{NativeLimits, NativePlugin};
use bext_plugin_api::middleware::{RequestAction, RequestContext, ResponseHeaders};
use bext_plugin_lua_wasm::{parse_middleware_action, parse_response_change, request_context_json};
use serde_json::Value;
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

thread_local! {
    /// This thread's states, by plugin name: (plugin id, state).
    static STATES: RefCell<HashMap<String, (u64, NativePlugin)>> = RefCell::new(HashMap::new());
}

/// One script on native Lua, one state per executor thread.
#[derive(Debug)]
pub struct NativeMiddleware {
    id: u64,
    name: String,
    version: String,
    source: Arc<str>,
    config_json: String,
    priority: u32,
    has_on_response: bool,
}

impl NativeMiddleware {
    /// A native plugin. `priority` and `has_on_response` come from loading
    /// the same script in the sandbox first, which also validates it, so a
    /// broken edit is rejected the same way on both tiers.
    pub fn new(
        name: impl Into<String>,
        version: impl Into<String>,
        source: Arc<str>,
        config_json: impl Into<String>,
        priority: u32,
        has_on_response: bool,
    ) -> Self {
        NativeMiddleware {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            name: name.into(),
            version: version.into(),
            source,
            config_json: config_json.into(),
            priority,
            has_on_response,
        }
    }

    /// Calls `method` on this thread's state of the plugin.
    fn call(&self, method: &str, arg: &str) -> Result<Option<String>, PluginFailure> {
        let fail = |message: String| PluginFailure {
            plugin: self.name.clone(),
            message,
            retry_after_ms: None,
        };
        STATES.with(|states| {
            let mut states = states.borrow_mut();
            let current = states.get(&self.name).is_some_and(|(id, _)| *id == self.id);
            if !current {
                let state = NativePlugin::load(
                    &self.name,
                    &self.source,
                    &self.config_json,
                    NativeLimits::default(),
                )
                .map_err(|e| fail(format!("load: {e}")))?;
                states.insert(self.name.clone(), (self.id, state));
            }
            let (_, state) = &states[&self.name];
            state
                .call(method, arg)
                .map_err(|e| fail(format!("{method}: {e}")))
        })
    }
}

impl Middleware for NativeMiddleware {
    fn name(&self) -> &str {
        &self.name
    }

    fn priority(&self) -> u32 {
        self.priority
    }

    fn version(&self) -> &str {
        &self.version
    }

    fn on_request<'a>(
        &'a self,
        ctx: &'a mut RequestContext,
    ) -> BoxFuture<'a, Result<RequestAction, PluginFailure>> {
        let result = (|| {
            let bad = |m: String| PluginFailure {
                plugin: self.name.clone(),
                message: format!("on_request: {m}"),
                retry_after_ms: None,
            };
            let Some(text) = self.call("on_request", &request_context_json(ctx))? else {
                return Ok(RequestAction::Continue);
            };
            // The runtime's parser: actions are checked exactly as in the sandbox.
            let action: Value = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
            Ok(parse_middleware_action(&action).map_err(bad)?.apply(ctx))
        })();
        Box::pin(async move { result })
    }

    fn on_response<'a>(
        &'a self,
        ctx: &'a RequestContext,
        response: &'a mut ResponseHeaders,
    ) -> BoxFuture<'a, Result<(), PluginFailure>> {
        let result = (|| {
            if !self.has_on_response {
                return Ok(());
            }
            let headers = serde_json::to_string(&response.headers).unwrap_or_else(|_| "[]".into());
            let arg = format!(
                r#"{{"status":{},"headers":{headers},"request":{}}}"#,
                response.status,
                request_context_json(ctx)
            );
            let Some(text) = self.call("on_response", &arg)? else {
                return Ok(());
            };
            let bad = |m: String| PluginFailure {
                plugin: self.name.clone(),
                message: format!("on_response: {m}"),
                retry_after_ms: None,
            };
            let change: Value = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
            parse_response_change(&change).map_err(bad)?.apply(response);
            Ok(())
        })();
        Box::pin(async move { result })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> RequestContext {
        RequestContext {
            method: "GET".into(),
            path: "/limited".into(),
            hostname: "a".into(),
            headers: vec![("accept".into(), "*/*".into())],
            query_string: String::new(),
            peer_ip: Some("127.0.0.1".into()),
            tenant_id: Some("a".into()),
            site_id: None,
            extensions: Default::default(),
        }
    }

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    const SCRIPT: &str = r#"
        return {
          on_request = function(self, ctx_json)
            local ctx = bext.json.decode(ctx_json)
            if ctx.path == "/limited" then
              return bext.middleware_respond('{"status":429,"headers":{"retry-after":"1"},"body":"slow"}', '{"hits":2}')
            end
            return bext.middleware_continue('{"seen":"yes"}')
          end,
          on_response = function(self, arg_json)
            local arg = bext.json.decode(arg_json)
            arg.headers[#arg.headers + 1] = {"x-native", arg.request.tenant_id}
            return { status = 201, headers = arg.headers }
          end,
        }"#;

    #[test]
    fn actions_extensions_and_response_changes_cross_like_the_sandbox() {
        let plugin = NativeMiddleware::new("t/native", "v1", SCRIPT.into(), "{}", 600, true);
        let mut ctx = ctx();
        match block_on(plugin.on_request(&mut ctx)).unwrap() {
            RequestAction::Respond(r) => {
                assert_eq!((r.status, r.body.as_slice()), (429, b"slow".as_slice()));
                assert_eq!(r.headers, [("retry-after".to_string(), "1".to_string())]);
            }
            RequestAction::Continue => panic!("expected a response"),
        }
        assert_eq!(ctx.extensions.get("hits").map(String::as_str), Some("2"));
        ctx.path = "/".into();
        assert!(matches!(
            block_on(plugin.on_request(&mut ctx)).unwrap(),
            RequestAction::Continue
        ));
        assert_eq!(ctx.extensions.get("seen").map(String::as_str), Some("yes"));
        let mut response = ResponseHeaders {
            status: 200,
            headers: vec![("a".into(), "b".into())],
        };
        block_on(plugin.on_response(&ctx, &mut response)).unwrap();
        assert_eq!(response.status, 201);
        assert_eq!(
            response.headers[1],
            ("x-native".to_string(), "a".to_string())
        );
    }

    #[test]
    fn a_lua_error_is_a_failure_naming_the_plugin() {
        let plugin = NativeMiddleware::new(
            "t/broken",
            "v1",
            "return { on_request = function() error('nope') end }".into(),
            "{}",
            600,
            false,
        );
        let failure = block_on(plugin.on_request(&mut ctx())).unwrap_err();
        assert_eq!(failure.plugin, "t/broken");
        assert!(failure.message.contains("nope"), "{}", failure.message);
    }

    #[test]
    fn a_reloaded_plugin_replaces_this_threads_state() {
        let v1 = NativeMiddleware::new(
            "t/reload",
            "v1",
            "return { on_request = function() return bext.middleware_continue('{\"v\":1}') end }"
                .into(),
            "{}",
            600,
            false,
        );
        let v2 = NativeMiddleware::new(
            "t/reload",
            "v2",
            "return { on_request = function() return bext.middleware_continue('{\"v\":2}') end }"
                .into(),
            "{}",
            600,
            false,
        );
        let mut ctx = ctx();
        block_on(v1.on_request(&mut ctx)).unwrap();
        assert_eq!(ctx.extensions["v"], "1");
        block_on(v2.on_request(&mut ctx)).unwrap();
        assert_eq!(ctx.extensions["v"], "2");
    }
}
