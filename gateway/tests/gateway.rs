//! The gateway end to end over real HTTP on 127.0.0.1: routing, the
//! request context plugins see, the handler and upstream, failures, the
//! admin endpoint, and live reload through the plugin sources of
//! `bext-plugin-sources` (the folder, and etcd against a real server).

use axum::body::Body;
use bext_gateway::config::GatewayConfig;
use bext_gateway::state::{Gateway, Tier};
use bext_gateway::{SourceSpec, StoreAccess, server};
use bext_plugin_lua_wasm::LuaPluginRuntime;
use bext_plugin_sources::{ApplyReport, FolderSource, PluginSource};
use bext_test_support::etcd_server::{EtcdClient, EtcdServer};
use http_body_util::BodyExt;
use hyper_util::client::legacy::Client;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A runtime per gateway; the compiled guest is shared by the process.
fn runtime() -> Arc<LuaPluginRuntime> {
    Arc::new(LuaPluginRuntime::new())
}

/// A fresh folder under the target dir, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        static COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!(
            "bext-gateway-test-{}-{tag}-{n}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn write(&self, relative: &str, text: &str) {
        let path = self.0.join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A gateway serving on an ephemeral port, with its folder source read and
/// applied by hand (so each test decides exactly when a reload happens).
struct TestGateway {
    addr: SocketAddr,
    admin: SocketAddr,
    gateway: Arc<Gateway>,
    folder: FolderSource,
    _plugins: TempDir,
}

impl TestGateway {
    async fn start(config_json: &str, plugins: TempDir, tier: Tier) -> Self {
        let config = GatewayConfig::parse(config_json).unwrap();
        let gateway = Gateway::new(&config, runtime(), tier);
        let folder = FolderSource::new(&plugins.0);
        let mut test = TestGateway {
            addr: ([0, 0, 0, 0], 0).into(),
            admin: ([0, 0, 0, 0], 0).into(),
            gateway,
            folder,
            _plugins: plugins,
        };
        test.reconcile();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let admin = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        test.addr = listener.local_addr().unwrap();
        test.admin = admin.local_addr().unwrap();
        tokio::spawn(server::serve_until(
            listener,
            server::router(test.gateway.clone()),
            std::future::pending(),
        ));
        tokio::spawn(server::serve_until(
            admin,
            server::admin_router(test.gateway.clone()),
            std::future::pending(),
        ));
        test
    }

    /// One read of the folder, applied: what the watched source does after
    /// each change. The chains are rebuilt before it returns.
    fn reconcile(&mut self) -> ApplyReport {
        let set = self.folder.read().unwrap();
        self.gateway.reconciler().apply(self.folder.id(), &set)
    }

    async fn get(&self, host: &str, path_and_query: &str, headers: &[(&str, &str)]) -> Reply {
        request(self.addr, host, path_and_query, headers).await
    }

    async fn metrics(&self) -> String {
        request(self.admin, "admin", "/metrics", &[]).await.body
    }
}

#[derive(Debug)]
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

async fn request(
    addr: SocketAddr,
    host: &str,
    path_and_query: &str,
    headers: &[(&str, &str)],
) -> Reply {
    let client = Client::builder(hyper_util::rt::TokioExecutor::new()).build_http::<Body>();
    let mut builder =
        http::Request::get(format!("http://{addr}{path_and_query}")).header("host", host);
    for (k, v) in headers {
        builder = builder.header(*k, *v);
    }
    let response = client
        .request(builder.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap().to_string()))
        .collect();
    let body = String::from_utf8(
        response
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec(),
    )
    .unwrap();
    Reply {
        status,
        headers,
        body,
    }
}

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples")
}

const TWO_TENANTS: &str = r#"{"tenants":[
    {"id":"a","hosts":["a.localhost"]},
    {"id":"b","hosts":["b.localhost","www.b.localhost"]}]}"#;

const TAGGER: &str = r#"
local config = bext.json.decode(bext.get_config())
return {
  priority = 300,
  on_request = function(self, ctx_json)
    return bext.middleware_continue(bext.json.encode({ tag = config.tag }))
  end,
  on_response = function(self, arg_json)
    local arg = bext.json.decode(arg_json)
    arg.headers[#arg.headers + 1] = { "x-tag", arg.request.extensions.tag .. "@" .. arg.request.tenant_id }
    return { headers = arg.headers }
  end,
}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routes_by_host_and_fills_the_context_from_the_real_request() {
    let plugins = TempDir::new("routing");
    plugins.write("a/tagger.lua", TAGGER);
    plugins.write("a/config.json", r#"{"tagger":{"tag":"from-a"}}"#);
    let gw = TestGateway::start(TWO_TENANTS, plugins, Tier::Sandboxed).await;

    let reply = gw
        .get(
            "A.localhost:8080",
            "/orders/7?x=1&y=%20z",
            &[("x-dup", "one"), ("accept", "*/*"), ("x-dup", "two")],
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.header("x-tag"), Some("from-a@a"));
    let echo = reply.json();
    assert_eq!(echo["method"], "GET");
    assert_eq!(echo["path"], "/orders/7");
    assert_eq!(echo["query_string"], "x=1&y=%20z");
    assert_eq!(echo["hostname"], "a.localhost");
    assert_eq!(echo["peer_ip"], "127.0.0.1");
    assert_eq!(echo["tenant_id"], "a");
    assert_eq!(
        echo["extensions"]["tag"], "from-a",
        "the handler sees what on_request added"
    );
    let dups: Vec<&str> = echo["headers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h[0] == "x-dup")
        .map(|h| h[1].as_str().unwrap())
        .collect();
    assert_eq!(dups, ["one", "two"], "both values, in order");

    // Tenant b has no plugins: the echo handler alone, on either of its hosts.
    let reply = gw.get("www.b.localhost", "/", &[]).await;
    assert_eq!((reply.status, reply.header("x-tag")), (200, None));
    assert_eq!(reply.json()["tenant_id"], "b");

    let reply = gw.get("nobody.localhost", "/", &[]).await;
    assert_eq!(reply.status, 404);
    assert!(reply.body.contains("nobody.localhost"), "{}", reply.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sample_plugins_short_circuit_and_add_headers_in_stack_order() {
    let plugins = TempDir::new("shop");
    let shop = examples().join("gateway/plugins/shop");
    for entry in std::fs::read_dir(&shop).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        plugins.write(
            &format!("a/{name}"),
            &std::fs::read_to_string(&path).unwrap(),
        );
    }
    let gw = TestGateway::start(TWO_TENANTS, plugins, Tier::Sandboxed).await;

    let open = gw.get("a.localhost", "/", &[]).await;
    assert_eq!(open.status, 200);
    assert_eq!(
        open.header("x-content-type-options"),
        Some("nosniff"),
        "security headers' on_response ran"
    );
    assert_eq!(open.header("x-ratelimit-remaining"), Some("4"));

    let denied = gw.get("a.localhost", "/api/orders", &[]).await;
    assert_eq!(denied.status, 401, "{}", denied.body);
    assert_eq!(
        denied.header("x-frame-options"),
        Some("DENY"),
        "a short-circuit still unwinds through earlier plugins"
    );

    let allowed = gw
        .get(
            "a.localhost",
            "/api/orders",
            &[("authorization", "Bearer s3cret-token")],
        )
        .await;
    assert_eq!(allowed.status, 200, "{}", allowed.body);
    for _ in 0..2 {
        gw.get("a.localhost", "/", &[]).await;
    }
    let limited = gw.get("a.localhost", "/", &[]).await;
    assert_eq!(limited.status, 429, "{}", limited.body);
    assert!(limited.header("retry-after").is_some());
}

/// A log writer that keeps what the gateway logged.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The plugins an apply rejected, as (tenant, plugin).
fn rejected(report: &ApplyReport) -> Vec<(&str, &str)> {
    report
        .rejected
        .iter()
        .map(|e| e.plugin().expect("names its plugin"))
        .collect()
}

fn versioned(version: &str) -> String {
    format!(
        r#"return {{
  on_response = function(self, arg_json)
    local headers = bext.json.decode(arg_json).headers
    headers[#headers + 1] = {{ "x-version", "{version}" }}
    return {{ headers = headers }}
  end,
  on_request = function(self) return bext.middleware_continue() end,
}}"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_reload_swaps_new_versions_keeps_the_old_on_a_broken_edit_and_unloads_deleted_plugins()
{
    let plugins = TempDir::new("reload");
    plugins.write("a/app.lua", &versioned("1"));
    let root = plugins.0.clone();
    let mut gw = TestGateway::start(TWO_TENANTS, plugins, Tier::Sandboxed).await;
    let write = |text: &str| std::fs::write(root.join("a/app.lua"), text).unwrap();
    assert_eq!(
        gw.get("a.localhost", "/", &[]).await.header("x-version"),
        Some("1")
    );

    // An edit: loaded, checked, swapped in. A request that took the chain
    // before the swap still runs the version it started with.
    let tenant = gw.gateway.tenant_for_host("a.localhost").unwrap().clone();
    let in_flight = tenant.chain();
    write(&versioned("2"));
    let applied = gw.reconcile();
    assert_eq!(applied.reloaded, ["a/app"]);
    assert_eq!(
        gw.get("a.localhost", "/", &[]).await.header("x-version"),
        Some("2")
    );
    let mut response = bext_plugin_api::middleware::ResponseHeaders {
        status: 200,
        headers: vec![],
    };
    let ctx = bext_gateway::context::request_context(
        &http::Request::get("/").body(()).unwrap().into_parts().0,
        "127.0.0.1:1".parse().unwrap(),
        "a",
    );
    in_flight.on_response(&ctx, &mut response, 1).await.unwrap();
    assert_eq!(
        response.headers,
        [("x-version".to_string(), "1".to_string())],
        "the old version finishes its requests"
    );

    // A broken edit: rejected with a logged error naming the plugin; version 2 keeps serving.
    write(
        "return { on_request = function(self) return bext.middleware_continue() end, on_response = function(self) x = end }",
    );
    let logs = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer({
            let logs = logs.clone();
            move || logs.clone()
        })
        .with_ansi(false)
        .finish();
    let applied = tracing::subscriber::with_default(subscriber, || gw.reconcile());
    assert_eq!(rejected(&applied), [("a", "app")]);
    let logged = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(
        logged.contains("ERROR") && logged.contains("a/app") && logged.contains("rejected"),
        "{logged}"
    );
    let failing = &gw.gateway.plugin_status()["a/app"];
    assert!(
        failing
            .failing
            .as_deref()
            .is_some_and(|e| e.contains("tenant `a` plugin `app`")),
        "{:?}",
        failing.failing
    );
    assert_eq!(
        gw.get("a.localhost", "/", &[]).await.header("x-version"),
        Some("2")
    );
    let metrics = gw.metrics().await;
    assert!(
        metrics.contains(r#"bext_plugin_load_failing{tenant="a",plugin="a/app"} 1"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(
            r#"bext_plugin_reloads_total{tenant="a",plugin="a/app",result="rejected"} 1"#
        ),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"bext_plugin_reloads_total{tenant="a",plugin="a/app",result="ok"} 2"#),
        "{metrics}"
    );

    // A script that raises at load is rejected the same way; then a good edit recovers.
    write("error('not today')");
    assert_eq!(rejected(&gw.reconcile()), [("a", "app")]);
    write(&versioned("3"));
    assert_eq!(gw.reconcile().reloaded, ["a/app"]);
    assert_eq!(
        gw.get("a.localhost", "/", &[]).await.header("x-version"),
        Some("3")
    );
    assert!(
        gw.metrics()
            .await
            .contains(r#"bext_plugin_load_failing{tenant="a",plugin="a/app"} 0"#)
    );

    // Deleted: unloaded, and gone from the chain and the admin endpoint.
    std::fs::remove_file(root.join("a/app.lua")).unwrap();
    assert_eq!(gw.reconcile().unloaded, ["a/app"]);
    assert!(
        gw.gateway.reconciler().runtime().plugin("a/app").is_none(),
        "unloaded from the runtime too"
    );
    let reply = gw.get("a.localhost", "/", &[]).await;
    assert_eq!((reply.status, reply.header("x-version")), (200, None));
    assert!(!gw.metrics().await.contains("a/app"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_file_that_cannot_be_read_is_down_and_failing_in_the_metrics() {
    // What `cp -r` of tenants whose plugins are relative links leaves: the
    // links dangle. The plugin must not vanish without a word (an auth
    // plugin would fail open): a logged broken entry, down and failing.
    let plugins = TempDir::new("dangling");
    plugins.write("a/tagger.lua", TAGGER);
    std::fs::create_dir_all(plugins.0.join("a")).unwrap();
    std::os::unix::fs::symlink("../../samples/auth.lua", plugins.0.join("a/auth.lua")).unwrap();
    let logs = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer({
            let logs = logs.clone();
            move || logs.clone()
        })
        .with_ansi(false)
        .finish();
    let gw = {
        let _logging = tracing::subscriber::set_default(subscriber);
        TestGateway::start(TWO_TENANTS, plugins, Tier::Sandboxed).await
    };
    let logged = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(
        logged.contains("ERROR")
            && logged.contains("tenant `a` plugin `auth`")
            && logged.contains(
                "auth.lua is a symbolic link to ../../samples/auth.lua, which does not exist"
            ),
        "{logged}"
    );
    let failing = &gw.gateway.plugin_status()["a/auth"];
    assert!(
        failing
            .failing
            .as_deref()
            .is_some_and(|e| e.contains("auth.lua") && e.contains("does not exist")),
        "{:?}",
        failing.failing
    );
    let metrics = gw.metrics().await;
    assert!(
        metrics.contains(r#"bext_plugin_up{tenant="a",plugin="a/auth",version="",tier="wasm"} 0"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"bext_plugin_load_failing{tenant="a",plugin="a/auth"} 1"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"bext_plugin_load_failing{tenant="a",plugin="a/tagger"} 0"#),
        "the rest of the tenant loads: {metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_looping_or_hoarding_tenant_fails_alone_and_shows_in_the_stats() {
    let plugins = TempDir::new("noisy");
    plugins.write("a/tagger.lua", TAGGER);
    plugins.write("a/config.json", r#"{"tagger":{"tag":"ok"}}"#);
    let examples = examples().join("gateway/plugins");
    plugins.write(
        "loop/spin.lua",
        &std::fs::read_to_string(examples.join("loop/spin.lua")).unwrap(),
    );
    plugins.write(
        "hog/hoard.lua",
        &std::fs::read_to_string(examples.join("hog/hoard.lua")).unwrap(),
    );
    let config = r#"{"tenants":[
        {"id":"a","hosts":["a.localhost"]},
        {"id":"loop","hosts":["loop.localhost"],"limits":{"timeout_ms":50,"quarantine_ms":600000}},
        {"id":"hog","hosts":["hog.localhost"],"limits":{"max_heap_bytes":8388608,"quarantine_ms":600000}}]}"#;
    let gw = TestGateway::start(config, plugins, Tier::Sandboxed).await;

    for round in 0..6 {
        for host in ["loop.localhost", "hog.localhost"] {
            let reply = gw.get(host, "/", &[]).await;
            // Five traps in a row, then the quarantine answers 503 at once.
            let expected = if round < 5 { 500 } else { 503 };
            assert_eq!(
                reply.status, expected,
                "{host} round {round}: {}",
                reply.body
            );
            assert!(
                reply
                    .body
                    .contains(&format!("{}/", host.trim_end_matches(".localhost"))),
                "{}",
                reply.body
            );
        }
        let good = gw.get("a.localhost", "/", &[]).await;
        assert_eq!((good.status, good.header("x-tag")), (200, Some("ok@a")));
    }
    for host in ["loop.localhost", "hog.localhost"] {
        let reply = gw.get(host, "/", &[]).await;
        assert_eq!(reply.status, 503, "{reply:?}");
        assert!(
            reply
                .header("retry-after")
                .is_some_and(|s| s.parse::<u64>().unwrap() > 500),
            "{reply:?}"
        );
    }

    let metrics = gw.metrics().await;
    for plugin in ["loop/spin", "hog/hoard"] {
        let tenant = plugin.split('/').next().unwrap();
        assert!(
            metrics.contains(&format!(
                r#"bext_plugin_traps_total{{tenant="{tenant}",plugin="{plugin}"}} 5"#
            )),
            "{metrics}"
        );
        assert!(
            metrics.contains(&format!(
                r#"bext_plugin_quarantined_calls_total{{tenant="{tenant}",plugin="{plugin}"}} 2"#
            )),
            "{metrics}"
        );
    }
    assert!(
        metrics.contains(r#"bext_plugin_traps_total{tenant="a",plugin="a/tagger"} 0"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"bext_plugin_calls_total{tenant="a",plugin="a/tagger"} 12"#),
        "six on_request, six on_response: {metrics}"
    );
    assert!(
        metrics.contains(r#"bext_gateway_responses_total{tenant="a",class="2xx"} 6"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"bext_gateway_responses_total{tenant="loop",class="5xx"} 7"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"bext_plugin_up{tenant="a",plugin="a/tagger",version=""#),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxies_to_an_upstream_between_on_request_and_on_response() {
    let upstream = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = upstream.local_addr().unwrap();
    let app = axum::Router::new().fallback(|request: axum::extract::Request| async move {
        let seen = format!(
            "{} {} forwarded-for={} tag-header={}",
            request.method(),
            request.uri(),
            request
                .headers()
                .get("x-forwarded-for")
                .map_or("-", |v| v.to_str().unwrap()),
            request
                .headers()
                .get("x-client")
                .map_or("-", |v| v.to_str().unwrap()),
        );
        ([("x-origin", "yes")], seen)
    });
    tokio::spawn(async move { axum::serve(upstream, app).await });

    let plugins = TempDir::new("proxy");
    plugins.write("a/tagger.lua", TAGGER);
    plugins.write("a/config.json", r#"{"tagger":{"tag":"proxied"}}"#);
    let config = format!(
        r#"{{"tenants":[{{"id":"a","hosts":["a.localhost"],"upstream":"http://{origin}"}}]}}"#
    );
    let gw = TestGateway::start(&config, plugins, Tier::Sandboxed).await;
    let reply = gw
        .get("a.localhost", "/v1/items?page=2", &[("x-client", "c1")])
        .await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.body,
        "GET /v1/items?page=2 forwarded-for=127.0.0.1 tag-header=c1"
    );
    assert_eq!(reply.header("x-origin"), Some("yes"));
    assert_eq!(
        reply.header("x-tag"),
        Some("proxied@a"),
        "on_response saw the upstream's response"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_that_sets_what_http_cannot_carry_gets_a_500_naming_the_problem() {
    let plugins = TempDir::new("badheader");
    plugins.write(
        "a/bad.lua",
        r#"return { on_request = function(self)
             return bext.middleware_respond('{"status":200,"headers":[["bad header","x"]],"body":"hi"}')
           end }"#,
    );
    let gw = TestGateway::start(TWO_TENANTS, plugins, Tier::Sandboxed).await;
    let reply = gw.get("a.localhost", "/", &[]).await;
    assert_eq!(reply.status, 500);
    assert!(reply.body.contains("bad header"), "{}", reply.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_native_tier_serves_the_same_scripts_behind_the_same_trait() {
    let plugins = TempDir::new("native");
    plugins.write("a/tagger.lua", TAGGER);
    plugins.write("a/config.json", r#"{"tagger":{"tag":"native"}}"#);
    let gw = TestGateway::start(TWO_TENANTS, plugins, Tier::Native).await;
    let reply = gw.get("a.localhost", "/", &[]).await;
    assert_eq!(
        (reply.status, reply.header("x-tag")),
        (200, Some("native@a"))
    );
    assert_eq!(reply.json()["extensions"]["tag"], "native");
    assert!(gw.metrics().await.contains(r#"tier="native""#));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sample_configuration_starts_with_one_call() {
    let mut config = GatewayConfig::load(&examples().join("gateway/gateway.json")).unwrap();
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.admin = "127.0.0.1:0".parse().unwrap();
    let source = SourceSpec::Folder(config.plugins.clone());
    let running = bext_gateway::start(
        &config,
        Tier::Sandboxed,
        &source,
        Duration::from_millis(200),
    )
    .await
    .unwrap();
    for (host, status) in [
        ("bare.localhost", 200),
        ("one.localhost", 200),
        ("five.localhost", 200),
        ("shop.localhost", 200),
        ("loop.localhost", 500),
    ] {
        assert_eq!(
            request(running.addr, host, "/", &[]).await.status,
            status,
            "{host}"
        );
    }
    let metrics = request(running.admin_addr, "admin", "/metrics", &[])
        .await
        .body;
    assert_eq!(
        metrics.matches("bext_plugin_up{").count(),
        13,
        "every sample plugin loaded: {metrics}"
    );
    running.stop().await.unwrap();
}

/// Polls `condition` until it holds; panics naming `what` after 30 s (a
/// bound for a stuck test, not a timing assertion).
fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A store the gateway watches, as the live reload test drives it.
trait Store {
    /// Puts tenant `a`'s `app` (and, with `config`, its config section).
    fn put(&self, tenant: &str, plugin: &str, source: &str, config: Option<serde_json::Value>);
    fn delete(&self, tenant: &str, plugin: &str);
}

struct Folder(PathBuf);

impl Store for Folder {
    fn put(&self, tenant: &str, plugin: &str, source: &str, config: Option<serde_json::Value>) {
        let dir = self.0.join(tenant);
        std::fs::create_dir_all(&dir).unwrap();
        if let Some(config) = config {
            std::fs::write(
                dir.join("config.json"),
                serde_json::json!({ plugin: config }).to_string(),
            )
            .unwrap();
        }
        // Written aside and renamed: the watcher never reads half a file.
        let temporary = dir.join(format!(".{plugin}.lua.tmp"));
        std::fs::write(&temporary, source).unwrap();
        std::fs::rename(&temporary, dir.join(format!("{plugin}.lua"))).unwrap();
    }

    fn delete(&self, tenant: &str, plugin: &str) {
        std::fs::remove_file(self.0.join(format!("{tenant}/{plugin}.lua"))).unwrap();
    }
}

struct Etcd(EtcdClient, &'static str);

impl Store for Etcd {
    fn put(&self, tenant: &str, plugin: &str, source: &str, config: Option<serde_json::Value>) {
        self.0.put(
            &format!("{}{tenant}/{plugin}", self.1),
            &bext_plugin_sources::EtcdSource::value(source, None, config),
        );
    }

    fn delete(&self, tenant: &str, plugin: &str) {
        self.0.delete(&format!("{}{tenant}/{plugin}", self.1));
    }
}

/// The gateway started on `source` (which `store` writes to), from the
/// first request on, then through edits: a new version serves, a broken one
/// is rejected with the old one serving and the admin endpoint saying so,
/// a deleted one is unloaded.
fn live_reload_through_a_watched_source(source: SourceSpec, store: &dyn Store) {
    live_reload_through_a_store(source, StoreAccess::default(), store)
}

/// [`live_reload_through_a_watched_source`], with the configuration's
/// `store` section.
fn live_reload_through_a_store(source: SourceSpec, access: StoreAccess, store: &dyn Store) {
    store.put("a", "app", &versioned("1"), None);
    store.put(
        "b",
        "tagger",
        TAGGER,
        Some(serde_json::json!({"tag": "stored"})),
    );
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut config = GatewayConfig::parse(TWO_TENANTS).unwrap();
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.admin = "127.0.0.1:0".parse().unwrap();
    config.store = access;
    let running = tokio
        .block_on(bext_gateway::start(
            &config,
            Tier::Sandboxed,
            &source,
            Duration::from_millis(20),
        ))
        .unwrap();
    let get = |host: &str| tokio.block_on(request(running.addr, host, "/", &[]));
    let metrics = || {
        tokio
            .block_on(request(running.admin_addr, "admin", "/metrics", &[]))
            .body
    };
    let version = || get("a.localhost").header("x-version").map(str::to_string);

    // Loaded before the listener opened.
    assert_eq!(version().as_deref(), Some("1"));
    let source_up = format!(
        "bext_plugin_source_up{{source=\"{}\"}} 1",
        running.gateway.reconciler().source_statuses()[0].source
    );
    assert!(metrics().contains(&source_up), "{source_up}: {}", metrics());
    assert_eq!(get("b.localhost").header("x-tag"), Some("stored@b"));

    store.put("a", "app", &versioned("2"), None);
    wait_until("version 2 serves", || version().as_deref() == Some("2"));

    store.put(
        "a",
        "app",
        "return { on_request = function(self) return ( end }",
        None,
    );
    wait_until("the broken version is rejected", || {
        metrics().contains(r#"bext_plugin_load_failing{tenant="a",plugin="a/app"} 1"#)
    });
    assert_eq!(
        version().as_deref(),
        Some("2"),
        "the old version keeps serving"
    );
    assert!(
        metrics().contains(
            r#"bext_plugin_reloads_total{tenant="a",plugin="a/app",result="rejected"} 1"#
        )
    );

    store.put("a", "app", &versioned("3"), None);
    wait_until("version 3 serves", || version().as_deref() == Some("3"));
    assert!(metrics().contains(r#"bext_plugin_load_failing{tenant="a",plugin="a/app"} 0"#));

    store.delete("a", "app");
    wait_until("a/app is unloaded", || version().is_none());
    assert_eq!(get("a.localhost").status, 200);
    assert!(!metrics().contains("a/app"), "gone from the admin endpoint");
    assert!(
        running
            .gateway
            .reconciler()
            .runtime()
            .plugin("a/app")
            .is_none()
    );
    assert_eq!(
        get("b.localhost").header("x-tag"),
        Some("stored@b"),
        "the other tenant is untouched"
    );
    tokio.block_on(running.stop()).unwrap();
}

#[test]
fn live_reload_through_the_watched_folder_source() {
    let plugins = TempDir::new("watched");
    let store = Folder(plugins.0.clone());
    live_reload_through_a_watched_source(SourceSpec::Folder(plugins.0.clone()), &store);
}

#[test]
fn live_reload_through_the_etcd_source_on_a_real_etcd() {
    let etcd = EtcdServer::start();
    let store = Etcd(etcd.client(), "/gateway/plugins/");
    let source: SourceSpec = format!("etcd:{}/gateway/plugins/", etcd.endpoint())
        .parse()
        .unwrap();
    live_reload_through_a_watched_source(source, &store);
}

/// The same from an etcd that speaks TLS only, requires a client
/// certificate and a password: the gateway's configuration file names the
/// CA, the certificate and the password file (relative to its folder).
#[test]
fn live_reload_through_etcd_over_tls_with_a_password() {
    let dir = TempDir::new("etcd-tls");
    let certs = bext_test_support::tls::TestCerts::generate(&dir.0, "gateway test CA");
    let mut etcd = EtcdServer::start_tls(&certs, true);
    etcd.enable_auth("root-secret", "bext", "reader-secret", "/gateway/tls/");
    std::fs::write(dir.0.join("etcd-password"), "reader-secret\n").unwrap();
    let config = dir.0.join("gateway.json");
    std::fs::write(
        &config,
        r#"{"tenants": [], "store": {"ca_file": "ca.pem", "cert_file": "client.pem",
            "key_file": "client.key", "etcd_user": "bext", "etcd_password_file": "etcd-password"}}"#,
    )
    .unwrap();
    let access = GatewayConfig::load(&config).unwrap().store;
    assert_eq!(access.ca_file, Some(dir.0.join("ca.pem")));
    let store = Etcd(etcd.client(), "/gateway/tls/");
    assert!(etcd.endpoint().starts_with("https://"));
    let source: SourceSpec = format!("etcd:{}/gateway/tls/", etcd.endpoint())
        .parse()
        .unwrap();
    live_reload_through_a_store(source, access, &store);
}

/// What a production build links: without its `native-tier` feature the
/// gateway's normal dependencies hold no mlua (the native tier), no
/// plotters or criterion (the benchmarks), no redis client (the runtime's
/// `redis` feature, which only the tests and benchmarks turn on).
#[test]
fn a_default_build_links_no_mlua_plotters_criterion_or_redis() {
    let output = std::process::Command::new(env!("CARGO"))
        .args([
            "tree",
            "-p",
            "bext-gateway",
            "-e",
            "normal",
            "--prefix",
            "none",
        ])
        .args(["--format", "{p}", "--manifest-path"])
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"))
        .output()
        .expect("cargo tree runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let tree = String::from_utf8_lossy(&output.stdout);
    assert!(tree.contains("wasmtime "), "{tree}");
    let linked: Vec<&str> = tree
        .lines()
        .filter(|line| {
            let name = line.split(' ').next().unwrap_or_default();
            name.starts_with("mlua")
                || name.starts_with("plotters")
                || name == "criterion"
                || name == "redis"
        })
        .collect();
    assert!(linked.is_empty(), "{linked:?}");
}

/// One GET over a connection from `from` (an address of 127.0.0.0/8, so
/// the gateway sees distinct clients), `Connection: close`; the status.
async fn status_from(from: [u8; 4], to: SocketAddr, host: &str, headers: &[(&str, &str)]) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind((from, 0).into()).unwrap();
    let mut stream = socket.connect(to).await.unwrap();
    let mut request = format!("GET / HTTP/1.1\r\nhost: {host}\r\nconnection: close\r\n");
    for (k, v) in headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut reply = Vec::new();
    stream.read_to_end(&mut reply).await.unwrap();
    let reply = String::from_utf8_lossy(&reply);
    reply
        .strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP reply: {reply}"))
}

/// Issue 29: a client that makes a tenant's plugin trap on purpose (a
/// ReDoS on a header, out of fuel) gets itself quarantined, not the
/// tenant: another client's requests keep being served while the attacker
/// is refused. A plugin that traps for many clients is still quarantined
/// for everyone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_makes_a_plugin_trap_is_quarantined_alone() {
    const GOOD_REQUESTS: usize = 300;
    const ATTACK_REQUESTS: usize = 40;
    let plugins = TempDir::new("client-quarantine");
    plugins.write(
        "q/filter.lua",
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/plugins/header_filter.lua"),
        )
        .unwrap(),
    );
    plugins.write(
        "loop/spin.lua",
        &std::fs::read_to_string(examples().join("gateway/plugins/loop/spin.lua")).unwrap(),
    );
    let config = r#"{"tenants":[
        {"id":"q","hosts":["q.localhost"]},
        {"id":"loop","hosts":["loop.localhost"],"limits":{"timeout_ms":50,"quarantine_ms":600000}}]}"#;
    let gw = TestGateway::start(config, plugins, Tier::Sandboxed).await;
    let attacker = [127, 0, 0, 2];
    let good = [127, 0, 0, 3];
    let redos = "a".repeat(40);
    let bad_header = [("x-q", redos.as_str())];

    // Five traps: the default rule's threshold, which used to quarantine
    // the plugin (and so the tenant) for five seconds.
    for _ in 0..5 {
        assert_eq!(
            status_from(attacker, gw.addr, "q.localhost", &bad_header).await,
            500
        );
    }
    // The attacker keeps going while a good client is served.
    let attack = async {
        let mut statuses = Vec::new();
        for _ in 0..ATTACK_REQUESTS {
            statuses.push(status_from(attacker, gw.addr, "q.localhost", &bad_header).await);
        }
        statuses
    };
    let serve = async {
        let mut ok = 0;
        for _ in 0..GOOD_REQUESTS {
            if status_from(good, gw.addr, "q.localhost", &[("x-q", "hello")]).await == 200 {
                ok += 1;
            }
        }
        ok
    };
    let (attack, ok) = tokio::join!(attack, serve);
    assert!(
        ok * 100 >= GOOD_REQUESTS * 99,
        "the good client got {ok} of {GOOD_REQUESTS} requests served"
    );
    assert!(
        attack.iter().all(|s| *s == 500 || *s == 503) && attack.contains(&503),
        "the attacker is refused by the quarantine: {attack:?}"
    );

    // A plugin that traps for everyone: five clients' traps quarantine the
    // plugin, and a sixth client is refused without running it.
    for last in 2..7 {
        assert_eq!(
            status_from([127, 0, 0, last], gw.addr, "loop.localhost", &[]).await,
            500
        );
    }
    assert_eq!(
        status_from([127, 0, 0, 7], gw.addr, "loop.localhost", &[]).await,
        503
    );
    let metrics = gw.metrics().await;
    assert!(
        metrics.contains(r#"bext_plugin_traps_total{tenant="loop",plugin="loop/spin"} 5"#),
        "{metrics}"
    );
}
