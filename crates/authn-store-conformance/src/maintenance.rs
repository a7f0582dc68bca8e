//! Maintenance (`MaintenanceStore`): cleanup that deletes exactly the dead
//! rows of its namespace, in batches, never ending a lockout early; and the
//! namespace statistics.

use std::time::Duration;

use authn_core::store::{
    LoginAttemptStore, MaintenanceStore, MfaStore, SessionStore, StoreHandle, TokenStore, UserStore,
};
use authn_core::{CleanupReport, MfaSecret, MfaType, Stats, StorePolicy, TokenType};

use crate::Harness;
use crate::support::*;
/// A lifetime that is over by the time the cleanup runs.
const SHORT: Option<Duration> = Some(Duration::from_millis(300));

/// Small batches, a short retention and window.
fn cleanup_policy() -> StorePolicy {
    StorePolicy {
        cleanup_batch_size: 2,
        attempt_retention: Duration::from_secs(1),
        lockout_window: Duration::from_secs(1),
        ..StorePolicy::default()
    }
}

/// `cleanup_expired` deletes exactly the dead rows of its namespace, in batches, and audits one summary.
pub async fn cleanup_deletes_exactly_the_dead_rows_in_batches<H: Harness>(h: &H) {
    let s = h.store_with(cleanup_policy(), 4).await;
    let u = s.create_user("clean@example.com", None).await.unwrap();

    // sessions: 5 expiring, 3 revoked, 2 live
    for _ in 0..5 {
        let (_, h) = token();
        s.create_session(u, &h, SHORT, None, None).await.unwrap();
    }
    for _ in 0..3 {
        let (_, h) = token();
        s.create_session(u, &h, None, None, None).await.unwrap();
        assert!(s.revoke_session(&h).await.unwrap());
    }
    let mut live_sessions = Vec::new();
    for _ in 0..2 {
        let (_, h) = token();
        s.create_session(u, &h, None, None, None).await.unwrap();
        live_sessions.push(h);
    }

    // tokens: 3 used, 3 expiring, 2 live
    for _ in 0..3 {
        let (_, h) = token();
        s.create_token(u, &h, TokenType::MagicLink, None)
            .await
            .unwrap();
        assert!(
            s.consume_token(&h, TokenType::MagicLink)
                .await
                .unwrap()
                .is_some()
        );
    }
    for _ in 0..3 {
        let (_, h) = token();
        s.create_token(u, &h, TokenType::PasswordReset, SHORT)
            .await
            .unwrap();
    }
    let mut live_tokens = Vec::new();
    for _ in 0..2 {
        let (_, h) = token();
        s.create_token(u, &h, TokenType::PasswordReset, None)
            .await
            .unwrap();
        live_tokens.push(h);
    }

    // 4 attempts that will be past retention
    for i in 0..4 {
        s.record_login_attempt("clean@example.com", i % 2 == 0, None)
            .await
            .unwrap();
    }

    // rows of another namespace are never touched
    let other = elsewhere(&s);
    let ou = other.create_user("clean@example.com", None).await.unwrap();
    let (_, other_sess) = token();
    other
        .create_session(ou, &other_sess, SHORT, None, None)
        .await
        .unwrap();
    other
        .record_login_attempt("clean@example.com", false, None)
        .await
        .unwrap();

    tokio::time::sleep(Duration::from_millis(1200)).await;
    s.record_login_attempt("clean@example.com", false, None)
        .await
        .unwrap();

    let report = s.cleanup_expired().await.unwrap();
    assert_eq!(
        report,
        CleanupReport {
            sessions_deleted: 8,
            tokens_deleted: 6,
            attempts_deleted: 4
        }
    );

    for h in &live_sessions {
        assert!(
            s.validate_session(h).await.unwrap().is_some(),
            "live session kept"
        );
    }
    assert_eq!(s.list_sessions(u).await.unwrap().len(), 2);
    for h in &live_tokens {
        assert!(
            s.consume_token(h, TokenType::PasswordReset)
                .await
                .unwrap()
                .is_some(),
            "live token kept"
        );
    }
    let attempts = s
        .get_recent_attempts("clean@example.com", None)
        .await
        .unwrap();
    assert_eq!(attempts.len(), 1, "the fresh attempt is kept");
    assert!(!attempts[0].success);

    let ev = events_of(&s, "cleanup_completed").await;
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0].resource_type.as_deref(), Some("namespace"));
    assert_eq!(
        ev[0].resource_id.as_deref(),
        Some(s.current_namespace().as_str())
    );
    let nv = ev[0].new_values.as_ref().unwrap();
    assert_eq!(nv["sessions_deleted"], 8);
    assert_eq!(nv["tokens_deleted"], 6);
    assert_eq!(nv["attempts_deleted"], 4);

    // the other namespace still has its rows
    assert_eq!(
        other
            .get_recent_attempts("clean@example.com", None)
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(events_of(&other, "cleanup_completed").await.is_empty());

    // the two tokens just consumed are now "used": a second pass deletes
    // them, and nothing else
    let second = s.cleanup_expired().await.unwrap();
    assert_eq!(
        second,
        CleanupReport {
            sessions_deleted: 0,
            tokens_deleted: 2,
            attempts_deleted: 0
        }
    );
    let third = s.cleanup_expired().await.unwrap();
    assert_eq!(third, CleanupReport::default(), "nothing left to delete");
    let ev = events_of(&s, "cleanup_completed").await;
    assert_eq!(ev.len(), 3, "one summary event per run");
    assert_eq!(ev[0].new_values.as_ref().unwrap()["sessions_deleted"], 0);
    assert_eq!(ev[0].new_values.as_ref().unwrap()["tokens_deleted"], 0);
    assert_eq!(ev[0].new_values.as_ref().unwrap()["attempts_deleted"], 0);

    // the other namespace's dead rows go with its own cleanup
    let r = other.cleanup_expired().await.unwrap();
    assert_eq!((r.sessions_deleted, r.attempts_deleted), (1, 1));
}

/// Cleanup of an empty namespace reports zeros and still writes its summary event.
pub async fn cleanup_on_an_empty_namespace_returns_zeros<H: Harness>(h: &H) {
    let s = h.store().await;
    assert_eq!(s.cleanup_expired().await.unwrap(), CleanupReport::default());
    assert_eq!(events_of(&s, "cleanup_completed").await.len(), 1);
}

/// Cleanup never deletes attempts that still count toward a lockout.
pub async fn cleanup_never_ends_a_lockout_early<H: Harness>(h: &H) {
    // retention shorter than the lockout window: attempts inside the window stay
    let s = h
        .store_with(
            StorePolicy {
                attempt_retention: Duration::from_millis(200),
                ..StorePolicy::default()
            },
            4,
        )
        .await;
    for _ in 0..5 {
        s.record_login_attempt("locked@example.com", false, None)
            .await
            .unwrap();
    }
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(s.cleanup_expired().await.unwrap().attempts_deleted, 0);
    assert!(
        s.is_locked_out("locked@example.com", None, None)
            .await
            .unwrap()
    );
}

/// Cleanups running at once (several server nodes) delete each dead row
/// once between them, all of them in the end, and never a live one, while
/// the live sessions are validated beside them.
pub async fn parallel_cleanups_delete_each_dead_row_once<H: Harness>(h: &H) {
    let s = h
        .store_with(
            StorePolicy {
                cleanup_batch_size: 3,
                ..StorePolicy::default()
            },
            8,
        )
        .await;
    let u = s.create_user("race@example.com", None).await.unwrap();
    for _ in 0..40 {
        let (_, h) = token();
        s.create_session(u, &h, SHORT, None, None).await.unwrap();
    }
    let mut live = Vec::new();
    for _ in 0..10 {
        let (_, h) = token();
        s.create_session(u, &h, None, None, None).await.unwrap();
        live.push(h);
    }
    tokio::time::sleep(Duration::from_millis(400)).await;

    let cleanups: Vec<_> = (0..3)
        .map(|_| {
            let s = s.clone();
            tokio::spawn(async move { s.cleanup_expired().await.unwrap() })
        })
        .collect();
    let validations: Vec<_> = live
        .iter()
        .cloned()
        .map(|h| {
            let s = s.clone();
            tokio::spawn(async move { s.validate_session(&h).await.unwrap().is_some() })
        })
        .collect();
    let mut deleted = 0;
    for c in cleanups {
        deleted += c.await.unwrap().sessions_deleted;
    }
    for v in validations {
        assert!(v.await.unwrap(), "a live session validates during cleanup");
    }
    assert_eq!(deleted, 40, "each expired session deleted exactly once");
    assert_eq!(s.cleanup_expired().await.unwrap().sessions_deleted, 0);
    for h in &live {
        assert!(s.validate_session(h).await.unwrap().is_some());
    }
}

/// `get_stats` counts users, verified, disabled, active sessions and MFA users of the namespace.
pub async fn stats_count_the_namespace<H: Harness>(h: &H) {
    let s = h.store().await;
    let a = s.create_user("a@example.com", None).await.unwrap();
    let b = s.create_user("b@example.com", None).await.unwrap();
    let c = s.create_user("c@example.com", None).await.unwrap();
    s.create_user("d@example.com", None).await.unwrap();
    let gone = s.create_user("gone@example.com", None).await.unwrap();

    // a: verified, two MFA methods, 2 live + 1 revoked + 1 expired sessions
    let (_, v) = token();
    s.create_token(a, &v, TokenType::EmailVerify, None)
        .await
        .unwrap();
    assert!(s.verify_email(&v).await.unwrap().is_some());
    let totp = MfaSecret::parse("TOTP").unwrap();
    let codes = MfaSecret::parse("CODES").unwrap();
    s.add_mfa(a, MfaType::Totp, &totp, None).await.unwrap();
    s.add_mfa(a, MfaType::RecoveryCodes, &codes, None)
        .await
        .unwrap();
    for _ in 0..2 {
        let (_, h) = token();
        s.create_session(a, &h, None, None, None).await.unwrap();
    }
    let (_, revoked) = token();
    s.create_session(a, &revoked, None, None, None)
        .await
        .unwrap();
    assert!(s.revoke_session(&revoked).await.unwrap());
    let (_, expiring) = token();
    s.create_session(a, &expiring, Some(Duration::from_millis(100)), None, None)
        .await
        .unwrap();

    // b: one MFA method, one session
    s.add_mfa(b, MfaType::Webauthn, &totp, None).await.unwrap();
    let (_, hb) = token();
    s.create_session(b, &hb, None, None, None).await.unwrap();

    // c: disabled (its session is revoked by the disable)
    let (_, hc) = token();
    s.create_session(c, &hc, None, None, None).await.unwrap();
    assert!(s.disable_user(c).await.unwrap());

    // a deleted user counts nowhere
    s.add_mfa(gone, MfaType::Totp, &totp, None).await.unwrap();
    let (_, hg) = token();
    s.create_session(gone, &hg, None, None, None).await.unwrap();
    assert!(s.delete_user(gone).await.unwrap());

    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        s.get_stats().await.unwrap(),
        Stats {
            user_count: 4,
            verified_user_count: 1,
            disabled_user_count: 1,
            active_session_count: 3,
            mfa_enabled_user_count: 2,
        }
    );

    // an email change clears verification, and the stats follow
    assert!(s.update_email(a, "a2@example.com").await.unwrap());
    assert_eq!(s.get_stats().await.unwrap().verified_user_count, 0);

    let fresh = elsewhere(&s);
    assert_eq!(fresh.get_stats().await.unwrap(), Stats::default());
}
