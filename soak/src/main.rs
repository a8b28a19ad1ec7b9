//! `soak`: runs the gateway for minutes or hours under a bounded load while
//! everything that can go wrong in production does, and fails on the first
//! sign of a fault that only time shows (a leak, a lost request, a broken
//! version served). `scripts/soak [minutes]` builds and runs it.
//!
//! * The stores are real and fail: the plugins come from etcd, the good
//!   tenant's rate limiter counts in Redis (`bext.shared`), and both servers
//!   are killed and restarted every cycle ([`stores`]).
//! * The tenants ([`tenants`]): `good` (two plugins, one on Redis), `reload`
//!   (its plugin rewritten in etcd every second, every tenth version
//!   broken), `loop` (runs out of time on every call) and `hog` (runs out of
//!   memory on every call).
//! * The load ([`load`]) is a fixed rate per tenant on 127.0.0.1, so the run
//!   is bounded in requests and a slow gateway shows as latency, not as
//!   less work.
//! * Every few seconds the gateway's RSS, descriptors, threads and template
//!   arena are sampled ([`sample`]); [`report`] prints a row per minute and
//!   the verdict.
//!
//! ```text
//! soak --gateway target/release/gateway --minutes 60 [--table FILE]
//! ```

mod load;
mod report;
mod sample;
mod stores;
mod tenants;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The command line.
struct Args {
    gateway: PathBuf,
    minutes: u64,
    table: Option<PathBuf>,
}

fn parse_args() -> Result<Args, String> {
    let usage = "usage: soak --gateway BIN [--minutes N] [--table FILE]";
    let mut gateway = None;
    let mut minutes = 60;
    let mut table = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value; {usage}"));
        match arg.as_str() {
            "--gateway" => gateway = Some(PathBuf::from(value()?)),
            "--minutes" => {
                minutes = value()?
                    .parse()
                    .ok()
                    .filter(|m| *m > 0)
                    .ok_or(format!("--minutes takes a whole number above 0; {usage}"))?
            }
            "--table" => table = Some(PathBuf::from(value()?)),
            _ => return Err(format!("unknown argument `{arg}`; {usage}")),
        }
    }
    Ok(Args {
        gateway: gateway.ok_or(usage)?,
        minutes,
        table,
    })
}

fn main() {
    let args = match parse_args() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("soak: {e}");
            std::process::exit(2);
        }
    };
    // Before the runtime: the etcd launcher blocks on a runtime of its own.
    let stores = match stores::Stores::start() {
        Ok(stores) => stores,
        Err(e) => {
            eprintln!("soak: starting the stores: {e}");
            std::process::exit(1);
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    match runtime.block_on(run(args, stores)) {
        Ok(true) => {}
        Ok(false) => std::process::exit(1),
        Err(e) => {
            eprintln!("soak: {e}");
            std::process::exit(1);
        }
    }
}

/// The gateway process, killed on drop (also when the soak fails early).
struct GatewayProcess(Child);

impl Drop for GatewayProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Runs the soak; `Ok(false)` when it found a fault.
async fn run(args: Args, stores: stores::Stores) -> Result<bool, Box<dyn std::error::Error>> {
    let duration = Duration::from_secs(args.minutes * 60);
    let work = std::env::temp_dir().join(format!("bext-soak-{}", std::process::id()));
    std::fs::create_dir_all(&work)?;

    let prefix = "/bext/soak/";
    let mut etcd = tenants::Etcd::new(stores.etcd_endpoint(), prefix);
    tenants::publish_fixed(&mut etcd).await?;
    etcd.put_reload(1).await?;

    let (port, admin_port) = (free_port()?, free_port()?);
    std::fs::write(work.join("gateway.json"), tenants::gateway_config())?;
    let log = std::fs::File::create(work.join("gateway.log"))?;
    let child = Command::new(&args.gateway)
        .arg("--config")
        .arg(work.join("gateway.json"))
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .args(["--admin", &format!("127.0.0.1:{admin_port}")])
        .args([
            "--source",
            &format!("etcd:{}{prefix}", stores.etcd_host_port()),
        ])
        .args(["--shared-redis", &stores.redis_url()])
        .env("RUST_LOG", "warn")
        .stdout(log.try_clone()?)
        .stderr(log)
        .stdin(Stdio::null())
        .spawn()
        .map_err(|e| format!("{}: {e}", args.gateway.display()))?;
    let gateway = GatewayProcess(child);
    let pid = gateway.0.id();
    println!(
        "soak: {} minutes; gateway pid {pid} on 127.0.0.1:{port}, log {}",
        args.minutes,
        work.join("gateway.log").display()
    );

    let client = load::Client::new(port);
    let admin = sample::Admin::new(admin_port);
    load::wait_until_serving(&client, Duration::from_secs(60)).await?;
    if stores.redis_keys()? == 0 {
        return Err("the good tenant's rate limiter wrote nothing to Redis".into());
    }

    let started = Instant::now();
    let record = Arc::new(report::Record::new(started, args.minutes));
    let until = started + duration;
    let faults = stores.run_faults(record.clone(), until, fault_period(args.minutes));
    let writer = tokio::spawn(tenants::rewrite_every_second(etcd, record.clone(), until));
    let loads = load::start(&client, record.clone(), until);
    let sampler = tokio::spawn(sample::every(
        pid,
        admin,
        record.clone(),
        until,
        Duration::from_secs(5),
    ));
    for task in loads {
        task.await?;
    }
    writer.await?;
    sampler.await?;
    faults.join().map_err(|_| "the fault schedule panicked")?;
    drop(gateway);
    // A panic the gateway survived (a task's, caught by the runtime) is a
    // fault all the same.
    let log = std::fs::read_to_string(work.join("gateway.log")).unwrap_or_default();
    if let Some(line) = log.lines().find(|line| line.contains("panicked")) {
        record.problem(format!("the gateway logged a panic: {line}"));
    }

    let verdict = record.verdict();
    let table = record.table();
    println!("{table}");
    println!("{verdict}");
    if let Some(path) = args.table {
        std::fs::write(&path, format!("{table}\n{verdict}\n"))?;
    }
    if verdict.passed() {
        let _ = std::fs::remove_dir_all(&work);
    } else {
        println!(
            "soak: the gateway's log: {}",
            work.join("gateway.log").display()
        );
    }
    Ok(verdict.passed())
}

/// How often the stores are killed: every three minutes in a long run,
/// every minute in a short one (a two-minute run sees each outage twice).
fn fault_period(minutes: u64) -> Duration {
    Duration::from_secs(if minutes >= 10 { 180 } else { 60 })
}
