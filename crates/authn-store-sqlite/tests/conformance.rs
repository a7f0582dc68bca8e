//! The store contract (`authn-store-conformance`) against the embedded
//! SQLite store: one database file per test, in a temporary directory; each
//! handle gets its own pool on that file (so several handles of one test
//! are several "processes" sharing it) and a fresh namespace; a peer is
//! another pool on the same file and namespace.
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

    /// A second pool on the same file, as another process would open it:
    /// its writers do not share `store`'s in-process queue, only SQLite's
    /// file lock.
    async fn peer(&self, store: &SqliteStore) -> SqliteStore {
        let peer = SqliteStore::connect_with(
            &self.url(),
            authn_store_conformance::support::RACE_CONNECTIONS,
            Duration::from_secs(10),
        )
        .await
        .unwrap()
        .with_policy(store.policy().clone())
        .namespace(store.current_namespace().as_str())
        .unwrap();
        match store.actor() {
            Some(actor) => peer.with_actor(actor.clone()),
            None => peer,
        }
    }
}

authn_store_conformance::conformance_tests!(SqliteHarness);
