//! What a flow can answer instead of success. Each variant is one thing a
//! client can act on; the HTTP layer maps each to exactly one status and
//! error slug.

use std::time::Duration;

use crate::error::{StoreError, ValidationError};
use crate::password::PasswordError;
use crate::password_policy::WeakPassword;

/// The failures of the auth flows. Messages are safe to show to clients:
/// they never contain a secret or say whether an email is registered.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// Wrong email or password (also for unknown emails and disabled users,
    /// so the answer reveals nothing).
    #[error("invalid email or password")]
    InvalidCredentials,
    /// Too many failed logins for this email.
    #[error("too many failed attempts; try again later")]
    AccountLocked {
        /// When to try again.
        retry_after: Duration,
    },
    /// Password hashing is at capacity; try again shortly.
    #[error("the server is busy; try again shortly")]
    ServerBusy,
    /// The email address is malformed.
    #[error("invalid email address")]
    InvalidEmail,
    /// The new password is too weak.
    #[error("{0}")]
    WeakPassword(WeakPassword),
    /// The email address is already registered.
    #[error("this email address is already registered")]
    EmailTaken,
    /// A one-time token is unknown, used, expired or not for this purpose.
    #[error("the link is invalid or has expired")]
    InvalidToken,
    /// No valid session.
    #[error("authentication required")]
    Unauthorized,
    /// The session still owes its second factor.
    #[error("a second factor is required")]
    MfaRequired,
    /// The operation needs a recent authentication (or second factor).
    #[error("this action needs a recent authentication")]
    StepUpRequired {
        /// The freshness required.
        max_age: Duration,
    },
    /// MFA is already enabled (enroll refused).
    #[error("multi-factor authentication is already enabled")]
    MfaAlreadyEnabled,
    /// No enrollment to verify.
    #[error("no multi-factor enrollment is pending")]
    MfaNotEnrolled,
    /// The enrollment was already verified.
    #[error("multi-factor authentication is already verified")]
    MfaAlreadyVerified,
    /// MFA is not enabled for this user.
    #[error("multi-factor authentication is not enabled")]
    MfaNotEnabled,
    /// The second-factor code is wrong, or was already used.
    #[error("invalid code")]
    InvalidCode,
    /// Too many wrong second-factor codes.
    #[error("too many attempts; try again later")]
    TooManyAttempts {
        /// When to try again, when known.
        retry_after: Option<Duration>,
    },
    /// The resource does not exist (or is not the caller's).
    #[error("not found")]
    NotFound,
    /// An input was rejected.
    #[error(transparent)]
    InvalidInput(ValidationError),
    /// The database cannot be reached.
    #[error("service temporarily unavailable")]
    Unavailable(#[source] StoreError),
    /// An unexpected failure (a bug, or stored data that cannot be read).
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl AuthError {
    pub(crate) fn internal(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Internal(Box::new(e))
    }
}

impl From<StoreError> for AuthError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable { .. } => Self::Unavailable(e),
            StoreError::InvalidInput(v) => Self::InvalidInput(v),
            StoreError::NotFound { .. } => Self::NotFound,
            StoreError::AlreadyExists { field: "email" } => Self::EmailTaken,
            StoreError::Locked { retry_after } => Self::TooManyAttempts {
                retry_after: Some(retry_after),
            },
            StoreError::UserDisabled => Self::Unauthorized,
            other => Self::internal(other),
        }
    }
}

impl From<PasswordError> for AuthError {
    fn from(e: PasswordError) -> Self {
        match e {
            PasswordError::Busy => Self::ServerBusy,
            other => Self::internal(other),
        }
    }
}

impl From<WeakPassword> for AuthError {
    fn from(e: WeakPassword) -> Self {
        Self::WeakPassword(e)
    }
}

/// Result of a flow.
pub type AuthResult<T> = Result<T, AuthError>;
