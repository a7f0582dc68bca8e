use std::future::Future;

use crate::error::StoreResult;
use crate::ids::UserId;
use crate::model::{Credentials, NewUser, Page, ProfileUpdate, User};
use crate::secret::PasswordHash;

/// Users: creation, lookup, email and password changes, disable/enable,
/// deletion and keyset-paginated listing.
pub trait UserStore: Send + Sync {
    /// Create a new user.
    ///
    /// Writes a `user_created` audit event (with the email, never the hash).
    ///
    /// # Parameters
    /// - `email`: the user's address; trimmed and lower-cased, must look like
    ///   `local@domain`, at most 1024 bytes.
    /// - `password_hash`: a PHC password hash, or `None` for SSO/passwordless users.
    ///
    /// # Returns
    /// The new user's id (UUID v7, so ids sort in creation order).
    ///
    /// # Errors
    /// - [`StoreError::AlreadyExists`](crate::StoreError::AlreadyExists) (`email`) when the address is taken in this namespace.
    /// - [`StoreError::InvalidInput`](crate::StoreError::InvalidInput) naming `email` when it is malformed.
    ///
    /// # Example
    /// ```no_run
    /// # use authn_core::store::UserStore;
    /// # async fn f(store: impl UserStore) -> Result<(), authn_core::StoreError> {
    /// let hash = authn_core::PasswordHash::parse("$argon2id$v=19$m=19456,t=2,p=1$...")?;
    /// let user_id = store.create_user("Alice@Example.com", Some(&hash)).await?;
    /// # Ok(()) }
    /// ```
    fn create_user(
        &self,
        email: &str,
        password_hash: Option<&PasswordHash>,
    ) -> impl Future<Output = StoreResult<UserId>> + Send;

    /// Create a user with a display name and, for admin creation, an
    /// already verified address. Same checks and audit as `create_user`.
    ///
    /// # Parameters
    /// - `new`: email, optional password hash, optional name, whether verified.
    ///
    /// # Returns
    /// The new user's id.
    ///
    /// # Errors
    /// - [`StoreError::AlreadyExists`](crate::StoreError::AlreadyExists) (`email`).
    /// - [`StoreError::InvalidInput`](crate::StoreError::InvalidInput) naming `email` or `name`.
    fn create_user_with(&self, new: &NewUser) -> impl Future<Output = StoreResult<UserId>> + Send;

    /// Change a user's display name and/or verification flag. Writes
    /// `user_profile_updated` with the old and new values when anything changed.
    ///
    /// # Parameters
    /// - `user_id`: the user.
    /// - `update`: the fields to change (`None` leaves a field alone).
    ///
    /// # Returns
    /// `true` when the user exists.
    ///
    /// # Errors
    /// - [`StoreError::InvalidInput`](crate::StoreError::InvalidInput) naming `name`.
    fn update_profile(
        &self,
        user_id: UserId,
        update: &ProfileUpdate,
    ) -> impl Future<Output = StoreResult<bool>> + Send;

    /// Get a user by id. Does not return the password hash.
    ///
    /// # Returns
    /// The user, or `None` when no such user exists in this namespace.
    fn get_user(&self, user_id: UserId) -> impl Future<Output = StoreResult<Option<User>>> + Send;

    /// Get a user by email (normalised before lookup). Does not return the
    /// password hash.
    ///
    /// # Returns
    /// The user, or `None`.
    ///
    /// # Errors
    /// - [`StoreError::InvalidInput`](crate::StoreError::InvalidInput) naming `email` when it is malformed.
    fn get_user_by_email(
        &self,
        email: &str,
    ) -> impl Future<Output = StoreResult<Option<User>>> + Send;

    /// Update a user's email. Clears `email_verified_at`; one-time tokens
    /// issued to the old address stop working (they are bound to it).
    ///
    /// Writes `user_email_updated` with the old and new address.
    ///
    /// # Returns
    /// `true` when the user exists (and the address changed or stayed).
    ///
    /// # Errors
    /// - [`StoreError::AlreadyExists`](crate::StoreError::AlreadyExists) (`email`) when another user has the address.
    /// - [`StoreError::InvalidInput`](crate::StoreError::InvalidInput) naming `new_email`.
    fn update_email(
        &self,
        user_id: UserId,
        new_email: &str,
    ) -> impl Future<Output = StoreResult<bool>> + Send;

    /// Disable a user: in the same transaction, revoke every active session
    /// and invalidate every unused one-time token, so nothing issued before
    /// the disable works after a later `enable_user`.
    ///
    /// Writes `user_disabled` with the counts of sessions and tokens killed.
    ///
    /// # Returns
    /// `true` only on the enabled -> disabled transition.
    fn disable_user(&self, user_id: UserId) -> impl Future<Output = StoreResult<bool>> + Send;

    /// Re-enable a disabled user.
    ///
    /// # Returns
    /// `true` only on the disabled -> enabled transition.
    fn enable_user(&self, user_id: UserId) -> impl Future<Output = StoreResult<bool>> + Send;

    /// Permanently delete a user with their sessions, tokens and MFA methods.
    /// Audit events and login attempts stay.
    ///
    /// # Returns
    /// `true` when a user was deleted.
    fn delete_user(&self, user_id: UserId) -> impl Future<Output = StoreResult<bool>> + Send;

    /// List users in creation order with keyset pagination (never OFFSET, so
    /// deep pages cost the same as the first).
    ///
    /// # Parameters
    /// - `limit`: page size; default 100, clamped to 1..=1000; 0 is invalid.
    /// - `cursor`: `next_cursor` of the previous page, or `None` for the first page.
    ///
    /// # Returns
    /// A [`Page`](crate::Page) of users and the cursor of the next page (`None` on the last).
    ///
    /// # Errors
    /// - [`StoreError::InvalidInput`](crate::StoreError::InvalidInput) naming `limit` or `cursor`.
    fn list_users(
        &self,
        limit: Option<u32>,
        cursor: Option<&str>,
    ) -> impl Future<Output = StoreResult<Page<User>>> + Send;

    /// Get credentials for login verification: the only read that returns a
    /// password hash.
    ///
    /// # Returns
    /// The user id, password hash (`None` for passwordless users) and
    /// `disabled_at`, or `None` when no user has this email.
    ///
    /// # Errors
    /// - [`StoreError::InvalidInput`](crate::StoreError::InvalidInput) naming `email` when it is malformed.
    fn get_credentials(
        &self,
        email: &str,
    ) -> impl Future<Output = StoreResult<Option<Credentials>>> + Send;

    /// Replace a user's password hash. Writes `password_updated` (no hash in
    /// the audit values). Revoking sessions is the caller's choice (the flows
    /// do it).
    ///
    /// # Returns
    /// `true` when the user exists.
    fn update_password(
        &self,
        user_id: UserId,
        new_password_hash: &PasswordHash,
    ) -> impl Future<Output = StoreResult<bool>> + Send;
}
