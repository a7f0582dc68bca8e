//! Guards for axum services whose callers are signed-in users of the authn
//! server (feature `axum`).
//!
//! A [`Verifier`] checks the caller's session token with the server's
//! introspection (`POST /api/v1/auth/introspect`, admin key) on every
//! request: nothing is cached, so a logout, a revocation or a disabled
//! account takes effect at once. [`require_session`] and [`require_mfa`]
//! make it a layer, one line per route; the handler then gets the
//! [`Caller`] (as `Extension<Caller>` or as an extractor).
//!
//! Answers when the check fails, in the API's error format:
//!
//! | when | answer |
//! |---|---|
//! | no token, or not a valid full session | `401 {"error":"unauthorized"}` |
//! | [`require_mfa`]: no second factor within the age | `403 {"error":"step_up_required","max_age":N}` |
//! | cookie sent cross-origin on a state change | `403 {"error":"forbidden_origin"}` |
//! | the auth server cannot answer | `503 {"error":"service_unavailable"}` |
//!
//! The token comes from `Authorization: Bearer`, else from the session
//! cookie (`authn_session` unless [`Verifier::cookie_name`] says
//! otherwise; [`Verifier::without_cookie`] for bearer-only APIs).
//!
//! # Example
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use std::time::Duration;
//!
//! use axum::routing::{get, post};
//! use axum::{Extension, Router};
//! use authn_client::AdminClient;
//! use authn_client::axum::{Caller, Verifier, require_mfa, require_session};
//!
//! async fn profile(Extension(caller): Extension<Caller>) -> String {
//!     format!("hello {}", caller.email)
//! }
//! async fn transfer(caller: Caller) -> String {
//!     format!("transfer by {} (second factor at {:?})", caller.user_id, caller.mfa_at)
//! }
//!
//! let admin = AdminClient::new("http://127.0.0.1:8080", &std::env::var("AUTHN_ADMIN_KEY")?)?;
//! let verifier = Verifier::new(admin);
//! let app: Router = Router::new()
//!     .route("/profile", get(profile).layer(require_session(verifier.clone())))
//!     .route(
//!         "/transfer",
//!         post(transfer).layer(require_mfa(verifier.clone(), Duration::from_secs(300))),
//!     );
//! # let _ = app; Ok(()) }
//! ```

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Json;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use tower::{Layer, Service};
use uuid::Uuid;

use crate::AdminClient;
use crate::error::{ClientError, DecodeError};
use crate::types::Introspection;

/// The server's default session cookie name.
const DEFAULT_COOKIE: &str = "authn_session";

/// Longer values are not session tokens (those are 43 characters): refuse
/// them without a round trip.
const MAX_TOKEN_LEN: usize = 1024;

/// The signed-in user making a request, as checked by a guard.
///
/// # Example
///
/// ```no_run
/// use axum::Extension;
/// use authn_client::axum::Caller;
///
/// async fn handler(Extension(caller): Extension<Caller>) -> String {
///     format!("{} via {:?}", caller.email, caller.amr)
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Caller {
    /// The user.
    pub user_id: Uuid,
    /// Their session.
    pub session_id: Uuid,
    /// Their email.
    pub email: String,
    /// How the session was authenticated (RFC 8176: `pwd`, `otp`, `mfa` ...).
    pub amr: Vec<String>,
    /// Authentication context class.
    pub acr: Option<String>,
    /// When the first factor was given.
    pub auth_time: Option<DateTime<Utc>>,
    /// When a second factor was last given.
    pub mfa_at: Option<DateTime<Utc>>,
    /// When the session expires.
    pub expires_at: Option<DateTime<Utc>>,
}

impl Caller {
    fn from_introspection(i: Introspection) -> Result<Self, Denial> {
        let missing = |f| Denial::Unavailable(ClientError::Decode(DecodeError::missing(f)));
        Ok(Self {
            user_id: i.user_id.ok_or_else(|| missing("user_id"))?,
            session_id: i.session_id.ok_or_else(|| missing("session_id"))?,
            email: i.email.ok_or_else(|| missing("email"))?,
            amr: i.amr,
            acr: i.acr,
            auth_time: i.auth_time,
            mfa_at: i.mfa_at,
            expires_at: i.expires_at,
        })
    }
}

/// The caller put in the request by [`require_session`] or
/// [`require_mfa`]. On a route without either, extraction fails closed
/// with `401`.
///
/// # Example
///
/// ```no_run
/// use authn_client::axum::Caller;
///
/// async fn handler(caller: Caller) -> String {
///     caller.user_id.to_string()
/// }
/// ```
impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = Denial;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Caller>()
            .cloned()
            .ok_or(Denial::Unauthorized)
    }
}

/// Why a request was refused. As a response it is the API's error format.
///
/// # Example
///
/// ```no_run
/// # async fn run(verifier: authn_client::axum::Verifier, token: &str) {
/// use authn_client::axum::Denial;
///
/// match verifier.verify(token, None).await {
///     Ok(caller) => println!("{}", caller.email),
///     Err(Denial::Unavailable(e)) => eprintln!("auth server trouble: {e}"),
///     Err(other) => println!("refused: {other}"),
/// }
/// # }
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Denial {
    /// No token, or not a valid full session: `401 unauthorized`.
    #[error("no valid session")]
    Unauthorized,
    /// A valid session whose second factor is missing or older than
    /// `max_age` seconds: `403 step_up_required`.
    #[error("a second factor within {max_age} s is required")]
    StepUpRequired {
        /// The freshness demanded, in seconds.
        max_age: u64,
    },
    /// The session cookie came with a state-changing request from another
    /// origin (cross-site request forgery): `403 forbidden_origin`.
    #[error("session cookie sent from a foreign origin")]
    ForbiddenOrigin,
    /// The auth server could not be asked (unreachable, timeout, refused
    /// the admin key, unexpected answer): `503 service_unavailable`. The
    /// request is refused: the check fails closed.
    #[error("the session could not be checked")]
    Unavailable(#[source] ClientError),
}

impl IntoResponse for Denial {
    fn into_response(self) -> Response {
        match self {
            Self::Unauthorized => {
                let mut res = error(
                    StatusCode::UNAUTHORIZED,
                    "unauthorized",
                    "authentication required",
                    None,
                );
                res.headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
                res
            }
            Self::StepUpRequired { max_age } => error(
                StatusCode::FORBIDDEN,
                "step_up_required",
                "a recent second factor is required",
                Some(max_age),
            ),
            Self::ForbiddenOrigin => error(
                StatusCode::FORBIDDEN,
                "forbidden_origin",
                "this origin may not make authenticated requests",
                None,
            ),
            Self::Unavailable(_) => {
                let mut res = error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "service_unavailable",
                    "the authentication service is unavailable",
                    None,
                );
                res.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
                res
            }
        }
    }
}

fn error(status: StatusCode, slug: &str, message: &str, max_age: Option<u64>) -> Response {
    let mut body = serde_json::json!({ "error": slug, "message": message });
    if let (Some(age), Some(obj)) = (max_age, body.as_object_mut()) {
        obj.insert("max_age".to_owned(), age.into());
    }
    (status, Json(body)).into_response()
}

/// Checks callers' sessions with the authn server. Cheap to clone; share
/// one per service.
///
/// # Example
///
/// ```no_run
/// # fn run() -> Result<(), authn_client::ClientError> {
/// use authn_client::AdminClient;
/// use authn_client::axum::Verifier;
///
/// let admin = AdminClient::builder("http://127.0.0.1:8080", "admin-key")
///     .timeout(std::time::Duration::from_secs(2))
///     .build()?;
/// let verifier = Verifier::new(admin)
///     .cookie_name("app_session")
///     .allowed_origins(["https://app.example.com"]);
/// # let _ = verifier; Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Verifier {
    admin: AdminClient,
    cookie: Option<Arc<str>>,
    allowed_origins: Arc<[String]>,
}

impl Verifier {
    /// A verifier asking the server behind `admin` (its key is what
    /// authorises the introspection). Reads bearer tokens and the
    /// `authn_session` cookie.
    ///
    /// # Example
    ///
    /// ```no_run
    /// # fn run(admin: authn_client::AdminClient) {
    /// let verifier = authn_client::axum::Verifier::new(admin);
    /// # let _ = verifier;
    /// # }
    /// ```
    pub fn new(admin: AdminClient) -> Self {
        Self {
            admin,
            cookie: Some(Arc::from(DEFAULT_COOKIE)),
            allowed_origins: Arc::from(Vec::new()),
        }
    }

    /// Reads the session from this cookie (the server's
    /// `AUTHN_COOKIE_NAME`) when there is no bearer token.
    ///
    /// # Example
    ///
    /// ```no_run
    /// # fn run(admin: authn_client::AdminClient) {
    /// let verifier = authn_client::axum::Verifier::new(admin).cookie_name("sid");
    /// # let _ = verifier;
    /// # }
    /// ```
    #[must_use]
    pub fn cookie_name(mut self, name: impl Into<String>) -> Self {
        self.cookie = Some(Arc::from(name.into()));
        self
    }

    /// Accepts bearer tokens only (APIs not called from browsers).
    ///
    /// # Example
    ///
    /// ```no_run
    /// # fn run(admin: authn_client::AdminClient) {
    /// let verifier = authn_client::axum::Verifier::new(admin).without_cookie();
    /// # let _ = verifier;
    /// # }
    /// ```
    #[must_use]
    pub fn without_cookie(mut self) -> Self {
        self.cookie = None;
        self
    }

    /// Origins (`https://app.example.com`) allowed to make cookie-
    /// authenticated state changes besides the service's own (an `Origin`
    /// whose host matches the `Host` header).
    ///
    /// # Example
    ///
    /// ```no_run
    /// # fn run(admin: authn_client::AdminClient) {
    /// let verifier = authn_client::axum::Verifier::new(admin)
    ///     .allowed_origins(["https://app.example.com", "https://admin.example.com"]);
    /// # let _ = verifier;
    /// # }
    /// ```
    #[must_use]
    pub fn allowed_origins<I, O>(mut self, origins: I) -> Self
    where
        I: IntoIterator<Item = O>,
        O: Into<String>,
    {
        self.allowed_origins = origins.into_iter().map(Into::into).collect();
        self
    }

    /// Checks a session token; with `max_mfa_age`, also that a second
    /// factor was given within it. Asks the server every time.
    ///
    /// # Errors
    ///
    /// [`Denial::Unauthorized`], [`Denial::StepUpRequired`] or
    /// [`Denial::Unavailable`].
    ///
    /// # Example
    ///
    /// ```no_run
    /// # async fn run(verifier: authn_client::axum::Verifier, token: &str) -> Result<(), authn_client::axum::Denial> {
    /// let caller = verifier.verify(token, Some(std::time::Duration::from_secs(300))).await?;
    /// println!("{} passed a second factor at {:?}", caller.email, caller.mfa_at);
    /// # Ok(()) }
    /// ```
    pub async fn verify(
        &self,
        token: &str,
        max_mfa_age: Option<Duration>,
    ) -> Result<Caller, Denial> {
        if token.is_empty() || token.len() > MAX_TOKEN_LEN {
            return Err(Denial::Unauthorized);
        }
        let first = self.introspect(token, max_mfa_age).await?;
        if first.active {
            return Caller::from_introspection(first);
        }
        let Some(max) = max_mfa_age else {
            return Err(Denial::Unauthorized);
        };
        // Inactive under a freshness demand means either no session or a
        // missing/stale second factor; the server does not say which, and
        // they need different answers (log in vs. step up). Asking again
        // without the demand tells, by the server's own clock, and only on
        // the refusal path.
        let plain = self.introspect(token, None).await?;
        if plain.active {
            Err(Denial::StepUpRequired {
                max_age: crate::admin::whole_seconds_up(max),
            })
        } else {
            Err(Denial::Unauthorized)
        }
    }

    /// Checks the caller of a request: the token from `Authorization:
    /// Bearer` or the cookie, and for a cookie on a state-changing method,
    /// the `Origin`.
    ///
    /// # Errors
    ///
    /// As [`Verifier::verify`], and [`Denial::ForbiddenOrigin`].
    ///
    /// # Example
    ///
    /// ```no_run
    /// # async fn run(verifier: authn_client::axum::Verifier, req: axum::extract::Request) -> Result<(), authn_client::axum::Denial> {
    /// let caller = verifier.verify_request(req.method(), req.headers(), None).await?;
    /// # let _ = caller; Ok(()) }
    /// ```
    pub async fn verify_request(
        &self,
        method: &Method,
        headers: &HeaderMap,
        max_mfa_age: Option<Duration>,
    ) -> Result<Caller, Denial> {
        let token = match bearer(headers) {
            Some(t) => t,
            None => {
                let name = self.cookie.as_deref().ok_or(Denial::Unauthorized)?;
                let t = cookie(headers, name).ok_or(Denial::Unauthorized)?;
                self.check_origin(method, headers)?;
                t
            }
        };
        self.verify(token, max_mfa_age).await
    }

    async fn introspect(
        &self,
        token: &str,
        max_mfa_age: Option<Duration>,
    ) -> Result<Introspection, Denial> {
        self.admin
            .introspect(token, max_mfa_age)
            .await
            .map_err(Denial::Unavailable)
    }

    /// A cookie rides along with cross-site requests; bearer tokens do not.
    /// So a cookie-authenticated state change must come from the service's
    /// own origin or an allowed one (as the authn server itself checks).
    fn check_origin(&self, method: &Method, headers: &HeaderMap) -> Result<(), Denial> {
        if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
            return Ok(());
        }
        let Some(origin) = headers.get(header::ORIGIN) else {
            return Ok(());
        };
        let origin = origin.to_str().map_err(|_| Denial::ForbiddenOrigin)?;
        if self.allowed_origins.iter().any(|o| o == origin) {
            return Ok(());
        }
        let same_host = origin
            .split_once("://")
            .map(|(_, authority)| authority)
            .zip(headers.get(header::HOST).and_then(|h| h.to_str().ok()))
            .is_some_and(|(authority, host)| authority.eq_ignore_ascii_case(host));
        if same_host {
            Ok(())
        } else {
            Err(Denial::ForbiddenOrigin)
        }
    }
}

/// The bearer token of a request, if any.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// The value of cookie `name`, if the request has it.
fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty())
}

/// A layer admitting only requests with a valid full session; the
/// [`Caller`] goes into the request's extensions.
///
/// # Example
///
/// ```no_run
/// # fn run(verifier: authn_client::axum::Verifier) {
/// use axum::routing::get;
/// use axum::{Extension, Router};
/// use authn_client::axum::{Caller, require_session};
///
/// async fn me(Extension(c): Extension<Caller>) -> String {
///     c.email
/// }
/// let app: Router = Router::new().route("/me", get(me).layer(require_session(verifier)));
/// # let _ = app;
/// # }
/// ```
pub fn require_session(verifier: Verifier) -> RequireSessionLayer {
    RequireSessionLayer {
        verifier,
        max_mfa_age: None,
    }
}

/// A layer admitting only requests whose session passed a second factor
/// within `max_age`; others get `401` (no session) or `403
/// step_up_required` with `max_age` in seconds (the client answers an MFA
/// challenge, then retries).
///
/// # Example
///
/// ```no_run
/// # fn run(verifier: authn_client::axum::Verifier) {
/// use std::time::Duration;
///
/// use axum::Router;
/// use axum::routing::post;
/// use authn_client::axum::{Caller, require_mfa};
///
/// async fn transfer(caller: Caller) -> &'static str {
///     "done"
/// }
/// let app: Router = Router::new().route(
///     "/transfer",
///     post(transfer).layer(require_mfa(verifier, Duration::from_secs(300))),
/// );
/// # let _ = app;
/// # }
/// ```
pub fn require_mfa(verifier: Verifier, max_age: Duration) -> RequireSessionLayer {
    RequireSessionLayer {
        verifier,
        max_mfa_age: Some(max_age),
    }
}

/// The layer made by [`require_session`] and [`require_mfa`].
///
/// # Example
///
/// ```no_run
/// # fn run(verifier: authn_client::axum::Verifier) {
/// use axum::Router;
/// use axum::routing::get;
/// use authn_client::axum::{RequireSessionLayer, require_session};
///
/// // Guard a whole router (every route below it).
/// let guard: RequireSessionLayer = require_session(verifier);
/// let api: Router = Router::new().route("/a", get(|| async { "a" })).layer(guard);
/// # let _ = api;
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct RequireSessionLayer {
    verifier: Verifier,
    max_mfa_age: Option<Duration>,
}

impl<S> Layer<S> for RequireSessionLayer {
    type Service = RequireSession<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequireSession {
            inner,
            verifier: self.verifier.clone(),
            max_mfa_age: self.max_mfa_age,
        }
    }
}

/// The service made by [`RequireSessionLayer`]: checks, then calls the
/// wrapped service with the [`Caller`] in the request's extensions, or
/// answers the [`Denial`] itself.
///
/// # Example
///
/// ```no_run
/// # fn run(verifier: authn_client::axum::Verifier) {
/// use tower::Layer;
/// use authn_client::axum::{RequireSession, require_session};
///
/// let svc: RequireSession<_> = require_session(verifier).layer(tower::service_fn(
///     |_req: axum::extract::Request| async { Ok::<_, std::convert::Infallible>(axum::response::Response::new(axum::body::Body::empty())) },
/// ));
/// # let _ = svc;
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct RequireSession<S> {
    inner: S,
    verifier: Verifier,
    max_mfa_age: Option<Duration>,
}

/// The future of [`RequireSession`].
type GuardFuture<E> = Pin<Box<dyn Future<Output = Result<Response, E>> + Send>>;

impl<S, B> Service<Request<B>> for RequireSession<S>
where
    S: Service<Request<B>, Response = Response> + Clone + Send + 'static,
    S::Future: Send,
    B: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = GuardFuture<S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<B>) -> Self::Future {
        // The clone is not ready yet; the ready one is taken into the
        // future (tower's usual swap).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let verifier = self.verifier.clone();
        let max_mfa_age = self.max_mfa_age;
        Box::pin(async move {
            match verifier
                .verify_request(req.method(), req.headers(), max_mfa_age)
                .await
            {
                Ok(caller) => {
                    req.extensions_mut().insert(caller);
                    inner.call(req).await
                }
                Err(denial) => Ok(denial.into_response()),
            }
        })
    }
}

// `Infallible` is what axum routes use; spelled out so the bound above is
// known to fit `MethodRouter::layer` and `Router::layer`.
const _: fn() = || {
    fn fits<L>()
    where
        L: Layer<axum::routing::Route> + Clone + Send + Sync + 'static,
        L::Service: Service<axum::extract::Request, Response = Response, Error = Infallible>
            + Clone
            + Send
            + Sync
            + 'static,
        <L::Service as Service<axum::extract::Request>>::Future: Send + 'static,
    {
    }
    fits::<RequireSessionLayer>();
};

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn bearer_and_cookie() {
        assert_eq!(
            bearer(&headers(&[("authorization", "Bearer abc")])),
            Some("abc")
        );
        assert_eq!(
            bearer(&headers(&[("authorization", "bearer  abc ")])),
            Some("abc")
        );
        assert_eq!(bearer(&headers(&[("authorization", "Basic abc")])), None);
        assert_eq!(bearer(&headers(&[("authorization", "Bearer ")])), None);
        let h = headers(&[("cookie", "a=1; authn_session=tok; b=2")]);
        assert_eq!(cookie(&h, "authn_session"), Some("tok"));
        assert_eq!(cookie(&h, "authn"), None);
        let h = headers(&[("cookie", "a=1"), ("cookie", "sid=x")]);
        assert_eq!(cookie(&h, "sid"), Some("x"));
    }

    #[test]
    fn origin_check() {
        let v = Verifier::new(AdminClient::new("http://127.0.0.1:9", "k").unwrap())
            .allowed_origins(["https://app.example.com"]);
        let post = Method::POST;
        let ok = |h: &[(&'static str, &str)], m: &Method| v.check_origin(m, &headers(h)).is_ok();
        assert!(ok(&[], &post));
        assert!(ok(&[("origin", "https://evil.example")], &Method::GET));
        assert!(ok(&[("origin", "https://app.example.com")], &post));
        assert!(ok(
            &[
                ("origin", "https://svc.example.com:8443"),
                ("host", "svc.example.com:8443")
            ],
            &post
        ));
        assert!(!ok(
            &[
                ("origin", "https://evil.example"),
                ("host", "svc.example.com")
            ],
            &post
        ));
        assert!(!ok(&[("origin", "null")], &Method::DELETE));
    }

    #[test]
    fn denial_bodies() {
        let r = Denial::StepUpRequired { max_age: 300 }.into_response();
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        let r = Denial::Unauthorized.into_response();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(r.headers()[header::WWW_AUTHENTICATE], "Bearer");
        let r = Denial::Unavailable(ClientError::Timeout).into_response();
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    }
}
