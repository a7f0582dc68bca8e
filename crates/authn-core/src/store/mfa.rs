use std::future::Future;

use crate::error::StoreResult;
use crate::ids::{MfaId, UserId};
use crate::model::{MfaCredential, MfaMethod, MfaType};
use crate::secret::MfaSecret;

/// MFA methods of users (TOTP, WebAuthn, recovery codes). The store keeps
/// secrets as given; the flows encrypt TOTP secrets and hash recovery codes
/// before they get here.
pub trait MfaStore: Send + Sync {
    /// Add an MFA method for a user. Writes `mfa_added` (type and name, never the secret).
    ///
    /// # Parameters
    /// - `user_id`: the user; must exist in this namespace.
    /// - `mfa_type`: `totp`, `webauthn` or `recovery_codes`.
    /// - `secret`: the method's secret (at most 65536 bytes).
    /// - `name`: optional friendly name (at most 256 bytes).
    ///
    /// # Returns
    /// The MFA method id.
    ///
    /// # Errors
    /// - [`StoreError::NotFound`](crate::StoreError::NotFound) (`user`).
    /// - [`StoreError::InvalidInput`](crate::StoreError::InvalidInput) naming `name`.
    fn add_mfa(
        &self,
        user_id: UserId,
        mfa_type: MfaType,
        secret: &MfaSecret,
        name: Option<&str>,
    ) -> impl Future<Output = StoreResult<MfaId>> + Send;

    /// Get a user's MFA methods of one type with their secrets, oldest
    /// first, for verification only.
    ///
    /// # Returns
    /// The methods with secrets (empty when none).
    fn get_mfa(
        &self,
        user_id: UserId,
        mfa_type: MfaType,
    ) -> impl Future<Output = StoreResult<Vec<MfaCredential>>> + Send;

    /// List a user's MFA methods, oldest first. Does NOT return secrets.
    ///
    /// # Returns
    /// id, type, name, created_at and last_used_at of each method.
    fn list_mfa(&self, user_id: UserId)
    -> impl Future<Output = StoreResult<Vec<MfaMethod>>> + Send;

    /// Remove an MFA method. Atomic: of concurrent removals of one method
    /// exactly one returns `true` (how single-use recovery codes are spent).
    /// Writes `mfa_removed`.
    ///
    /// # Returns
    /// `true` when the method existed and was removed.
    fn remove_mfa(&self, mfa_id: MfaId) -> impl Future<Output = StoreResult<bool>> + Send;

    /// Record that an MFA method was used (sets `last_used_at`). Writes `mfa_used`.
    ///
    /// # Returns
    /// `true` when the method exists.
    fn record_mfa_use(&self, mfa_id: MfaId) -> impl Future<Output = StoreResult<bool>> + Send;

    /// Start an MFA enrollment: add an unconfirmed method, replacing any
    /// pending (unconfirmed) method of the same type of that user. A pending
    /// method does not count as MFA being enabled. Writes `mfa_added`.
    ///
    /// # Parameters
    /// - `user_id`, `mfa_type`, `secret`, `name`: as `add_mfa`.
    ///
    /// # Returns
    /// The pending method's id.
    ///
    /// # Errors
    /// As `add_mfa`.
    fn add_pending_mfa(
        &self,
        user_id: UserId,
        mfa_type: MfaType,
        secret: &MfaSecret,
        name: Option<&str>,
    ) -> impl Future<Output = StoreResult<MfaId>> + Send;

    /// Confirm a pending method (exactly once), recording the TOTP time step
    /// that confirmed it so that step cannot be replayed. Writes `mfa_confirmed`.
    ///
    /// # Parameters
    /// - `mfa_id`: the pending method.
    /// - `step`: the accepted TOTP step, if any.
    ///
    /// # Returns
    /// `true` when a pending method was confirmed by this call.
    fn confirm_mfa(
        &self,
        mfa_id: MfaId,
        step: Option<u64>,
    ) -> impl Future<Output = StoreResult<bool>> + Send;

    /// Accept a TOTP time step for a confirmed method, only if it is later
    /// than every step accepted before: a code once accepted is never
    /// accepted again, also when submitted concurrently (one atomic
    /// update). Sets `last_used_at`; writes `mfa_used`.
    ///
    /// # Returns
    /// `true` when the step was accepted.
    fn accept_totp_step(
        &self,
        mfa_id: MfaId,
        step: u64,
    ) -> impl Future<Output = StoreResult<bool>> + Send;

    /// Replace all recovery codes of a user by a new set (hashes), in one
    /// transaction. Writes `recovery_codes_replaced` with the count.
    ///
    /// # Parameters
    /// - `user_id`: the user.
    /// - `code_hashes`: the hashes of the new codes.
    ///
    /// # Returns
    /// How many codes were stored.
    fn replace_recovery_codes(
        &self,
        user_id: UserId,
        code_hashes: &[MfaSecret],
    ) -> impl Future<Output = StoreResult<u64>> + Send;

    /// Spend a recovery code: deletes the user's code with this hash, so of
    /// concurrent uses exactly one succeeds. Writes `recovery_code_used`.
    ///
    /// # Returns
    /// `true` when the code existed and is now spent.
    fn consume_recovery_code(
        &self,
        user_id: UserId,
        code_hash: &MfaSecret,
    ) -> impl Future<Output = StoreResult<bool>> + Send;

    /// Remove every MFA method of a user, pending ones included (disable
    /// MFA, admin reset). Writes `mfa_reset` with the count.
    ///
    /// # Returns
    /// How many methods were removed.
    fn remove_all_mfa(&self, user_id: UserId) -> impl Future<Output = StoreResult<u64>> + Send;

    /// Check whether a user has any confirmed MFA method.
    ///
    /// # Returns
    /// `true` when at least one confirmed method exists.
    fn has_mfa(&self, user_id: UserId) -> impl Future<Output = StoreResult<bool>> + Send;
}
