//! [`SessionStore`] on SQLite.

use std::net::IpAddr;
use std::time::Duration;

use authn_core::audit::events;
use authn_core::model::clean_user_agent;
use authn_core::store::SessionStore;
use authn_core::{
    MfaReservation, NewSession, Session, SessionId, SessionUpgrade, StoreError, StoreResult,
    TokenHash, UserId, ValidSession,
};
use chrono::{DateTime, Utc};
use serde_json::json;
use uuid::Uuid;

use crate::SqliteStore;
use crate::error::map_sqlx_error;
use crate::sql::{
    AuditRecord, Tx, ip_text, json_list, micros, now_micros, opt_time, stored_email, stored_ip,
    stored_list, time,
};

/// `FROM sessions s JOIN users u ... WHERE <s is valid>`: the session is
/// this namespace's, has this token hash, is neither revoked nor expired, and
/// its user is enabled. `?1` namespace, `?2` token hash, `?3` now
/// (sessions_namespace_token_hash_key, then users' primary key).
macro_rules! valid_session {
    ($select:literal, $rest:literal) => {
        concat!(
            $select,
            " FROM sessions s JOIN users u ON u.namespace = s.namespace AND u.id = s.user_id
              WHERE s.namespace = ?1 AND s.token_hash = ?2
                AND s.revoked_at IS NULL AND s.expires_at > ?3 AND u.disabled_at IS NULL ",
            $rest
        )
    };
}

impl SqliteStore {
    /// Checks, inside a write transaction (so no disable can come in
    /// between), that the user exists in this namespace and may get new
    /// credentials. Returns the user's current email.
    pub(crate) async fn check_enabled_user(
        &self,
        tx: &mut Tx,
        user_id: UserId,
    ) -> StoreResult<String> {
        // primary key
        let row: Option<(String, Option<i64>)> =
            sqlx::query_as("SELECT email, disabled_at FROM users WHERE namespace = ?1 AND id = ?2")
                .bind(self.namespace.as_str())
                .bind(user_id.as_uuid())
                .fetch_optional(tx.conn())
                .await
                .map_err(map_sqlx_error)?;
        match row {
            None => Err(StoreError::NotFound { entity: "user" }),
            Some((_, Some(_))) => Err(StoreError::UserDisabled),
            Some((email, None)) => Ok(email),
        }
    }
}

/// `amr` joined with the methods of an upgrade, each once, in order.
fn join_amr(amr: &mut Vec<String>, add: &[String]) {
    for m in add {
        if !amr.contains(m) {
            amr.push(m.clone());
        }
    }
}

#[derive(sqlx::FromRow)]
struct ValidRow {
    session_id: Uuid,
    user_id: Uuid,
    email: String,
    email_verified_at: Option<i64>,
    created_at: i64,
    expires_at: i64,
    partial: bool,
    amr: String,
    acr: Option<String>,
    auth_time: i64,
    mfa_at: Option<i64>,
}

#[derive(sqlx::FromRow)]
struct SessionRow {
    id: Uuid,
    user_id: Uuid,
    created_at: i64,
    expires_at: i64,
    ip_address: Option<String>,
    user_agent: Option<String>,
    amr: String,
    partial: bool,
}

/// The session being replaced by `rotate_session`.
#[derive(sqlx::FromRow)]
struct RotatedRow {
    id: Uuid,
    user_id: Uuid,
    amr: String,
    acr: Option<String>,
    auth_time: i64,
    ip_address: Option<String>,
    user_agent: Option<String>,
}

impl SessionStore for SqliteStore {
    async fn create_session(
        &self,
        user_id: UserId,
        token_hash: &TokenHash,
        expires_in: Option<Duration>,
        ip_address: Option<IpAddr>,
        user_agent: Option<&str>,
    ) -> StoreResult<SessionId> {
        self.create_session_with(&NewSession {
            expires_in,
            ip_address,
            user_agent: user_agent.map(str::to_owned),
            ..NewSession::new(user_id, token_hash.clone())
        })
        .await
    }

    async fn create_session_with(&self, new: &NewSession) -> StoreResult<SessionId> {
        let lifetime = micros(
            new.expires_in.unwrap_or(self.policy.session_lifetime),
            "expires_in",
        )?;
        let user_agent = new.user_agent.as_deref().and_then(clean_user_agent);
        let id = SessionId::new();
        // Unflushed: every login writes a session after its hash, and one
        // lost in a power cut only signs its holder out.
        let mut tx = self.begin_unflushed().await?;
        let now = tx.now;
        let expires_at = now + lifetime;
        // Inserted only for an enabled user of this namespace (users'
        // primary key), which spares a read before it; the write lock is
        // held, so no disable comes in between.
        // sessions_namespace_token_hash_key -> AlreadyExists(token_hash)
        let inserted = sqlx::query(
            "INSERT INTO sessions (id, namespace, user_id, token_hash, created_at, expires_at,
                                   ip_address, user_agent, partial, amr, acr, auth_time, mfa_at)
             SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?5, ?12
             FROM users WHERE namespace = ?2 AND id = ?3 AND disabled_at IS NULL",
        )
        .bind(id.as_uuid())
        .bind(self.namespace.as_str())
        .bind(new.user_id.as_uuid())
        .bind(new.token_hash.as_str())
        .bind(now)
        .bind(expires_at)
        .bind(ip_text(new.ip_address))
        .bind(user_agent.as_deref())
        .bind(new.partial)
        .bind(json_list(&new.amr))
        .bind(new.acr.as_deref())
        .bind(new.mfa.then_some(now))
        .execute(tx.conn())
        .await
        .map_err(map_sqlx_error)?
        .rows_affected();
        if inserted == 0 {
            // Unknown or disabled: which one (nothing was written).
            let refused = match self.check_enabled_user(&mut tx, new.user_id).await {
                Err(e) => e,
                Ok(_) => StoreError::Internal {
                    source: "a session of an enabled user was not inserted".into(),
                },
            };
            tx.rollback().await?;
            return Err(refused);
        }
        if let Some(permit) = &new.concludes {
            // The attempt this session concludes, finished as a success in
            // the same commit; one no longer open rolls the session back.
            if !self.conclude_attempt(&mut tx, permit).await? {
                tx.rollback().await?;
                return Err(StoreError::NotFound {
                    entity: "login_attempt",
                });
            }
        }
        let rec = AuditRecord::new(events::SESSION_CREATED, "session", id).new_values(json!({
            "user_id": new.user_id,
            "expires_at": time(expires_at)?,
            "ip_address": new.ip_address,
            "user_agent": user_agent,
            "partial": new.partial,
            "amr": new.amr,
            "acr": new.acr,
        }));
        self.audit(&mut tx, rec).await?;
        tx.commit().await?;
        Ok(id)
    }

    async fn validate_session(&self, token_hash: &TokenHash) -> StoreResult<Option<ValidSession>> {
        // The hot path: one indexed lookup (sessions_namespace_token_hash_key,
        // then users' primary key), no transaction, no write.
        let row: Option<ValidRow> = sqlx::query_as(valid_session!(
            "SELECT s.id AS session_id, s.user_id, u.email, u.email_verified_at, s.created_at,
                    s.expires_at, s.partial, s.amr, s.acr, s.auth_time, s.mfa_at",
            ""
        ))
        .bind(self.namespace.as_str())
        .bind(token_hash.as_str())
        .bind(now_micros())
        .fetch_optional(&self.pool)
        .await
        .map_err(map_sqlx_error)?;
        row.map(|r| {
            Ok(ValidSession {
                session_id: SessionId::from_uuid(r.session_id),
                user_id: UserId::from_uuid(r.user_id),
                email: stored_email(&r.email)?,
                email_verified: r.email_verified_at.is_some(),
                created_at: time(r.created_at)?,
                expires_at: time(r.expires_at)?,
                partial: r.partial,
                amr: stored_list(&r.amr)?,
                acr: r.acr,
                auth_time: time(r.auth_time)?,
                mfa_at: opt_time(r.mfa_at)?,
            })
        })
        .transpose()
    }

    async fn rotate_session(
        &self,
        old: &TokenHash,
        new: &TokenHash,
        upgrade: &SessionUpgrade,
    ) -> StoreResult<Option<SessionId>> {
        let lifetime = micros(self.policy.session_lifetime, "session_lifetime")?;
        let mut tx = self.begin().await?;
        let now = tx.now;
        // The write lock makes concurrent rotations of one session run one
        // after the other; the later ones find it revoked.
        let cur: Option<RotatedRow> = sqlx::query_as(valid_session!(
            "SELECT s.id, s.user_id, s.amr, s.acr, s.auth_time, s.ip_address, s.user_agent",
            ""
        ))
        .bind(self.namespace.as_str())
        .bind(old.as_str())
        .bind(now)
        .fetch_optional(tx.conn())
        .await
        .map_err(map_sqlx_error)?;
        let Some(cur) = cur else {
            tx.commit().await?;
            return Ok(None);
        };
        // primary key
        sqlx::query("UPDATE sessions SET revoked_at = ?3 WHERE namespace = ?1 AND id = ?2")
            .bind(self.namespace.as_str())
            .bind(cur.id)
            .bind(now)
            .execute(tx.conn())
            .await
            .map_err(map_sqlx_error)?;
        let mut amr = stored_list(&cur.amr)?;
        join_amr(&mut amr, &upgrade.add_amr);
        let acr = upgrade.acr.clone().or(cur.acr);
        let id = SessionId::new();
        // sessions_namespace_token_hash_key -> AlreadyExists(token_hash)
        sqlx::query(
            "INSERT INTO sessions (id, namespace, user_id, token_hash, created_at, expires_at,
                                   ip_address, user_agent, partial, amr, acr, auth_time, mfa_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 0, ?9, ?10, ?11, ?5)",
        )
        .bind(id.as_uuid())
        .bind(self.namespace.as_str())
        .bind(cur.user_id)
        .bind(new.as_str())
        .bind(now)
        .bind(now + lifetime)
        .bind(cur.ip_address.as_deref())
        .bind(cur.user_agent.as_deref())
        .bind(json_list(&amr))
        .bind(acr.as_deref())
        .bind(cur.auth_time)
        .execute(tx.conn())
        .await
        .map_err(map_sqlx_error)?;
        let rec = AuditRecord::new(events::SESSION_ROTATED, "session", id)
            .old(json!({ "session_id": cur.id }))
            .new_values(json!({ "user_id": cur.user_id, "amr": amr, "acr": acr }));
        self.audit(&mut tx, rec).await?;
        tx.commit().await?;
        Ok(Some(id))
    }

    async fn step_up_session(
        &self,
        token_hash: &TokenHash,
        upgrade: &SessionUpgrade,
    ) -> StoreResult<Option<DateTime<Utc>>> {
        let mut tx = self.begin().await?;
        let now = tx.now;
        let cur: Option<(Uuid, String)> =
            sqlx::query_as(valid_session!("SELECT s.id, s.amr", "AND NOT s.partial"))
                .bind(self.namespace.as_str())
                .bind(token_hash.as_str())
                .bind(now)
                .fetch_optional(tx.conn())
                .await
                .map_err(map_sqlx_error)?;
        let Some((id, amr)) = cur else {
            tx.commit().await?;
            return Ok(None);
        };
        let mut amr = stored_list(&amr)?;
        join_amr(&mut amr, &upgrade.add_amr);
        // primary key
        sqlx::query(
            "UPDATE sessions SET amr = ?3, acr = coalesce(?4, acr), mfa_at = ?5
             WHERE namespace = ?1 AND id = ?2",
        )
        .bind(self.namespace.as_str())
        .bind(id)
        .bind(json_list(&amr))
        .bind(upgrade.acr.as_deref())
        .bind(now)
        .execute(tx.conn())
        .await
        .map_err(map_sqlx_error)?;
        let mfa_at = time(now)?;
        let rec = AuditRecord::new(events::SESSION_STEPPED_UP, "session", id)
            .new_values(json!({ "amr": amr, "acr": upgrade.acr, "mfa_at": mfa_at }));
        self.audit(&mut tx, rec).await?;
        tx.commit().await?;
        Ok(Some(mfa_at))
    }

    async fn reserve_session_mfa_attempt(
        &self,
        token_hash: &TokenHash,
        max: u32,
    ) -> StoreResult<MfaReservation> {
        let max = i64::from(max);
        let mut tx = self.begin().await?;
        let now = tx.now;
        // sessions_namespace_token_hash_key. One conditional increment under
        // the write lock: of parallel reservations on one session at most
        // `max` pass `mfa_attempts < ?3`.
        let reserved: Option<(Uuid,)> = sqlx::query_as(
            "UPDATE sessions SET mfa_attempts = mfa_attempts + 1
             WHERE namespace = ?1 AND token_hash = ?2 AND mfa_attempts < ?3
               AND revoked_at IS NULL AND expires_at > ?4
               AND EXISTS (SELECT 1 FROM users u
                           WHERE u.namespace = sessions.namespace AND u.id = sessions.user_id
                             AND u.disabled_at IS NULL)
             RETURNING id",
        )
        .bind(self.namespace.as_str())
        .bind(token_hash.as_str())
        .bind(max)
        .bind(now)
        .fetch_optional(tx.conn())
        .await
        .map_err(map_sqlx_error)?;
        let answer = if reserved.is_some() {
            MfaReservation::Reserved
        } else {
            let exists: Option<(Uuid,)> = sqlx::query_as(valid_session!("SELECT s.id", ""))
                .bind(self.namespace.as_str())
                .bind(token_hash.as_str())
                .bind(now)
                .fetch_optional(tx.conn())
                .await
                .map_err(map_sqlx_error)?;
            if exists.is_some() {
                MfaReservation::Exhausted
            } else {
                MfaReservation::NoSession
            }
        };
        tx.commit().await?;
        Ok(answer)
    }

    async fn finish_session_mfa_attempt(
        &self,
        token_hash: &TokenHash,
        success: bool,
        max: u32,
    ) -> StoreResult<bool> {
        let max = i64::from(max);
        let mut tx = self.begin().await?;
        let now = tx.now;
        if success {
            // sessions_namespace_token_hash_key: give the slot back
            sqlx::query(
                "UPDATE sessions SET mfa_attempts = max(mfa_attempts - 1, 0)
                 WHERE namespace = ?1 AND token_hash = ?2",
            )
            .bind(self.namespace.as_str())
            .bind(token_hash.as_str())
            .execute(tx.conn())
            .await
            .map_err(map_sqlx_error)?;
            tx.commit().await?;
            return Ok(false);
        }
        // sessions_namespace_token_hash_key. Serialised by the write lock,
        // failures grow one at a time: exactly one wrong code reaches the
        // limit and revokes the session.
        let row: Option<(Uuid, Uuid, bool)> = sqlx::query_as(
            "UPDATE sessions SET mfa_failures = mfa_failures + 1,
                 revoked_at = CASE WHEN mfa_failures + 1 >= ?3 THEN coalesce(revoked_at, ?4)
                                   ELSE revoked_at END
             WHERE namespace = ?1 AND token_hash = ?2 AND revoked_at IS NULL
             RETURNING id, user_id, mfa_failures = ?3",
        )
        .bind(self.namespace.as_str())
        .bind(token_hash.as_str())
        .bind(max)
        .bind(now)
        .fetch_optional(tx.conn())
        .await
        .map_err(map_sqlx_error)?;
        let revoked = matches!(row, Some((_, _, true)));
        if let (true, Some((id, user_id, _))) = (revoked, row) {
            let rec = AuditRecord::new(events::SESSION_MFA_EXHAUSTED, "session", id)
                .new_values(json!({ "user_id": user_id, "failures": max }));
            self.audit(&mut tx, rec).await?;
        }
        tx.commit().await?;
        Ok(revoked)
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
        let now = tx.now;
        // Under the write lock a concurrent revoke either ran before (we see
        // it revoked) or runs after us.
        let cur: Option<(Uuid, i64)> =
            sqlx::query_as(valid_session!("SELECT s.id, s.expires_at", ""))
                .bind(self.namespace.as_str())
                .bind(token_hash.as_str())
                .bind(now)
                .fetch_optional(tx.conn())
                .await
                .map_err(map_sqlx_error)?;
        let Some((id, old)) = cur else {
            tx.commit().await?;
            return Ok(None);
        };
        // never shorter
        let new = old.max(now + by);
        if new != old {
            // primary key
            sqlx::query("UPDATE sessions SET expires_at = ?3 WHERE namespace = ?1 AND id = ?2")
                .bind(self.namespace.as_str())
                .bind(id)
                .bind(new)
                .execute(tx.conn())
                .await
                .map_err(map_sqlx_error)?;
            let rec = AuditRecord::new(events::SESSION_EXTENDED, "session", id)
                .old(json!({ "expires_at": time(old)? }))
                .new_values(json!({ "expires_at": time(new)? }));
            self.audit(&mut tx, rec).await?;
        }
        tx.commit().await?;
        Ok(Some(time(new)?))
    }

    async fn revoke_session(&self, token_hash: &TokenHash) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        let now = tx.now;
        // sessions_namespace_token_hash_key
        let row: Option<(Uuid, Uuid)> = sqlx::query_as(
            "UPDATE sessions SET revoked_at = ?3
             WHERE namespace = ?1 AND token_hash = ?2 AND revoked_at IS NULL AND expires_at > ?3
             RETURNING id, user_id",
        )
        .bind(self.namespace.as_str())
        .bind(token_hash.as_str())
        .bind(now)
        .fetch_optional(tx.conn())
        .await
        .map_err(map_sqlx_error)?;
        if let Some((id, user_id)) = row {
            let rec = AuditRecord::new(events::SESSION_REVOKED, "session", id)
                .new_values(json!({ "user_id": user_id }));
            self.audit(&mut tx, rec).await?;
        }
        tx.commit().await?;
        Ok(row.is_some())
    }

    async fn revoke_session_by_id(
        &self,
        user_id: UserId,
        session_id: SessionId,
    ) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        let now = tx.now;
        // primary key
        let changed = sqlx::query(
            "UPDATE sessions SET revoked_at = ?4
             WHERE namespace = ?1 AND id = ?2 AND user_id = ?3
               AND revoked_at IS NULL AND expires_at > ?4",
        )
        .bind(self.namespace.as_str())
        .bind(session_id.as_uuid())
        .bind(user_id.as_uuid())
        .bind(now)
        .execute(tx.conn())
        .await
        .map_err(map_sqlx_error)?
        .rows_affected();
        if changed > 0 {
            let rec = AuditRecord::new(events::SESSION_REVOKED, "session", session_id)
                .new_values(json!({ "user_id": user_id }));
            self.audit(&mut tx, rec).await?;
        }
        tx.commit().await?;
        Ok(changed > 0)
    }

    async fn revoke_all_sessions(&self, user_id: UserId) -> StoreResult<u64> {
        self.revoke_sessions_except(user_id, None).await
    }

    async fn revoke_other_sessions(&self, user_id: UserId, keep: SessionId) -> StoreResult<u64> {
        self.revoke_sessions_except(user_id, Some(keep)).await
    }

    async fn list_sessions(&self, user_id: UserId) -> StoreResult<Vec<Session>> {
        // sessions_user_idx, named: without table statistics the planner
        // would rather range-scan the namespace's sessions by expiry
        let rows: Vec<SessionRow> = sqlx::query_as(
            "SELECT id, user_id, created_at, expires_at, ip_address, user_agent, amr, partial
             FROM sessions INDEXED BY sessions_user_idx
             WHERE namespace = ?1 AND user_id = ?2 AND revoked_at IS NULL AND expires_at > ?3
             ORDER BY created_at DESC, id DESC",
        )
        .bind(self.namespace.as_str())
        .bind(user_id.as_uuid())
        .bind(now_micros())
        .fetch_all(&self.pool)
        .await
        .map_err(map_sqlx_error)?;
        rows.into_iter()
            .map(|r| {
                Ok(Session {
                    id: SessionId::from_uuid(r.id),
                    user_id: UserId::from_uuid(r.user_id),
                    created_at: time(r.created_at)?,
                    expires_at: time(r.expires_at)?,
                    ip_address: stored_ip(r.ip_address)?,
                    user_agent: r.user_agent,
                    amr: stored_list(&r.amr)?,
                    partial: r.partial,
                })
            })
            .collect()
    }
}

impl SqliteStore {
    /// Revokes the active sessions of a user, but `keep`.
    async fn revoke_sessions_except(
        &self,
        user_id: UserId,
        keep: Option<SessionId>,
    ) -> StoreResult<u64> {
        let mut tx = self.begin().await?;
        let now = tx.now;
        // sessions_user_idx (named, as in list_sessions)
        let revoked = sqlx::query(
            "UPDATE sessions INDEXED BY sessions_user_idx SET revoked_at = ?4
             WHERE namespace = ?1 AND user_id = ?2 AND revoked_at IS NULL AND expires_at > ?4
               AND (?3 IS NULL OR id <> ?3)",
        )
        .bind(self.namespace.as_str())
        .bind(user_id.as_uuid())
        .bind(keep.map(|k| k.as_uuid()))
        .bind(now)
        .execute(tx.conn())
        .await
        .map_err(map_sqlx_error)?
        .rows_affected();
        if revoked > 0 {
            let rec = AuditRecord::new(events::SESSIONS_REVOKED_ALL, "user", user_id)
                .new_values(json!({ "revoked": revoked, "kept_session_id": keep }));
            self.audit(&mut tx, rec).await?;
        }
        tx.commit().await?;
        Ok(revoked)
    }
}
