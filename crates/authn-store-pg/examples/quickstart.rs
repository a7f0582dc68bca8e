//! The store from Rust, end to end: connect, migrate, sign a user up, log
//! them in, validate the session on a later request, log out.
//!
//! `cargo run -p authn-store-pg --example quickstart` uses
//! `AUTHN_DATABASE_URL` (default: database `authn_quickstart` on the local
//! PostgreSQL, created when missing).

use authn_core::password::{Argon2Params, PasswordHasher};
use authn_core::store::{LoginAttemptStore, MaintenanceStore, SessionStore, UserStore};
use authn_core::{Actor, PasswordHash, TokenHash};
use authn_store_pg::PgStore;
use sqlx::migrate::MigrateDatabase;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::var("AUTHN_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/authn_quickstart".to_owned());
    if !sqlx::Postgres::database_exists(&url).await? {
        sqlx::Postgres::create_database(&url).await?;
    }
    let store = PgStore::connect(&url).await?;
    store.migrate().await?;

    // One handle per tenant; the actor is recorded in every audit event.
    let tenant = format!("demo-{}", uuid::Uuid::now_v7().simple());
    let store = store
        .namespace(&tenant)?
        .with_actor(Actor::new("service:quickstart")?);
    let hasher = PasswordHasher::new(Argon2Params::default(), 2, 16)?;

    // Signup: hash the password off the executor, store only the hash.
    let phc = hasher.hash("correct horse battery staple").await?;
    let user_id = store
        .create_user("Alice@Example.com", Some(&PasswordHash::parse(&phc)?))
        .await?;
    println!("namespace {tenant}: created user {user_id}");

    // Login: check lockout, verify, record the attempt, open a session.
    let email = "alice@example.com";
    assert!(!store.is_locked_out(email, None, None).await?);
    let creds = store.get_credentials(email).await?.ok_or("no such user")?;
    let stored = creds.password_hash.ok_or("passwordless user")?;
    let ok = hasher
        .verify("correct horse battery staple", stored.as_str())
        .await?
        .matches;
    store.record_login_attempt(email, ok, None).await?;
    let token = authn_core::token::generate_token(); // goes to the client
    let session_id = store
        .create_session(
            creds.user_id,
            &TokenHash::of_token(&token),
            None,
            None,
            None,
        )
        .await?;
    println!("logged in: session {session_id}");

    // A later request: one indexed lookup by the token's hash.
    let session = store
        .validate_session(&TokenHash::of_token(&token))
        .await?
        .ok_or("session not valid")?;
    println!(
        "request by {} (session expires {})",
        session.email, session.expires_at
    );

    // Logout.
    store.revoke_session(&TokenHash::of_token(&token)).await?;
    assert!(
        store
            .validate_session(&TokenHash::of_token(&token))
            .await?
            .is_none()
    );
    println!("logged out; stats: {:?}", store.get_stats().await?);
    Ok(())
}
