//! A throwaway Redis server for tests and benchmarks: Debian's
//! `redis-server` (installed by `scripts/bootstrap`) on a free loopback
//! port, with a temporary directory and no persistence, stopped on drop.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

/// A running `redis-server`; killed and its directory removed when dropped.
#[derive(Debug)]
pub struct RedisServer {
    child: Child,
    dir: PathBuf,
    port: u16,
}

impl RedisServer {
    /// Starts a server on 127.0.0.1 and returns once it accepts connections
    /// (it says so on its log, which is read until then).
    pub fn start() -> std::io::Result<RedisServer> {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let dir = std::env::temp_dir().join(format!("bext-redis-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let child = spawn(port, &dir)?;
        Ok(RedisServer { child, dir, port })
    }

    /// Starts the server again on the same port (after [`stop`](Self::stop),
    /// or after it died), empty: what clients see after a restart without
    /// persistence. Returns once it accepts connections.
    pub fn restart(&mut self) -> std::io::Result<()> {
        self.stop();
        self.child = spawn(self.port, &self.dir)?;
        Ok(())
    }

    /// `redis://127.0.0.1:PORT/`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops the server now (what an outage looks like to clients).
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Runs `redis-server` on `port` (no persistence, `dir` its working
/// folder) and waits until its log says it accepts connections.
fn spawn(port: u16, dir: &std::path::Path) -> std::io::Result<Child> {
    let mut child = Command::new("redis-server")
        .args([
            "--bind",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .arg("--dir")
        .arg(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| {
            std::io::Error::new(
                e.kind(),
                format!("redis-server (run scripts/bootstrap): {e}"),
            )
        })?;
    let log = BufReader::new(child.stdout.take().expect("piped stdout"));
    let mut lines = log.lines();
    let mut ready = false;
    for line in lines.by_ref() {
        if line?.contains("Ready to accept connections") {
            ready = true;
            break;
        }
    }
    // Keep draining the log so the server never blocks on a full pipe.
    std::thread::spawn(move || lines.for_each(drop));
    if !ready {
        let _ = child.kill();
        let _ = child.wait();
        return Err(std::io::Error::other(
            "redis-server exited before accepting connections",
        ));
    }
    Ok(child)
}
