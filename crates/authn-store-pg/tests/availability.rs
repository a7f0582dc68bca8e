//! Storage trouble surfaces as typed `Unavailable` errors, never a driver string.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use authn_core::StoreError;
use authn_core::store::{SessionStore, UserStore};
use authn_store_pg::PgStore;
use common::*;

#[tokio::test]
async fn unreachable_database_is_unavailable() {
    // port 1 on loopback: nothing listens there
    let err = PgStore::connect("postgres://authn@127.0.0.1:1/authn")
        .await
        .unwrap_err();
    assert!(err.is_unavailable(), "{err:?}");
    assert_eq!(err.to_string(), "storage unavailable");
}

#[tokio::test]
async fn bad_url_is_invalid_input() {
    assert_invalid(PgStore::connect("mysql://nope").await, "url");
}

#[tokio::test]
async fn closed_pool_is_unavailable() {
    let s = store().await;
    let uid = s.create_user("p@example.com", None).await.unwrap();
    s.pool().close().await;
    for err in [
        s.get_user(uid).await.unwrap_err(),
        s.create_user("q@example.com", None).await.unwrap_err(),
        s.validate_session(&token().1).await.unwrap_err(),
    ] {
        assert!(matches!(err, StoreError::Unavailable { .. }), "{err:?}");
        assert_eq!(err.to_string(), "storage unavailable");
    }
}
