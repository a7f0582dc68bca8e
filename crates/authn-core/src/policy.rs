//! Store policy: lifetimes, lockout and retention, with the documented defaults.

use std::time::Duration;

use crate::model::TokenType;

const MINUTE: u64 = 60;
const HOUR: u64 = 60 * MINUTE;
const DAY: u64 = 24 * HOUR;

/// Lifetimes, lockout and retention used by a store when a caller passes no
/// explicit value. Every field is configurable; [`StorePolicy::default`]
/// holds the documented defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorePolicy {
    /// Session lifetime (default 7 days); also the default `extend_by`.
    pub session_lifetime: Duration,
    /// `password_reset` token lifetime (default 1 hour).
    pub password_reset_lifetime: Duration,
    /// `email_verify` token lifetime (default 24 hours).
    pub email_verify_lifetime: Duration,
    /// `magic_link` token lifetime (default 15 minutes).
    pub magic_link_lifetime: Duration,
    /// Sliding window in which failed logins count (default 15 minutes).
    pub lockout_window: Duration,
    /// Failed logins within the window that lock an email (default 5).
    pub lockout_max_attempts: u32,
    /// Failed second-factor checks within the window, across all of a
    /// user's sessions, that lock the user's second factor (default 10).
    pub mfa_max_attempts: u32,
    /// How long login attempts are kept (default 30 days).
    pub attempt_retention: Duration,
    /// Rows deleted per statement by `cleanup_expired` (default 5000), so
    /// cleanup of millions of rows never holds long locks.
    pub cleanup_batch_size: u32,
}

impl Default for StorePolicy {
    fn default() -> Self {
        Self {
            session_lifetime: Duration::from_secs(7 * DAY),
            password_reset_lifetime: Duration::from_secs(HOUR),
            email_verify_lifetime: Duration::from_secs(DAY),
            magic_link_lifetime: Duration::from_secs(15 * MINUTE),
            lockout_window: Duration::from_secs(15 * MINUTE),
            lockout_max_attempts: 5,
            mfa_max_attempts: 10,
            attempt_retention: Duration::from_secs(30 * DAY),
            cleanup_batch_size: 5000,
        }
    }
}

impl StorePolicy {
    /// The default lifetime of a token type.
    pub fn token_lifetime(&self, token_type: TokenType) -> Duration {
        match token_type {
            TokenType::PasswordReset => self.password_reset_lifetime,
            TokenType::EmailVerify => self.email_verify_lifetime,
            TokenType::MagicLink => self.magic_link_lifetime,
        }
    }
}

/// Default page size of `list_users` and `get_audit_events`.
pub const DEFAULT_PAGE_SIZE: u32 = 100;
/// How long `cleanup_expired` idles after each batch, in multiples of the
/// batch's own time (every store paces its cleanup by it): a cleanup of
/// millions of rows takes at most a fifth of one connection, write lock
/// and core. It is a background job, and requests on a busy machine feel
/// every core it takes: idling only as long as each batch, the validation
/// p99 of a saturated 2-core machine grew 1.2-3.3x; at a fifth, 1.1-1.5x
/// (`cargo xtask bench`, scenario 4).
pub const CLEANUP_IDLE_PER_BUSY: u32 = 4;
/// Largest page size; larger requests are clamped.
pub const MAX_PAGE_SIZE: u32 = 1000;
/// Default limit of `get_recent_attempts`.
pub const DEFAULT_RECENT_ATTEMPTS: u32 = 10;
/// Largest limit of `get_recent_attempts`; larger requests are clamped.
pub const MAX_RECENT_ATTEMPTS: u32 = 100;

/// Resolves an optional limit: `None` gives `default`, 0 is invalid input
/// naming `field`, values above `max` are clamped.
///
/// # Errors
/// [`crate::ValidationError`] when `limit` is `Some(0)`.
pub fn resolve_limit(
    limit: Option<u32>,
    default: u32,
    max: u32,
    field: &'static str,
) -> Result<u32, crate::ValidationError> {
    match limit {
        None => Ok(default),
        Some(0) => Err(crate::ValidationError::new(field, "must be positive")),
        Some(n) => Ok(n.min(max)),
    }
}

/// Resolves an optional duration: `None` gives `default`, zero is invalid
/// input naming `field`.
///
/// # Errors
/// [`crate::ValidationError`] when `d` is `Some(Duration::ZERO)`.
pub fn resolve_duration(
    d: Option<Duration>,
    default: Duration,
    field: &'static str,
) -> Result<Duration, crate::ValidationError> {
    match d {
        None => Ok(default),
        Some(d) if d.is_zero() => Err(crate::ValidationError::new(field, "must be positive")),
        Some(d) => Ok(d),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_documentation() {
        let p = StorePolicy::default();
        assert_eq!(p.session_lifetime, Duration::from_secs(604_800));
        assert_eq!(
            p.token_lifetime(TokenType::PasswordReset),
            Duration::from_secs(3600)
        );
        assert_eq!(
            p.token_lifetime(TokenType::EmailVerify),
            Duration::from_secs(86_400)
        );
        assert_eq!(
            p.token_lifetime(TokenType::MagicLink),
            Duration::from_secs(900)
        );
        assert_eq!(
            (p.lockout_window, p.lockout_max_attempts),
            (Duration::from_secs(900), 5)
        );
        assert_eq!(p.attempt_retention, Duration::from_secs(2_592_000));
    }

    #[test]
    fn limits() {
        assert_eq!(resolve_limit(None, 100, 1000, "limit"), Ok(100));
        assert_eq!(resolve_limit(Some(5000), 100, 1000, "limit"), Ok(1000));
        assert_eq!(
            resolve_limit(Some(0), 100, 1000, "limit").map_err(|e| e.field),
            Err("limit")
        );
        assert!(resolve_duration(Some(Duration::ZERO), Duration::from_secs(1), "window").is_err());
    }
}
