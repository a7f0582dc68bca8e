//! The store contract (`authn-store-conformance`) against a real
//! PostgreSQL, as the recommended non-superuser role, one namespace per test;
//! a peer is another pool on the same database and namespace.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use authn_core::StorePolicy;
use authn_store_pg::PgStore;

/// Handles on the shared, migrated test database, each in a fresh namespace.
struct PgHarness;

impl authn_store_conformance::Harness for PgHarness {
    type Store = PgStore;

    async fn start() -> Self {
        PgHarness
    }

    async fn store_with(&self, policy: StorePolicy, connections: u32) -> PgStore {
        authn_testkit::store_with(policy, connections).await
    }

    /// A second pool on the test database, as another server process
    /// would have, on the same namespace with the same policy and actor.
    async fn peer(&self, store: &PgStore) -> PgStore {
        let peer = PgStore::new(
            authn_testkit::app_pool(authn_store_conformance::support::RACE_CONNECTIONS).await,
        )
        .with_policy(store.policy().clone())
        .namespace(store.current_namespace().as_str())
        .unwrap();
        match store.actor() {
            Some(actor) => peer.with_actor(actor.clone()),
            None => peer,
        }
    }
}

authn_store_conformance::conformance_tests!(PgHarness);
