//! Tenant isolation through the API: nothing of one namespace is visible
//! or changeable from another. (How a backend enforces it underneath, e.g.
//! PostgreSQL row-level security, is tested by the backend.)

use authn_core::store::{
    AuditStore, LoginAttemptStore, MaintenanceStore, MfaStore, SessionStore, TokenStore, UserStore,
};
use authn_core::{
    AuditEvent, AuditQuery, MfaReservation, MfaSecret, MfaType, NewSession, NewUser, ProfileUpdate,
    SessionUpgrade, StoreError, StorePolicy, TokenType,
};

use crate::Harness;
use crate::support::*;
/// Nothing of one namespace is visible or changeable from another, through any operation.
pub async fn nothing_of_one_namespace_is_visible_or_changeable_from_another<H: Harness>(h: &H) {
    let a = h.store().await;
    let b = elsewhere(&a);

    let uid = a
        .create_user("shared@example.com", Some(&phc("a")))
        .await
        .unwrap();
    let (_, sess) = token();
    let sid = a
        .create_session(uid, &sess, None, None, None)
        .await
        .unwrap();
    let (_, reset) = token();
    a.create_token(uid, &reset, TokenType::PasswordReset, None)
        .await
        .unwrap();
    let (_, verify) = token();
    a.create_token(uid, &verify, TokenType::EmailVerify, None)
        .await
        .unwrap();
    let secret = MfaSecret::parse("JBSWY3DPEHPK3PXP").unwrap();
    let mfa = a.add_mfa(uid, MfaType::Totp, &secret, None).await.unwrap();
    for _ in 0..5 {
        a.record_login_attempt("shared@example.com", false, None)
            .await
            .unwrap();
    }

    // reads from B see nothing
    assert!(b.get_user(uid).await.unwrap().is_none());
    assert!(
        b.get_user_by_email("shared@example.com")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        b.get_credentials("shared@example.com")
            .await
            .unwrap()
            .is_none()
    );
    assert!(b.list_users(None, None).await.unwrap().items.is_empty());
    assert!(b.validate_session(&sess).await.unwrap().is_none());
    assert!(b.list_sessions(uid).await.unwrap().is_empty());
    assert!(b.get_mfa(uid, MfaType::Totp).await.unwrap().is_empty());
    assert!(b.list_mfa(uid).await.unwrap().is_empty());
    assert!(!b.has_mfa(uid).await.unwrap());
    assert!(
        !b.is_locked_out("shared@example.com", None, None)
            .await
            .unwrap()
    );
    assert!(
        b.get_recent_attempts("shared@example.com", None)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        b.get_audit_events(&AuditQuery::default())
            .await
            .unwrap()
            .items
            .is_empty()
    );
    assert_eq!(b.get_stats().await.unwrap(), Default::default());

    // writes from B change nothing of A
    assert!(
        b.consume_token(&reset, TokenType::PasswordReset)
            .await
            .unwrap()
            .is_none()
    );
    assert!(b.verify_email(&verify).await.unwrap().is_none());
    assert_eq!(
        b.invalidate_tokens(uid, TokenType::PasswordReset)
            .await
            .unwrap(),
        0
    );
    assert!(b.extend_session(&sess, None).await.unwrap().is_none());
    assert!(!b.revoke_session(&sess).await.unwrap());
    assert!(!b.revoke_session_by_id(uid, sid).await.unwrap());
    assert_eq!(b.revoke_all_sessions(uid).await.unwrap(), 0);
    assert!(!b.update_email(uid, "stolen@example.com").await.unwrap());
    assert!(!b.update_password(uid, &phc("b")).await.unwrap());
    assert!(!b.disable_user(uid).await.unwrap());
    assert!(!b.enable_user(uid).await.unwrap());
    assert!(!b.record_mfa_use(mfa).await.unwrap());
    assert!(!b.remove_mfa(mfa).await.unwrap());
    assert_eq!(b.clear_attempts("shared@example.com").await.unwrap(), 0);
    assert!(!b.delete_user(uid).await.unwrap());
    let report = b.cleanup_expired().await.unwrap();
    assert_eq!(report, Default::default());
    // B cannot attach rows to A's user
    let (_, h) = token();
    assert!(matches!(
        b.create_session(uid, &h, None, None, None).await,
        Err(StoreError::NotFound { entity: "user" })
    ));
    assert!(matches!(
        b.create_token(uid, &h, TokenType::MagicLink, None).await,
        Err(StoreError::NotFound { entity: "user" })
    ));
    assert!(matches!(
        b.add_mfa(uid, MfaType::Totp, &secret, None).await,
        Err(StoreError::NotFound { entity: "user" })
    ));

    // A is intact
    let u = a.get_user(uid).await.unwrap().unwrap();
    assert_eq!(u.email.as_str(), "shared@example.com");
    assert!(u.disabled_at.is_none());
    assert!(a.validate_session(&sess).await.unwrap().is_some());
    assert!(a.has_mfa(uid).await.unwrap());
    assert!(
        a.is_locked_out("shared@example.com", None, None)
            .await
            .unwrap()
    );
    assert!(
        a.consume_token(&reset, TokenType::PasswordReset)
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(
        a.get_credentials("shared@example.com")
            .await
            .unwrap()
            .unwrap()
            .password_hash,
        Some(phc("a"))
    );

    // the same address is a different user in B
    let buid = b.create_user("shared@example.com", None).await.unwrap();
    assert_ne!(buid, uid);
    assert_eq!(b.get_stats().await.unwrap().user_count, 1);
}

/// Every audit event of a handle's namespace, newest first.
async fn all_events<S: AuditStore>(s: &S) -> Vec<AuditEvent> {
    s.get_audit_events(&AuditQuery {
        limit: Some(1000),
        ..Default::default()
    })
    .await
    .unwrap()
    .items
}

fn upgrade() -> SessionUpgrade {
    SessionUpgrade {
        add_amr: vec!["otp".to_owned()],
        acr: Some("aal2".to_owned()),
    }
}

/// Profiles and sessions (rotation, step-up, second-factor attempts, revoking the others) cannot be reached from another namespace.
///
/// Called from B with A's user ids, session ids and token hashes,
/// `update_profile`, `rotate_session`, `step_up_session`,
/// `reserve_session_mfa_attempt`, `finish_session_mfa_attempt` and
/// `revoke_other_sessions` find nothing (false, `None`, `NoSession`, 0),
/// change nothing of A and audit nothing anywhere.
pub async fn profiles_and_sessions_are_out_of_reach_of_another_namespace<H: Harness>(h: &H) {
    let a = h.store().await;
    let b = elsewhere(&a);
    let uid = a
        .create_user_with(&NewUser {
            email: "alice@example.com".to_owned(),
            name: Some("Alice".to_owned()),
            ..NewUser::default()
        })
        .await
        .unwrap();
    let (_, full) = token();
    let keep = a
        .create_session_with(&NewSession {
            amr: vec!["pwd".to_owned()],
            ..NewSession::new(uid, full.clone())
        })
        .await
        .unwrap();
    let (_, part) = token();
    a.create_session_with(&NewSession {
        partial: true,
        amr: vec!["pwd".to_owned()],
        ..NewSession::new(uid, part.clone())
    })
    .await
    .unwrap();
    let (_, other) = token();
    a.create_session(uid, &other, None, None, None)
        .await
        .unwrap();
    assert_eq!(
        a.reserve_session_mfa_attempt(&part, 5).await.unwrap(),
        MfaReservation::Reserved
    );
    let a_events = all_events(&a).await.len();

    // profile
    assert!(
        !b.update_profile(
            uid,
            &ProfileUpdate {
                name: Some(Some("Mallory".to_owned())),
                email_verified: Some(true),
            }
        )
        .await
        .unwrap()
    );
    // rotation and step-up
    let (_, new) = token();
    assert_eq!(
        b.rotate_session(&part, &new, &upgrade()).await.unwrap(),
        None
    );
    assert_eq!(
        b.rotate_session(&full, &new, &upgrade()).await.unwrap(),
        None
    );
    assert_eq!(b.step_up_session(&full, &upgrade()).await.unwrap(), None);
    // second-factor attempts on A's session (A holds one slot): none taken, none counted
    for _ in 0..3 {
        assert_eq!(
            b.reserve_session_mfa_attempt(&part, 5).await.unwrap(),
            MfaReservation::NoSession
        );
        assert!(!b.finish_session_mfa_attempt(&part, false, 5).await.unwrap());
    }
    // revoking A's other sessions
    assert_eq!(b.revoke_other_sessions(uid, keep).await.unwrap(), 0);

    // B saw nothing and wrote nothing
    assert!(b.validate_session(&new).await.unwrap().is_none());
    assert!(all_events(&b).await.is_empty(), "nothing audited in B");
    // A is intact
    assert_eq!(all_events(&a).await.len(), a_events, "nothing audited in A");
    let u = a.get_user(uid).await.unwrap().unwrap();
    assert_eq!(u.name.as_deref(), Some("Alice"));
    assert!(u.email_verified_at.is_none());
    assert!(a.validate_session(&new).await.unwrap().is_none());
    let p = a.validate_session(&part).await.unwrap().unwrap();
    assert!(p.partial && p.mfa_at.is_none());
    let f = a.validate_session(&full).await.unwrap().unwrap();
    assert_eq!(
        (f.amr.as_slice(), f.mfa_at),
        (["pwd".to_owned()].as_slice(), None)
    );
    assert!(a.validate_session(&other).await.unwrap().is_some());
    assert_eq!(a.list_sessions(uid).await.unwrap().len(), 3);
    // B's reservations took none of A's slots (A holds 1 of 2)...
    assert_eq!(
        a.reserve_session_mfa_attempt(&part, 2).await.unwrap(),
        MfaReservation::Reserved
    );
    assert_eq!(
        a.reserve_session_mfa_attempt(&part, 2).await.unwrap(),
        MfaReservation::Exhausted
    );
    // ...and B's right codes give none back
    for _ in 0..3 {
        assert!(!b.finish_session_mfa_attempt(&part, true, 5).await.unwrap());
    }
    assert_eq!(
        a.reserve_session_mfa_attempt(&part, 2).await.unwrap(),
        MfaReservation::Exhausted
    );
    // B's wrong codes were not counted: A's fifth wrong code revokes, not its second
    for i in 1..=5 {
        assert_eq!(
            a.finish_session_mfa_attempt(&part, false, 5).await.unwrap(),
            i == 5,
            "wrong code {i} of A"
        );
    }
    // A's own calls work
    assert!(
        a.rotate_session(&full, &new, &upgrade())
            .await
            .unwrap()
            .is_some()
    );
}

/// MFA enrollment, TOTP steps and recovery codes cannot be reached from another namespace.
///
/// Called from B with A's user and method ids and code hashes:
/// `add_pending_mfa` and `replace_recovery_codes` are `NotFound(user)`;
/// `confirm_mfa`, `accept_totp_step`, `consume_recovery_code` find nothing
/// (false); `remove_all_mfa` removes 0. A's methods, steps and codes are
/// intact and nothing is audited anywhere.
pub async fn mfa_methods_are_out_of_reach_of_another_namespace<H: Harness>(h: &H) {
    let a = h.store().await;
    let b = elsewhere(&a);
    let uid = a.create_user("mfa@example.com", None).await.unwrap();
    let pending = a
        .add_pending_mfa(uid, MfaType::Webauthn, &secret("A-WEBAUTHN"), None)
        .await
        .unwrap();
    let totp = a
        .add_pending_mfa(uid, MfaType::Totp, &secret("A-TOTP"), None)
        .await
        .unwrap();
    let step = 58_000_400u64;
    assert!(a.confirm_mfa(totp, Some(step)).await.unwrap());
    let set: Vec<MfaSecret> = (0..4).map(|i| secret(&format!("a-code-{i}"))).collect();
    a.replace_recovery_codes(uid, &set).await.unwrap();
    let a_events = all_events(&a).await.len();

    assert!(matches!(
        b.add_pending_mfa(uid, MfaType::Totp, &secret("B-TOTP"), None)
            .await,
        Err(StoreError::NotFound { entity: "user" })
    ));
    assert!(!b.confirm_mfa(pending, None).await.unwrap());
    assert!(!b.confirm_mfa(pending, Some(step + 10)).await.unwrap());
    assert!(!b.accept_totp_step(totp, step + 1).await.unwrap());
    assert!(matches!(
        b.replace_recovery_codes(uid, &[secret("b-code")]).await,
        Err(StoreError::NotFound { entity: "user" })
    ));
    assert!(matches!(
        b.replace_recovery_codes(uid, &[]).await,
        Err(StoreError::NotFound { entity: "user" })
    ));
    for c in &set {
        assert!(!b.consume_recovery_code(uid, c).await.unwrap());
    }
    assert_eq!(b.remove_all_mfa(uid).await.unwrap(), 0);

    assert!(all_events(&b).await.is_empty(), "nothing audited in B");
    assert!(b.list_mfa(uid).await.unwrap().is_empty());
    assert_eq!(all_events(&a).await.len(), a_events, "nothing audited in A");
    let listed = a.list_mfa(uid).await.unwrap();
    assert_eq!(listed.len(), 2 + set.len(), "A's methods all there");
    let wa = listed.iter().find(|m| m.id == pending).unwrap();
    assert!(!wa.confirmed, "still pending");
    assert_eq!(
        a.get_mfa(uid, MfaType::Totp).await.unwrap()[0]
            .secret
            .expose(),
        "A-TOTP",
        "no pending TOTP from B replaced anything"
    );
    // the step B submitted was not burnt; A's codes all still work once
    assert!(a.accept_totp_step(totp, step + 1).await.unwrap());
    for c in &set {
        assert!(a.consume_recovery_code(uid, c).await.unwrap());
    }
    assert!(a.confirm_mfa(pending, None).await.unwrap());
}

/// Attempt permits of one namespace cannot be finished or cancelled from another, and second-factor limits are per namespace.
///
/// A's password and second-factor permits are `NotFound(login_attempt)`
/// when finished from B and not there when cancelled from B (false); they
/// stay open in A. `begin_mfa_attempt` counts per namespace: B locking a
/// user id's second factor in B does not lock A's user.
pub async fn attempt_permits_are_out_of_reach_of_another_namespace<H: Harness>(h: &H) {
    let policy = StorePolicy {
        mfa_max_attempts: 2,
        ..StorePolicy::default()
    };
    let a = h.store_with(policy, 4).await;
    let b = elsewhere(&a);
    let uid = a.create_user("permit@example.com", None).await.unwrap();
    let pwd = a
        .begin_login_attempt("permit@example.com", None)
        .await
        .unwrap();
    let mfa = a.begin_mfa_attempt(uid, None).await.unwrap();
    let a_events = all_events(&a).await.len();

    for p in [&pwd, &mfa] {
        for success in [false, true] {
            assert!(matches!(
                b.finish_login_attempt(p, success).await,
                Err(StoreError::NotFound {
                    entity: "login_attempt"
                })
            ));
        }
        assert!(!b.cancel_login_attempt(p).await.unwrap());
    }
    // B's second-factor attempts on the same user id count in B only
    for _ in 0..2 {
        let p = b.begin_mfa_attempt(uid, None).await.unwrap();
        b.finish_login_attempt(&p, false).await.unwrap();
    }
    assert!(matches!(
        b.begin_mfa_attempt(uid, None).await,
        Err(StoreError::Locked { .. })
    ));
    assert!(
        all_events(&a).await.len() == a_events,
        "nothing audited in A"
    );
    assert!(
        all_events(&b)
            .await
            .iter()
            .all(|e| e.event_type.starts_with("mfa_")),
        "B audits only its own second-factor failures"
    );

    // A's permits are still open and A's user is not locked by B's failures
    let o = a.finish_login_attempt(&pwd, false).await.unwrap();
    assert_eq!(o.failures_in_window, 1);
    let o = a.finish_login_attempt(&mfa, false).await.unwrap();
    assert_eq!((o.failures_in_window, o.locked_out), (1, false));
    let p = a.begin_mfa_attempt(uid, None).await.unwrap();
    assert!(a.cancel_login_attempt(&p).await.unwrap());
    assert!(
        b.get_recent_attempts("permit@example.com", None)
            .await
            .unwrap()
            .is_empty()
    );
}
