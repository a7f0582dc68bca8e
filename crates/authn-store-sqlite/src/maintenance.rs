//! [`MaintenanceStore`] on SQLite.

use authn_core::audit::events;
use authn_core::policy::CLEANUP_IDLE_PER_BUSY;
use authn_core::store::MaintenanceStore;
use authn_core::{CleanupReport, Stats, StoreResult};
use serde_json::json;

use crate::SqliteStore;
use crate::error::map_sqlx_error;
use crate::sql::{AuditRecord, count, micros, now_micros};

/// Which count of the report a pass adds to.
#[derive(Clone, Copy)]
enum Counts {
    Sessions,
    Tokens,
    Attempts,
}

/// Each cleanup pass: `?1` namespace, `?2` batch size, `?3` the cut-off
/// time (now, or now minus the retention for attempts). Every batch is one
/// short write transaction, so other writers wait at most one batch. The
/// outer statement filters on the namespace too (every statement does);
/// the unary `+` keeps that term from steering the planner off the
/// lookup of the batch's rows by rowid (one B-tree search per row, where
/// the batch's primary keys cost a second one).
const PASSES: [(Counts, &str); 5] = [
    // sessions_expires_idx
    (
        Counts::Sessions,
        "DELETE FROM sessions WHERE +namespace = ?1 AND rowid IN (
         SELECT rowid FROM sessions WHERE namespace = ?1 AND expires_at <= ?3 LIMIT ?2)",
    ),
    // sessions_revoked_idx
    (
        Counts::Sessions,
        "DELETE FROM sessions WHERE +namespace = ?1 AND rowid IN (
         SELECT rowid FROM sessions WHERE namespace = ?1 AND revoked_at IS NOT NULL LIMIT ?2)",
    ),
    // one_time_tokens_expires_idx
    (
        Counts::Tokens,
        "DELETE FROM one_time_tokens WHERE +namespace = ?1 AND rowid IN (
         SELECT rowid FROM one_time_tokens WHERE namespace = ?1 AND expires_at <= ?3 LIMIT ?2)",
    ),
    // one_time_tokens_used_idx
    (
        Counts::Tokens,
        "DELETE FROM one_time_tokens WHERE +namespace = ?1 AND rowid IN (
         SELECT rowid FROM one_time_tokens WHERE namespace = ?1 AND used_at IS NOT NULL LIMIT ?2)",
    ),
    // login_attempts_time_idx
    (
        Counts::Attempts,
        "DELETE FROM login_attempts WHERE +namespace = ?1 AND rowid IN (
         SELECT rowid FROM login_attempts WHERE namespace = ?1 AND attempted_at < ?3 LIMIT ?2)",
    ),
];

impl SqliteStore {
    /// Runs one cleanup statement in batches until a batch comes back short.
    /// `age_us` is subtracted from each batch's time to get the cut-off.
    async fn delete_in_batches(&self, sql: &'static str, age_us: i64) -> StoreResult<u64> {
        let batch = u64::from(self.policy.cleanup_batch_size.max(1));
        let mut total = 0;
        loop {
            let started = std::time::Instant::now();
            let mut tx = self.begin().await?;
            let cutoff = tx.now - age_us;
            let n = sqlx::query(sql)
                .bind(self.namespace.as_str())
                .bind(i64::try_from(batch).unwrap_or(i64::MAX))
                .bind(cutoff)
                .execute(tx.conn())
                .await
                .map_err(map_sqlx_error)?
                .rows_affected();
            tx.commit().await?;
            total += n;
            if n < batch {
                return Ok(total);
            }
            // Paced, as every store's cleanup is (see the constant); a
            // fifth of the write lock also leaves other writers most of it.
            tokio::time::sleep(started.elapsed() * CLEANUP_IDLE_PER_BUSY).await;
        }
    }
}

impl MaintenanceStore for SqliteStore {
    async fn cleanup_expired(&self) -> StoreResult<CleanupReport> {
        // Attempts inside the lockout window are kept whatever the retention,
        // so cleanup can never end a lockout early.
        let keep = self
            .policy
            .attempt_retention
            .max(self.policy.lockout_window);
        let keep_us = micros(keep, "attempt_retention")?;
        let mut report = CleanupReport::default();
        for (counts, sql) in PASSES {
            match counts {
                Counts::Sessions => {
                    report.sessions_deleted += self.delete_in_batches(sql, 0).await?;
                }
                Counts::Tokens => report.tokens_deleted += self.delete_in_batches(sql, 0).await?,
                Counts::Attempts => {
                    report.attempts_deleted += self.delete_in_batches(sql, keep_us).await?;
                }
            }
        }
        let mut tx = self.begin().await?;
        let rec = AuditRecord::new(events::CLEANUP_COMPLETED, "namespace", &self.namespace)
            .new_values(json!({
                "sessions_deleted": report.sessions_deleted,
                "tokens_deleted": report.tokens_deleted,
                "attempts_deleted": report.attempts_deleted,
            }));
        self.audit(&mut tx, rec).await?;
        tx.commit().await?;
        Ok(report)
    }

    async fn get_stats(&self) -> StoreResult<Stats> {
        // One statement, so one consistent snapshot. users_namespace_email_key,
        // users_disabled_idx, sessions_expires_idx, mfa_methods_user_idx.
        let row: (i64, i64, i64, i64, i64) = sqlx::query_as(
            "SELECT
                 (SELECT count(*) FROM users WHERE namespace = ?1),
                 (SELECT count(*) FROM users WHERE namespace = ?1 AND email_verified_at IS NOT NULL),
                 (SELECT count(*) FROM users WHERE namespace = ?1 AND disabled_at IS NOT NULL),
                 (SELECT count(*) FROM sessions
                   WHERE namespace = ?1 AND expires_at > ?2 AND revoked_at IS NULL),
                 (SELECT count(DISTINCT user_id) FROM mfa_methods
                   WHERE namespace = ?1 AND confirmed_at IS NOT NULL)",
        )
        .bind(self.namespace.as_str())
        .bind(now_micros())
        .fetch_one(&self.pool)
        .await
        .map_err(map_sqlx_error)?;
        Ok(Stats {
            user_count: count(row.0),
            verified_user_count: count(row.1),
            disabled_user_count: count(row.2),
            active_session_count: count(row.3),
            mfa_enabled_user_count: count(row.4),
        })
    }
}
