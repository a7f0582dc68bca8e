use std::future::Future;
use std::net::IpAddr;
use std::time::Duration;

use crate::error::StoreResult;
use crate::model::{AttemptOutcome, AttemptPermit, LoginAttempt};

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

    /// Reserve a login attempt before checking a password: the atomic
    /// "check and count" that keeps parallel guesses from slipping past the
    /// limit. Attempts on one email are serialised; failed and in-progress
    /// attempts in the lockout window both count, so of N parallel guesses
    /// at most `lockout_max_attempts` get a permit and the rest are refused
    /// at once, without a password check.
    ///
    /// # Parameters
    /// - `email`: the address tried (normalised).
    /// - `ip_address`: client address.
    ///
    /// # Returns
    /// A permit to pass to `finish_login_attempt` with the outcome.
    ///
    /// # Errors
    /// - [`StoreError::Locked`](crate::StoreError::Locked) with the time until the lock lifts.
    /// - [`StoreError::InvalidInput`](crate::StoreError::InvalidInput) naming `email`.
    fn begin_login_attempt(
        &self,
        email: &str,
        ip_address: Option<IpAddr>,
    ) -> impl Future<Output = StoreResult<AttemptPermit>> + Send;

    /// Reserve a second-factor attempt of a user (counted across all their
    /// sessions, `mfa_max_attempts` per lockout window), before checking a
    /// code. Same atomicity as `begin_login_attempt`.
    ///
    /// # Parameters
    /// - `user_id`: the user.
    /// - `ip_address`: client address.
    ///
    /// # Returns
    /// A permit to pass to `finish_login_attempt`.
    ///
    /// # Errors
    /// - [`StoreError::Locked`](crate::StoreError::Locked) while the user's second factor is locked.
    fn begin_mfa_attempt(
        &self,
        user_id: crate::ids::UserId,
        ip_address: Option<IpAddr>,
    ) -> impl Future<Output = StoreResult<AttemptPermit>> + Send;

    /// Finish a reserved attempt (password or second factor) with its
    /// outcome. A failure writes `login_attempt_failed` (`mfa_attempt_failed`),
    /// and `lockout_triggered` (`mfa_lockout_triggered`) when it brings the
    /// failures in the window to the limit (once per episode, as
    /// `record_login_attempt`).
    ///
    /// # Parameters
    /// - `permit`: from `begin_login_attempt`.
    /// - `success`: whether the password (or other credential) was right.
    ///
    /// # Returns
    /// The lockout state after this attempt.
    ///
    /// # Errors
    /// - [`StoreError::NotFound`](crate::StoreError::NotFound) (`login_attempt`) when the permit
    ///   was already finished, or its attempt cleared or cleaned up.
    fn finish_login_attempt(
        &self,
        permit: &AttemptPermit,
        success: bool,
    ) -> impl Future<Output = StoreResult<AttemptOutcome>> + Send;

    /// Drop a reserved attempt that was never decided (e.g. the password
    /// could not be checked because the server was busy): it stops counting,
    /// and nothing is recorded or audited.
    ///
    /// # Returns
    /// `true` when the reserved attempt existed and was still open.
    fn cancel_login_attempt(
        &self,
        permit: &AttemptPermit,
    ) -> impl Future<Output = StoreResult<bool>> + Send;

    /// Check if an email is locked out: failed (and in-progress) attempts
    /// within the sliding `window` are at least `max_attempts`. To act on the
    /// answer safely under concurrency, use `begin_login_attempt` instead.
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
