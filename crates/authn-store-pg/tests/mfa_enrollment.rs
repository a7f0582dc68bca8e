//! MFA enrollment and use: pending methods and their confirmation, TOTP step
//! replay protection, recovery code sets, MFA reset, and the per-user
//! second-factor lockout (`begin_mfa_attempt`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use authn_core::store::{LoginAttemptStore, MaintenanceStore, MfaStore, UserStore};
use authn_core::{MfaId, MfaSecret, MfaType, StoreError, StorePolicy, UserId};
use common::*;
use tokio::sync::Barrier;

fn secret(s: &str) -> MfaSecret {
    MfaSecret::parse(s).unwrap()
}

fn codes(prefix: &str, n: usize) -> Vec<MfaSecret> {
    (0..n)
        .map(|i| secret(&format!("{prefix}-code-hash-{i:02}")))
        .collect()
}

/// A user with a confirmed TOTP method whose last accepted step is `step`.
async fn totp_user(s: &authn_store_pg::PgStore, email: &str, step: u64) -> (UserId, MfaId) {
    let uid = s.create_user(email, None).await.unwrap();
    let id = s
        .add_pending_mfa(uid, MfaType::Totp, &secret("ENC-TOTP"), Some("Phone"))
        .await
        .unwrap();
    assert!(s.confirm_mfa(id, Some(step)).await.unwrap());
    (uid, id)
}

#[tokio::test]
async fn a_pending_method_is_listed_but_does_not_enable_mfa() {
    let s = store().await;
    let uid = s.create_user("pend@example.com", None).await.unwrap();
    let id = s
        .add_pending_mfa(uid, MfaType::Totp, &secret("ENC-ONE"), Some(" Phone "))
        .await
        .unwrap();
    let listed = s.list_mfa(uid).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, id);
    assert_eq!(listed[0].mfa_type, MfaType::Totp);
    assert_eq!(listed[0].name.as_deref(), Some("Phone"));
    assert!(!listed[0].confirmed);
    assert!(!s.has_mfa(uid).await.unwrap(), "pending is not enabled");
    assert_eq!(s.get_stats().await.unwrap().mfa_enabled_user_count, 0);
    let added = events_of(&s, "mfa_added").await;
    assert_eq!(added.len(), 1);
    assert_eq!(added[0].new_values.as_ref().unwrap()["confirmed"], false);
    assert!(
        !serde_json::to_string(&added[0])
            .unwrap()
            .contains("ENC-ONE")
    );

    // bad input
    assert!(matches!(
        s.add_pending_mfa(UserId::new(), MfaType::Totp, &secret("X"), None)
            .await,
        Err(StoreError::NotFound { entity: "user" })
    ));
    assert_invalid(
        s.add_pending_mfa(uid, MfaType::Totp, &secret("X"), Some(&"n".repeat(257)))
            .await,
        "name",
    );
    // a refused enrollment did not replace the pending one
    assert_eq!(s.list_mfa(uid).await.unwrap()[0].id, id);
}

#[tokio::test]
async fn a_new_enrollment_replaces_only_the_pending_method_of_its_type() {
    let s = store().await;
    let uid = s.create_user("repl@example.com", None).await.unwrap();
    let other = s.create_user("other@example.com", None).await.unwrap();
    let confirmed = s
        .add_mfa(
            uid,
            MfaType::Totp,
            &secret("ENC-CONFIRMED"),
            Some("Old phone"),
        )
        .await
        .unwrap();
    let first = s
        .add_pending_mfa(uid, MfaType::Totp, &secret("ENC-FIRST"), None)
        .await
        .unwrap();
    let webauthn = s
        .add_pending_mfa(uid, MfaType::Webauthn, &secret("WA-PENDING"), None)
        .await
        .unwrap();
    let others = s
        .add_pending_mfa(other, MfaType::Totp, &secret("ENC-OTHER"), None)
        .await
        .unwrap();
    let second = s
        .add_pending_mfa(uid, MfaType::Totp, &secret("ENC-SECOND"), None)
        .await
        .unwrap();
    assert_ne!(first, second);

    let listed = s.list_mfa(uid).await.unwrap();
    let ids: Vec<_> = listed.iter().map(|m| m.id).collect();
    assert_eq!(
        ids,
        [confirmed, webauthn, second],
        "the first pending one is gone"
    );
    let pending_totp: Vec<_> = listed
        .iter()
        .filter(|m| m.mfa_type == MfaType::Totp && !m.confirmed)
        .collect();
    assert_eq!(pending_totp.len(), 1);
    assert!(listed.iter().find(|m| m.id == confirmed).unwrap().confirmed);
    let secrets: Vec<_> = s
        .get_mfa(uid, MfaType::Totp)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.secret.expose().to_owned())
        .collect();
    assert_eq!(secrets, ["ENC-CONFIRMED", "ENC-SECOND"]);
    assert!(
        !s.confirm_mfa(first, None).await.unwrap(),
        "the replaced enrollment cannot be confirmed"
    );
    assert_eq!(s.list_mfa(other).await.unwrap()[0].id, others);
    assert!(s.has_mfa(uid).await.unwrap(), "the confirmed method stays");
}

#[tokio::test]
async fn confirm_is_exactly_once_and_burns_its_step() {
    let s = store().await;
    let uid = s.create_user("conf@example.com", None).await.unwrap();
    let id = s
        .add_pending_mfa(uid, MfaType::Totp, &secret("ENC"), None)
        .await
        .unwrap();
    let step = 58_000_000u64;
    assert!(s.confirm_mfa(id, Some(step)).await.unwrap());
    assert!(!s.confirm_mfa(id, Some(step + 1)).await.unwrap());
    assert!(!s.confirm_mfa(MfaId::new(), None).await.unwrap());
    let m = &s.list_mfa(uid).await.unwrap()[0];
    assert!(m.confirmed);
    assert!(s.has_mfa(uid).await.unwrap());
    assert_eq!(s.get_stats().await.unwrap().mfa_enabled_user_count, 1);
    let ev = events_of(&s, "mfa_confirmed").await;
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0].resource_id.as_deref(), Some(id.to_string().as_str()));

    // the code that confirmed the enrollment cannot be replayed to log in
    assert!(!s.accept_totp_step(id, step).await.unwrap());
    assert!(s.accept_totp_step(id, step + 1).await.unwrap());

    // an already confirmed method (add_mfa) is not "confirmed" again
    let direct = s
        .add_mfa(uid, MfaType::Webauthn, &secret("WA"), None)
        .await
        .unwrap();
    assert!(!s.confirm_mfa(direct, None).await.unwrap());
    assert_eq!(events_of(&s, "mfa_confirmed").await.len(), 1);
}

#[tokio::test]
async fn totp_steps_only_move_forward() {
    let s = store().await;
    let uid = s.create_user("steps@example.com", None).await.unwrap();
    // confirmed without a step: the first step is free
    let id = s
        .add_pending_mfa(uid, MfaType::Totp, &secret("ENC"), None)
        .await
        .unwrap();
    assert!(s.confirm_mfa(id, None).await.unwrap());
    let step = 58_000_100u64;
    assert!(s.accept_totp_step(id, step).await.unwrap());
    let used = s.list_mfa(uid).await.unwrap()[0].last_used_at;
    assert!(used.is_some(), "last_used_at set");
    assert!(!s.accept_totp_step(id, step).await.unwrap(), "replay");
    assert!(
        !s.accept_totp_step(id, step - 1).await.unwrap(),
        "older step"
    );
    assert!(s.accept_totp_step(id, step + 1).await.unwrap());
    assert!(!s.accept_totp_step(id, step).await.unwrap());
    assert!(
        s.accept_totp_step(id, step + 5).await.unwrap(),
        "skips are fine"
    );
    assert!(!s.accept_totp_step(id, step + 3).await.unwrap());
    assert_eq!(events_of(&s, "mfa_used").await.len(), 3);

    // a pending method refuses, also after a step would have been "later"
    let pending = s
        .add_pending_mfa(uid, MfaType::Totp, &secret("ENC-2"), None)
        .await
        .unwrap();
    assert!(!s.accept_totp_step(pending, step + 100).await.unwrap());
    assert!(!s.accept_totp_step(MfaId::new(), step).await.unwrap());
    // a removed method refuses
    assert!(s.remove_mfa(id).await.unwrap());
    assert!(!s.accept_totp_step(id, step + 100).await.unwrap());
    assert_eq!(events_of(&s, "mfa_used").await.len(), 3);
}

/// The same TOTP code submitted 20 times at once is accepted once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_submissions_of_one_code_are_accepted_once() {
    let s = store_with(StorePolicy::default(), 20).await;
    let step = 58_000_200u64;
    let (_, id) = totp_user(&s, "totprace@example.com", step - 1).await;
    let barrier = Arc::new(Barrier::new(20));
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let (s, barrier) = (s.clone(), barrier.clone());
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            s.accept_totp_step(id, step).await.unwrap()
        }));
    }
    let mut accepted = 0;
    for t in tasks {
        accepted += usize::from(t.await.unwrap());
    }
    assert_eq!(accepted, 1, "exactly one submission is accepted");
    let used = events_of(&s, "mfa_used").await;
    assert_eq!(used.len(), 1);
    assert_eq!(
        used[0].resource_id.as_deref(),
        Some(id.to_string().as_str())
    );
    assert!(!s.accept_totp_step(id, step).await.unwrap());
}

#[tokio::test]
async fn replace_recovery_codes_swaps_the_whole_set() {
    let s = store().await;
    let uid = s.create_user("rc@example.com", None).await.unwrap();
    let totp = s
        .add_mfa(uid, MfaType::Totp, &secret("ENC"), None)
        .await
        .unwrap();
    let old = codes("old", 10);
    assert_eq!(s.replace_recovery_codes(uid, &old).await.unwrap(), 10);
    let listed = s.list_mfa(uid).await.unwrap();
    let rc: Vec<_> = listed
        .iter()
        .filter(|m| m.mfa_type == MfaType::RecoveryCodes)
        .collect();
    assert_eq!(rc.len(), 10);
    assert!(rc.iter().all(|m| m.confirmed && m.user_id == uid));

    let new = codes("new", 8);
    assert_eq!(s.replace_recovery_codes(uid, &new).await.unwrap(), 8);
    let listed = s.list_mfa(uid).await.unwrap();
    assert_eq!(
        listed
            .iter()
            .filter(|m| m.mfa_type == MfaType::RecoveryCodes && m.confirmed)
            .count(),
        8
    );
    assert!(
        listed.iter().any(|m| m.id == totp),
        "other methods are kept"
    );
    for c in &old {
        assert!(
            !s.consume_recovery_code(uid, c).await.unwrap(),
            "old codes are gone"
        );
    }
    assert!(s.consume_recovery_code(uid, &new[3]).await.unwrap());

    let ev = events_of(&s, "recovery_codes_replaced").await;
    assert_eq!(ev.len(), 2);
    // newest first
    assert_eq!(ev[0].old_values.as_ref().unwrap()["count"], 10);
    assert_eq!(ev[0].new_values.as_ref().unwrap()["count"], 8);
    assert_eq!(ev[1].new_values.as_ref().unwrap()["count"], 10);
    assert_eq!(ev[0].resource_id.as_deref(), Some(uid.to_string().as_str()));
    for e in &ev {
        let text = serde_json::to_string(e).unwrap();
        assert!(!text.contains("code-hash"), "no hash in the audit: {text}");
    }

    assert!(matches!(
        s.replace_recovery_codes(UserId::new(), &codes("x", 3))
            .await,
        Err(StoreError::NotFound { entity: "user" })
    ));
    assert_eq!(events_of(&s, "recovery_codes_replaced").await.len(), 2);
}

/// Replacing the codes of a user that does not exist is refused whatever
/// the new set, and leaves no audit event about a phantom user.
#[tokio::test]
async fn replace_recovery_codes_of_an_unknown_user_with_an_empty_set() {
    let s = store().await;
    let r = s.replace_recovery_codes(UserId::new(), &[]).await;
    assert!(
        matches!(r, Err(StoreError::NotFound { entity: "user" })),
        "expected NotFound(user), got {r:?}"
    );
    assert!(events_of(&s, "recovery_codes_replaced").await.is_empty());
}

#[tokio::test]
async fn a_recovery_code_is_spent_once_and_only_by_its_user() {
    let s = store().await;
    let a = s.create_user("a@example.com", None).await.unwrap();
    let b = s.create_user("b@example.com", None).await.unwrap();
    let set = codes("a", 3);
    s.replace_recovery_codes(a, &set).await.unwrap();
    assert!(
        !s.consume_recovery_code(b, &set[0]).await.unwrap(),
        "another user's code"
    );
    assert!(s.consume_recovery_code(a, &set[0]).await.unwrap());
    assert!(!s.consume_recovery_code(a, &set[0]).await.unwrap(), "spent");
    assert!(
        !s.consume_recovery_code(a, &secret("never-issued"))
            .await
            .unwrap()
    );
    assert_eq!(s.list_mfa(a).await.unwrap().len(), 2);
    let ev = events_of(&s, "recovery_code_used").await;
    assert_eq!(ev.len(), 1);
    assert!(!serde_json::to_string(&ev[0]).unwrap().contains("code-hash"));
    // a TOTP secret equal to the code is not a recovery code
    s.add_mfa(a, MfaType::Totp, &set[1], None).await.unwrap();
    assert!(s.consume_recovery_code(a, &set[1]).await.unwrap());
    assert_eq!(s.get_mfa(a, MfaType::Totp).await.unwrap().len(), 1);
}

/// One recovery code used 20 times at once works once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_uses_of_one_recovery_code_succeed_once() {
    let s = store_with(StorePolicy::default(), 20).await;
    let uid = s.create_user("rcrace@example.com", None).await.unwrap();
    let set = codes("race", 5);
    s.replace_recovery_codes(uid, &set).await.unwrap();
    let barrier = Arc::new(Barrier::new(20));
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let (s, barrier, code) = (s.clone(), barrier.clone(), set[2].clone());
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            s.consume_recovery_code(uid, &code).await.unwrap()
        }));
    }
    let mut spent = 0;
    for t in tasks {
        spent += usize::from(t.await.unwrap());
    }
    assert_eq!(spent, 1);
    assert_eq!(events_of(&s, "recovery_code_used").await.len(), 1);
    assert_eq!(s.list_mfa(uid).await.unwrap().len(), 4);
}

#[tokio::test]
async fn remove_all_mfa_resets_confirmed_and_pending() {
    let s = store().await;
    let uid = s.create_user("reset@example.com", None).await.unwrap();
    let other = s.create_user("keep@example.com", None).await.unwrap();
    s.add_mfa(uid, MfaType::Totp, &secret("ENC"), None)
        .await
        .unwrap();
    s.add_pending_mfa(uid, MfaType::Webauthn, &secret("WA"), None)
        .await
        .unwrap();
    s.replace_recovery_codes(uid, &codes("r", 4)).await.unwrap();
    s.add_mfa(other, MfaType::Totp, &secret("ENC-O"), None)
        .await
        .unwrap();
    assert!(s.has_mfa(uid).await.unwrap());

    assert_eq!(s.remove_all_mfa(uid).await.unwrap(), 6);
    assert!(s.list_mfa(uid).await.unwrap().is_empty());
    assert!(!s.has_mfa(uid).await.unwrap());
    assert!(s.has_mfa(other).await.unwrap(), "other users keep theirs");
    let ev = events_of(&s, "mfa_reset").await;
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0].resource_id.as_deref(), Some(uid.to_string().as_str()));
    assert_eq!(ev[0].new_values.as_ref().unwrap()["removed"], 6);

    // nothing to remove: 0 and no audit
    assert_eq!(s.remove_all_mfa(uid).await.unwrap(), 0);
    assert_eq!(s.remove_all_mfa(UserId::new()).await.unwrap(), 0);
    assert_eq!(events_of(&s, "mfa_reset").await.len(), 1);
}

#[tokio::test]
async fn mfa_attempts_lock_the_user_after_the_limit() {
    let s = store().await;
    let uid = s.create_user("lock@example.com", None).await.unwrap();
    let mut permits = Vec::new();
    for _ in 0..10 {
        permits.push(s.begin_mfa_attempt(uid, None).await.unwrap());
    }
    let Err(StoreError::Locked { retry_after }) = s.begin_mfa_attempt(uid, None).await else {
        panic!("the 11th attempt in progress is refused");
    };
    assert!(retry_after > Duration::ZERO && retry_after <= Duration::from_secs(900));
    // right codes release their slots
    for p in &permits {
        let outcome = s.finish_login_attempt(p, true).await.unwrap();
        assert!(!outcome.lockout_started);
    }
    assert!(events_of(&s, "mfa_attempt_failed").await.is_empty());
    assert!(matches!(
        s.finish_login_attempt(&permits[0], false).await,
        Err(StoreError::NotFound {
            entity: "login_attempt"
        })
    ));

    // ten wrong codes, across "sessions": the 10th starts the lockout
    for i in 1..=10u32 {
        let p = s.begin_mfa_attempt(uid, None).await.unwrap();
        let outcome = s.finish_login_attempt(&p, false).await.unwrap();
        assert_eq!(outcome.failures_in_window, i);
        assert_eq!(outcome.lockout_started, i == 10, "at {i}");
        assert_eq!(outcome.locked_out, i == 10);
    }
    assert!(matches!(
        s.begin_mfa_attempt(uid, None).await,
        Err(StoreError::Locked { .. })
    ));
    let failed = events_of(&s, "mfa_attempt_failed").await;
    assert_eq!(failed.len(), 10);
    assert!(
        failed
            .iter()
            .all(|e| e.resource_id.as_deref() == Some(uid.to_string().as_str()))
    );
    let locked = events_of(&s, "mfa_lockout_triggered").await;
    assert_eq!(locked.len(), 1);
    assert_eq!(
        locked[0].resource_id.as_deref(),
        Some(uid.to_string().as_str())
    );
    // the password side knows nothing of it
    assert!(events_of(&s, "login_attempt_failed").await.is_empty());
    assert!(events_of(&s, "lockout_triggered").await.is_empty());
    assert!(
        !s.is_locked_out("lock@example.com", None, None)
            .await
            .unwrap()
    );
    assert!(
        s.begin_login_attempt("lock@example.com", None)
            .await
            .is_ok()
    );
    // nor does another user's second factor
    let other = s.create_user("free@example.com", None).await.unwrap();
    assert!(s.begin_mfa_attempt(other, None).await.is_ok());
}

#[tokio::test]
async fn a_password_lockout_does_not_lock_the_second_factor() {
    let s = store().await;
    let uid = s.create_user("pw@example.com", None).await.unwrap();
    for _ in 0..5 {
        let p = s.begin_login_attempt("pw@example.com", None).await.unwrap();
        s.finish_login_attempt(&p, false).await.unwrap();
    }
    assert!(matches!(
        s.begin_login_attempt("pw@example.com", None).await,
        Err(StoreError::Locked { .. })
    ));
    let p = s.begin_mfa_attempt(uid, None).await.unwrap();
    let outcome = s.finish_login_attempt(&p, false).await.unwrap();
    assert_eq!(outcome.failures_in_window, 1, "only the MFA failure counts");
    assert!(!outcome.locked_out);
    // clearing password attempts does not touch MFA attempts
    assert_eq!(s.clear_attempts("pw@example.com").await.unwrap(), 5);
    let p = s.begin_mfa_attempt(uid, None).await.unwrap();
    let outcome = s.finish_login_attempt(&p, false).await.unwrap();
    assert_eq!(outcome.failures_in_window, 2);
}

/// 30 parallel second-factor checks of one user: exactly the limit (10) get
/// a permit; if all 10 are wrong, one lockout is recorded.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_mfa_attempts_never_get_past_the_limit() {
    let s = store_with(StorePolicy::default(), 20).await;
    let uid = s.create_user("mfarace@example.com", None).await.unwrap();
    let barrier = Arc::new(Barrier::new(30));
    let mut tasks = Vec::new();
    for _ in 0..30 {
        let (s, barrier) = (s.clone(), barrier.clone());
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            match s.begin_mfa_attempt(uid, None).await {
                Ok(permit) => Some(permit),
                Err(StoreError::Locked { retry_after }) => {
                    assert!(retry_after > Duration::ZERO);
                    None
                }
                Err(e) => panic!("unexpected error {e:?}"),
            }
        }));
    }
    let mut permits = Vec::new();
    let mut refused = 0;
    for t in tasks {
        match t.await.unwrap() {
            Some(p) => permits.push(p),
            None => refused += 1,
        }
    }
    assert_eq!(
        (permits.len(), refused),
        (10, 20),
        "the limit holds exactly"
    );

    let barrier = Arc::new(Barrier::new(permits.len()));
    let mut tasks = Vec::new();
    for p in permits {
        let (s, barrier) = (s.clone(), barrier.clone());
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            s.finish_login_attempt(&p, false)
                .await
                .unwrap()
                .lockout_started
        }));
    }
    let mut started = 0;
    for t in tasks {
        started += usize::from(t.await.unwrap());
    }
    assert_eq!(started, 1);
    assert_eq!(events_of(&s, "mfa_attempt_failed").await.len(), 10);
    assert_eq!(events_of(&s, "mfa_lockout_triggered").await.len(), 1);
}

/// Enrollment started twice at once (double click, two tabs): the contract
/// says a new pending method replaces any pending one of its type, so one
/// pending TOTP method is left, whatever the interleaving.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_enrollments_leave_one_pending_method() {
    let s = store_with(StorePolicy::default(), 20).await;
    let uid = s.create_user("twotabs@example.com", None).await.unwrap();
    let barrier = Arc::new(Barrier::new(10));
    let mut tasks = Vec::new();
    for i in 0..10 {
        let (s, barrier) = (s.clone(), barrier.clone());
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            s.add_pending_mfa(uid, MfaType::Totp, &secret(&format!("ENC-{i}")), None)
                .await
                .unwrap()
        }));
    }
    let mut ids = Vec::new();
    for t in tasks {
        ids.push(t.await.unwrap());
    }
    let pending: Vec<_> = s
        .list_mfa(uid)
        .await
        .unwrap()
        .into_iter()
        .filter(|m| m.mfa_type == MfaType::Totp && !m.confirmed)
        .collect();
    assert_eq!(
        pending.len(),
        1,
        "pending TOTP methods left after 10 parallel enrollments: {}",
        pending.len()
    );
    assert!(ids.contains(&pending[0].id));
}

/// Codes regenerated twice at once: exactly one whole set survives; the
/// codes of the other sets (shown to nobody, or to the other tab) never work.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_replacements_leave_exactly_one_code_set() {
    let s = store_with(StorePolicy::default(), 20).await;
    let uid = s.create_user("regen@example.com", None).await.unwrap();
    s.replace_recovery_codes(uid, &codes("init", 10))
        .await
        .unwrap();
    let barrier = Arc::new(Barrier::new(10));
    let mut tasks = Vec::new();
    for i in 0..10 {
        let (s, barrier) = (s.clone(), barrier.clone());
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            s.replace_recovery_codes(uid, &codes(&format!("set{i}"), 10))
                .await
                .unwrap()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 10);
    }
    let left = s.get_mfa(uid, MfaType::RecoveryCodes).await.unwrap();
    assert_eq!(
        left.len(),
        10,
        "recovery codes left after 10 parallel replacements of 10: {}",
        left.len()
    );
    let set = left[0]
        .secret
        .expose()
        .split('-')
        .next()
        .unwrap()
        .to_owned();
    assert!(
        left.iter().all(|c| c.secret.expose().starts_with(&set)),
        "all surviving codes are of one set"
    );
}
