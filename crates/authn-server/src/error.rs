//! One error type for every handler: each variant of the flows' error maps
//! to exactly one status and `error` slug, in the contract's wire format
//! `{"error": "<slug>", "message": "<human text>"}` (plus `max_age` for
//! step-up). Never a stack trace, a SQL string or a panic text.

use std::time::Duration;

use authn_core::AuthError;
use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

/// The body of every error answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// Machine-readable slug, e.g. `invalid_credentials`.
    pub error: &'static str,
    /// Human-readable text.
    pub message: String,
    /// For `step_up_required`: the freshness needed, in seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_age: Option<u64>,
}

/// An error answer: status, slug, message, and optional `Retry-After`.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    body: ErrorBody,
    retry_after: Option<Duration>,
}

impl ApiError {
    /// An error with a status, slug and message.
    pub fn new(status: StatusCode, error: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            body: ErrorBody {
                error,
                message: message.into(),
                max_age: None,
            },
            retry_after: None,
        }
    }

    fn retry_after(mut self, d: Duration) -> Self {
        self.retry_after = Some(d);
        self
    }

    /// `401 unauthorized`.
    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "authentication required",
        )
    }

    /// `404 not_found`.
    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", "not found")
    }

    /// `400 invalid_request` naming what is wrong.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", message)
    }

    /// The status of this error.
    pub fn status(&self) -> StatusCode {
        self.status
    }
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        use StatusCode as S;
        let msg = e.to_string();
        match e {
            AuthError::InvalidCredentials => Self::new(S::UNAUTHORIZED, "invalid_credentials", msg),
            AuthError::AccountLocked { retry_after } => {
                Self::new(S::TOO_MANY_REQUESTS, "account_locked", msg).retry_after(retry_after)
            }
            AuthError::ServerBusy => Self::new(S::SERVICE_UNAVAILABLE, "server_busy", msg)
                .retry_after(Duration::from_secs(1)),
            AuthError::InvalidEmail => Self::new(S::BAD_REQUEST, "invalid_email", msg),
            AuthError::WeakPassword(_) => Self::new(S::BAD_REQUEST, "weak_password", msg),
            AuthError::EmailTaken => Self::new(S::CONFLICT, "email_taken", msg),
            AuthError::InvalidToken => Self::new(S::BAD_REQUEST, "invalid_token", msg),
            AuthError::Unauthorized => Self::new(S::UNAUTHORIZED, "unauthorized", msg),
            AuthError::MfaRequired => Self::new(S::FORBIDDEN, "mfa_required", msg),
            AuthError::StepUpRequired { max_age } => {
                let mut err = Self::new(S::FORBIDDEN, "step_up_required", msg);
                err.body.max_age = Some(max_age.as_secs());
                err
            }
            AuthError::MfaAlreadyEnabled => Self::new(S::CONFLICT, "mfa_already_enabled", msg),
            AuthError::MfaNotEnrolled => Self::new(S::BAD_REQUEST, "mfa_not_enrolled", msg),
            AuthError::MfaAlreadyVerified => Self::new(S::CONFLICT, "mfa_already_verified", msg),
            AuthError::MfaNotEnabled => Self::new(S::BAD_REQUEST, "mfa_not_enabled", msg),
            AuthError::InvalidCode => Self::new(S::UNAUTHORIZED, "invalid_code", msg),
            AuthError::TooManyAttempts { retry_after } => {
                let err = Self::new(S::TOO_MANY_REQUESTS, "too_many_attempts", msg);
                match retry_after {
                    Some(d) => err.retry_after(d),
                    None => err,
                }
            }
            AuthError::NotFound => Self::not_found(),
            AuthError::InvalidInput(v) => Self::bad_request(v.to_string()),
            AuthError::Unavailable(source) => {
                tracing::warn!(error = %source, source = ?std::error::Error::source(&source), "storage unavailable");
                Self::new(S::SERVICE_UNAVAILABLE, "service_unavailable", msg)
                    .retry_after(Duration::from_secs(1))
            }
            AuthError::Internal(source) => {
                tracing::error!(error = %source, "internal error");
                Self::new(S::INTERNAL_SERVER_ERROR, "internal_error", msg)
            }
            other => {
                tracing::error!(error = %other, "unmapped error");
                Self::new(S::INTERNAL_SERVER_ERROR, "internal_error", "internal error")
            }
        }
    }
}

impl From<authn_core::StoreError> for ApiError {
    fn from(e: authn_core::StoreError) -> Self {
        AuthError::from(e).into()
    }
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        use StatusCode as S;
        match r {
            JsonRejection::MissingJsonContentType(_) => Self::new(
                S::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "expected a JSON body (Content-Type: application/json)",
            ),
            JsonRejection::BytesRejection(b) if b.status() == S::PAYLOAD_TOO_LARGE => Self::new(
                S::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "request body too large",
            ),
            JsonRejection::JsonSyntaxError(_) => {
                Self::new(S::BAD_REQUEST, "invalid_json", "the body is not valid JSON")
            }
            // serde's text can quote the offending value (maybe a password):
            // keep the answer generic.
            JsonRejection::JsonDataError(_) => Self::new(
                S::UNPROCESSABLE_ENTITY,
                "invalid_request",
                "a field is missing or has the wrong type",
            ),
            other => Self::new(
                other.status(),
                "invalid_request",
                "the request body could not be read",
            ),
        }
    }
}

impl From<QueryRejection> for ApiError {
    fn from(_: QueryRejection) -> Self {
        Self::bad_request("invalid query parameters")
    }
}

impl From<PathRejection> for ApiError {
    fn from(_: PathRejection) -> Self {
        Self::not_found()
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut res = (self.status, Json(self.body)).into_response();
        if let Some(d) = self.retry_after {
            // Retry-After is in whole seconds; never 0 while still limited.
            let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
            if let Ok(v) = HeaderValue::from_str(&secs.max(1).to_string()) {
                res.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        res
    }
}

/// Result of a handler.
pub type ApiResult<T> = Result<T, ApiError>;
