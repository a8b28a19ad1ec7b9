//! The HTTP side: one handler for every request (route by `Host`, the
//! tenant's chain around the echo handler or the upstream), and the admin
//! router.

use crate::chain::{Decision, PluginFailure};
use crate::context::{request_context, request_host};
use crate::state::Gateway;
use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bext_plugin_api::middleware::{RequestContext, ResponseHeaders};
use bext_plugin_lua_wasm::request_context_json;
use http::{HeaderName, HeaderValue, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use std::net::SocketAddr;
use std::sync::Arc;

/// What the request handler shares.
#[derive(Clone)]
struct Shared {
    gateway: Arc<Gateway>,
    upstream: Client<HttpConnector, Body>,
}

/// The gateway's router: every path of every host goes to [`serve`].
/// Serve it with `into_make_service_with_connect_info::<SocketAddr>()`.
pub fn router(gateway: Arc<Gateway>) -> Router {
    let upstream = Client::builder(hyper_util::rt::TokioExecutor::new()).build_http();
    Router::new()
        .fallback(serve)
        .with_state(Shared { gateway, upstream })
}

/// The admin router: `/metrics` (Prometheus text) and `/healthz`.
pub fn admin_router(gateway: Arc<Gateway>) -> Router {
    Router::new()
        .route(
            "/metrics",
            get(|State(gateway): State<Arc<Gateway>>| async move {
                (
                    [(http::header::CONTENT_TYPE, "text/plain; version=0.0.4")],
                    crate::admin::render_metrics(&gateway),
                )
            }),
        )
        .route("/healthz", get(|| async { "ok\n" }))
        .with_state(gateway)
}

/// Headers that describe one connection or the body's framing: never taken
/// from a plugin or an upstream (hyper sets framing from the body).
const HOP_BY_HOP: [&str; 9] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
    "content-length",
    "proxy-authorization",
];

async fn serve(
    State(shared): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    let (parts, body) = request.into_parts();
    let Some(host) = request_host(&parts) else {
        return plain(StatusCode::BAD_REQUEST, "the request names no host\n");
    };
    let Some(tenant) = shared.gateway.tenant_for_host(&host).cloned() else {
        return plain(
            StatusCode::NOT_FOUND,
            format!("no tenant serves host `{host}`\n"),
        );
    };
    let chain = tenant.chain();
    let mut ctx = request_context(&parts, peer, tenant.id());
    let (decision, ran) = chain.on_request(&mut ctx).await;
    let (mut head, mut body) = match decision {
        Decision::Continue => match tenant.upstream() {
            Some(origin) => proxy(&shared.upstream, origin, parts, body, peer).await,
            None => echo(&ctx),
        },
        Decision::Respond(response) => (
            ResponseHeaders {
                status: response.status,
                headers: response.headers,
            },
            Body::from(response.body),
        ),
        Decision::Failed(failure) => failure_response(&failure),
    };
    if let Err(failure) = chain.on_response(&ctx, &mut head, ran).await {
        (head, body) = failure_response(&failure);
    }
    let response = build_response(head, body);
    tenant.count_response(response.status().as_u16());
    response
}

/// The built-in origin: 200 with the request context as the plugins left it
/// (extensions included), as JSON.
fn echo(ctx: &RequestContext) -> (ResponseHeaders, Body) {
    let headers = vec![("content-type".to_string(), "application/json".to_string())];
    (
        ResponseHeaders {
            status: 200,
            headers,
        },
        Body::from(request_context_json(ctx)),
    )
}

/// Forwards the request to `origin` (same method, path, query, headers
/// except hop-by-hop ones, body streamed) and streams the answer back.
async fn proxy(
    client: &Client<HttpConnector, Body>,
    origin: &http::Uri,
    parts: http::request::Parts,
    body: Body,
    peer: SocketAddr,
) -> (ResponseHeaders, Body) {
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let uri =
        match format!("{}{path}", origin.to_string().trim_end_matches('/')).parse::<http::Uri>() {
            Ok(uri) => uri,
            Err(e) => return gateway_error(StatusCode::BAD_GATEWAY, format!("upstream uri: {e}")),
        };
    let mut request = http::Request::builder().method(parts.method).uri(uri);
    for (name, value) in &parts.headers {
        if !HOP_BY_HOP.contains(&name.as_str()) {
            request = request.header(name, value);
        }
    }
    request = request.header("x-forwarded-for", peer.ip().to_string());
    let request = match request.body(body) {
        Ok(request) => request,
        Err(e) => return gateway_error(StatusCode::BAD_GATEWAY, format!("upstream request: {e}")),
    };
    match client.request(request).await {
        Ok(response) => {
            let (parts, body) = response.into_parts();
            let headers = parts
                .headers
                .iter()
                .filter(|(name, _)| !HOP_BY_HOP.contains(&name.as_str()))
                .map(|(k, v)| {
                    (
                        k.as_str().to_string(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect();
            (
                ResponseHeaders {
                    status: parts.status.as_u16(),
                    headers,
                },
                Body::new(body),
            )
        }
        Err(e) => gateway_error(
            StatusCode::BAD_GATEWAY,
            format!("upstream {origin} failed: {e}"),
        ),
    }
}

/// A failed plugin call fails the request closed: 503 with `retry-after`
/// while the plugin is quarantined, 500 otherwise; the body names the plugin.
fn failure_response(failure: &PluginFailure) -> (ResponseHeaders, Body) {
    tracing::warn!(plugin = %failure.plugin, "{}", failure.message);
    match failure.retry_after_ms {
        Some(ms) => {
            let mut response = gateway_error(StatusCode::SERVICE_UNAVAILABLE, failure.to_string());
            response
                .0
                .headers
                .push(("retry-after".into(), ms.div_ceil(1000).to_string()));
            response
        }
        None => gateway_error(StatusCode::INTERNAL_SERVER_ERROR, failure.to_string()),
    }
}

fn gateway_error(status: StatusCode, message: String) -> (ResponseHeaders, Body) {
    let headers = vec![(
        "content-type".to_string(),
        "text/plain; charset=utf-8".to_string(),
    )];
    (
        ResponseHeaders {
            status: status.as_u16(),
            headers,
        },
        Body::from(message + "\n"),
    )
}

/// The HTTP response for what the chain left. A status or header that HTTP
/// cannot carry (a plugin's mistake) turns the response into a 500 saying
/// which; framing headers from plugins are dropped (the body sets them).
fn build_response(head: ResponseHeaders, body: Body) -> Response {
    let Ok(status) = StatusCode::from_u16(head.status) else {
        return plain(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!(
                "a plugin set status {}, which HTTP cannot carry\n",
                head.status
            ),
        );
    };
    let mut response = Response::new(body);
    *response.status_mut() = status;
    for (name, value) in head.headers {
        let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) else {
            return plain(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("a plugin set header `{name}: {value}`, which HTTP cannot carry\n"),
            );
        };
        if !HOP_BY_HOP.contains(&name.as_str()) {
            response.headers_mut().append(name, value);
        }
    }
    response
}

fn plain(status: StatusCode, message: impl Into<String>) -> Response {
    (
        status,
        [(http::header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        message.into(),
    )
        .into_response()
}

/// Serves `router` on `listener` until `shutdown` resolves, with the peer
/// address available to handlers.
pub async fn serve_until(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}
