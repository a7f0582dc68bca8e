//! Audit: who acts ([`Actor`]), what was recorded ([`crate::model::AuditEvent`]),
//! how to query it ([`AuditQuery`]) and the event names ([`events`]).

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::error::ValidationError;

/// Longest actor field (ids, request id, reason...), in bytes.
pub const MAX_ACTOR_FIELD_BYTES: usize = 1024;

/// The actor context attached to every audit event written through a store
/// handle (`set_actor`). Fields left unset are recorded as absent, never as
/// empty strings.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Actor {
    /// Who acts, e.g. `user:admin-bob` or `agent:support-bot`.
    pub actor_id: String,
    /// Request or correlation id.
    pub request_id: Option<String>,
    /// The actor's client address.
    pub ip_address: Option<IpAddr>,
    /// The actor's user agent.
    pub user_agent: Option<String>,
    /// The principal being represented, e.g. `user:customer-alice`.
    pub on_behalf_of: Option<String>,
    /// Why, e.g. `support_ticket:12345`.
    pub reason: Option<String>,
}

fn check_field(value: &str, field: &'static str) -> Result<String, ValidationError> {
    let v = value.trim();
    if v.is_empty() {
        return Err(ValidationError::new(field, "must not be empty"));
    }
    if v.len() > MAX_ACTOR_FIELD_BYTES {
        return Err(ValidationError::new(field, "must be at most 1024 bytes"));
    }
    if v.chars().any(char::is_control) {
        return Err(ValidationError::new(
            field,
            "must not contain control characters",
        ));
    }
    Ok(v.to_owned())
}

impl Actor {
    /// An actor with only its id.
    ///
    /// # Errors
    /// [`ValidationError`] with field `actor_id` when empty, longer than 1024
    /// bytes or containing control characters.
    pub fn new(actor_id: &str) -> Result<Self, ValidationError> {
        Ok(Self {
            actor_id: check_field(actor_id, "actor_id")?,
            ..Self::default()
        })
    }

    /// Sets the request id.
    ///
    /// # Errors
    /// [`ValidationError`] with field `request_id`.
    pub fn request_id(mut self, v: &str) -> Result<Self, ValidationError> {
        self.request_id = Some(check_field(v, "request_id")?);
        Ok(self)
    }

    /// Sets the client address, parsed as an IPv4 or IPv6 address.
    ///
    /// # Errors
    /// [`ValidationError`] with field `ip_address` when `v` is not an IP address.
    pub fn ip_address(mut self, v: &str) -> Result<Self, ValidationError> {
        let ip = v
            .trim()
            .parse()
            .map_err(|_| ValidationError::new("ip_address", "must be an IP address"))?;
        self.ip_address = Some(ip);
        Ok(self)
    }

    /// Sets the user agent (truncated to 512 bytes; it is descriptive only).
    pub fn user_agent(mut self, v: &str) -> Self {
        self.user_agent = crate::model::clean_user_agent(v);
        self
    }

    /// Sets the represented principal.
    ///
    /// # Errors
    /// [`ValidationError`] with field `on_behalf_of`.
    pub fn on_behalf_of(mut self, v: &str) -> Result<Self, ValidationError> {
        self.on_behalf_of = Some(check_field(v, "on_behalf_of")?);
        Ok(self)
    }

    /// Sets the reason.
    ///
    /// # Errors
    /// [`ValidationError`] with field `reason`.
    pub fn reason(mut self, v: &str) -> Result<Self, ValidationError> {
        self.reason = Some(check_field(v, "reason")?);
        Ok(self)
    }
}

/// Filters of `get_audit_events`. All filters combine with AND.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AuditQuery {
    /// Page size: default 100, clamped to 1..=1000; 0 is invalid.
    pub limit: Option<u32>,
    /// Only events of this type.
    pub event_type: Option<String>,
    /// Only events on this kind of resource.
    pub resource_type: Option<String>,
    /// Only events on this resource id.
    pub resource_id: Option<String>,
    /// Only events by this actor.
    pub actor_id: Option<String>,
    /// Continue after this cursor (from a previous page's `next_cursor`).
    pub cursor: Option<String>,
}

/// The audit event types written by the stores.
pub mod events {
    /// A user was created.
    pub const USER_CREATED: &str = "user_created";
    /// A user's email changed.
    pub const USER_EMAIL_UPDATED: &str = "user_email_updated";
    /// A user was disabled.
    pub const USER_DISABLED: &str = "user_disabled";
    /// A user was re-enabled.
    pub const USER_ENABLED: &str = "user_enabled";
    /// A user was deleted.
    pub const USER_DELETED: &str = "user_deleted";
    /// A user's password hash was replaced.
    pub const PASSWORD_UPDATED: &str = "password_updated";
    /// A session was created.
    pub const SESSION_CREATED: &str = "session_created";
    /// A session's expiry moved later.
    pub const SESSION_EXTENDED: &str = "session_extended";
    /// A session was revoked.
    pub const SESSION_REVOKED: &str = "session_revoked";
    /// All sessions of a user were revoked.
    pub const SESSIONS_REVOKED_ALL: &str = "sessions_revoked_all";
    /// A one-time token was issued.
    pub const TOKEN_CREATED: &str = "token_created";
    /// A one-time token was used.
    pub const TOKEN_CONSUMED: &str = "token_consumed";
    /// Unused tokens of a user were invalidated.
    pub const TOKENS_INVALIDATED: &str = "tokens_invalidated";
    /// An email address was verified.
    pub const EMAIL_VERIFIED: &str = "email_verified";
    /// An MFA method was added.
    pub const MFA_ADDED: &str = "mfa_added";
    /// An MFA method was removed.
    pub const MFA_REMOVED: &str = "mfa_removed";
    /// An MFA method was used.
    pub const MFA_USED: &str = "mfa_used";
    /// A login attempt failed.
    pub const LOGIN_ATTEMPT_FAILED: &str = "login_attempt_failed";
    /// A lockout episode began.
    pub const LOCKOUT_TRIGGERED: &str = "lockout_triggered";
    /// Login attempts of an email were cleared.
    pub const LOGIN_ATTEMPTS_CLEARED: &str = "login_attempts_cleared";
    /// A user's name or verification flag changed.
    pub const USER_PROFILE_UPDATED: &str = "user_profile_updated";
    /// A session was replaced by a new one (login upgrade after a second factor).
    pub const SESSION_ROTATED: &str = "session_rotated";
    /// A second factor was passed on a full session (step-up).
    pub const SESSION_STEPPED_UP: &str = "session_stepped_up";
    /// A session was revoked after too many wrong second-factor codes.
    pub const SESSION_MFA_EXHAUSTED: &str = "session_mfa_exhausted";
    /// A pending MFA enrollment was confirmed.
    pub const MFA_CONFIRMED: &str = "mfa_confirmed";
    /// All MFA methods of a user were removed.
    pub const MFA_RESET: &str = "mfa_reset";
    /// The recovery codes of a user were replaced.
    pub const RECOVERY_CODES_REPLACED: &str = "recovery_codes_replaced";
    /// A recovery code was used (and so spent).
    pub const RECOVERY_CODE_USED: &str = "recovery_code_used";
    /// A second-factor check failed.
    pub const MFA_ATTEMPT_FAILED: &str = "mfa_attempt_failed";
    /// A user's second factor was locked after repeated failures.
    pub const MFA_LOCKOUT_TRIGGERED: &str = "mfa_lockout_triggered";
    /// An admin key was created.
    pub const ADMIN_KEY_CREATED: &str = "admin_key_created";
    /// An admin key was revoked.
    pub const ADMIN_KEY_REVOKED: &str = "admin_key_revoked";
    /// `cleanup_expired` ran.
    pub const CLEANUP_COMPLETED: &str = "cleanup_completed";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builder_validates() {
        let a = Actor::new("user:admin-bob")
            .and_then(|a| a.on_behalf_of("user:customer-alice"))
            .and_then(|a| a.reason("support_ticket:12345"))
            .and_then(|a| a.ip_address("2001:db8::1"));
        let a = a.map(|a| {
            (
                a.actor_id,
                a.on_behalf_of,
                a.ip_address.map(|i| i.to_string()),
            )
        });
        assert_eq!(
            a,
            Ok((
                "user:admin-bob".to_owned(),
                Some("user:customer-alice".to_owned()),
                Some("2001:db8::1".to_owned())
            ))
        );
        assert_eq!(Actor::new("").map_err(|e| e.field), Err("actor_id"));
        let bad_ip = Actor::new("x").and_then(|a| a.ip_address("300.1.1.1"));
        assert_eq!(bad_ip.map_err(|e| e.field), Err("ip_address"));
    }
}
