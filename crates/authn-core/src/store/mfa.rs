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

    /// Check whether a user has any MFA method.
    ///
    /// # Returns
    /// `true` when at least one method exists.
    fn has_mfa(&self, user_id: UserId) -> impl Future<Output = StoreResult<bool>> + Send;
}
