//! Prometheus metrics (`GET /metrics`): requests by route and status,
//! latency histograms, password-hash queue depth, logins, lockouts and MFA
//! failures.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse as _, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// `Content-Type` of [`Metrics::render`]'s output (OpenMetrics text, which
/// Prometheus scrapes natively).
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Route label of requests that matched no route. Raw paths are never used
/// as labels: every distinct path would create a new time series.
pub const UNMATCHED_ROUTE: &str = "unmatched";

/// Latency buckets in seconds: from a cached lookup (ms) to a password hash
/// under load (seconds).
const LATENCY_BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

/// Outcome label of `logins_total`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoginOutcome {
    /// Password (and second factor, if any) accepted.
    Success,
    /// Wrong email or password.
    Failure,
    /// Password accepted, second factor pending.
    MfaRequired,
    /// Refused because the account is locked out.
    Locked,
}

impl LoginOutcome {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            LoginOutcome::Success => "success",
            LoginOutcome::Failure => "failure",
            LoginOutcome::MfaRequired => "mfa_required",
            LoginOutcome::Locked => "locked",
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    method: &'static str,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LatencyLabels {
    route: String,
    method: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LoginLabels {
    outcome: &'static str,
}

type HashQueueSource = Box<dyn Fn() -> i64 + Send + Sync>;

struct Inner {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    durations: Family<LatencyLabels, Histogram, fn() -> Histogram>,
    hash_queue_depth: Gauge,
    hash_queue_source: Mutex<Option<HashQueueSource>>,
    logins: Family<LoginLabels, Counter>,
    lockouts: Counter,
    mfa_failures: Counter,
}

/// The server's metrics. Cheap to clone (shared inside), so it can be
/// middleware and handler state.
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

impl fmt::Debug for Metrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

fn latency_histogram() -> Histogram {
    Histogram::new(LATENCY_BUCKETS)
}

impl Metrics {
    /// A registry with every metric at zero.
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        // The `_total` suffix of counters is added by the encoder.
        registry.register(
            "http_requests",
            "HTTP requests by route template, method and status",
            requests.clone(),
        );
        let durations: Family<LatencyLabels, Histogram, fn() -> Histogram> =
            Family::new_with_constructor(latency_histogram);
        registry.register(
            "http_request_duration_seconds",
            "Time to produce the response head, by route template and method",
            durations.clone(),
        );
        let hash_queue_depth = Gauge::default();
        registry.register(
            "password_hash_queue_depth",
            "Password hashes waiting or running",
            hash_queue_depth.clone(),
        );
        let logins = Family::<LoginLabels, Counter>::default();
        registry.register("logins", "Login attempts by outcome", logins.clone());
        let lockouts = Counter::default();
        registry.register("lockouts", "Accounts locked out", lockouts.clone());
        let mfa_failures = Counter::default();
        registry.register(
            "mfa_failures",
            "Wrong second-factor codes",
            mfa_failures.clone(),
        );
        Self {
            inner: Arc::new(Inner {
                registry,
                requests,
                durations,
                hash_queue_depth,
                hash_queue_source: Mutex::new(None),
                logins,
                lockouts,
                mfa_failures,
            }),
        }
    }

    /// Counts one finished request. `route` must be a route template (or
    /// [`UNMATCHED_ROUTE`]), never a raw path.
    pub fn record_request(&self, route: &str, method: &Method, status: u16, seconds: f64) {
        let method = method_label(method);
        self.inner
            .requests
            .get_or_create(&RequestLabels {
                route: route.to_owned(),
                method,
                status,
            })
            .inc();
        self.inner
            .durations
            .get_or_create(&LatencyLabels {
                route: route.to_owned(),
                method,
            })
            .observe(seconds);
    }

    /// Counts one login attempt.
    pub fn record_login(&self, outcome: LoginOutcome) {
        self.inner
            .logins
            .get_or_create(&LoginLabels {
                outcome: outcome.as_str(),
            })
            .inc();
    }

    /// Counts one lockout.
    pub fn record_lockout(&self) {
        self.inner.lockouts.inc();
    }

    /// Counts one wrong second-factor code.
    pub fn record_mfa_failure(&self) {
        self.inner.mfa_failures.inc();
    }

    /// Sets the password-hash queue depth gauge.
    pub fn set_hash_queue_depth(&self, depth: i64) {
        self.inner.hash_queue_depth.set(depth);
    }

    /// Reads the queue depth from `source` at every [`render`](Self::render)
    /// (e.g. `move || hasher.queue_depth() as i64`), so nothing has to
    /// update the gauge on each hash.
    pub fn set_hash_queue_depth_source(&self, source: impl Fn() -> i64 + Send + Sync + 'static) {
        *self
            .inner
            .hash_queue_source
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(Box::new(source));
    }

    /// The Prometheus (OpenMetrics) text exposition of every metric.
    pub fn render(&self) -> String {
        if let Some(source) = self
            .inner
            .hash_queue_source
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
        {
            self.inner.hash_queue_depth.set(source());
        }
        let mut out = String::new();
        // Writing to a String cannot fail; the encoder reports fmt::Error
        // only from its writer.
        if let Err(err) = encode(&mut out, &self.inner.registry) {
            tracing::error!(%err, "encoding metrics failed");
        }
        out
    }
}

/// The method label: the standard methods by name, anything else as
/// `OTHER`, because clients can send arbitrary method tokens.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

/// Handler for `GET /metrics`.
pub async fn handler(State(metrics): State<Metrics>) -> Response {
    ([(header::CONTENT_TYPE, CONTENT_TYPE)], metrics.render()).into_response()
}

/// Middleware recording every request by its matched route template.
///
/// Install with `Router::layer(axum::middleware::from_fn_with_state(metrics,
/// track))`: axum stores the [`MatchedPath`] before layers added that way
/// run. Requests that match no route are recorded as [`UNMATCHED_ROUTE`].
pub async fn track(State(metrics): State<Metrics>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or(UNMATCHED_ROUTE, MatchedPath::as_str)
        .to_owned();
    let method = req.method().clone();
    let response = next.run(req).await;
    metrics.record_request(
        &route,
        &method,
        response.status().as_u16(),
        start.elapsed().as_secs_f64(),
    );
    response
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use axum::Router;
    use axum::body::Body;
    use axum::http::StatusCode;
    use axum::routing::get;
    use tower::ServiceExt as _;

    #[test]
    fn render_contains_every_metric() {
        let m = Metrics::new();
        m.record_login(LoginOutcome::Success);
        m.record_login(LoginOutcome::MfaRequired);
        m.record_login(LoginOutcome::MfaRequired);
        m.record_lockout();
        m.record_mfa_failure();
        m.set_hash_queue_depth(3);
        m.record_request("/api/v1/auth/login", &Method::POST, 200, 0.02);
        let text = m.render();
        for needle in [
            "logins_total{outcome=\"success\"} 1",
            "logins_total{outcome=\"mfa_required\"} 2",
            "lockouts_total 1",
            "mfa_failures_total 1",
            "password_hash_queue_depth 3",
            "http_requests_total{route=\"/api/v1/auth/login\",method=\"POST\",status=\"200\"} 1",
            "http_request_duration_seconds_bucket{le=\"0.025\",route=\"/api/v1/auth/login\",method=\"POST\"} 1",
            "http_request_duration_seconds_count{route=\"/api/v1/auth/login\",method=\"POST\"} 1",
        ] {
            assert!(text.contains(needle), "missing {needle} in\n{text}");
        }
    }

    #[test]
    fn queue_depth_source_is_read_at_render() {
        let m = Metrics::new();
        let depth = Arc::new(std::sync::atomic::AtomicI64::new(5));
        let d = depth.clone();
        m.set_hash_queue_depth_source(move || d.load(std::sync::atomic::Ordering::Relaxed));
        assert!(m.render().contains("password_hash_queue_depth 5"));
        depth.store(0, std::sync::atomic::Ordering::Relaxed);
        assert!(m.render().contains("password_hash_queue_depth 0"));
    }

    #[test]
    fn unusual_methods_share_one_label() {
        let m = Metrics::new();
        let weird = Method::from_bytes(b"BREW").unwrap();
        m.record_request("/x", &weird, 405, 0.0);
        let text = m.render();
        assert!(text.contains("method=\"OTHER\""));
        assert!(!text.contains("BREW"));
    }

    #[tokio::test]
    async fn middleware_labels_by_route_template() {
        let metrics = Metrics::new();
        let app = Router::new()
            .route("/users/{id}", get(|| async { "ok" }))
            .route("/metrics", get(handler))
            .layer(axum::middleware::from_fn_with_state(metrics.clone(), track))
            .with_state(metrics.clone());
        for uri in ["/users/1", "/users/2", "/nope/12345"] {
            let req = Request::builder().uri(uri).body(Body::empty()).unwrap();
            app.clone().oneshot(req).await.unwrap();
        }
        let req = Request::builder()
            .uri("/metrics")
            .body(Body::empty())
            .unwrap();
        let res = app.oneshot(req).await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.headers()[header::CONTENT_TYPE], CONTENT_TYPE);
        let body = axum::body::to_bytes(res.into_body(), 1 << 20)
            .await
            .unwrap();
        let text = String::from_utf8(body.to_vec()).unwrap();
        assert!(
            text.contains(
                "http_requests_total{route=\"/users/{id}\",method=\"GET\",status=\"200\"} 2"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "http_requests_total{route=\"unmatched\",method=\"GET\",status=\"404\"} 1"
            )
        );
        assert!(!text.contains("12345"), "raw paths never become labels");
    }
}
