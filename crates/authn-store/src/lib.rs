//! One store type for every backend, picked by the database URL, so moving
//! from the embedded SQLite file to PostgreSQL (and to several server nodes
//! on one PostgreSQL) is a configuration change, not a code change.
//!
//! - `sqlite://path/to/authn.db` (or `sqlite:path`): the embedded store of
//!   `authn-store-sqlite`, one file, created on first use. One machine.
//! - `postgres://...` (or `postgresql://`): `authn-store-pg`. Any number of
//!   server nodes on one database.
//!
//! ```no_run
//! use authn_core::store::{StoreHandle, UserStore};
//! use authn_store::AnyStore;
//!
//! # async fn run() -> Result<(), authn_core::StoreError> {
//! let url = std::env::var("DATABASE_URL").unwrap_or_else(|_| "sqlite://authn.db".into());
//! let store = AnyStore::connect(&url).await?;
//! store.migrate().await?;
//! let acme = store.namespace("acme")?;
//! acme.create_user("alice@example.com", None).await?;
//! # Ok(()) }
//! ```
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::IpAddr;
use std::time::Duration;

use authn_core::model::{
    AdminKey, AttemptOutcome, AttemptPermit, AuditEvent, CleanupReport, ConsumedToken, Credentials,
    LoginAttempt, MfaCredential, MfaMethod, MfaReservation, MfaType, NewSession, NewUser, Page,
    ProfileUpdate, Session, SessionUpgrade, Stats, TokenType, User, ValidSession,
};
use authn_core::store::{
    AdminKeyStore, AuditStore, LoginAttemptStore, MaintenanceStore, MfaStore, PreparedSession,
    SessionStore, StoreHandle, TokenStore, UserStore,
};
use authn_core::{
    Actor, AdminKeyId, AuditQuery, MfaId, MfaSecret, Namespace, PasswordHash, SessionId,
    StorePolicy, StoreResult, TokenHash, TokenId, UserId, ValidationError,
};
use chrono::{DateTime, Utc};

pub use authn_store_pg::PgStore;
pub use authn_store_sqlite::SqliteStore;

/// The README's Rust example, compiled as a doctest so it cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeDoctests;

/// Which database a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// `postgres://` or `postgresql://`.
    Postgres,
    /// `sqlite://` or `sqlite:`.
    Sqlite,
}

impl Backend {
    /// The backend a database URL names.
    ///
    /// # Errors
    /// - [`ValidationError`] naming `url` for any other scheme.
    pub fn of_url(url: &str) -> Result<Self, ValidationError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Self::Postgres)
        } else if url.starts_with("sqlite:") {
            Ok(Self::Sqlite)
        } else {
            Err(ValidationError::new(
                "url",
                "must be a postgres:// or sqlite:// URL",
            ))
        }
    }

    /// `postgres` or `sqlite`, for logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Postgres => "postgres",
            Self::Sqlite => "sqlite",
        }
    }
}

/// A store handle on whichever backend the URL named. Cheap to clone, like
/// the handles it wraps; implements every store trait and [`StoreHandle`].
#[derive(Clone, Debug)]
pub enum AnyStore {
    /// PostgreSQL.
    Postgres(PgStore),
    /// Embedded SQLite.
    Sqlite(SqliteStore),
}

impl From<PgStore> for AnyStore {
    fn from(s: PgStore) -> Self {
        Self::Postgres(s)
    }
}

impl From<SqliteStore> for AnyStore {
    fn from(s: SqliteStore) -> Self {
        Self::Sqlite(s)
    }
}

/// Runs the same expression on whichever handle `self` holds.
macro_rules! on_backend {
    ($self:expr, $s:ident => $e:expr) => {
        match $self {
            AnyStore::Postgres($s) => $e,
            AnyStore::Sqlite($s) => $e,
        }
    };
}

impl AnyStore {
    /// Connect to the database a URL names, with the backend's default
    /// pool, and return a handle on the `default` namespace. A SQLite file
    /// (and its directory) is created when missing.
    ///
    /// # Parameters
    /// - `url`: `postgres://...` or `sqlite://path`.
    ///
    /// # Errors
    /// - [`authn_core::StoreError::InvalidInput`] naming `url` for another scheme or a malformed URL.
    /// - [`authn_core::StoreError::Unavailable`] when the database cannot be reached or opened.
    pub async fn connect(url: &str) -> StoreResult<Self> {
        Ok(match Backend::of_url(url)? {
            Backend::Postgres => PgStore::connect(url).await?.into(),
            Backend::Sqlite => SqliteStore::connect(url).await?.into(),
        })
    }

    /// Connect with a chosen pool size and acquire timeout.
    ///
    /// # Parameters
    /// - `url`: `postgres://...` or `sqlite://path`.
    /// - `max_connections`: pool size.
    /// - `acquire_timeout`: wait for a connection at most this long.
    ///
    /// # Errors
    /// As [`AnyStore::connect`].
    pub async fn connect_with(
        url: &str,
        max_connections: u32,
        acquire_timeout: Duration,
    ) -> StoreResult<Self> {
        Ok(match Backend::of_url(url)? {
            Backend::Postgres => PgStore::connect_with(url, max_connections, acquire_timeout)
                .await?
                .into(),
            Backend::Sqlite => SqliteStore::connect_with(url, max_connections, acquire_timeout)
                .await?
                .into(),
        })
    }

    /// Create the PostgreSQL database a URL names when it does not exist
    /// (SQLite files are created on connect).
    ///
    /// # Returns
    /// `true` when a database was created.
    ///
    /// # Errors
    /// - [`authn_core::StoreError::InvalidInput`] naming `url` for another scheme.
    /// - [`authn_core::StoreError::Unavailable`] when the server cannot be reached.
    pub async fn create_database_if_missing(url: &str) -> StoreResult<bool> {
        match Backend::of_url(url)? {
            Backend::Postgres => PgStore::create_database_if_missing(url).await,
            Backend::Sqlite => Ok(false),
        }
    }

    /// The backend of this handle.
    pub fn backend(&self) -> Backend {
        match self {
            Self::Postgres(_) => Backend::Postgres,
            Self::Sqlite(_) => Backend::Sqlite,
        }
    }
}

impl StoreHandle for AnyStore {
    fn namespace(&self, name: &str) -> Result<Self, ValidationError> {
        Ok(on_backend!(self, s => StoreHandle::namespace(s, name)?.into()))
    }
    fn current_namespace(&self) -> &Namespace {
        on_backend!(self, s => StoreHandle::current_namespace(s))
    }
    fn with_policy(self, policy: StorePolicy) -> Self {
        on_backend!(self, s => StoreHandle::with_policy(s, policy).into())
    }
    fn policy(&self) -> &StorePolicy {
        on_backend!(self, s => StoreHandle::policy(s))
    }
    fn with_actor(&self, actor: Actor) -> Self {
        on_backend!(self, s => StoreHandle::with_actor(s, actor).into())
    }
    fn set_actor(&mut self, actor: Actor) {
        on_backend!(self, s => StoreHandle::set_actor(s, actor));
    }
    fn clear_actor(&mut self) {
        on_backend!(self, s => StoreHandle::clear_actor(s));
    }
    fn actor(&self) -> Option<&Actor> {
        on_backend!(self, s => StoreHandle::actor(s))
    }
    async fn migrate(&self) -> StoreResult<()> {
        on_backend!(self, s => StoreHandle::migrate(s).await)
    }
    async fn ready(&self) -> StoreResult<bool> {
        on_backend!(self, s => StoreHandle::ready(s).await)
    }
}

/// Implements a store trait by forwarding each method to the wrapped
/// handle; the signatures are the trait's.
macro_rules! forward {
    ($trait:ident { $( fn $name:ident(&self $(, $arg:ident : $ty:ty)* $(,)?) -> $ret:ty; )* }) => {
        impl $trait for AnyStore {
            $(
                async fn $name(&self $(, $arg: $ty)*) -> StoreResult<$ret> {
                    on_backend!(self, s => $trait::$name(s $(, $arg)*).await)
                }
            )*
        }
    };
}

forward!(UserStore {
    fn create_user(&self, email: &str, password_hash: Option<&PasswordHash>) -> UserId;
    fn create_user_with(&self, new: &NewUser) -> UserId;
    fn update_profile(&self, user_id: UserId, update: &ProfileUpdate) -> bool;
    fn get_user(&self, user_id: UserId) -> Option<User>;
    fn get_user_by_email(&self, email: &str) -> Option<User>;
    fn update_email(&self, user_id: UserId, new_email: &str) -> bool;
    fn disable_user(&self, user_id: UserId) -> bool;
    fn enable_user(&self, user_id: UserId) -> bool;
    fn delete_user(&self, user_id: UserId) -> bool;
    fn list_users(&self, limit: Option<u32>, cursor: Option<&str>) -> Page<User>;
    fn get_credentials(&self, email: &str) -> Option<Credentials>;
    fn update_password(&self, user_id: UserId, new_password_hash: &PasswordHash) -> bool;
});

forward!(SessionStore {
    fn create_session(
        &self,
        user_id: UserId,
        token_hash: &TokenHash,
        expires_in: Option<Duration>,
        ip_address: Option<IpAddr>,
        user_agent: Option<&str>,
    ) -> SessionId;
    fn create_session_with(&self, new: &NewSession) -> SessionId;
    fn prepare_session(&self, new: &NewSession) -> PreparedSession;
    fn rotate_session(&self, old: &TokenHash, new: &TokenHash, upgrade: &SessionUpgrade) -> Option<SessionId>;
    fn step_up_session(&self, token_hash: &TokenHash, upgrade: &SessionUpgrade) -> Option<DateTime<Utc>>;
    fn reserve_session_mfa_attempt(&self, token_hash: &TokenHash, max: u32) -> MfaReservation;
    fn finish_session_mfa_attempt(&self, token_hash: &TokenHash, success: bool, max: u32) -> bool;
    fn revoke_other_sessions(&self, user_id: UserId, keep: SessionId) -> u64;
    fn validate_session(&self, token_hash: &TokenHash) -> Option<ValidSession>;
    fn extend_session(&self, token_hash: &TokenHash, extend_by: Option<Duration>) -> Option<DateTime<Utc>>;
    fn revoke_session(&self, token_hash: &TokenHash) -> bool;
    fn revoke_session_by_id(&self, user_id: UserId, session_id: SessionId) -> bool;
    fn revoke_all_sessions(&self, user_id: UserId) -> u64;
    fn list_sessions(&self, user_id: UserId) -> Vec<Session>;
});

forward!(TokenStore {
    fn create_token(
        &self,
        user_id: UserId,
        token_hash: &TokenHash,
        token_type: TokenType,
        expires_in: Option<Duration>,
    ) -> TokenId;
    fn consume_token(&self, token_hash: &TokenHash, token_type: TokenType) -> Option<ConsumedToken>;
    fn verify_email(&self, token_hash: &TokenHash) -> Option<ConsumedToken>;
    fn invalidate_tokens(&self, user_id: UserId, token_type: TokenType) -> u64;
});

forward!(MfaStore {
    fn add_mfa(&self, user_id: UserId, mfa_type: MfaType, secret: &MfaSecret, name: Option<&str>) -> MfaId;
    fn get_mfa(&self, user_id: UserId, mfa_type: MfaType) -> Vec<MfaCredential>;
    fn list_mfa(&self, user_id: UserId) -> Vec<MfaMethod>;
    fn remove_mfa(&self, mfa_id: MfaId) -> bool;
    fn record_mfa_use(&self, mfa_id: MfaId) -> bool;
    fn add_pending_mfa(&self, user_id: UserId, mfa_type: MfaType, secret: &MfaSecret, name: Option<&str>) -> MfaId;
    fn confirm_mfa(&self, mfa_id: MfaId, step: Option<u64>) -> bool;
    fn accept_totp_step(&self, mfa_id: MfaId, step: u64) -> bool;
    fn replace_recovery_codes(&self, user_id: UserId, code_hashes: &[MfaSecret]) -> u64;
    fn consume_recovery_code(&self, user_id: UserId, code_hash: &MfaSecret) -> bool;
    fn remove_all_mfa(&self, user_id: UserId) -> u64;
    fn has_mfa(&self, user_id: UserId) -> bool;
});

forward!(LoginAttemptStore {
    fn record_login_attempt(&self, email: &str, success: bool, ip_address: Option<IpAddr>) -> AttemptOutcome;
    fn begin_login_attempt(&self, email: &str, ip_address: Option<IpAddr>) -> AttemptPermit;
    fn begin_mfa_attempt(&self, user_id: UserId, ip_address: Option<IpAddr>) -> AttemptPermit;
    fn finish_login_attempt(&self, permit: &AttemptPermit, success: bool) -> AttemptOutcome;
    fn cancel_login_attempt(&self, permit: &AttemptPermit) -> bool;
    fn is_locked_out(&self, email: &str, window: Option<Duration>, max_attempts: Option<u32>) -> bool;
    fn get_recent_attempts(&self, email: &str, limit: Option<u32>) -> Vec<LoginAttempt>;
    fn clear_attempts(&self, email: &str) -> u64;
});

forward!(AuditStore {
    fn get_audit_events(&self, query: &AuditQuery) -> Page<AuditEvent>;
});

forward!(MaintenanceStore {
    fn cleanup_expired(&self) -> CleanupReport;
    fn get_stats(&self) -> Stats;
});

forward!(AdminKeyStore {
    fn create_admin_key(&self, name: &str, key_hash: &TokenHash) -> AdminKey;
    fn list_admin_keys(&self) -> Vec<AdminKey>;
    fn revoke_admin_key(&self, id: AdminKeyId) -> bool;
    fn find_admin_key(&self, key_hash: &TokenHash) -> Option<AdminKey>;
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scheme_picks_the_backend() {
        assert_eq!(Backend::of_url("postgres://h/db"), Ok(Backend::Postgres));
        assert_eq!(Backend::of_url("postgresql://h/db"), Ok(Backend::Postgres));
        assert_eq!(
            Backend::of_url("sqlite://data/authn.db"),
            Ok(Backend::Sqlite)
        );
        assert_eq!(Backend::of_url("sqlite:authn.db"), Ok(Backend::Sqlite));
        for bad in ["mysql://h/db", "authn.db", "", "http://x"] {
            assert_eq!(
                Backend::of_url(bad).map_err(|e| e.field),
                Err("url"),
                "{bad}"
            );
        }
    }
}
