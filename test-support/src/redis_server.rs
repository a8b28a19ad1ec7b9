//! A throwaway Redis server for tests and benchmarks: Debian's
//! `redis-server` (installed by `scripts/bootstrap`) on a free loopback
//! port, with a temporary directory and no persistence, stopped on drop.
//! With the `tls` feature it can speak TLS only and require an ACL user
//! ([`RedisOptions`]).

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
    options: RedisOptions,
}

/// How [`RedisServer::start_with`] starts the server. Default: plain TCP,
/// the `default` user without a password (as [`RedisServer::start`]).
#[derive(Debug, Clone, Default)]
pub struct RedisOptions {
    #[cfg(feature = "tls")]
    tls: Option<(crate::tls::TestCerts, bool)>,
    user: Option<(String, String)>,
}

impl RedisOptions {
    /// The defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// TLS only (no plain port), with the server certificate of `certs`;
    /// with `client_cert` every client must show a certificate signed by
    /// `certs`' CA (`tls-auth-clients yes`).
    #[cfg(feature = "tls")]
    pub fn tls(mut self, certs: &crate::tls::TestCerts, client_cert: bool) -> Self {
        self.tls = Some((certs.clone(), client_cert));
        self
    }

    /// The `default` user off, and an ACL user `name` with `password` that
    /// may run every command on every key.
    pub fn acl_user(mut self, name: &str, password: &str) -> Self {
        self.user = Some((name.into(), password.into()));
        self
    }

    fn is_tls(&self) -> bool {
        #[cfg(feature = "tls")]
        if self.tls.is_some() {
            return true;
        }
        false
    }
}

impl RedisServer {
    /// Starts a server on 127.0.0.1 and returns once it accepts connections
    /// (it says so on its log, which is read until then).
    pub fn start() -> std::io::Result<RedisServer> {
        Self::start_with(RedisOptions::default())
    }

    /// [`start`](Self::start) with TLS or an ACL user.
    pub fn start_with(options: RedisOptions) -> std::io::Result<RedisServer> {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let dir = std::env::temp_dir().join(format!("bext-redis-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let child = spawn(port, &dir, &options)?;
        Ok(RedisServer {
            child,
            dir,
            port,
            options,
        })
    }

    /// Starts the server again on the same port (after [`stop`](Self::stop),
    /// or after it died), empty: what clients see after a restart without
    /// persistence. Returns once it accepts connections.
    pub fn restart(&mut self) -> std::io::Result<()> {
        self.stop();
        self.child = spawn(self.port, &self.dir, &self.options)?;
        Ok(())
    }

    /// `redis://127.0.0.1:PORT/` (`rediss://` for a TLS server).
    pub fn url(&self) -> String {
        let scheme = if self.options.is_tls() {
            "rediss"
        } else {
            "redis"
        };
        format!("{scheme}://127.0.0.1:{}/", self.port)
    }

    /// [`url`](Self::url) with a user and password
    /// (`rediss://name:password@127.0.0.1:PORT/`).
    pub fn url_as(&self, name: &str, password: &str) -> String {
        self.url()
            .replacen("://", &format!("://{name}:{password}@"), 1)
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
fn spawn(port: u16, dir: &std::path::Path, options: &RedisOptions) -> std::io::Result<Child> {
    let mut command = Command::new("redis-server");
    command.args(["--bind", "127.0.0.1"]);
    #[cfg(feature = "tls")]
    if let Some((certs, client_cert)) = &options.tls {
        command
            .args(["--port", "0", "--tls-port", &port.to_string()])
            .arg("--tls-cert-file")
            .arg(certs.path("server.pem"))
            .arg("--tls-key-file")
            .arg(certs.path("server.key"))
            .arg("--tls-ca-cert-file")
            .arg(certs.path("ca.pem"))
            .args([
                "--tls-auth-clients",
                if *client_cert { "yes" } else { "no" },
            ]);
    }
    if !options.is_tls() {
        command.args(["--port", &port.to_string()]);
    }
    if let Some((name, password)) = &options.user {
        command.args(["--user", "default", "off"]).args([
            "--user",
            name,
            "on",
            &format!(">{password}"),
            "~*",
            "&*",
            "+@all",
        ]);
    }
    let mut child = command
        .args(["--save", "", "--appendonly", "no"])
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
