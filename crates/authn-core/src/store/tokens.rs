use std::future::Future;
use std::time::Duration;

use crate::error::StoreResult;
use crate::ids::{TokenId, UserId};
use crate::model::{ConsumedToken, TokenType};
use crate::secret::TokenHash;

/// One-time tokens: password reset, email verification and magic link.
pub trait TokenStore: Send + Sync {
    /// Create a one-time token, bound to the user's current email address:
    /// after an email change it no longer works.
    ///
    /// Writes `token_created` (type and expiry, never the hash).
    ///
    /// # Parameters
    /// - `user_id`: the token's user; must exist and be enabled.
    /// - `token_hash`: SHA-256 of the token sent to the user.
    /// - `token_type`: `password_reset`, `email_verify` or `magic_link`.
    /// - `expires_in`: lifetime; default 1 hour, 24 hours and 15 minutes
    ///   respectively; zero is invalid.
    ///
    /// # Returns
    /// The token id.
    ///
    /// # Errors
    /// - [`StoreError::NotFound`](crate::StoreError::NotFound) (`user`), [`StoreError::UserDisabled`](crate::StoreError::UserDisabled).
    /// - [`StoreError::AlreadyExists`](crate::StoreError::AlreadyExists) (`token_hash`).
    fn create_token(
        &self,
        user_id: UserId,
        token_hash: &TokenHash,
        token_type: TokenType,
        expires_in: Option<Duration>,
    ) -> impl Future<Output = StoreResult<TokenId>> + Send;

    /// Consume a one-time token, exactly once: a single atomic statement, so
    /// of any number of concurrent consumers exactly one succeeds. A token of
    /// another type is not used up; a disabled user's token, an expired one,
    /// and one issued to an address the user no longer has do not consume.
    ///
    /// Writes `token_consumed`.
    ///
    /// # Returns
    /// The token's user and email, or `None`.
    fn consume_token(
        &self,
        token_hash: &TokenHash,
        token_type: TokenType,
    ) -> impl Future<Output = StoreResult<Option<ConsumedToken>>> + Send;

    /// Verify an email address with an `email_verify` token: consumes the
    /// token and sets `email_verified_at`, only while the user still has the
    /// address the token was issued for.
    ///
    /// Writes `token_consumed` and `email_verified`.
    ///
    /// # Returns
    /// The user and the verified address, or `None`.
    fn verify_email(
        &self,
        token_hash: &TokenHash,
    ) -> impl Future<Output = StoreResult<Option<ConsumedToken>>> + Send;

    /// Invalidate all unused tokens of a type for a user (e.g. older reset
    /// links when a new one is sent). Writes `tokens_invalidated` with the count.
    ///
    /// # Returns
    /// How many tokens were invalidated.
    fn invalidate_tokens(
        &self,
        user_id: UserId,
        token_type: TokenType,
    ) -> impl Future<Output = StoreResult<u64>> + Send;
}
