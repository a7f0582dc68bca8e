//! The records that stores return. None of them carries a secret except
//! [`Credentials`] and [`MfaCredential`], which exist to return one.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::email::Email;
use crate::error::ValidationError;
use crate::ids::{AdminKeyId, AttemptId, AuditEventId, MfaId, SessionId, TokenId, UserId};
use crate::secret::{MfaSecret, PasswordHash, TokenHash};

/// A user, without any secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// The user's id.
    pub id: UserId,
    /// The normalised email address.
    pub email: Email,
    /// Display name, if given.
    pub name: Option<String>,
    /// When the address was verified, if it was (cleared by an email change).
    pub email_verified_at: Option<DateTime<Utc>>,
    /// When the user was disabled, if they are.
    pub disabled_at: Option<DateTime<Utc>>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change time.
    pub updated_at: DateTime<Utc>,
}

/// A user to create with `create_user_with` (the reference `create_user`
/// takes only the email and hash).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NewUser {
    /// The address (normalised and validated by the store).
    pub email: String,
    /// The password hash, `None` for passwordless users.
    pub password_hash: Option<PasswordHash>,
    /// Display name (trimmed; at most 256 bytes; empty means none).
    pub name: Option<String>,
    /// Create the user with the address already verified (admin creation).
    pub email_verified: bool,
}

/// Profile changes for `update_profile`; `None` fields are left alone.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProfileUpdate {
    /// New display name: `Some(None)` clears it.
    pub name: Option<Option<String>>,
    /// Mark the address verified (`true`) or unverified (`false`).
    pub email_verified: Option<bool>,
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
    /// A partial session: the password was right, the second factor is
    /// still owed. Only the MFA challenge routes accept it.
    pub partial: bool,
    /// Authentication methods used (RFC 8176: `pwd`, `otp`, `mfa`, `email`...).
    pub amr: Vec<String>,
    /// Authentication context class (`aal1`, `aal2`).
    pub acr: Option<String>,
    /// When the user authenticated (first factor) for this session chain.
    pub auth_time: DateTime<Utc>,
    /// When a second factor was last passed on this session.
    pub mfa_at: Option<DateTime<Utc>>,
}

/// A session to create with `create_session_with`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSession {
    /// The session's user.
    pub user_id: UserId,
    /// SHA-256 of the session token.
    pub token_hash: TokenHash,
    /// Lifetime; default the policy's session lifetime.
    pub expires_in: Option<std::time::Duration>,
    /// Client address.
    pub ip_address: Option<IpAddr>,
    /// Client user agent (cleaned like `create_session`'s).
    pub user_agent: Option<String>,
    /// Partial session (second factor owed).
    pub partial: bool,
    /// Authentication methods used.
    pub amr: Vec<String>,
    /// Authentication context class.
    pub acr: Option<String>,
    /// A second factor was passed now (sets `mfa_at`).
    pub mfa: bool,
    /// A reserved password attempt (`begin_login_attempt`) that this
    /// session concludes: it is finished as a success in the session's own
    /// transaction, so the attempt and the session are written together or
    /// not at all, in one commit instead of two. Creating the session fails
    /// with `NotFound` (`login_attempt`) when the attempt is no longer open.
    pub concludes: Option<AttemptPermit>,
}

impl NewSession {
    /// A full session with no methods recorded, defaults elsewhere.
    pub fn new(user_id: UserId, token_hash: TokenHash) -> Self {
        Self {
            user_id,
            token_hash,
            expires_in: None,
            ip_address: None,
            user_agent: None,
            partial: false,
            amr: Vec::new(),
            acr: None,
            mfa: false,
            concludes: None,
        }
    }
}

/// What a passed second factor adds to a session (`rotate_session`,
/// `step_up_session`): methods joined to `amr`, a new `acr`, and `mfa_at`
/// set to now.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SessionUpgrade {
    /// Methods to add to `amr` (kept unique, in order).
    pub add_amr: Vec<String>,
    /// The new authentication context class.
    pub acr: Option<String>,
}

/// The answer to `reserve_session_mfa_attempt`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum MfaReservation {
    /// A slot was taken: check the code, then finish the attempt.
    Reserved,
    /// The session used up its attempts: refuse without checking the code.
    Exhausted,
    /// No valid session has this token.
    NoSession,
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
    /// Authentication methods used.
    pub amr: Vec<String>,
    /// Whether the session is partial (second factor owed).
    pub partial: bool,
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
    /// Whether it is confirmed (a pending enrollment is not, and does not
    /// count as MFA being enabled).
    pub confirmed: bool,
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

/// What an attempt is counted against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptSubject {
    /// A password login for an email.
    Password(Email),
    /// A second-factor check for a user (across all their sessions).
    Mfa(UserId),
}

/// A reserved attempt, from `begin_login_attempt` or `begin_mfa_attempt`:
/// hand it back to `finish_login_attempt` with the outcome. Until then it
/// counts against the limit (and if it is never finished, it counts as a
/// failure until it leaves the window: failing closed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptPermit {
    /// The reserved attempt.
    pub attempt_id: AttemptId,
    /// What it is counted against.
    pub subject: AttemptSubject,
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

/// An admin API key (only its hash is stored).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminKey {
    /// The key's id.
    pub id: AdminKeyId,
    /// A name to tell keys apart.
    pub name: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<DateTime<Utc>>,
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

/// Longest label (display name, MFA method name, admin key name), in bytes.
pub const MAX_LABEL_BYTES: usize = 256;

/// Validates an optional human label: trimmed, at most
/// [`MAX_LABEL_BYTES`], no control characters; empty means none.
///
/// # Errors
/// [`ValidationError`] naming `field`.
pub fn clean_label(
    value: Option<&str>,
    field: &'static str,
) -> Result<Option<String>, ValidationError> {
    let Some(v) = value.map(str::trim) else {
        return Ok(None);
    };
    if v.len() > MAX_LABEL_BYTES {
        return Err(ValidationError::new(field, "must be at most 256 bytes"));
    }
    if v.chars().any(char::is_control) {
        return Err(ValidationError::new(
            field,
            "must not contain control characters",
        ));
    }
    Ok((!v.is_empty()).then(|| v.to_owned()))
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
