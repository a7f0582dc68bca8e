//! Admin routes (admin key): users, their MFA and sessions, audit,
//! statistics, cleanup, and the development outbox.

use authn_core::flows::{AdminUserPatch, NewAdminUser};
use authn_core::store::{AuditStore, MaintenanceStore, SessionStore, UserStore};
use authn_core::{AuditQuery, UserId};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::types::*;
use super::{ApiJson, ApiPath, ApiQuery};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::session::AdminAuth;
use crate::state::AppState;

/// The admin routes, under `/api/v1`.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_users))
        .routes(routes!(create_user))
        .routes(routes!(get_user, patch_user, delete_user))
        .routes(routes!(reset_mfa))
        .routes(routes!(user_sessions, revoke_user_sessions))
        .routes(routes!(user_audit))
        .routes(routes!(audit_logs))
        .routes(routes!(stats))
        .routes(routes!(cleanup))
        .routes(routes!(dev_outbox))
}

fn user_id(raw: &str) -> ApiResult<UserId> {
    UserId::parse(raw).map_err(|_| ApiError::not_found())
}

/// The id of a user that exists in this namespace, else `404`.
async fn existing_user(
    auth: &authn_core::Authn<authn_store::AnyStore>,
    raw: &str,
) -> ApiResult<UserId> {
    let id = user_id(raw)?;
    match auth.store().get_user(id).await? {
        Some(_) => Ok(id),
        None => Err(ApiError::not_found()),
    }
}

/// List users (keyset pagination), or the one with `email`.
#[utoipa::path(get, path = "/users", tag = "admin", params(UsersQuery),
    responses((status = 200, body = UsersPage), (status = 401, body = ErrorBody)))]
async fn list_users(
    State(state): State<AppState>,
    admin: AdminAuth,
    ApiQuery(q): ApiQuery<UsersQuery>,
) -> ApiResult<Json<UsersPage>> {
    let auth = admin.auth(&state);
    if let Some(email) = q.email {
        let found = match authn_core::Email::parse(&email) {
            Ok(e) => auth.store().get_user_by_email(e.as_str()).await?,
            Err(_) => None,
        };
        let mut data = Vec::new();
        if let Some(u) = found {
            data.push(UserBody::admin(auth.profile(u.id).await?));
        }
        return Ok(Json(UsersPage {
            data,
            next_cursor: None,
        }));
    }
    let page = auth
        .store()
        .list_users(q.limit, q.cursor.as_deref())
        .await?;
    let mut data = Vec::with_capacity(page.items.len());
    for u in page.items {
        data.push(UserBody::admin(auth.profile(u.id).await?));
    }
    Ok(Json(UsersPage {
        data,
        next_cursor: page.next_cursor,
    }))
}

/// Create a user.
#[utoipa::path(post, path = "/admin/users", tag = "admin", request_body = AdminCreateUserRequest,
    responses((status = 201, body = UserBody), (status = 400, body = ErrorBody),
              (status = 409, body = ErrorBody)))]
async fn create_user(
    State(state): State<AppState>,
    admin: AdminAuth,
    ApiJson(req): ApiJson<AdminCreateUserRequest>,
) -> ApiResult<(StatusCode, Json<UserBody>)> {
    let profile = admin
        .auth(&state)
        .admin_create_user(&NewAdminUser {
            email: req.email,
            password: req.password,
            name: req.name,
            email_verified: req.email_verified,
        })
        .await?;
    Ok((StatusCode::CREATED, Json(UserBody::admin(profile))))
}

/// A user (with `disabled_at`).
#[utoipa::path(get, path = "/users/{id}", tag = "admin",
    params(("id" = Uuid, Path, description = "User id")),
    responses((status = 200, body = UserBody), (status = 404, body = ErrorBody)))]
async fn get_user(
    State(state): State<AppState>,
    admin: AdminAuth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<UserBody>> {
    let profile = admin.auth(&state).profile(user_id(&id)?).await?;
    Ok(Json(UserBody::admin(profile)))
}

/// Change a user: email, name (`null` clears), verification, disabled.
#[utoipa::path(patch, path = "/users/{id}", tag = "admin", request_body = AdminPatchUserRequest,
    params(("id" = Uuid, Path, description = "User id")),
    responses((status = 200, body = UserBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody)))]
async fn patch_user(
    State(state): State<AppState>,
    admin: AdminAuth,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<AdminPatchUserRequest>,
) -> ApiResult<Json<UserBody>> {
    let profile = admin
        .auth(&state)
        .admin_update_user(
            user_id(&id)?,
            &AdminUserPatch {
                email: req.email,
                name: req.name,
                email_verified: req.email_verified,
                disabled: req.disabled,
            },
        )
        .await?;
    Ok(Json(UserBody::admin(profile)))
}

/// Delete a user and their sessions, tokens and MFA.
#[utoipa::path(delete, path = "/users/{id}", tag = "admin",
    params(("id" = Uuid, Path, description = "User id")),
    responses((status = 204), (status = 404, body = ErrorBody)))]
async fn delete_user(
    State(state): State<AppState>,
    admin: AdminAuth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<StatusCode> {
    if admin
        .auth(&state)
        .store()
        .delete_user(user_id(&id)?)
        .await?
    {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found())
    }
}

/// Clear every second factor of a user so they can enroll again.
#[utoipa::path(delete, path = "/users/{id}/mfa", tag = "admin",
    params(("id" = Uuid, Path, description = "User id")),
    responses((status = 200, body = MfaDisabledBody), (status = 404, body = ErrorBody)))]
async fn reset_mfa(
    State(state): State<AppState>,
    admin: AdminAuth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<MfaDisabledBody>> {
    let id = user_id(&id)?;
    admin.auth(&state).admin_reset_mfa(id).await?;
    Ok(Json(MfaDisabledBody {
        mfa_enabled: false,
        user_id: Some(id.as_uuid()),
    }))
}

/// A user's active sessions.
#[utoipa::path(get, path = "/users/{id}/sessions", tag = "admin",
    params(("id" = Uuid, Path, description = "User id")),
    responses((status = 200, body = SessionList), (status = 404, body = ErrorBody)))]
async fn user_sessions(
    State(state): State<AppState>,
    admin: AdminAuth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<SessionList>> {
    let auth = admin.auth(&state);
    let id = existing_user(&auth, &id).await?;
    let list = auth.store().list_sessions(id).await?;
    Ok(Json(SessionList {
        data: list
            .into_iter()
            .map(|s| SessionItem::new(s, false))
            .collect(),
    }))
}

/// Revoke all of a user's sessions.
#[utoipa::path(delete, path = "/users/{id}/sessions", tag = "admin",
    params(("id" = Uuid, Path, description = "User id")),
    responses((status = 200, body = RevokedBody), (status = 404, body = ErrorBody)))]
async fn revoke_user_sessions(
    State(state): State<AppState>,
    admin: AdminAuth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<RevokedBody>> {
    let auth = admin.auth(&state);
    let id = existing_user(&auth, &id).await?;
    let revoked = auth.store().revoke_all_sessions(id).await?;
    Ok(Json(RevokedBody { revoked }))
}

/// Audit events about a user, newest first.
#[utoipa::path(get, path = "/users/{id}/audit-logs", tag = "admin", params(("id" = Uuid, Path, description = "User id"), LimitQuery),
    responses((status = 200, body = AuditPage)))]
async fn user_audit(
    State(state): State<AppState>,
    admin: AdminAuth,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<LimitQuery>,
) -> ApiResult<Json<AuditPage>> {
    let id = user_id(&id)?;
    let page = admin
        .auth(&state)
        .store()
        .get_audit_events(&AuditQuery {
            limit: q.limit,
            resource_type: Some("user".to_owned()),
            resource_id: Some(id.to_string()),
            ..AuditQuery::default()
        })
        .await?;
    Ok(Json(AuditPage {
        data: page.items.into_iter().map(AuditEventBody::from).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// Query the audit log.
#[utoipa::path(get, path = "/audit-logs", tag = "admin", params(AuditQueryParams),
    responses((status = 200, body = AuditPage), (status = 400, body = ErrorBody)))]
async fn audit_logs(
    State(state): State<AppState>,
    admin: AdminAuth,
    ApiQuery(q): ApiQuery<AuditQueryParams>,
) -> ApiResult<Json<AuditPage>> {
    let page = admin
        .auth(&state)
        .store()
        .get_audit_events(&AuditQuery {
            limit: q.limit,
            event_type: q.event_type,
            resource_type: q.resource_type,
            resource_id: q.resource_id,
            actor_id: q.actor_id,
            cursor: q.cursor,
        })
        .await?;
    Ok(Json(AuditPage {
        data: page.items.into_iter().map(AuditEventBody::from).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// Namespace statistics.
#[utoipa::path(get, path = "/admin/stats", tag = "admin",
    responses((status = 200, body = StatsBody)))]
async fn stats(State(state): State<AppState>, admin: AdminAuth) -> ApiResult<Json<StatsBody>> {
    let s = admin.auth(&state).store().get_stats().await?;
    Ok(Json(StatsBody {
        user_count: s.user_count,
        verified_user_count: s.verified_user_count,
        disabled_user_count: s.disabled_user_count,
        active_session_count: s.active_session_count,
        mfa_enabled_user_count: s.mfa_enabled_user_count,
    }))
}

/// Delete expired sessions, tokens and old attempts now.
#[utoipa::path(post, path = "/admin/cleanup", tag = "admin",
    responses((status = 200, body = CleanupBody)))]
async fn cleanup(State(state): State<AppState>, admin: AdminAuth) -> ApiResult<Json<CleanupBody>> {
    let r = admin.auth(&state).store().cleanup_expired().await?;
    Ok(Json(CleanupBody {
        sessions_deleted: r.sessions_deleted,
        tokens_deleted: r.tokens_deleted,
        attempts_deleted: r.attempts_deleted,
    }))
}

/// The development mailer's outbox (only in development mode; `404` otherwise).
#[utoipa::path(get, path = "/admin/dev/outbox", tag = "admin",
    responses((status = 200, body = OutboxBody), (status = 404, body = ErrorBody)))]
async fn dev_outbox(
    State(state): State<AppState>,
    _admin: AdminAuth,
) -> ApiResult<Json<OutboxBody>> {
    let outbox = state
        .mailer
        .dev_outbox()
        .filter(|_| state.config.dev_mode)
        .ok_or_else(ApiError::not_found)?;
    Ok(Json(OutboxBody {
        data: outbox
            .list()
            .into_iter()
            .map(|m| OutboxMail {
                id: m.id,
                to: m.to,
                subject: m.subject,
                text: m.text,
                sent_at: m.sent_at,
            })
            .collect(),
    }))
}
