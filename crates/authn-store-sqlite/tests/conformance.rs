//! The store contract (`authn-store-conformance`) against the embedded
//! SQLite store: one database file per test, in a temporary directory; each
//! handle gets its own pool on that file (so several handles of one test
//! are several "processes" sharing it) and a fresh namespace.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use authn_core::{Actor, StorePolicy};
use authn_store_sqlite::SqliteStore;

/// A temporary directory holding the test's database file.
struct SqliteHarness {
    dir: tempfile::TempDir,
}

impl SqliteHarness {
    fn url(&self) -> String {
        format!("sqlite://{}", self.dir.path().join("authn.db").display())
    }
}

impl authn_store_conformance::Harness for SqliteHarness {
    type Store = SqliteStore;

    async fn start() -> Self {
        let h = SqliteHarness {
            dir: tempfile::tempdir().unwrap(),
        };
        SqliteStore::connect(&h.url())
            .await
            .unwrap()
            .migrate()
            .await
            .unwrap();
        h
    }

    async fn store_with(&self, policy: StorePolicy, connections: u32) -> SqliteStore {
        let store = SqliteStore::connect_with(&self.url(), connections, Duration::from_secs(10))
            .await
            .unwrap();
        // idempotent: the file was migrated by start()
        store.migrate().await.unwrap();
        store
            .with_policy(policy)
            .namespace(&format!("t_{}", uuid::Uuid::now_v7().simple()))
            .unwrap()
            .with_actor(Actor::new("test:harness").unwrap())
    }
}

authn_store_conformance::conformance_tests!(SqliteHarness);
