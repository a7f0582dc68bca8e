//! Typed errors shared by every store and flow.

use std::error::Error as StdError;

/// A boxed error kept as the `source()` of storage failures, for logs only.
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// An input was rejected. Names the parameter and why, never echoes the value
/// (the value may be a secret).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {field}: {reason}")]
pub struct ValidationError {
    /// The parameter or field that was rejected, e.g. `"email"`.
    pub field: &'static str,
    /// Why it was rejected, e.g. `"must look like local@domain"`.
    pub reason: &'static str,
}

impl ValidationError {
    /// Builds a validation error for `field`.
    pub const fn new(field: &'static str, reason: &'static str) -> Self {
        Self { field, reason }
    }

    /// The same error reported under another parameter name (e.g. an email
    /// validated for `update_email` is the `new_email` parameter).
    #[must_use]
    pub const fn for_field(self, field: &'static str) -> Self {
        Self {
            field,
            reason: self.reason,
        }
    }
}

/// Every failure a store operation can report. Messages never contain a
/// driver string, a query or a secret; the driver error, when there is one,
/// is kept as [`std::error::Error::source`] for logging.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The referenced entity does not exist in this namespace.
    #[error("{entity} not found")]
    NotFound {
        /// What was looked for, e.g. `"user"`.
        entity: &'static str,
    },
    /// A unique value is already taken in this namespace.
    #[error("{field} already exists")]
    AlreadyExists {
        /// The unique field, e.g. `"email"`.
        field: &'static str,
    },
    /// An argument failed validation.
    #[error(transparent)]
    InvalidInput(#[from] ValidationError),
    /// The operation needs an enabled user and the user is disabled.
    #[error("user is disabled")]
    UserDisabled,
    /// The subject is locked out (too many failed attempts).
    #[error("locked out")]
    Locked {
        /// When the lock lifts if nothing else fails (for `Retry-After`).
        retry_after: std::time::Duration,
    },
    /// The change conflicts with the current state.
    #[error("conflict: {what}")]
    Conflict {
        /// What conflicted.
        what: &'static str,
    },
    /// The storage backend cannot be reached (connection refused, pool
    /// exhausted, server shutting down). Retrying later may succeed.
    #[error("storage unavailable")]
    Unavailable {
        /// The underlying driver error.
        #[source]
        source: BoxError,
    },
    /// The storage backend failed in an unexpected way (a bug or a schema
    /// mismatch). Not retryable.
    #[error("storage error")]
    Internal {
        /// The underlying driver error.
        #[source]
        source: BoxError,
    },
}

impl StoreError {
    /// True for failures that may succeed when retried later.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::Unavailable { .. })
    }
}

/// Result of a store operation.
pub type StoreResult<T> = Result<T, StoreError>;
