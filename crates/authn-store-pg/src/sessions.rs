//! [`SessionStore`] on PostgreSQL.

use std::net::IpAddr;
use std::time::Duration;

use authn_core::audit::events;
use authn_core::model::clean_user_agent;
use authn_core::store::SessionStore;
use authn_core::{Session, SessionId, StoreError, StoreResult, TokenHash, UserId, ValidSession};
use chrono::{DateTime, Utc};
use serde_json::json;
use uuid::Uuid;

use crate::PgStore;
use crate::error::map_sqlx_error;
use crate::sql::{AuditRecord, Tx, commit, micros, stored_email};

impl PgStore {
    /// Locks the user row against a concurrent disable (FOR SHARE conflicts
    /// with the disabling UPDATE) and checks the user may get new
    /// credentials. Returns the user's current email.
    pub(crate) async fn lock_enabled_user(
        &self,
        tx: &mut Tx,
        user_id: UserId,
    ) -> StoreResult<String> {
        // primary key
        let row: Option<(String, Option<DateTime<Utc>>)> = sqlx::query_as(
            "SELECT email, disabled_at FROM users WHERE namespace = $1 AND id = $2 FOR SHARE",
        )
        .bind(self.namespace.as_str())
        .bind(user_id.as_uuid())
        .fetch_optional(&mut **tx)
        .await
        .map_err(map_sqlx_error)?;
        match row {
            None => Err(StoreError::NotFound { entity: "user" }),
            Some((_, Some(_))) => Err(StoreError::UserDisabled),
            Some((email, None)) => Ok(email),
        }
    }
}

#[derive(sqlx::FromRow)]
struct ValidRow {
    session_id: Uuid,
    user_id: Uuid,
    email: String,
    email_verified_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct SessionRow {
    id: Uuid,
    user_id: Uuid,
    created_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    ip_address: Option<IpAddr>,
    user_agent: Option<String>,
}

impl SessionStore for PgStore {
    async fn create_session(
        &self,
        user_id: UserId,
        token_hash: &TokenHash,
        expires_in: Option<Duration>,
        ip_address: Option<IpAddr>,
        user_agent: Option<&str>,
    ) -> StoreResult<SessionId> {
        let lifetime = micros(
            expires_in.unwrap_or(self.policy.session_lifetime),
            "expires_in",
        )?;
        let user_agent = user_agent.and_then(clean_user_agent);
        let id = SessionId::new();
        let mut tx = self.begin().await?;
        self.lock_enabled_user(&mut tx, user_id).await?;
        // sessions_namespace_token_hash_key -> AlreadyExists(token_hash)
        let expires_at: DateTime<Utc> = sqlx::query_scalar(
            "INSERT INTO sessions (id, namespace, user_id, token_hash, expires_at, ip_address, user_agent)
             VALUES ($1, $2, $3, $4, now() + $5 * interval '1 microsecond', $6, $7)
             RETURNING expires_at",
        )
        .bind(id.as_uuid())
        .bind(self.namespace.as_str())
        .bind(user_id.as_uuid())
        .bind(token_hash.as_str())
        .bind(lifetime)
        .bind(ip_address)
        .bind(user_agent.as_deref())
        .fetch_one(&mut *tx)
        .await
        .map_err(map_sqlx_error)?;
        let rec = AuditRecord::new(events::SESSION_CREATED, "session", id).new_values(json!({
            "user_id": user_id,
            "expires_at": expires_at,
            "ip_address": ip_address,
            "user_agent": user_agent,
        }));
        self.audit(&mut tx, rec).await?;
        commit(tx).await?;
        Ok(id)
    }

    async fn validate_session(&self, token_hash: &TokenHash) -> StoreResult<Option<ValidSession>> {
        // One round trip: the function sets the namespace for this statement
        // and does the lookup on sessions_namespace_token_hash_key.
        let row: Option<ValidRow> = sqlx::query_as(
            "SELECT session_id, user_id, email, email_verified_at, created_at, expires_at
             FROM authn_validate_session($1, $2)",
        )
        .bind(self.namespace.as_str())
        .bind(token_hash.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(map_sqlx_error)?;
        row.map(|r| {
            Ok(ValidSession {
                session_id: SessionId::from_uuid(r.session_id),
                user_id: UserId::from_uuid(r.user_id),
                email: stored_email(&r.email)?,
                email_verified: r.email_verified_at.is_some(),
                created_at: r.created_at,
                expires_at: r.expires_at,
            })
        })
        .transpose()
    }

    async fn extend_session(
        &self,
        token_hash: &TokenHash,
        extend_by: Option<Duration>,
    ) -> StoreResult<Option<DateTime<Utc>>> {
        let by = micros(
            extend_by.unwrap_or(self.policy.session_lifetime),
            "extend_by",
        )?;
        let mut tx = self.begin().await?;
        // sessions_namespace_token_hash_key; the row lock makes a concurrent
        // revoke either win (we see it revoked) or wait for us.
        let row: Option<(Uuid, DateTime<Utc>, DateTime<Utc>)> = sqlx::query_as(
            "WITH cur AS (
                 SELECT s.id, s.expires_at
                 FROM sessions s
                 JOIN users u ON u.namespace = s.namespace AND u.id = s.user_id
                 WHERE s.namespace = $1 AND s.token_hash = $2
                   AND s.revoked_at IS NULL AND s.expires_at > now()
                   AND u.disabled_at IS NULL
                 FOR UPDATE OF s
             )
             UPDATE sessions s
             SET expires_at = GREATEST(cur.expires_at, now() + $3 * interval '1 microsecond')
             FROM cur WHERE s.id = cur.id
             RETURNING s.id, cur.expires_at, s.expires_at",
        )
        .bind(self.namespace.as_str())
        .bind(token_hash.as_str())
        .bind(by)
        .fetch_optional(&mut *tx)
        .await
        .map_err(map_sqlx_error)?;
        let Some((id, old, new)) = row else {
            commit(tx).await?;
            return Ok(None);
        };
        if new != old {
            let rec = AuditRecord::new(events::SESSION_EXTENDED, "session", id)
                .old(json!({ "expires_at": old }))
                .new_values(json!({ "expires_at": new }));
            self.audit(&mut tx, rec).await?;
        }
        commit(tx).await?;
        Ok(Some(new))
    }

    async fn revoke_session(&self, token_hash: &TokenHash) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        // sessions_namespace_token_hash_key
        let row: Option<(Uuid, Uuid)> = sqlx::query_as(
            "UPDATE sessions SET revoked_at = now()
             WHERE namespace = $1 AND token_hash = $2 AND revoked_at IS NULL AND expires_at > now()
             RETURNING id, user_id",
        )
        .bind(self.namespace.as_str())
        .bind(token_hash.as_str())
        .fetch_optional(&mut *tx)
        .await
        .map_err(map_sqlx_error)?;
        if let Some((id, user_id)) = row {
            let rec = AuditRecord::new(events::SESSION_REVOKED, "session", id)
                .new_values(json!({ "user_id": user_id }));
            self.audit(&mut tx, rec).await?;
        }
        commit(tx).await?;
        Ok(row.is_some())
    }

    async fn revoke_session_by_id(
        &self,
        user_id: UserId,
        session_id: SessionId,
    ) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        // primary key
        let changed = sqlx::query(
            "UPDATE sessions SET revoked_at = now()
             WHERE namespace = $1 AND id = $2 AND user_id = $3
               AND revoked_at IS NULL AND expires_at > now()",
        )
        .bind(self.namespace.as_str())
        .bind(session_id.as_uuid())
        .bind(user_id.as_uuid())
        .execute(&mut *tx)
        .await
        .map_err(map_sqlx_error)?
        .rows_affected();
        if changed > 0 {
            let rec = AuditRecord::new(events::SESSION_REVOKED, "session", session_id)
                .new_values(json!({ "user_id": user_id }));
            self.audit(&mut tx, rec).await?;
        }
        commit(tx).await?;
        Ok(changed > 0)
    }

    async fn revoke_all_sessions(&self, user_id: UserId) -> StoreResult<u64> {
        let mut tx = self.begin().await?;
        // sessions_user_idx
        let revoked = sqlx::query(
            "UPDATE sessions SET revoked_at = now()
             WHERE namespace = $1 AND user_id = $2 AND revoked_at IS NULL AND expires_at > now()",
        )
        .bind(self.namespace.as_str())
        .bind(user_id.as_uuid())
        .execute(&mut *tx)
        .await
        .map_err(map_sqlx_error)?
        .rows_affected();
        if revoked > 0 {
            let rec = AuditRecord::new(events::SESSIONS_REVOKED_ALL, "user", user_id)
                .new_values(json!({ "revoked": revoked }));
            self.audit(&mut tx, rec).await?;
        }
        commit(tx).await?;
        Ok(revoked)
    }

    async fn list_sessions(&self, user_id: UserId) -> StoreResult<Vec<Session>> {
        // sessions_user_idx (already in newest-first order)
        let rows: Vec<SessionRow> = self
            .read_all(
                sqlx::query_as(
                    "SELECT id, user_id, created_at, expires_at, ip_address, user_agent
             FROM sessions
             WHERE namespace = $1 AND user_id = $2 AND revoked_at IS NULL AND expires_at > now()
             ORDER BY created_at DESC, id DESC",
                )
                .bind(self.namespace.as_str())
                .bind(user_id.as_uuid()),
            )
            .await?;
        Ok(rows
            .into_iter()
            .map(|r| Session {
                id: SessionId::from_uuid(r.id),
                user_id: UserId::from_uuid(r.user_id),
                created_at: r.created_at,
                expires_at: r.expires_at,
                ip_address: r.ip_address,
                user_agent: r.user_agent,
            })
            .collect())
    }
}
