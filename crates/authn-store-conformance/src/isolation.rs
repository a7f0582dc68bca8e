//! Tenant isolation through the API: nothing of one namespace is visible
//! or changeable from another. (How a backend enforces it underneath, e.g.
//! PostgreSQL row-level security, is tested by the backend.)

use authn_core::store::{
    AuditStore, LoginAttemptStore, MaintenanceStore, MfaStore, SessionStore, TokenStore, UserStore,
};
use authn_core::{AuditQuery, MfaSecret, MfaType, StoreError, TokenType};

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
