//! `AnyStore` picks the backend from the URL, and refuses what it cannot
//! open with a typed error naming `url`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use authn_core::StoreError;
use authn_core::store::{StoreHandle, UserStore};
use authn_store::{AnyStore, Backend};

#[tokio::test]
async fn a_sqlite_url_opens_the_embedded_store_and_creates_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("nested").join("authn.db");
    let url = format!("sqlite://{}", file.display());
    let store = AnyStore::connect(&url).await.unwrap();
    assert_eq!(store.backend(), Backend::Sqlite);
    assert!(!store.ready().await.unwrap(), "not ready before migrating");
    store.migrate().await.unwrap();
    assert!(store.ready().await.unwrap());
    assert!(file.is_file());
    // nothing to create for SQLite
    assert!(!AnyStore::create_database_if_missing(&url).await.unwrap());

    let acme = store.namespace("acme").unwrap();
    let id = acme.create_user("any@example.com", None).await.unwrap();
    assert_eq!(acme.get_user(id).await.unwrap().unwrap().id, id);
    // another namespace of the same file sees nothing
    let other = store.namespace("other").unwrap();
    assert!(other.get_user(id).await.unwrap().is_none());
}

#[tokio::test]
async fn a_postgres_url_opens_the_postgres_store() {
    let url = std::env::var("AUTHN_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    let store = AnyStore::connect(&url).await.unwrap();
    assert_eq!(store.backend(), Backend::Postgres);
    assert_eq!(store.backend().as_str(), "postgres");
}

#[tokio::test]
async fn other_schemes_are_refused_naming_the_url() {
    for url in ["mysql://root@127.0.0.1/authn", "authn.db", "", "sqlite:"] {
        match AnyStore::connect(url).await {
            Err(StoreError::InvalidInput(e)) => assert_eq!(e.field, "url", "{url}"),
            other => panic!("{url}: expected InvalidInput(url), got {other:?}"),
        }
    }
}
