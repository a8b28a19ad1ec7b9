//! The `RequestContext` plugins see, filled from the real request.

use bext_plugin_api::middleware::RequestContext;
use http::request::Parts;
use std::net::SocketAddr;

/// Builds the context of one request for tenant `tenant_id`:
///
/// * `method`, `path` (without the query) and `query_string` (without `?`,
///   empty when there is none) from the request line;
/// * `hostname` from [`request_host`], without the port, lowercased;
/// * `headers` as `(name, value)` pairs with every value of a repeated
///   header kept, in arrival order per name. hyper stores headers in a map,
///   so interleaved repeats (`a, b, a`) come out grouped by name (`a, a, b`)
///   in the order the names first arrived. Names are lowercase; a value that
///   is not UTF-8 is passed with its invalid bytes replaced (U+FFFD);
/// * `peer_ip` from the TCP peer address (no `X-Forwarded-For` trust);
/// * `tenant_id` the routed tenant; `site_id` none; no extensions yet.
pub fn request_context(parts: &Parts, peer: SocketAddr, tenant_id: &str) -> RequestContext {
    let headers = parts
        .headers
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_string(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect();
    RequestContext {
        method: parts.method.as_str().to_string(),
        path: parts.uri.path().to_string(),
        hostname: request_host(parts).unwrap_or_default(),
        headers,
        query_string: parts.uri.query().unwrap_or("").to_string(),
        peer_ip: Some(peer.ip().to_string()),
        tenant_id: Some(tenant_id.to_string()),
        site_id: None,
        extensions: Default::default(),
    }
}

/// The host a request is for: the `Host` header (HTTP/1.1), else the
/// request target's authority (absolute-form requests); without the port,
/// lowercased, and without a trailing dot. `None` when neither names one.
pub fn request_host(parts: &Parts) -> Option<String> {
    let raw = match parts
        .headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
    {
        Some(host) => host.to_string(),
        None => parts.uri.authority()?.as_str().to_string(),
    };
    let host = strip_port(raw.trim())
        .trim_end_matches('.')
        .to_ascii_lowercase();
    (!host.is_empty()).then_some(host)
}

/// `example.com:8080` -> `example.com`, `[::1]:80` -> `[::1]`, `::1` stays.
fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        return host.find(']').map_or(host, |end| &host[..=end]);
    }
    match host.rsplit_once(':') {
        Some((name, port)) if !name.contains(':') && port.bytes().all(|b| b.is_ascii_digit()) => {
            name
        }
        _ => host,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(request: http::request::Builder) -> Parts {
        request.body(()).unwrap().into_parts().0
    }

    #[test]
    fn fills_every_field_from_the_request() {
        let p = parts(
            http::Request::builder()
                .method("POST")
                .uri("/api/orders?id=7&x=%20y")
                .header("Host", "Shop.Localhost:8080")
                .header("accept", "text/html")
                .header("x-dup", "one")
                .header("cookie", "a=1")
                .header("x-dup", "two"),
        );
        let peer: SocketAddr = "203.0.113.7:51234".parse().unwrap();
        let ctx = request_context(&p, peer, "shop");
        assert_eq!(ctx.method, "POST");
        assert_eq!(ctx.path, "/api/orders");
        assert_eq!(ctx.query_string, "id=7&x=%20y");
        assert_eq!(ctx.hostname, "shop.localhost");
        assert_eq!(ctx.peer_ip.as_deref(), Some("203.0.113.7"));
        assert_eq!(ctx.tenant_id.as_deref(), Some("shop"));
        assert_eq!(ctx.site_id, None);
        let headers: Vec<(&str, &str)> = ctx
            .headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        // Names in first-arrival order; both values of the repeated header, in order.
        assert_eq!(
            headers,
            [
                ("host", "Shop.Localhost:8080"),
                ("accept", "text/html"),
                ("x-dup", "one"),
                ("x-dup", "two"),
                ("cookie", "a=1")
            ]
        );
    }

    #[test]
    fn no_query_is_an_empty_string_and_ipv6_peers_are_plain_addresses() {
        let p = parts(
            http::Request::builder()
                .uri("/")
                .header("host", "a.localhost"),
        );
        let ctx = request_context(&p, "[::1]:9".parse().unwrap(), "a");
        assert_eq!(ctx.query_string, "");
        assert_eq!(ctx.peer_ip.as_deref(), Some("::1"));
    }

    #[test]
    fn a_value_that_is_not_utf8_is_kept_lossily() {
        let value = http::HeaderValue::from_bytes(b"caf\xe9").unwrap();
        let p = parts(http::Request::builder().uri("/").header("x-latin1", value));
        let ctx = request_context(&p, "127.0.0.1:1".parse().unwrap(), "a");
        assert_eq!(
            ctx.headers,
            [("x-latin1".to_string(), "caf\u{fffd}".to_string())]
        );
    }

    #[test]
    fn host_comes_from_the_header_or_the_authority_without_port() {
        let host = |b: http::request::Builder| request_host(&parts(b));
        assert_eq!(
            host(
                http::Request::builder()
                    .uri("/")
                    .header("host", "A.Example.:80")
            ),
            Some("a.example".into())
        );
        assert_eq!(
            host(http::Request::builder().uri("http://b.example:8080/x")),
            Some("b.example".into())
        );
        assert_eq!(
            host(
                http::Request::builder()
                    .uri("/")
                    .header("host", "[::1]:8080")
            ),
            Some("[::1]".into())
        );
        assert_eq!(
            host(
                http::Request::builder()
                    .uri("/")
                    .header("host", "127.0.0.1")
            ),
            Some("127.0.0.1".into())
        );
        assert_eq!(host(http::Request::builder().uri("/")), None);
        assert_eq!(
            host(http::Request::builder().uri("/").header("host", "")),
            None
        );
    }
}
