//! The HTTP API: one `router()` per module, assembled here with the
//! middleware every route shares.

mod admin;
mod auth;
mod mfa;
mod ops;
pub mod types;

use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderName, StatusCode};
use axum::middleware::from_fn_with_state;
use axum::response::IntoResponse;
use serde::de::DeserializeOwned;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use crate::client_ip::{self, TrustedProxies};
use crate::error::ApiError;
use crate::metrics;
use crate::ratelimit::{self, RateLimiter};
use crate::state::AppState;

/// A JSON body whose rejections answer in the API's error format
/// (`400 invalid_json`, `415`, `413 payload_too_large`, `422`).
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let axum::Json(v) = axum::Json::<T>::from_request(req, state).await?;
        Ok(Self(v))
    }
}

/// Query parameters whose rejections answer `400 invalid_request` in the
/// API's error format.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let axum::extract::Query(v) =
            axum::extract::Query::<T>::from_request_parts(parts, state).await?;
        Ok(Self(v))
    }
}

/// A path parameter whose rejections (e.g. invalid UTF-8) answer `404
/// not_found` in the API's error format.
pub struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let axum::extract::Path(v) =
            axum::extract::Path::<T>::from_request_parts(parts, state).await?;
        Ok(Self(v))
    }
}

/// The OpenAPI document's frame; the paths come from the handlers.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "authn",
        description = "Self-hosted authentication: users, sessions, MFA with step-up, one-time links, admin.",
        license(name = "Apache-2.0")
    ),
    tags(
        (name = "auth", description = "User routes (session cookie or bearer token)"),
        (name = "mfa", description = "Second factor"),
        (name = "admin", description = "Admin routes (admin key as bearer token)"),
        (name = "ops", description = "Health, readiness, metrics")
    )
)]
struct ApiDoc;

/// The API's routes and their OpenAPI document (before middleware).
fn api(
    limiter: Option<RateLimiter>,
    metrics: metrics::Metrics,
) -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let rate_limited = |r: OpenApiRouter<AppState>| match &limiter {
        Some(l) => r.route_layer(from_fn_with_state(l.clone(), ratelimit::limit)),
        None => r,
    };
    let tracked = |r: OpenApiRouter<AppState>| {
        r.route_layer(from_fn_with_state(metrics.clone(), metrics::track))
    };
    let auth = OpenApiRouter::new()
        .merge(rate_limited(auth::limited()))
        .merge(auth::open())
        .merge(mfa::root())
        .nest("/mfa", rate_limited(mfa::limited()).merge(mfa::open()));
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .nest("/api/v1/auth", tracked(auth))
        .nest("/api/v1", tracked(admin::router()))
        .merge(tracked(ops::router()))
        .split_for_parts()
}

/// The OpenAPI document of every route, generated from the handlers.
pub fn openapi() -> utoipa::openapi::OpenApi {
    // Middleware does not shape the document: no limiter needed.
    api(None, metrics::Metrics::new()).1
}

/// The whole application: routes, JSON fallbacks, and the shared
/// middleware (client IP, request ids, tracing without secrets, body
/// limit, timeout, panics turned into `500` JSON).
///
/// # Errors
/// A zero rate limit in the configuration.
pub fn router(state: AppState) -> Result<Router, crate::ratelimit::ZeroRateLimit> {
    // prunes its own per-client state as requests come
    let limiter = RateLimiter::new(
        state.config.rate_limit_per_minute,
        state.config.rate_limit_burst,
    )?;
    let (api, openapi) = api(Some(limiter), state.metrics.clone());
    let openapi_json = std::sync::Arc::new(openapi.to_json().unwrap_or_else(|_| "{}".to_owned()));
    let proxies = TrustedProxies::new(state.config.trusted_proxies.0.clone());
    let request_id = HeaderName::from_static("x-request-id");
    let app = api
        .route(
            "/api/openapi.json",
            axum::routing::get(move || {
                let json = openapi_json.clone();
                async move { ([(axum::http::header::CONTENT_TYPE, "application/json")], (*json).clone()) }
            }),
        )
        .fallback(|| async { ApiError::not_found() })
        .method_not_allowed_fallback(|| async {
            ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "method not allowed")
        })
        .layer(DefaultBodyLimit::max(state.config.max_body_bytes))
        .layer(from_fn_with_state(proxies, client_ip::resolve))
        .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, Duration::from_secs(30)))
        .layer(CatchPanicLayer::custom(|_| {
            ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal_error", "internal error").into_response()
        }))
        .layer(
            TraceLayer::new_for_http().make_span_with(|req: &Request| {
                // method, path and request id only: no headers, no query
                // strings (tokens travel in them), no bodies
                let id = req
                    .headers()
                    .get("x-request-id")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %id)
            })
            // one line per answered request: status and latency
            .on_response(DefaultOnResponse::new().level(tracing::Level::INFO))
            .on_request(()),
        )
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
        .with_state(state);
    Ok(app)
}
