use std::future::Future;
use std::net::IpAddr;
use std::time::Duration;

use crate::error::StoreResult;
use crate::model::{AttemptOutcome, LoginAttempt};

/// Login attempts and lockout.
pub trait LoginAttemptStore: Send + Sync {
    /// Record a login attempt and report the lockout state it leads to.
    /// Attempts on one email are serialised, so parallel failures are all
    /// counted and exactly one of them starts a lockout episode.
    ///
    /// Failures write `login_attempt_failed`; the failure that brings the
    /// count in the store's lockout window to the limit also writes
    /// `lockout_triggered` (once per episode: a new episode begins only after
    /// the count fell below the limit, by the window sliding or
    /// `clear_attempts`). Successes are recorded, not audited.
    ///
    /// # Parameters
    /// - `email`: the address tried (normalised).
    /// - `success`: whether the attempt succeeded.
    /// - `ip_address`: client address.
    ///
    /// # Returns
    /// The failures now in the window, whether the email is locked, and
    /// whether this attempt started the lockout.
    ///
    /// # Errors
    /// - [`StoreError::InvalidInput`](crate::StoreError::InvalidInput) naming `email`.
    fn record_login_attempt(
        &self,
        email: &str,
        success: bool,
        ip_address: Option<IpAddr>,
    ) -> impl Future<Output = StoreResult<AttemptOutcome>> + Send;

    /// Check if an email is locked out: failed attempts within the sliding
    /// `window` are at least `max_attempts`.
    ///
    /// # Parameters
    /// - `email`: the address.
    /// - `window`: default the store's lockout window (15 minutes); zero is invalid.
    /// - `max_attempts`: default the store's limit (5); zero is invalid.
    ///
    /// # Returns
    /// `true` when locked out.
    fn is_locked_out(
        &self,
        email: &str,
        window: Option<Duration>,
        max_attempts: Option<u32>,
    ) -> impl Future<Output = StoreResult<bool>> + Send;

    /// Get the recent login attempts for an email, newest first.
    ///
    /// # Parameters
    /// - `email`: the address.
    /// - `limit`: default 10, clamped to 1..=100; 0 is invalid.
    ///
    /// # Returns
    /// The attempts.
    fn get_recent_attempts(
        &self,
        email: &str,
        limit: Option<u32>,
    ) -> impl Future<Output = StoreResult<Vec<LoginAttempt>>> + Send;

    /// Clear the login attempts of an email (ends a lockout). Writes
    /// `login_attempts_cleared` when any were deleted.
    ///
    /// # Returns
    /// How many attempts were deleted.
    fn clear_attempts(&self, email: &str) -> impl Future<Output = StoreResult<u64>> + Send;
}
