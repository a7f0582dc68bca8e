//! [`MfaStore`] on SQLite.

use authn_core::audit::events;
use authn_core::model::clean_label;
use authn_core::store::MfaStore;
use authn_core::{
    MfaCredential, MfaId, MfaMethod, MfaSecret, MfaType, StoreError, StoreResult, UserId,
};
use serde_json::json;
use uuid::Uuid;

use crate::SqliteStore;
use crate::error::map_sqlx_error;
use crate::sql::{AuditRecord, Tx, opt_time, parse_stored, time};

/// The columns of [`MfaRow`].
macro_rules! select_mfa {
    ($extra:literal, $rest:literal) => {
        concat!(
            "SELECT id, user_id, mfa_type, name, created_at, last_used_at, confirmed_at",
            $extra,
            " FROM mfa_methods ",
            $rest
        )
    };
}

#[derive(sqlx::FromRow)]
struct MfaRow {
    id: Uuid,
    user_id: Uuid,
    mfa_type: String,
    name: Option<String>,
    created_at: i64,
    last_used_at: Option<i64>,
    confirmed_at: Option<i64>,
}

impl MfaRow {
    fn into_method(self) -> StoreResult<MfaMethod> {
        Ok(MfaMethod {
            id: MfaId::from_uuid(self.id),
            user_id: UserId::from_uuid(self.user_id),
            mfa_type: parse_stored(&self.mfa_type)?,
            name: self.name,
            created_at: time(self.created_at)?,
            last_used_at: opt_time(self.last_used_at)?,
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

impl SqliteStore {
    /// Checks that the user exists in this namespace. Inside a write
    /// transaction nothing else changes the user's methods until commit, so
    /// of concurrent replacements (pending enrollment, recovery codes) each
    /// sees what the one before committed and exactly one set survives.
    async fn check_user(&self, tx: &mut Tx, user_id: UserId) -> StoreResult<()> {
        // primary key
        let found: Option<(i64,)> =
            sqlx::query_as("SELECT 1 FROM users WHERE namespace = ?1 AND id = ?2")
                .bind(self.namespace.as_str())
                .bind(user_id.as_uuid())
                .fetch_optional(tx.conn())
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
        let now = tx.now;
        // mfa_methods_user_fk backs up check_user -> NotFound(user)
        sqlx::query(
            "INSERT INTO mfa_methods (id, namespace, user_id, mfa_type, secret, name, created_at,
                                      confirmed_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )
        .bind(id.as_uuid())
        .bind(self.namespace.as_str())
        .bind(user_id.as_uuid())
        .bind(mfa_type.as_str())
        .bind(secret.expose())
        .bind(name)
        .bind(now)
        .bind(confirmed.then_some(now))
        .execute(tx.conn())
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

impl MfaStore for SqliteStore {
    async fn add_mfa(
        &self,
        user_id: UserId,
        mfa_type: MfaType,
        secret: &MfaSecret,
        name: Option<&str>,
    ) -> StoreResult<MfaId> {
        let name = clean_label(name, "name")?;
        let mut tx = self.begin().await?;
        self.check_user(&mut tx, user_id).await?;
        let id = self
            .insert_mfa(&mut tx, user_id, mfa_type, secret, name.as_deref(), true)
            .await?;
        tx.commit().await?;
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
        self.check_user(&mut tx, user_id).await?;
        // mfa_methods_user_idx
        sqlx::query(
            "DELETE FROM mfa_methods
             WHERE namespace = ?1 AND user_id = ?2 AND mfa_type = ?3 AND confirmed_at IS NULL",
        )
        .bind(self.namespace.as_str())
        .bind(user_id.as_uuid())
        .bind(mfa_type.as_str())
        .execute(tx.conn())
        .await
        .map_err(map_sqlx_error)?;
        let id = self
            .insert_mfa(&mut tx, user_id, mfa_type, secret, name.as_deref(), false)
            .await?;
        tx.commit().await?;
        Ok(id)
    }

    async fn confirm_mfa(&self, mfa_id: MfaId, step: Option<u64>) -> StoreResult<bool> {
        let step = step.map(i64::try_from).transpose().unwrap_or(None);
        let mut tx = self.begin().await?;
        let now = tx.now;
        // primary key; `confirmed_at IS NULL` makes confirmation exactly-once
        let row: Option<(Uuid, String)> = sqlx::query_as(
            "UPDATE mfa_methods SET confirmed_at = ?4, last_used_at = ?4, last_used_step = ?3
             WHERE namespace = ?1 AND id = ?2 AND confirmed_at IS NULL
             RETURNING user_id, mfa_type",
        )
        .bind(self.namespace.as_str())
        .bind(mfa_id.as_uuid())
        .bind(step)
        .bind(now)
        .fetch_optional(tx.conn())
        .await
        .map_err(map_sqlx_error)?;
        if let Some((user_id, mfa_type)) = &row {
            let rec = AuditRecord::new(events::MFA_CONFIRMED, "mfa", mfa_id)
                .new_values(json!({ "user_id": user_id, "mfa_type": mfa_type }));
            self.audit(&mut tx, rec).await?;
        }
        tx.commit().await?;
        Ok(row.is_some())
    }

    async fn accept_totp_step(&self, mfa_id: MfaId, step: u64) -> StoreResult<bool> {
        let Ok(step) = i64::try_from(step) else {
            return Ok(false);
        };
        let mut tx = self.begin().await?;
        let now = tx.now;
        // primary key; one conditional UPDATE under the write lock: a
        // concurrent submission of the same step runs after this one
        // committed and fails `last_used_step < ?3`
        let row: Option<(Uuid,)> = sqlx::query_as(
            "UPDATE mfa_methods SET last_used_step = ?3, last_used_at = ?4
             WHERE namespace = ?1 AND id = ?2 AND mfa_type = 'totp' AND confirmed_at IS NOT NULL
               AND (last_used_step IS NULL OR last_used_step < ?3)
             RETURNING user_id",
        )
        .bind(self.namespace.as_str())
        .bind(mfa_id.as_uuid())
        .bind(step)
        .bind(now)
        .fetch_optional(tx.conn())
        .await
        .map_err(map_sqlx_error)?;
        if let Some((user_id,)) = &row {
            let rec = AuditRecord::new(events::MFA_USED, "mfa", mfa_id)
                .new_values(json!({ "user_id": user_id, "mfa_type": "totp" }));
            self.audit(&mut tx, rec).await?;
        }
        tx.commit().await?;
        Ok(row.is_some())
    }

    async fn replace_recovery_codes(
        &self,
        user_id: UserId,
        code_hashes: &[MfaSecret],
    ) -> StoreResult<u64> {
        let mut tx = self.begin().await?;
        let now = tx.now;
        self.check_user(&mut tx, user_id).await?;
        // mfa_methods_user_idx
        let removed = sqlx::query(
            "DELETE FROM mfa_methods
             WHERE namespace = ?1 AND user_id = ?2 AND mfa_type = 'recovery_codes'",
        )
        .bind(self.namespace.as_str())
        .bind(user_id.as_uuid())
        .execute(tx.conn())
        .await
        .map_err(map_sqlx_error)?
        .rows_affected();
        let mut stored = 0;
        // A handful of rows, in the same transaction (one prepared statement
        // reused); mfa_methods_user_fk backs up check_user -> NotFound(user).
        for code in code_hashes {
            stored += sqlx::query(
                "INSERT INTO mfa_methods (id, namespace, user_id, mfa_type, secret, created_at,
                                          confirmed_at)
                 VALUES (?1, ?2, ?3, 'recovery_codes', ?4, ?5, ?5)",
            )
            .bind(Uuid::now_v7())
            .bind(self.namespace.as_str())
            .bind(user_id.as_uuid())
            .bind(code.expose())
            .bind(now)
            .execute(tx.conn())
            .await
            .map_err(map_sqlx_error)?
            .rows_affected();
        }
        let rec = AuditRecord::new(events::RECOVERY_CODES_REPLACED, "user", user_id)
            .old(json!({ "count": removed }))
            .new_values(json!({ "count": stored }));
        self.audit(&mut tx, rec).await?;
        tx.commit().await?;
        Ok(stored)
    }

    async fn consume_recovery_code(
        &self,
        user_id: UserId,
        code_hash: &MfaSecret,
    ) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        // mfa_methods_user_idx (a user has a handful of codes); one DELETE
        // under the write lock: of concurrent uses of one code exactly one
        // finds it
        let row: Option<(Uuid,)> = sqlx::query_as(
            "DELETE FROM mfa_methods
             WHERE namespace = ?1 AND user_id = ?2 AND mfa_type = 'recovery_codes' AND secret = ?3
             RETURNING id",
        )
        .bind(self.namespace.as_str())
        .bind(user_id.as_uuid())
        .bind(code_hash.expose())
        .fetch_optional(tx.conn())
        .await
        .map_err(map_sqlx_error)?;
        if let Some((id,)) = &row {
            let rec = AuditRecord::new(events::RECOVERY_CODE_USED, "mfa", id)
                .new_values(json!({ "user_id": user_id }));
            self.audit(&mut tx, rec).await?;
        }
        tx.commit().await?;
        Ok(row.is_some())
    }

    async fn remove_all_mfa(&self, user_id: UserId) -> StoreResult<u64> {
        let mut tx = self.begin().await?;
        // mfa_methods_user_idx
        let removed = sqlx::query("DELETE FROM mfa_methods WHERE namespace = ?1 AND user_id = ?2")
            .bind(self.namespace.as_str())
            .bind(user_id.as_uuid())
            .execute(tx.conn())
            .await
            .map_err(map_sqlx_error)?
            .rows_affected();
        if removed > 0 {
            let rec = AuditRecord::new(events::MFA_RESET, "user", user_id)
                .new_values(json!({ "removed": removed }));
            self.audit(&mut tx, rec).await?;
        }
        tx.commit().await?;
        Ok(removed)
    }

    async fn get_mfa(&self, user_id: UserId, mfa_type: MfaType) -> StoreResult<Vec<MfaCredential>> {
        // mfa_methods_user_idx
        let rows: Vec<MfaWithSecret> = sqlx::query_as(select_mfa!(
            ", secret",
            "WHERE namespace = ?1 AND user_id = ?2 AND mfa_type = ?3 ORDER BY created_at, id"
        ))
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
        // mfa_methods_user_idx
        let rows: Vec<MfaRow> = sqlx::query_as(select_mfa!(
            "",
            "WHERE namespace = ?1 AND user_id = ?2 ORDER BY created_at, id"
        ))
        .bind(self.namespace.as_str())
        .bind(user_id.as_uuid())
        .fetch_all(&self.pool)
        .await
        .map_err(map_sqlx_error)?;
        rows.into_iter().map(MfaRow::into_method).collect()
    }

    async fn remove_mfa(&self, mfa_id: MfaId) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        // primary key; one DELETE under the write lock: of concurrent
        // removals exactly one finds the row
        let row: Option<(Uuid, String)> = sqlx::query_as(
            "DELETE FROM mfa_methods WHERE namespace = ?1 AND id = ?2 RETURNING user_id, mfa_type",
        )
        .bind(self.namespace.as_str())
        .bind(mfa_id.as_uuid())
        .fetch_optional(tx.conn())
        .await
        .map_err(map_sqlx_error)?;
        if let Some((user_id, mfa_type)) = &row {
            let rec = AuditRecord::new(events::MFA_REMOVED, "mfa", mfa_id)
                .old(json!({ "user_id": user_id, "mfa_type": mfa_type }));
            self.audit(&mut tx, rec).await?;
        }
        tx.commit().await?;
        Ok(row.is_some())
    }

    async fn record_mfa_use(&self, mfa_id: MfaId) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        let now = tx.now;
        // primary key
        let row: Option<(Uuid, String)> = sqlx::query_as(
            "UPDATE mfa_methods SET last_used_at = ?3 WHERE namespace = ?1 AND id = ?2
             RETURNING user_id, mfa_type",
        )
        .bind(self.namespace.as_str())
        .bind(mfa_id.as_uuid())
        .bind(now)
        .fetch_optional(tx.conn())
        .await
        .map_err(map_sqlx_error)?;
        if let Some((user_id, mfa_type)) = &row {
            let rec = AuditRecord::new(events::MFA_USED, "mfa", mfa_id)
                .new_values(json!({ "user_id": user_id, "mfa_type": mfa_type }));
            self.audit(&mut tx, rec).await?;
        }
        tx.commit().await?;
        Ok(row.is_some())
    }

    async fn has_mfa(&self, user_id: UserId) -> StoreResult<bool> {
        // mfa_methods_user_idx
        let has: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM mfa_methods
             WHERE namespace = ?1 AND user_id = ?2 AND confirmed_at IS NOT NULL)",
        )
        .bind(self.namespace.as_str())
        .bind(user_id.as_uuid())
        .fetch_one(&self.pool)
        .await
        .map_err(map_sqlx_error)?;
        Ok(has)
    }
}
