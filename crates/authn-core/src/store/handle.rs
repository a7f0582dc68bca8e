use std::future::Future;

use super::Store;
use crate::audit::Actor;
use crate::error::{StoreResult, ValidationError};
use crate::namespace::Namespace;
use crate::policy::StorePolicy;

/// A store handle: the operations of [`Store`] plus what every backend's
/// handle carries (a namespace, a policy, an actor context) and its schema
/// upkeep. Code written against `StoreHandle` runs unchanged on any backend
/// (`authn-store-pg`, `authn-store-sqlite`, or `authn-store`'s `AnyStore`
/// picked from a URL).
///
/// Handles are cheap to clone: clones share the connection pool.
pub trait StoreHandle: Store + Clone + 'static {
    /// A handle on another namespace (tenant), sharing the pool, the policy
    /// and the actor context.
    ///
    /// # Errors
    /// - [`ValidationError`] naming `namespace` when `name` is not 1 to 128
    ///   ASCII letters, digits, `.`, `_`, `-` or `:`.
    fn namespace(&self, name: &str) -> Result<Self, ValidationError>;

    /// The namespace of this handle.
    fn current_namespace(&self) -> &Namespace;

    /// This handle with another policy (lifetimes, lockout, retention).
    #[must_use]
    fn with_policy(self, policy: StorePolicy) -> Self;

    /// The policy of this handle.
    fn policy(&self) -> &StorePolicy;

    /// A copy of this handle whose audit events carry `actor`.
    #[must_use]
    fn with_actor(&self, actor: Actor) -> Self;

    /// Set the actor context written into later audit events.
    fn set_actor(&mut self, actor: Actor);

    /// Clear the actor context: later audit events have no actor fields.
    fn clear_actor(&mut self);

    /// The actor context of this handle.
    fn actor(&self) -> Option<&Actor>;

    /// Apply the backend's embedded migrations (idempotent, safe to run
    /// from several processes at once).
    ///
    /// # Errors
    /// - [`StoreError::Unavailable`](crate::StoreError::Unavailable) when the database cannot be reached.
    /// - [`StoreError::Internal`](crate::StoreError::Internal) when a migration fails.
    fn migrate(&self) -> impl Future<Output = StoreResult<()>> + Send;

    /// Whether the database answers and every embedded migration is
    /// applied (for readiness probes).
    ///
    /// # Errors
    /// - [`StoreError::Unavailable`](crate::StoreError::Unavailable) when the database cannot be reached.
    fn ready(&self) -> impl Future<Output = StoreResult<bool>> + Send;
}
