//! [`LoginAttemptStore`] on PostgreSQL.
//!
//! Every operation that changes the attempts of an email first takes a
//! transaction-scoped advisory lock on (namespace, email), so counting and
//! inserting are one atomic step: parallel attempts are serialised, none is
//! lost, and exactly one failure starts each lockout episode.

use std::net::IpAddr;
use std::time::Duration;

use authn_core::audit::events;
use authn_core::policy::{
    DEFAULT_RECENT_ATTEMPTS, MAX_RECENT_ATTEMPTS, resolve_duration, resolve_limit,
};
use authn_core::store::LoginAttemptStore;
use authn_core::{
    AttemptId, AttemptOutcome, AttemptPermit, Email, LoginAttempt, StoreError, StoreResult,
    ValidationError,
};
use chrono::{DateTime, Utc};
use serde_json::json;

use crate::PgStore;
use crate::error::map_sqlx_error;
use crate::sql::{AuditRecord, Tx, commit, count, micros, stored_email};

/// First key of the two-key advisory locks that serialise attempts on one
/// email ("auth" in ASCII), so they cannot collide with single-key locks
/// such as sqlx's migration lock.
const ATTEMPT_LOCK_CLASS: i32 = 0x6175_7468;

#[derive(sqlx::FromRow)]
struct AttemptRow {
    email: String,
    success: Option<bool>,
    ip_address: Option<IpAddr>,
    attempted_at: DateTime<Utc>,
}

impl PgStore {
    /// Serialises every attempt-changing operation on one (namespace, email)
    /// until the transaction ends. Attempts on other emails are not blocked
    /// (apart from rare hash collisions, which only serialise).
    async fn lock_email(&self, tx: &mut Tx, email: &Email) -> StoreResult<()> {
        sqlx::query("SELECT pg_advisory_xact_lock($1, hashtext($2 || '/' || $3))")
            .bind(ATTEMPT_LOCK_CLASS)
            .bind(self.namespace.as_str())
            .bind(email.as_str())
            .execute(&mut **tx)
            .await
            .map_err(map_sqlx_error)?;
        Ok(())
    }

    /// Counts failed and in-progress attempts of an email within a window
    /// (login_attempts_email_idx): what locks. Run after `lock_email`, its
    /// snapshot sees every attempt committed by the transactions serialised
    /// before this one.
    async fn count_in_window(
        &self,
        tx: &mut Tx,
        email: &Email,
        window_us: i64,
    ) -> StoreResult<u64> {
        let n: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM login_attempts
             WHERE namespace = $1 AND email = $2 AND success IS NOT TRUE
               AND attempted_at > now() - $3 * interval '1 microsecond'",
        )
        .bind(self.namespace.as_str())
        .bind(email.as_str())
        .bind(window_us)
        .fetch_one(&mut **tx)
        .await
        .map_err(map_sqlx_error)?;
        Ok(count(n))
    }

    /// How long until the count drops below `max`: the `max`-th newest
    /// counted attempt leaves the window then.
    async fn lock_lifts_in(
        &self,
        tx: &mut Tx,
        email: &Email,
        window_us: i64,
        max: u64,
    ) -> StoreResult<Duration> {
        let secs: Option<f64> = sqlx::query_scalar(
            "SELECT EXTRACT(EPOCH FROM attempted_at + $3 * interval '1 microsecond' - now())::float8
             FROM login_attempts
             WHERE namespace = $1 AND email = $2 AND success IS NOT TRUE
               AND attempted_at > now() - $3 * interval '1 microsecond'
             ORDER BY attempted_at DESC OFFSET $4 LIMIT 1",
        )
        .bind(self.namespace.as_str())
        .bind(email.as_str())
        .bind(window_us)
        .bind(i64::try_from(max.saturating_sub(1)).unwrap_or(i64::MAX))
        .fetch_optional(&mut **tx)
        .await
        .map_err(map_sqlx_error)?;
        Ok(Duration::from_secs_f64(secs.unwrap_or(0.0).max(0.0).ceil()))
    }

    /// Audits a failure, and the start of a lockout when this failure brought
    /// the finished failures in the window to the limit. Returns the outcome.
    async fn after_attempt(
        &self,
        tx: &mut Tx,
        attempt: (AttemptId, &Email),
        success: bool,
        ip_address: Option<IpAddr>,
    ) -> StoreResult<AttemptOutcome> {
        let (attempt_id, email) = attempt;
        let window_us = micros(self.policy.lockout_window, "lockout_window")?;
        let max = u64::from(self.policy.lockout_max_attempts);
        let counted = self.count_in_window(tx, email, window_us).await?;
        let mut lockout_started = false;
        if !success {
            // Finished failures in the window without and with this attempt
            // (a permit finished late may already have left the window and
            // then adds nothing). The episode starts on the crossing only;
            // the count falls below the limit again only by sliding out or
            // clear_attempts, which ends the episode.
            let (before, failures): (i64, i64) = sqlx::query_as(
                "SELECT count(*) FILTER (WHERE id <> $4), count(*) FROM login_attempts
                 WHERE namespace = $1 AND email = $2 AND success = false
                   AND attempted_at > now() - $3 * interval '1 microsecond'",
            )
            .bind(self.namespace.as_str())
            .bind(email.as_str())
            .bind(window_us)
            .bind(attempt_id.as_uuid())
            .fetch_one(&mut **tx)
            .await
            .map_err(map_sqlx_error)?;
            let (before, failures) = (count(before), count(failures));
            lockout_started = max > 0 && before < max && failures >= max;
            let rec = AuditRecord::new(events::LOGIN_ATTEMPT_FAILED, "email", email.as_str())
                .new_values(json!({ "ip_address": ip_address, "failures_in_window": failures }));
            self.audit(tx, rec).await?;
            if lockout_started {
                let rec = AuditRecord::new(events::LOCKOUT_TRIGGERED, "email", email.as_str())
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
}

impl LoginAttemptStore for PgStore {
    async fn record_login_attempt(
        &self,
        email: &str,
        success: bool,
        ip_address: Option<IpAddr>,
    ) -> StoreResult<AttemptOutcome> {
        let email = Email::parse(email)?;
        let attempt_id = AttemptId::new();
        let mut tx = self.begin().await?;
        self.lock_email(&mut tx, &email).await?;
        sqlx::query(
            "INSERT INTO login_attempts (id, namespace, email, success, ip_address)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(attempt_id.as_uuid())
        .bind(self.namespace.as_str())
        .bind(email.as_str())
        .bind(success)
        .bind(ip_address)
        .execute(&mut *tx)
        .await
        .map_err(map_sqlx_error)?;
        let outcome = self
            .after_attempt(&mut tx, (attempt_id, &email), success, ip_address)
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
        let window_us = micros(self.policy.lockout_window, "lockout_window")?;
        let max = u64::from(self.policy.lockout_max_attempts);
        let mut tx = self.begin().await?;
        self.lock_email(&mut tx, &email).await?;
        let counted = self.count_in_window(&mut tx, &email, window_us).await?;
        if max > 0 && counted >= max {
            let retry_after = self.lock_lifts_in(&mut tx, &email, window_us, max).await?;
            commit(tx).await?;
            return Err(StoreError::Locked { retry_after });
        }
        let attempt_id = AttemptId::new();
        sqlx::query(
            "INSERT INTO login_attempts (id, namespace, email, success, ip_address)
             VALUES ($1, $2, $3, NULL, $4)",
        )
        .bind(attempt_id.as_uuid())
        .bind(self.namespace.as_str())
        .bind(email.as_str())
        .bind(ip_address)
        .execute(&mut *tx)
        .await
        .map_err(map_sqlx_error)?;
        commit(tx).await?;
        Ok(AttemptPermit { attempt_id, email })
    }

    async fn finish_login_attempt(
        &self,
        permit: &AttemptPermit,
        success: bool,
    ) -> StoreResult<AttemptOutcome> {
        let mut tx = self.begin().await?;
        self.lock_email(&mut tx, &permit.email).await?;
        // primary key; `success IS NULL` makes finishing exactly-once
        let ip: Option<Option<IpAddr>> = sqlx::query_scalar(
            "UPDATE login_attempts SET success = $4
             WHERE namespace = $1 AND id = $2 AND email = $3 AND success IS NULL
             RETURNING ip_address",
        )
        .bind(self.namespace.as_str())
        .bind(permit.attempt_id.as_uuid())
        .bind(permit.email.as_str())
        .bind(success)
        .fetch_optional(&mut *tx)
        .await
        .map_err(map_sqlx_error)?;
        let Some(ip_address) = ip else {
            commit(tx).await?;
            return Err(StoreError::NotFound {
                entity: "login_attempt",
            });
        };
        let outcome = self
            .after_attempt(
                &mut tx,
                (permit.attempt_id, &permit.email),
                success,
                ip_address,
            )
            .await?;
        commit(tx).await?;
        Ok(outcome)
    }

    async fn is_locked_out(
        &self,
        email: &str,
        window: Option<Duration>,
        max_attempts: Option<u32>,
    ) -> StoreResult<bool> {
        let email = Email::parse(email)?;
        let window = resolve_duration(window, self.policy.lockout_window, "window")?;
        let window_us = micros(window, "window")?;
        let max = match max_attempts {
            None => self.policy.lockout_max_attempts,
            Some(0) => return Err(ValidationError::new("max_attempts", "must be positive").into()),
            Some(n) => n,
        };
        let mut tx = self.begin().await?;
        let counted = self.count_in_window(&mut tx, &email, window_us).await?;
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
        // login_attempts_email_idx
        let rows: Vec<AttemptRow> = self
            .read_all(
                sqlx::query_as(
                    "SELECT email, success, ip_address, attempted_at FROM login_attempts
                     WHERE namespace = $1 AND email = $2
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
                    email: stored_email(&r.email)?,
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
        let mut tx = self.begin().await?;
        self.lock_email(&mut tx, &email).await?;
        // login_attempts_email_idx
        let deleted = sqlx::query("DELETE FROM login_attempts WHERE namespace = $1 AND email = $2")
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
