//! [`UserStore`] on PostgreSQL.

use authn_core::audit::events;
use authn_core::model::clean_label;
use authn_core::policy::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, resolve_limit};
use authn_core::store::UserStore;
use authn_core::{
    Credentials, Email, NewUser, Page, PasswordHash, ProfileUpdate, StoreResult, User, UserId,
};
use chrono::{DateTime, Utc};
use serde_json::json;
use uuid::Uuid;

use crate::PgStore;
use crate::error::map_sqlx_error;
use crate::sql::{AuditRecord, commit, into_page, parse_cursor, stored_email};

/// `SELECT <user columns> FROM users <rest>`, built at compile time (sqlx
/// only takes static SQL, which keeps injection out by construction).
macro_rules! select_users {
    ($rest:literal) => {
        concat!(
            "SELECT id, email, name, email_verified_at, disabled_at, created_at, updated_at FROM users ",
            $rest
        )
    };
}

#[derive(sqlx::FromRow)]
pub(crate) struct UserRow {
    id: Uuid,
    email: String,
    name: Option<String>,
    email_verified_at: Option<DateTime<Utc>>,
    disabled_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl UserRow {
    pub(crate) fn into_user(self) -> StoreResult<User> {
        Ok(User {
            id: UserId::from_uuid(self.id),
            email: stored_email(&self.email)?,
            name: self.name,
            email_verified_at: self.email_verified_at,
            disabled_at: self.disabled_at,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

impl UserStore for PgStore {
    async fn create_user(
        &self,
        email: &str,
        password_hash: Option<&PasswordHash>,
    ) -> StoreResult<UserId> {
        self.create_user_with(&NewUser {
            email: email.to_owned(),
            password_hash: password_hash.cloned(),
            ..NewUser::default()
        })
        .await
    }

    async fn create_user_with(&self, new: &NewUser) -> StoreResult<UserId> {
        let email = Email::parse(&new.email)?;
        let name = clean_label(new.name.as_deref(), "name")?;
        let id = UserId::new();
        let mut tx = self.begin().await?;
        // unique constraint users_namespace_email_key -> AlreadyExists(email)
        sqlx::query(
            "INSERT INTO users (id, namespace, email, name, password_hash, email_verified_at)
             VALUES ($1, $2, $3, $4, $5, CASE WHEN $6 THEN now() END)",
        )
        .bind(id.as_uuid())
        .bind(self.namespace.as_str())
        .bind(email.as_str())
        .bind(name.as_deref())
        .bind(new.password_hash.as_ref().map(PasswordHash::as_str))
        .bind(new.email_verified)
        .execute(&mut *tx)
        .await
        .map_err(map_sqlx_error)?;
        let rec = AuditRecord::new(events::USER_CREATED, "user", id).new_values(json!({
            "email": email.as_str(),
            "name": name,
            "email_verified": new.email_verified,
            "has_password": new.password_hash.is_some(),
        }));
        self.audit(&mut tx, rec).await?;
        commit(tx).await?;
        Ok(id)
    }

    async fn update_profile(&self, user_id: UserId, update: &ProfileUpdate) -> StoreResult<bool> {
        let name = update
            .name
            .as_ref()
            .map(|n| clean_label(n.as_deref(), "name"))
            .transpose()?;
        let mut tx = self.begin().await?;
        // primary key; the row lock orders concurrent updates
        let old: Option<(Option<String>, bool)> = sqlx::query_as(
            "SELECT name, email_verified_at IS NOT NULL FROM users
             WHERE namespace = $1 AND id = $2 FOR UPDATE",
        )
        .bind(self.namespace.as_str())
        .bind(user_id.as_uuid())
        .fetch_optional(&mut *tx)
        .await
        .map_err(map_sqlx_error)?;
        let Some((old_name, old_verified)) = old else {
            return Ok(false);
        };
        let new_name = name.unwrap_or_else(|| old_name.clone());
        let new_verified = update.email_verified.unwrap_or(old_verified);
        if new_name != old_name || new_verified != old_verified {
            sqlx::query(
                "UPDATE users SET name = $3, updated_at = now(),
                     email_verified_at = CASE WHEN NOT $4 THEN NULL
                                              ELSE COALESCE(email_verified_at, now()) END
                 WHERE namespace = $1 AND id = $2",
            )
            .bind(self.namespace.as_str())
            .bind(user_id.as_uuid())
            .bind(new_name.as_deref())
            .bind(new_verified)
            .execute(&mut *tx)
            .await
            .map_err(map_sqlx_error)?;
            let rec = AuditRecord::new(events::USER_PROFILE_UPDATED, "user", user_id)
                .old(json!({ "name": old_name, "email_verified": old_verified }))
                .new_values(json!({ "name": new_name, "email_verified": new_verified }));
            self.audit(&mut tx, rec).await?;
        }
        commit(tx).await?;
        Ok(true)
    }

    async fn get_user(&self, user_id: UserId) -> StoreResult<Option<User>> {
        // One round trip: the function sets the namespace and reads on
        // users_namespace_id_key (migration 0002).
        let row: Option<UserRow> = sqlx::query_as(
            "SELECT id, email, name, email_verified_at, disabled_at, created_at, updated_at
             FROM authn_get_user($1, $2)",
        )
        .bind(self.namespace.as_str())
        .bind(user_id.as_uuid())
        .fetch_optional(&self.pool)
        .await
        .map_err(map_sqlx_error)?;
        row.map(UserRow::into_user).transpose()
    }

    async fn get_user_by_email(&self, email: &str) -> StoreResult<Option<User>> {
        let email = Email::parse(email)?;
        // users_namespace_email_key
        let row: Option<UserRow> = self
            .read_optional(
                sqlx::query_as(select_users!("WHERE namespace = $1 AND email = $2"))
                    .bind(self.namespace.as_str())
                    .bind(email.as_str()),
            )
            .await?;
        row.map(UserRow::into_user).transpose()
    }

    async fn update_email(&self, user_id: UserId, new_email: &str) -> StoreResult<bool> {
        let new_email = Email::parse(new_email).map_err(|e| e.for_field("new_email"))?;
        let mut tx = self.begin().await?;
        let old: Option<(String,)> =
            sqlx::query_as("SELECT email FROM users WHERE namespace = $1 AND id = $2 FOR UPDATE")
                .bind(self.namespace.as_str())
                .bind(user_id.as_uuid())
                .fetch_optional(&mut *tx)
                .await
                .map_err(map_sqlx_error)?;
        let Some((old_email,)) = old else {
            return Ok(false);
        };
        if old_email == new_email.as_str() {
            // Same address: nothing changes, verification stays.
            commit(tx).await?;
            return Ok(true);
        }
        // users_namespace_email_key -> AlreadyExists(email) when taken
        sqlx::query(
            "UPDATE users SET email = $3, email_verified_at = NULL, updated_at = now()
             WHERE namespace = $1 AND id = $2",
        )
        .bind(self.namespace.as_str())
        .bind(user_id.as_uuid())
        .bind(new_email.as_str())
        .execute(&mut *tx)
        .await
        .map_err(map_sqlx_error)?;
        let rec = AuditRecord::new(events::USER_EMAIL_UPDATED, "user", user_id)
            .old(json!({ "email": old_email }))
            .new_values(json!({ "email": new_email.as_str(), "email_verified": false }));
        self.audit(&mut tx, rec).await?;
        commit(tx).await?;
        Ok(true)
    }

    async fn disable_user(&self, user_id: UserId) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        let changed = sqlx::query(
            "UPDATE users SET disabled_at = now(), updated_at = now()
             WHERE namespace = $1 AND id = $2 AND disabled_at IS NULL",
        )
        .bind(self.namespace.as_str())
        .bind(user_id.as_uuid())
        .execute(&mut *tx)
        .await
        .map_err(map_sqlx_error)?
        .rows_affected();
        if changed == 0 {
            commit(tx).await?;
            return Ok(false);
        }
        // sessions_user_idx
        let sessions = sqlx::query(
            "UPDATE sessions SET revoked_at = now()
             WHERE namespace = $1 AND user_id = $2 AND revoked_at IS NULL",
        )
        .bind(self.namespace.as_str())
        .bind(user_id.as_uuid())
        .execute(&mut *tx)
        .await
        .map_err(map_sqlx_error)?
        .rows_affected();
        // one_time_tokens_unused_idx
        let tokens = sqlx::query(
            "UPDATE one_time_tokens SET used_at = now()
             WHERE namespace = $1 AND user_id = $2 AND used_at IS NULL",
        )
        .bind(self.namespace.as_str())
        .bind(user_id.as_uuid())
        .execute(&mut *tx)
        .await
        .map_err(map_sqlx_error)?
        .rows_affected();
        let rec = AuditRecord::new(events::USER_DISABLED, "user", user_id)
            .old(json!({ "disabled": false }))
            .new_values(json!({
                "disabled": true,
                "sessions_revoked": sessions,
                "tokens_invalidated": tokens,
            }));
        self.audit(&mut tx, rec).await?;
        commit(tx).await?;
        Ok(true)
    }

    async fn enable_user(&self, user_id: UserId) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        let changed = sqlx::query(
            "UPDATE users SET disabled_at = NULL, updated_at = now()
             WHERE namespace = $1 AND id = $2 AND disabled_at IS NOT NULL",
        )
        .bind(self.namespace.as_str())
        .bind(user_id.as_uuid())
        .execute(&mut *tx)
        .await
        .map_err(map_sqlx_error)?
        .rows_affected();
        if changed > 0 {
            let rec = AuditRecord::new(events::USER_ENABLED, "user", user_id)
                .old(json!({ "disabled": true }))
                .new_values(json!({ "disabled": false }));
            self.audit(&mut tx, rec).await?;
        }
        commit(tx).await?;
        Ok(changed > 0)
    }

    async fn delete_user(&self, user_id: UserId) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        // sessions, tokens and MFA methods go by ON DELETE CASCADE
        let deleted: Option<(String,)> =
            sqlx::query_as("DELETE FROM users WHERE namespace = $1 AND id = $2 RETURNING email")
                .bind(self.namespace.as_str())
                .bind(user_id.as_uuid())
                .fetch_optional(&mut *tx)
                .await
                .map_err(map_sqlx_error)?;
        if let Some((email,)) = &deleted {
            let rec = AuditRecord::new(events::USER_DELETED, "user", user_id)
                .old(json!({ "email": email }));
            self.audit(&mut tx, rec).await?;
        }
        commit(tx).await?;
        Ok(deleted.is_some())
    }

    async fn list_users(
        &self,
        limit: Option<u32>,
        cursor: Option<&str>,
    ) -> StoreResult<Page<User>> {
        let limit = resolve_limit(limit, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, "limit")?;
        let after = parse_cursor(cursor)?;
        // users_namespace_id_key: keyset, one extra row tells whether a next page exists
        // Two statements rather than `$2 IS NULL OR id > $2`, whose generic
        // plan would filter instead of seeking on the index.
        let query = match after {
            Some(after) => sqlx::query_as(select_users!(
                "WHERE namespace = $1 AND id > $3 ORDER BY id LIMIT $2"
            ))
            .bind(self.namespace.as_str())
            .bind(i64::from(limit) + 1)
            .bind(after),
            None => sqlx::query_as(select_users!("WHERE namespace = $1 ORDER BY id LIMIT $2"))
                .bind(self.namespace.as_str())
                .bind(i64::from(limit) + 1),
        };
        let items = self
            .read_all(query)
            .await?
            .into_iter()
            .map(UserRow::into_user)
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(into_page(items, limit, |u| u.id.to_string()))
    }

    async fn get_credentials(&self, email: &str) -> StoreResult<Option<Credentials>> {
        let email = Email::parse(email)?;
        // One round trip: the function sets the namespace and reads on
        // users_namespace_email_key (migration 0002).
        let row: Option<(Uuid, Option<String>, Option<DateTime<Utc>>)> = sqlx::query_as(
            "SELECT id, password_hash, disabled_at FROM authn_get_credentials($1, $2)",
        )
        .bind(self.namespace.as_str())
        .bind(email.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(map_sqlx_error)?;
        row.map(|(id, hash, disabled_at)| {
            Ok(Credentials {
                user_id: UserId::from_uuid(id),
                password_hash: hash
                    .map(|h| PasswordHash::parse(&h))
                    .transpose()
                    .map_err(|e| authn_core::StoreError::Internal {
                        source: Box::new(e),
                    })?,
                disabled_at,
            })
        })
        .transpose()
    }

    async fn update_password(
        &self,
        user_id: UserId,
        new_password_hash: &PasswordHash,
    ) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        let changed = sqlx::query(
            "UPDATE users SET password_hash = $3, updated_at = now() WHERE namespace = $1 AND id = $2",
        )
        .bind(self.namespace.as_str())
        .bind(user_id.as_uuid())
        .bind(new_password_hash.as_str())
        .execute(&mut *tx)
        .await
        .map_err(map_sqlx_error)?
        .rows_affected();
        if changed > 0 {
            let rec = AuditRecord::new(events::PASSWORD_UPDATED, "user", user_id);
            self.audit(&mut tx, rec).await?;
        }
        commit(tx).await?;
        Ok(changed > 0)
    }
}
