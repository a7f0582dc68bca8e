//! The server's answers, as typed values. Field names follow the wire
//! format (`snake_case`); unknown fields are ignored, so a newer server
//! does not break an older SDK.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A user, as the server shows it.
///
/// # Example
///
/// ```no_run
/// # async fn run(auth: authn_client::AuthClient) -> Result<(), authn_client::ClientError> {
/// let user = auth.me().await?;
/// println!("{} ({}), MFA: {}", user.email, user.id, user.mfa_enabled);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct User {
    /// User id.
    pub id: Uuid,
    /// Normalised email.
    pub email: String,
    /// Whether the email is verified.
    pub email_verified: bool,
    /// Display name.
    #[serde(default)]
    pub name: Option<String>,
    /// Whether a second factor is enabled.
    pub mfa_enabled: bool,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// When the account was disabled (admin views only; `None` for users).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled_at: Option<DateTime<Utc>>,
}

/// The current session and how it was authenticated (`GET /auth/session`).
///
/// # Example
///
/// ```no_run
/// # async fn run(auth: authn_client::AuthClient) -> Result<(), authn_client::ClientError> {
/// let s = auth.current_session().await?;
/// if s.partial {
///     println!("a second factor is still owed");
/// }
/// println!("methods {:?}, second factor at {:?}", s.amr, s.mfa_at);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SessionInfo {
    /// Session id.
    pub id: Uuid,
    /// Its user.
    pub user_id: Uuid,
    /// Authentication methods (RFC 8176: `pwd`, `otp`, `mfa`, `email` ...).
    #[serde(default)]
    pub amr: Vec<String>,
    /// Authentication context class.
    #[serde(default)]
    pub acr: Option<String>,
    /// When the first factor was given.
    pub auth_time: DateTime<Utc>,
    /// When a second factor was last given.
    #[serde(default)]
    pub mfa_at: Option<DateTime<Utc>>,
    /// Expiry.
    pub expires_at: DateTime<Utc>,
    /// Whether a second factor is still owed.
    #[serde(default)]
    pub partial: bool,
}

/// One session in a listing.
///
/// # Example
///
/// ```no_run
/// # async fn run(auth: authn_client::AuthClient) -> Result<(), authn_client::ClientError> {
/// for s in auth.sessions().await? {
///     let here = if s.current { " (this device)" } else { "" };
///     println!("{} {:?}{here}", s.id, s.user_agent);
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SessionSummary {
    /// Session id.
    pub id: Uuid,
    /// Client address it was created from.
    #[serde(default)]
    pub ip_address: Option<String>,
    /// Client user agent.
    #[serde(default)]
    pub user_agent: Option<String>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Expiry.
    pub expires_at: DateTime<Utc>,
    /// Authentication methods.
    #[serde(default)]
    pub amr: Vec<String>,
    /// Whether this is the session making the request (always `false` in
    /// admin listings).
    #[serde(default)]
    pub current: bool,
}

/// A started TOTP enrollment: show `otpauth_url` as a QR code, then confirm
/// with [`MfaClient::verify`](crate::MfaClient::verify). `Debug` is
/// redacted: both fields hold the secret.
///
/// # Example
///
/// ```no_run
/// # async fn run(auth: authn_client::AuthClient) -> Result<(), Box<dyn std::error::Error>> {
/// let enrollment = auth.mfa().enroll().await?;
/// println!("scan this: {}", enrollment.otpauth_url);
/// let codes = auth.mfa().verify(&authn_client::compute_totp(&enrollment.secret)?).await?;
/// # let _ = codes; Ok(()) }
/// ```
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct Enrollment {
    /// Base32 secret (no padding).
    pub secret: String,
    /// `otpauth://totp/...` provisioning URI (for a QR code).
    pub otpauth_url: String,
}

impl fmt::Debug for Enrollment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Enrollment")
            .field("secret", &"<redacted>")
            .field("otpauth_url", &"<redacted>")
            .finish()
    }
}

/// The caller's MFA state.
///
/// # Example
///
/// ```no_run
/// # async fn run(auth: authn_client::AuthClient) -> Result<(), authn_client::ClientError> {
/// let st = auth.mfa().status().await?;
/// if st.mfa_enabled && st.recovery_codes_remaining < 3 {
///     println!("running low on recovery codes");
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct MfaStatus {
    /// Whether a second factor is enabled.
    pub mfa_enabled: bool,
    /// Enabled methods, e.g. `["totp"]`.
    #[serde(default)]
    pub methods: Vec<String>,
    /// Unused recovery codes.
    #[serde(default)]
    pub recovery_codes_remaining: u64,
}

/// One page of a listing, with the cursor of the next (`None` on the last).
///
/// # Example
///
/// ```no_run
/// # async fn run(admin: authn_client::AdminClient) -> Result<(), authn_client::ClientError> {
/// use authn_client::ListUsers;
///
/// let mut cursor = None;
/// loop {
///     let page = admin.list_users(ListUsers { cursor, ..ListUsers::default() }).await?;
///     for u in &page.data {
///         println!("{}", u.email);
///     }
///     match page.next_cursor {
///         Some(next) => cursor = Some(next),
///         None => break,
///     }
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Page<T> {
    /// The items.
    pub data: Vec<T>,
    /// Pass as `cursor` to get the next page.
    #[serde(default)]
    pub next_cursor: Option<String>,
}

/// An audit-log event.
///
/// # Example
///
/// ```no_run
/// # async fn run(admin: authn_client::AdminClient, id: uuid::Uuid) -> Result<(), authn_client::ClientError> {
/// for e in admin.user_audit(id, Some(20)).await?.data {
///     println!("{} {} by {:?}", e.occurred_at, e.event_type, e.actor_id);
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AuditEvent {
    /// Event id.
    pub id: Uuid,
    /// Event type, e.g. `login_succeeded`.
    pub event_type: String,
    /// When.
    pub occurred_at: DateTime<Utc>,
    /// Who.
    #[serde(default)]
    pub actor_id: Option<String>,
    /// Request id.
    #[serde(default)]
    pub request_id: Option<String>,
    /// On whose behalf.
    #[serde(default)]
    pub on_behalf_of: Option<String>,
    /// Why.
    #[serde(default)]
    pub reason: Option<String>,
    /// Resource type, e.g. `user`.
    #[serde(default)]
    pub resource_type: Option<String>,
    /// Resource id.
    #[serde(default)]
    pub resource_id: Option<String>,
    /// Actor's address.
    #[serde(default)]
    pub ip_address: Option<String>,
    /// Actor's user agent.
    #[serde(default)]
    pub user_agent: Option<String>,
    /// Values before the change.
    #[serde(default)]
    pub old_values: Option<serde_json::Value>,
    /// Values after the change.
    #[serde(default)]
    pub new_values: Option<serde_json::Value>,
}

/// Namespace statistics.
///
/// # Example
///
/// ```no_run
/// # async fn run(admin: authn_client::AdminClient) -> Result<(), authn_client::ClientError> {
/// let s = admin.stats().await?;
/// println!("{} users, {} with MFA", s.user_count, s.mfa_enabled_user_count);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Stats {
    /// Users.
    pub user_count: u64,
    /// Users with a verified email.
    pub verified_user_count: u64,
    /// Disabled users.
    pub disabled_user_count: u64,
    /// Active sessions.
    pub active_session_count: u64,
    /// Users with MFA.
    pub mfa_enabled_user_count: u64,
}

/// Rows removed by a cleanup.
///
/// # Example
///
/// ```no_run
/// # async fn run(admin: authn_client::AdminClient) -> Result<(), authn_client::ClientError> {
/// let c = admin.cleanup().await?;
/// println!("{} sessions removed", c.sessions_deleted);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Cleanup {
    /// Expired sessions.
    pub sessions_deleted: u64,
    /// Expired one-time tokens.
    pub tokens_deleted: u64,
    /// Old login attempts.
    pub attempts_deleted: u64,
}

/// What a session token is worth, for another service.
///
/// `active` is `false` for unknown, expired, revoked and partial sessions,
/// and when a second factor was asked for (`max_mfa_age`) and is missing or
/// older; the other fields are then `None`/empty.
///
/// # Example
///
/// ```no_run
/// # async fn run(admin: authn_client::AdminClient, token: &str) -> Result<(), authn_client::ClientError> {
/// let i = admin.introspect(token, None).await?;
/// match (i.active, i.user_id) {
///     (true, Some(user)) => println!("session of {user}"),
///     _ => println!("not a valid session"),
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Introspection {
    /// Whether the token is a valid full session (fresh enough, if asked).
    pub active: bool,
    /// Its user.
    #[serde(default)]
    pub user_id: Option<Uuid>,
    /// The session.
    #[serde(default)]
    pub session_id: Option<Uuid>,
    /// The user's email.
    #[serde(default)]
    pub email: Option<String>,
    /// Authentication methods.
    #[serde(default)]
    pub amr: Vec<String>,
    /// Authentication context class.
    #[serde(default)]
    pub acr: Option<String>,
    /// When the first factor was given.
    #[serde(default)]
    pub auth_time: Option<DateTime<Utc>>,
    /// When a second factor was last given.
    #[serde(default)]
    pub mfa_at: Option<DateTime<Utc>>,
    /// Expiry.
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
}

/// A mail kept by the development outbox (server in `AUTHN_DEV` mode).
///
/// # Example
///
/// ```no_run
/// # async fn run(admin: authn_client::AdminClient) -> Result<(), authn_client::ClientError> {
/// let last = admin.dev_outbox().await?.pop();
/// if let Some(mail) = last {
///     println!("to {}: {}", mail.to, mail.subject);
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct OutboxMail {
    /// Id.
    pub id: Uuid,
    /// Recipient.
    pub to: String,
    /// Subject.
    pub subject: String,
    /// Text body (with the link).
    pub text: String,
    /// When it was sent.
    pub sent_at: DateTime<Utc>,
}

// Wire shapes the public API does not expose.

/// A user and a new session token (signup, login, challenge, magic link).
#[derive(Deserialize)]
pub(crate) struct UserWithToken {
    #[serde(flatten)]
    pub(crate) user: User,
    pub(crate) token: String,
}

/// The first factor passed, a second is owed.
#[derive(Deserialize)]
pub(crate) struct MfaRequiredBody {
    pub(crate) token: String,
    #[serde(default)]
    pub(crate) mfa_methods: Vec<String>,
}

/// `{"data": [...]}`.
#[derive(Deserialize)]
pub(crate) struct DataBody<T> {
    pub(crate) data: Vec<T>,
}

/// `{"revoked": n}`.
#[derive(Deserialize)]
pub(crate) struct RevokedBody {
    pub(crate) revoked: u64,
}

/// `{"recovery_codes": [...]}` (also the answer of MFA verify).
#[derive(Deserialize)]
pub(crate) struct RecoveryCodesBody {
    pub(crate) recovery_codes: Vec<String>,
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    //! Samples written from the server's `routes/types.rs` serialisation.

    use super::*;
    use crate::error::decode;

    const USER: &str = r#"{"id":"01890a5d-ac96-774b-bcce-b302099a8057","email":"alice@example.com","email_verified":false,"name":null,"mfa_enabled":true,"created_at":"2026-01-02T03:04:05.123456Z","updated_at":"2026-01-02T03:04:05.123456Z"}"#;

    #[test]
    fn user() {
        let u: User = decode(USER.as_bytes()).unwrap();
        assert_eq!(u.email, "alice@example.com");
        assert_eq!(u.id.to_string(), "01890a5d-ac96-774b-bcce-b302099a8057");
        assert!(u.mfa_enabled && !u.email_verified);
        assert_eq!(u.name, None);
        assert_eq!(u.disabled_at, None);
        // Round trip: no `disabled_at` written for users.
        let back = serde_json::to_value(&u).unwrap();
        assert_eq!(
            back,
            serde_json::from_str::<serde_json::Value>(USER).unwrap()
        );

        let admin: User = decode(
            br#"{"id":"01890a5d-ac96-774b-bcce-b302099a8057","email":"bob@example.com","email_verified":true,"name":"Bob","mfa_enabled":false,"created_at":"2026-01-02T03:04:05Z","updated_at":"2026-01-02T03:04:05Z","disabled_at":"2026-02-01T00:00:00Z","future_field":1}"#,
        )
        .unwrap();
        assert_eq!(admin.name.as_deref(), Some("Bob"));
        assert!(admin.disabled_at.is_some());
    }

    #[test]
    fn user_with_token_and_mfa_required() {
        let with_token = USER.replace('}', r#","token":"tok-1"}"#);
        let u: UserWithToken = decode(with_token.as_bytes()).unwrap();
        assert_eq!(u.token, "tok-1");
        assert_eq!(u.user.email, "alice@example.com");
        let m: MfaRequiredBody = decode(
            br#"{"mfaRequired":true,"token":"partial","mfa_methods":["totp","recovery_code"]}"#,
        )
        .unwrap();
        assert_eq!(m.token, "partial");
        assert_eq!(m.mfa_methods, ["totp", "recovery_code"]);
    }

    #[test]
    fn session_info() {
        let s: SessionInfo = decode(br#"{"id":"01890a5d-ac96-774b-bcce-b302099a8057","user_id":"01890a5d-ac96-774b-bcce-b302099a8058","amr":["pwd","otp","mfa"],"acr":null,"auth_time":"2026-01-02T03:04:05Z","mfa_at":"2026-01-02T03:05:00Z","expires_at":"2026-01-09T03:04:05Z","partial":false}"#).unwrap();
        assert_eq!(s.amr, ["pwd", "otp", "mfa"]);
        assert!(s.mfa_at.is_some() && !s.partial && s.acr.is_none());
    }

    #[test]
    fn session_list() {
        let l: DataBody<SessionSummary> = decode(br#"{"data":[{"id":"01890a5d-ac96-774b-bcce-b302099a8057","ip_address":"127.0.0.1","user_agent":"curl/8","created_at":"2026-01-02T03:04:05Z","expires_at":"2026-01-09T03:04:05Z","amr":["pwd"],"current":true},{"id":"01890a5d-ac96-774b-bcce-b302099a8059","ip_address":null,"user_agent":null,"created_at":"2026-01-02T03:04:05Z","expires_at":"2026-01-09T03:04:05Z","amr":[],"current":false}]}"#).unwrap();
        assert_eq!(l.data.len(), 2);
        assert!(l.data[0].current);
        assert_eq!(l.data[0].ip_address.as_deref(), Some("127.0.0.1"));
        assert_eq!(l.data[1].user_agent, None);
    }

    #[test]
    fn revoked() {
        let r: RevokedBody = decode(br#"{"revoked":3}"#).unwrap();
        assert_eq!(r.revoked, 3);
    }

    #[test]
    fn enrollment_is_redacted() {
        let e: Enrollment = decode(br#"{"secret":"JBSWY3DPEHPK3PXP","qr_uri":"otpauth://totp/authn:alice%40example.com?secret=JBSWY3DPEHPK3PXP","otpauth_url":"otpauth://totp/authn:alice%40example.com?secret=JBSWY3DPEHPK3PXP"}"#).unwrap();
        assert_eq!(e.secret, "JBSWY3DPEHPK3PXP");
        assert!(e.otpauth_url.starts_with("otpauth://totp/"));
        let dbg = format!("{e:?}");
        assert!(!dbg.contains("JBSWY3DPEHPK3PXP"), "{dbg}");
    }

    #[test]
    fn mfa_bodies() {
        let v: RecoveryCodesBody =
            decode(br#"{"mfa_enabled":true,"recovery_codes":["aaaa-bbbb","cccc-dddd"]}"#).unwrap();
        assert_eq!(v.recovery_codes, ["aaaa-bbbb", "cccc-dddd"]);
        let s: MfaStatus =
            decode(br#"{"mfa_enabled":true,"methods":["totp"],"recovery_codes_remaining":9}"#)
                .unwrap();
        assert_eq!(s.methods, ["totp"]);
        assert_eq!(s.recovery_codes_remaining, 9);
    }

    #[test]
    fn pages() {
        let p: Page<User> =
            decode(format!(r#"{{"data":[{USER}],"next_cursor":"abc"}}"#).as_bytes()).unwrap();
        assert_eq!(p.data.len(), 1);
        assert_eq!(p.next_cursor.as_deref(), Some("abc"));
        // The audit page leaves `next_cursor` out on the last page.
        let a: Page<AuditEvent> = decode(br#"{"data":[{"id":"01890a5d-ac96-774b-bcce-b302099a8057","event_type":"user_created","occurred_at":"2026-01-02T03:04:05Z","actor_id":"admin_key:config","request_id":null,"on_behalf_of":null,"reason":"ticket 42","resource_type":"user","resource_id":"01890a5d-ac96-774b-bcce-b302099a8058","ip_address":"10.0.0.1","user_agent":null,"old_values":null,"new_values":{"email":"bob@example.com"}}]}"#).unwrap();
        assert_eq!(a.next_cursor, None);
        let e = &a.data[0];
        assert_eq!(e.event_type, "user_created");
        assert_eq!(e.reason.as_deref(), Some("ticket 42"));
        assert_eq!(
            e.new_values,
            Some(serde_json::json!({"email": "bob@example.com"}))
        );
    }

    #[test]
    fn stats_cleanup_outbox() {
        let s: Stats = decode(br#"{"user_count":5,"verified_user_count":4,"disabled_user_count":1,"active_session_count":7,"mfa_enabled_user_count":2}"#).unwrap();
        assert_eq!((s.user_count, s.active_session_count), (5, 7));
        let c: Cleanup =
            decode(br#"{"sessions_deleted":1,"tokens_deleted":2,"attempts_deleted":3}"#).unwrap();
        assert_eq!(c.attempts_deleted, 3);
        let o: DataBody<OutboxMail> = decode(br#"{"data":[{"id":"01890a5d-ac96-774b-bcce-b302099a8057","to":"alice@example.com","subject":"Sign in","text":"http://x/?token=t","sent_at":"2026-01-02T03:04:05Z"}]}"#).unwrap();
        assert_eq!(o.data[0].subject, "Sign in");
    }

    #[test]
    fn introspection() {
        let i: Introspection = decode(br#"{"active":false}"#).unwrap();
        assert!(!i.active && i.user_id.is_none() && i.amr.is_empty());
        let i: Introspection = decode(br#"{"active":true,"user_id":"01890a5d-ac96-774b-bcce-b302099a8057","session_id":"01890a5d-ac96-774b-bcce-b302099a8058","email":"alice@example.com","amr":["pwd","otp"],"auth_time":"2026-01-02T03:04:05Z","mfa_at":"2026-01-02T03:05:05Z","expires_at":"2026-01-09T03:04:05Z"}"#).unwrap();
        assert!(i.active);
        assert_eq!(i.email.as_deref(), Some("alice@example.com"));
        assert_eq!(i.acr, None);
        assert!(i.mfa_at.is_some());
    }
}
