//! The dynacode HTTP source against a real HTTP server (hyper) on
//! 127.0.0.1, started by the test.

use crate::common::*;
use bext_plugin_sources::{
    DynacodeSource, PluginSource, SourceError, SourceEvent, SourceSignal, SourceState,
};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Frame};
use hyper::{Request, Response, StatusCode};
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the test server answers.
#[derive(Clone)]
pub(crate) enum Answer {
    /// 200 with this body and an ETag derived from it; 304 when the
    /// request's If-None-Match matches.
    Json(String),
    Status(u16),
    /// A body shorter than its Content-Length, then the connection closes.
    Truncated(String),
    /// No answer for a minute.
    Hang,
}

#[derive(Default)]
struct Seen {
    requests: usize,
    if_none_match: Vec<Option<String>>,
}

pub(crate) struct Server {
    pub(crate) answer: Arc<Mutex<Answer>>,
    seen: Arc<Mutex<Seen>>,
    pub(crate) url: String,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            thread.join().unwrap();
        }
    }
}

fn etag_of(body: &str) -> String {
    format!(
        "\"{:x}\"",
        body.len() * 31 + body.bytes().map(usize::from).sum::<usize>()
    )
}

impl Server {
    /// A hyper server on 127.0.0.1 (a free port), on a thread of its own;
    /// stopped on drop.
    pub(crate) fn start(answer: Answer) -> Self {
        Self::start_with(answer, None)
    }

    /// The same over TLS (`https://127.0.0.1:PORT/plugins.json`).
    pub(crate) fn start_tls(answer: Answer, tls: Arc<rustls::ServerConfig>) -> Self {
        Self::start_with(answer, Some(tokio_rustls::TlsAcceptor::from(tls)))
    }

    fn start_with(answer: Answer, tls: Option<tokio_rustls::TlsAcceptor>) -> Self {
        let answer = Arc::new(Mutex::new(answer));
        let seen = Arc::new(Mutex::new(Seen::default()));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let scheme = if tls.is_some() { "https" } else { "http" };
        let url = format!("{scheme}://{}/plugins.json", listener.local_addr().unwrap());
        let (shutdown, stopped) = tokio::sync::oneshot::channel::<()>();
        let (a, s) = (answer.clone(), seen.clone());
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                tokio::spawn(async move {
                    while let Ok((stream, _)) = listener.accept().await {
                        let (a, s, tls) = (a.clone(), s.clone(), tls.clone());
                        tokio::spawn(async move {
                            let service = hyper::service::service_fn(move |request| {
                                respond(a.clone(), s.clone(), request)
                            });
                            let http = hyper::server::conn::http1::Builder::new();
                            let _ = match tls {
                                None => {
                                    http.serve_connection(
                                        hyper_util::rt::TokioIo::new(stream),
                                        service,
                                    )
                                    .await
                                }
                                // A failed handshake drops the connection.
                                Some(tls) => match tls.accept(stream).await {
                                    Ok(stream) => {
                                        http.serve_connection(
                                            hyper_util::rt::TokioIo::new(stream),
                                            service,
                                        )
                                        .await
                                    }
                                    Err(_) => Ok(()),
                                },
                            };
                        });
                    }
                });
                let _ = stopped.await;
            });
            // Dropping the runtime cancels the connections still open.
        });
        Server {
            answer,
            seen,
            url,
            shutdown: Some(shutdown),
            thread: Some(thread),
        }
    }

    fn answer(&self, answer: Answer) {
        *self.answer.lock().unwrap() = answer;
    }
}

async fn respond(
    answer: Arc<Mutex<Answer>>,
    seen: Arc<Mutex<Seen>>,
    request: Request<hyper::body::Incoming>,
) -> Result<Response<BoxBody<Bytes, std::io::Error>>, Infallible> {
    let full = |bytes: Bytes| {
        Full::new(bytes)
            .map_err(|never: Infallible| match never {})
            .boxed()
    };
    let if_none_match = request
        .headers()
        .get("if-none-match")
        .map(|v| v.to_str().unwrap().to_string());
    {
        let mut seen = seen.lock().unwrap();
        seen.requests += 1;
        seen.if_none_match.push(if_none_match.clone());
    }
    let answer = answer.lock().unwrap().clone();
    let response = match answer {
        Answer::Json(body) => {
            let etag = etag_of(&body);
            if if_none_match.as_deref() == Some(etag.as_str()) {
                Response::builder()
                    .status(StatusCode::NOT_MODIFIED)
                    .body(full(Bytes::new()))
            } else {
                Response::builder()
                    .header("etag", etag)
                    .body(full(Bytes::from(body)))
            }
        }
        Answer::Status(code) => Response::builder()
            .status(code)
            .body(full(Bytes::from("error page"))),
        Answer::Truncated(body) => {
            let half = Bytes::from(body[..body.len() / 2].to_string());
            Response::builder()
                .header("content-length", body.len())
                .body(CutShort(Some(half)).boxed())
        }
        Answer::Hang => {
            tokio::time::sleep(Duration::from_secs(60)).await;
            Response::builder().body(full(Bytes::new()))
        }
    };
    Ok(response.unwrap())
}

/// A body that sends its bytes and then fails, so hyper cuts the
/// connection short of the Content-Length it announced.
struct CutShort(Option<Bytes>);

impl hyper::body::Body for CutShort {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        std::task::Poll::Ready(Some(match self.0.take() {
            Some(bytes) => Ok(Frame::data(bytes)),
            None => Err(std::io::Error::other("cut short")),
        }))
    }
}

/// A dynacode response with one domain `acme.example` and an `access`
/// plugin `gate` answering `body`.
pub(crate) fn dynacode(body: &str) -> String {
    let code = format!("return bext.middleware_respond('{{\"status\":200,\"body\":\"{body}\"}}')");
    serde_json::json!({
        "general": {"status": "enabled"},
        "domains": [{"name": "acme.example", "plugins": [{"name": "gate", "phase": "access", "code": code}]}]
    })
    .to_string()
}

fn source(server: &Server) -> DynacodeSource {
    DynacodeSource::new(&server.url)
        .unwrap()
        .interval(Duration::from_millis(20))
        .timeout(Duration::from_millis(300))
}

#[test]
fn polls_with_etags_and_reloads_on_change() {
    let server = Server::start(Answer::Json(dynacode("v1")));
    let signal = SourceSignal::new();
    let mut source = source(&server);
    let SourceEvent::Set(set) = source.next_event(&signal) else {
        panic!("expected a set")
    };
    assert_eq!(
        set.plugins().keys().collect::<Vec<_>>(),
        ["acme.example/gate"]
    );
    // Same body: the second poll sends the ETag and gets a 304.
    assert!(matches!(source.next_event(&signal), SourceEvent::Unchanged));
    let sent = server.seen.lock().unwrap().if_none_match.clone();
    assert_eq!(sent, [None, Some(etag_of(&dynacode("v1")))]);

    // Through a reconciler.
    let r = reconciler();
    let rt = r.runtime().clone();
    let watch = r.watch(self::source(&server));
    wait_served(&rt, "acme.example", "gate", "v1");
    server.answer(Answer::Json(dynacode("v2")));
    wait_served(&rt, "acme.example", "gate", "v2");
    assert_eq!(watch.status().state, SourceState::Live);
    let plugin = rt.plugin("acme.example/gate").unwrap();
    assert_eq!(
        plugin.manifest().capabilities,
        [bext_plugin_api::types::PluginCapability::Middleware]
    );
    watch.stop();
}

#[test]
fn failures_keep_the_last_good_set() {
    let server = Server::start(Answer::Json(dynacode("good")));
    let r = reconciler();
    let rt = r.runtime().clone();
    let watch = r.watch(source(&server));
    wait_served(&rt, "acme.example", "gate", "good");

    let cases = [
        (Answer::Status(500), "HTTP 500"),
        (Answer::Status(404), "HTTP 404"),
        (
            Answer::Json("<html>not json</html>".into()),
            "not a dynacode response",
        ),
        (
            Answer::Json(r#"{"domains": "nope"}"#.into()),
            "not a dynacode response",
        ),
        // hyper reports the cut either while reading the body or, when the
        // server closed before its first bytes went out, as the request's
        // failure: both are a failed fetch.
        (
            Answer::Truncated(dynacode("truncated")),
            "reading the body|connection closed|incomplete",
        ),
        (Answer::Hang, "no complete answer within 300 ms"),
    ];
    for (answer, expected) in cases {
        server.answer(answer);
        let mut seen = String::new();
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while !expected.split('|').any(|x| seen.contains(x)) {
            assert!(
                std::time::Instant::now() < deadline,
                "expected {expected}, the source reports {seen}"
            );
            seen = watch
                .status()
                .last_error
                .map(|e| e.to_string())
                .unwrap_or_default();
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(matches!(
            watch.status().state,
            SourceState::Unreachable { .. }
        ));
        assert_eq!(
            served(&rt, "acme.example", "gate").as_deref(),
            Some("good"),
            "after {expected}"
        );
    }

    // A broken plugin in a valid response: rejected, the old version serves.
    server.answer(Answer::Json(dynacode("broken')")));
    wait_until("the broken version is rejected", || {
        matches!(
            r.plugin_status("acme.example", "gate")
                .and_then(|s| s.last_error),
            Some(SourceError::Rejected { .. })
        )
    });
    assert_eq!(served(&rt, "acme.example", "gate").as_deref(), Some("good"));
    assert_eq!(watch.status().state, SourceState::Live);

    server.answer(Answer::Json(dynacode("recovered")));
    wait_served(&rt, "acme.example", "gate", "recovered");
    watch.stop();
}

#[test]
fn an_unreachable_endpoint_is_a_typed_error() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut source = DynacodeSource::new(&format!("http://127.0.0.1:{port}/plugins.json")).unwrap();
    let event = source.next_event(&SourceSignal::new());
    assert!(
        matches!(
            event,
            SourceEvent::Unavailable(SourceError::Unreachable { .. })
        ),
        "{event:?}"
    );
    assert!(matches!(
        DynacodeSource::new("ftp://example.com/x"),
        Err(SourceError::BadResponse { .. })
    ));
    assert!(matches!(
        DynacodeSource::new("not a url"),
        Err(SourceError::BadResponse { .. })
    ));
}
