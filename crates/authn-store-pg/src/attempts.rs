//! [`LoginAttemptStore`] on PostgreSQL.

use std::net::IpAddr;
use std::time::Duration;

use authn_core::audit::events;
use authn_core::policy::{
    DEFAULT_RECENT_ATTEMPTS, MAX_RECENT_ATTEMPTS, resolve_duration, resolve_limit,
};
use authn_core::store::LoginAttemptStore;
use authn_core::{AttemptId, AttemptOutcome, Email, LoginAttempt, StoreResult, ValidationError};
use chrono::{DateTime, Utc};
use serde_json::json;

use crate::PgStore;
use crate::error::map_sqlx_error;
use crate::sql::{AuditRecord, Tx, commit, count, micros, stored_email};

/// First key of the two-key advisory locks that serialise attempts on one
/// email ("auth" in ASCII), so they cannot collide with single-key locks
/// such as sqlx's migration lock.
const ATTEMPT_LOCK_CLASS: i32 = 0x6175_7468;

/// Failed attempts of an email within a window, on login_attempts_failures_idx.
const FAILURES_IN_WINDOW: &str = "SELECT count(*) FROM login_attempts
     WHERE namespace = $1 AND email = $2 AND NOT success
       AND attempted_at > now() - $3 * interval '1 microsecond'";

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

    async fn failures_in_window(
        &self,
        tx: &mut Tx,
        email: &Email,
        window_us: i64,
    ) -> StoreResult<u64> {
        let n: i64 = sqlx::query_scalar(FAILURES_IN_WINDOW)
            .bind(self.namespace.as_str())
            .bind(email.as_str())
            .bind(window_us)
            .fetch_one(&mut **tx)
            .await
            .map_err(map_sqlx_error)?;
        Ok(count(n))
    }
}

fn clamp_u32(n: u64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

impl LoginAttemptStore for PgStore {
    async fn record_login_attempt(
        &self,
        email: &str,
        success: bool,
        ip_address: Option<IpAddr>,
    ) -> StoreResult<AttemptOutcome> {
        let email = Email::parse(email)?;
        let window_us = micros(self.policy.lockout_window, "lockout_window")?;
        let max = u64::from(self.policy.lockout_max_attempts);
        let mut tx = self.begin().await?;
        self.lock_email(&mut tx, &email).await?;
        // Counted after taking the lock: this statement's snapshot sees every
        // attempt committed by the transactions serialised before us.
        let before = self.failures_in_window(&mut tx, &email, window_us).await?;
        sqlx::query(
            "INSERT INTO login_attempts (id, namespace, email, success, ip_address)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(AttemptId::new().as_uuid())
        .bind(self.namespace.as_str())
        .bind(email.as_str())
        .bind(success)
        .bind(ip_address)
        .execute(&mut *tx)
        .await
        .map_err(map_sqlx_error)?;
        let after = if success { before } else { before + 1 };
        // An episode begins when the count crosses the limit, and only then.
        let lockout_started = max > 0 && before < max && after >= max;
        if !success {
            let rec = AuditRecord::new(events::LOGIN_ATTEMPT_FAILED, "email", email.as_str())
                .new_values(json!({ "ip_address": ip_address, "failures_in_window": after }));
            self.audit(&mut tx, rec).await?;
        }
        if lockout_started {
            let rec = AuditRecord::new(events::LOCKOUT_TRIGGERED, "email", email.as_str())
                .new_values(json!({
                    "failures_in_window": after,
                    "max_attempts": max,
                    "window_seconds": self.policy.lockout_window.as_secs(),
                }));
            self.audit(&mut tx, rec).await?;
        }
        commit(tx).await?;
        Ok(AttemptOutcome {
            failures_in_window: clamp_u32(after),
            locked_out: max > 0 && after >= max,
            lockout_started,
        })
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
        let failures = self.failures_in_window(&mut tx, &email, window_us).await?;
        commit(tx).await?;
        Ok(failures >= u64::from(max))
    }

    async fn get_recent_attempts(
        &self,
        email: &str,
        limit: Option<u32>,
    ) -> StoreResult<Vec<LoginAttempt>> {
        let email = Email::parse(email)?;
        let limit = resolve_limit(limit, DEFAULT_RECENT_ATTEMPTS, MAX_RECENT_ATTEMPTS, "limit")?;
        let mut tx = self.begin().await?;
        // login_attempts_email_idx
        let rows: Vec<(String, bool, Option<IpAddr>, DateTime<Utc>)> = sqlx::query_as(
            "SELECT email, success, ip_address, attempted_at FROM login_attempts
             WHERE namespace = $1 AND email = $2
             ORDER BY attempted_at DESC, id DESC LIMIT $3",
        )
        .bind(self.namespace.as_str())
        .bind(email.as_str())
        .bind(i64::from(limit))
        .fetch_all(&mut *tx)
        .await
        .map_err(map_sqlx_error)?;
        commit(tx).await?;
        rows.into_iter()
            .map(|(email, success, ip_address, attempted_at)| {
                Ok(LoginAttempt {
                    email: stored_email(&email)?,
                    success,
                    ip_address,
                    attempted_at,
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
