//! Helpers shared by the suite functions (and usable by a backend's own
//! tests): fake password hashes, fresh tokens, audit lookups, typed-error
//! assertions and fresh namespaces.

use authn_core::store::{AuditStore, StoreHandle};
use authn_core::{AuditEvent, AuditQuery, MfaSecret, PasswordHash, StoreError, TokenHash};

use crate::Harness;

/// Pool size of the race tests: enough connections for real parallelism,
/// few enough for a backend that serialises writers (SQLite).
pub const RACE_CONNECTIONS: u32 = 8;

/// A password hash shaped like the real thing (the store treats it as opaque).
pub fn phc(tag: &str) -> PasswordHash {
    PasswordHash::parse(&format!("$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ${tag}")).unwrap()
}

/// A fresh random token and its hash.
pub fn token() -> (String, TokenHash) {
    let t = authn_core::token::generate_token();
    let h = TokenHash::of_token(&t);
    (t, h)
}

/// An MFA secret from a string.
pub fn secret(s: &str) -> MfaSecret {
    MfaSecret::parse(s).unwrap()
}

/// The audit events of the store's namespace of one type, newest first.
pub async fn events_of<S: AuditStore>(store: &S, event_type: &str) -> Vec<AuditEvent> {
    store
        .get_audit_events(&AuditQuery {
            event_type: Some(event_type.to_owned()),
            limit: Some(1000),
            ..Default::default()
        })
        .await
        .unwrap()
        .items
}

/// Asserts an error is `InvalidInput` naming `field`.
#[track_caller]
pub fn assert_invalid<T: std::fmt::Debug>(r: Result<T, StoreError>, field: &str) {
    match r {
        Err(StoreError::InvalidInput(e)) => assert_eq!(e.field, field, "{e}"),
        other => panic!("expected InvalidInput({field}), got {other:?}"),
    }
}

/// A fresh namespace name, used by no other test.
pub fn unique_namespace() -> String {
    format!("t_{}", uuid::Uuid::now_v7().simple())
}

/// A handle on a fresh namespace sharing `store`'s pool, policy and actor.
pub fn elsewhere<S: StoreHandle>(store: &S) -> S {
    StoreHandle::namespace(store, &unique_namespace()).unwrap()
}

/// How many handles race tests spread their tasks over: the test's own
/// handle and peers of it, each with its own pool.
pub const RACE_PEERS: usize = 3;

/// `store` followed by `RACE_PEERS - 1` peers of it ([`Harness::peer`]):
/// handles on the same namespace, each with its own connection pool. Task
/// `i` of a race uses `peers[i % peers.len()]`.
pub async fn peers<H: Harness>(h: &H, store: &H::Store) -> Vec<H::Store> {
    let mut all = vec![store.clone()];
    for _ in 1..RACE_PEERS {
        all.push(h.peer(store).await);
    }
    all
}
