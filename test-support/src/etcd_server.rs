//! A real etcd server for tests (Debian's `etcd-server` package) on
//! loopback ports with a temporary data folder, and a blocking client to
//! write to it. The tests of bext-plugin-sources and of the gateway use it.

use std::path::PathBuf;
use std::time::{Duration, Instant};

/// A real etcd server on loopback ports with a temporary data folder;
/// killed (and its folder removed) on drop.
pub struct EtcdServer {
    child: Option<std::process::Child>,
    dir: PathBuf,
    client_port: u16,
    peer_port: u16,
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
        };
        server.restart();
        server
    }

    /// The client URL (`http://127.0.0.1:PORT`).
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.client_port)
    }

    /// Starts the server again on the same ports and data (after `stop`),
    /// and waits (30 s at most, a bound for a stuck test) until it answers.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "etcd is already running");
        let client = self.endpoint();
        let peer = format!("http://127.0.0.1:{}", self.peer_port);
        let log = std::fs::File::create(self.dir.join("etcd.log")).unwrap();
        let child = std::process::Command::new("etcd")
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
        let client = EtcdClient::connect(&self.endpoint());
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

    /// A blocking client connected to this server.
    pub fn client(&self) -> EtcdClient {
        EtcdClient::connect(&self.endpoint())
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
        }
    }

    fn run<T>(
        &self,
        f: impl AsyncFnOnce(&mut etcd_client::Client) -> Result<T, etcd_client::Error>,
    ) -> Result<T, etcd_client::Error> {
        self.runtime.block_on(async {
            let options = etcd_client::ConnectOptions::new()
                .with_connect_timeout(Duration::from_millis(500))
                .with_timeout(Duration::from_secs(2));
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
