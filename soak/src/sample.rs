//! What the gateway process holds, sampled on a fixed period: resident
//! memory, open descriptors and threads (from `/proc`), and the template
//! arena (from its `/metrics`).

use crate::load::{HttpClient, http_client};
use crate::report::{Record, Sample};
use http_body_util::BodyExt;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The gateway's admin endpoint.
pub struct Admin {
    http: HttpClient,
    port: u16,
}

impl Admin {
    /// The admin endpoint on `port` of 127.0.0.1.
    pub fn new(port: u16) -> Admin {
        Admin {
            http: http_client(),
            port,
        }
    }

    /// `bext_sandbox_template_arena_bytes` from `/metrics`.
    async fn arena_bytes(&self) -> Result<u64, String> {
        let uri = format!("http://127.0.0.1:{}/metrics", self.port);
        let scrape = async {
            let response = self
                .http
                .get(uri.parse().map_err(|e| format!("{e}"))?)
                .await
                .map_err(|e| e.to_string())?;
            let body = response
                .into_body()
                .collect()
                .await
                .map_err(|e| e.to_string())?
                .to_bytes();
            let text = String::from_utf8_lossy(&body);
            text.lines()
                .find_map(|line| line.strip_prefix("bext_sandbox_template_arena_bytes "))
                .and_then(|v| v.trim().parse().ok())
                .ok_or_else(|| "no bext_sandbox_template_arena_bytes in /metrics".to_string())
        };
        tokio::time::timeout(Duration::from_secs(5), scrape)
            .await
            .unwrap_or_else(|_| Err("/metrics did not answer in 5 s".into()))
    }
}

/// Samples process `pid` every `period` until `until`.
pub async fn every(pid: u32, admin: Admin, record: Arc<Record>, until: Instant, period: Duration) {
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if Instant::now() >= until {
            break;
        }
        match (process(pid), admin.arena_bytes().await) {
            (Ok((rss_bytes, threads, fds)), Ok(arena_bytes)) => record.sample(Sample {
                rss_bytes,
                fds,
                threads,
                arena_bytes,
            }),
            (Err(e), _) | (_, Err(e)) => record.problem(format!("sampling the gateway: {e}")),
        }
    }
}

/// Resident bytes, threads and open descriptors of process `pid`.
fn process(pid: u32) -> Result<(u64, u64, u64), String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map_err(|e| format!("/proc/{pid}/status (has the gateway exited?): {e}"))?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|v| v.parse::<u64>().ok())
            .ok_or_else(|| format!("/proc/{pid}/status has no {name}"))
    };
    let rss_bytes = field("VmRSS:")? * 1024;
    let threads = field("Threads:")?;
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map_err(|e| format!("/proc/{pid}/fd: {e}"))?
        .count() as u64;
    Ok((rss_bytes, threads, fds))
}
