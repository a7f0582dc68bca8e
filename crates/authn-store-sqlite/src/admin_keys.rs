//! [`AdminKeyStore`] on SQLite.

use authn_core::audit::events;
use authn_core::model::clean_label;
use authn_core::store::AdminKeyStore;
use authn_core::{AdminKey, AdminKeyId, StoreResult, TokenHash, ValidationError};
use serde_json::json;
use uuid::Uuid;

use crate::SqliteStore;
use crate::error::map_sqlx_error;
use crate::sql::{AuditRecord, opt_time, time};

#[derive(sqlx::FromRow)]
struct AdminKeyRow {
    id: Uuid,
    name: String,
    created_at: i64,
    revoked_at: Option<i64>,
}

impl AdminKeyRow {
    fn into_key(self) -> StoreResult<AdminKey> {
        Ok(AdminKey {
            id: AdminKeyId::from_uuid(self.id),
            name: self.name,
            created_at: time(self.created_at)?,
            revoked_at: opt_time(self.revoked_at)?,
        })
    }
}

impl AdminKeyStore for SqliteStore {
    async fn create_admin_key(&self, name: &str, key_hash: &TokenHash) -> StoreResult<AdminKey> {
        let name = clean_label(Some(name), "name")?
            .ok_or(ValidationError::new("name", "must not be empty"))?;
        let id = AdminKeyId::new();
        let mut tx = self.begin().await?;
        let now = tx.now;
        // admin_keys_namespace_key_hash_key -> AlreadyExists(key_hash)
        let row: AdminKeyRow = sqlx::query_as(
            "INSERT INTO admin_keys (id, namespace, name, key_hash, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5)
             RETURNING id, name, created_at, revoked_at",
        )
        .bind(id.as_uuid())
        .bind(self.namespace.as_str())
        .bind(&name)
        .bind(key_hash.as_str())
        .bind(now)
        .fetch_one(tx.conn())
        .await
        .map_err(map_sqlx_error)?;
        let rec = AuditRecord::new(events::ADMIN_KEY_CREATED, "admin_key", id)
            .new_values(json!({ "name": name }));
        self.audit(&mut tx, rec).await?;
        tx.commit().await?;
        row.into_key()
    }

    async fn list_admin_keys(&self) -> StoreResult<Vec<AdminKey>> {
        // a handful of rows per namespace (admin_keys_namespace_key_hash_key
        // narrows to the namespace)
        let rows: Vec<AdminKeyRow> = sqlx::query_as(
            "SELECT id, name, created_at, revoked_at FROM admin_keys
             WHERE namespace = ?1 ORDER BY created_at, id",
        )
        .bind(self.namespace.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(map_sqlx_error)?;
        rows.into_iter().map(AdminKeyRow::into_key).collect()
    }

    async fn revoke_admin_key(&self, id: AdminKeyId) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        let now = tx.now;
        // primary key
        let changed = sqlx::query(
            "UPDATE admin_keys SET revoked_at = ?3
             WHERE namespace = ?1 AND id = ?2 AND revoked_at IS NULL",
        )
        .bind(self.namespace.as_str())
        .bind(id.as_uuid())
        .bind(now)
        .execute(tx.conn())
        .await
        .map_err(map_sqlx_error)?
        .rows_affected();
        if changed > 0 {
            let rec = AuditRecord::new(events::ADMIN_KEY_REVOKED, "admin_key", id);
            self.audit(&mut tx, rec).await?;
        }
        tx.commit().await?;
        Ok(changed > 0)
    }

    async fn find_admin_key(&self, key_hash: &TokenHash) -> StoreResult<Option<AdminKey>> {
        // admin_keys_namespace_key_hash_key
        let row: Option<AdminKeyRow> = sqlx::query_as(
            "SELECT id, name, created_at, revoked_at FROM admin_keys
             WHERE namespace = ?1 AND key_hash = ?2 AND revoked_at IS NULL",
        )
        .bind(self.namespace.as_str())
        .bind(key_hash.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(map_sqlx_error)?;
        row.map(AdminKeyRow::into_key).transpose()
    }
}
