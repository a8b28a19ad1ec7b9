//! `gateway`: serves the tenants of a configuration file.
//!
//! `cargo run --release -p bext-gateway` starts it with the sample tenants
//! of `examples/gateway/` (see the README's "Gateway" section).

use bext_gateway::{GatewayConfig, SourceSpec, Tier};
use clap::Parser;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// An HTTP gateway running per-tenant Lua middleware in wasm sandboxes.
#[derive(Parser, Debug)]
#[command(name = "gateway")]
struct Args {
    /// The configuration file (tenants, listeners, plugin folder).
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/gateway/gateway.json"))]
    config: PathBuf,
    /// Serve requests here instead of the configured address.
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// Serve the admin endpoint here instead of the configured address.
    #[arg(long)]
    admin: Option<SocketAddr>,
    /// Take plugins from this folder instead of the configured one
    /// (shorthand for `--source folder:<dir>`).
    #[arg(long, conflicts_with = "source")]
    plugins: Option<PathBuf>,
    /// Where plugins come from: `folder:<dir>` (default: the configured
    /// plugin folder), `etcd:[https://]<host:port>[,...]/<prefix>/`, or a
    /// dynacode-style endpoint `https://<host:port>/<path>` (or `http://`).
    /// The configuration's `store` section holds the CA, client
    /// certificate and etcd user for TLS stores.
    #[arg(long)]
    source: Option<SourceSpec>,
    /// Run the scripts on native mlua instead of wasm sandboxes (the load
    /// test's baseline: no isolation, no budgets). Built with the
    /// `native-tier` feature only.
    #[cfg(feature = "native-tier")]
    #[arg(long)]
    native: bool,
    /// The plugins' `bext.shared` on this Redis server
    /// (`redis://host:port/`, `rediss://user:password@host:port/` for TLS
    /// and an ACL user) instead of the configured `shared_redis`.
    /// Built with the `redis` feature only.
    #[cfg(feature = "redis")]
    #[arg(long)]
    shared_redis: Option<String>,
    /// How long the plugin folder must be quiet after a change before it
    /// is read, and how often an HTTP source is polled, in milliseconds.
    #[arg(long, default_value_t = 200)]
    poll_ms: u64,
}

#[tokio::main]
async fn main() {
    let filter =
        tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .init();
    let args = Args::parse();
    if let Err(e) = run(args).await {
        eprintln!("gateway: {e}");
        std::process::exit(1);
    }
}

async fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let mut config = GatewayConfig::load(&args.config)?;
    config.listen = args.listen.unwrap_or(config.listen);
    config.admin = args.admin.unwrap_or(config.admin);
    config.plugins = args.plugins.unwrap_or(config.plugins);
    #[cfg(feature = "redis")]
    if args.shared_redis.is_some() {
        config.shared_redis = args.shared_redis;
    }
    let source = args
        .source
        .unwrap_or_else(|| SourceSpec::Folder(config.plugins.clone()));
    #[cfg(feature = "native-tier")]
    let tier = if args.native {
        Tier::Native
    } else {
        Tier::Sandboxed
    };
    #[cfg(not(feature = "native-tier"))]
    let tier = Tier::Sandboxed;
    let running =
        bext_gateway::start(&config, tier, &source, Duration::from_millis(args.poll_ms)).await?;
    println!(
        "gateway: serving on http://{} ({} tier), admin on http://{}/metrics",
        running.addr,
        tier.label(),
        running.admin_addr
    );
    println!("  plugins from {source}");
    for tenant in running.gateway.tenants() {
        println!("  tenant {:<10} plugins: {:?}", tenant.id(), tenant.chain());
    }
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminated() => {}
    }
    println!("gateway: shutting down");
    running.stop().await?;
    Ok(())
}

#[cfg(unix)]
async fn terminated() {
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(mut term) => {
            term.recv().await;
        }
        Err(_) => std::future::pending().await,
    }
}

#[cfg(not(unix))]
async fn terminated() {
    std::future::pending().await
}
