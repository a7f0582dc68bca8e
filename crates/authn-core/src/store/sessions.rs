use std::future::Future;
use std::net::IpAddr;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::error::StoreResult;
use crate::ids::{SessionId, UserId};
use crate::model::{Session, ValidSession};
use crate::secret::TokenHash;

/// Sessions: creation, validation (the hot path of every authenticated
/// request), extension and revocation.
pub trait SessionStore: Send + Sync {
    /// Create a new session.
    ///
    /// Writes `session_created`.
    ///
    /// # Parameters
    /// - `user_id`: the session's user; must exist in this namespace and be enabled.
    /// - `token_hash`: SHA-256 of the session token ([`TokenHash::of_token`](crate::TokenHash::of_token)).
    /// - `expires_in`: session duration; default 7 days; zero is invalid.
    /// - `ip_address`: client address.
    /// - `user_agent`: client user agent (control characters dropped, cut to 512 bytes).
    ///
    /// # Returns
    /// The session id.
    ///
    /// # Errors
    /// - [`StoreError::NotFound`](crate::StoreError::NotFound) (`user`) for an unknown user or one of another namespace.
    /// - [`StoreError::UserDisabled`](crate::StoreError::UserDisabled) for a disabled user.
    /// - [`StoreError::AlreadyExists`](crate::StoreError::AlreadyExists) (`token_hash`) when the hash is already a session.
    fn create_session(
        &self,
        user_id: UserId,
        token_hash: &TokenHash,
        expires_in: Option<Duration>,
        ip_address: Option<IpAddr>,
        user_agent: Option<&str>,
    ) -> impl Future<Output = StoreResult<SessionId>> + Send;

    /// Validate a session token: one indexed lookup, no write.
    ///
    /// # Returns
    /// The session and its user, or `None` when the session is unknown,
    /// revoked or expired, or its user is disabled.
    fn validate_session(
        &self,
        token_hash: &TokenHash,
    ) -> impl Future<Output = StoreResult<Option<ValidSession>>> + Send;

    /// Extend a session's expiry to `max(current expiry, now + extend_by)`:
    /// it never shortens a session and never revives an expired, revoked or
    /// disabled-user session.
    ///
    /// Writes `session_extended` with the old and new expiry when the expiry moved.
    ///
    /// # Parameters
    /// - `token_hash`: the session's token hash.
    /// - `extend_by`: default the session lifetime (7 days); zero is invalid.
    ///
    /// # Returns
    /// The session's expiry after the call, or `None` when the session is not valid.
    fn extend_session(
        &self,
        token_hash: &TokenHash,
        extend_by: Option<Duration>,
    ) -> impl Future<Output = StoreResult<Option<DateTime<Utc>>>> + Send;

    /// Revoke a session. Writes `session_revoked`.
    ///
    /// # Returns
    /// `true` when an active session was revoked.
    fn revoke_session(
        &self,
        token_hash: &TokenHash,
    ) -> impl Future<Output = StoreResult<bool>> + Send;

    /// Revoke a session by id, only if it belongs to `user_id` (what a
    /// "log out that device" button needs). Writes `session_revoked`.
    ///
    /// # Returns
    /// `true` when an active session of that user was revoked.
    fn revoke_session_by_id(
        &self,
        user_id: UserId,
        session_id: SessionId,
    ) -> impl Future<Output = StoreResult<bool>> + Send;

    /// Revoke all active sessions of a user. Writes `sessions_revoked_all`
    /// with the count.
    ///
    /// # Returns
    /// How many sessions were revoked.
    fn revoke_all_sessions(&self, user_id: UserId)
    -> impl Future<Output = StoreResult<u64>> + Send;

    /// List the active sessions of a user, newest first. Never returns token hashes.
    ///
    /// # Returns
    /// The sessions neither revoked nor expired.
    fn list_sessions(
        &self,
        user_id: UserId,
    ) -> impl Future<Output = StoreResult<Vec<Session>>> + Send;
}
