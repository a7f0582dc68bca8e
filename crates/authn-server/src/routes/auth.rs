//! User routes under `/api/v1/auth`: signup, login, logout, the current
//! user and session, the caller's sessions, email verification, password
//! reset and change, magic links, introspection.

use authn_core::SessionId;
use authn_core::flows::{IssuedSession, LoginOutcome, UserProfile};
use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::types::*;
use super::{ApiJson, ApiPath, ApiQuery};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::metrics::LoginOutcome as LoginMetric;
use crate::session::{
    AdminAuth, AnySession, FullSession, RequestMeta, clear_cookie, session_cookie,
};
use crate::state::AppState;

/// Routes that take credentials or send mail: rate limited per client IP.
pub fn limited() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(signup))
        .routes(routes!(login))
        .routes(routes!(send_verification))
        .routes(routes!(verify_email_get, verify_email_post))
        .routes(routes!(send_reset_link))
        .routes(routes!(reset_password))
        .routes(routes!(change_password))
        .routes(routes!(send_magic_link))
        .routes(routes!(verify_magic_link))
}

/// The other user routes.
pub fn open() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(logout))
        .routes(routes!(me, delete_me))
        .routes(routes!(current_session))
        .routes(routes!(list_sessions, revoke_other_sessions))
        .routes(routes!(revoke_session))
        .routes(routes!(introspect))
}

/// A user and a new session: the token in the body and as the cookie.
pub(crate) fn with_session(
    state: &AppState,
    status: StatusCode,
    user: UserProfile,
    s: IssuedSession,
) -> Response {
    let cookie = session_cookie(state, &s.token);
    let body = UserWithToken {
        user: UserBody::public(user),
        token: s.token,
    };
    (status, [(header::SET_COOKIE, cookie)], Json(body)).into_response()
}

fn login_answer(state: &AppState, outcome: LoginOutcome) -> Response {
    match outcome {
        LoginOutcome::Complete { user, session } => {
            state.metrics.record_login(LoginMetric::Success);
            with_session(state, StatusCode::OK, user, session)
        }
        LoginOutcome::MfaRequired { session, methods } => {
            state.metrics.record_login(LoginMetric::MfaRequired);
            let cookie = session_cookie(state, &session.token);
            let body = MfaRequiredBody {
                mfa_required: true,
                token: session.token,
                mfa_methods: methods,
            };
            (StatusCode::OK, [(header::SET_COOKIE, cookie)], Json(body)).into_response()
        }
    }
}

/// Create an account with a password; opens a session.
#[utoipa::path(post, path = "/signup", tag = "auth", request_body = SignupRequest,
    responses((status = 201, body = UserWithToken), (status = 400, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 503, body = ErrorBody)))]
async fn signup(
    State(state): State<AppState>,
    meta: RequestMeta,
    ApiJson(req): ApiJson<SignupRequest>,
) -> ApiResult<Response> {
    let (user, session) = meta
        .anonymous(&state)
        .signup(&req.email, &req.password, req.name.as_deref(), &meta.client)
        .await?;
    Ok(with_session(&state, StatusCode::CREATED, user, session))
}

/// Log in with email and password. Users with a second factor get
/// `{"mfaRequired": true}` and a partial session.
#[utoipa::path(post, path = "/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = UserWithToken), (status = 401, body = ErrorBody),
              (status = 429, body = ErrorBody), (status = 503, body = ErrorBody)))]
async fn login(
    State(state): State<AppState>,
    meta: RequestMeta,
    ApiJson(req): ApiJson<LoginRequest>,
) -> ApiResult<Response> {
    match meta
        .anonymous(&state)
        .login(&req.email, &req.password, &meta.client)
        .await
    {
        Ok(outcome) => Ok(login_answer(&state, outcome)),
        Err(e) => {
            match &e {
                authn_core::AuthError::AccountLocked { .. } => {
                    state.metrics.record_login(LoginMetric::Locked);
                    state.metrics.record_lockout();
                }
                authn_core::AuthError::InvalidCredentials => {
                    state.metrics.record_login(LoginMetric::Failure);
                }
                _ => {}
            }
            Err(e.into())
        }
    }
}

/// Log out: the session is revoked and the cookie cleared.
#[utoipa::path(post, path = "/logout", tag = "auth",
    responses((status = 200, description = "`{}`"), (status = 401, body = ErrorBody)))]
async fn logout(State(state): State<AppState>, s: AnySession) -> ApiResult<Response> {
    s.auth(&state).logout(&s.ctx).await?;
    Ok((
        StatusCode::OK,
        [(header::SET_COOKIE, clear_cookie(&state))],
        Json(serde_json::json!({})),
    )
        .into_response())
}

/// The current user.
#[utoipa::path(get, path = "/me", tag = "auth",
    responses((status = 200, body = UserBody), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody)))]
async fn me(
    State(state): State<AppState>,
    FullSession(s): FullSession,
) -> ApiResult<Json<UserBody>> {
    let profile = s.auth(&state).profile(s.ctx.user_id()).await?;
    Ok(Json(UserBody::public(profile)))
}

/// Delete the account (needs a recent authentication).
#[utoipa::path(delete, path = "/me", tag = "auth",
    responses((status = 200, body = MessageBody), (status = 403, body = ErrorBody)))]
async fn delete_me(
    State(state): State<AppState>,
    FullSession(s): FullSession,
) -> ApiResult<Response> {
    s.auth(&state).delete_account(&s.ctx).await?;
    Ok((
        StatusCode::OK,
        [(header::SET_COOKIE, clear_cookie(&state))],
        Json(MessageBody::new("account deleted")),
    )
        .into_response())
}

/// The current session and its authentication context (partial sessions too).
#[utoipa::path(get, path = "/session", tag = "auth",
    responses((status = 200, body = SessionBody), (status = 401, body = ErrorBody)))]
async fn current_session(s: AnySession) -> Json<SessionBody> {
    Json(SessionBody::from(&s.ctx.session))
}

/// The caller's active sessions.
#[utoipa::path(get, path = "/sessions", tag = "auth",
    responses((status = 200, body = SessionList), (status = 401, body = ErrorBody)))]
async fn list_sessions(
    State(state): State<AppState>,
    FullSession(s): FullSession,
) -> ApiResult<Json<SessionList>> {
    let list = s.auth(&state).sessions(&s.ctx).await?;
    Ok(Json(SessionList {
        data: list
            .into_iter()
            .map(|(s, current)| SessionItem::new(s, current))
            .collect(),
    }))
}

/// Revoke one of the caller's sessions.
#[utoipa::path(delete, path = "/sessions/{id}", tag = "auth",
    params(("id" = Uuid, Path, description = "Session id")),
    responses((status = 204), (status = 404, body = ErrorBody)))]
async fn revoke_session(
    State(state): State<AppState>,
    FullSession(s): FullSession,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<StatusCode> {
    let id = SessionId::parse(&id).map_err(|_| ApiError::not_found())?;
    s.auth(&state).revoke_own_session(&s.ctx, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Revoke all of the caller's other sessions.
#[utoipa::path(delete, path = "/sessions", tag = "auth",
    responses((status = 200, body = RevokedBody), (status = 401, body = ErrorBody)))]
async fn revoke_other_sessions(
    State(state): State<AppState>,
    FullSession(s): FullSession,
) -> ApiResult<Json<RevokedBody>> {
    let revoked = s.auth(&state).revoke_other_sessions(&s.ctx).await?;
    Ok(Json(RevokedBody { revoked }))
}

/// Send a verification link to the caller's address.
#[utoipa::path(post, path = "/email/verify/send", tag = "auth",
    responses((status = 200, body = MessageBody), (status = 401, body = ErrorBody)))]
async fn send_verification(
    State(state): State<AppState>,
    FullSession(s): FullSession,
) -> ApiResult<Json<MessageBody>> {
    if let Some(mail) = s.auth(&state).send_verification_email(&s.ctx).await? {
        state.send_mail_later(mail);
        return Ok(Json(MessageBody::new("verification email sent")));
    }
    Ok(Json(MessageBody::new("email already verified")))
}

/// Verify an address with the emailed token (link form).
#[utoipa::path(get, path = "/email/verify", tag = "auth", params(TokenRequest),
    responses((status = 200, body = MessageBody), (status = 400, body = ErrorBody)))]
async fn verify_email_get(
    State(state): State<AppState>,
    meta: RequestMeta,
    ApiQuery(q): ApiQuery<TokenRequest>,
) -> ApiResult<Json<MessageBody>> {
    meta.anonymous(&state).verify_email(&q.token).await?;
    Ok(Json(MessageBody::new("email verified")))
}

/// Verify an address with the emailed token.
#[utoipa::path(post, path = "/email/verify", tag = "auth", request_body = TokenRequest,
    responses((status = 200, body = MessageBody), (status = 400, body = ErrorBody)))]
async fn verify_email_post(
    State(state): State<AppState>,
    meta: RequestMeta,
    ApiJson(req): ApiJson<TokenRequest>,
) -> ApiResult<Json<MessageBody>> {
    meta.anonymous(&state).verify_email(&req.token).await?;
    Ok(Json(MessageBody::new("email verified")))
}

const RESET_SENT: &str = "if the address has an account, a reset link was sent";
const MAGIC_SENT: &str = "if the address has an account, a sign-in link was sent";

/// Send a password-reset link. Always the same answer, whether or not the
/// address has an account.
#[utoipa::path(post, path = "/password/send-reset-link", tag = "auth", request_body = EmailRequest,
    responses((status = 200, body = MessageBody)))]
async fn send_reset_link(
    State(state): State<AppState>,
    meta: RequestMeta,
    ApiJson(req): ApiJson<EmailRequest>,
) -> ApiResult<Json<MessageBody>> {
    if let Some(mail) = meta
        .anonymous(&state)
        .request_password_reset(&req.email)
        .await?
    {
        state.send_mail_later(mail);
    }
    Ok(Json(MessageBody::new(RESET_SENT)))
}

/// Set a new password with a reset token; every session of the user is revoked.
#[utoipa::path(post, path = "/password/reset", tag = "auth", request_body = ResetRequest,
    responses((status = 200, body = MessageBody), (status = 400, body = ErrorBody)))]
async fn reset_password(
    State(state): State<AppState>,
    meta: RequestMeta,
    ApiJson(req): ApiJson<ResetRequest>,
) -> ApiResult<Json<MessageBody>> {
    meta.anonymous(&state)
        .reset_password(&req.token, &req.password)
        .await?;
    Ok(Json(MessageBody::new("password changed")))
}

/// Change the password (needs the current one and a recent
/// authentication); other sessions are revoked.
#[utoipa::path(post, path = "/password/change", tag = "auth", request_body = ChangePasswordRequest,
    responses((status = 200, body = MessageBody), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody)))]
async fn change_password(
    State(state): State<AppState>,
    FullSession(s): FullSession,
    ApiJson(req): ApiJson<ChangePasswordRequest>,
) -> ApiResult<Json<MessageBody>> {
    s.auth(&state)
        .change_password(
            &s.ctx,
            &req.current_password,
            &req.new_password,
            &s.meta.client,
        )
        .await?;
    Ok(Json(MessageBody::new("password changed")))
}

/// Send a sign-in link. Always the same answer.
#[utoipa::path(post, path = "/magic-link/send", tag = "auth", request_body = EmailRequest,
    responses((status = 200, body = MessageBody)))]
async fn send_magic_link(
    State(state): State<AppState>,
    meta: RequestMeta,
    ApiJson(req): ApiJson<EmailRequest>,
) -> ApiResult<Json<MessageBody>> {
    if let Some(mail) = meta
        .anonymous(&state)
        .request_magic_link(&req.email)
        .await?
    {
        state.send_mail_later(mail);
    }
    Ok(Json(MessageBody::new(MAGIC_SENT)))
}

/// Sign in with an emailed link: the user and a session, the
/// `mfaRequired` answer for users with a second factor, or a `302` to an
/// allow-listed `redirect_uri` with the session cookie set.
#[utoipa::path(get, path = "/magic-link/verify", tag = "auth", params(MagicLinkQuery),
    responses((status = 200, body = UserWithToken), (status = 302), (status = 400, body = ErrorBody)))]
async fn verify_magic_link(
    State(state): State<AppState>,
    meta: RequestMeta,
    ApiQuery(q): ApiQuery<MagicLinkQuery>,
) -> ApiResult<Response> {
    // Refuse a bad redirect before spending the token.
    if let Some(uri) = &q.redirect_uri
        && !state.config.redirect_allowed(uri)
    {
        return Err(ApiError::bad_request("redirect_uri is not allowed"));
    }
    let outcome = meta
        .anonymous(&state)
        .verify_magic_link(&q.token, &meta.client)
        .await?;
    match (q.redirect_uri, outcome) {
        (
            Some(uri),
            LoginOutcome::Complete { session, .. } | LoginOutcome::MfaRequired { session, .. },
        ) => {
            let cookie = session_cookie(&state, &session.token);
            Ok((
                StatusCode::FOUND,
                [
                    (header::SET_COOKIE, cookie),
                    (
                        header::LOCATION,
                        axum::http::HeaderValue::from_str(&uri)
                            .map_err(|_| ApiError::bad_request("redirect_uri is not allowed"))?,
                    ),
                ],
            )
                .into_response())
        }
        (None, outcome) => Ok(login_answer(&state, outcome)),
    }
}

/// What a session token is worth, for other services (admin key required).
#[utoipa::path(post, path = "/introspect", tag = "admin", request_body = IntrospectRequest,
    responses((status = 200, body = IntrospectBody), (status = 401, body = ErrorBody)))]
async fn introspect(
    State(state): State<AppState>,
    admin: AdminAuth,
    ApiJson(req): ApiJson<IntrospectRequest>,
) -> ApiResult<Json<IntrospectBody>> {
    let max = req.max_mfa_age.map(std::time::Duration::from_secs);
    let i = admin.auth(&state).introspect(&req.token, max).await?;
    Ok(Json(IntrospectBody::new(i.active, i.session)))
}
