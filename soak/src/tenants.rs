//! The soak's tenants and their plugins, as the gateway sees them: its
//! configuration file and one etcd key per plugin.

use crate::report::Record;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The `Host` of each tenant.
pub const GOOD: &str = "good.soak";
pub const RELOAD: &str = "reload.soak";
pub const LOOP: &str = "loop.soak";
pub const HOG: &str = "hog.soak";

/// The gateway's configuration: four tenants, the misbehaving ones with
/// tight limits (a 50 ms budget, a 16 MiB heap).
pub fn gateway_config() -> String {
    serde_json::json!({
        "tenants": [
            {"id": "good", "hosts": [GOOD]},
            {"id": "reload", "hosts": [RELOAD]},
            {"id": "loop", "hosts": [LOOP], "limits": {"timeout_ms": 50}},
            {"id": "hog", "hosts": [HOG], "limits": {"max_heap_bytes": 16 << 20}},
        ]
    })
    .to_string()
}

/// The plugins that do not change: the good tenant's tag and rate limiter
/// (on Redis, with a limit no soak reaches), and the sample gateway's
/// looping and hoarding scripts.
pub async fn publish_fixed(etcd: &mut Etcd) -> Result<(), String> {
    let examples = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/gateway/plugins");
    let read = |path: &str| {
        std::fs::read_to_string(format!("{examples}/{path}"))
            .map_err(|e| format!("{examples}/{path}: {e}"))
    };
    etcd.put("good/tag", include_str!("../plugins/tag.lua"), None)
        .await?;
    etcd.put(
        "good/ratelimit",
        &read("one/ratelimit.lua")?,
        Some(serde_json::json!({"limit": 1_000_000_000, "window_secs": 1})),
    )
    .await?;
    etcd.put("loop/spin", &read("loop/spin.lua")?, None).await?;
    etcd.put("hog/hoard", &read("hog/hoard.lua")?, None).await
}

/// Version `n` of the reload tenant's script: the sample gateway's
/// `reload/app.lua`, marking its responses with `n`; every tenth version
/// does not compile, and must never serve.
pub fn reload_source(n: u64) -> String {
    let app = include_str!("../../examples/gateway/plugins/reload/app.lua");
    let source = app.replace(
        r#"local VERSION = "0""#,
        &format!(r#"local VERSION = "{n}""#),
    );
    if is_broken(n) {
        format!("{source}\nthis version does not compile (")
    } else {
        source
    }
}

/// Whether version `n` of the reload tenant's script is a broken one.
pub fn is_broken(n: u64) -> bool {
    n.is_multiple_of(10)
}

/// A client of the etcd the gateway watches, reconnecting after an outage.
pub struct Etcd {
    endpoint: String,
    prefix: String,
    client: Option<etcd_client::Client>,
}

impl Etcd {
    /// Keys go under `prefix` (`<prefix><tenant>/<plugin>`).
    pub fn new(endpoint: String, prefix: &str) -> Etcd {
        Etcd {
            endpoint,
            prefix: prefix.to_string(),
            client: None,
        }
    }

    /// Writes one plugin (the etcd source's JSON value), within two seconds.
    pub async fn put(
        &mut self,
        plugin: &str,
        source: &str,
        config: Option<serde_json::Value>,
    ) -> Result<(), String> {
        let mut value = serde_json::json!({"source": source});
        if let Some(config) = config {
            value["config"] = config;
        }
        let key = format!("{}{plugin}", self.prefix);
        let attempt = async {
            if self.client.is_none() {
                self.client = Some(
                    etcd_client::Client::connect([self.endpoint.as_str()], None)
                        .await
                        .map_err(|e| e.to_string())?,
                );
            }
            let client = self.client.as_mut().expect("connected above");
            client
                .put(key.as_str(), value.to_string(), None)
                .await
                .map(drop)
                .map_err(|e| e.to_string())
        };
        let result = match tokio::time::timeout(Duration::from_secs(2), attempt).await {
            Ok(result) => result,
            Err(_) => Err("timed out".into()),
        };
        if result.is_err() {
            // The next put connects again.
            self.client = None;
        }
        result.map_err(|e| format!("etcd put {key}: {e}"))
    }

    /// Writes version `n` of the reload tenant's script.
    pub async fn put_reload(&mut self, n: u64) -> Result<(), String> {
        self.put("reload/app", &reload_source(n), None).await
    }
}

/// Rewrites the reload tenant's script every second until `until`, noting
/// each version written (a put that fails while etcd is down is noted too:
/// that version never existed).
pub async fn rewrite_every_second(mut etcd: Etcd, record: Arc<Record>, until: Instant) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    for n in 2.. {
        tick.tick().await;
        if Instant::now() >= until {
            break;
        }
        let result = etcd.put_reload(n).await;
        record.rewrite(n, result.is_ok());
    }
}
