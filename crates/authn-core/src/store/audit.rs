use std::future::Future;

use crate::audit::AuditQuery;
use crate::error::StoreResult;
use crate::model::{AuditEvent, Page};

/// Audit queries. Writes happen inside each state-changing operation.
pub trait AuditStore: Send + Sync {
    /// Query audit events of this namespace, newest first, keyset paginated.
    ///
    /// # Parameters
    /// - `query`: `limit` (default 100, clamped to 1..=1000, 0 invalid),
    ///   optional `event_type`, `resource_type`, `resource_id`, `actor_id`
    ///   filters, and `cursor` from a previous page.
    ///
    /// # Returns
    /// A page of events and the next cursor.
    ///
    /// # Errors
    /// - [`StoreError::InvalidInput`](crate::StoreError::InvalidInput) naming `limit` or `cursor`.
    ///
    /// # Example
    /// ```no_run
    /// # use authn_core::{AuditQuery, store::AuditStore};
    /// # async fn f(store: impl AuditStore) -> Result<(), authn_core::StoreError> {
    /// let page = store
    ///     .get_audit_events(&AuditQuery {
    ///         resource_type: Some("user".into()),
    ///         limit: Some(20),
    ///         ..AuditQuery::default()
    ///     })
    ///     .await?;
    /// # Ok(()) }
    /// ```
    fn get_audit_events(
        &self,
        query: &AuditQuery,
    ) -> impl Future<Output = StoreResult<Page<AuditEvent>>> + Send;
}
