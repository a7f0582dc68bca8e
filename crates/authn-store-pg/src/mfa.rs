//! [`MfaStore`] on PostgreSQL.

use authn_core::audit::events;
use authn_core::store::MfaStore;
use authn_core::{
    MfaCredential, MfaId, MfaMethod, MfaSecret, MfaType, StoreError, StoreResult, UserId,
    ValidationError,
};
use chrono::{DateTime, Utc};
use serde_json::json;
use uuid::Uuid;

use crate::PgStore;
use crate::error::map_sqlx_error;
use crate::sql::{AuditRecord, commit, parse_stored};

/// Longest MFA method name, in bytes.
const MAX_NAME_BYTES: usize = 256;

fn clean_name(name: Option<&str>) -> Result<Option<String>, ValidationError> {
    let Some(name) = name.map(str::trim) else {
        return Ok(None);
    };
    if name.len() > MAX_NAME_BYTES {
        return Err(ValidationError::new("name", "must be at most 256 bytes"));
    }
    if name.chars().any(char::is_control) {
        return Err(ValidationError::new(
            "name",
            "must not contain control characters",
        ));
    }
    Ok((!name.is_empty()).then(|| name.to_owned()))
}

#[derive(sqlx::FromRow)]
struct MfaRow {
    id: Uuid,
    user_id: Uuid,
    mfa_type: String,
    name: Option<String>,
    created_at: DateTime<Utc>,
    last_used_at: Option<DateTime<Utc>>,
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
        })
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
        let name = clean_name(name)?;
        let id = MfaId::new();
        let mut tx = self.begin().await?;
        // mfa_methods_user_fk: an unknown user (or one of another namespace) -> NotFound(user)
        sqlx::query(
            "INSERT INTO mfa_methods (id, namespace, user_id, mfa_type, secret, name)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(id.as_uuid())
        .bind(self.namespace.as_str())
        .bind(user_id.as_uuid())
        .bind(mfa_type.as_str())
        .bind(secret.expose())
        .bind(name.as_deref())
        .execute(&mut *tx)
        .await
        .map_err(map_sqlx_error)?;
        let rec = AuditRecord::new(events::MFA_ADDED, "mfa", id).new_values(json!({
            "user_id": user_id,
            "mfa_type": mfa_type.as_str(),
            "name": name,
        }));
        self.audit(&mut tx, rec).await?;
        commit(tx).await?;
        Ok(id)
    }

    async fn get_mfa(&self, user_id: UserId, mfa_type: MfaType) -> StoreResult<Vec<MfaCredential>> {
        // mfa_methods_user_idx
        let rows: Vec<MfaWithSecret> = self
            .read_all(
                sqlx::query_as(
                    "SELECT id, user_id, mfa_type, name, created_at, last_used_at, secret
             FROM mfa_methods WHERE namespace = $1 AND user_id = $2 AND mfa_type = $3
             ORDER BY created_at, id",
                )
                .bind(self.namespace.as_str())
                .bind(user_id.as_uuid())
                .bind(mfa_type.as_str()),
            )
            .await?;
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
        let rows: Vec<MfaRow> = self
            .read_all(
                sqlx::query_as(
                    "SELECT id, user_id, mfa_type, name, created_at, last_used_at
             FROM mfa_methods WHERE namespace = $1 AND user_id = $2
             ORDER BY created_at, id",
                )
                .bind(self.namespace.as_str())
                .bind(user_id.as_uuid()),
            )
            .await?;
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
                    "SELECT EXISTS (SELECT 1 FROM mfa_methods WHERE namespace = $1 AND user_id = $2)",
                )
                .bind(self.namespace.as_str())
                .bind(user_id.as_uuid()),
            )
            .await?;
        Ok(has)
    }
}

#[derive(sqlx::FromRow)]
struct MfaWithSecret {
    #[sqlx(flatten)]
    row: MfaRow,
    secret: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(clean_name(None), Ok(None));
        assert_eq!(clean_name(Some("  ")), Ok(None));
        assert_eq!(clean_name(Some(" Phone ")), Ok(Some("Phone".to_owned())));
        assert!(clean_name(Some(&"n".repeat(257))).is_err());
        assert!(clean_name(Some("a\nb")).is_err());
    }
}
