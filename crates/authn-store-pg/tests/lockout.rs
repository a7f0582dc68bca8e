//! The atomic lockout check: `begin_login_attempt` / `finish_login_attempt`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use authn_core::store::LoginAttemptStore;
use authn_core::{StoreError, StorePolicy};
use common::*;
use tokio::sync::Barrier;

/// 50 parallel wrong-password logins on one account: exactly the limit (5)
/// get to check a password, the other 45 are refused at once, and the
/// lockout is recorded once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_guesses_never_get_past_the_limit() {
    let s = store_with(StorePolicy::default(), 20).await;
    let barrier = Arc::new(Barrier::new(50));
    let mut tasks = Vec::new();
    for i in 0..50u8 {
        let (s, barrier) = (s.clone(), barrier.clone());
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            let ip = Some(std::net::IpAddr::from([198, 51, 100, i]));
            match s.begin_login_attempt("victim@example.com", ip).await {
                Ok(permit) => {
                    // the password check would run here; it fails
                    let outcome = s.finish_login_attempt(&permit, false).await.unwrap();
                    Ok(outcome.lockout_started)
                }
                Err(StoreError::Locked { retry_after }) => Err(retry_after),
                Err(e) => panic!("unexpected error {e:?}"),
            }
        }));
    }
    let mut let_through = 0;
    let mut started = 0;
    let mut refused = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(lockout_started) => {
                let_through += 1;
                started += usize::from(lockout_started);
            }
            Err(retry_after) => {
                refused += 1;
                assert!(retry_after > Duration::ZERO && retry_after <= Duration::from_secs(900));
            }
        }
    }
    assert_eq!((let_through, refused), (5, 45), "the limit holds exactly");
    assert_eq!(started, 1);
    assert_eq!(events_of(&s, "lockout_triggered").await.len(), 1);
    assert_eq!(events_of(&s, "login_attempt_failed").await.len(), 5);
    assert!(
        s.is_locked_out("victim@example.com", None, None)
            .await
            .unwrap()
    );
    assert!(matches!(
        s.begin_login_attempt("VICTIM@example.com", None).await,
        Err(StoreError::Locked { .. })
    ));
    // another account is not affected
    assert!(
        s.begin_login_attempt("other@example.com", None)
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn attempts_in_progress_count_and_successes_release_them() {
    let s = store().await;
    let mut permits = Vec::new();
    for _ in 0..5 {
        permits.push(s.begin_login_attempt("p@example.com", None).await.unwrap());
    }
    assert!(matches!(
        s.begin_login_attempt("p@example.com", None).await,
        Err(StoreError::Locked { .. })
    ));
    assert!(s.is_locked_out("p@example.com", None, None).await.unwrap());
    for p in &permits {
        let outcome = s.finish_login_attempt(p, true).await.unwrap();
        assert!(!outcome.lockout_started);
    }
    assert!(!s.is_locked_out("p@example.com", None, None).await.unwrap());
    assert!(
        events_of(&s, "login_attempt_failed").await.is_empty(),
        "successes not audited"
    );
    // a permit finishes once
    assert!(matches!(
        s.finish_login_attempt(&permits[0], false).await,
        Err(StoreError::NotFound {
            entity: "login_attempt"
        })
    ));
    let recent = s.get_recent_attempts("p@example.com", None).await.unwrap();
    assert_eq!(recent.len(), 5);
    assert!(recent.iter().all(|a| a.success));
}

#[tokio::test]
async fn retry_after_tells_when_the_lock_lifts() {
    let policy = StorePolicy {
        lockout_window: Duration::from_secs(2),
        lockout_max_attempts: 2,
        ..StorePolicy::default()
    };
    let s = store_with(policy, 4).await;
    for _ in 0..2 {
        let p = s.begin_login_attempt("r@example.com", None).await.unwrap();
        s.finish_login_attempt(&p, false).await.unwrap();
    }
    let Err(StoreError::Locked { retry_after }) =
        s.begin_login_attempt("r@example.com", None).await
    else {
        panic!("expected Locked");
    };
    assert!(retry_after >= Duration::from_secs(1) && retry_after <= Duration::from_secs(2));
    tokio::time::sleep(retry_after + Duration::from_millis(200)).await;
    let p = s.begin_login_attempt("r@example.com", None).await.unwrap();
    let outcome = s.finish_login_attempt(&p, false).await.unwrap();
    assert!(
        !outcome.locked_out,
        "the old failures slid out of the window"
    );
    assert_eq!(outcome.failures_in_window, 1);
}

#[tokio::test]
async fn clear_attempts_ends_the_lock_and_kills_open_permits() {
    let s = store().await;
    let open = s.begin_login_attempt("c@example.com", None).await.unwrap();
    for _ in 0..4 {
        let p = s.begin_login_attempt("c@example.com", None).await.unwrap();
        s.finish_login_attempt(&p, false).await.unwrap();
    }
    assert!(s.begin_login_attempt("c@example.com", None).await.is_err());
    assert_eq!(s.clear_attempts("c@example.com").await.unwrap(), 5);
    assert!(s.begin_login_attempt("c@example.com", None).await.is_ok());
    assert!(matches!(
        s.finish_login_attempt(&open, false).await,
        Err(StoreError::NotFound { .. })
    ));
    assert_invalid(s.begin_login_attempt("bad email", None).await, "email");
}
