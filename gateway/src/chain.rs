//! The middleware trait the gateway calls, and a tenant's chain of plugins.
//!
//! Lua plugins ([`crate::lua`]) and native mlua plugins ([`crate::native`])
//! sit behind the same [`Middleware`] trait, so the load test compares them
//! on the same path.

use bext_plugin_api::middleware::{PluginResponse, RequestAction, RequestContext, ResponseHeaders};
use bext_plugin_lua_wasm::PluginStats;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// A boxed future that may move between executor threads.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A plugin call that failed: the gateway answers the request with an error
/// response naming the plugin (it fails closed: a broken auth plugin must
/// not let requests through).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginFailure {
    /// The plugin's name.
    pub plugin: String,
    /// What went wrong (the runtime's error text, which names the plugin).
    pub message: String,
    /// Set when the plugin is quarantined: the client may retry after this
    /// many milliseconds. The gateway answers 503 with `retry-after` then,
    /// 500 otherwise.
    pub retry_after_ms: Option<u64>,
}

impl std::fmt::Display for PluginFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "plugin {} failed: {}", self.plugin, self.message)
    }
}

/// One middleware plugin as the gateway calls it: `bext-plugin-api`'s
/// `MiddlewarePlugin` with async calls.
pub trait Middleware: Send + Sync {
    /// The plugin's name (unique in the gateway: `tenant/plugin`).
    fn name(&self) -> &str;
    /// Stack position: lower runs earlier on request, later on response.
    fn priority(&self) -> u32;
    /// What the source said this version is (a revision or a content hash).
    fn version(&self) -> &str;
    /// Called before the handler; may short-circuit with a response.
    fn on_request<'a>(
        &'a self,
        ctx: &'a mut RequestContext,
    ) -> BoxFuture<'a, Result<RequestAction, PluginFailure>>;
    /// Called after the handler (or a short-circuit), in reverse order.
    fn on_response<'a>(
        &'a self,
        ctx: &'a RequestContext,
        response: &'a mut ResponseHeaders,
    ) -> BoxFuture<'a, Result<(), PluginFailure>>;
    /// The runtime's counters for a sandboxed plugin; `None` for native ones.
    fn stats(&self) -> Option<PluginStats> {
        None
    }
}

/// A tenant's plugins in stack order (priority, then name). Immutable: a
/// reload builds a new chain and swaps it in, so a request keeps the chain
/// it started with.
#[derive(Clone, Default)]
pub struct Chain {
    plugins: Vec<Arc<dyn Middleware>>,
}

impl std::fmt::Debug for Chain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.plugins.iter().map(|p| p.name()))
            .finish()
    }
}

/// What `on_request` of the chain decided.
#[derive(Debug)]
pub enum Decision {
    /// Every plugin continued: call the handler.
    Continue,
    /// A plugin answered the request itself.
    Respond(PluginResponse),
    /// A plugin failed; the request is answered with an error.
    Failed(PluginFailure),
}

impl Chain {
    /// The plugins, sorted into stack order.
    pub fn new(mut plugins: Vec<Arc<dyn Middleware>>) -> Self {
        plugins.sort_by(|a, b| (a.priority(), a.name()).cmp(&(b.priority(), b.name())));
        Chain { plugins }
    }

    /// The plugins in stack order.
    pub fn plugins(&self) -> &[Arc<dyn Middleware>] {
        &self.plugins
    }

    /// Runs `on_request` of each plugin in order until one responds or
    /// fails. Returns the decision and how many plugins ran (the ones whose
    /// `on_response` runs afterwards, as in a middleware stack).
    pub async fn on_request(&self, ctx: &mut RequestContext) -> (Decision, usize) {
        for (index, plugin) in self.plugins.iter().enumerate() {
            match plugin.on_request(ctx).await {
                Ok(RequestAction::Continue) => {}
                Ok(RequestAction::Respond(response)) => {
                    return (Decision::Respond(response), index + 1);
                }
                Err(failure) => return (Decision::Failed(failure), index),
            }
        }
        (Decision::Continue, self.plugins.len())
    }

    /// Runs `on_response` of the first `ran` plugins in reverse order. The
    /// first failure stops the walk.
    pub async fn on_response(
        &self,
        ctx: &RequestContext,
        response: &mut ResponseHeaders,
        ran: usize,
    ) -> Result<(), PluginFailure> {
        for plugin in self.plugins[..ran.min(self.plugins.len())].iter().rev() {
            plugin.on_response(ctx, response).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// A scripted plugin that records the calls it gets.
    struct Recorder {
        name: String,
        priority: u32,
        respond: bool,
        fail: bool,
        log: Arc<Mutex<Vec<String>>>,
    }

    impl Middleware for Recorder {
        fn name(&self) -> &str {
            &self.name
        }
        fn priority(&self) -> u32 {
            self.priority
        }
        fn version(&self) -> &str {
            "test"
        }
        fn on_request<'a>(
            &'a self,
            _ctx: &'a mut RequestContext,
        ) -> BoxFuture<'a, Result<RequestAction, PluginFailure>> {
            self.log.lock().unwrap().push(format!("req {}", self.name));
            let result = if self.fail {
                Err(PluginFailure {
                    plugin: self.name.clone(),
                    message: "boom".into(),
                    retry_after_ms: None,
                })
            } else if self.respond {
                Ok(RequestAction::Respond(PluginResponse {
                    status: 429,
                    headers: vec![],
                    body: vec![],
                }))
            } else {
                Ok(RequestAction::Continue)
            };
            Box::pin(async move { result })
        }
        fn on_response<'a>(
            &'a self,
            _: &'a RequestContext,
            r: &'a mut ResponseHeaders,
        ) -> BoxFuture<'a, Result<(), PluginFailure>> {
            self.log.lock().unwrap().push(format!("resp {}", self.name));
            r.headers.push(("x-seen".into(), self.name.clone()));
            Box::pin(async { Ok(()) })
        }
    }

    fn chain(specs: &[(&str, u32, bool, bool)], log: &Arc<Mutex<Vec<String>>>) -> Chain {
        Chain::new(
            specs
                .iter()
                .map(|&(name, priority, respond, fail)| {
                    Arc::new(Recorder {
                        name: name.into(),
                        priority,
                        respond,
                        fail,
                        log: log.clone(),
                    }) as Arc<dyn Middleware>
                })
                .collect(),
        )
    }

    fn ctx() -> RequestContext {
        RequestContext {
            method: "GET".into(),
            path: "/".into(),
            hostname: "a".into(),
            headers: vec![],
            query_string: String::new(),
            peer_ip: None,
            tenant_id: None,
            site_id: None,
            extensions: Default::default(),
        }
    }

    fn block_on<F: Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn runs_requests_by_priority_and_responses_in_reverse() {
        let log = Arc::new(Mutex::new(Vec::new()));
        let chain = chain(
            &[
                ("b", 600, false, false),
                ("a", 100, false, false),
                ("c", 600, false, false),
            ],
            &log,
        );
        let mut response = ResponseHeaders {
            status: 200,
            headers: vec![],
        };
        block_on(async {
            let mut ctx = ctx();
            let (decision, ran) = chain.on_request(&mut ctx).await;
            assert!(matches!(decision, Decision::Continue));
            assert_eq!(ran, 3);
            chain.on_response(&ctx, &mut response, ran).await.unwrap();
        });
        assert_eq!(
            *log.lock().unwrap(),
            ["req a", "req b", "req c", "resp c", "resp b", "resp a"]
        );
    }

    #[test]
    fn a_short_circuit_skips_later_plugins_and_unwinds_the_ones_that_ran() {
        let log = Arc::new(Mutex::new(Vec::new()));
        let chain = chain(
            &[
                ("a", 1, false, false),
                ("limit", 2, true, false),
                ("c", 3, false, false),
            ],
            &log,
        );
        block_on(async {
            let mut ctx = ctx();
            let (decision, ran) = chain.on_request(&mut ctx).await;
            assert!(matches!(
                decision,
                Decision::Respond(PluginResponse { status: 429, .. })
            ));
            assert_eq!(ran, 2);
            chain
                .on_response(
                    &ctx,
                    &mut ResponseHeaders {
                        status: 429,
                        headers: vec![],
                    },
                    ran,
                )
                .await
                .unwrap();
        });
        assert_eq!(
            *log.lock().unwrap(),
            ["req a", "req limit", "resp limit", "resp a"]
        );
    }

    #[test]
    fn a_failure_stops_the_chain_and_names_the_plugin() {
        let log = Arc::new(Mutex::new(Vec::new()));
        let chain = chain(
            &[
                ("a", 1, false, false),
                ("broken", 2, false, true),
                ("c", 3, false, false),
            ],
            &log,
        );
        let (decision, ran) = block_on(async { chain.on_request(&mut ctx()).await });
        match decision {
            Decision::Failed(failure) => assert_eq!(failure.plugin, "broken"),
            other => panic!("{other:?}"),
        }
        assert_eq!(ran, 1, "the failing plugin's on_response does not run");
        assert_eq!(*log.lock().unwrap(), ["req a", "req broken"]);
    }
}
