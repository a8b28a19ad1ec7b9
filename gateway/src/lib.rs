//! `gateway`: an HTTP gateway on bext-plugin-lua-wasm, the way users embed
//! the crate in a server.
//!
//! * Requests are routed by `Host` to tenants ([`config::GatewayConfig`]).
//! * Each tenant's middleware plugins come from a plugin source of
//!   `bext-plugin-sources` (a folder by default, etcd or a dynacode-style
//!   HTTP endpoint by flag, [`source`]) and reload live: a new version is
//!   loaded and checked before it is swapped in atomically, a broken one is
//!   rejected and the old one keeps serving, a deleted one is unloaded
//!   ([`state`]).
//! * `on_request` runs before the handler (the built-in echo handler, or a
//!   proxied upstream) and `on_response` after it, in reverse order
//!   ([`chain`]), on the async path ([`lua`]); `RequestContext` is filled
//!   from the real request ([`context`]).
//! * The admin listener serves plugin status and per-plugin stats in
//!   Prometheus text format ([`admin`]).
//! * `--native` runs the same scripts on native mlua behind the same
//!   middleware trait (`native`, with the `native-tier` feature): the load
//!   test's baseline.
#![warn(missing_docs)]

pub mod admin;
pub mod chain;
pub mod config;
pub mod context;
pub mod lua;
#[cfg(feature = "native-tier")]
pub mod native;
pub mod server;
pub mod source;
pub mod state;

use bext_plugin_lua_wasm::{LuaPluginRuntime, LuaRuntimeConfig, PoolingLimits};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

pub use config::GatewayConfig;
pub use source::{SourceSpec, StoreAccess};
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
    /// Stops accepting, lets requests in flight finish, stops watching the
    /// plugin source, and waits.
    pub async fn stop(self) -> std::io::Result<()> {
        let _ = self.shutdown.send(true);
        self.stopped
            .await
            .unwrap_or_else(|e| Err(std::io::Error::other(e)))
    }
}

/// Starts a gateway: reads the plugin source once and loads what it holds
/// (so the first request already sees it; a store that cannot be reached
/// leaves the tenants without plugins until it answers), binds both
/// listeners, and keeps watching the source. `poll` is the folder source's
/// quiet time before a read and the HTTP source's poll interval. Must run
/// inside a tokio runtime.
pub async fn start(
    config: &GatewayConfig,
    tier: Tier,
    source: &SourceSpec,
    poll: Duration,
) -> std::io::Result<Running> {
    // Pre-reserved instance slots: a sandbox replaced after a trap costs
    // microseconds, so a tenant that traps on every request stays cheap.
    let runtime = LuaPluginRuntime::with_config(
        LuaRuntimeConfig::default()
            .pooling(PoolingLimits::default())
            .shared_backend(config.shared_backend().map_err(std::io::Error::other)?),
    )
    .map_err(std::io::Error::other)?;
    let gateway = Gateway::new(config, Arc::new(runtime), tier);
    let source = source
        .open(poll, &config.store)
        .map_err(std::io::Error::other)?;
    let reconciler = gateway.reconciler().clone();
    let watch = tokio::task::spawn_blocking(move || reconciler.watch_ready(source))
        .await
        .map_err(std::io::Error::other)?;

    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    let admin_listener = tokio::net::TcpListener::bind(config.admin).await?;
    let (addr, admin_addr) = (listener.local_addr()?, admin_listener.local_addr()?);
    let (shutdown, stop) = tokio::sync::watch::channel(false);
    let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|stop| *stop).await;
    };
    let app = server::serve_until(
        listener,
        server::router(gateway.clone()),
        stopped(stop.clone()),
    );
    let admin = server::serve_until(
        admin_listener,
        server::admin_router(gateway.clone()),
        stopped(stop),
    );
    let stopped = tokio::spawn(async move {
        let result = tokio::try_join!(app, admin).map(|_| ());
        // Joins the source's thread, which ends promptly once signalled.
        tokio::task::spawn_blocking(move || watch.stop())
            .await
            .map_err(std::io::Error::other)?;
        result
    });
    Ok(Running {
        addr,
        admin_addr,
        gateway,
        stopped,
        shutdown,
    })
}
