//! The handle itself (`StoreHandle`): namespace names, what a handle
//! carries to its copies (policy, actor), and schema upkeep.

use std::time::Duration;

use authn_core::store::{LoginAttemptStore, StoreHandle};
use authn_core::{Actor, StorePolicy};

use crate::Harness;
use crate::support::*;

/// Bad namespace names are refused with a `ValidationError` naming `namespace`.
pub async fn namespace_names_are_validated<H: Harness>(h: &H) {
    let s = h.store().await;
    for bad in ["", "has space", "semi;colon", "quote'", &"x".repeat(129)] {
        assert_eq!(
            StoreHandle::namespace(&s, bad)
                .map(|_| ())
                .unwrap_err()
                .field,
            "namespace"
        );
    }
    let longest = "n".repeat(128);
    for good in ["acme", "a.b_c-d:e", "Z9", longest.as_str()] {
        let other = StoreHandle::namespace(&s, good).unwrap();
        assert_eq!(other.current_namespace().as_str(), good);
    }
}

/// `migrate` can run again on a migrated database, and the store is then ready.
pub async fn migrate_is_idempotent<H: Harness>(h: &H) {
    let s = h.store().await;
    s.migrate().await.unwrap();
    s.migrate().await.unwrap();
    assert!(s.ready().await.unwrap(), "migrated means ready");
}

/// Handles on other namespaces share policy and actor; `with_policy` and `with_actor` change only the copy.
pub async fn copies_carry_policy_and_actor<H: Harness>(h: &H) {
    let policy = StorePolicy {
        lockout_max_attempts: 2,
        lockout_window: Duration::from_secs(60),
        ..StorePolicy::default()
    };
    let s = h.store_with(policy.clone(), 4).await;
    assert_eq!(s.policy(), &policy);
    assert_eq!(
        s.actor().map(|a| a.actor_id.as_str()),
        Some("test:harness"),
        "the harness sets an actor"
    );

    let other = elsewhere(&s);
    assert_ne!(other.current_namespace(), s.current_namespace());
    assert_eq!(other.policy(), &policy, "namespace() keeps the policy");
    assert_eq!(other.actor(), s.actor(), "namespace() keeps the actor");

    // the policy is the one in force: two failures lock
    for _ in 0..2 {
        other
            .record_login_attempt("p@example.com", false, None)
            .await
            .unwrap();
    }
    assert!(
        other
            .is_locked_out("p@example.com", None, None)
            .await
            .unwrap()
    );

    let default = other.clone().with_policy(StorePolicy::default());
    assert_eq!(default.policy(), &StorePolicy::default());
    assert_eq!(other.policy(), &policy, "with_policy changes only the copy");
    assert!(
        !default
            .is_locked_out("p@example.com", None, None)
            .await
            .unwrap(),
        "the default limit (5) is not reached"
    );

    let bot = other.with_actor(Actor::new("agent:bot").unwrap());
    assert_eq!(bot.actor().unwrap().actor_id, "agent:bot");
    assert_eq!(bot.current_namespace(), other.current_namespace());
    assert_eq!(other.actor(), s.actor(), "with_actor changes only the copy");
}
