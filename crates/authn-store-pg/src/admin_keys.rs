//! [`AdminKeyStore`] on PostgreSQL.

use authn_core::audit::events;
use authn_core::model::clean_label;
use authn_core::store::AdminKeyStore;
use authn_core::{AdminKey, AdminKeyId, StoreResult, TokenHash, ValidationError};
use chrono::{DateTime, Utc};
use serde_json::json;
use uuid::Uuid;

use crate::PgStore;
use crate::error::map_sqlx_error;
use crate::sql::{AuditRecord, commit};

#[derive(sqlx::FromRow)]
struct AdminKeyRow {
    id: Uuid,
    name: String,
    created_at: DateTime<Utc>,
    revoked_at: Option<DateTime<Utc>>,
}

impl From<AdminKeyRow> for AdminKey {
    fn from(r: AdminKeyRow) -> Self {
        Self {
            id: AdminKeyId::from_uuid(r.id),
            name: r.name,
            created_at: r.created_at,
            revoked_at: r.revoked_at,
        }
    }
}

impl AdminKeyStore for PgStore {
    async fn create_admin_key(&self, name: &str, key_hash: &TokenHash) -> StoreResult<AdminKey> {
        let name = clean_label(Some(name), "name")?
            .ok_or(ValidationError::new("name", "must not be empty"))?;
        let id = AdminKeyId::new();
        let mut tx = self.begin().await?;
        // admin_keys_namespace_key_hash_key -> AlreadyExists
        let row: AdminKeyRow = sqlx::query_as(
            "INSERT INTO admin_keys (id, namespace, name, key_hash) VALUES ($1, $2, $3, $4)
             RETURNING id, name, created_at, revoked_at",
        )
        .bind(id.as_uuid())
        .bind(self.namespace.as_str())
        .bind(&name)
        .bind(key_hash.as_str())
        .fetch_one(&mut *tx)
        .await
        .map_err(map_sqlx_error)?;
        let rec = AuditRecord::new(events::ADMIN_KEY_CREATED, "admin_key", id)
            .new_values(json!({ "name": name }));
        self.audit(&mut tx, rec).await?;
        commit(tx).await?;
        Ok(row.into())
    }

    async fn list_admin_keys(&self) -> StoreResult<Vec<AdminKey>> {
        // a handful of rows per namespace
        let rows: Vec<AdminKeyRow> = self
            .read_all(
                sqlx::query_as(
                    "SELECT id, name, created_at, revoked_at FROM admin_keys
                     WHERE namespace = $1 ORDER BY created_at, id",
                )
                .bind(self.namespace.as_str()),
            )
            .await?;
        Ok(rows.into_iter().map(AdminKey::from).collect())
    }

    async fn revoke_admin_key(&self, id: AdminKeyId) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        // primary key
        let changed = sqlx::query(
            "UPDATE admin_keys SET revoked_at = now()
             WHERE namespace = $1 AND id = $2 AND revoked_at IS NULL",
        )
        .bind(self.namespace.as_str())
        .bind(id.as_uuid())
        .execute(&mut *tx)
        .await
        .map_err(map_sqlx_error)?
        .rows_affected();
        if changed > 0 {
            let rec = AuditRecord::new(events::ADMIN_KEY_REVOKED, "admin_key", id);
            self.audit(&mut tx, rec).await?;
        }
        commit(tx).await?;
        Ok(changed > 0)
    }

    async fn find_admin_key(&self, key_hash: &TokenHash) -> StoreResult<Option<AdminKey>> {
        // admin_keys_namespace_key_hash_key
        let row: Option<AdminKeyRow> = self
            .read_optional(
                sqlx::query_as(
                    "SELECT id, name, created_at, revoked_at FROM admin_keys
                     WHERE namespace = $1 AND key_hash = $2 AND revoked_at IS NULL",
                )
                .bind(self.namespace.as_str())
                .bind(key_hash.as_str()),
            )
            .await?;
        Ok(row.map(AdminKey::from))
    }
}
