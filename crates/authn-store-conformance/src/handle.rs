//! The handle itself (`StoreHandle`): namespace names, what a handle
//! carries to its copies (policy, actor), and schema upkeep.

use std::time::Duration;

use authn_core::store::{AuditStore, LoginAttemptStore, SessionStore, StoreHandle, UserStore};
use authn_core::{
    Actor, AuditQuery, NewSession, SessionUpgrade, StoreError, StorePolicy, StoreResult,
};

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

/// A peer (`Harness::peer`) is a handle on the same namespace with the same policy and actor, seeing the same rows.
///
/// What the race tests rely on when they spread tasks over peers: a peer
/// is the same tenant through another pool, so a row written through one
/// handle is read and changed through the other, with the same policy in
/// force and the same actor in the audit.
pub async fn a_peer_is_the_same_namespace_policy_and_actor<H: Harness>(h: &H) {
    let policy = StorePolicy {
        lockout_max_attempts: 2,
        ..StorePolicy::default()
    };
    let s = h.store_with(policy.clone(), 4).await;
    let p = h.peer(&s).await;
    assert_eq!(p.current_namespace(), s.current_namespace());
    assert_eq!(p.policy(), &policy);
    assert_eq!(p.actor(), s.actor());

    let uid = s.create_user("peer@example.com", None).await.unwrap();
    let (_, sess) = token();
    p.create_session(uid, &sess, None, None, None)
        .await
        .unwrap();
    assert_eq!(
        s.validate_session(&sess).await.unwrap().unwrap().user_id,
        uid
    );
    assert!(p.revoke_session(&sess).await.unwrap());
    assert!(s.validate_session(&sess).await.unwrap().is_none());
    // the peer's policy is in force: two failures, one through each, lock
    s.record_login_attempt("peer@example.com", false, None)
        .await
        .unwrap();
    let o = p
        .record_login_attempt("peer@example.com", false, None)
        .await
        .unwrap();
    assert!(o.locked_out && o.lockout_started);
    // and its actor is written into the audit
    let created = events_of(&s, "session_created").await;
    assert_eq!(created.len(), 1);
    assert_eq!(
        created[0].actor_id.as_deref(),
        s.actor().map(|a| a.actor_id.as_str())
    );
}

/// Asserts an error is `InvalidInput` naming one of `fields`: the
/// parameter whose default the policy gave, or the policy field itself.
#[track_caller]
fn assert_invalid_naming<T: std::fmt::Debug>(r: StoreResult<T>, fields: &[&str]) {
    match r {
        Err(StoreError::InvalidInput(e)) => {
            assert!(fields.contains(&e.field), "{e} names none of {fields:?}");
        }
        other => panic!("expected InvalidInput({fields:?}), got {other:?}"),
    }
}

/// A zero session lifetime in the policy is refused as invalid input naming it, and nothing is written.
///
/// `StorePolicy` is a plain struct (not validated when built): a handle
/// whose `session_lifetime` is zero refuses every operation that would use
/// it (`create_session`, `create_session_with` and `extend_session` without
/// an explicit duration, `rotate_session`) with `InvalidInput` naming the
/// defaulted parameter or `session_lifetime`, and writes nothing; explicit
/// durations still work.
pub async fn a_zero_session_lifetime_is_refused_naming_it<H: Harness>(h: &H) {
    let s = h
        .store_with(
            StorePolicy {
                session_lifetime: Duration::ZERO,
                ..StorePolicy::default()
            },
            4,
        )
        .await;
    let uid = s.create_user("zero@example.com", None).await.unwrap();
    let (_, a) = token();
    assert_invalid_naming(
        s.create_session(uid, &a, None, None, None).await,
        &["expires_in", "session_lifetime"],
    );
    assert_invalid_naming(
        s.create_session_with(&NewSession::new(uid, a.clone()))
            .await,
        &["expires_in", "session_lifetime"],
    );
    assert!(
        s.validate_session(&a).await.unwrap().is_none(),
        "no session made"
    );
    assert!(s.list_sessions(uid).await.unwrap().is_empty());

    // explicit lifetimes do not need the policy's
    let hour = Some(Duration::from_secs(3600));
    s.create_session(uid, &a, hour, None, None).await.unwrap();
    let (_, p) = token();
    s.create_session_with(&NewSession {
        partial: true,
        expires_in: hour,
        ..NewSession::new(uid, p.clone())
    })
    .await
    .unwrap();
    let before = s.validate_session(&a).await.unwrap().unwrap().expires_at;
    assert_invalid_naming(
        s.extend_session(&a, None).await,
        &["extend_by", "session_lifetime"],
    );
    assert_eq!(
        s.validate_session(&a).await.unwrap().unwrap().expires_at,
        before
    );
    assert!(
        s.extend_session(&a, Some(Duration::from_secs(7200)))
            .await
            .unwrap()
            .is_some()
    );
    let (_, new) = token();
    assert_invalid_naming(
        s.rotate_session(&p, &new, &SessionUpgrade::default()).await,
        &["session_lifetime"],
    );
    assert!(
        s.validate_session(&p).await.unwrap().unwrap().partial,
        "not rotated"
    );
    assert!(s.validate_session(&new).await.unwrap().is_none());
    assert!(events_of(&s, "session_rotated").await.is_empty());
    assert_eq!(events_of(&s, "session_created").await.len(), 2);
    assert_eq!(events_of(&s, "session_extended").await.len(), 1);
}

/// A zero lockout window in the policy is refused as invalid input naming it, and no attempt is recorded.
///
/// A handle whose `lockout_window` is zero refuses `record_login_attempt`,
/// `begin_login_attempt` and `begin_mfa_attempt` with `InvalidInput` naming
/// `lockout_window`, and `is_locked_out` without an explicit window naming
/// `window` or `lockout_window`; no attempt row and no audit event is
/// written; an explicit window still works.
pub async fn a_zero_lockout_window_is_refused_naming_it<H: Harness>(h: &H) {
    let s = h
        .store_with(
            StorePolicy {
                lockout_window: Duration::ZERO,
                ..StorePolicy::default()
            },
            4,
        )
        .await;
    let uid = s.create_user("window@example.com", None).await.unwrap();
    let audited = s
        .get_audit_events(&AuditQuery::default())
        .await
        .unwrap()
        .items
        .len();
    for success in [false, true] {
        assert_invalid_naming(
            s.record_login_attempt("window@example.com", success, None)
                .await,
            &["lockout_window"],
        );
    }
    assert_invalid_naming(
        s.begin_login_attempt("window@example.com", None).await,
        &["lockout_window"],
    );
    assert_invalid_naming(s.begin_mfa_attempt(uid, None).await, &["lockout_window"]);
    assert_invalid_naming(
        s.is_locked_out("window@example.com", None, None).await,
        &["window", "lockout_window"],
    );
    assert!(
        !s.is_locked_out("window@example.com", Some(Duration::from_secs(60)), None)
            .await
            .unwrap()
    );
    assert!(
        s.get_recent_attempts("window@example.com", None)
            .await
            .unwrap()
            .is_empty(),
        "nothing recorded"
    );
    assert_eq!(
        s.get_audit_events(&AuditQuery::default())
            .await
            .unwrap()
            .items
            .len(),
        audited,
        "nothing audited"
    );
}
