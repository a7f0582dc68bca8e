//! The authn HTTP server: a thin adapter over the flows of `authn-core`
//! (routes in [`routes`], one module per area; errors mapped in [`error`];
//! who is calling in [`session`]), with its infrastructure: configuration,
//! the server key file, outgoing mail, Prometheus metrics, client-IP
//! resolution, per-IP rate limits, graceful shutdown and logging; and the
//! `authn` command line ([`cli`]).
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod app;
pub mod cli;
pub mod client_ip;
pub mod config;
pub mod error;
pub mod keys;
pub mod mail;
pub mod metrics;
pub mod ratelimit;
pub mod routes;
pub mod session;
pub mod shutdown;
pub mod state;
pub mod telemetry;

#[cfg(test)]
mod test_support;

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse as _, Response};

/// An error answer in the wire format of the HTTP contract:
/// `{"error": "<slug>", "message": "<human text>"}`.
pub(crate) fn error_response(status: StatusCode, error: &str, message: &str) -> Response {
    (
        status,
        Json(serde_json::json!({ "error": error, "message": message })),
    )
        .into_response()
}
