//! The domain of authn: types, validation, errors, token and password
//! hashing, TOTP (RFC 6238), recovery codes, policy and the store traits. No SQL and no
//! HTTP live here; stores and the server build on this crate.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod audit;
pub mod email;
pub mod error;
pub mod ids;
pub mod model;
pub mod namespace;
pub mod password;
pub mod policy;
pub mod recovery;
pub mod secret;
pub mod store;
pub mod token;
pub mod totp;

pub use audit::{Actor, AuditQuery};
pub use email::Email;
pub use error::{StoreError, StoreResult, ValidationError};
pub use ids::{AttemptId, AuditEventId, MfaId, SessionId, TokenId, UserId};
pub use model::{
    AttemptOutcome, AttemptPermit, AuditEvent, CleanupReport, ConsumedToken, Credentials,
    LoginAttempt, MfaCredential, MfaMethod, MfaType, Page, Session, Stats, TokenType, User,
    ValidSession,
};
pub use namespace::Namespace;
pub use policy::StorePolicy;
pub use secret::{MfaSecret, PasswordHash, TokenHash};
pub use totp::compute_totp;
