//! Tenant isolation underneath the API: row-level security for the role the
//! library recommends (not a superuser), and pooled connections that carry
//! no namespace. Isolation through the API is in the conformance suite
//! (`authn_store_conformance::isolation`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use authn_core::store::{SessionStore, UserStore};
use authn_store_pg::PgStore;
use common::*;

/// Underneath the API: the recommended role is subject to row-level
/// security, which fails closed when no namespace is set and refuses
/// cross-namespace reads and writes even for queries without a
/// namespace filter.
#[tokio::test]
async fn row_level_security_holds_for_the_recommended_role() {
    let s = store().await;
    let a_ns = s.current_namespace().as_str().to_owned();
    let b = s.namespace(&unique_namespace()).unwrap();
    s.create_user("rls-a@example.com", None).await.unwrap();
    b.create_user("rls-b@example.com", None).await.unwrap();

    let pool = s.pool();
    let (superuser, bypass): (bool, bool) =
        sqlx::query_as("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user")
            .fetch_one(pool)
            .await
            .unwrap();
    assert!(!superuser && !bypass, "tests run as an ordinary role");

    // no namespace set: nothing visible at all
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM users")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(n, 0, "fails closed without a namespace");

    // namespace A set: only A's rows, even with no WHERE clause
    let mut tx = pool.begin().await.unwrap();
    sqlx::query("SELECT set_config('authn.namespace', $1, true)")
        .bind(&a_ns)
        .execute(&mut *tx)
        .await
        .unwrap();
    let emails: Vec<String> = sqlx::query_scalar("SELECT email FROM users")
        .fetch_all(&mut *tx)
        .await
        .unwrap();
    assert_eq!(emails, ["rls-a@example.com"]);
    // and cannot write into B
    let err = sqlx::query(
        "INSERT INTO users (id, namespace, email) VALUES (gen_random_uuid(), $1, 'x@example.com')",
    )
    .bind(b.current_namespace().as_str())
    .execute(&mut *tx)
    .await
    .unwrap_err();
    assert!(err.to_string().contains("row-level security"), "{err}");
    tx.rollback().await.unwrap();

    // B's rows cannot be updated from A either (silently zero rows)
    let mut tx = pool.begin().await.unwrap();
    sqlx::query("SELECT set_config('authn.namespace', $1, true)")
        .bind(&a_ns)
        .execute(&mut *tx)
        .await
        .unwrap();
    let n = sqlx::query(
        "UPDATE users SET email = 'owned@example.com' WHERE email = 'rls-b@example.com'",
    )
    .execute(&mut *tx)
    .await
    .unwrap()
    .rows_affected();
    assert_eq!(n, 0);
    tx.commit().await.unwrap();
    assert!(
        b.get_user_by_email("rls-b@example.com")
            .await
            .unwrap()
            .is_some()
    );
}

/// The namespace is set per transaction: after any operation, the pooled
/// connection carries no namespace into its next use.
#[tokio::test]
async fn namespace_never_leaks_to_the_next_user_of_a_pooled_connection() {
    let one = PgStore::new(app_pool(1).await);
    let s = one.namespace(&unique_namespace()).unwrap();
    let uid = s.create_user("leak@example.com", None).await.unwrap();
    let (_, h) = token();
    s.create_session(uid, &h, None, None, None).await.unwrap();
    assert!(s.validate_session(&h).await.unwrap().is_some());
    s.get_user(uid).await.unwrap();
    // the single connection of the pool, used right after
    let setting: Option<String> =
        sqlx::query_scalar("SELECT nullif(current_setting('authn.namespace', true), '')")
            .fetch_one(s.pool())
            .await
            .unwrap();
    assert_eq!(setting, None);
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM sessions")
        .fetch_one(s.pool())
        .await
        .unwrap();
    assert_eq!(n, 0);
}
