//! Per-client-IP rate limits for the auth routes (GCRA through `governor`).
//!
//! Each client gets `burst` requests at once, refilled at `per_minute`
//! requests per minute. Beyond that: `429` with
//! `{"error": "rate_limited", "message": ...}` and `Retry-After`.
//!
//! IPv6 clients are limited per /64 network, since a single host usually
//! controls a whole /64 and could otherwise rotate through 2^64 addresses.

use std::net::{IpAddr, Ipv6Addr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use governor::clock::Clock as _;
use governor::{DefaultKeyedRateLimiter, Quota};

use crate::client_ip::ClientIp;
use crate::error_response;

/// How often stale per-client state is dropped to bound memory.
const HOUSEKEEPING_EVERY: Duration = Duration::from_secs(60);

/// A rate limit of zero requests was configured.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("rate limit and burst must be greater than zero")]
pub struct ZeroRateLimit;

struct Inner {
    limiter: DefaultKeyedRateLimiter<IpAddr>,
    started: Instant,
    /// Milliseconds after `started` of the last housekeeping run.
    last_housekeeping_ms: AtomicU64,
}

/// The per-IP limiter; cheap to clone (shared state), use it as middleware
/// state with [`limit`].
#[derive(Clone)]
pub struct RateLimiter {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimiter")
            .field("tracked_clients", &self.inner.limiter.len())
            .finish_non_exhaustive()
    }
}

impl RateLimiter {
    /// `per_minute` sustained requests per client, with bursts of `burst`.
    pub fn new(per_minute: u32, burst: u32) -> Result<Self, ZeroRateLimit> {
        let per_minute = NonZeroU32::new(per_minute).ok_or(ZeroRateLimit)?;
        let burst = NonZeroU32::new(burst).ok_or(ZeroRateLimit)?;
        let quota = Quota::per_minute(per_minute).allow_burst(burst);
        Ok(Self {
            inner: Arc::new(Inner {
                limiter: DefaultKeyedRateLimiter::keyed(quota),
                started: Instant::now(),
                last_housekeeping_ms: AtomicU64::new(0),
            }),
        })
    }

    /// Takes one request from `ip`'s allowance: `Err(wait)` when none is left,
    /// with the time until the next request would pass.
    pub fn check(&self, ip: IpAddr) -> Result<(), Duration> {
        self.housekeeping_if_due();
        let limiter = &self.inner.limiter;
        limiter
            .check_key(&limit_key(ip))
            .map_err(|not_until| not_until.wait_time_from(limiter.clock().now()))
    }

    /// Drops the state of clients whose allowance is full again (they are
    /// indistinguishable from new ones), bounding memory. Runs by itself
    /// about once a minute from [`check`](Self::check).
    pub fn retain_recent(&self) {
        self.inner.limiter.retain_recent();
        self.inner.limiter.shrink_to_fit();
    }

    /// Number of clients with state (for tests and diagnostics).
    pub fn tracked_clients(&self) -> usize {
        self.inner.limiter.len()
    }

    /// Runs [`retain_recent`](Self::retain_recent) when a minute has passed
    /// since the last run: on access rather than from a timer task, so the
    /// limiter needs no runtime and nobody can forget to start the task.
    fn housekeeping_if_due(&self) {
        let elapsed = self.inner.started.elapsed().as_millis();
        let now_ms = u64::try_from(elapsed).unwrap_or(u64::MAX);
        let last = self.inner.last_housekeeping_ms.load(Ordering::Relaxed);
        let every = u64::try_from(HOUSEKEEPING_EVERY.as_millis()).unwrap_or(u64::MAX);
        // compare_exchange elects one caller per period to do the work.
        if now_ms.saturating_sub(last) >= every
            && self
                .inner
                .last_housekeeping_ms
                .compare_exchange(last, now_ms, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            self.retain_recent();
        }
    }
}

/// The key a client is limited under: IPv4 addresses as they are, IPv6
/// addresses by their /64 network (see the module docs).
fn limit_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => {
            let bits = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(Ipv6Addr::from(bits))
        }
    }
}

/// Middleware enforcing the limit per [`ClientIp`].
///
/// Use with `axum::middleware::from_fn_with_state(limiter, limit)` on the
/// auth routes, inside (after) the `client_ip::resolve` middleware. Without a
/// `ClientIp` extension the request fails with 500 instead of going
/// unlimited.
pub async fn limit(State(limiter): State<RateLimiter>, req: Request, next: Next) -> Response {
    let Some(ClientIp(ip)) = req.extensions().get::<ClientIp>().copied() else {
        tracing::error!("ClientIp missing: install client_ip::resolve before ratelimit::limit");
        return error_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "internal server error",
        );
    };
    match limiter.check(ip) {
        Ok(()) => next.run(req).await,
        Err(wait) => {
            let secs = retry_after_secs(wait);
            tracing::info!(%ip, retry_after = secs, "rate limited");
            let mut response = error_response(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                "too many requests from this address; try again later",
            );
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
            response
        }
    }
}

/// Whole seconds, rounded up and at least 1: a client retrying after a
/// rounded-down value would be refused again.
fn retry_after_secs(wait: Duration) -> u64 {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    secs.max(1)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use axum::Router;
    use axum::body::Body;
    use axum::routing::post;
    use tower::ServiceExt as _;

    fn app(limiter: RateLimiter) -> Router {
        Router::new()
            .route("/login", post(|| async { "ok" }))
            .layer(axum::middleware::from_fn_with_state(limiter, limit))
    }

    fn req_from(ip: &str) -> Request {
        let mut req = Request::builder()
            .method("POST")
            .uri("/login")
            .body(Body::empty())
            .unwrap();
        req.extensions_mut().insert(ClientIp(ip.parse().unwrap()));
        req
    }

    #[tokio::test]
    async fn burst_passes_then_429_with_retry_after() {
        // 6 per minute: one request refilled every 10 s.
        let app = app(RateLimiter::new(6, 3).unwrap());
        for _ in 0..3 {
            let res = app.clone().oneshot(req_from("192.0.2.1")).await.unwrap();
            assert_eq!(res.status(), StatusCode::OK);
        }
        let res = app.clone().oneshot(req_from("192.0.2.1")).await.unwrap();
        assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
        let retry: u64 = res.headers()[header::RETRY_AFTER]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((9..=10).contains(&retry), "{retry}");
        let body = axum::body::to_bytes(res.into_body(), 1 << 16)
            .await
            .unwrap();
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(json["error"], "rate_limited");
        assert!(json["message"].is_string());

        // Another client is unaffected.
        let res = app.clone().oneshot(req_from("192.0.2.2")).await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
    }

    #[tokio::test]
    async fn parallel_requests_never_exceed_the_burst() {
        let limiter = RateLimiter::new(1, 5).unwrap();
        let app = app(limiter);
        let tasks: Vec<_> = (0..50)
            .map(|_| {
                let app = app.clone();
                tokio::spawn(async move { app.oneshot(req_from("192.0.2.9")).await.unwrap() })
            })
            .collect();
        let mut ok = 0;
        for t in tasks {
            if t.await.unwrap().status() == StatusCode::OK {
                ok += 1;
            }
        }
        assert_eq!(ok, 5);
    }

    #[test]
    fn ipv6_clients_share_their_slash_64() {
        let limiter = RateLimiter::new(1, 1).unwrap();
        assert!(limiter.check("2001:db8:1:2::1".parse().unwrap()).is_ok());
        assert!(
            limiter
                .check("2001:db8:1:2::ffff".parse().unwrap())
                .is_err()
        );
        assert!(limiter.check("2001:db8:1:3::1".parse().unwrap()).is_ok());
        // An IPv4-mapped address is the IPv4 client.
        assert!(limiter.check("198.51.100.1".parse().unwrap()).is_ok());
        assert!(
            limiter
                .check("::ffff:198.51.100.1".parse().unwrap())
                .is_err()
        );
    }

    #[test]
    fn retain_recent_forgets_refilled_clients() {
        // 60000 per minute: a cell per millisecond, so state goes stale fast.
        let limiter = RateLimiter::new(60_000, 1).unwrap();
        for i in 0..10u8 {
            limiter.check(IpAddr::from([192, 0, 2, i])).unwrap();
        }
        assert_eq!(limiter.tracked_clients(), 10);
        std::thread::sleep(Duration::from_millis(20));
        limiter.retain_recent();
        assert_eq!(limiter.tracked_clients(), 0);
    }

    #[test]
    fn zero_limits_are_rejected() {
        assert_eq!(RateLimiter::new(0, 1).unwrap_err(), ZeroRateLimit);
        assert_eq!(RateLimiter::new(1, 0).unwrap_err(), ZeroRateLimit);
    }

    #[test]
    fn retry_after_rounds_up() {
        assert_eq!(retry_after_secs(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(9_001)), 10);
        assert_eq!(retry_after_secs(Duration::from_secs(10)), 10);
    }

    #[tokio::test]
    async fn missing_client_ip_is_a_500_not_unlimited() {
        let req = Request::builder()
            .method("POST")
            .uri("/login")
            .body(Body::empty())
            .unwrap();
        let res = app(RateLimiter::new(1, 1).unwrap())
            .oneshot(req)
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }
}
