use std::future::Future;

use crate::error::StoreResult;
use crate::model::{CleanupReport, Stats};

/// Maintenance: cleanup and statistics of a namespace.
pub trait MaintenanceStore: Send + Sync {
    /// Clean up expired or revoked sessions, used or expired tokens, and
    /// login attempts past retention (30 days by default). Deletes in
    /// bounded batches (each its own short transaction, followed by a pause
    /// four times as long as it took:
    /// [`CLEANUP_IDLE_PER_BUSY`](crate::policy::CLEANUP_IDLE_PER_BUSY)), so
    /// it works on millions of rows
    /// without long locks and leaves most of the machine to requests. Writes one
    /// `cleanup_completed` event with the three counts.
    ///
    /// # Returns
    /// The counts deleted.
    fn cleanup_expired(&self) -> impl Future<Output = StoreResult<CleanupReport>> + Send;

    /// Get namespace statistics.
    ///
    /// # Returns
    /// user_count, verified_user_count, disabled_user_count,
    /// active_session_count and mfa_enabled_user_count.
    fn get_stats(&self) -> impl Future<Output = StoreResult<Stats>> + Send;
}
