//! Helpers shared by the tests.
#![allow(dead_code)] // each module uses a different subset

use bext_plugin_api::middleware::{RequestAction, RequestContext};
use bext_plugin_lua_wasm::LuaPluginRuntime;
use bext_plugin_sources::{manifest_or_default, DesiredPlugin, Reconciler};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A fresh runtime (after the first, a runtime costs well under a
/// millisecond: the compiled guest is cached in the process).
pub fn runtime() -> Arc<LuaPluginRuntime> {
    Arc::new(LuaPluginRuntime::new())
}

/// A middleware that answers every request with `body`.
pub fn answering(body: &str) -> String {
    format!(
        "return {{ on_request = function(self, ctx)\n  return bext.middleware_respond('{{\"status\":200,\"body\":\"{body}\"}}')\nend }}\n"
    )
}

/// A middleware that answers with its config section.
pub const ANSWERS_CONFIG: &str =
    "return { on_request = function(self, ctx)\n  return bext.middleware_respond(bext.json.encode({status = 200, body = bext.get_config()}))\nend }\n";

/// Lua that does not compile.
pub const BROKEN: &str = "return { on_request = function(self, ctx) return ( end }";

pub fn desired(tenant: &str, plugin: &str, source: &str) -> DesiredPlugin {
    DesiredPlugin::new("test", tenant, plugin, manifest_or_default(plugin, None).unwrap(), "{}", source).unwrap()
}

/// What `tenant/plugin` answers a request with now (`None`: not loaded).
pub fn served(runtime: &LuaPluginRuntime, tenant: &str, plugin: &str) -> Option<String> {
    let plugin = runtime.plugin(&format!("{tenant}/{plugin}"))?;
    let mut ctx = RequestContext {
        method: "GET".into(),
        path: "/".into(),
        hostname: "example.com".into(),
        headers: Vec::new(),
        query_string: String::new(),
        peer_ip: None,
        tenant_id: Some(tenant.into()),
        site_id: None,
        extensions: Default::default(),
    };
    match plugin.try_on_request(&mut ctx) {
        Ok(RequestAction::Respond(r)) => Some(String::from_utf8_lossy(&r.body).into_owned()),
        Ok(RequestAction::Continue) => Some("<continue>".into()),
        Err(e) => Some(format!("<error: {e}>")),
    }
}

/// Polls `condition` until it holds; panics naming `what` after 30 s (a
/// bound for a stuck test, not a timing assertion).
pub fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Waits until `runtime` serves `body` for `tenant/plugin`.
pub fn wait_served(runtime: &LuaPluginRuntime, tenant: &str, plugin: &str, body: &str) {
    wait_until(&format!("{tenant}/{plugin} answers {body:?}"), || {
        served(runtime, tenant, plugin).as_deref() == Some(body)
    });
}

/// A temporary folder, removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(label: &str) -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "bext-sources-{label}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Writes `text` to `path` the safe way: a hidden temporary file renamed
/// over the target.
pub fn write_atomically(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let temporary = path.with_file_name(format!(".{}.tmp", path.file_name().unwrap().to_string_lossy()));
    std::fs::write(&temporary, text).unwrap();
    std::fs::rename(&temporary, path).unwrap();
}

pub fn reconciler() -> Reconciler {
    Reconciler::new(runtime())
}

#[cfg(feature = "etcd")]
pub use etcd_harness::*;

#[cfg(feature = "etcd")]
mod etcd_harness {
    use super::*;

    /// A real etcd server (Debian's `etcd-server` package) on loopback ports
    /// with a temporary data folder; killed on drop.
    pub struct EtcdServer {
        child: Option<std::process::Child>,
        dir: TempDir,
        client_port: u16,
        peer_port: u16,
    }

    fn free_port() -> u16 {
        std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
    }

    impl EtcdServer {
        pub fn start() -> Self {
            let mut server = EtcdServer { child: None, dir: TempDir::new("etcd"), client_port: free_port(), peer_port: free_port() };
            server.restart();
            server
        }

        pub fn endpoint(&self) -> String {
            format!("http://127.0.0.1:{}", self.client_port)
        }

        /// Starts the server again on the same ports and data (after `stop`).
        pub fn restart(&mut self) {
            assert!(self.child.is_none(), "etcd is already running");
            let client = self.endpoint();
            let peer = format!("http://127.0.0.1:{}", self.peer_port);
            let log = std::fs::File::create(self.dir.path().join("etcd.log")).unwrap();
            let child = std::process::Command::new("etcd")
                .args(["--name", "test", "--data-dir"])
                .arg(self.dir.path().join("data"))
                .args(["--listen-client-urls", &client, "--advertise-client-urls", &client])
                .args(["--listen-peer-urls", &peer, "--initial-advertise-peer-urls", &peer])
                .args(["--initial-cluster", &format!("test={peer}"), "--initial-cluster-state", "new"])
                .args(["--log-level", "error", "--logger", "zap"])
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .expect("starting etcd (Debian's etcd-server package; scripts/bootstrap installs it)");
            self.child = Some(child);
            let client = EtcdClient::connect(&self.endpoint());
            wait_until("etcd answers", || client.try_revision().is_some());
        }

        /// Kills the server (its data stays for `restart`).
        pub fn stop(&mut self) {
            if let Some(mut child) = self.child.take() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }

        pub fn client(&self) -> EtcdClient {
            EtcdClient::connect(&self.endpoint())
        }
    }

    impl Drop for EtcdServer {
        fn drop(&mut self) {
            self.stop();
        }
    }

    /// A blocking etcd client for the tests to write with.
    pub struct EtcdClient {
        runtime: tokio::runtime::Runtime,
        endpoint: String,
    }

    impl EtcdClient {
        pub fn connect(endpoint: &str) -> Self {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            EtcdClient { runtime, endpoint: endpoint.into() }
        }

        fn run<T>(&self, f: impl AsyncFnOnce(&mut etcd_client::Client) -> Result<T, etcd_client::Error>) -> Result<T, etcd_client::Error> {
            self.runtime.block_on(async {
                let options = etcd_client::ConnectOptions::new()
                    .with_connect_timeout(Duration::from_millis(500))
                    .with_timeout(Duration::from_secs(2));
                let mut client = etcd_client::Client::connect([&self.endpoint], Some(options)).await?;
                f(&mut client).await
            })
        }

        pub fn try_revision(&self) -> Option<i64> {
            self.run(async |c| c.get("/", None).await).ok().and_then(|r| r.header().map(|h| h.revision()))
        }

        pub fn put(&self, key: &str, value: &str) -> i64 {
            let response = self.run(async |c| c.put(key, value, None).await).unwrap();
            response.header().unwrap().revision()
        }

        pub fn delete(&self, key: &str) {
            self.run(async |c| c.delete(key, None).await).unwrap();
        }

        pub fn compact(&self, revision: i64) {
            self.run(async |c| c.compact(revision, None).await).unwrap();
        }
    }

    /// The etcd value of a plugin with default manifest and config.
    pub fn etcd_value(source: &str) -> String {
        bext_plugin_sources::EtcdSource::value(source, None, None)
    }
}
