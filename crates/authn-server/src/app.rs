//! Start-up: open the store, load the server key, build the state, serve
//! with graceful shutdown, and clean up expired rows in the background.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use authn_core::crypto::{CryptoError, KeyId, SecretBox, SecretKey};
use authn_core::flows::LinkConfig;
use authn_core::password::{Argon2Params, PasswordError, PasswordHasher};
use authn_core::store::MaintenanceStore;
use authn_core::store::StoreHandle;
use authn_core::{Actor, AuthConfig, Authn, StoreError, TokenHash, ValidationError};
use authn_store::{AnyStore, Backend, SqliteStore};
use tokio::net::TcpListener;

use crate::config::{ConfigError, DatabaseLocation, ServerConfig};
use crate::keys::{self, KeyError};
use crate::mail::{MailError, Mailer};
use crate::metrics::Metrics;
use crate::state::AppState;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Bad configuration.
    #[error("configuration: {0}")]
    Config(#[from] ConfigError),
    /// Bad input (namespace...).
    #[error("configuration: {0}")]
    Invalid(#[from] ValidationError),
    /// The database.
    #[error("database: {0}")]
    Store(#[from] StoreError),
    /// The server key file.
    #[error("server key: {0}")]
    Keys(#[from] KeyError),
    /// The server key material.
    #[error("server key: {0}")]
    Crypto(#[from] CryptoError),
    /// The mailer.
    #[error("mail: {0}")]
    Mail(#[from] MailError),
    /// The password hasher.
    #[error("password hasher: {0}")]
    Hasher(#[from] PasswordError),
    /// Listening or serving.
    #[error("network: {0}")]
    Io(#[from] std::io::Error),
    /// No database where one was expected (a CLI command other than
    /// `serve` or `migrate`, pointed at a missing SQLite file).
    #[error(
        "no database at {}: start `authn serve` (or run `authn migrate`) with the same AUTHN_DATA_DIR and AUTHN_DATABASE_URL first",
        .0.display()
    )]
    NoDatabase(std::path::PathBuf),
    /// A zero rate limit.
    #[error("configuration: the rate limit must be positive")]
    RateLimit,
}

/// Connects to the configured database, migrates it when asked, and
/// returns a handle on the configured namespace.
///
/// With `create` (what `serve` and `migrate` do) a missing database is
/// created: a PostgreSQL database when the role may, a SQLite file (owner
/// only, in an owner-only directory). Without it (the other CLI commands)
/// a missing SQLite file is an error rather than a new empty database
/// wherever the command happened to run. SQLite files are always
/// migrated: they belong to this server alone, so no one else will.
///
/// # Errors
/// The database is missing, or cannot be reached, created or migrated.
pub async fn open_store(config: &ServerConfig, create: bool) -> Result<AnyStore, AppError> {
    // A short acquire timeout: while the database is away, requests fail
    // fast with 503 instead of piling up.
    let (pool, acquire) = (16, Duration::from_secs(3));
    let (store, migrate) = match config.database() {
        DatabaseLocation::EmbeddedFile(path) => {
            let fresh = !path.exists();
            if fresh && !create {
                return Err(AppError::NoDatabase(absolute(&path)));
            }
            keys::create_dir(&config.data_dir)?;
            let store = SqliteStore::open_with(&path, pool, acquire).await?;
            if fresh {
                tracing::warn!(
                    path = %absolute(&path).display(),
                    "created a new embedded SQLite database; set AUTHN_DATABASE_URL to use PostgreSQL"
                );
            }
            (AnyStore::from(store), true)
        }
        DatabaseLocation::Url(url) => {
            let backend = Backend::of_url(&url)?;
            if backend == Backend::Sqlite
                && !create
                && let Some(file) = SqliteStore::file_of(&url)?
                && !file.exists()
            {
                return Err(AppError::NoDatabase(absolute(&file)));
            }
            if create && AnyStore::create_database_if_missing(&url).await? {
                tracing::info!("created the database");
            }
            let store = AnyStore::connect_with(&url, pool, acquire).await?;
            (store, create || backend == Backend::Sqlite)
        }
    };
    if migrate {
        store.migrate().await?;
    }
    Ok(store.namespace(&config.namespace)?)
}

/// `path` made absolute against the working directory (for messages: a
/// relative path in a log says little about where the data is).
fn absolute(path: &std::path::Path) -> std::path::PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_owned())
}

/// The database location for logs: the URL without its password, or the
/// embedded file's absolute path.
pub fn describe_database(config: &ServerConfig) -> String {
    match config.database() {
        DatabaseLocation::EmbeddedFile(path) => {
            format!("sqlite file {}", absolute(&path).display())
        }
        DatabaseLocation::Url(url) => crate::config::redact_url(&url),
    }
}

/// The key that seals TOTP secrets: `AUTHN_SERVER_KEY`, or the key file in
/// the data directory (generated on first start).
///
/// # Errors
/// The key file is unreadable or corrupt.
pub fn load_secrets(config: &ServerConfig) -> Result<SecretBox, AppError> {
    let file = match &config.server_key {
        Some(k) => keys::from_env_key(k)?,
        None => keys::load_or_create(&config.data_dir)?,
    };
    if file.created {
        tracing::warn!(
            path = %config.data_dir.join("server-key.json").display(),
            "generated a new server key; back it up: TOTP secrets are encrypted with it"
        );
    }
    let mut current = None;
    let mut older = Vec::new();
    for (id, bytes) in &file.keys {
        let entry = (KeyId::new(id)?, SecretKey::from_bytes(*bytes));
        if *id == file.current {
            current = Some(entry);
        } else {
            older.push(entry);
        }
    }
    let current = current.ok_or(CryptoError::UnknownKey)?;
    Ok(SecretBox::new(current, older)?)
}

/// The flows' settings from the server configuration.
pub fn auth_config(config: &ServerConfig) -> AuthConfig {
    AuthConfig {
        totp_issuer: config.totp_issuer.clone(),
        step_up_max_age: config.step_up_max_age(),
        links: LinkConfig::under(config.public_url.as_str()),
        ..AuthConfig::default()
    }
}

/// Builds the shared state of a server.
///
/// # Errors
/// Configuration, database, key or mailer trouble.
pub async fn build_state(config: ServerConfig) -> Result<AppState, AppError> {
    config.validate()?;
    let store = open_store(&config, true).await?;
    let secrets = load_secrets(&config)?;
    state_from_parts(config, store, secrets)
}

/// Builds the shared state from an opened store and the sealing key (what
/// tests use to run a server on a store of their own).
///
/// # Errors
/// Configuration, hasher or mailer trouble.
pub fn state_from_parts(
    config: ServerConfig,
    store: AnyStore,
    secrets: SecretBox,
) -> Result<AppState, AppError> {
    config.validate()?;
    let hasher = PasswordHasher::new(
        Argon2Params::default(),
        config.effective_hash_concurrency(),
        config.effective_hash_queue(),
    )?;
    let mailer = Mailer::from_config(config.smtp_url.as_deref(), &config.mail_from)?;
    let auth = Authn::new(store, hasher, secrets, auth_config(&config));
    let bootstrap = config
        .admin_keys
        .iter()
        .map(|k| TokenHash::of_token(k))
        .collect();
    Ok(AppState {
        auth,
        allowed_origins: Arc::new(config.effective_allowed_origins()),
        config: Arc::new(config),
        mailer,
        metrics: Metrics::new(),
        bootstrap_admin_keys: Arc::new(bootstrap),
    })
}

/// Deletes expired sessions, tokens and old attempts every interval.
pub fn spawn_cleanup(state: &AppState) {
    let store = state
        .auth
        .store()
        .with_actor(Actor::new("system:cleanup").unwrap_or_default());
    let every = state.config.cleanup_interval();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.tick().await; // the first tick is immediate: skip it
        loop {
            tick.tick().await;
            match store.cleanup_expired().await {
                Ok(r) => tracing::info!(
                    sessions = r.sessions_deleted,
                    tokens = r.tokens_deleted,
                    attempts = r.attempts_deleted,
                    "cleanup"
                ),
                Err(e) => tracing::warn!(error = %e, "cleanup failed"),
            }
        }
    });
}

/// Serves `state` on `listener` until SIGTERM or Ctrl-C, then finishes the
/// requests in flight.
///
/// # Errors
/// The listener fails.
pub async fn serve_on(state: AppState, listener: TcpListener) -> Result<(), AppError> {
    let app = crate::routes::router(state.clone()).map_err(|_| AppError::RateLimit)?;
    spawn_cleanup(&state);
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(crate::shutdown::signal())
    .await?;
    tracing::info!("stopped");
    Ok(())
}

/// `authn serve`: builds the state, listens, and prints where and how to
/// make the first admin key.
///
/// # Errors
/// Anything that keeps the server from starting.
pub async fn serve(config: ServerConfig) -> Result<(), AppError> {
    let listen = config.listen;
    let state = build_state(config).await?;
    let listener = TcpListener::bind(listen).await?;
    let addr = listener.local_addr()?;
    tracing::info!(
        "authn listening on http://{addr} (namespace {}, database: {})",
        state.config.namespace,
        describe_database(&state.config)
    );
    tracing::info!(
        "create the first admin key with: authn admin-key create --name <name> (or `cargo run -- admin-key create --name <name>`), with the same data directory and database settings"
    );
    if state.config.dev_mode {
        tracing::warn!(
            "development mode: the mail outbox is readable at GET /api/v1/admin/dev/outbox"
        );
    }
    serve_on(state, listener).await
}
