//! Embedded SQLite store of authn: users, sessions, one-time tokens, MFA
//! methods, login attempts with lockout, maintenance and audit, in one
//! file, implementing every store trait of [`authn_core::store`] with the
//! same behaviour as `authn-store-pg`.
//!
//! ```no_run
//! use authn_core::store::{SessionStore, UserStore};
//! use authn_core::{Actor, TokenHash};
//! use authn_store_sqlite::SqliteStore;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let store = SqliteStore::connect("sqlite://data/authn.db").await?;
//! store.migrate().await?;
//! // A cheap handle per tenant, carrying the actor written into audit events.
//! let acme = store.namespace("acme")?.with_actor(Actor::new("service:signup")?);
//! let user_id = acme.create_user("alice@example.com", None).await?;
//! let token = authn_core::token::generate_token();
//! acme.create_session(user_id, &TokenHash::of_token(&token), None, None, None).await?;
//! assert!(acme.validate_session(&TokenHash::of_token(&token)).await?.is_some());
//! # Ok(()) }
//! ```
//!
//! How it keeps the store's promises without a database server:
//! - **Tenants**: every statement filters on the `namespace` column (SQLite
//!   has no row-level security).
//! - **Serialised writes**: every write transaction starts with `BEGIN
//!   IMMEDIATE`, taking SQLite's single write lock before its first read,
//!   so a check-then-write (lockout gate, token consumption, session
//!   rotation) can never interleave with another writer, in this process or
//!   another one using the same file. Writers of one pool also queue on an
//!   in-process lock first, so they wait in order instead of polling.
//! - **Time**: the host clock, in microseconds, taken once per transaction
//!   after the write lock is held.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod admin_keys;
mod attempts;
mod audit;
mod error;
mod maintenance;
mod mfa;
mod sessions;
mod sql;
mod tokens;
mod users;

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

pub use authn_core::store::{
    AdminKeyStore, AuditStore, LoginAttemptStore, MaintenanceStore, MfaStore, SessionStore, Store,
    StoreHandle, TokenStore, UserStore,
};
use authn_core::{Actor, Namespace, StoreError, StorePolicy, StoreResult, ValidationError};
use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use tokio::sync::Mutex;

pub use error::map_sqlx_error;

/// How long a writer waits for SQLite's write lock (held by another
/// connection or process) before the operation fails with `Unavailable`.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// How often a store opened by this crate (not [`SqliteStore::new`]: a
/// pool of your own) copies the WAL back into the database file (a passive
/// checkpoint), on a task of its own. SQLite would otherwise checkpoint
/// inside whichever commit finds the WAL over 1000 pages: that commit, a
/// login's say, then waits for the copy and two syncs, the database file's
/// behind a filesystem journal that other work may be filling (measured
/// here: a login p99 of 69 ms against 26 ms with the checkpoints taken off
/// the commits). Between checkpoints the WAL holds about a second of
/// writes, where reads find them.
pub const CHECKPOINT_INTERVAL: Duration = Duration::from_secs(1);

/// How much of the database file each connection reads through a memory
/// map (`PRAGMA mmap_size`), in bytes: 1 GiB, past which reads go through
/// `read()` again. Mapped pages are the kernel's page cache, shared by every
/// connection, where each connection's own page cache is 2 MiB: a session
/// lookup on a file of 10^6 sessions reads its B-tree pages without a
/// system call or a copy each (measured: validation throughput 1.8x at 4
/// tasks, `cargo xtask bench --backend sqlite store`). Writes still go
/// through `write()`. The cost SQLite documents: an I/O error while reading
/// the mapped file (a failing disk, the file truncated by another program)
/// ends the process with `SIGBUS` instead of an error. A pool built with
/// [`SqliteStore::new`] chooses its own setting.
pub const MMAP_SIZE: u64 = 1 << 30;

/// Checks and parses a SQLite URL (`sqlite://path`, `sqlite:path`,
/// `sqlite::memory:`), and tells whether it names an in-memory database.
/// Another scheme here is a configuration mistake worth naming, not a file
/// name; so is an empty path (SQLite would give each connection its own
/// private temporary database).
fn parse_url(url: &str) -> Result<(SqliteConnectOptions, bool), ValidationError> {
    let bad_url = || ValidationError::new("url", "must be a sqlite:// URL naming a file");
    if !url.starts_with("sqlite:") {
        return Err(bad_url());
    }
    let options = SqliteConnectOptions::from_str(url).map_err(|_| bad_url())?;
    let in_memory = url.contains(":memory:") || url.contains("mode=memory");
    if !in_memory && options.get_filename().as_os_str().is_empty() {
        return Err(bad_url());
    }
    Ok((options, in_memory))
}

/// The connection settings every pool of this store uses: WAL (readers
/// never block the writer) checkpointed in the background (see
/// [`CHECKPOINT_INTERVAL`]), foreign keys enforced, `synchronous = FULL`
/// (each commit is on disk before it returns: a logout, a revocation or a
/// spent one-time token survives a power loss, as on PostgreSQL; only a
/// login's own writes, a new session, an attempt's reservation and its
/// success, skip the fsync, as there), a busy timeout, the file created
/// when missing, and reads through a memory map of up to [`MMAP_SIZE`].
fn tuned(options: SqliteConnectOptions) -> SqliteConnectOptions {
    options
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .foreign_keys(true)
        .synchronous(SqliteSynchronous::Full)
        .busy_timeout(BUSY_TIMEOUT)
        .pragma("mmap_size", MMAP_SIZE.to_string())
        // No checkpoint inside a commit: the store's checkpointer does them.
        .pragma("wal_autocheckpoint", "0")
}

/// Creates a missing database file, and its directory, readable by the
/// owner alone (0600 in 0700 on Unix): the file holds password hashes and
/// the audit trail, and SQLite gives its `-wal` and `-shm` files the
/// database file's mode.
fn create_private(path: &Path) -> std::io::Result<()> {
    if let Some(dir) = path.parent()
        && !dir.as_os_str().is_empty()
        && !dir.exists()
    {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(dir)?;
    }
    let mut file = std::fs::OpenOptions::new();
    file.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut file, 0o600);
    match file.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

/// The embedded migrations of `migrations/sqlite/`.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/sqlite");

/// A handle on the SQLite store, scoped to one namespace and carrying an
/// optional actor context. Cloning is cheap (the pool is shared), so make one
/// handle per tenant or per request.
#[derive(Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    namespace: Namespace,
    actor: Option<Arc<Actor>>,
    policy: Arc<StorePolicy>,
    /// Writers of this pool queue here (fairly) before `BEGIN IMMEDIATE`,
    /// so at most one connection of the pool waits on SQLite's busy handler.
    write_lock: Arc<Mutex<()>>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("namespace", &self.namespace)
            .field("actor", &self.actor)
            .finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Open (creating it, and its directory, when missing) a SQLite database
    /// with a pool of 10 connections and a 5 s acquire timeout, and return a
    /// handle on the `default` namespace.
    ///
    /// # Parameters
    /// - `url`: `sqlite://path/to/authn.db` or `sqlite:path/to/authn.db`
    ///   (`sqlite::memory:` for a throwaway in-memory database, served by
    ///   one connection).
    ///
    /// # Returns
    /// The store handle. The file is opened at once.
    ///
    /// # Errors
    /// - [`authn_core::StoreError::InvalidInput`] naming `url` for another scheme or a malformed URL.
    /// - [`authn_core::StoreError::Unavailable`] when the file cannot be created or opened.
    pub async fn connect(url: &str) -> StoreResult<Self> {
        Self::connect_with(url, 10, Duration::from_secs(5)).await
    }

    /// Open with a chosen pool size and acquire timeout (how long a request
    /// waits for a connection before failing with `Unavailable`).
    ///
    /// # Parameters
    /// - `url`: a `sqlite://` URL.
    /// - `max_connections`: pool size.
    /// - `acquire_timeout`: wait for a connection at most this long.
    ///
    /// # Returns
    /// The store handle.
    ///
    /// # Errors
    /// As [`SqliteStore::connect`].
    pub async fn connect_with(
        url: &str,
        max_connections: u32,
        acquire_timeout: Duration,
    ) -> StoreResult<Self> {
        let (options, in_memory) = parse_url(url)?;
        Self::open_options(tuned(options), max_connections, acquire_timeout, in_memory).await
    }

    /// Open (creating it, and its directory, when missing) the database file
    /// at `path`, with the pool of [`SqliteStore::connect`].
    ///
    /// # Parameters
    /// - `path`: the database file.
    ///
    /// # Returns
    /// The store handle.
    ///
    /// # Errors
    /// - [`authn_core::StoreError::Unavailable`] when the file cannot be created or opened.
    pub async fn open(path: &Path) -> StoreResult<Self> {
        Self::open_with(path, 10, Duration::from_secs(5)).await
    }

    /// [`SqliteStore::open`] with a chosen pool size and acquire timeout.
    ///
    /// # Parameters
    /// - `path`: the database file.
    /// - `max_connections`: pool size.
    /// - `acquire_timeout`: wait for a connection at most this long.
    ///
    /// # Returns
    /// The store handle.
    ///
    /// # Errors
    /// - [`authn_core::StoreError::Unavailable`] when the file cannot be created or opened.
    pub async fn open_with(
        path: &Path,
        max_connections: u32,
        acquire_timeout: Duration,
    ) -> StoreResult<Self> {
        let options = tuned(SqliteConnectOptions::new().filename(path));
        Self::open_options(options, max_connections, acquire_timeout, false).await
    }

    /// The database file a `sqlite:` URL names (`None` for an in-memory
    /// database), without opening it: to tell whether it exists yet.
    ///
    /// # Parameters
    /// - `url`: a `sqlite://` URL.
    ///
    /// # Errors
    /// - [`ValidationError`] naming `url` for another scheme or a malformed URL.
    pub fn file_of(url: &str) -> Result<Option<std::path::PathBuf>, ValidationError> {
        let (options, in_memory) = parse_url(url)?;
        Ok((!in_memory).then(|| options.get_filename().to_path_buf()))
    }

    /// Creates the file (owner-only) and its directory when missing,
    /// switches the file to WAL once on a single connection, then opens the
    /// pool.
    async fn open_options(
        options: SqliteConnectOptions,
        max_connections: u32,
        acquire_timeout: Duration,
        in_memory: bool,
    ) -> StoreResult<Self> {
        if !in_memory {
            create_private(options.get_filename()).map_err(|e| StoreError::Unavailable {
                source: Box::new(e),
            })?;
        }
        // Entering WAL needs an exclusive lock that the busy timeout does
        // not wait for; done once here (it persists in the file), the pool's
        // connections find WAL already on. Another process doing the same
        // at the same moment makes one of us retry.
        let mut tries = 0;
        loop {
            use sqlx::ConnectOptions;
            match options.connect().await {
                Ok(conn) => {
                    sqlx::Connection::close(conn)
                        .await
                        .map_err(map_sqlx_error)?;
                    break;
                }
                Err(e) => {
                    let err = map_sqlx_error(e);
                    tries += 1;
                    if !err.is_unavailable() || tries >= 50 {
                        return Err(err);
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        }
        let mut pool = SqlitePoolOptions::new()
            .max_connections(max_connections.max(1))
            .acquire_timeout(acquire_timeout)
            // sqlx would otherwise ping every connection it hands out (a
            // round trip to the connection's worker thread per statement,
            // a third of the cost of a session lookup). A connection to a
            // local file does not go stale while idle, and the pool checks
            // each one when it is given back.
            .test_before_acquire(false);
        if in_memory {
            // An in-memory database lives as long as one of its connections,
            // and connections share it only through SQLite's shared cache,
            // whose table locks fail a reader at once instead of letting it
            // wait: one connection, kept open for the life of the pool.
            pool = pool
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None);
        }
        let pool = pool.connect_with(options).await.map_err(map_sqlx_error)?;
        let store = Self::new(pool);
        if !in_memory {
            store.spawn_checkpointer();
        }
        Ok(store)
    }

    /// Checkpoints the WAL every [`CHECKPOINT_INTERVAL`] on a task of its
    /// own, until every handle of this store is dropped or the pool closed.
    fn spawn_checkpointer(&self) {
        let pool = self.pool.clone();
        // The write queue is shared by every handle of this store: when
        // the last one is gone, so is the checkpointer (and its pool).
        let alive = Arc::downgrade(&self.write_lock);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(CHECKPOINT_INTERVAL);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if alive.strong_count() == 0 || pool.is_closed() {
                    break;
                }
                // PASSIVE: copies what no reader still needs, waiting for
                // no one; what is left goes at the next tick.
                if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                    .execute(&pool)
                    .await
                {
                    tracing::warn!(error = %e, "SQLite WAL checkpoint failed");
                }
            }
        });
    }

    /// Wrap an existing pool (to choose its size and timeouts yourself);
    /// `default` namespace, default policy, no actor. The pool's connections
    /// should enforce foreign keys and have a busy timeout (as
    /// [`SqliteStore::connect`] sets them).
    ///
    /// # Parameters
    /// - `pool`: a sqlx SQLite pool.
    ///
    /// # Returns
    /// The store handle.
    pub fn new(pool: SqlitePool) -> Self {
        Self {
            pool,
            namespace: Namespace::default(),
            actor: None,
            policy: Arc::new(StorePolicy::default()),
            write_lock: Arc::new(Mutex::new(())),
        }
    }

    /// Apply the embedded migrations (idempotent; safe to run from several
    /// processes at once: a process that loses the race retries and finds
    /// them applied).
    ///
    /// # Errors
    /// - [`authn_core::StoreError::Unavailable`] when the database cannot be opened or stays locked.
    /// - [`authn_core::StoreError::Internal`] when a migration fails.
    pub async fn migrate(&self) -> StoreResult<()> {
        // Writers of this pool wait while the schema changes.
        let _writer = self.write_lock.lock().await;
        let mut tries = 0;
        loop {
            match MIGRATOR.run(&self.pool).await {
                Ok(()) => return Ok(()),
                Err(e) => {
                    tries += 1;
                    // Another process applying the same migration at the
                    // same time makes ours fail (busy, or "already
                    // exists"); its work is then committed: run again,
                    // which skips what is applied and checks checksums.
                    if tries >= 5 {
                        return Err(error::map_migrate_error(e));
                    }
                    tracing::debug!(error = %e, "migration attempt failed, retrying");
                    tokio::time::sleep(Duration::from_millis(50 * tries)).await;
                }
            }
        }
    }

    /// Whether the database answers and every embedded migration is
    /// applied (for readiness probes).
    ///
    /// # Errors
    /// - [`authn_core::StoreError::Unavailable`] when the database cannot be opened.
    pub async fn ready(&self) -> StoreResult<bool> {
        let latest = MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0);
        // _sqlx_migrations is sqlx's own bookkeeping table (no tenant rows);
        // before the first migration it does not exist.
        let has_table: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM sqlite_master
             WHERE type = 'table' AND name = '_sqlx_migrations')",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(map_sqlx_error)?;
        if !has_table {
            return Ok(false);
        }
        let applied: Option<i64> =
            sqlx::query_scalar("SELECT max(version) FROM _sqlx_migrations WHERE success")
                .fetch_one(&self.pool)
                .await
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
    /// # fn f(mut store: authn_store_sqlite::SqliteStore) -> Result<(), authn_core::ValidationError> {
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
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }
}

impl StoreHandle for SqliteStore {
    fn namespace(&self, name: &str) -> Result<Self, ValidationError> {
        SqliteStore::namespace(self, name)
    }
    fn current_namespace(&self) -> &Namespace {
        SqliteStore::current_namespace(self)
    }
    fn with_policy(self, policy: StorePolicy) -> Self {
        SqliteStore::with_policy(self, policy)
    }
    fn policy(&self) -> &StorePolicy {
        SqliteStore::policy(self)
    }
    fn with_actor(&self, actor: Actor) -> Self {
        SqliteStore::with_actor(self, actor)
    }
    fn set_actor(&mut self, actor: Actor) {
        SqliteStore::set_actor(self, actor);
    }
    fn clear_actor(&mut self) {
        SqliteStore::clear_actor(self);
    }
    fn actor(&self) -> Option<&Actor> {
        SqliteStore::actor(self)
    }
    async fn migrate(&self) -> StoreResult<()> {
        SqliteStore::migrate(self).await
    }
    async fn ready(&self) -> StoreResult<bool> {
        SqliteStore::ready(self).await
    }
}
