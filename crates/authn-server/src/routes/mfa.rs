//! MFA routes under `/api/v1/auth/mfa`: enroll, verify, challenge,
//! recovery, disable, recovery-code regeneration, status.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::ApiJson;
use super::auth::with_session;
use super::types::*;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::session::{AnySession, FullSession};
use crate::state::AppState;

/// Routes that check codes: rate limited per client IP.
pub fn limited() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(verify))
        .routes(routes!(challenge))
        .routes(routes!(recovery))
}

/// The other MFA routes under `/api/v1/auth/mfa`.
pub fn open() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(enroll))
        .routes(routes!(regenerate_get, regenerate_post))
}

/// `GET`/`DELETE` of `/api/v1/auth/mfa` itself, with and without the
/// trailing slash (the published SDK uses the slash); merged at the
/// `/api/v1/auth` level, since a nested route cannot be empty.
pub fn root() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(status, disable))
        .routes(routes!(status_slash, disable_slash))
}

/// Start TOTP enrollment: a new secret and its `otpauth://` URI.
#[utoipa::path(post, path = "/enroll", tag = "mfa",
    responses((status = 200, body = EnrollBody), (status = 409, body = ErrorBody)))]
async fn enroll(
    State(state): State<AppState>,
    FullSession(s): FullSession,
) -> ApiResult<Json<EnrollBody>> {
    let e = s.auth(&state).mfa_enroll(&s.ctx).await?;
    Ok(Json(EnrollBody {
        secret: e.secret,
        qr_uri: e.otpauth_url.clone(),
        otpauth_url: e.otpauth_url,
    }))
}

/// Confirm enrollment with a first code; returns the recovery codes once.
#[utoipa::path(post, path = "/verify", tag = "mfa", request_body = CodeRequest,
    responses((status = 200, body = VerifiedBody), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn verify(
    State(state): State<AppState>,
    FullSession(s): FullSession,
    ApiJson(req): ApiJson<CodeRequest>,
) -> ApiResult<Json<VerifiedBody>> {
    let result = s
        .auth(&state)
        .mfa_verify(&s.ctx, &req.code, &s.meta.client)
        .await;
    if matches!(result, Err(authn_core::AuthError::InvalidCode)) {
        state.metrics.record_mfa_failure();
    }
    Ok(Json(VerifiedBody {
        mfa_enabled: true,
        recovery_codes: result?,
    }))
}

/// Answer the second-factor challenge with a TOTP code: the session is
/// replaced by a new full one (or, already full, stepped up).
#[utoipa::path(post, path = "/challenge", tag = "mfa", request_body = CodeRequest,
    responses((status = 200, body = UserWithToken), (status = 401, body = ErrorBody),
              (status = 429, body = ErrorBody)))]
async fn challenge(
    State(state): State<AppState>,
    s: AnySession,
    ApiJson(req): ApiJson<CodeRequest>,
) -> ApiResult<Response> {
    let result = s
        .auth(&state)
        .mfa_challenge(&s.ctx, &req.code, &s.meta.client)
        .await;
    finish_challenge(&state, result)
}

/// Answer the challenge with a recovery code (spent by this use).
#[utoipa::path(post, path = "/recovery", tag = "mfa", request_body = CodeRequest,
    responses((status = 200, body = UserWithToken), (status = 401, body = ErrorBody),
              (status = 429, body = ErrorBody)))]
async fn recovery(
    State(state): State<AppState>,
    s: AnySession,
    ApiJson(req): ApiJson<CodeRequest>,
) -> ApiResult<Response> {
    let result = s
        .auth(&state)
        .mfa_recovery(&s.ctx, &req.code, &s.meta.client)
        .await;
    finish_challenge(&state, result)
}

fn finish_challenge(
    state: &AppState,
    result: authn_core::flows::AuthResult<(
        authn_core::flows::UserProfile,
        authn_core::flows::IssuedSession,
    )>,
) -> ApiResult<Response> {
    match result {
        Ok((user, session)) => Ok(with_session(state, StatusCode::OK, user, session)),
        Err(e) => {
            if matches!(
                e,
                authn_core::AuthError::InvalidCode | authn_core::AuthError::TooManyAttempts { .. }
            ) {
                state.metrics.record_mfa_failure();
            }
            Err(e.into())
        }
    }
}

/// The body of `DELETE /mfa`: `{code}` or nothing.
fn optional_code(body: &Bytes) -> ApiResult<OptionalCodeRequest> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(OptionalCodeRequest::default());
    }
    serde_json::from_slice(body).map_err(|_| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_json",
            "the body is not valid JSON",
        )
    })
}

async fn disable_inner(
    state: AppState,
    s: AnySession,
    body: Bytes,
) -> ApiResult<Json<MfaDisabledBody>> {
    let req = optional_code(&body)?;
    s.auth(&state)
        .mfa_disable(&s.ctx, req.code.as_deref(), &s.meta.client)
        .await?;
    Ok(Json(MfaDisabledBody {
        mfa_enabled: false,
        user_id: None,
    }))
}

/// Disable MFA with `{code}` (current TOTP or a recovery code), or without
/// a code after a recent second factor.
#[utoipa::path(delete, path = "/mfa", tag = "mfa", request_body = OptionalCodeRequest,
    responses((status = 200, body = MfaDisabledBody), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn disable(
    State(state): State<AppState>,
    FullSession(s): FullSession,
    body: Bytes,
) -> ApiResult<Json<MfaDisabledBody>> {
    disable_inner(state, s, body).await
}

/// Same as `DELETE /api/v1/auth/mfa`.
#[utoipa::path(delete, path = "/mfa/", tag = "mfa", request_body = OptionalCodeRequest,
    responses((status = 200, body = MfaDisabledBody), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn disable_slash(
    State(state): State<AppState>,
    FullSession(s): FullSession,
    body: Bytes,
) -> ApiResult<Json<MfaDisabledBody>> {
    disable_inner(state, s, body).await
}

/// MFA state of the caller.
#[utoipa::path(get, path = "/mfa", tag = "mfa",
    responses((status = 200, body = MfaStatusBody), (status = 401, body = ErrorBody)))]
async fn status(
    State(state): State<AppState>,
    FullSession(s): FullSession,
) -> ApiResult<Json<MfaStatusBody>> {
    Ok(Json(s.auth(&state).mfa_status(&s.ctx).await?.into()))
}

/// Same as `GET /api/v1/auth/mfa`.
#[utoipa::path(get, path = "/mfa/", tag = "mfa",
    responses((status = 200, body = MfaStatusBody), (status = 401, body = ErrorBody)))]
async fn status_slash(
    State(state): State<AppState>,
    FullSession(s): FullSession,
) -> ApiResult<Json<MfaStatusBody>> {
    Ok(Json(s.auth(&state).mfa_status(&s.ctx).await?.into()))
}

async fn regenerate(state: AppState, s: FullSession) -> ApiResult<Json<RecoveryCodesBody>> {
    let FullSession(s) = s;
    let codes = s.auth(&state).regenerate_recovery_codes(&s.ctx).await?;
    Ok(Json(RecoveryCodesBody {
        recovery_codes: codes,
    }))
}

/// New recovery codes (needs a recent second factor); the old set stops working.
#[utoipa::path(get, path = "/recovery-codes", tag = "mfa",
    responses((status = 200, body = RecoveryCodesBody), (status = 400, body = ErrorBody),
              (status = 403, body = ErrorBody)))]
async fn regenerate_get(
    State(state): State<AppState>,
    s: FullSession,
) -> ApiResult<Json<RecoveryCodesBody>> {
    regenerate(state, s).await
}

/// Same as `GET /recovery-codes`.
#[utoipa::path(post, path = "/recovery-codes", tag = "mfa",
    responses((status = 200, body = RecoveryCodesBody), (status = 400, body = ErrorBody),
              (status = 403, body = ErrorBody)))]
async fn regenerate_post(
    State(state): State<AppState>,
    s: FullSession,
) -> ApiResult<Json<RecoveryCodesBody>> {
    regenerate(state, s).await
}
