//! A real etcd server for tests (Debian's `etcd-server` package) on
//! loopback ports with a temporary data folder, and a blocking client to
//! write to it. The tests of bext-plugin-sources and of the gateway use it.
//!
//! With the `tls` feature the server can serve its clients over TLS
//! ([`EtcdServer::start_tls`]) and require passwords
//! ([`EtcdServer::enable_auth`]).

use std::path::PathBuf;
use std::time::{Duration, Instant};

/// A real etcd server on loopback ports with a temporary data folder;
/// killed (and its folder removed) on drop.
pub struct EtcdServer {
    child: Option<std::process::Child>,
    dir: PathBuf,
    client_port: u16,
    peer_port: u16,
    #[cfg(feature = "tls")]
    tls: Option<ServerTls>,
    /// The root user's password once authentication is on.
    #[cfg(feature = "tls")]
    root_password: Option<String>,
}

/// How the server's client port speaks TLS.
#[cfg(feature = "tls")]
#[derive(Debug, Clone)]
struct ServerTls {
    certs: crate::tls::TestCerts,
    client_cert_auth: bool,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl EtcdServer {
    /// Starts a server on two free loopback ports (client and peer) and
    /// waits until it answers (see [`EtcdServer::restart`]).
    pub fn start() -> Self {
        Self::start_with(|_| {})
    }

    /// Starts a server whose client port speaks TLS only, with the server
    /// certificate of `certs`; with `client_cert_auth` every client must
    /// show a certificate signed by `certs`' CA (etcd's
    /// `--client-cert-auth`). The endpoint is `https://127.0.0.1:PORT`.
    #[cfg(feature = "tls")]
    pub fn start_tls(certs: &crate::tls::TestCerts, client_cert_auth: bool) -> Self {
        let tls = ServerTls {
            certs: certs.clone(),
            client_cert_auth,
        };
        Self::start_with(move |server| server.tls = Some(tls))
    }

    fn start_with(configure: impl FnOnce(&mut EtcdServer)) -> Self {
        let client_port = free_port();
        let dir = std::env::temp_dir().join(format!(
            "bext-etcd-test-{}-{client_port}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let mut server = EtcdServer {
            child: None,
            dir,
            client_port,
            peer_port: free_port(),
            #[cfg(feature = "tls")]
            tls: None,
            #[cfg(feature = "tls")]
            root_password: None,
        };
        configure(&mut server);
        server.restart();
        server
    }

    fn scheme(&self) -> &'static str {
        #[cfg(feature = "tls")]
        if self.tls.is_some() {
            return "https";
        }
        "http"
    }

    /// The client URL (`http://127.0.0.1:PORT`, or `https://` for a TLS
    /// server).
    pub fn endpoint(&self) -> String {
        format!("{}://127.0.0.1:{}", self.scheme(), self.client_port)
    }

    /// Turns on etcd's authentication: a `root` user with
    /// `root_password`, and a user `name` with `password` that may only
    /// read keys under `prefix`. The server's [`client`](Self::client) logs
    /// in as root from now on.
    #[cfg(feature = "tls")]
    pub fn enable_auth(&mut self, root_password: &str, name: &str, password: &str, prefix: &str) {
        let client = self.client();
        client
            .run(async |c| {
                c.user_add("root", root_password, None).await?;
                c.user_grant_role("root", "root").await?;
                c.role_add("reader").await?;
                c.role_grant_permission(
                    "reader",
                    etcd_client::Permission::read(prefix).with_prefix(),
                )
                .await?;
                c.user_add(name, password, None).await?;
                c.user_grant_role(name, "reader").await?;
                c.auth_enable().await
            })
            .unwrap();
        self.root_password = Some(root_password.into());
    }

    /// Starts the server again on the same ports and data (after `stop`),
    /// and waits (30 s at most, a bound for a stuck test) until it answers.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "etcd is already running");
        let client = self.endpoint();
        let peer = format!("http://127.0.0.1:{}", self.peer_port);
        let log = std::fs::File::create(self.dir.join("etcd.log")).unwrap();
        let mut command = std::process::Command::new("etcd");
        #[cfg(feature = "tls")]
        if let Some(tls) = &self.tls {
            command
                .arg("--cert-file")
                .arg(tls.certs.path("server.pem"))
                .arg("--key-file")
                .arg(tls.certs.path("server.key"))
                .arg("--trusted-ca-file")
                .arg(tls.certs.path("ca.pem"));
            if tls.client_cert_auth {
                command.arg("--client-cert-auth");
            }
        }
        let child = command
            .args(["--name", "test", "--data-dir"])
            .arg(self.dir.join("data"))
            .args([
                "--listen-client-urls",
                &client,
                "--advertise-client-urls",
                &client,
            ])
            .args([
                "--listen-peer-urls",
                &peer,
                "--initial-advertise-peer-urls",
                &peer,
            ])
            .args([
                "--initial-cluster",
                &format!("test={peer}"),
                "--initial-cluster-state",
                "new",
            ])
            .args(["--log-level", "error", "--logger", "zap"])
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("starting etcd (Debian's etcd-server package; scripts/bootstrap installs it)");
        self.child = Some(child);
        let client = self.client();
        let deadline = Instant::now() + Duration::from_secs(30);
        while client.try_revision().is_none() {
            assert!(
                Instant::now() < deadline,
                "etcd did not answer within 30 s; see {}",
                self.dir.join("etcd.log").display()
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Kills the server (its data stays for `restart`).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// A blocking client connected to this server (over TLS with the
    /// client certificate for a TLS server, as root once authentication is
    /// on).
    pub fn client(&self) -> EtcdClient {
        #[allow(unused_mut)]
        let mut client = EtcdClient::connect(&self.endpoint());
        #[cfg(feature = "tls")]
        {
            client.tls = self.tls.as_ref().map(|tls| tls.certs.clone());
            client.root_password = self.root_password.clone();
        }
        client
    }
}

impl Drop for EtcdServer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A blocking etcd client for the tests to write with.
pub struct EtcdClient {
    runtime: tokio::runtime::Runtime,
    endpoint: String,
    #[cfg(feature = "tls")]
    tls: Option<crate::tls::TestCerts>,
    #[cfg(feature = "tls")]
    root_password: Option<String>,
}

impl EtcdClient {
    /// A client of the server at `endpoint` (each call connects anew).
    pub fn connect(endpoint: &str) -> Self {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        EtcdClient {
            runtime,
            endpoint: endpoint.into(),
            #[cfg(feature = "tls")]
            tls: None,
            #[cfg(feature = "tls")]
            root_password: None,
        }
    }

    fn run<T>(
        &self,
        f: impl AsyncFnOnce(&mut etcd_client::Client) -> Result<T, etcd_client::Error>,
    ) -> Result<T, etcd_client::Error> {
        self.runtime.block_on(async {
            #[allow(unused_mut)]
            let mut options = etcd_client::ConnectOptions::new()
                .with_connect_timeout(Duration::from_millis(500))
                .with_timeout(Duration::from_secs(2));
            #[cfg(feature = "tls")]
            {
                if let Some(certs) = &self.tls {
                    options = options.with_tls(
                        etcd_client::TlsOptions::new()
                            .assume_http2(true)
                            .ca_certificate(etcd_client::Certificate::from_pem(certs.pem("ca.pem")))
                            .identity(etcd_client::Identity::from_pem(
                                certs.pem("client.pem"),
                                certs.pem("client.key"),
                            )),
                    );
                }
                if let Some(password) = &self.root_password {
                    options = options.with_user("root", password);
                }
            }
            let mut client = etcd_client::Client::connect([&self.endpoint], Some(options)).await?;
            f(&mut client).await
        })
    }

    /// The store's current revision, or `None` when the server does not
    /// answer.
    pub fn try_revision(&self) -> Option<i64> {
        self.run(async |c| c.get("/", None).await)
            .ok()
            .and_then(|r| r.header().map(|h| h.revision()))
    }

    /// Writes `key`; returns the revision of the write.
    pub fn put(&self, key: &str, value: &str) -> i64 {
        let response = self.run(async |c| c.put(key, value, None).await).unwrap();
        response.header().unwrap().revision()
    }

    /// Deletes `key`.
    pub fn delete(&self, key: &str) {
        self.run(async |c| c.delete(key, None).await).unwrap();
    }

    /// Compacts the history up to `revision`.
    pub fn compact(&self, revision: i64) {
        self.run(async |c| c.compact(revision, None).await).unwrap();
    }
}
