//! PostgreSQL store of authn: users, sessions, one-time tokens, MFA methods,
//! login attempts with lockout, maintenance and audit, implementing every
//! store trait of [`authn_core::store`].
//!
//! ```no_run
//! use authn_core::store::{SessionStore, UserStore};
//! use authn_core::{Actor, TokenHash};
//! use authn_store_pg::PgStore;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let store = PgStore::connect("postgres://authn@127.0.0.1/authn").await?;
//! store.migrate().await?;
//! // A cheap handle per tenant, carrying the actor written into audit events.
//! let acme = store.namespace("acme")?.with_actor(Actor::new("service:signup")?);
//! let user_id = acme.create_user("alice@example.com", None).await?;
//! let token = authn_core::token::generate_token();
//! acme.create_session(user_id, &TokenHash::of_token(&token), None, None, None).await?;
//! assert!(acme.validate_session(&TokenHash::of_token(&token)).await?.is_some());
//! # Ok(()) }
//! ```
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod admin_keys;
mod ahead;
mod attempts;
mod audit;
mod error;
mod maintenance;
mod mfa;
mod sessions;
mod sql;
mod tokens;
mod users;

use std::sync::Arc;
use std::time::Duration;

pub use authn_core::store::{
    AdminKeyStore, AuditStore, LoginAttemptStore, MaintenanceStore, MfaStore, SessionStore, Store,
    StoreHandle, TokenStore, UserStore,
};
use authn_core::{Actor, Namespace, StorePolicy, StoreResult, ValidationError};
use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

pub use error::map_sqlx_error;

/// Checks and parses a PostgreSQL URL. sqlx parses any scheme as
/// PostgreSQL options; a mysql:// or sqlite:// URL here is a configuration
/// mistake worth naming.
fn parse_url(url: &str) -> Result<PgConnectOptions, ValidationError> {
    let bad_url = || ValidationError::new("url", "must be a postgres:// URL");
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        return Err(bad_url());
    }
    url.parse().map_err(|_| bad_url())
}

/// A pooled connection idle for this long is pinged before it is used.
const IDLE_CHECK_AFTER: Duration = Duration::from_secs(1);

/// The embedded migrations of `migrations/postgres/`.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/postgres");

/// A handle on the PostgreSQL store, scoped to one namespace and carrying an
/// optional actor context. Cloning is cheap (the pool is shared), so make one
/// handle per tenant or per request.
#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
    namespace: Namespace,
    actor: Option<Arc<Actor>>,
    policy: Arc<StorePolicy>,
    /// Places for sessions written ahead (`prepare_session`), each holding
    /// a pool connection until its verdict: fewer than half the pool
    /// (`(size - 1) / 2`, none for a pool of two or fewer), so that they
    /// never starve the rest; past that, sessions are written at the
    /// commit. Shared by the handles made from one [`PgStore::new`]
    /// (clones, namespaces, actors): make one per pool.
    prepared_sessions: Arc<tokio::sync::Semaphore>,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("namespace", &self.namespace)
            .field("actor", &self.actor)
            .finish_non_exhaustive()
    }
}

impl PgStore {
    /// Connect to PostgreSQL with a pool sized for a server (10
    /// connections, 5 s acquire timeout) and return a handle on the
    /// `default` namespace.
    ///
    /// # Parameters
    /// - `url`: a `postgres://` URL.
    ///
    /// # Returns
    /// The store handle. The connection is checked at once.
    ///
    /// # Errors
    /// - [`authn_core::StoreError::InvalidInput`] naming `url` when it cannot be parsed.
    /// - [`authn_core::StoreError::Unavailable`] when the database cannot be reached.
    pub async fn connect(url: &str) -> StoreResult<Self> {
        Self::connect_with(url, 10, Duration::from_secs(5)).await
    }

    /// Connect with a chosen pool size and acquire timeout (how long a
    /// request waits for a connection before failing with `Unavailable`
    /// while the database is away).
    ///
    /// # Parameters
    /// - `url`: a `postgres://` URL.
    /// - `max_connections`: pool size.
    /// - `acquire_timeout`: wait for a connection at most this long.
    ///
    /// # Returns
    /// The store handle.
    ///
    /// # Errors
    /// As [`PgStore::connect`].
    pub async fn connect_with(
        url: &str,
        max_connections: u32,
        acquire_timeout: Duration,
    ) -> StoreResult<Self> {
        let options = parse_url(url)?;
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(acquire_timeout)
            // sqlx would otherwise ping every connection it hands out: one
            // more round trip per statement, which halves the throughput of
            // the hot path (one statement per request). The pool already
            // checks each connection when it is given back; only one that
            // sat idle (where a restart or a firewall may have dropped it)
            // is checked again before use.
            .test_before_acquire(false)
            .before_acquire(|conn, meta| {
                Box::pin(async move {
                    if meta.idle_for >= IDLE_CHECK_AFTER {
                        sqlx::Connection::ping(conn).await?;
                    }
                    Ok(true)
                })
            })
            .connect_with(options)
            .await
            .map_err(map_sqlx_error)?;
        Ok(Self::new(pool))
    }

    /// Create the database named in `url` when it does not exist (the
    /// role must be allowed to create databases).
    ///
    /// # Returns
    /// `true` when it was created.
    ///
    /// # Errors
    /// - [`authn_core::StoreError::Unavailable`] when the server cannot be reached.
    pub async fn create_database_if_missing(url: &str) -> StoreResult<bool> {
        use sqlx::migrate::MigrateDatabase;
        parse_url(url)?;
        if sqlx::Postgres::database_exists(url)
            .await
            .map_err(map_sqlx_error)?
        {
            return Ok(false);
        }
        sqlx::Postgres::create_database(url)
            .await
            .map_err(map_sqlx_error)?;
        Ok(true)
    }

    /// Wrap an existing pool (to choose its size and timeouts yourself);
    /// `default` namespace, default policy, no actor.
    ///
    /// # Parameters
    /// - `pool`: a sqlx PostgreSQL pool.
    ///
    /// # Returns
    /// The store handle.
    pub fn new(pool: PgPool) -> Self {
        let size = pool.options().get_max_connections().saturating_sub(1);
        let held = usize::try_from(size / 2).unwrap_or(0);
        Self {
            pool,
            namespace: Namespace::default(),
            actor: None,
            policy: Arc::new(StorePolicy::default()),
            prepared_sessions: Arc::new(tokio::sync::Semaphore::new(held)),
        }
    }

    /// Apply the embedded migrations (idempotent; concurrent callers are
    /// serialised by an advisory lock).
    ///
    /// # Errors
    /// - [`authn_core::StoreError::Unavailable`] when the database cannot be reached.
    /// - [`authn_core::StoreError::Internal`] when a migration fails.
    pub async fn migrate(&self) -> StoreResult<()> {
        MIGRATOR
            .run(&self.pool)
            .await
            .map_err(error::map_migrate_error)
    }

    /// Whether the database answers and every embedded migration is
    /// applied (for readiness probes).
    ///
    /// # Errors
    /// - [`authn_core::StoreError::Unavailable`] when the database cannot be reached.
    pub async fn ready(&self) -> StoreResult<bool> {
        let latest = MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0);
        // _sqlx_migrations is sqlx's own bookkeeping table (no tenant rows)
        let applied: Option<i64> =
            sqlx::query_scalar("SELECT max(version) FROM _sqlx_migrations WHERE success")
                .fetch_one(&self.pool)
                .await
                .or_else(|e| match &e {
                    // no bookkeeping table yet: nothing applied
                    sqlx::Error::Database(db) if db.code().as_deref() == Some("42P01") => Ok(None),
                    _ => Err(e),
                })
                .map_err(map_sqlx_error)?;
        Ok(applied.unwrap_or(0) >= latest)
    }

    /// A handle on another namespace (tenant), sharing the pool, the policy
    /// and the actor context.
    ///
    /// # Parameters
    /// - `name`: 1 to 128 ASCII letters, digits, `.`, `_`, `-` or `:`.
    ///
    /// # Returns
    /// The scoped handle.
    ///
    /// # Errors
    /// - [`ValidationError`] naming `namespace`.
    pub fn namespace(&self, name: &str) -> Result<Self, ValidationError> {
        Ok(Self {
            namespace: Namespace::new(name)?,
            ..self.clone()
        })
    }

    /// The namespace of this handle.
    pub fn current_namespace(&self) -> &Namespace {
        &self.namespace
    }

    /// This handle with another policy (lifetimes, lockout, retention).
    ///
    /// # Parameters
    /// - `policy`: the policy.
    #[must_use]
    pub fn with_policy(mut self, policy: StorePolicy) -> Self {
        self.policy = Arc::new(policy);
        self
    }

    /// The policy of this handle.
    pub fn policy(&self) -> &StorePolicy {
        &self.policy
    }

    /// A copy of this handle with an actor context, for one request.
    ///
    /// # Parameters
    /// - `actor`: the actor written into audit events.
    #[must_use]
    pub fn with_actor(&self, actor: Actor) -> Self {
        Self {
            actor: Some(Arc::new(actor)),
            ..self.clone()
        }
    }

    /// Set actor context for audit logging: every audit event written
    /// through this handle afterwards carries it.
    ///
    /// # Parameters
    /// - `actor`: actor id (e.g. `user:admin-bob`, `agent:support-bot`), with
    ///   optional request id, IP address (validated), user agent,
    ///   on-behalf-of principal (e.g. `user:customer-alice`) and reason (e.g.
    ///   `support_ticket:12345`).
    ///
    /// # Example
    /// ```no_run
    /// # fn f(mut store: authn_store_pg::PgStore) -> Result<(), authn_core::ValidationError> {
    /// store.set_actor(
    ///     authn_core::Actor::new("user:admin-bob")?
    ///         .on_behalf_of("user:customer-alice")?
    ///         .reason("support_ticket:12345")?,
    /// );
    /// # Ok(()) }
    /// ```
    pub fn set_actor(&mut self, actor: Actor) {
        self.actor = Some(Arc::new(actor));
    }

    /// Clear actor context: later audit events have no actor fields.
    pub fn clear_actor(&mut self) {
        self.actor = None;
    }

    /// The actor context of this handle.
    pub fn actor(&self) -> Option<&Actor> {
        self.actor.as_deref()
    }

    /// The underlying pool.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

impl StoreHandle for PgStore {
    fn namespace(&self, name: &str) -> Result<Self, ValidationError> {
        PgStore::namespace(self, name)
    }
    fn current_namespace(&self) -> &Namespace {
        PgStore::current_namespace(self)
    }
    fn with_policy(self, policy: StorePolicy) -> Self {
        PgStore::with_policy(self, policy)
    }
    fn policy(&self) -> &StorePolicy {
        PgStore::policy(self)
    }
    fn with_actor(&self, actor: Actor) -> Self {
        PgStore::with_actor(self, actor)
    }
    fn set_actor(&mut self, actor: Actor) {
        PgStore::set_actor(self, actor);
    }
    fn clear_actor(&mut self) {
        PgStore::clear_actor(self);
    }
    fn actor(&self) -> Option<&Actor> {
        PgStore::actor(self)
    }
    async fn migrate(&self) -> StoreResult<()> {
        PgStore::migrate(self).await
    }
    async fn ready(&self) -> StoreResult<bool> {
        PgStore::ready(self).await
    }
}
