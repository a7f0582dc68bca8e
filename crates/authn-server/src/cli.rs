//! The `authn` command line: `serve`, `migrate`, `admin-key`, `user`,
//! `cleanup`, `stats`. Every command reads the same configuration as the
//! server (flags or `AUTHN_*` variables); output is JSON, for scripts.

use std::io::BufRead;

use authn_core::flows::{AdminUserPatch, NewAdminUser};
use authn_core::password::{Argon2Params, PasswordHasher};
use authn_core::store::StoreHandle;
use authn_core::store::{AdminKeyStore, MaintenanceStore, UserStore};
use authn_core::{Actor, AdminKeyId, Authn, TokenHash, UserId};
use authn_store::AnyStore;
use clap::{Parser, Subcommand};
use serde_json::json;

use crate::app::{self, AppError};
use crate::config::ServerConfig;

/// authn: a self-hosted authentication server.
#[derive(Debug, Parser)]
#[command(name = "authn", version, about)]
pub struct Cli {
    /// What to do (default: `serve`).
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Parser)]
struct ServeDefaults {
    #[command(flatten)]
    config: ServerConfig,
}

impl Cli {
    /// The command to run: `serve` with the environment's configuration
    /// when none is given (so `cargo run` starts the server).
    ///
    /// # Errors
    /// The environment's configuration does not parse.
    pub fn command(self) -> Result<Command, clap::Error> {
        match self.command {
            Some(c) => Ok(c),
            None => Ok(Command::Serve(
                ServeDefaults::try_parse_from(["authn"])?.config,
            )),
        }
    }
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP server (migrates the database first).
    Serve(ServerConfig),
    /// Apply the database migrations and exit.
    Migrate(ServerConfig),
    /// Manage admin API keys.
    AdminKey {
        /// The action.
        #[command(subcommand)]
        action: AdminKeyAction,
        /// Configuration.
        #[command(flatten)]
        config: ServerConfig,
    },
    /// Manage users.
    User {
        /// The action.
        #[command(subcommand)]
        action: UserAction,
        /// Configuration.
        #[command(flatten)]
        config: ServerConfig,
    },
    /// Delete expired sessions and tokens and old login attempts now.
    Cleanup(ServerConfig),
    /// Print the namespace's statistics.
    Stats(ServerConfig),
    /// Print the OpenAPI document of the HTTP API.
    Openapi,
}

/// `authn admin-key ...`.
#[derive(Debug, Subcommand)]
pub enum AdminKeyAction {
    /// Make a key; it is printed once and stored hashed.
    Create {
        /// A name to tell keys apart.
        #[arg(long)]
        name: String,
    },
    /// List keys (never their values).
    List,
    /// Revoke a key.
    Revoke {
        /// The key's id.
        id: String,
    },
}

/// `authn user ...`.
#[derive(Debug, Subcommand)]
pub enum UserAction {
    /// Create a user.
    Create {
        /// Email.
        #[arg(long)]
        email: String,
        /// Display name.
        #[arg(long)]
        name: Option<String>,
        /// Read an initial password from the first line of standard input
        /// (never from a flag: flags show in process lists).
        #[arg(long)]
        password_stdin: bool,
        /// Mark the email verified.
        #[arg(long)]
        verified: bool,
    },
    /// List users.
    List {
        /// Page size.
        #[arg(long, default_value_t = 100)]
        limit: u32,
        /// Cursor from a previous page.
        #[arg(long)]
        cursor: Option<String>,
    },
    /// Disable a user (revokes sessions and tokens).
    Disable {
        /// User id or email.
        user: String,
    },
    /// Enable a disabled user.
    Enable {
        /// User id or email.
        user: String,
    },
    /// Clear a user's second factors (lost authenticator).
    ResetMfa {
        /// User id or email.
        user: String,
    },
}

fn print(v: &serde_json::Value) {
    println!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
}

/// A store on the configured database and namespace, acting as `cli`.
async fn cli_store(config: &ServerConfig) -> Result<AnyStore, AppError> {
    let store = app::open_store(config, false).await?;
    Ok(store.with_actor(Actor::new("cli").unwrap_or_default()))
}

/// The flows for commands that hash passwords or reset MFA.
async fn cli_auth(config: &ServerConfig) -> Result<Authn<AnyStore>, AppError> {
    let store = cli_store(config).await?;
    let hasher = PasswordHasher::new(Argon2Params::default(), 1, 1)?;
    Ok(Authn::new(
        store,
        hasher,
        app::load_secrets(config)?,
        app::auth_config(config),
    ))
}

/// A user given by id or email.
async fn find_user(store: &AnyStore, user: &str) -> Result<UserId, CliError> {
    if let Ok(id) = UserId::parse(user) {
        return Ok(id);
    }
    store
        .get_user_by_email(user)
        .await
        .map_err(AppError::from)?
        .map(|u| u.id)
        .ok_or(CliError::NotFound("user"))
}

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Start-up trouble.
    #[error(transparent)]
    App(#[from] AppError),
    /// A flow refused.
    #[error("{0}")]
    Auth(#[from] authn_core::AuthError),
    /// Something named does not exist.
    #[error("no such {0}")]
    NotFound(&'static str),
    /// Reading standard input.
    #[error("reading the password: {0}")]
    Stdin(std::io::Error),
}

/// Runs a command.
///
/// # Errors
/// What kept it from completing.
pub async fn run(command: Command) -> Result<(), CliError> {
    match command {
        Command::Serve(config) => app::serve(config).await?,
        Command::Migrate(config) => {
            app::open_store(&config, true).await?;
            print(&json!({ "migrated": true }));
        }
        Command::AdminKey { action, config } => admin_key(action, &config).await?,
        Command::User { action, config } => user(action, &config).await?,
        Command::Cleanup(config) => {
            let r = cli_store(&config)
                .await?
                .cleanup_expired()
                .await
                .map_err(AppError::from)?;
            print(&json!(r));
        }
        Command::Openapi => {
            println!(
                "{}",
                crate::routes::openapi()
                    .to_pretty_json()
                    .unwrap_or_default()
            );
        }
        Command::Stats(config) => {
            let s = cli_store(&config)
                .await?
                .get_stats()
                .await
                .map_err(AppError::from)?;
            print(&json!(s));
        }
    }
    Ok(())
}

async fn admin_key(action: AdminKeyAction, config: &ServerConfig) -> Result<(), CliError> {
    let store = cli_store(config).await?;
    match action {
        AdminKeyAction::Create { name } => {
            let key = format!("ak_{}", authn_core::token::generate_token());
            let stored = store
                .create_admin_key(&name, &TokenHash::of_token(&key))
                .await
                .map_err(AppError::from)?;
            print(&json!({ "id": stored.id, "name": stored.name, "key": key,
                           "note": "shown once: store it now" }));
        }
        AdminKeyAction::List => {
            let keys = store.list_admin_keys().await.map_err(AppError::from)?;
            print(&json!(keys));
        }
        AdminKeyAction::Revoke { id } => {
            let id = AdminKeyId::parse(&id).map_err(|_| CliError::NotFound("admin key"))?;
            if !store.revoke_admin_key(id).await.map_err(AppError::from)? {
                return Err(CliError::NotFound("active admin key"));
            }
            print(&json!({ "revoked": id }));
        }
    }
    Ok(())
}

async fn user(action: UserAction, config: &ServerConfig) -> Result<(), CliError> {
    match action {
        UserAction::Create {
            email,
            name,
            password_stdin,
            verified,
        } => {
            let password = if password_stdin {
                let mut line = String::new();
                std::io::stdin()
                    .lock()
                    .read_line(&mut line)
                    .map_err(CliError::Stdin)?;
                Some(line.trim_end_matches(['\r', '\n']).to_owned())
            } else {
                None
            };
            let auth = cli_auth(config).await?;
            let p = auth
                .admin_create_user(&NewAdminUser {
                    email,
                    password,
                    name,
                    email_verified: verified,
                })
                .await?;
            print(&json!(p));
        }
        UserAction::List { limit, cursor } => {
            let store = cli_store(config).await?;
            let page = store
                .list_users(Some(limit), cursor.as_deref())
                .await
                .map_err(AppError::from)?;
            print(&json!({ "data": page.items, "next_cursor": page.next_cursor }));
        }
        UserAction::Disable { user } => set_disabled(config, &user, true).await?,
        UserAction::Enable { user } => set_disabled(config, &user, false).await?,
        UserAction::ResetMfa { user } => {
            let auth = cli_auth(config).await?;
            let id = find_user(auth.store(), &user).await?;
            auth.admin_reset_mfa(id).await?;
            print(&json!({ "user_id": id, "mfa_enabled": false }));
        }
    }
    Ok(())
}

async fn set_disabled(config: &ServerConfig, user: &str, disabled: bool) -> Result<(), CliError> {
    let auth = cli_auth(config).await?;
    let id = find_user(auth.store(), user).await?;
    let p = auth
        .admin_update_user(
            id,
            &AdminUserPatch {
                disabled: Some(disabled),
                ..AdminUserPatch::default()
            },
        )
        .await?;
    print(&json!(p));
    Ok(())
}

/// Parses the command line.
pub fn parse() -> Cli {
    Cli::parse()
}
