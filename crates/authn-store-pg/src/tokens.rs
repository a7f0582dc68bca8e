//! [`TokenStore`] on PostgreSQL.

use std::time::Duration;

use authn_core::audit::events;
use authn_core::store::TokenStore;
use authn_core::{ConsumedToken, StoreResult, TokenHash, TokenId, TokenType, UserId};
use chrono::{DateTime, Utc};
use serde_json::json;
use uuid::Uuid;

use crate::PgStore;
use crate::error::map_sqlx_error;
use crate::sql::{AuditRecord, commit, micros, stored_email};

/// The one atomic consumption: the row lock taken by UPDATE makes a second
/// concurrent consumer re-check `used_at IS NULL` after the first commits
/// and find nothing. Binding checks: the user is enabled and still has the
/// address the token was issued to. Uses one_time_tokens_namespace_token_hash_key.
const CONSUME: &str = "UPDATE one_time_tokens t SET used_at = now()
     FROM users u
     WHERE t.namespace = $1 AND t.token_hash = $2 AND t.token_type = $3
       AND t.used_at IS NULL AND t.expires_at > now()
       AND u.namespace = t.namespace AND u.id = t.user_id
       AND u.disabled_at IS NULL AND u.email = t.email
     RETURNING t.id, t.user_id, t.email";

impl TokenStore for PgStore {
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
        let email = self.lock_enabled_user(&mut tx, user_id).await?;
        // one_time_tokens_namespace_token_hash_key -> AlreadyExists(token_hash)
        let expires_at: DateTime<Utc> = sqlx::query_scalar(
            "INSERT INTO one_time_tokens (id, namespace, user_id, token_hash, token_type, email, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6, now() + $7 * interval '1 microsecond')
             RETURNING expires_at",
        )
        .bind(id.as_uuid())
        .bind(self.namespace.as_str())
        .bind(user_id.as_uuid())
        .bind(token_hash.as_str())
        .bind(token_type.as_str())
        .bind(&email)
        .bind(lifetime)
        .fetch_one(&mut *tx)
        .await
        .map_err(map_sqlx_error)?;
        let rec = AuditRecord::new(events::TOKEN_CREATED, "token", id).new_values(json!({
            "user_id": user_id,
            "token_type": token_type.as_str(),
            "email": email,
            "expires_at": expires_at,
        }));
        self.audit(&mut tx, rec).await?;
        commit(tx).await?;
        Ok(id)
    }

    async fn consume_token(
        &self,
        token_hash: &TokenHash,
        token_type: TokenType,
    ) -> StoreResult<Option<ConsumedToken>> {
        let mut tx = self.begin().await?;
        let row: Option<(Uuid, Uuid, String)> = sqlx::query_as(CONSUME)
            .bind(self.namespace.as_str())
            .bind(token_hash.as_str())
            .bind(token_type.as_str())
            .fetch_optional(&mut *tx)
            .await
            .map_err(map_sqlx_error)?;
        let Some((id, user_id, email)) = row else {
            commit(tx).await?;
            return Ok(None);
        };
        let rec = AuditRecord::new(events::TOKEN_CONSUMED, "token", id).new_values(json!({
            "user_id": user_id,
            "token_type": token_type.as_str(),
        }));
        self.audit(&mut tx, rec).await?;
        commit(tx).await?;
        Ok(Some(ConsumedToken {
            token_id: TokenId::from_uuid(id),
            user_id: UserId::from_uuid(user_id),
            email: stored_email(&email)?,
        }))
    }

    async fn verify_email(&self, token_hash: &TokenHash) -> StoreResult<Option<ConsumedToken>> {
        let mut tx = self.begin().await?;
        let row: Option<(Uuid, Uuid, String)> = sqlx::query_as(CONSUME)
            .bind(self.namespace.as_str())
            .bind(token_hash.as_str())
            .bind(TokenType::EmailVerify.as_str())
            .fetch_optional(&mut *tx)
            .await
            .map_err(map_sqlx_error)?;
        let Some((id, user_id, email)) = row else {
            commit(tx).await?;
            return Ok(None);
        };
        // The address must still be the user's (re-checked under the row
        // lock, so a concurrent update_email cannot slip in between).
        let verified = sqlx::query(
            "UPDATE users SET email_verified_at = COALESCE(email_verified_at, now()), updated_at = now()
             WHERE namespace = $1 AND id = $2 AND email = $3 AND disabled_at IS NULL",
        )
        .bind(self.namespace.as_str())
        .bind(user_id)
        .bind(&email)
        .execute(&mut *tx)
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
            commit(tx).await?;
            return Ok(None);
        }
        let rec = AuditRecord::new(events::EMAIL_VERIFIED, "user", user_id)
            .new_values(json!({ "email": email, "email_verified": true }));
        self.audit(&mut tx, rec).await?;
        commit(tx).await?;
        Ok(Some(ConsumedToken {
            token_id: TokenId::from_uuid(id),
            user_id: UserId::from_uuid(user_id),
            email: stored_email(&email)?,
        }))
    }

    async fn invalidate_tokens(&self, user_id: UserId, token_type: TokenType) -> StoreResult<u64> {
        let mut tx = self.begin().await?;
        // one_time_tokens_unused_idx
        let killed = sqlx::query(
            "UPDATE one_time_tokens SET used_at = now()
             WHERE namespace = $1 AND user_id = $2 AND token_type = $3
               AND used_at IS NULL AND expires_at > now()",
        )
        .bind(self.namespace.as_str())
        .bind(user_id.as_uuid())
        .bind(token_type.as_str())
        .execute(&mut *tx)
        .await
        .map_err(map_sqlx_error)?
        .rows_affected();
        if killed > 0 {
            let rec = AuditRecord::new(events::TOKENS_INVALIDATED, "user", user_id)
                .new_values(json!({ "token_type": token_type.as_str(), "count": killed }));
            self.audit(&mut tx, rec).await?;
        }
        commit(tx).await?;
        Ok(killed)
    }
}
