//! UserStore against a real PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use authn_core::store::{SessionStore, TokenStore, UserStore};
use authn_core::{StoreError, TokenType};
use common::*;

#[tokio::test]
async fn create_and_get_user_normalises_email_and_hides_the_hash() {
    let s = store().await;
    let id = s
        .create_user("  Alice@Example.COM ", Some(&phc("a")))
        .await
        .unwrap();
    let u = s.get_user(id).await.unwrap().unwrap();
    assert_eq!(u.id, id);
    assert_eq!(u.email.as_str(), "alice@example.com");
    assert!(u.email_verified_at.is_none() && u.disabled_at.is_none());
    assert_eq!(u.created_at, u.updated_at);
    let by_email = s
        .get_user_by_email("ALICE@example.com")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(by_email, u);
    assert!(
        s.get_user(authn_core::UserId::new())
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        s.get_user_by_email("nobody@example.com")
            .await
            .unwrap()
            .is_none()
    );
    assert_invalid(s.get_user_by_email("not-an-email").await, "email");
}

#[tokio::test]
async fn duplicate_email_is_a_typed_error_whatever_the_case() {
    let s = store().await;
    s.create_user("bob@example.com", None).await.unwrap();
    match s.create_user(" BOB@example.com", None).await {
        Err(StoreError::AlreadyExists { field }) => assert_eq!(field, "email"),
        other => panic!("expected AlreadyExists(email), got {other:?}"),
    }
    let msg = s
        .create_user("bob@example.com", None)
        .await
        .unwrap_err()
        .to_string();
    assert_eq!(msg, "email already exists", "no driver text in the message");
}

#[tokio::test]
async fn create_user_rejects_bad_emails() {
    let s = store().await;
    let long = format!("{}@example.com", "a".repeat(1020));
    for bad in [
        "",
        "   ",
        "no-at-sign",
        "a@",
        "@b",
        "a b@c.d",
        "a\u{7}@b.c",
        long.as_str(),
    ] {
        assert_invalid(s.create_user(bad, None).await, "email");
    }
}

#[tokio::test]
async fn update_email_clears_verification_and_refuses_taken_addresses() {
    let s = store().await;
    let a = s.create_user("a@example.com", None).await.unwrap();
    s.create_user("taken@example.com", None).await.unwrap();
    // verify a's address first
    let (_, h) = token();
    s.create_token(a, &h, TokenType::EmailVerify, None)
        .await
        .unwrap();
    assert!(s.verify_email(&h).await.unwrap().is_some());
    assert!(
        s.get_user(a)
            .await
            .unwrap()
            .unwrap()
            .email_verified_at
            .is_some()
    );

    // same address: a no-op that keeps verification
    assert!(s.update_email(a, "A@example.com").await.unwrap());
    assert!(
        s.get_user(a)
            .await
            .unwrap()
            .unwrap()
            .email_verified_at
            .is_some()
    );

    assert!(s.update_email(a, "new@example.com").await.unwrap());
    let u = s.get_user(a).await.unwrap().unwrap();
    assert_eq!(u.email.as_str(), "new@example.com");
    assert!(u.email_verified_at.is_none());
    assert!(u.updated_at > u.created_at);

    assert!(matches!(
        s.update_email(a, "TAKEN@example.com").await,
        Err(StoreError::AlreadyExists { field: "email" })
    ));
    assert_invalid(s.update_email(a, "nope").await, "new_email");
    assert!(
        !s.update_email(authn_core::UserId::new(), "x@example.com")
            .await
            .unwrap()
    );
    let ev = events_of(&s, "user_email_updated").await;
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0].old_values.as_ref().unwrap()["email"], "a@example.com");
    assert_eq!(
        ev[0].new_values.as_ref().unwrap()["email"],
        "new@example.com"
    );
}

#[tokio::test]
async fn disable_kills_sessions_and_tokens_for_good_and_enable_is_a_transition() {
    let s = store().await;
    let id = s
        .create_user("d@example.com", Some(&phc("d")))
        .await
        .unwrap();
    let (_, sess) = token();
    s.create_session(id, &sess, None, None, None).await.unwrap();
    let (_, reset) = token();
    s.create_token(id, &reset, TokenType::PasswordReset, None)
        .await
        .unwrap();

    assert!(s.disable_user(id).await.unwrap());
    assert!(
        !s.disable_user(id).await.unwrap(),
        "true only on the transition"
    );
    assert!(s.get_user(id).await.unwrap().unwrap().disabled_at.is_some());
    assert!(s.validate_session(&sess).await.unwrap().is_none());
    assert!(s.list_sessions(id).await.unwrap().is_empty());
    assert!(s.extend_session(&sess, None).await.unwrap().is_none());
    let (_, new_sess) = token();
    assert!(matches!(
        s.create_session(id, &new_sess, None, None, None).await,
        Err(StoreError::UserDisabled)
    ));
    let (_, new_tok) = token();
    assert!(matches!(
        s.create_token(id, &new_tok, TokenType::MagicLink, None)
            .await,
        Err(StoreError::UserDisabled)
    ));
    let creds = s.get_credentials("d@example.com").await.unwrap().unwrap();
    assert!(creds.disabled_at.is_some());

    assert!(s.enable_user(id).await.unwrap());
    assert!(!s.enable_user(id).await.unwrap());
    // nothing issued before the disable works after the enable
    assert!(s.validate_session(&sess).await.unwrap().is_none());
    assert!(
        s.consume_token(&reset, TokenType::PasswordReset)
            .await
            .unwrap()
            .is_none()
    );
    let ev = events_of(&s, "user_disabled").await;
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0].new_values.as_ref().unwrap()["sessions_revoked"], 1);
    assert_eq!(ev[0].new_values.as_ref().unwrap()["tokens_invalidated"], 1);
    assert_eq!(events_of(&s, "user_enabled").await.len(), 1);
    assert!(!s.disable_user(authn_core::UserId::new()).await.unwrap());
}

#[tokio::test]
async fn delete_user_removes_dependents_but_keeps_audit() {
    use authn_core::store::{AuditStore, LoginAttemptStore, MfaStore};
    let s = store().await;
    let id = s.create_user("gone@example.com", None).await.unwrap();
    let (_, sess) = token();
    s.create_session(id, &sess, None, None, None).await.unwrap();
    let (_, tok) = token();
    s.create_token(id, &tok, TokenType::MagicLink, None)
        .await
        .unwrap();
    let secret = authn_core::MfaSecret::parse("JBSWY3DPEHPK3PXP").unwrap();
    s.add_mfa(id, authn_core::MfaType::Totp, &secret, None)
        .await
        .unwrap();
    s.record_login_attempt("gone@example.com", false, None)
        .await
        .unwrap();

    assert!(s.delete_user(id).await.unwrap());
    assert!(!s.delete_user(id).await.unwrap());
    assert!(s.get_user(id).await.unwrap().is_none());
    assert!(s.validate_session(&sess).await.unwrap().is_none());
    assert!(
        s.consume_token(&tok, TokenType::MagicLink)
            .await
            .unwrap()
            .is_none()
    );
    assert!(!s.has_mfa(id).await.unwrap());
    assert_eq!(
        s.get_recent_attempts("gone@example.com", None)
            .await
            .unwrap()
            .len(),
        1
    );
    let audit = s
        .get_audit_events(&authn_core::AuditQuery {
            resource_type: Some("user".into()),
            resource_id: Some(id.to_string()),
            ..Default::default()
        })
        .await
        .unwrap();
    let kinds: Vec<_> = audit.items.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(kinds, ["user_deleted", "user_created"]);
    // the address can be used again
    s.create_user("gone@example.com", None).await.unwrap();
}

#[tokio::test]
async fn list_users_pages_by_keyset_in_creation_order() {
    let s = store().await;
    let mut ids = Vec::new();
    for i in 0..25 {
        ids.push(
            s.create_user(&format!("u{i}@example.com"), None)
                .await
                .unwrap(),
        );
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = Vec::new();
    loop {
        let page = s.list_users(Some(10), cursor.as_deref()).await.unwrap();
        pages.push(page.items.len());
        seen.extend(page.items.iter().map(|u| u.id));
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(pages, [10, 10, 5]);
    assert_eq!(seen, ids, "creation order, no duplicates, none missing");

    assert_eq!(
        s.list_users(None, None).await.unwrap().items.len(),
        25,
        "default 100"
    );
    let exact = s.list_users(Some(25), None).await.unwrap();
    assert_eq!((exact.items.len(), exact.next_cursor), (25, None));
    assert_eq!(
        s.list_users(Some(1_000_000), None)
            .await
            .unwrap()
            .items
            .len(),
        25,
        "clamped"
    );
    assert_invalid(s.list_users(Some(0), None).await, "limit");
    assert_invalid(s.list_users(None, Some("garbage")).await, "cursor");
}

#[tokio::test]
async fn credentials_and_password_update() {
    let s = store().await;
    let id = s
        .create_user("c@example.com", Some(&phc("old")))
        .await
        .unwrap();
    let sso = s.create_user("sso@example.com", None).await.unwrap();
    let creds = s.get_credentials("C@example.com").await.unwrap().unwrap();
    assert_eq!(creds.user_id, id);
    assert_eq!(creds.password_hash, Some(phc("old")));
    assert!(creds.disabled_at.is_none());
    assert!(
        format!("{creds:?}").contains("<redacted>"),
        "Debug hides the hash"
    );
    let sso_creds = s.get_credentials("sso@example.com").await.unwrap().unwrap();
    assert_eq!((sso_creds.user_id, sso_creds.password_hash), (sso, None));
    assert!(
        s.get_credentials("none@example.com")
            .await
            .unwrap()
            .is_none()
    );

    assert!(s.update_password(id, &phc("new")).await.unwrap());
    assert_eq!(
        s.get_credentials("c@example.com")
            .await
            .unwrap()
            .unwrap()
            .password_hash,
        Some(phc("new"))
    );
    assert!(
        !s.update_password(authn_core::UserId::new(), &phc("x"))
            .await
            .unwrap()
    );
    let ev = events_of(&s, "password_updated").await;
    assert_eq!(ev.len(), 1);
    assert!(
        ev[0].old_values.is_none() && ev[0].new_values.is_none(),
        "no hash in audit"
    );
}
