//! The load: a fixed request rate per tenant on 127.0.0.1, each response
//! checked and recorded.

use crate::report::{Outcome, Record};
use crate::tenants::{self, GOOD, HOG, LOOP, RELOAD};
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A request that takes longer than this failed.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// Workers per tenant and each one's requests per second: 120 good
/// requests per second in all, and a misbehaving call every 250 ms per bad
/// tenant (each costs up to its budget of a worker).
const RATES: [(&str, u32, u32); 4] = [(GOOD, 4, 25), (RELOAD, 1, 20), (LOOP, 1, 4), (HOG, 1, 4)];

/// A keep-alive HTTP/1 client for bodiless requests.
pub type HttpClient = HyperClient<HttpConnector, Empty<Bytes>>;

/// A new [`HttpClient`] on the current tokio runtime.
pub fn http_client() -> HttpClient {
    HyperClient::builder(TokioExecutor::new()).build_http()
}

/// A client of the gateway's tenants.
#[derive(Clone)]
pub struct Client {
    http: HttpClient,
    port: u16,
}

/// What a response said, as far as the soak cares.
struct Response {
    status: u16,
    headers: hyper::HeaderMap,
}

impl Client {
    /// A client of the gateway listening on `port` of 127.0.0.1.
    pub fn new(port: u16) -> Client {
        Client {
            http: http_client(),
            port,
        }
    }

    /// `GET /` for `host`, body read, within [`REQUEST_TIMEOUT`].
    async fn get(&self, host: &str) -> Result<Response, String> {
        let request = hyper::Request::get(format!("http://127.0.0.1:{}/", self.port))
            .header("host", host)
            .body(Empty::new())
            .map_err(|e| e.to_string())?;
        let exchange = async {
            let response = self
                .http
                .request(request)
                .await
                .map_err(|e| e.to_string())?;
            let (parts, body) = response.into_parts();
            body.collect().await.map_err(|e| e.to_string())?;
            Ok(Response {
                status: parts.status.as_u16(),
                headers: parts.headers,
            })
        };
        tokio::time::timeout(REQUEST_TIMEOUT, exchange)
            .await
            .unwrap_or_else(|_| Err(format!("no answer in {REQUEST_TIMEOUT:?}")))
    }
}

/// Waits until the good tenant's chain and the reload tenant's first
/// version serve (the gateway has read etcd), at most `limit`.
pub async fn wait_until_serving(client: &Client, limit: Duration) -> Result<(), String> {
    let deadline = Instant::now() + limit;
    loop {
        let good = client.get(GOOD).await;
        let reload = client.get(RELOAD).await;
        if let (Ok(good), Ok(reload)) = (&good, &reload)
            && classify(GOOD, good) == Outcome::Good
            && matches!(classify(RELOAD, reload), Outcome::Reload(_))
        {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "the gateway did not serve the soak's tenants within {limit:?}"
            ));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Starts every tenant's workers; each ends at `until`.
pub fn start(
    client: &Client,
    record: Arc<Record>,
    until: Instant,
) -> Vec<tokio::task::JoinHandle<()>> {
    let mut tasks = Vec::new();
    for (host, workers, per_second) in RATES {
        for _ in 0..workers {
            let (client, record) = (client.clone(), record.clone());
            tasks.push(tokio::spawn(async move {
                let mut tick = tokio::time::interval(Duration::from_secs(1) / per_second);
                // A slow answer delays the worker's next request instead of
                // bunching the missed ones: the load stays bounded.
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    tick.tick().await;
                    if Instant::now() >= until {
                        break;
                    }
                    let sent = Instant::now();
                    let outcome = match client.get(host).await {
                        Ok(response) => classify(host, &response),
                        Err(e) => Outcome::Failed(format!("{host}: {e}")),
                    };
                    record.response(host, outcome, sent.elapsed());
                }
            }));
        }
    }
    tasks
}

/// Whether `response` is what `host`'s tenant must answer.
fn classify(host: &str, response: &Response) -> Outcome {
    let header = |name: &str| {
        response
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    match host {
        GOOD if response.status == 200
            && header("x-soak").as_deref() == Some("good")
            && header("x-ratelimit-remaining").is_some() =>
        {
            Outcome::Good
        }
        RELOAD if response.status == 200 => {
            match header("x-script-version").and_then(|v| v.parse::<u64>().ok()) {
                Some(n) if tenants::is_broken(n) => Outcome::BrokenServed(n),
                Some(n) => Outcome::Reload(n),
                None => Outcome::Failed(format!("{host}: 200 without x-script-version")),
            }
        }
        LOOP | HOG => Outcome::Contained(response.status),
        _ => Outcome::Failed(format!(
            "{host}: status {} (x-soak {:?}, x-ratelimit-remaining {:?})",
            response.status,
            header("x-soak"),
            header("x-ratelimit-remaining")
        )),
    }
}
