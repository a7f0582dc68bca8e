//! The store traits: one small trait per aggregate, implemented by every
//! store (`authn-store-pg`, and any other backend). Flows are written against
//! these traits, never against a database. [`StoreHandle`] adds what every
//! backend's handle carries (namespace, policy, actor, migrations).
//!
//! Conventions shared by all of them:
//! - a store value is a handle scoped to one namespace (tenant) and carrying
//!   the actor context written into audit events;
//! - passwords and tokens arrive hashed ([`PasswordHash`](crate::PasswordHash),
//!   [`TokenHash`](crate::TokenHash)); reads return no secret unless the operation
//!   exists to return one;
//! - every state change writes its audit event in the same transaction;
//! - times are the database's clock, so several server nodes agree.

mod admin_keys;
mod attempts;
mod audit;
mod handle;
mod maintenance;
mod mfa;
mod sessions;
mod tokens;
mod users;

pub use admin_keys::AdminKeyStore;
pub use attempts::LoginAttemptStore;
pub use audit::AuditStore;
pub use handle::StoreHandle;
pub use maintenance::MaintenanceStore;
pub use mfa::MfaStore;
pub use sessions::{HeldSession, PreparedSession, SessionStore, StoreFuture};
pub use tokens::TokenStore;
pub use users::UserStore;

/// Everything a complete store implements; blanket-implemented.
pub trait Store:
    UserStore
    + SessionStore
    + TokenStore
    + MfaStore
    + LoginAttemptStore
    + MaintenanceStore
    + AuditStore
    + AdminKeyStore
{
}

impl<T> Store for T where
    T: UserStore
        + SessionStore
        + TokenStore
        + MfaStore
        + LoginAttemptStore
        + MaintenanceStore
        + AuditStore
        + AdminKeyStore
{
}
