//! The store contract (`authn-store-conformance`) through `AnyStore`, as
//! the server uses it: opened from a `sqlite://` URL, every operation
//! forwarded to the embedded store. (The PostgreSQL store passes the same
//! suite in `authn-store-pg`; forwarding is the same code for both.)
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use authn_core::store::StoreHandle;
use authn_core::{Actor, StorePolicy};
use authn_store::{AnyStore, Backend};

/// A temporary directory holding the test's database file.
struct AnyHarness {
    dir: tempfile::TempDir,
}

impl AnyHarness {
    fn url(&self) -> String {
        format!("sqlite://{}", self.dir.path().join("authn.db").display())
    }
}

impl authn_store_conformance::Harness for AnyHarness {
    type Store = AnyStore;

    async fn start() -> Self {
        let h = AnyHarness {
            dir: tempfile::tempdir().unwrap(),
        };
        let store = AnyStore::connect(&h.url()).await.unwrap();
        assert_eq!(store.backend(), Backend::Sqlite);
        store.migrate().await.unwrap();
        h
    }

    async fn store_with(&self, policy: StorePolicy, connections: u32) -> AnyStore {
        AnyStore::connect_with(&self.url(), connections, Duration::from_secs(10))
            .await
            .unwrap()
            .with_policy(policy)
            .namespace(&format!("t_{}", uuid::Uuid::now_v7().simple()))
            .unwrap()
            .with_actor(Actor::new("test:harness").unwrap())
    }

    /// A second pool on the same file, as another process would open it.
    async fn peer(&self, store: &AnyStore) -> AnyStore {
        let peer = AnyStore::connect_with(
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

authn_store_conformance::conformance_tests!(AnyHarness);
