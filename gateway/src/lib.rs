//! `gateway`: an HTTP gateway on bext-plugin-lua-wasm, the way users embed
//! the crate in a server.
//!
//! * Requests are routed by `Host` to tenants ([`config::GatewayConfig`]).
//! * Each tenant's middleware plugins come from a plugin source (a folder
//!   by default, [`source`]) and reload live: a new version is loaded and
//!   checked before it is swapped in atomically, a broken one is rejected
//!   and the old one keeps serving, a deleted one is unloaded ([`state`]).
//! * `on_request` runs before the handler (the built-in echo handler, or a
//!   proxied upstream) and `on_response` after it, in reverse order
//!   ([`chain`]), on the async path ([`lua`]); `RequestContext` is filled
//!   from the real request ([`context`]).
//! * The admin listener serves plugin status and per-plugin stats in
//!   Prometheus text format ([`admin`]).
//! * `--native` runs the same scripts on native mlua behind the same
//!   middleware trait ([`native`]): the load test's baseline.
#![warn(missing_docs)]

pub mod admin;
pub mod chain;
pub mod config;
pub mod context;
pub mod lua;
pub mod native;
pub mod server;
pub mod source;
pub mod state;

use bext_plugin_lua_wasm::{LuaPluginRuntime, LuaRuntimeConfig, PoolingLimits};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

pub use config::GatewayConfig;
pub use state::{Gateway, Tier};

/// A started gateway: its bound addresses and its state.
#[derive(Debug)]
pub struct Running {
    /// Where requests are served (the real port when the config said 0).
    pub addr: SocketAddr,
    /// Where the admin endpoint is served.
    pub admin_addr: SocketAddr,
    /// The live state.
    pub gateway: Arc<Gateway>,
    /// Resolves when both listeners have stopped.
    pub stopped: tokio::task::JoinHandle<std::io::Result<()>>,
    shutdown: tokio::sync::watch::Sender<bool>,
}

impl Running {
    /// Stops accepting, lets requests in flight finish, and waits.
    pub async fn stop(self) -> std::io::Result<()> {
        let _ = self.shutdown.send(true);
        self.stopped.await.unwrap_or_else(|e| Err(std::io::Error::other(e)))
    }
}

/// Starts a gateway: loads every plugin the folder holds now (so the first
/// request already sees them), binds both listeners, and keeps polling the
/// folder every `poll` for changes. Must run inside a tokio runtime.
pub async fn start(config: &GatewayConfig, tier: Tier, poll: Duration) -> std::io::Result<Running> {
    // Pre-reserved instance slots: a sandbox replaced after a trap costs
    // microseconds, so a tenant that traps on every request stays cheap.
    let runtime = LuaPluginRuntime::with_config(LuaRuntimeConfig::default().pooling(PoolingLimits::default()))
        .map_err(std::io::Error::other)?;
    let gateway = Arc::new(Gateway::new(config, runtime, tier));
    let folder = source::FolderSource::new(&config.plugins);
    let (gw, initial) = (gateway.clone(), folder.clone());
    let reconciler = tokio::task::spawn_blocking(move || {
        let mut reconciler = source::Reconciler::default();
        initial.snapshot().map(|snapshot| {
            reconciler.apply(&gw, &snapshot);
            reconciler
        })
    })
    .await
    .map_err(std::io::Error::other)?
    .map_err(std::io::Error::other)?;

    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    let admin_listener = tokio::net::TcpListener::bind(config.admin).await?;
    let (addr, admin_addr) = (listener.local_addr()?, admin_listener.local_addr()?);
    let (shutdown, stop) = tokio::sync::watch::channel(false);
    let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|stop| *stop).await;
    };
    let watcher = tokio::spawn(source::watch(gateway.clone(), folder, reconciler, poll));
    let app = server::serve_until(listener, server::router(gateway.clone()), stopped(stop.clone()));
    let admin = server::serve_until(admin_listener, server::admin_router(gateway.clone()), stopped(stop));
    let stopped = tokio::spawn(async move {
        let result = tokio::try_join!(app, admin).map(|_| ());
        watcher.abort();
        result
    });
    Ok(Running { addr, admin_addr, gateway, stopped, shutdown })
}
