//! The stores the gateway depends on, real and failing: Debian's
//! redis-server (the good tenant's `bext.shared`) and etcd (every plugin),
//! each killed and restarted once per cycle on a fixed schedule.

use crate::report::Record;
use bext_test_support::etcd_server::EtcdServer;
use bext_test_support::redis_server::RedisServer;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long each store stays down per cycle.
const REDIS_OUTAGE: Duration = Duration::from_secs(10);
const ETCD_OUTAGE: Duration = Duration::from_secs(15);

/// A running redis-server and etcd on loopback ports.
pub struct Stores {
    redis: RedisServer,
    etcd: EtcdServer,
}

impl Stores {
    /// Starts both servers (temporary folders, free loopback ports).
    pub fn start() -> std::io::Result<Stores> {
        Ok(Stores {
            redis: RedisServer::start()?,
            etcd: EtcdServer::start(),
        })
    }

    /// `redis://127.0.0.1:PORT/`.
    pub fn redis_url(&self) -> String {
        self.redis.url()
    }

    /// `http://127.0.0.1:PORT`.
    pub fn etcd_endpoint(&self) -> String {
        self.etcd.endpoint()
    }

    /// `127.0.0.1:PORT`, as the gateway's `--source etcd:` takes it.
    pub fn etcd_host_port(&self) -> String {
        self.etcd
            .endpoint()
            .trim_start_matches("http://")
            .to_string()
    }

    /// Keys in Redis (`DBSIZE`, through Debian's `redis-cli`): the good
    /// tenant's rate limiter must have written there, not to the
    /// in-process fallback.
    pub fn redis_keys(&self) -> Result<u64, String> {
        let out = std::process::Command::new("redis-cli")
            .args(["-p", &self.redis.port().to_string(), "DBSIZE"])
            .output()
            .map_err(|e| format!("redis-cli: {e}"))?;
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .map_err(|_| format!("redis-cli DBSIZE said {out:?}"))
    }

    /// On a thread of its own (the servers' restarts block): in every
    /// `period` from now until `until`, Redis is killed a sixth of the way
    /// in and etcd half way, each restarted after its outage. Each event is
    /// noted in `record`; the servers stop when the thread ends.
    pub fn run_faults(
        self,
        record: Arc<Record>,
        until: Instant,
        period: Duration,
    ) -> std::thread::JoinHandle<()> {
        std::thread::spawn(move || {
            let Stores {
                mut redis,
                mut etcd,
            } = self;
            let start = Instant::now();
            for cycle in 0u32.. {
                let base = start + period * cycle;
                let redis_at = base + period / 6;
                if redis_at + REDIS_OUTAGE >= until {
                    break;
                }
                sleep_until(redis_at);
                redis.stop();
                record.fault("redis-server killed");
                sleep_until(redis_at + REDIS_OUTAGE);
                match redis.restart() {
                    Ok(()) => record.fault("redis-server restarted"),
                    Err(e) => record.problem(format!("redis-server did not restart: {e}")),
                }
                let etcd_at = base + period / 2;
                if etcd_at + ETCD_OUTAGE >= until {
                    break;
                }
                sleep_until(etcd_at);
                etcd.stop();
                record.fault("etcd killed");
                sleep_until(etcd_at + ETCD_OUTAGE);
                etcd.restart();
                record.fault("etcd restarted");
            }
            // Both stay up for the rest of the run.
            sleep_until(until);
        })
    }
}

fn sleep_until(when: Instant) {
    std::thread::sleep(when.saturating_duration_since(Instant::now()));
}
