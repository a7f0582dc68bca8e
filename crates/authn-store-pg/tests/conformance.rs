//! The store contract (`authn-store-conformance`) against a real
//! PostgreSQL, as the recommended non-superuser role, one namespace per test.
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
}

authn_store_conformance::conformance_tests!(PgHarness);
