//! The client's IP address, for rate limits, sessions and audit.
//!
//! It is the TCP peer address, unless the peer is a configured trusted proxy:
//! only then is `X-Forwarded-For` believed, because any client can send that
//! header. The [`resolve`] middleware computes it once per request and stores
//! it as a [`ClientIp`] request extension; handlers and later middleware take
//! it from there.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::connect_info::MockConnectInfo;
use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use ipnet::IpNet;

use crate::error_response;

/// The address of the client that made the request (see the module docs).
///
/// Also an extractor: a handler can take `ClientIp` as an argument once the
/// [`resolve`] middleware runs in front of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ClientIp(pub IpAddr);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<ClientIp>().copied().ok_or_else(|| {
            // A wiring bug, not a client error: say so loudly in the log.
            tracing::error!("ClientIp missing: the client_ip::resolve middleware is not installed");
            internal_error()
        })
    }
}

/// A trusted-proxy entry that is neither an IP address nor a CIDR network.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid trusted proxy {0:?}: expected an IP address or a CIDR network such as 10.0.0.0/8")]
pub struct InvalidProxy(pub String);

/// Parses `10.0.0.1`, `10.0.0.0/8` or `fd00::/8`; surrounding spaces are
/// ignored so `a, b` lists work. Usable as a clap value parser.
pub fn parse_ip_or_net(s: &str) -> Result<IpNet, InvalidProxy> {
    let s = s.trim();
    s.parse::<IpNet>()
        .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| InvalidProxy(s.to_owned()))
}

/// The set of proxies whose `X-Forwarded-For` header is believed.
///
/// Cheap to clone (shared list), so it can serve as middleware state.
#[derive(Clone, Debug, Default)]
pub struct TrustedProxies {
    nets: Arc<[IpNet]>,
}

impl TrustedProxies {
    /// Trusts the given addresses and networks (empty: trust nobody).
    pub fn new(nets: Vec<IpNet>) -> Self {
        Self { nets: nets.into() }
    }

    /// Whether `ip` belongs to a trusted proxy.
    pub fn contains(&self, ip: IpAddr) -> bool {
        // A dual-stack listener reports IPv4 peers as `::ffff:a.b.c.d`;
        // compare them as the IPv4 addresses the configuration names.
        let ip = ip.to_canonical();
        self.nets.iter().any(|net| net.contains(&ip))
    }

    /// The client address for a request from `peer` with `headers`.
    ///
    /// From an untrusted peer: the peer. From a trusted proxy: the right-most
    /// `X-Forwarded-For` entry that is not itself a trusted proxy (entries
    /// further left were written by the client and may be forged); when all
    /// are trusted, the left-most. Any unparsable entry on the way, or a
    /// missing header, yields the peer: better to limit the proxy than to
    /// believe garbage.
    pub fn client_ip(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = peer.to_canonical();
        if !self.contains(peer) {
            return peer;
        }
        // Several header lines form one list, in order (RFC 9110, 5.3).
        let mut entries = Vec::new();
        for value in headers.get_all("x-forwarded-for") {
            let Ok(value) = value.to_str() else {
                return peer;
            };
            entries.extend(value.split(','));
        }
        let mut candidate = peer;
        for entry in entries.iter().rev() {
            let Some(ip) = parse_forwarded_entry(entry) else {
                return peer;
            };
            candidate = ip;
            if !self.contains(ip) {
                break;
            }
        }
        candidate
    }
}

/// One `X-Forwarded-For` entry: an IP, possibly with a port
/// (`1.2.3.4:5678`, `[::1]:5678`), which some proxies append.
fn parse_forwarded_entry(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    entry
        .parse::<IpAddr>()
        .or_else(|_| entry.parse::<SocketAddr>().map(|s| s.ip()))
        .ok()
        .map(|ip| ip.to_canonical())
}

/// Middleware computing [`ClientIp`] and storing it as a request extension.
///
/// Use with `axum::middleware::from_fn_with_state(proxies, resolve)`. The
/// server must be run with
/// `into_make_service_with_connect_info::<SocketAddr>()` (tests may use
/// `MockConnectInfo`); without a peer address the request fails with 500.
pub async fn resolve(
    State(proxies): State<TrustedProxies>,
    mut req: Request,
    next: Next,
) -> Response {
    let extensions = req.extensions();
    let peer = match (
        extensions.get::<ConnectInfo<SocketAddr>>(),
        extensions.get::<MockConnectInfo<SocketAddr>>(),
    ) {
        (Some(ConnectInfo(addr)), _) | (None, Some(MockConnectInfo(addr))) => addr.ip(),
        (None, None) => {
            tracing::error!(
                "no peer address: serve with into_make_service_with_connect_info::<SocketAddr>()"
            );
            return internal_error();
        }
    };
    let ip = proxies.client_ip(peer, req.headers());
    req.extensions_mut().insert(ClientIp(ip));
    next.run(req).await
}

fn internal_error() -> Response {
    error_response(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal_error",
        "internal server error",
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use axum::Router;
    use axum::body::Body;
    use axum::http::HeaderValue;
    use axum::routing::get;
    use tower::ServiceExt as _;

    fn proxies(list: &[&str]) -> TrustedProxies {
        TrustedProxies::new(list.iter().map(|s| parse_ip_or_net(s).unwrap()).collect())
    }

    fn xff(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for v in values {
            headers.append("x-forwarded-for", HeaderValue::from_str(v).unwrap());
        }
        headers
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn parses_addresses_and_networks() {
        assert_eq!(
            parse_ip_or_net(" 10.0.0.1 ").unwrap(),
            "10.0.0.1/32".parse::<IpNet>().unwrap()
        );
        assert_eq!(
            parse_ip_or_net("10.0.0.0/8").unwrap(),
            "10.0.0.0/8".parse::<IpNet>().unwrap()
        );
        assert_eq!(
            parse_ip_or_net("fd00::/8").unwrap(),
            "fd00::/8".parse::<IpNet>().unwrap()
        );
        assert_eq!(
            parse_ip_or_net("10.0.0.0/33"),
            Err(InvalidProxy("10.0.0.0/33".into()))
        );
        assert!(parse_ip_or_net("localhost").is_err());
        assert!(parse_ip_or_net("").is_err());
    }

    #[test]
    fn untrusted_peer_with_spoofed_header_is_the_peer() {
        let p = proxies(&["10.0.0.0/8"]);
        let got = p.client_ip(ip("203.0.113.9"), &xff(&["1.2.3.4"]));
        assert_eq!(got, ip("203.0.113.9"));
        // Trusting nobody is the default.
        let none = TrustedProxies::default();
        assert_eq!(
            none.client_ip(ip("10.0.0.1"), &xff(&["1.2.3.4"])),
            ip("10.0.0.1")
        );
    }

    #[test]
    fn trusted_proxy_gives_the_forwarded_client() {
        let p = proxies(&["10.0.0.1"]);
        assert_eq!(
            p.client_ip(ip("10.0.0.1"), &xff(&["198.51.100.7"])),
            ip("198.51.100.7")
        );
        // Without the header, the proxy itself is the client.
        assert_eq!(
            p.client_ip(ip("10.0.0.1"), &HeaderMap::new()),
            ip("10.0.0.1")
        );
    }

    #[test]
    fn chains_skip_trusted_hops_and_ignore_forged_left_entries() {
        let p = proxies(&["10.0.0.0/8"]);
        // client forged "6.6.6.6"; the real client 198.51.100.7 was appended
        // by the outer proxy 10.1.1.1, which the inner proxy appended.
        let headers = xff(&["6.6.6.6, 198.51.100.7, 10.1.1.1"]);
        assert_eq!(p.client_ip(ip("10.0.0.2"), &headers), ip("198.51.100.7"));
        // The same list split over several header lines.
        let headers = xff(&["6.6.6.6", "198.51.100.7,10.1.1.1"]);
        assert_eq!(p.client_ip(ip("10.0.0.2"), &headers), ip("198.51.100.7"));
        // All hops trusted: the left-most one is the best known client.
        let headers = xff(&["10.9.9.9, 10.1.1.1"]);
        assert_eq!(p.client_ip(ip("10.0.0.2"), &headers), ip("10.9.9.9"));
        // Entries with ports are understood.
        let headers = xff(&["198.51.100.7:4711", "[2001:db8::1]:443"]);
        assert_eq!(p.client_ip(ip("10.0.0.2"), &headers), ip("2001:db8::1"));
    }

    #[test]
    fn garbage_header_gives_the_peer() {
        let p = proxies(&["10.0.0.0/8"]);
        for bad in [
            "not-an-ip",
            "",
            "1.2.3.4, ",
            "unknown, 1.2.3.4, 10.0.0.5, x",
        ] {
            assert_eq!(
                p.client_ip(ip("10.0.0.2"), &xff(&[bad])),
                ip("10.0.0.2"),
                "{bad:?}"
            );
        }
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-forwarded-for",
            HeaderValue::from_bytes(b"1.2.3.4\xff").unwrap(),
        );
        assert_eq!(p.client_ip(ip("10.0.0.2"), &headers), ip("10.0.0.2"));
    }

    #[test]
    fn ipv4_mapped_peers_match_ipv4_proxies() {
        let p = proxies(&["10.0.0.1"]);
        let got = p.client_ip(ip("::ffff:10.0.0.1"), &xff(&["::ffff:198.51.100.7"]));
        assert_eq!(got, ip("198.51.100.7"));
    }

    fn app(proxies: TrustedProxies) -> Router {
        Router::new()
            .route(
                "/",
                get(|ClientIp(ip): ClientIp| async move { ip.to_string() }),
            )
            .layer(axum::middleware::from_fn_with_state(proxies, resolve))
    }

    async fn body_text(res: Response) -> String {
        let bytes = axum::body::to_bytes(res.into_body(), 1 << 16)
            .await
            .unwrap();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[tokio::test]
    async fn middleware_inserts_the_client_ip() {
        let peer: SocketAddr = "10.0.0.1:5555".parse().unwrap();
        let mut req = Request::builder()
            .uri("/")
            .header("x-forwarded-for", "198.51.100.7")
            .body(Body::empty())
            .unwrap();
        req.extensions_mut().insert(ConnectInfo(peer));
        let res = app(proxies(&["10.0.0.1"])).oneshot(req).await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(body_text(res).await, "198.51.100.7");

        // Same request from an untrusted peer (through MockConnectInfo).
        let app = app(TrustedProxies::default()).layer(MockConnectInfo(
            "192.0.2.1:1".parse::<SocketAddr>().unwrap(),
        ));
        let req = Request::builder()
            .uri("/")
            .header("x-forwarded-for", "198.51.100.7")
            .body(Body::empty())
            .unwrap();
        let res = app.oneshot(req).await.unwrap();
        assert_eq!(body_text(res).await, "192.0.2.1");
    }

    #[tokio::test]
    async fn missing_peer_address_is_a_json_500() {
        let req = Request::builder().uri("/").body(Body::empty()).unwrap();
        let res = app(TrustedProxies::default()).oneshot(req).await.unwrap();
        assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let json: serde_json::Value = serde_json::from_str(&body_text(res).await).unwrap();
        assert_eq!(json["error"], "internal_error");
    }
}
