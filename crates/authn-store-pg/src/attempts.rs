//! [`LoginAttemptStore`] on PostgreSQL.
//!
//! Two kinds of attempts share one mechanism: password logins (subject: the
//! email) and second-factor checks (subject: the user id, across sessions).
//! Every operation that changes the attempts of a subject first takes a
//! transaction-scoped advisory lock on (namespace, kind, subject), so
//! counting and inserting are one atomic step: parallel attempts are
//! serialised, none is lost, and exactly one failure starts each lockout
//! episode.

use std::net::IpAddr;
use std::time::Duration;

use authn_core::audit::events;
use authn_core::policy::{
    DEFAULT_RECENT_ATTEMPTS, MAX_RECENT_ATTEMPTS, resolve_duration, resolve_limit,
};
use authn_core::store::LoginAttemptStore;
use authn_core::{
    AttemptId, AttemptOutcome, AttemptPermit, AttemptSubject, Email, LoginAttempt, StoreError,
    StoreResult, UserId, ValidationError,
};
use chrono::{DateTime, Utc};
use serde_json::json;

use crate::PgStore;
use crate::error::map_sqlx_error;
use crate::sql::{AuditRecord, Tx, commit, count, micros, stored_email};

/// First key of the two-key advisory locks that serialise attempts on one
/// subject ("auth" in ASCII), so they cannot collide with single-key locks
/// such as sqlx's migration lock.
pub(crate) const ATTEMPT_LOCK_CLASS: i32 = 0x6175_7468;

#[derive(sqlx::FromRow)]
struct AttemptRow {
    subject: String,
    success: Option<bool>,
    ip_address: Option<IpAddr>,
    attempted_at: DateTime<Utc>,
}

/// A subject as stored: its kind, its key text, its limit and audit names.
pub(crate) struct Keyed {
    pub(crate) kind: &'static str,
    pub(crate) subject: String,
    max: u64,
    failed_event: &'static str,
    lockout_event: &'static str,
    resource_type: &'static str,
}

impl PgStore {
    pub(crate) fn keyed(&self, subject: &AttemptSubject) -> Keyed {
        match subject {
            AttemptSubject::Password(email) => Keyed {
                kind: "password",
                subject: email.as_str().to_owned(),
                max: u64::from(self.policy.lockout_max_attempts),
                failed_event: events::LOGIN_ATTEMPT_FAILED,
                lockout_event: events::LOCKOUT_TRIGGERED,
                resource_type: "email",
            },
            AttemptSubject::Mfa(user_id) => Keyed {
                kind: "mfa",
                subject: user_id.to_string(),
                max: u64::from(self.policy.mfa_max_attempts),
                failed_event: events::MFA_ATTEMPT_FAILED,
                lockout_event: events::MFA_LOCKOUT_TRIGGERED,
                resource_type: "user",
            },
        }
    }

    /// Serialises every attempt-changing operation on one subject until the
    /// transaction ends. Other subjects are not blocked (apart from rare hash
    /// collisions, which only serialise).
    async fn lock_subject(&self, tx: &mut Tx, k: &Keyed) -> StoreResult<()> {
        sqlx::query("SELECT pg_advisory_xact_lock($1, hashtext($2 || '/' || $3 || '/' || $4))")
            .bind(ATTEMPT_LOCK_CLASS)
            .bind(self.namespace.as_str())
            .bind(k.kind)
            .bind(&k.subject)
            .execute(&mut **tx)
            .await
            .map_err(map_sqlx_error)?;
        Ok(())
    }

    /// Counts failed and in-progress attempts of a subject within a window
    /// (login_attempts_counted_idx): what locks. Run after `lock_subject`, its
    /// snapshot sees every attempt committed by the transactions serialised
    /// before this one.
    async fn count_in_window(&self, tx: &mut Tx, k: &Keyed, window_us: i64) -> StoreResult<u64> {
        let n: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM login_attempts
             WHERE namespace = $1 AND kind = $2 AND subject = $3 AND success IS NOT TRUE
               AND attempted_at > now() - $4 * interval '1 microsecond'",
        )
        .bind(self.namespace.as_str())
        .bind(k.kind)
        .bind(&k.subject)
        .bind(window_us)
        .fetch_one(&mut **tx)
        .await
        .map_err(map_sqlx_error)?;
        Ok(count(n))
    }

    /// Inserts an attempt (`success` NULL: reserved, in progress).
    async fn insert_attempt(
        &self,
        tx: &mut Tx,
        k: &Keyed,
        success: Option<bool>,
        ip_address: Option<IpAddr>,
    ) -> StoreResult<AttemptId> {
        let id = AttemptId::new();
        sqlx::query(
            "INSERT INTO login_attempts (id, namespace, kind, subject, success, ip_address)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(id.as_uuid())
        .bind(self.namespace.as_str())
        .bind(k.kind)
        .bind(&k.subject)
        .bind(success)
        .bind(ip_address)
        .execute(&mut **tx)
        .await
        .map_err(map_sqlx_error)?;
        Ok(id)
    }

    /// Audits a failure, and the start of a lockout when this failure brought
    /// the finished failures in the window to the limit. Returns the outcome,
    /// given the subject's attempts `counted` in the window (this one too).
    async fn after_attempt(
        &self,
        tx: &mut Tx,
        k: &Keyed,
        attempt_id: AttemptId,
        success: bool,
        ip_address: Option<IpAddr>,
        counted: u64,
    ) -> StoreResult<AttemptOutcome> {
        let window_us = micros(self.policy.lockout_window, "lockout_window")?;
        let max = k.max;
        let mut lockout_started = false;
        if !success {
            // Finished failures in the window without and with this attempt
            // (a permit finished late may already have left the window and
            // then adds nothing). The episode starts on the crossing only;
            // the count falls below the limit again only by sliding out or
            // clear_attempts, which ends the episode.
            // login_attempts_counted_idx (`success IS NOT TRUE`, implied by
            // `success = false` only when spelt out for the planner)
            let (before, failures): (i64, i64) = sqlx::query_as(
                "SELECT count(*) FILTER (WHERE id <> $5), count(*) FROM login_attempts
                 WHERE namespace = $1 AND kind = $2 AND subject = $3
                   AND success = false AND success IS NOT TRUE
                   AND attempted_at > now() - $4 * interval '1 microsecond'",
            )
            .bind(self.namespace.as_str())
            .bind(k.kind)
            .bind(&k.subject)
            .bind(window_us)
            .bind(attempt_id.as_uuid())
            .fetch_one(&mut **tx)
            .await
            .map_err(map_sqlx_error)?;
            let (before, failures) = (count(before), count(failures));
            lockout_started = max > 0 && before < max && failures >= max;
            let rec = AuditRecord::new(k.failed_event, k.resource_type, &k.subject)
                .new_values(json!({ "ip_address": ip_address, "failures_in_window": failures }));
            self.audit(tx, rec).await?;
            if lockout_started {
                let rec = AuditRecord::new(k.lockout_event, k.resource_type, &k.subject)
                    .new_values(json!({
                        "failures_in_window": failures,
                        "max_attempts": max,
                        "window_seconds": self.policy.lockout_window.as_secs(),
                    }));
                self.audit(tx, rec).await?;
            }
        }
        Ok(outcome(k, counted, lockout_started))
    }

    /// Reserves an attempt of a subject, or refuses with the time until the
    /// lock lifts: one round trip (`authn_begin_attempt`, which locks the
    /// subject, counts its window on login_attempts_counted_idx and
    /// inserts), committed without waiting for the WAL flush (migration
    /// 0004 says why the lockout loses nothing).
    async fn begin_attempt(
        &self,
        subject: AttemptSubject,
        ip_address: Option<IpAddr>,
    ) -> StoreResult<AttemptPermit> {
        let k = self.keyed(&subject);
        let window_us = micros(self.policy.lockout_window, "lockout_window")?;
        let attempt_id = AttemptId::new();
        let (admitted, retry_after): (bool, Option<f64>) = sqlx::query_as(
            "SELECT admitted, retry_after FROM authn_begin_attempt($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(self.namespace.as_str())
        .bind(ATTEMPT_LOCK_CLASS)
        .bind(k.kind)
        .bind(&k.subject)
        .bind(window_us)
        .bind(i64::try_from(k.max).unwrap_or(i64::MAX))
        .bind(attempt_id.as_uuid())
        .bind(ip_address)
        .fetch_one(&self.pool)
        .await
        .map_err(map_sqlx_error)?;
        if !admitted {
            // Whole seconds, rounded up: retrying at once after them works.
            let secs = retry_after.unwrap_or(0.0).max(0.0).ceil();
            return Err(StoreError::Locked {
                retry_after: Duration::try_from_secs_f64(secs).unwrap_or(Duration::ZERO),
            });
        }
        Ok(AttemptPermit {
            attempt_id,
            subject,
        })
    }
}

/// The outcome of an attempt, given the subject's attempts counted in the
/// window (failed and unfinished ones).
fn outcome(k: &Keyed, counted: u64, lockout_started: bool) -> AttemptOutcome {
    AttemptOutcome {
        failures_in_window: u32::try_from(counted).unwrap_or(u32::MAX),
        locked_out: k.max > 0 && counted >= k.max,
        lockout_started,
    }
}

impl LoginAttemptStore for PgStore {
    async fn record_login_attempt(
        &self,
        email: &str,
        success: bool,
        ip_address: Option<IpAddr>,
    ) -> StoreResult<AttemptOutcome> {
        let k = self.keyed(&AttemptSubject::Password(Email::parse(email)?));
        let mut tx = self.begin().await?;
        self.lock_subject(&mut tx, &k).await?;
        let attempt_id = self
            .insert_attempt(&mut tx, &k, Some(success), ip_address)
            .await?;
        let window_us = micros(self.policy.lockout_window, "lockout_window")?;
        let counted = self.count_in_window(&mut tx, &k, window_us).await?;
        let outcome = self
            .after_attempt(&mut tx, &k, attempt_id, success, ip_address, counted)
            .await?;
        commit(tx).await?;
        Ok(outcome)
    }

    async fn begin_login_attempt(
        &self,
        email: &str,
        ip_address: Option<IpAddr>,
    ) -> StoreResult<AttemptPermit> {
        let email = Email::parse(email)?;
        self.begin_attempt(AttemptSubject::Password(email), ip_address)
            .await
    }

    async fn begin_mfa_attempt(
        &self,
        user_id: UserId,
        ip_address: Option<IpAddr>,
    ) -> StoreResult<AttemptPermit> {
        self.begin_attempt(AttemptSubject::Mfa(user_id), ip_address)
            .await
    }

    async fn finish_login_attempt(
        &self,
        permit: &AttemptPermit,
        success: bool,
    ) -> StoreResult<AttemptOutcome> {
        let k = self.keyed(&permit.subject);
        let window_us = micros(self.policy.lockout_window, "lockout_window")?;
        // `authn_finish_attempt` locks the subject, closes the attempt
        // (primary key; `success IS NULL` makes finishing exactly-once) and
        // counts the window (login_attempts_counted_idx).
        let finish = sqlx::query_as::<_, (bool, Option<IpAddr>, i64)>(
            "SELECT finished, attempt_ip, counted
             FROM authn_finish_attempt($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(self.namespace.as_str())
        .bind(ATTEMPT_LOCK_CLASS)
        .bind(k.kind)
        .bind(&k.subject)
        .bind(permit.attempt_id.as_uuid())
        .bind(success)
        .bind(window_us);
        let not_open = StoreError::NotFound {
            entity: "login_attempt",
        };
        if success {
            // A success writes nothing else: one round trip, its own
            // transaction, which the function commits without waiting for
            // the WAL flush (lost in a crash, the attempt reads as
            // unfinished and counts as before).
            let (finished, _, counted) =
                finish.fetch_one(&self.pool).await.map_err(map_sqlx_error)?;
            if !finished {
                return Err(not_open);
            }
            return Ok(outcome(&k, count(counted), false));
        }
        // A failure and its audit events, in one flushed transaction.
        let mut tx = self.begin().await?;
        let (finished, ip_address, counted) =
            finish.fetch_one(&mut *tx).await.map_err(map_sqlx_error)?;
        if !finished {
            commit(tx).await?;
            return Err(not_open);
        }
        let outcome = self
            .after_attempt(
                &mut tx,
                &k,
                permit.attempt_id,
                false,
                ip_address,
                count(counted),
            )
            .await?;
        commit(tx).await?;
        Ok(outcome)
    }

    async fn cancel_login_attempt(&self, permit: &AttemptPermit) -> StoreResult<bool> {
        let k = self.keyed(&permit.subject);
        let mut tx = self.begin().await?;
        // primary key; only an open (undecided) attempt. The subject's
        // columns compared with IS NOT DISTINCT FROM, which no index serves,
        // as in migration 0004: the planner cannot take the subject's index
        // and read all of its attempts.
        let deleted = sqlx::query(
            "DELETE FROM login_attempts
             WHERE id = $2 AND success IS NULL
               AND (namespace, kind, subject) IS NOT DISTINCT FROM ($1, $3, $4)",
        )
        .bind(self.namespace.as_str())
        .bind(permit.attempt_id.as_uuid())
        .bind(k.kind)
        .bind(&k.subject)
        .execute(&mut *tx)
        .await
        .map_err(map_sqlx_error)?
        .rows_affected();
        commit(tx).await?;
        Ok(deleted > 0)
    }

    async fn is_locked_out(
        &self,
        email: &str,
        window: Option<Duration>,
        max_attempts: Option<u32>,
    ) -> StoreResult<bool> {
        let k = self.keyed(&AttemptSubject::Password(Email::parse(email)?));
        let window = resolve_duration(window, self.policy.lockout_window, "window")?;
        let window_us = micros(window, "window")?;
        let max = match max_attempts {
            None => self.policy.lockout_max_attempts,
            Some(0) => return Err(ValidationError::new("max_attempts", "must be positive").into()),
            Some(n) => n,
        };
        let mut tx = self.begin().await?;
        let counted = self.count_in_window(&mut tx, &k, window_us).await?;
        commit(tx).await?;
        Ok(counted >= u64::from(max))
    }

    async fn get_recent_attempts(
        &self,
        email: &str,
        limit: Option<u32>,
    ) -> StoreResult<Vec<LoginAttempt>> {
        let email = Email::parse(email)?;
        let limit = resolve_limit(limit, DEFAULT_RECENT_ATTEMPTS, MAX_RECENT_ATTEMPTS, "limit")?;
        // login_attempts_subject_idx
        let rows: Vec<AttemptRow> = self
            .read_all(
                sqlx::query_as(
                    "SELECT subject, success, ip_address, attempted_at FROM login_attempts
                     WHERE namespace = $1 AND kind = 'password' AND subject = $2
                     ORDER BY attempted_at DESC, id DESC LIMIT $3",
                )
                .bind(self.namespace.as_str())
                .bind(email.as_str())
                .bind(i64::from(limit)),
            )
            .await?;
        rows.into_iter()
            .map(|r| {
                Ok(LoginAttempt {
                    email: stored_email(&r.subject)?,
                    // an attempt still in progress has not succeeded
                    success: r.success.unwrap_or(false),
                    ip_address: r.ip_address,
                    attempted_at: r.attempted_at,
                })
            })
            .collect()
    }

    async fn clear_attempts(&self, email: &str) -> StoreResult<u64> {
        let email = Email::parse(email)?;
        let k = self.keyed(&AttemptSubject::Password(email.clone()));
        let mut tx = self.begin().await?;
        self.lock_subject(&mut tx, &k).await?;
        // login_attempts_subject_idx
        let deleted = sqlx::query(
            "DELETE FROM login_attempts WHERE namespace = $1 AND kind = 'password' AND subject = $2",
        )
        .bind(self.namespace.as_str())
        .bind(email.as_str())
        .execute(&mut *tx)
        .await
        .map_err(map_sqlx_error)?
        .rows_affected();
        if deleted > 0 {
            let rec = AuditRecord::new(events::LOGIN_ATTEMPTS_CLEARED, "email", email.as_str())
                .new_values(json!({ "deleted": deleted }));
            self.audit(&mut tx, rec).await?;
        }
        commit(tx).await?;
        Ok(deleted)
    }
}
