//! Test support: every test runs against a real PostgreSQL, connected as the
//! role the library recommends (an ordinary LOGIN role owning the database:
//! not a superuser, no BYPASSRLS), in a namespace of its own, so tests run
//! in parallel without seeing each other.
//!
//! The server is `AUTHN_TEST_DATABASE_URL` (a superuser URL, default
//! `postgres://postgres@127.0.0.1:5432/postgres`); `cargo xtask test` starts
//! one when none answers. The harness creates the role `authn_test_app` and
//! a database named after the migrations' checksums (a changed migration
//! gets a fresh database), owned by that role, and migrates it as that role.
// Test support fails loudly: a test without its database cannot run.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use authn_core::{Actor, StorePolicy};
use authn_store_pg::PgStore;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, PgConnection, PgPool};

/// The role the library recommends: LOGIN, NOSUPERUSER, NOBYPASSRLS.
pub const APP_ROLE: &str = "authn_test_app";

/// The superuser URL of the test PostgreSQL.
pub fn admin_url() -> String {
    std::env::var("AUTHN_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// The test database's name: one per migration set.
pub fn database_name() -> String {
    let mut acc: u64 = 0xcbf2_9ce4_8422_2325;
    for m in authn_store_pg::MIGRATOR.iter() {
        for b in m.checksum.iter() {
            acc = (acc ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("authn_test_{acc:016x}")
}

/// Connect options of the app role on the test database.
pub fn app_options() -> PgConnectOptions {
    let admin: PgConnectOptions = admin_url().parse().expect("AUTHN_TEST_DATABASE_URL");
    admin
        .username(APP_ROLE)
        .password("")
        .database(&database_name())
}

/// Creates the role and the database once (serialised across test
/// processes by an advisory lock), then migrates as the app role.
pub async fn ensure_database() {
    let mut admin = PgConnection::connect(&admin_url()).await.expect(
        "cannot reach the test PostgreSQL: set AUTHN_TEST_DATABASE_URL or run `cargo xtask test`",
    );
    sqlx::query("SELECT pg_advisory_lock(7431)")
        .execute(&mut admin)
        .await
        .unwrap();
    let role: Option<(bool,)> = sqlx::query_as("SELECT true FROM pg_roles WHERE rolname = $1")
        .bind(APP_ROLE)
        .fetch_optional(&mut admin)
        .await
        .unwrap();
    if role.is_none() {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "CREATE ROLE {APP_ROLE} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE"
        )))
        .execute(&mut admin)
        .await
        .unwrap();
    }
    let db = database_name();
    let exists: Option<(bool,)> = sqlx::query_as("SELECT true FROM pg_database WHERE datname = $1")
        .bind(&db)
        .fetch_optional(&mut admin)
        .await
        .unwrap();
    if exists.is_none() {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "CREATE DATABASE {db} OWNER {APP_ROLE}"
        )))
        .execute(&mut admin)
        .await
        .unwrap();
    }
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .connect_with(app_options())
        .await
        .unwrap();
    PgStore::new(pool.clone()).migrate().await.unwrap();
    pool.close().await;
    sqlx::query("SELECT pg_advisory_unlock(7431)")
        .execute(&mut admin)
        .await
        .unwrap();
    admin.close().await.ok();
}

/// A pool of the app role on the migrated test database.
pub async fn app_pool(max_connections: u32) -> PgPool {
    ensure_database().await;
    PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(30))
        .connect_with(app_options())
        .await
        .unwrap()
}

/// A fresh namespace name for one test.
pub fn unique_namespace() -> String {
    format!("t_{}", uuid::Uuid::now_v7().simple())
}

/// A store handle on a fresh namespace (pool of 8 connections).
pub async fn store() -> PgStore {
    store_with(StorePolicy::default(), 8).await
}

/// A store handle on a fresh namespace with a policy and pool size.
pub async fn store_with(policy: StorePolicy, max_connections: u32) -> PgStore {
    PgStore::new(app_pool(max_connections).await)
        .with_policy(policy)
        .namespace(&unique_namespace())
        .unwrap()
        .with_actor(Actor::new("test:harness").unwrap())
}
