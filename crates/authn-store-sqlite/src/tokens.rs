//! [`TokenStore`] on SQLite.

use std::time::Duration;

use authn_core::audit::events;
use authn_core::store::TokenStore;
use authn_core::{ConsumedToken, StoreResult, TokenHash, TokenId, TokenType, UserId};
use serde_json::json;
use uuid::Uuid;

use crate::SqliteStore;
use crate::error::map_sqlx_error;
use crate::sql::{AuditRecord, Tx, micros, stored_email, time};

/// The one atomic consumption: a single conditional UPDATE, run under
/// SQLite's write lock, so a second consumer (any connection, any process)
/// runs after the first committed and finds `used_at` set. Binding checks:
/// the user is enabled and still has the address the token was issued to.
/// `?1` namespace, `?2` token hash, `?3` type, `?4` now. Uses
/// one_time_tokens_namespace_token_hash_key, then users' primary key.
const CONSUME: &str = "UPDATE one_time_tokens SET used_at = ?4
     WHERE namespace = ?1 AND token_hash = ?2 AND token_type = ?3
       AND used_at IS NULL AND expires_at > ?4
       AND EXISTS (SELECT 1 FROM users u
                   WHERE u.namespace = one_time_tokens.namespace
                     AND u.id = one_time_tokens.user_id
                     AND u.disabled_at IS NULL AND u.email = one_time_tokens.email)
     RETURNING id, user_id, email";

impl SqliteStore {
    /// Runs [`CONSUME`] in `tx`.
    async fn consume(
        &self,
        tx: &mut Tx,
        token_hash: &TokenHash,
        token_type: TokenType,
    ) -> StoreResult<Option<(Uuid, Uuid, String)>> {
        let now = tx.now;
        sqlx::query_as(CONSUME)
            .bind(self.namespace.as_str())
            .bind(token_hash.as_str())
            .bind(token_type.as_str())
            .bind(now)
            .fetch_optional(tx.conn())
            .await
            .map_err(map_sqlx_error)
    }
}

impl TokenStore for SqliteStore {
    async fn create_token(
        &self,
        user_id: UserId,
        token_hash: &TokenHash,
        token_type: TokenType,
        expires_in: Option<Duration>,
    ) -> StoreResult<TokenId> {
        let lifetime = micros(
            expires_in.unwrap_or(self.policy.token_lifetime(token_type)),
            "expires_in",
        )?;
        let id = TokenId::new();
        let mut tx = self.begin().await?;
        let now = tx.now;
        let expires_at = now + lifetime;
        let email = self.check_enabled_user(&mut tx, user_id).await?;
        // one_time_tokens_namespace_token_hash_key -> AlreadyExists(token_hash)
        sqlx::query(
            "INSERT INTO one_time_tokens (id, namespace, user_id, token_hash, token_type, email,
                                          created_at, expires_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )
        .bind(id.as_uuid())
        .bind(self.namespace.as_str())
        .bind(user_id.as_uuid())
        .bind(token_hash.as_str())
        .bind(token_type.as_str())
        .bind(&email)
        .bind(now)
        .bind(expires_at)
        .execute(tx.conn())
        .await
        .map_err(map_sqlx_error)?;
        let rec = AuditRecord::new(events::TOKEN_CREATED, "token", id).new_values(json!({
            "user_id": user_id,
            "token_type": token_type.as_str(),
            "email": email,
            "expires_at": time(expires_at)?,
        }));
        self.audit(&mut tx, rec).await?;
        tx.commit().await?;
        Ok(id)
    }

    async fn consume_token(
        &self,
        token_hash: &TokenHash,
        token_type: TokenType,
    ) -> StoreResult<Option<ConsumedToken>> {
        let mut tx = self.begin().await?;
        let Some((id, user_id, email)) = self.consume(&mut tx, token_hash, token_type).await?
        else {
            tx.commit().await?;
            return Ok(None);
        };
        let rec = AuditRecord::new(events::TOKEN_CONSUMED, "token", id).new_values(json!({
            "user_id": user_id,
            "token_type": token_type.as_str(),
        }));
        self.audit(&mut tx, rec).await?;
        tx.commit().await?;
        Ok(Some(ConsumedToken {
            token_id: TokenId::from_uuid(id),
            user_id: UserId::from_uuid(user_id),
            email: stored_email(&email)?,
        }))
    }

    async fn verify_email(&self, token_hash: &TokenHash) -> StoreResult<Option<ConsumedToken>> {
        let mut tx = self.begin().await?;
        let now = tx.now;
        let Some((id, user_id, email)) = self
            .consume(&mut tx, token_hash, TokenType::EmailVerify)
            .await?
        else {
            tx.commit().await?;
            return Ok(None);
        };
        // The address must still be the user's (checked in the same write
        // transaction, so no update_email can come in between). Primary key.
        let verified = sqlx::query(
            "UPDATE users SET email_verified_at = coalesce(email_verified_at, ?4), updated_at = ?4
             WHERE namespace = ?1 AND id = ?2 AND email = ?3 AND disabled_at IS NULL",
        )
        .bind(self.namespace.as_str())
        .bind(user_id)
        .bind(&email)
        .bind(now)
        .execute(tx.conn())
        .await
        .map_err(map_sqlx_error)?
        .rows_affected();
        let consumed = AuditRecord::new(events::TOKEN_CONSUMED, "token", id).new_values(json!({
            "user_id": user_id,
            "token_type": TokenType::EmailVerify.as_str(),
        }));
        self.audit(&mut tx, consumed).await?;
        if verified == 0 {
            // The token is spent either way: it was issued for an address
            // the user no longer has.
            tx.commit().await?;
            return Ok(None);
        }
        let rec = AuditRecord::new(events::EMAIL_VERIFIED, "user", user_id)
            .new_values(json!({ "email": email, "email_verified": true }));
        self.audit(&mut tx, rec).await?;
        tx.commit().await?;
        Ok(Some(ConsumedToken {
            token_id: TokenId::from_uuid(id),
            user_id: UserId::from_uuid(user_id),
            email: stored_email(&email)?,
        }))
    }

    async fn invalidate_tokens(&self, user_id: UserId, token_type: TokenType) -> StoreResult<u64> {
        let mut tx = self.begin().await?;
        let now = tx.now;
        // one_time_tokens_user_idx, named: without table statistics the
        // planner would rather range-scan the namespace's tokens by expiry
        let killed = sqlx::query(
            "UPDATE one_time_tokens INDEXED BY one_time_tokens_user_idx SET used_at = ?4
             WHERE namespace = ?1 AND user_id = ?2 AND token_type = ?3
               AND used_at IS NULL AND expires_at > ?4",
        )
        .bind(self.namespace.as_str())
        .bind(user_id.as_uuid())
        .bind(token_type.as_str())
        .bind(now)
        .execute(tx.conn())
        .await
        .map_err(map_sqlx_error)?
        .rows_affected();
        if killed > 0 {
            let rec = AuditRecord::new(events::TOKENS_INVALIDATED, "user", user_id)
                .new_values(json!({ "token_type": token_type.as_str(), "count": killed }));
            self.audit(&mut tx, rec).await?;
        }
        tx.commit().await?;
        Ok(killed)
    }
}
