//! Helpers of the store tests; the database harness is `authn-testkit`.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use authn_store_pg::PgStore;
pub use authn_testkit::*;

/// A password hash shaped like the real thing (the store treats it as opaque).
pub fn phc(tag: &str) -> authn_core::PasswordHash {
    authn_core::PasswordHash::parse(&format!("$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ${tag}"))
        .unwrap()
}

/// A fresh random token and its hash.
pub fn token() -> (String, authn_core::TokenHash) {
    let t = authn_core::token::generate_token();
    let h = authn_core::TokenHash::of_token(&t);
    (t, h)
}

/// The audit events of this namespace of one type, newest first.
pub async fn events_of(store: &PgStore, event_type: &str) -> Vec<authn_core::AuditEvent> {
    use authn_core::store::AuditStore;
    store
        .get_audit_events(&authn_core::AuditQuery {
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
pub fn assert_invalid<T: std::fmt::Debug>(r: Result<T, authn_core::StoreError>, field: &str) {
    match r {
        Err(authn_core::StoreError::InvalidInput(e)) => assert_eq!(e.field, field, "{e}"),
        other => panic!("expected InvalidInput({field}), got {other:?}"),
    }
}
