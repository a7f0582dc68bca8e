//! Request and response bodies of the HTTP API (the OpenAPI schemas come
//! from these). Domain types from `authn-core` are mapped here, so the
//! wire format is decided in one place.

use authn_core::flows::{IntrospectedSession, MfaStatus, UserProfile};
use authn_core::{AuditEvent, Session, ValidSession};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// A user.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserBody {
    /// User id (UUID).
    pub id: Uuid,
    /// Normalised email.
    pub email: String,
    /// Whether the email is verified.
    pub email_verified: bool,
    /// Display name.
    pub name: Option<String>,
    /// Whether a second factor is enabled.
    pub mfa_enabled: bool,
    /// Creation time (RFC 3339).
    pub created_at: DateTime<Utc>,
    /// Last change (RFC 3339).
    pub updated_at: DateTime<Utc>,
    /// When disabled (admin views only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disabled_at: Option<DateTime<Utc>>,
}

impl UserBody {
    /// The user as clients see it (without `disabled_at`).
    pub fn public(p: UserProfile) -> Self {
        let mut b = Self::admin(p);
        b.disabled_at = None;
        b
    }

    /// The user as admins see it.
    pub fn admin(p: UserProfile) -> Self {
        Self {
            id: p.user.id.as_uuid(),
            email: p.user.email.as_str().to_owned(),
            email_verified: p.user.email_verified_at.is_some(),
            name: p.user.name,
            mfa_enabled: p.mfa_enabled,
            created_at: p.user.created_at,
            updated_at: p.user.updated_at,
            disabled_at: p.user.disabled_at,
        }
    }
}

/// A user and the session token just issued.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserWithToken {
    /// The user.
    #[serde(flatten)]
    pub user: UserBody,
    /// The session token (also set as the session cookie).
    pub token: String,
}

/// The answer to a first factor when a second is owed (the session is partial).
#[derive(Debug, Serialize, ToSchema)]
pub struct MfaRequiredBody {
    /// Always `true`.
    #[serde(rename = "mfaRequired")]
    pub mfa_required: bool,
    /// The partial session token (also set as the cookie).
    pub token: String,
    /// Second factors the user can answer with.
    pub mfa_methods: Vec<String>,
}

/// A plain confirmation.
#[derive(Debug, Serialize, ToSchema)]
pub struct MessageBody {
    /// What happened.
    pub message: String,
}

impl MessageBody {
    /// A message.
    pub fn new(m: &str) -> Self {
        Self {
            message: m.to_owned(),
        }
    }
}

/// The current session (`GET /auth/session`).
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionBody {
    /// Session id.
    pub id: Uuid,
    /// Its user.
    pub user_id: Uuid,
    /// Authentication methods (RFC 8176).
    pub amr: Vec<String>,
    /// Authentication context class.
    pub acr: Option<String>,
    /// First-factor time.
    pub auth_time: DateTime<Utc>,
    /// Last second-factor time.
    pub mfa_at: Option<DateTime<Utc>>,
    /// Expiry.
    pub expires_at: DateTime<Utc>,
    /// Whether a second factor is still owed.
    pub partial: bool,
}

impl From<&ValidSession> for SessionBody {
    fn from(s: &ValidSession) -> Self {
        Self {
            id: s.session_id.as_uuid(),
            user_id: s.user_id.as_uuid(),
            amr: s.amr.clone(),
            acr: s.acr.clone(),
            auth_time: s.auth_time,
            mfa_at: s.mfa_at,
            expires_at: s.expires_at,
            partial: s.partial,
        }
    }
}

/// One session in a listing.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionItem {
    /// Session id.
    pub id: Uuid,
    /// Client address it was created from.
    pub ip_address: Option<String>,
    /// Client user agent.
    pub user_agent: Option<String>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Expiry.
    pub expires_at: DateTime<Utc>,
    /// Authentication methods.
    pub amr: Vec<String>,
    /// Whether this is the session making the request.
    pub current: bool,
}

impl SessionItem {
    /// A listed session.
    pub fn new(s: Session, current: bool) -> Self {
        Self {
            id: s.id.as_uuid(),
            ip_address: s.ip_address.map(|i| i.to_string()),
            user_agent: s.user_agent,
            created_at: s.created_at,
            expires_at: s.expires_at,
            amr: s.amr,
            current,
        }
    }
}

/// A list of sessions.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionList {
    /// The sessions, newest first.
    pub data: Vec<SessionItem>,
}

/// How many were revoked.
#[derive(Debug, Serialize, ToSchema)]
pub struct RevokedBody {
    /// Count.
    pub revoked: u64,
}

/// `{email, password, name?}`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct SignupRequest {
    /// Email.
    pub email: String,
    /// Password.
    pub password: String,
    /// Display name.
    pub name: Option<String>,
}

/// `{email, password}`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct LoginRequest {
    /// Email.
    pub email: String,
    /// Password.
    pub password: String,
}

/// `{email}`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct EmailRequest {
    /// Email.
    pub email: String,
}

/// `{token}`.
#[derive(Debug, Deserialize, ToSchema, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TokenRequest {
    /// The one-time token from the email.
    pub token: String,
}

/// `?token=&redirect_uri=`.
#[derive(Debug, Deserialize, ToSchema, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MagicLinkQuery {
    /// The one-time token from the email.
    pub token: String,
    /// Where to send the browser after signing in (must be allow-listed).
    pub redirect_uri: Option<String>,
}

/// `{token, password}`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ResetRequest {
    /// The reset token.
    pub token: String,
    /// The new password.
    pub password: String,
}

/// `{current_password, new_password}`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ChangePasswordRequest {
    /// The current password.
    pub current_password: String,
    /// The new password.
    pub new_password: String,
}

/// `{code}`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CodeRequest {
    /// A TOTP code or, where accepted, a recovery code.
    pub code: String,
}

/// `{code?}` (disable MFA).
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct OptionalCodeRequest {
    /// A current TOTP or recovery code; without one a recent second factor is needed.
    pub code: Option<String>,
}

/// A started enrollment.
#[derive(Debug, Serialize, ToSchema)]
pub struct EnrollBody {
    /// Base32 secret.
    pub secret: String,
    /// `otpauth://` URI (for a QR code).
    pub qr_uri: String,
    /// The same URI.
    pub otpauth_url: String,
}

/// MFA enabled, with recovery codes (shown once).
#[derive(Debug, Serialize, ToSchema)]
pub struct VerifiedBody {
    /// `true`.
    pub mfa_enabled: bool,
    /// The recovery codes.
    pub recovery_codes: Vec<String>,
}

/// New recovery codes.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecoveryCodesBody {
    /// The codes (the old set no longer works).
    pub recovery_codes: Vec<String>,
}

/// MFA state.
#[derive(Debug, Serialize, ToSchema)]
pub struct MfaStatusBody {
    /// Whether enabled.
    pub mfa_enabled: bool,
    /// Methods.
    pub methods: Vec<String>,
    /// Recovery codes left.
    pub recovery_codes_remaining: usize,
}

impl From<MfaStatus> for MfaStatusBody {
    fn from(s: MfaStatus) -> Self {
        Self {
            mfa_enabled: s.mfa_enabled,
            methods: s.methods,
            recovery_codes_remaining: s.recovery_codes_remaining,
        }
    }
}

/// MFA off.
#[derive(Debug, Serialize, ToSchema)]
pub struct MfaDisabledBody {
    /// `false`.
    pub mfa_enabled: bool,
    /// The user (admin reset only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<Uuid>,
}

/// `{token, max_mfa_age?}`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct IntrospectRequest {
    /// A session token.
    pub token: String,
    /// Require a second factor within this many seconds.
    pub max_mfa_age: Option<u64>,
}

/// What a session token is worth.
#[derive(Debug, Serialize, ToSchema)]
pub struct IntrospectBody {
    /// Whether the token is a valid full session (fresh enough, if asked).
    pub active: bool,
    /// Its user.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<Uuid>,
    /// The session.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_id: Option<Uuid>,
    /// The user's email.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Authentication methods.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amr: Option<Vec<String>>,
    /// Authentication context class.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acr: Option<String>,
    /// First-factor time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<DateTime<Utc>>,
    /// Last second-factor time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mfa_at: Option<DateTime<Utc>>,
    /// Expiry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
}

impl IntrospectBody {
    /// From the flow's answer.
    pub fn new(active: bool, s: Option<IntrospectedSession>) -> Self {
        let mut b = Self {
            active,
            user_id: None,
            session_id: None,
            email: None,
            amr: None,
            acr: None,
            auth_time: None,
            mfa_at: None,
            expires_at: None,
        };
        if let Some(s) = s {
            b.user_id = Some(s.user_id.as_uuid());
            b.session_id = Some(s.session_id.as_uuid());
            b.email = Some(s.email);
            b.amr = Some(s.amr);
            b.acr = s.acr;
            b.auth_time = Some(s.auth_time);
            b.mfa_at = s.mfa_at;
            b.expires_at = Some(s.expires_at);
        }
        b
    }
}

/// `?email=&limit=&cursor=`.
#[derive(Debug, Deserialize, ToSchema, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UsersQuery {
    /// Only the user with this email.
    pub email: Option<String>,
    /// Page size (default 100, at most 1000).
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// A page of users.
#[derive(Debug, Serialize, ToSchema)]
pub struct UsersPage {
    /// Users in creation order.
    pub data: Vec<UserBody>,
    /// Cursor of the next page.
    pub next_cursor: Option<String>,
}

/// `{email, password?, name?, email_verified?}`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct AdminCreateUserRequest {
    /// Email.
    pub email: String,
    /// Initial password.
    pub password: Option<String>,
    /// Display name.
    pub name: Option<String>,
    /// Pre-verify the email.
    #[serde(default)]
    pub email_verified: bool,
}

/// `{email?, name?, email_verified?, disabled?}`; `"name": null` clears the name.
#[derive(Debug, Deserialize, ToSchema)]
pub struct AdminPatchUserRequest {
    /// New email.
    pub email: Option<String>,
    /// New name (`null` clears it).
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub name: Option<Option<String>>,
    /// Verified flag.
    pub email_verified: Option<bool>,
    /// Disable or enable.
    pub disabled: Option<bool>,
}

/// Tells an absent field (`None`) from an explicit `null` (`Some(None)`).
fn double_option<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// `?limit=&cursor=&event_type=&resource_type=&resource_id=&actor_id=`.
#[derive(Debug, Deserialize, ToSchema, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQueryParams {
    /// Page size (default 100, at most 1000).
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Filter by event type.
    pub event_type: Option<String>,
    /// Filter by resource type.
    pub resource_type: Option<String>,
    /// Filter by resource id.
    pub resource_id: Option<String>,
    /// Filter by actor.
    pub actor_id: Option<String>,
}

/// An audit event.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEventBody {
    /// Event id.
    pub id: Uuid,
    /// Event type.
    pub event_type: String,
    /// When.
    pub occurred_at: DateTime<Utc>,
    /// Who.
    pub actor_id: Option<String>,
    /// Request id.
    pub request_id: Option<String>,
    /// On whose behalf.
    pub on_behalf_of: Option<String>,
    /// Why.
    pub reason: Option<String>,
    /// Resource type.
    pub resource_type: Option<String>,
    /// Resource id.
    pub resource_id: Option<String>,
    /// Actor address.
    pub ip_address: Option<String>,
    /// Actor user agent.
    pub user_agent: Option<String>,
    /// Values before.
    #[schema(value_type = Option<Object>)]
    pub old_values: Option<serde_json::Value>,
    /// Values after.
    #[schema(value_type = Option<Object>)]
    pub new_values: Option<serde_json::Value>,
}

impl From<AuditEvent> for AuditEventBody {
    fn from(e: AuditEvent) -> Self {
        Self {
            id: e.id.as_uuid(),
            event_type: e.event_type,
            occurred_at: e.occurred_at,
            actor_id: e.actor_id,
            request_id: e.request_id,
            on_behalf_of: e.on_behalf_of,
            reason: e.reason,
            resource_type: e.resource_type,
            resource_id: e.resource_id,
            ip_address: e.ip_address.map(|i| i.to_string()),
            user_agent: e.user_agent,
            old_values: e.old_values,
            new_values: e.new_values,
        }
    }
}

/// A page of audit events, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPage {
    /// Events.
    pub data: Vec<AuditEventBody>,
    /// Cursor of the next page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// `?limit=`.
#[derive(Debug, Deserialize, ToSchema, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LimitQuery {
    /// Page size.
    pub limit: Option<u32>,
}

/// Namespace statistics.
#[derive(Debug, Serialize, ToSchema)]
pub struct StatsBody {
    /// Users.
    pub user_count: u64,
    /// Verified users.
    pub verified_user_count: u64,
    /// Disabled users.
    pub disabled_user_count: u64,
    /// Active sessions.
    pub active_session_count: u64,
    /// Users with MFA.
    pub mfa_enabled_user_count: u64,
}

/// Rows removed by cleanup.
#[derive(Debug, Serialize, ToSchema)]
pub struct CleanupBody {
    /// Sessions.
    pub sessions_deleted: u64,
    /// Tokens.
    pub tokens_deleted: u64,
    /// Attempts.
    pub attempts_deleted: u64,
}

/// A mail kept by the development outbox.
#[derive(Debug, Serialize, ToSchema)]
pub struct OutboxMail {
    /// Id.
    pub id: Uuid,
    /// Recipient.
    pub to: String,
    /// Subject.
    pub subject: String,
    /// Body (with the link).
    pub text: String,
    /// When.
    pub sent_at: DateTime<Utc>,
}

/// The development outbox, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct OutboxBody {
    /// Mails.
    pub data: Vec<OutboxMail>,
}
