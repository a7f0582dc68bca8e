use std::future::Future;

use crate::error::StoreResult;
use crate::ids::AdminKeyId;
use crate::model::AdminKey;
use crate::secret::TokenHash;

/// Admin API keys of a namespace: only their SHA-256 is stored; the key
/// itself is shown once, when it is made.
pub trait AdminKeyStore: Send + Sync {
    /// Store a new admin key. Writes `admin_key_created` (name only).
    ///
    /// # Parameters
    /// - `name`: a label (1..=256 bytes, no control characters).
    /// - `key_hash`: SHA-256 of the key.
    ///
    /// # Returns
    /// The stored key (without its hash).
    ///
    /// # Errors
    /// - [`StoreError::InvalidInput`](crate::StoreError::InvalidInput) naming `name`.
    /// - [`StoreError::AlreadyExists`](crate::StoreError::AlreadyExists) (`key_hash`).
    fn create_admin_key(
        &self,
        name: &str,
        key_hash: &TokenHash,
    ) -> impl Future<Output = StoreResult<AdminKey>> + Send;

    /// List the admin keys of this namespace, oldest first, revoked ones included.
    ///
    /// # Returns
    /// The keys (never their hashes).
    fn list_admin_keys(&self) -> impl Future<Output = StoreResult<Vec<AdminKey>>> + Send;

    /// Revoke an admin key. Writes `admin_key_revoked`.
    ///
    /// # Returns
    /// `true` when an active key was revoked.
    fn revoke_admin_key(&self, id: AdminKeyId) -> impl Future<Output = StoreResult<bool>> + Send;

    /// Find the active admin key with this hash (one indexed lookup).
    ///
    /// # Returns
    /// The key, or `None` when unknown or revoked.
    fn find_admin_key(
        &self,
        key_hash: &TokenHash,
    ) -> impl Future<Output = StoreResult<Option<AdminKey>>> + Send;
}
