//! [`MfaStore`] on PostgreSQL.

use authn_core::audit::events;
use authn_core::model::clean_label;
use authn_core::store::MfaStore;
use authn_core::{
    MfaCredential, MfaId, MfaMethod, MfaSecret, MfaType, StoreError, StoreResult, UserId,
};
use chrono::{DateTime, Utc};
use serde_json::json;
use uuid::Uuid;

use crate::PgStore;
use crate::error::map_sqlx_error;
use crate::sql::{AuditRecord, Tx, commit, parse_stored};

#[derive(sqlx::FromRow)]
struct MfaRow {
    id: Uuid,
    user_id: Uuid,
    mfa_type: String,
    name: Option<String>,
    created_at: DateTime<Utc>,
    last_used_at: Option<DateTime<Utc>>,
    confirmed_at: Option<DateTime<Utc>>,
}

impl MfaRow {
    fn into_method(self) -> StoreResult<MfaMethod> {
        Ok(MfaMethod {
            id: MfaId::from_uuid(self.id),
            user_id: UserId::from_uuid(self.user_id),
            mfa_type: parse_stored(&self.mfa_type)?,
            name: self.name,
            created_at: self.created_at,
            last_used_at: self.last_used_at,
            confirmed: self.confirmed_at.is_some(),
        })
    }
}

#[derive(sqlx::FromRow)]
struct MfaWithSecret {
    #[sqlx(flatten)]
    row: MfaRow,
    secret: String,
}

impl PgStore {
    /// Serialises changes to a user's set of MFA methods (replacing a
    /// pending enrollment or the recovery codes): a later call waits, then
    /// its DELETE sees what the earlier one committed, so exactly one set
    /// survives. NO KEY UPDATE does not block foreign-key checks.
    async fn lock_user_mfa(&self, tx: &mut Tx, user_id: UserId) -> StoreResult<()> {
        // primary key
        let found: Option<(i32,)> = sqlx::query_as(
            "SELECT 1 FROM users WHERE namespace = $1 AND id = $2 FOR NO KEY UPDATE",
        )
        .bind(self.namespace.as_str())
        .bind(user_id.as_uuid())
        .fetch_optional(&mut **tx)
        .await
        .map_err(map_sqlx_error)?;
        found
            .map(|_| ())
            .ok_or(StoreError::NotFound { entity: "user" })
    }

    /// Inserts a method, confirmed or pending, and audits it.
    async fn insert_mfa(
        &self,
        tx: &mut Tx,
        user_id: UserId,
        mfa_type: MfaType,
        secret: &MfaSecret,
        name: Option<&str>,
        confirmed: bool,
    ) -> StoreResult<MfaId> {
        let id = MfaId::new();
        // mfa_methods_user_fk: an unknown user (or one of another namespace) -> NotFound(user)
        sqlx::query(
            "INSERT INTO mfa_methods (id, namespace, user_id, mfa_type, secret, name, confirmed_at)
             VALUES ($1, $2, $3, $4, $5, $6, CASE WHEN $7 THEN now() END)",
        )
        .bind(id.as_uuid())
        .bind(self.namespace.as_str())
        .bind(user_id.as_uuid())
        .bind(mfa_type.as_str())
        .bind(secret.expose())
        .bind(name)
        .bind(confirmed)
        .execute(&mut **tx)
        .await
        .map_err(map_sqlx_error)?;
        let rec = AuditRecord::new(events::MFA_ADDED, "mfa", id).new_values(json!({
            "user_id": user_id,
            "mfa_type": mfa_type.as_str(),
            "name": name,
            "confirmed": confirmed,
        }));
        self.audit(tx, rec).await?;
        Ok(id)
    }
}

impl MfaStore for PgStore {
    async fn add_mfa(
        &self,
        user_id: UserId,
        mfa_type: MfaType,
        secret: &MfaSecret,
        name: Option<&str>,
    ) -> StoreResult<MfaId> {
        let name = clean_label(name, "name")?;
        let mut tx = self.begin().await?;
        let id = self
            .insert_mfa(&mut tx, user_id, mfa_type, secret, name.as_deref(), true)
            .await?;
        commit(tx).await?;
        Ok(id)
    }

    async fn add_pending_mfa(
        &self,
        user_id: UserId,
        mfa_type: MfaType,
        secret: &MfaSecret,
        name: Option<&str>,
    ) -> StoreResult<MfaId> {
        let name = clean_label(name, "name")?;
        let mut tx = self.begin().await?;
        self.lock_user_mfa(&mut tx, user_id).await?;
        // mfa_methods_user_idx
        sqlx::query(
            "DELETE FROM mfa_methods
             WHERE namespace = $1 AND user_id = $2 AND mfa_type = $3 AND confirmed_at IS NULL",
        )
        .bind(self.namespace.as_str())
        .bind(user_id.as_uuid())
        .bind(mfa_type.as_str())
        .execute(&mut *tx)
        .await
        .map_err(map_sqlx_error)?;
        let id = self
            .insert_mfa(&mut tx, user_id, mfa_type, secret, name.as_deref(), false)
            .await?;
        commit(tx).await?;
        Ok(id)
    }

    async fn confirm_mfa(&self, mfa_id: MfaId, step: Option<u64>) -> StoreResult<bool> {
        let step = step.map(i64::try_from).transpose().unwrap_or(None);
        let mut tx = self.begin().await?;
        // primary key; `confirmed_at IS NULL` makes confirmation exactly-once
        let row: Option<(Uuid, String)> = sqlx::query_as(
            "UPDATE mfa_methods SET confirmed_at = now(), last_used_at = now(), last_used_step = $3
             WHERE namespace = $1 AND id = $2 AND confirmed_at IS NULL
             RETURNING user_id, mfa_type",
        )
        .bind(self.namespace.as_str())
        .bind(mfa_id.as_uuid())
        .bind(step)
        .fetch_optional(&mut *tx)
        .await
        .map_err(map_sqlx_error)?;
        if let Some((user_id, mfa_type)) = &row {
            let rec = AuditRecord::new(events::MFA_CONFIRMED, "mfa", mfa_id)
                .new_values(json!({ "user_id": user_id, "mfa_type": mfa_type }));
            self.audit(&mut tx, rec).await?;
        }
        commit(tx).await?;
        Ok(row.is_some())
    }

    async fn accept_totp_step(&self, mfa_id: MfaId, step: u64) -> StoreResult<bool> {
        let Ok(step) = i64::try_from(step) else {
            return Ok(false);
        };
        let mut tx = self.begin().await?;
        // primary key; the row lock makes a concurrent submission of the same
        // step re-check `last_used_step < $3` after the first commits
        let row: Option<(Uuid,)> = sqlx::query_as(
            "UPDATE mfa_methods SET last_used_step = $3, last_used_at = now()
             WHERE namespace = $1 AND id = $2 AND mfa_type = 'totp' AND confirmed_at IS NOT NULL
               AND (last_used_step IS NULL OR last_used_step < $3)
             RETURNING user_id",
        )
        .bind(self.namespace.as_str())
        .bind(mfa_id.as_uuid())
        .bind(step)
        .fetch_optional(&mut *tx)
        .await
        .map_err(map_sqlx_error)?;
        if let Some((user_id,)) = &row {
            let rec = AuditRecord::new(events::MFA_USED, "mfa", mfa_id)
                .new_values(json!({ "user_id": user_id, "mfa_type": "totp" }));
            self.audit(&mut tx, rec).await?;
        }
        commit(tx).await?;
        Ok(row.is_some())
    }

    async fn replace_recovery_codes(
        &self,
        user_id: UserId,
        code_hashes: &[MfaSecret],
    ) -> StoreResult<u64> {
        let mut tx = self.begin().await?;
        self.lock_user_mfa(&mut tx, user_id).await?;
        // mfa_methods_user_idx
        let removed = sqlx::query(
            "DELETE FROM mfa_methods
             WHERE namespace = $1 AND user_id = $2 AND mfa_type = 'recovery_codes'",
        )
        .bind(self.namespace.as_str())
        .bind(user_id.as_uuid())
        .execute(&mut *tx)
        .await
        .map_err(map_sqlx_error)?
        .rows_affected();
        let ids: Vec<Uuid> = code_hashes.iter().map(|_| Uuid::now_v7()).collect();
        let secrets: Vec<&str> = code_hashes.iter().map(MfaSecret::expose).collect();
        // one statement for the whole set; mfa_methods_user_fk -> NotFound(user)
        let stored = sqlx::query(
            "INSERT INTO mfa_methods (id, namespace, user_id, mfa_type, secret, confirmed_at)
             SELECT id, $2, $3, 'recovery_codes', secret, now()
             FROM unnest($1::uuid[], $4::text[]) AS c(id, secret)",
        )
        .bind(&ids)
        .bind(self.namespace.as_str())
        .bind(user_id.as_uuid())
        .bind(&secrets)
        .execute(&mut *tx)
        .await
        .map_err(map_sqlx_error)?
        .rows_affected();
        let rec = AuditRecord::new(events::RECOVERY_CODES_REPLACED, "user", user_id)
            .old(json!({ "count": removed }))
            .new_values(json!({ "count": stored }));
        self.audit(&mut tx, rec).await?;
        commit(tx).await?;
        Ok(stored)
    }

    async fn consume_recovery_code(
        &self,
        user_id: UserId,
        code_hash: &MfaSecret,
    ) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        // mfa_methods_user_idx (a user has a handful of codes); DELETE's row
        // lock makes concurrent uses of one code exactly-once
        let row: Option<(Uuid,)> = sqlx::query_as(
            "DELETE FROM mfa_methods
             WHERE namespace = $1 AND user_id = $2 AND mfa_type = 'recovery_codes' AND secret = $3
             RETURNING id",
        )
        .bind(self.namespace.as_str())
        .bind(user_id.as_uuid())
        .bind(code_hash.expose())
        .fetch_optional(&mut *tx)
        .await
        .map_err(map_sqlx_error)?;
        if let Some((id,)) = &row {
            let rec = AuditRecord::new(events::RECOVERY_CODE_USED, "mfa", id)
                .new_values(json!({ "user_id": user_id }));
            self.audit(&mut tx, rec).await?;
        }
        commit(tx).await?;
        Ok(row.is_some())
    }

    async fn remove_all_mfa(&self, user_id: UserId) -> StoreResult<u64> {
        let mut tx = self.begin().await?;
        // mfa_methods_user_idx
        let removed = sqlx::query("DELETE FROM mfa_methods WHERE namespace = $1 AND user_id = $2")
            .bind(self.namespace.as_str())
            .bind(user_id.as_uuid())
            .execute(&mut *tx)
            .await
            .map_err(map_sqlx_error)?
            .rows_affected();
        if removed > 0 {
            let rec = AuditRecord::new(events::MFA_RESET, "user", user_id)
                .new_values(json!({ "removed": removed }));
            self.audit(&mut tx, rec).await?;
        }
        commit(tx).await?;
        Ok(removed)
    }

    async fn get_mfa(&self, user_id: UserId, mfa_type: MfaType) -> StoreResult<Vec<MfaCredential>> {
        // One round trip: the function sets the namespace and reads on
        // mfa_methods_user_idx (migration 0002).
        let rows: Vec<MfaWithSecret> = sqlx::query_as(
            "SELECT id, user_id, mfa_type, name, created_at, last_used_at, confirmed_at, secret
             FROM authn_get_mfa($1, $2, $3)",
        )
        .bind(self.namespace.as_str())
        .bind(user_id.as_uuid())
        .bind(mfa_type.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(map_sqlx_error)?;
        rows.into_iter()
            .map(|MfaWithSecret { row, secret }| {
                Ok(MfaCredential {
                    method: row.into_method()?,
                    secret: MfaSecret::parse(&secret).map_err(|e| StoreError::Internal {
                        source: Box::new(e),
                    })?,
                })
            })
            .collect()
    }

    async fn list_mfa(&self, user_id: UserId) -> StoreResult<Vec<MfaMethod>> {
        // One round trip: the function sets the namespace and reads on
        // mfa_methods_user_idx (migration 0003).
        let rows: Vec<MfaRow> = sqlx::query_as(
            "SELECT id, user_id, mfa_type, name, created_at, last_used_at, confirmed_at
             FROM authn_list_mfa($1, $2)",
        )
        .bind(self.namespace.as_str())
        .bind(user_id.as_uuid())
        .fetch_all(&self.pool)
        .await
        .map_err(map_sqlx_error)?;
        rows.into_iter().map(MfaRow::into_method).collect()
    }

    async fn remove_mfa(&self, mfa_id: MfaId) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        // primary key; DELETE's row lock makes concurrent removals exactly-once
        let row: Option<(Uuid, String)> = sqlx::query_as(
            "DELETE FROM mfa_methods WHERE namespace = $1 AND id = $2 RETURNING user_id, mfa_type",
        )
        .bind(self.namespace.as_str())
        .bind(mfa_id.as_uuid())
        .fetch_optional(&mut *tx)
        .await
        .map_err(map_sqlx_error)?;
        if let Some((user_id, mfa_type)) = &row {
            let rec = AuditRecord::new(events::MFA_REMOVED, "mfa", mfa_id)
                .old(json!({ "user_id": user_id, "mfa_type": mfa_type }));
            self.audit(&mut tx, rec).await?;
        }
        commit(tx).await?;
        Ok(row.is_some())
    }

    async fn record_mfa_use(&self, mfa_id: MfaId) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        // primary key
        let row: Option<(Uuid, String)> = sqlx::query_as(
            "UPDATE mfa_methods SET last_used_at = now() WHERE namespace = $1 AND id = $2
             RETURNING user_id, mfa_type",
        )
        .bind(self.namespace.as_str())
        .bind(mfa_id.as_uuid())
        .fetch_optional(&mut *tx)
        .await
        .map_err(map_sqlx_error)?;
        if let Some((user_id, mfa_type)) = &row {
            let rec = AuditRecord::new(events::MFA_USED, "mfa", mfa_id)
                .new_values(json!({ "user_id": user_id, "mfa_type": mfa_type }));
            self.audit(&mut tx, rec).await?;
        }
        commit(tx).await?;
        Ok(row.is_some())
    }

    async fn has_mfa(&self, user_id: UserId) -> StoreResult<bool> {
        // mfa_methods_user_idx
        let (has,): (bool,) = self
            .read_one(
                sqlx::query_as(
                    "SELECT EXISTS (SELECT 1 FROM mfa_methods
                     WHERE namespace = $1 AND user_id = $2 AND confirmed_at IS NOT NULL)",
                )
                .bind(self.namespace.as_str())
                .bind(user_id.as_uuid()),
            )
            .await?;
        Ok(has)
    }
}
