use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::error::StoreResult;
use crate::ids::{SessionId, UserId};
use crate::model::{MfaReservation, NewSession, Session, SessionUpgrade, ValidSession};
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

    /// Create a session with its authentication context: partial or full,
    /// `amr`, `acr`, and `mfa_at` = now when a second factor was just passed.
    /// `auth_time` is now. Same checks and audit as `create_session`. With
    /// [`NewSession::concludes`](crate::NewSession::concludes), the login
    /// attempt is finished as a success in the same transaction (no audit
    /// event of its own, as `finish_login_attempt` writes none for a
    /// success); on any error neither is written.
    ///
    /// # Parameters
    /// - `new`: the session to create.
    ///
    /// # Returns
    /// The session id.
    ///
    /// # Errors
    /// As `create_session`, and
    /// [`StoreError::NotFound`](crate::StoreError::NotFound) (`login_attempt`) when
    /// `concludes` names an attempt that is no longer open (finished,
    /// cancelled, cleared or cleaned up).
    fn create_session_with(
        &self,
        new: &NewSession,
    ) -> impl Future<Output = StoreResult<SessionId>> + Send;

    /// Write a login's session ahead of the verdict that decides it, so
    /// that after a right password little more than a commit is left to
    /// wait for. The flows call it beside the password hash (once the
    /// hash has a thread) with a session that concludes a reserved attempt
    /// ([`NewSession::concludes`](crate::NewSession::concludes)); then,
    /// with the verdict, [`PreparedSession::commit`] (right password) or
    /// [`PreparedSession::abort`] (anything else).
    ///
    /// Until its commit, the session is invisible to every other call (not
    /// valid, not listed, not counted, its attempt still open) and holds
    /// up none of them: not a disable, deletion or email change of its
    /// user, which its commit then respects, nor another attempt of the
    /// subject. The call returns at once; the writing goes on beside the
    /// hash, so that a wrong password, which only aborts, answers after
    /// the same work as an unknown email. A store that cannot keep a
    /// transaction open that long without holding others up (one writer
    /// at a time) keeps the default, which writes nothing here and does
    /// all of `create_session_with`'s work at the commit.
    ///
    /// # Parameters
    /// - `new`: the session to create, as for `create_session_with`.
    ///
    /// # Returns
    /// The prepared session: dropped without a commit, it is aborted.
    ///
    /// # Errors
    /// Those of `create_session_with`, here or at the commit.
    fn prepare_session(
        &self,
        new: &NewSession,
    ) -> impl Future<Output = StoreResult<PreparedSession>> + Send {
        let new = new.clone();
        async move { Ok(PreparedSession::deferred(new)) }
    }

    /// Replace a valid session by a new one (no fixation): in one
    /// transaction the old session is revoked and a full session is created
    /// for the same user and client, keeping `auth_time`, joining `amr`,
    /// taking the new `acr`, with `mfa_at` = now and a fresh lifetime. Of
    /// concurrent rotations of one session exactly one succeeds.
    ///
    /// Writes `session_rotated`.
    ///
    /// # Parameters
    /// - `old`: the token hash of the session to replace.
    /// - `new`: the token hash of the new session.
    /// - `upgrade`: methods and context class the second factor adds.
    ///
    /// # Returns
    /// The new session id, or `None` when `old` is not a valid session.
    ///
    /// # Errors
    /// - [`StoreError::AlreadyExists`](crate::StoreError::AlreadyExists) (`token_hash`) when `new` is taken.
    fn rotate_session(
        &self,
        old: &TokenHash,
        new: &TokenHash,
        upgrade: &SessionUpgrade,
    ) -> impl Future<Output = StoreResult<Option<SessionId>>> + Send;

    /// Record a second factor passed on a full session (step-up): `mfa_at` =
    /// now, methods joined to `amr`, the new `acr`. Writes `session_stepped_up`.
    ///
    /// # Returns
    /// The new `mfa_at`, or `None` when the session is not valid or partial.
    fn step_up_session(
        &self,
        token_hash: &TokenHash,
        upgrade: &SessionUpgrade,
    ) -> impl Future<Output = StoreResult<Option<DateTime<Utc>>>> + Send;

    /// Take one of a session's second-factor attempts before checking a
    /// code. Attempts are counted on the session row, so of N parallel codes
    /// on one session at most `max` are checked.
    ///
    /// # Parameters
    /// - `token_hash`: the session.
    /// - `max`: attempts a session may use (wrong codes plus codes being checked).
    ///
    /// # Returns
    /// Whether a slot was taken, the session is exhausted, or there is no valid session.
    fn reserve_session_mfa_attempt(
        &self,
        token_hash: &TokenHash,
        max: u32,
    ) -> impl Future<Output = StoreResult<MfaReservation>> + Send;

    /// Finish a reserved second-factor attempt: a right code gives the slot
    /// back; a wrong code keeps it, and when the session has used all `max`
    /// attempts it is revoked (writes `session_mfa_exhausted`).
    ///
    /// # Returns
    /// `true` when the session was revoked by this call.
    fn finish_session_mfa_attempt(
        &self,
        token_hash: &TokenHash,
        success: bool,
        max: u32,
    ) -> impl Future<Output = StoreResult<bool>> + Send;

    /// Revoke every active session of a user except one (password change).
    /// Writes `sessions_revoked_all` with the count and the kept session.
    ///
    /// # Returns
    /// How many sessions were revoked.
    fn revoke_other_sessions(
        &self,
        user_id: UserId,
        keep: SessionId,
    ) -> impl Future<Output = StoreResult<u64>> + Send;

    /// Validate a session token: one indexed lookup, no write.
    ///
    /// # Returns
    /// The session, its user and its authentication context, or `None` when
    /// the session is unknown, revoked or expired, or its user is disabled.
    /// A partial session is returned with `partial: true`: callers must
    /// refuse it everywhere but the second-factor routes.
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

/// A future a store hands back behind a box: [`HeldSession`]'s methods
/// cannot be `async fn` and still be called on a `Box<dyn HeldSession>`.
pub type StoreFuture<T> = Pin<Box<dyn Future<Output = StoreResult<T>> + Send>>;

/// A session written ahead of its verdict, from
/// [`SessionStore::prepare_session`]. End it with [`commit`](Self::commit)
/// (right password) or [`abort`](Self::abort) (anything else); dropping it
/// aborts it too.
pub struct PreparedSession(Prepared);

enum Prepared {
    /// Nothing written yet: the commit creates the session.
    Deferred(NewSession),
    /// Being written, or written, in a transaction the store keeps open.
    Held(Box<dyn HeldSession>),
}

impl std::fmt::Debug for PreparedSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self.0 {
            Prepared::Deferred(_) => "PreparedSession::Deferred",
            Prepared::Held(_) => "PreparedSession::Held",
        })
    }
}

/// A store's transaction writing a session for
/// [`SessionStore::prepare_session`], open until the verdict: the session
/// and its audit event written, nothing locked that others wait for.
/// Dropped without a commit, the store rolls it back, without keeping the
/// dropping caller waiting.
pub trait HeldSession: Send {
    /// Commits: the session exists from now on, and the attempt it
    /// concludes is finished as a success, unless the user was disabled
    /// or deleted or the attempt closed meanwhile (the errors of
    /// `create_session_with`, nothing written then).
    fn commit(self: Box<Self>) -> StoreFuture<SessionId>;
}

impl PreparedSession {
    /// A prepared session with nothing written: [`commit`](Self::commit)
    /// calls `create_session_with`. What stores that do not write ahead
    /// return.
    pub fn deferred(new: NewSession) -> Self {
        Self(Prepared::Deferred(new))
    }

    /// A prepared session written in a transaction `held` keeps open.
    pub fn held(held: Box<dyn HeldSession>) -> Self {
        Self(Prepared::Held(held))
    }

    /// Whether the session is written ahead, in a transaction the store
    /// holds open until the verdict; `false` when it is written at the
    /// commit.
    pub fn is_written_ahead(&self) -> bool {
        matches!(self.0, Prepared::Held(_))
    }

    /// Commits the session (and the attempt it concludes, as a success)
    /// on `store`, the store that prepared it.
    ///
    /// # Errors
    /// Those of `create_session_with`.
    pub async fn commit<S: SessionStore>(self, store: &S) -> StoreResult<SessionId> {
        match self.0 {
            Prepared::Deferred(new) => store.create_session_with(&new).await,
            Prepared::Held(held) => held.commit().await,
        }
    }

    /// Drops the session, leaving the attempt it concludes open: the
    /// store rolls its writes back on its own time, so this returns at
    /// once.
    pub fn abort(self) {
        drop(self);
    }
}
