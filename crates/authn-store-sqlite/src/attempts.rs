//! [`LoginAttemptStore`] on SQLite.
//!
//! Two kinds of attempts share one mechanism: password logins (subject: the
//! email) and second-factor checks (subject: the user id, across sessions).
//! Every operation that changes the attempts of a subject runs in a write
//! transaction (`BEGIN IMMEDIATE`): SQLite's single write lock is held from
//! its first statement, so counting and inserting are one atomic step
//! against every other writer (of this pool, another pool, another
//! process): parallel attempts are serialised, none is lost, and exactly one
//! failure starts each lockout episode. (Where PostgreSQL needs an advisory
//! lock per subject, SQLite's lock is per file.)

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
use serde_json::json;

use crate::SqliteStore;
use crate::error::map_sqlx_error;
use crate::sql::{
    AuditRecord, Tx, count, ip_text, micros, now_micros, stored_email, stored_ip, time,
};

#[derive(sqlx::FromRow)]
struct AttemptRow {
    subject: String,
    success: Option<bool>,
    ip_address: Option<String>,
    attempted_at: i64,
}

/// A subject as stored: its kind, its key text, its limit and audit names.
struct Keyed {
    kind: &'static str,
    subject: String,
    max: u64,
    failed_event: &'static str,
    lockout_event: &'static str,
    resource_type: &'static str,
}

/// Counts failed and in-progress attempts of a subject since `since`
/// (login_attempts_counted_idx): what locks. `?1` namespace, `?2` kind,
/// `?3` subject, `?4` since.
const COUNT_IN_WINDOW: &str = "SELECT count(*) FROM login_attempts
     WHERE namespace = ?1 AND kind = ?2 AND subject = ?3 AND success IS NOT 1
       AND attempted_at > ?4";

impl SqliteStore {
    fn keyed(&self, subject: &AttemptSubject) -> Keyed {
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

    /// Counts failed and in-progress attempts of a subject within a window
    /// ending at the transaction's time. Under the write lock it sees every
    /// attempt committed by the writers before this one.
    async fn count_in_window(&self, tx: &mut Tx, k: &Keyed, window_us: i64) -> StoreResult<u64> {
        let since = tx.now - window_us;
        let n: i64 = sqlx::query_scalar(COUNT_IN_WINDOW)
            .bind(self.namespace.as_str())
            .bind(k.kind)
            .bind(&k.subject)
            .bind(since)
            .fetch_one(tx.conn())
            .await
            .map_err(map_sqlx_error)?;
        Ok(count(n))
    }

    /// How long until the count drops below `max`: the `max`-th newest
    /// counted attempt leaves the window then (rounded up to whole seconds,
    /// as the PostgreSQL store does).
    async fn lock_lifts_in(&self, tx: &mut Tx, k: &Keyed, window_us: i64) -> StoreResult<Duration> {
        let now = tx.now;
        // login_attempts_counted_idx, newest first
        let at: Option<i64> = sqlx::query_scalar(
            "SELECT attempted_at FROM login_attempts
             WHERE namespace = ?1 AND kind = ?2 AND subject = ?3 AND success IS NOT 1
               AND attempted_at > ?4
             ORDER BY attempted_at DESC LIMIT 1 OFFSET ?5",
        )
        .bind(self.namespace.as_str())
        .bind(k.kind)
        .bind(&k.subject)
        .bind(now - window_us)
        .bind(i64::try_from(k.max.saturating_sub(1)).unwrap_or(i64::MAX))
        .fetch_optional(tx.conn())
        .await
        .map_err(map_sqlx_error)?;
        let left_us = at.map_or(0, |at| at + window_us - now).max(0);
        let secs = u64::try_from(left_us).unwrap_or(0).div_ceil(1_000_000);
        Ok(Duration::from_secs(secs))
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
        let now = tx.now;
        sqlx::query(
            "INSERT INTO login_attempts (id, namespace, kind, subject, success, ip_address,
                                         attempted_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )
        .bind(id.as_uuid())
        .bind(self.namespace.as_str())
        .bind(k.kind)
        .bind(&k.subject)
        .bind(success)
        .bind(ip_text(ip_address))
        .bind(now)
        .execute(tx.conn())
        .await
        .map_err(map_sqlx_error)?;
        Ok(id)
    }

    /// Audits a failure, and the start of a lockout when this failure brought
    /// the finished failures in the window to the limit. Returns the outcome.
    async fn after_attempt(
        &self,
        tx: &mut Tx,
        k: &Keyed,
        attempt_id: AttemptId,
        success: bool,
        ip_address: Option<IpAddr>,
    ) -> StoreResult<AttemptOutcome> {
        let window_us = micros(self.policy.lockout_window, "lockout_window")?;
        let max = k.max;
        let counted = self.count_in_window(tx, k, window_us).await?;
        let mut lockout_started = false;
        if !success {
            // Finished failures in the window without and with this attempt
            // (a permit finished late may already have left the window and
            // then adds nothing). The episode starts on the crossing only;
            // the count falls below the limit again only by sliding out or
            // clear_attempts, which ends the episode.
            // login_attempts_counted_idx (`success IS NOT 1` spelt out, so
            // that SQLite sees the index applies)
            let since = tx.now - window_us;
            let (before, failures): (i64, i64) = sqlx::query_as(
                "SELECT count(*) FILTER (WHERE id <> ?5), count(*) FROM login_attempts
                 WHERE namespace = ?1 AND kind = ?2 AND subject = ?3
                   AND success = 0 AND success IS NOT 1 AND attempted_at > ?4",
            )
            .bind(self.namespace.as_str())
            .bind(k.kind)
            .bind(&k.subject)
            .bind(since)
            .bind(attempt_id.as_uuid())
            .fetch_one(tx.conn())
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
        Ok(AttemptOutcome {
            failures_in_window: u32::try_from(counted).unwrap_or(u32::MAX),
            locked_out: max > 0 && counted >= max,
            lockout_started,
        })
    }

    /// Reserves an attempt of a subject, or refuses with the time until the
    /// lock lifts. Count and insert are one write transaction: no other
    /// attempt can be counted or inserted in between.
    async fn begin_attempt(
        &self,
        subject: AttemptSubject,
        ip_address: Option<IpAddr>,
    ) -> StoreResult<AttemptPermit> {
        let k = self.keyed(&subject);
        let window_us = micros(self.policy.lockout_window, "lockout_window")?;
        // Unflushed, as on PostgreSQL (migration 0004 says why that is safe
        // for the lockout): a login then waits for no sync of the disk.
        let mut tx = self.begin_unflushed().await?;
        let counted = self.count_in_window(&mut tx, &k, window_us).await?;
        if k.max > 0 && counted >= k.max {
            let retry_after = self.lock_lifts_in(&mut tx, &k, window_us).await?;
            tx.commit().await?;
            return Err(StoreError::Locked { retry_after });
        }
        let attempt_id = self.insert_attempt(&mut tx, &k, None, ip_address).await?;
        tx.commit().await?;
        Ok(AttemptPermit {
            attempt_id,
            subject,
        })
    }

    /// Finishes an open attempt as a success inside `tx`, for a session
    /// that concludes it (`NewSession::concludes`). `false` when the
    /// attempt is no longer open.
    pub(crate) async fn conclude_attempt(
        &self,
        tx: &mut Tx,
        permit: &AttemptPermit,
    ) -> StoreResult<bool> {
        let done = self
            .on_open_attempt(
                tx,
                permit,
                "UPDATE login_attempts SET success = 1
                 WHERE namespace = ?1 AND id = ?2 AND kind = ?3 AND subject = ?4
                   AND success IS NULL",
            )
            .await?;
        Ok(done > 0)
    }

    /// Runs `sql` on a permit's attempt while it is open, in `tx`: its
    /// WHERE takes the permit's namespace, id, kind and subject as `?1` to
    /// `?4` (primary key) and `success IS NULL`, so an attempt is decided or
    /// dropped exactly once. Returns the rows affected.
    async fn on_open_attempt(
        &self,
        tx: &mut Tx,
        permit: &AttemptPermit,
        sql: &'static str,
    ) -> StoreResult<u64> {
        let k = self.keyed(&permit.subject);
        Ok(sqlx::query(sql)
            .bind(self.namespace.as_str())
            .bind(permit.attempt_id.as_uuid())
            .bind(k.kind)
            .bind(&k.subject)
            .execute(tx.conn())
            .await
            .map_err(map_sqlx_error)?
            .rows_affected())
    }
}

impl LoginAttemptStore for SqliteStore {
    async fn record_login_attempt(
        &self,
        email: &str,
        success: bool,
        ip_address: Option<IpAddr>,
    ) -> StoreResult<AttemptOutcome> {
        let k = self.keyed(&AttemptSubject::Password(Email::parse(email)?));
        let mut tx = self.begin().await?;
        let attempt_id = self
            .insert_attempt(&mut tx, &k, Some(success), ip_address)
            .await?;
        let outcome = self
            .after_attempt(&mut tx, &k, attempt_id, success, ip_address)
            .await?;
        tx.commit().await?;
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
        // A success is unflushed (lost, it reads as unfinished and counts
        // as before); a failure, which the lockout counts, is flushed.
        let mut tx = if success {
            self.begin_unflushed().await?
        } else {
            self.begin().await?
        };
        // primary key; `success IS NULL` makes finishing exactly-once
        let ip: Option<Option<String>> = sqlx::query_scalar(
            "UPDATE login_attempts SET success = ?5
             WHERE namespace = ?1 AND id = ?2 AND kind = ?3 AND subject = ?4 AND success IS NULL
             RETURNING ip_address",
        )
        .bind(self.namespace.as_str())
        .bind(permit.attempt_id.as_uuid())
        .bind(k.kind)
        .bind(&k.subject)
        .bind(success)
        .fetch_optional(tx.conn())
        .await
        .map_err(map_sqlx_error)?;
        let Some(ip_address) = ip else {
            tx.commit().await?;
            return Err(StoreError::NotFound {
                entity: "login_attempt",
            });
        };
        let ip_address = stored_ip(ip_address)?;
        let outcome = self
            .after_attempt(&mut tx, &k, permit.attempt_id, success, ip_address)
            .await?;
        tx.commit().await?;
        Ok(outcome)
    }

    async fn cancel_login_attempt(&self, permit: &AttemptPermit) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        let deleted = self
            .on_open_attempt(
                &mut tx,
                permit,
                "DELETE FROM login_attempts
                 WHERE namespace = ?1 AND id = ?2 AND kind = ?3 AND subject = ?4
                   AND success IS NULL",
            )
            .await?;
        tx.commit().await?;
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
        // A read: one statement needs no transaction (login_attempts_counted_idx).
        let n: i64 = sqlx::query_scalar(COUNT_IN_WINDOW)
            .bind(self.namespace.as_str())
            .bind(k.kind)
            .bind(&k.subject)
            .bind(now_micros() - window_us)
            .fetch_one(&self.pool)
            .await
            .map_err(map_sqlx_error)?;
        Ok(count(n) >= u64::from(max))
    }

    async fn get_recent_attempts(
        &self,
        email: &str,
        limit: Option<u32>,
    ) -> StoreResult<Vec<LoginAttempt>> {
        let email = Email::parse(email)?;
        let limit = resolve_limit(limit, DEFAULT_RECENT_ATTEMPTS, MAX_RECENT_ATTEMPTS, "limit")?;
        // login_attempts_subject_idx
        let rows: Vec<AttemptRow> = sqlx::query_as(
            "SELECT subject, success, ip_address, attempted_at FROM login_attempts
             WHERE namespace = ?1 AND kind = 'password' AND subject = ?2
             ORDER BY attempted_at DESC, id DESC LIMIT ?3",
        )
        .bind(self.namespace.as_str())
        .bind(email.as_str())
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(map_sqlx_error)?;
        rows.into_iter()
            .map(|r| {
                Ok(LoginAttempt {
                    email: stored_email(&r.subject)?,
                    // an attempt still in progress has not succeeded
                    success: r.success.unwrap_or(false),
                    ip_address: stored_ip(r.ip_address)?,
                    attempted_at: time(r.attempted_at)?,
                })
            })
            .collect()
    }

    async fn clear_attempts(&self, email: &str) -> StoreResult<u64> {
        let email = Email::parse(email)?;
        let mut tx = self.begin().await?;
        // login_attempts_subject_idx
        let deleted = sqlx::query(
            "DELETE FROM login_attempts WHERE namespace = ?1 AND kind = 'password' AND subject = ?2",
        )
        .bind(self.namespace.as_str())
        .bind(email.as_str())
        .execute(tx.conn())
        .await
        .map_err(map_sqlx_error)?
        .rows_affected();
        if deleted > 0 {
            let rec = AuditRecord::new(events::LOGIN_ATTEMPTS_CLEARED, "email", email.as_str())
                .new_values(json!({ "deleted": deleted }));
            self.audit(&mut tx, rec).await?;
        }
        tx.commit().await?;
        Ok(deleted)
    }
}
