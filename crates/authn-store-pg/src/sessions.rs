//! [`SessionStore`] on PostgreSQL.

use std::net::IpAddr;
use std::time::Duration;

use authn_core::audit::events;
use authn_core::model::clean_user_agent;
use authn_core::store::{PreparedSession, SessionStore};
use authn_core::{
    AttemptPermit, MfaReservation, NewSession, Session, SessionId, SessionUpgrade, StoreError,
    StoreResult, TokenHash, UserId, ValidSession,
};
use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::Postgres;
use sqlx::postgres::PgArguments;
use sqlx::query::QueryScalar;
use uuid::Uuid;

use crate::PgStore;
use crate::error::map_sqlx_error;
use crate::sql::{AuditRecord, Tx, commit, micros, stored_email};

/// `FROM sessions s JOIN users u ... WHERE <s is valid>`: the session is
/// this namespace's, has this token hash, is neither revoked nor expired, and
/// its user is enabled. `$1` namespace, `$2` token hash
/// (sessions_namespace_token_hash_key, then users' primary key).
macro_rules! valid_session {
    ($select:literal, $rest:literal) => {
        concat!(
            $select,
            " FROM sessions s JOIN users u ON u.namespace = s.namespace AND u.id = s.user_id
              WHERE s.namespace = $1 AND s.token_hash = $2
                AND s.revoked_at IS NULL AND s.expires_at > now() AND u.disabled_at IS NULL ",
            $rest
        )
    };
}

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

/// A call of `authn_create_session` or `authn_write_session_ahead`,
/// answering an outcome.
pub(crate) type SessionCall<'q> = QueryScalar<'q, Postgres, String, PgArguments>;

impl PgStore {
    /// Binds the first twenty arguments `authn_create_session` and
    /// `authn_write_session_ahead` share (migrations 0004, 0005): the
    /// session, its audit event (its values but `expires_at`, which the
    /// functions add from the row they insert) and the actor.
    pub(crate) fn bind_new_session<'q>(
        &self,
        call: SessionCall<'q>,
        new: &'q NewSession,
        id: SessionId,
    ) -> StoreResult<SessionCall<'q>> {
        let lifetime = micros(
            new.expires_in.unwrap_or(self.policy.session_lifetime),
            "expires_in",
        )?;
        let user_agent = new.user_agent.as_deref().and_then(clean_user_agent);
        let values = json!({
            "user_id": new.user_id,
            "ip_address": new.ip_address,
            "user_agent": user_agent,
            "partial": new.partial,
            "amr": new.amr,
            "acr": new.acr,
        });
        let actor = self.actor.as_deref();
        Ok(call
            .bind(self.namespace.as_str().to_owned())
            .bind(id.as_uuid())
            .bind(new.user_id.as_uuid())
            .bind(new.token_hash.as_str())
            .bind(lifetime)
            .bind(new.ip_address)
            .bind(user_agent)
            .bind(new.partial)
            .bind(&new.amr)
            .bind(new.acr.as_deref())
            .bind(new.mfa)
            .bind(uuid::Uuid::now_v7())
            .bind(events::SESSION_CREATED)
            .bind(actor.map(|a| a.actor_id.as_str().to_owned()))
            .bind(actor.and_then(|a| a.request_id.clone()))
            .bind(actor.and_then(|a| a.on_behalf_of.clone()))
            .bind(actor.and_then(|a| a.reason.clone()))
            .bind(actor.and_then(|a| a.ip_address))
            .bind(actor.and_then(|a| a.user_agent.clone()))
            .bind(values))
    }

    /// Binds the attempt a session concludes, if any: its id, kind and
    /// subject (the functions' last three arguments).
    pub(crate) fn bind_concluded<'q>(
        &self,
        call: SessionCall<'q>,
        concludes: Option<&AttemptPermit>,
    ) -> SessionCall<'q> {
        let attempt = concludes.map(|p| (p.attempt_id, self.keyed(&p.subject)));
        call.bind(attempt.as_ref().map(|(id, _)| id.as_uuid()))
            .bind(attempt.as_ref().map(|(_, k)| k.kind))
            .bind(attempt.map(|(_, k)| k.subject))
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
    email_verified_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    partial: bool,
    amr: Vec<String>,
    acr: Option<String>,
    auth_time: DateTime<Utc>,
    mfa_at: Option<DateTime<Utc>>,
}

#[derive(sqlx::FromRow)]
struct SessionRow {
    id: Uuid,
    user_id: Uuid,
    created_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    ip_address: Option<IpAddr>,
    user_agent: Option<String>,
    amr: Vec<String>,
    partial: bool,
}

/// The session being replaced by `rotate_session`, locked.
#[derive(sqlx::FromRow)]
struct RotatedRow {
    id: Uuid,
    user_id: Uuid,
    amr: Vec<String>,
    acr: Option<String>,
    auth_time: DateTime<Utc>,
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
        self.create_session_with(&NewSession {
            expires_in,
            ip_address,
            user_agent: user_agent.map(str::to_owned),
            ..NewSession::new(user_id, token_hash.clone())
        })
        .await
    }

    async fn create_session_with(&self, new: &NewSession) -> StoreResult<SessionId> {
        let id = SessionId::new();
        // One round trip: the user's share lock (primary key), the attempt
        // concluded (its subject's lock, primary key), the insert
        // (sessions_namespace_token_hash_key -> AlreadyExists(token_hash))
        // and the audit event, committed without waiting for the WAL flush
        // (every login writes a session after its hash; one lost in a crash
        // only signs its holder out).
        let call = self.bind_new_session(
            sqlx::query_scalar(
                "SELECT outcome FROM authn_create_session($1, $2, $3, $4, $5, $6, $7, $8, $9,
                     $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24)",
            ),
            new,
            id,
        )?;
        let created = self
            .bind_concluded(
                call.bind(crate::attempts::ATTEMPT_LOCK_CLASS),
                new.concludes.as_ref(),
            )
            .fetch_one(&self.pool)
            .await
            .map_err(map_sqlx_error)?;
        match created.as_str() {
            "created" => Ok(id),
            "no_user" => Err(StoreError::NotFound { entity: "user" }),
            "disabled" => Err(StoreError::UserDisabled),
            "attempt_not_open" => Err(StoreError::NotFound {
                entity: "login_attempt",
            }),
            other => Err(StoreError::Internal {
                source: format!("authn_create_session answered {other:?}").into(),
            }),
        }
    }

    async fn prepare_session(&self, new: &NewSession) -> StoreResult<PreparedSession> {
        // Written on a task of the store (crate::ahead), so this returns
        // at once.
        Ok(self.prepare_ahead(new))
    }

    async fn validate_session(&self, token_hash: &TokenHash) -> StoreResult<Option<ValidSession>> {
        // One round trip: the function sets the namespace for this statement
        // and does the lookup on sessions_namespace_token_hash_key.
        let row: Option<ValidRow> = sqlx::query_as(
            "SELECT session_id, user_id, email, email_verified_at, created_at, expires_at,
                    partial, amr, acr, auth_time, mfa_at
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
                partial: r.partial,
                amr: r.amr,
                acr: r.acr,
                auth_time: r.auth_time,
                mfa_at: r.mfa_at,
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
        // Locks are taken user first, then session, as `disable_user` and
        // `revoke_all_sessions` take them (no deadlock). The user's share
        // lock makes a concurrent disable or revoke-all wait for this
        // rotation, so its revocation sees the new session; one that got
        // there first makes the re-check below find nothing.
        // sessions_namespace_token_hash_key, then users' primary key
        let owner: Option<(uuid::Uuid,)> =
            sqlx::query_as("SELECT user_id FROM sessions WHERE namespace = $1 AND token_hash = $2")
                .bind(self.namespace.as_str())
                .bind(old.as_str())
                .fetch_optional(&mut *tx)
                .await
                .map_err(map_sqlx_error)?;
        let Some((owner,)) = owner else {
            commit(tx).await?;
            return Ok(None);
        };
        sqlx::query("SELECT 1 FROM users WHERE namespace = $1 AND id = $2 FOR SHARE")
            .bind(self.namespace.as_str())
            .bind(owner)
            .execute(&mut *tx)
            .await
            .map_err(map_sqlx_error)?;
        // The row lock makes concurrent rotations of one session queue; the
        // later ones re-check `revoked_at IS NULL` and find nothing.
        let cur: Option<RotatedRow> = sqlx::query_as(valid_session!(
            "SELECT s.id, s.user_id, s.amr, s.acr, s.auth_time, s.ip_address, s.user_agent",
            "FOR UPDATE OF s"
        ))
        .bind(self.namespace.as_str())
        .bind(old.as_str())
        .fetch_optional(&mut *tx)
        .await
        .map_err(map_sqlx_error)?;
        let Some(cur) = cur else {
            commit(tx).await?;
            return Ok(None);
        };
        sqlx::query("UPDATE sessions SET revoked_at = now() WHERE id = $1")
            .bind(cur.id)
            .execute(&mut *tx)
            .await
            .map_err(map_sqlx_error)?;
        let mut amr = cur.amr;
        join_amr(&mut amr, &upgrade.add_amr);
        let acr = upgrade.acr.clone().or(cur.acr);
        let id = SessionId::new();
        // sessions_namespace_token_hash_key -> AlreadyExists(token_hash)
        sqlx::query(
            "INSERT INTO sessions (id, namespace, user_id, token_hash, expires_at, ip_address,
                                   user_agent, partial, amr, acr, auth_time, mfa_at)
             VALUES ($1, $2, $3, $4, now() + $5 * interval '1 microsecond', $6, $7, false, $8,
                     $9, $10, now())",
        )
        .bind(id.as_uuid())
        .bind(self.namespace.as_str())
        .bind(cur.user_id)
        .bind(new.as_str())
        .bind(lifetime)
        .bind(cur.ip_address)
        .bind(cur.user_agent.as_deref())
        .bind(&amr)
        .bind(acr.as_deref())
        .bind(cur.auth_time)
        .execute(&mut *tx)
        .await
        .map_err(map_sqlx_error)?;
        let rec = AuditRecord::new(events::SESSION_ROTATED, "session", id)
            .old(json!({ "session_id": cur.id }))
            .new_values(json!({ "user_id": cur.user_id, "amr": amr, "acr": acr }));
        self.audit(&mut tx, rec).await?;
        commit(tx).await?;
        Ok(Some(id))
    }

    async fn step_up_session(
        &self,
        token_hash: &TokenHash,
        upgrade: &SessionUpgrade,
    ) -> StoreResult<Option<DateTime<Utc>>> {
        let mut tx = self.begin().await?;
        let cur: Option<(Uuid, Vec<String>)> = sqlx::query_as(valid_session!(
            "SELECT s.id, s.amr",
            "AND NOT s.partial FOR UPDATE OF s"
        ))
        .bind(self.namespace.as_str())
        .bind(token_hash.as_str())
        .fetch_optional(&mut *tx)
        .await
        .map_err(map_sqlx_error)?;
        let Some((id, mut amr)) = cur else {
            commit(tx).await?;
            return Ok(None);
        };
        join_amr(&mut amr, &upgrade.add_amr);
        let mfa_at: DateTime<Utc> = sqlx::query_scalar(
            "UPDATE sessions SET amr = $2, acr = COALESCE($3, acr), mfa_at = now()
             WHERE id = $1 RETURNING mfa_at",
        )
        .bind(id)
        .bind(&amr)
        .bind(upgrade.acr.as_deref())
        .fetch_one(&mut *tx)
        .await
        .map_err(map_sqlx_error)?;
        let rec = AuditRecord::new(events::SESSION_STEPPED_UP, "session", id)
            .new_values(json!({ "amr": amr, "acr": upgrade.acr, "mfa_at": mfa_at }));
        self.audit(&mut tx, rec).await?;
        commit(tx).await?;
        Ok(Some(mfa_at))
    }

    async fn reserve_session_mfa_attempt(
        &self,
        token_hash: &TokenHash,
        max: u32,
    ) -> StoreResult<MfaReservation> {
        let max = i32::try_from(max).unwrap_or(i32::MAX);
        let mut tx = self.begin().await?;
        // The row lock serialises reservations on one session: at most `max`
        // pass `mfa_attempts < $3`.
        let reserved: Option<(Uuid,)> = sqlx::query_as(
            "UPDATE sessions s SET mfa_attempts = s.mfa_attempts + 1
             FROM users u
             WHERE s.namespace = $1 AND s.token_hash = $2 AND s.mfa_attempts < $3
               AND s.revoked_at IS NULL AND s.expires_at > now()
               AND u.namespace = s.namespace AND u.id = s.user_id AND u.disabled_at IS NULL
             RETURNING s.id",
        )
        .bind(self.namespace.as_str())
        .bind(token_hash.as_str())
        .bind(max)
        .fetch_optional(&mut *tx)
        .await
        .map_err(map_sqlx_error)?;
        let answer = if reserved.is_some() {
            MfaReservation::Reserved
        } else {
            let exists: Option<(Uuid,)> = sqlx::query_as(valid_session!("SELECT s.id", ""))
                .bind(self.namespace.as_str())
                .bind(token_hash.as_str())
                .fetch_optional(&mut *tx)
                .await
                .map_err(map_sqlx_error)?;
            if exists.is_some() {
                MfaReservation::Exhausted
            } else {
                MfaReservation::NoSession
            }
        };
        commit(tx).await?;
        Ok(answer)
    }

    async fn finish_session_mfa_attempt(
        &self,
        token_hash: &TokenHash,
        success: bool,
        max: u32,
    ) -> StoreResult<bool> {
        let max = i32::try_from(max).unwrap_or(i32::MAX);
        let mut tx = self.begin().await?;
        if success {
            // sessions_namespace_token_hash_key: give the slot back
            sqlx::query(
                "UPDATE sessions SET mfa_attempts = GREATEST(mfa_attempts - 1, 0)
                 WHERE namespace = $1 AND token_hash = $2",
            )
            .bind(self.namespace.as_str())
            .bind(token_hash.as_str())
            .execute(&mut *tx)
            .await
            .map_err(map_sqlx_error)?;
            commit(tx).await?;
            return Ok(false);
        }
        // Serialised by the row lock, failures grow one at a time: exactly
        // one wrong code reaches the limit and revokes the session.
        let row: Option<(Uuid, Uuid, bool)> = sqlx::query_as(
            "UPDATE sessions SET mfa_failures = mfa_failures + 1,
                 revoked_at = CASE WHEN mfa_failures + 1 >= $3 THEN COALESCE(revoked_at, now())
                                   ELSE revoked_at END
             WHERE namespace = $1 AND token_hash = $2 AND revoked_at IS NULL
             RETURNING id, user_id, mfa_failures = $3",
        )
        .bind(self.namespace.as_str())
        .bind(token_hash.as_str())
        .bind(max)
        .fetch_optional(&mut *tx)
        .await
        .map_err(map_sqlx_error)?;
        let revoked = matches!(row, Some((_, _, true)));
        if let (true, Some((id, user_id, _))) = (revoked, row) {
            let rec = AuditRecord::new(events::SESSION_MFA_EXHAUSTED, "session", id)
                .new_values(json!({ "user_id": user_id, "failures": max }));
            self.audit(&mut tx, rec).await?;
        }
        commit(tx).await?;
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
        // The row lock makes a concurrent revoke either win (we see it
        // revoked) or wait for us.
        let row: Option<(Uuid, DateTime<Utc>, DateTime<Utc>)> = sqlx::query_as(concat!(
            "WITH cur AS (",
            valid_session!("SELECT s.id, s.expires_at", "FOR UPDATE OF s"),
            ")
             UPDATE sessions s
             SET expires_at = GREATEST(cur.expires_at, now() + $3 * interval '1 microsecond')
             FROM cur WHERE s.id = cur.id
             RETURNING s.id, cur.expires_at, s.expires_at"
        ))
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
        self.revoke_sessions_except(user_id, None).await
    }

    async fn revoke_other_sessions(&self, user_id: UserId, keep: SessionId) -> StoreResult<u64> {
        self.revoke_sessions_except(user_id, Some(keep)).await
    }

    async fn list_sessions(&self, user_id: UserId) -> StoreResult<Vec<Session>> {
        // sessions_user_idx (already in newest-first order)
        let rows: Vec<SessionRow> = self
            .read_all(
                sqlx::query_as(
                    "SELECT id, user_id, created_at, expires_at, ip_address, user_agent, amr, partial
                     FROM sessions
                     WHERE namespace = $1 AND user_id = $2 AND revoked_at IS NULL
                       AND expires_at > now()
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
                amr: r.amr,
                partial: r.partial,
            })
            .collect())
    }
}

impl PgStore {
    /// Revokes the active sessions of a user, but `keep`.
    async fn revoke_sessions_except(
        &self,
        user_id: UserId,
        keep: Option<SessionId>,
    ) -> StoreResult<u64> {
        let mut tx = self.begin().await?;
        // The user row first (lock order user, then sessions): this waits
        // for rotations and creations in flight (they hold it FOR SHARE),
        // so the UPDATE below sees the sessions they made. A session
        // written ahead of its login's verdict (crate::ahead) holds it
        // only in its commit's round trip: one committed after this
        // survives it, as a login whose password was checked before it
        // and whose session was created after it does.
        // users' primary key
        sqlx::query("SELECT 1 FROM users WHERE namespace = $1 AND id = $2 FOR NO KEY UPDATE")
            .bind(self.namespace.as_str())
            .bind(user_id.as_uuid())
            .execute(&mut *tx)
            .await
            .map_err(map_sqlx_error)?;
        // sessions_user_idx
        let revoked = sqlx::query(
            "UPDATE sessions SET revoked_at = now()
             WHERE namespace = $1 AND user_id = $2 AND revoked_at IS NULL AND expires_at > now()
               AND ($3::uuid IS NULL OR id <> $3)",
        )
        .bind(self.namespace.as_str())
        .bind(user_id.as_uuid())
        .bind(keep.map(|k| k.as_uuid()))
        .execute(&mut *tx)
        .await
        .map_err(map_sqlx_error)?
        .rows_affected();
        if revoked > 0 {
            let rec = AuditRecord::new(events::SESSIONS_REVOKED_ALL, "user", user_id)
                .new_values(json!({ "revoked": revoked, "kept_session_id": keep }));
            self.audit(&mut tx, rec).await?;
        }
        commit(tx).await?;
        Ok(revoked)
    }
}
