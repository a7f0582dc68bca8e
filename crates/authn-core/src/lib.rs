//! The domain of authn: types, validation, errors, token and password
//! hashing, TOTP (RFC 6238), recovery codes, policy and the store traits. No SQL and no
//! HTTP live here; stores and the server build on this crate.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod audit;
pub mod crypto;
pub mod email;
pub mod error;
pub mod flows;
pub mod ids;
pub mod model;
pub mod namespace;
pub mod password;
pub mod password_policy;
pub mod policy;
pub mod recovery;
pub mod secret;
pub mod store;
pub mod token;
pub mod totp;

pub use audit::{Actor, AuditQuery};
pub use email::Email;
pub use error::{StoreError, StoreResult, ValidationError};
pub use flows::{AuthConfig, AuthContext, AuthError, Authn, ClientInfo, LoginOutcome};
pub use ids::{AdminKeyId, AttemptId, AuditEventId, MfaId, SessionId, TokenId, UserId};
pub use model::{
    AdminKey, AttemptOutcome, AttemptPermit, AttemptSubject, AuditEvent, CleanupReport,
    ConsumedToken, Credentials, LoginAttempt, MfaCredential, MfaMethod, MfaReservation, MfaType,
    NewSession, NewUser, Page, ProfileUpdate, Session, SessionUpgrade, Stats, TokenType, User,
    ValidSession,
};
pub use namespace::Namespace;
pub use policy::StorePolicy;
pub use secret::{MfaSecret, PasswordHash, TokenHash};
pub use totp::compute_totp;
