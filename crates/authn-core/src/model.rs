//! The records that stores return. None of them carries a secret except
//! [`Credentials`] and [`MfaCredential`], which exist to return one.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::email::Email;
use crate::error::ValidationError;
use crate::ids::{AttemptId, AuditEventId, MfaId, SessionId, TokenId, UserId};
use crate::secret::{MfaSecret, PasswordHash};

/// A user, without any secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// The user's id.
    pub id: UserId,
    /// The normalised email address.
    pub email: Email,
    /// When the address was verified, if it was (cleared by an email change).
    pub email_verified_at: Option<DateTime<Utc>>,
    /// When the user was disabled, if they are.
    pub disabled_at: Option<DateTime<Utc>>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change time.
    pub updated_at: DateTime<Utc>,
}

/// What a password login needs: returned only by `get_credentials`.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The user's id.
    pub user_id: UserId,
    /// The password hash, `None` for SSO/passwordless users.
    pub password_hash: Option<PasswordHash>,
    /// When the user was disabled, if they are.
    pub disabled_at: Option<DateTime<Utc>>,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("user_id", &self.user_id)
            .field("password_hash", &self.password_hash)
            .field("disabled_at", &self.disabled_at)
            .finish()
    }
}

/// A valid session, as returned by `validate_session`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidSession {
    /// The session's id.
    pub session_id: SessionId,
    /// Its user.
    pub user_id: UserId,
    /// The user's current email.
    pub email: Email,
    /// Whether the user's email is verified.
    pub email_verified: bool,
    /// When the session was created.
    pub created_at: DateTime<Utc>,
    /// When it expires.
    pub expires_at: DateTime<Utc>,
}

/// An active session as listed for its user (never with its token hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// The session's id.
    pub id: SessionId,
    /// Its user.
    pub user_id: UserId,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it expires.
    pub expires_at: DateTime<Utc>,
    /// The client address it was created from.
    pub ip_address: Option<IpAddr>,
    /// The client user agent it was created from.
    pub user_agent: Option<String>,
}

/// The kinds of one-time token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenType {
    /// Lets the holder set a new password.
    PasswordReset,
    /// Proves control of the address it was sent to.
    EmailVerify,
    /// Signs the holder in.
    MagicLink,
}

impl TokenType {
    /// Every token type.
    pub const ALL: [Self; 3] = [Self::PasswordReset, Self::EmailVerify, Self::MagicLink];

    /// The wire and storage name (`password_reset`, `email_verify`, `magic_link`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::PasswordReset => "password_reset",
            Self::EmailVerify => "email_verify",
            Self::MagicLink => "magic_link",
        }
    }
}

impl fmt::Display for TokenType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for TokenType {
    type Err = ValidationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or(ValidationError::new(
                "token_type",
                "must be password_reset, email_verify or magic_link",
            ))
    }
}

/// The kinds of MFA method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MfaType {
    /// RFC 6238 time-based one-time passwords.
    Totp,
    /// WebAuthn / passkeys.
    Webauthn,
    /// Single-use recovery codes.
    RecoveryCodes,
}

impl MfaType {
    /// Every MFA type.
    pub const ALL: [Self; 3] = [Self::Totp, Self::Webauthn, Self::RecoveryCodes];

    /// The wire and storage name (`totp`, `webauthn`, `recovery_codes`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Totp => "totp",
            Self::Webauthn => "webauthn",
            Self::RecoveryCodes => "recovery_codes",
        }
    }
}

impl fmt::Display for MfaType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for MfaType {
    type Err = ValidationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or(ValidationError::new(
                "mfa_type",
                "must be totp, webauthn or recovery_codes",
            ))
    }
}

/// The result of consuming a one-time token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsumedToken {
    /// The token's id.
    pub token_id: TokenId,
    /// The user it was issued to.
    pub user_id: UserId,
    /// The address it was issued to (still the user's address: tokens are
    /// bound to it).
    pub email: Email,
}

/// An MFA method as listed (no secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MfaMethod {
    /// The method's id.
    pub id: MfaId,
    /// Its user.
    pub user_id: UserId,
    /// Its type.
    pub mfa_type: MfaType,
    /// Its friendly name.
    pub name: Option<String>,
    /// When it was added.
    pub created_at: DateTime<Utc>,
    /// When it was last used.
    pub last_used_at: Option<DateTime<Utc>>,
}

/// An MFA method with its secret, for verification only (`get_mfa`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MfaCredential {
    /// The method (no secret).
    pub method: MfaMethod,
    /// The secret as it was stored.
    pub secret: MfaSecret,
}

/// A recorded login attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginAttempt {
    /// The normalised email the attempt was for.
    pub email: Email,
    /// Whether it succeeded (false also while a reserved attempt is in progress).
    pub success: bool,
    /// The client address.
    pub ip_address: Option<IpAddr>,
    /// When it happened.
    pub attempted_at: DateTime<Utc>,
}

/// A reserved login attempt, from `begin_login_attempt`: hand it back to
/// `finish_login_attempt` with the outcome. Until then it counts against the
/// lockout limit (and if it is never finished, it counts as a failure until
/// it leaves the window: failing closed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptPermit {
    /// The reserved attempt.
    pub attempt_id: AttemptId,
    /// Its (normalised) email.
    pub email: Email,
}

/// What recording a login attempt found, counted atomically with the insert
/// (parallel attempts on one email are serialised, so no count is lost).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttemptOutcome {
    /// Failed (and in-progress) attempts for this email within the lockout
    /// window, this one included.
    pub failures_in_window: u32,
    /// Whether the email is locked out now.
    pub locked_out: bool,
    /// Whether this attempt started a lockout episode (true for exactly one
    /// attempt per episode; `lockout_triggered` is audited then).
    pub lockout_started: bool,
}

/// Rows removed by `cleanup_expired`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CleanupReport {
    /// Expired or revoked sessions deleted.
    pub sessions_deleted: u64,
    /// Used or expired one-time tokens deleted.
    pub tokens_deleted: u64,
    /// Login attempts past retention deleted.
    pub attempts_deleted: u64,
}

/// Counts of one namespace (`get_stats`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// Users.
    pub user_count: u64,
    /// Users with a verified email.
    pub verified_user_count: u64,
    /// Disabled users.
    pub disabled_user_count: u64,
    /// Sessions neither expired nor revoked.
    pub active_session_count: u64,
    /// Users with at least one MFA method.
    pub mfa_enabled_user_count: u64,
}

/// One page of a keyset-paginated listing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Page<T> {
    /// The items of this page, in listing order.
    pub items: Vec<T>,
    /// Pass this as `cursor` to get the next page; `None` on the last page.
    pub next_cursor: Option<String>,
}

/// A recorded audit event. Old and new values never hold a secret, hash or token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEvent {
    /// The event's id (time-ordered).
    pub id: AuditEventId,
    /// The namespace it happened in.
    pub namespace: String,
    /// What happened, e.g. `user_created` (see [`crate::audit::events`]).
    pub event_type: String,
    /// When.
    pub occurred_at: DateTime<Utc>,
    /// Who did it (from the actor context), if known.
    pub actor_id: Option<String>,
    /// The request or correlation id.
    pub request_id: Option<String>,
    /// The principal the actor acted for.
    pub on_behalf_of: Option<String>,
    /// Why.
    pub reason: Option<String>,
    /// The kind of resource changed, e.g. `user`.
    pub resource_type: Option<String>,
    /// Its id.
    pub resource_id: Option<String>,
    /// The actor's client address.
    pub ip_address: Option<IpAddr>,
    /// The actor's user agent.
    pub user_agent: Option<String>,
    /// Values before the change.
    pub old_values: Option<serde_json::Value>,
    /// Values after the change.
    pub new_values: Option<serde_json::Value>,
}

/// Longest user agent kept, in bytes.
pub const MAX_USER_AGENT_BYTES: usize = 512;

/// Normalises a user agent for storage: control characters dropped, trimmed,
/// cut to [`MAX_USER_AGENT_BYTES`] on a character boundary, `None` when
/// nothing is left. A user agent is descriptive only, so an odd one is
/// cleaned rather than refused (refusing it would break logins).
pub fn clean_user_agent(ua: &str) -> Option<String> {
    let cleaned: String = ua.chars().filter(|c| !c.is_control()).collect();
    let mut s = cleaned.trim();
    if s.len() > MAX_USER_AGENT_BYTES {
        let mut end = MAX_USER_AGENT_BYTES;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s = s.get(..end).unwrap_or_default();
    }
    (!s.is_empty()).then(|| s.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enum_names_round_trip() {
        for t in TokenType::ALL {
            assert_eq!(t.as_str().parse::<TokenType>(), Ok(t));
        }
        for t in MfaType::ALL {
            assert_eq!(t.as_str().parse::<MfaType>(), Ok(t));
        }
        assert_eq!(
            "sms".parse::<MfaType>().map_err(|e| e.field),
            Err("mfa_type")
        );
        assert_eq!(
            "x".parse::<TokenType>().map_err(|e| e.field),
            Err("token_type")
        );
    }

    #[test]
    fn user_agent_cleaning() {
        assert_eq!(
            clean_user_agent("  curl/8\u{0}\n "),
            Some("curl/8".to_owned())
        );
        assert_eq!(clean_user_agent(" \t "), None);
        let long = "é".repeat(400);
        let cut = clean_user_agent(&long).unwrap_or_default();
        assert!(cut.len() <= MAX_USER_AGENT_BYTES && cut.chars().all(|c| c == 'é'));
    }
}
