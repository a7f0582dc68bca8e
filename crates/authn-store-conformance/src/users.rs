//! Users (`UserStore`): creation with normalised, unique emails, profiles,
//! email and password changes, disable/enable, deletion and keyset listing.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use authn_core::store::{
    AuditStore, LoginAttemptStore, MfaStore, SessionStore, TokenStore, UserStore,
};
use authn_core::{
    MfaReservation, NewSession, NewUser, ProfileUpdate, SessionUpgrade, StoreError, StorePolicy,
    TokenHash, TokenType, UserId,
};
use tokio::sync::Barrier;

use crate::Harness;
use crate::support::*;
/// Emails are normalised on create and lookup; reads return no password hash.
pub async fn create_and_get_user_normalises_email_and_hides_the_hash<H: Harness>(h: &H) {
    let s = h.store().await;
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

/// A duplicate email, whatever its case, is `AlreadyExists(email)` with no driver text.
pub async fn duplicate_email_is_a_typed_error_whatever_the_case<H: Harness>(h: &H) {
    let s = h.store().await;
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

/// Malformed emails are `InvalidInput(email)`.
pub async fn create_user_rejects_bad_emails<H: Harness>(h: &H) {
    let s = h.store().await;
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

/// `update_email` clears verification, refuses taken addresses and audits old and new.
pub async fn update_email_clears_verification_and_refuses_taken_addresses<H: Harness>(h: &H) {
    let s = h.store().await;
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

/// Disabling kills sessions and tokens for good; disable and enable are transitions.
pub async fn disable_kills_sessions_and_tokens_for_good_and_enable_is_a_transition<H: Harness>(
    h: &H,
) {
    let s = h.store().await;
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

/// Deleting a user removes sessions, tokens and MFA but keeps audit and attempts.
pub async fn delete_user_removes_dependents_but_keeps_audit<H: Harness>(h: &H) {
    let s = h.store().await;
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

/// `list_users` pages by keyset in creation order, with default, clamped and invalid limits.
pub async fn list_users_pages_by_keyset_in_creation_order<H: Harness>(h: &H) {
    let s = h.store().await;
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

/// `get_credentials` is the only read with the hash; `update_password` replaces it unaudited in values.
pub async fn credentials_and_password_update<H: Harness>(h: &H) {
    let s = h.store().await;
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

fn new_user(email: &str, name: Option<&str>, email_verified: bool) -> NewUser {
    NewUser {
        email: email.to_owned(),
        password_hash: None,
        name: name.map(str::to_owned),
        email_verified,
    }
}

fn set_name(name: Option<&str>) -> ProfileUpdate {
    ProfileUpdate {
        name: Some(name.map(str::to_owned)),
        email_verified: None,
    }
}

fn set_verified(v: bool) -> ProfileUpdate {
    ProfileUpdate {
        name: None,
        email_verified: Some(v),
    }
}

/// `create_user_with` stores the trimmed name and the verification.
pub async fn create_user_with_stores_the_name_and_verification<H: Harness>(h: &H) {
    let s = h.store().await;
    let id = s
        .create_user_with(&NewUser {
            password_hash: Some(phc("alice")),
            ..new_user("  Alice@Example.com ", Some("  Alice Liddell  "), false)
        })
        .await
        .unwrap();
    let u = s.get_user(id).await.unwrap().unwrap();
    assert_eq!(u.email.as_str(), "alice@example.com");
    assert_eq!(u.name.as_deref(), Some("Alice Liddell"), "trimmed");
    assert_eq!(u.email_verified_at, None);
    let creds = s
        .get_credentials("alice@example.com")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(creds.user_id, id);
    assert_eq!(creds.password_hash, Some(phc("alice")));

    // admin creation: already verified, no password
    let v = s
        .create_user_with(&new_user("bob@example.com", Some("Bob"), true))
        .await
        .unwrap();
    let u = s.get_user(v).await.unwrap().unwrap();
    let at = u
        .email_verified_at
        .expect("email_verified sets email_verified_at");
    assert!((at - u.created_at).num_seconds().abs() <= 1);
    assert!(
        s.get_credentials("bob@example.com")
            .await
            .unwrap()
            .unwrap()
            .password_hash
            .is_none()
    );

    // an empty (blank) name is no name
    let e = s
        .create_user_with(&new_user("carol@example.com", Some("   "), false))
        .await
        .unwrap();
    assert_eq!(s.get_user(e).await.unwrap().unwrap().name, None);

    // the longest name fits; non-ASCII counted in bytes
    let longest = "é".repeat(128);
    let l = s
        .create_user_with(&new_user("dave@example.com", Some(&longest), false))
        .await
        .unwrap();
    assert_eq!(s.get_user(l).await.unwrap().unwrap().name, Some(longest));

    // the plain create_user: no name, not verified
    let p = s.create_user("plain@example.com", None).await.unwrap();
    let u = s.get_user(p).await.unwrap().unwrap();
    assert_eq!((u.name, u.email_verified_at), (None, None));

    let ev = events_of(&s, "user_created").await;
    assert_eq!(ev.len(), 5);
    let bob = ev
        .iter()
        .find(|e| e.resource_id.as_deref() == Some(v.to_string().as_str()))
        .unwrap();
    let nv = bob.new_values.as_ref().unwrap();
    assert_eq!(nv["name"], "Bob");
    assert_eq!(nv["email_verified"], true);
    let text = serde_json::to_string(&ev).unwrap();
    assert!(
        !text.contains("c2FsdHNhbHQ"),
        "no password hash in the audit"
    );
}

/// `create_user_with` refuses bad names, bad emails and duplicates, storing nothing.
pub async fn create_user_with_refuses_bad_input_and_duplicates<H: Harness>(h: &H) {
    let s = h.store().await;
    assert_invalid(
        s.create_user_with(&new_user("n@example.com", Some(&"x".repeat(257)), false))
            .await,
        "name",
    );
    // 129 two-byte characters: 258 bytes
    assert_invalid(
        s.create_user_with(&new_user("n@example.com", Some(&"é".repeat(129)), false))
            .await,
        "name",
    );
    assert_invalid(
        s.create_user_with(&new_user("n@example.com", Some("Eve\u{7}"), false))
            .await,
        "name",
    );
    assert_invalid(
        s.create_user_with(&new_user("not-an-email", Some("N"), false))
            .await,
        "email",
    );
    assert!(
        s.get_user_by_email("n@example.com")
            .await
            .unwrap()
            .is_none(),
        "nothing was created"
    );
    assert!(events_of(&s, "user_created").await.is_empty());

    s.create_user_with(&new_user("dup@example.com", Some("First"), false))
        .await
        .unwrap();
    assert!(matches!(
        s.create_user_with(&new_user("DUP@example.com", Some("Second"), true))
            .await,
        Err(StoreError::AlreadyExists { field: "email" })
    ));
    assert!(matches!(
        s.create_user("dup@example.com", None).await,
        Err(StoreError::AlreadyExists { field: "email" })
    ));
    let u = s
        .get_user_by_email("dup@example.com")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(u.name.as_deref(), Some("First"));
    assert_eq!(u.email_verified_at, None);
}

/// `update_profile` sets and clears the name and audits each real change.
pub async fn update_profile_sets_and_clears_the_name<H: Harness>(h: &H) {
    let s = h.store().await;
    let id = s.create_user("p@example.com", None).await.unwrap();
    let before = s.get_user(id).await.unwrap().unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;

    assert!(
        s.update_profile(id, &set_name(Some("  Pat  ")))
            .await
            .unwrap()
    );
    let u = s.get_user(id).await.unwrap().unwrap();
    assert_eq!(u.name.as_deref(), Some("Pat"));
    assert!(u.updated_at > before.updated_at);
    assert_eq!(u.email_verified_at, None, "verification left alone");

    assert!(s.update_profile(id, &set_name(None)).await.unwrap());
    assert_eq!(s.get_user(id).await.unwrap().unwrap().name, None);
    // a blank name clears it too (no change now: already cleared)
    assert!(s.update_profile(id, &set_name(Some("  "))).await.unwrap());
    assert_eq!(s.get_user(id).await.unwrap().unwrap().name, None);

    let ev = events_of(&s, "user_profile_updated").await;
    assert_eq!(ev.len(), 2, "two changes, one no-op");
    // newest first
    assert_eq!(ev[1].resource_id.as_deref(), Some(id.to_string().as_str()));
    assert_eq!(
        ev[1].old_values.as_ref().unwrap()["name"],
        serde_json::Value::Null
    );
    assert_eq!(ev[1].new_values.as_ref().unwrap()["name"], "Pat");
    assert_eq!(ev[0].old_values.as_ref().unwrap()["name"], "Pat");
    assert_eq!(
        ev[0].new_values.as_ref().unwrap()["name"],
        serde_json::Value::Null
    );
}

/// `update_profile` toggles verification without touching the name.
pub async fn update_profile_toggles_verification<H: Harness>(h: &H) {
    let s = h.store().await;
    let id = s.create_user("ver@example.com", None).await.unwrap();

    assert!(s.update_profile(id, &set_verified(true)).await.unwrap());
    let at = s
        .get_user(id)
        .await
        .unwrap()
        .unwrap()
        .email_verified_at
        .expect("verified");
    // verifying again changes nothing, not even the time
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(s.update_profile(id, &set_verified(true)).await.unwrap());
    assert_eq!(
        s.get_user(id).await.unwrap().unwrap().email_verified_at,
        Some(at)
    );
    assert!(s.update_profile(id, &set_verified(false)).await.unwrap());
    assert_eq!(
        s.get_user(id).await.unwrap().unwrap().email_verified_at,
        None
    );

    let ev = events_of(&s, "user_profile_updated").await;
    assert_eq!(ev.len(), 2);
    assert_eq!(ev[1].old_values.as_ref().unwrap()["email_verified"], false);
    assert_eq!(ev[1].new_values.as_ref().unwrap()["email_verified"], true);
    assert_eq!(ev[0].old_values.as_ref().unwrap()["email_verified"], true);
    assert_eq!(ev[0].new_values.as_ref().unwrap()["email_verified"], false);

    // both at once, name untouched by a verification-only change
    assert!(
        s.update_profile(
            id,
            &ProfileUpdate {
                name: Some(Some("Vera".to_owned())),
                email_verified: Some(true),
            }
        )
        .await
        .unwrap()
    );
    let u = s.get_user(id).await.unwrap().unwrap();
    assert_eq!(u.name.as_deref(), Some("Vera"));
    assert!(u.email_verified_at.is_some());
    assert!(s.update_profile(id, &set_verified(false)).await.unwrap());
    assert_eq!(
        s.get_user(id).await.unwrap().unwrap().name.as_deref(),
        Some("Vera")
    );
    assert_eq!(events_of(&s, "user_profile_updated").await.len(), 4);
}

/// A profile update that changes nothing writes no audit and keeps `updated_at`.
pub async fn a_no_op_update_writes_no_audit<H: Harness>(h: &H) {
    let s = h.store().await;
    let id = s
        .create_user_with(&new_user("noop@example.com", Some("Nora"), true))
        .await
        .unwrap();
    let before = s.get_user(id).await.unwrap().unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(
        s.update_profile(id, &ProfileUpdate::default())
            .await
            .unwrap()
    );
    assert!(s.update_profile(id, &set_name(Some("Nora"))).await.unwrap());
    assert!(
        s.update_profile(id, &set_name(Some(" Nora ")))
            .await
            .unwrap()
    );
    assert!(s.update_profile(id, &set_verified(true)).await.unwrap());
    assert!(events_of(&s, "user_profile_updated").await.is_empty());
    assert_eq!(
        s.get_user(id).await.unwrap().unwrap(),
        before,
        "nothing changed, updated_at included"
    );
}

/// `update_profile` of an unknown or foreign user is false; a bad name is `InvalidInput`.
pub async fn update_profile_of_an_unknown_user_or_with_a_bad_name<H: Harness>(h: &H) {
    let s = h.store().await;
    assert!(
        !s.update_profile(UserId::new(), &set_name(Some("Ghost")))
            .await
            .unwrap()
    );
    assert!(
        !s.update_profile(UserId::new(), &ProfileUpdate::default())
            .await
            .unwrap()
    );
    let id = s
        .create_user_with(&new_user("bad@example.com", Some("Good"), false))
        .await
        .unwrap();
    assert_invalid(
        s.update_profile(id, &set_name(Some(&"x".repeat(257))))
            .await,
        "name",
    );
    assert_invalid(
        s.update_profile(id, &set_name(Some("line\nbreak"))).await,
        "name",
    );
    assert_eq!(
        s.get_user(id).await.unwrap().unwrap().name.as_deref(),
        Some("Good")
    );
    // a user of another namespace is unknown here
    let other = elsewhere(&s);
    assert!(
        !other
            .update_profile(id, &set_name(Some("X")))
            .await
            .unwrap()
    );
    assert_eq!(
        s.get_user(id).await.unwrap().unwrap().name.as_deref(),
        Some("Good")
    );
    assert!(events_of(&s, "user_profile_updated").await.is_empty());
}

/// Asserts nothing of a disabled (or disabled then re-enabled) user works:
/// no session listed, and none of `sessions` validates, extends, rotates,
/// steps up or reserves a second-factor attempt; none of `tokens` consumes.
async fn assert_nothing_usable<S: UserStore + SessionStore + TokenStore>(
    s: &S,
    uid: UserId,
    sessions: &[TokenHash],
    tokens: &[(TokenHash, TokenType)],
    when: &str,
) {
    let listed = s.list_sessions(uid).await.unwrap();
    assert!(listed.is_empty(), "{when}: active sessions {listed:?}");
    let upgrade = SessionUpgrade {
        add_amr: vec!["otp".to_owned()],
        acr: Some("aal2".to_owned()),
    };
    for (i, h) in sessions.iter().enumerate() {
        assert!(
            s.validate_session(h).await.unwrap().is_none(),
            "{when}: session {i} validates"
        );
        assert_eq!(
            s.extend_session(h, None).await.unwrap(),
            None,
            "{when}: session {i} extends"
        );
        let (_, fresh) = token();
        assert_eq!(
            s.rotate_session(h, &fresh, &upgrade).await.unwrap(),
            None,
            "{when}: session {i} rotates"
        );
        assert_eq!(
            s.step_up_session(h, &upgrade).await.unwrap(),
            None,
            "{when}: session {i} steps up"
        );
        assert_eq!(
            s.reserve_session_mfa_attempt(h, 5).await.unwrap(),
            MfaReservation::NoSession,
            "{when}: session {i} takes a second-factor attempt"
        );
    }
    for (i, (h, t)) in tokens.iter().enumerate() {
        assert!(
            s.consume_token(h, *t).await.unwrap().is_none(),
            "{when}: token {i} ({t:?}) consumes"
        );
    }
}

/// Sessions and tokens created and sessions extended during a disable are all dead after it, and `enable_user` revives none.
///
/// `create_session`, `create_session_with`, `create_token` and
/// `extend_session` in parallel with `disable_user` (over handles with
/// pools of their own), five times: whatever the interleaving, afterwards
/// nothing of the user works, and nothing works again after `enable_user`.
pub async fn nothing_made_during_a_disable_stays_usable<H: Harness>(h: &H) {
    let s = h.store_with(StorePolicy::default(), RACE_CONNECTIONS).await;
    let peers = peers(h, &s).await;
    let types = [
        TokenType::PasswordReset,
        TokenType::EmailVerify,
        TokenType::MagicLink,
    ];
    for round in 0..5 {
        let uid = s
            .create_user(&format!("dis{round}@example.com"), None)
            .await
            .unwrap();
        // made before the race: 3 sessions being extended, one token
        let mut to_extend = Vec::new();
        for _ in 0..3 {
            let (_, h) = token();
            s.create_session(uid, &h, Some(Duration::from_secs(60)), None, None)
                .await
                .unwrap();
            to_extend.push(h);
        }
        let (_, before) = token();
        s.create_token(uid, &before, TokenType::MagicLink, None)
            .await
            .unwrap();
        let new_sessions: Vec<TokenHash> = (0..6).map(|_| token().1).collect();
        let new_tokens: Vec<(TokenHash, TokenType)> =
            (0..6).map(|i| (token().1, types[i % 3])).collect();

        let n = 1 + to_extend.len() + new_sessions.len() + new_tokens.len();
        let barrier = Arc::new(Barrier::new(n));
        let mut tasks = Vec::new();
        let mut k = 0;
        let mut next = || {
            k += 1;
            (peers[k % peers.len()].clone(), barrier.clone())
        };
        let (p, b) = next();
        tasks.push(tokio::spawn(async move {
            b.wait().await;
            assert!(
                p.disable_user(uid).await.unwrap(),
                "the disable is a transition"
            );
        }));
        for h in &to_extend {
            let ((p, b), h) = (next(), h.clone());
            tasks.push(tokio::spawn(async move {
                b.wait().await;
                p.extend_session(&h, Some(Duration::from_secs(3600)))
                    .await
                    .unwrap();
            }));
        }
        for (i, h) in new_sessions.iter().enumerate() {
            let ((p, b), h) = (next(), h.clone());
            tasks.push(tokio::spawn(async move {
                b.wait().await;
                let r = if i % 2 == 0 {
                    p.create_session(uid, &h, None, None, None).await
                } else {
                    p.create_session_with(&NewSession {
                        mfa: true,
                        ..NewSession::new(uid, h)
                    })
                    .await
                };
                assert!(
                    matches!(r, Ok(_) | Err(StoreError::UserDisabled)),
                    "create_session: {r:?}"
                );
            }));
        }
        for (h, t) in &new_tokens {
            let ((p, b), h, t) = (next(), h.clone(), *t);
            tasks.push(tokio::spawn(async move {
                b.wait().await;
                let r = p.create_token(uid, &h, t, None).await;
                assert!(
                    matches!(r, Ok(_) | Err(StoreError::UserDisabled)),
                    "create_token: {r:?}"
                );
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }

        let sessions: Vec<TokenHash> = to_extend.iter().chain(&new_sessions).cloned().collect();
        let mut tokens = new_tokens.clone();
        tokens.push((before, TokenType::MagicLink));
        let checker = &peers[round % peers.len()];
        assert_nothing_usable(checker, uid, &sessions, &tokens, "after the disable").await;
        assert!(s.enable_user(uid).await.unwrap());
        assert_nothing_usable(checker, uid, &sessions, &tokens, "after enable_user").await;
    }
}

/// Sessions rotated during a disable are dead after it, the new ones included, and `enable_user` revives none.
///
/// Second factors completed (`rotate_session` of partial sessions) while an
/// admin disables the user, over handles with pools of their own, eight
/// times: neither the old nor the new sessions work after the disable, nor
/// after a later `enable_user`.
///
/// The race this guards: a rotation that locked only the old session row
/// would insert its new session unseen by a concurrent `disable_user`
/// (whose revocation waits on that row, then misses the new one), leaving
/// it unrevoked and valid again after `enable_user`. The stores take the
/// user row's share lock first in a rotation, as in a session's creation.
pub async fn rotations_during_a_disable_leave_no_usable_session<H: Harness>(h: &H) {
    let s = h.store_with(StorePolicy::default(), RACE_CONNECTIONS).await;
    let peers = peers(h, &s).await;
    let upgrade = SessionUpgrade {
        add_amr: vec!["otp".to_owned()],
        acr: Some("aal2".to_owned()),
    };
    for round in 0..8 {
        let uid = s
            .create_user(&format!("rot{round}@example.com"), None)
            .await
            .unwrap();
        let mut olds = Vec::new();
        for _ in 0..6 {
            let (_, h) = token();
            s.create_session_with(&NewSession {
                partial: true,
                amr: vec!["pwd".to_owned()],
                ..NewSession::new(uid, h.clone())
            })
            .await
            .unwrap();
            olds.push(h);
        }
        let news: Vec<TokenHash> = (0..olds.len()).map(|_| token().1).collect();
        let barrier = Arc::new(Barrier::new(olds.len() + 1));
        let mut tasks = Vec::new();
        for (i, (old, new)) in olds.iter().zip(&news).enumerate() {
            let (p, b) = (peers[i % peers.len()].clone(), barrier.clone());
            let (old, new, upgrade) = (old.clone(), new.clone(), upgrade.clone());
            tasks.push(tokio::spawn(async move {
                b.wait().await;
                p.rotate_session(&old, &new, &upgrade).await.unwrap();
            }));
        }
        let (p, b) = (peers[olds.len() % peers.len()].clone(), barrier.clone());
        tasks.push(tokio::spawn(async move {
            b.wait().await;
            assert!(p.disable_user(uid).await.unwrap());
        }));
        for t in tasks {
            t.await.unwrap();
        }
        let sessions: Vec<TokenHash> = olds.iter().chain(&news).cloned().collect();
        assert_nothing_usable(&s, uid, &sessions, &[], "after the disable").await;
        assert!(s.enable_user(uid).await.unwrap());
        assert_nothing_usable(&s, uid, &sessions, &[], "after enable_user").await;
    }
}

/// `list_users` pages 100 users by default and clamps larger limits to 1000, over 1005 users.
///
/// 1005 users (created by 8 writers at once): the default page is 100 and
/// walks them in 11 pages; any limit above 1000 gives 1000 and a cursor to
/// the last 5; every user is listed once, in id (creation) order.
pub async fn list_users_default_page_is_100_and_limits_clamp_to_1000<H: Harness>(h: &H) {
    let s = h.store_with(StorePolicy::default(), RACE_CONNECTIONS).await;
    let total = 1005;
    let writers = 8;
    let mut tasks = Vec::new();
    for w in 0..writers {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            for i in (w..total).step_by(writers) {
                ids.push(
                    s.create_user(&format!("bulk{i:04}@example.com"), None)
                        .await
                        .unwrap(),
                );
            }
            ids
        }));
    }
    let mut created = Vec::new();
    for t in tasks {
        created.extend(t.await.unwrap());
    }
    created.sort();
    assert_eq!(created.len(), total);

    // default page size: 100
    let mut seen = Vec::new();
    let mut pages = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = s.list_users(None, cursor.as_deref()).await.unwrap();
        pages.push(page.items.len());
        seen.extend(page.items.iter().map(|u| u.id));
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    let mut expected_pages = vec![100; 10];
    expected_pages.push(5);
    assert_eq!(pages, expected_pages, "default page size 100");
    assert_eq!(seen, created, "every user once, in id order");
    assert_eq!(
        seen.iter().collect::<BTreeSet<_>>().len(),
        total,
        "no duplicates"
    );

    // limits above 1000 are clamped to 1000
    for limit in [1001, 5000, u32::MAX] {
        let page = s.list_users(Some(limit), None).await.unwrap();
        assert_eq!(page.items.len(), 1000, "limit {limit} clamped to 1000");
        let ids: Vec<_> = page.items.iter().map(|u| u.id).collect();
        assert_eq!(ids, created[..1000]);
        let rest = s
            .list_users(Some(limit), page.next_cursor.as_deref())
            .await
            .unwrap();
        let ids: Vec<_> = rest.items.iter().map(|u| u.id).collect();
        assert_eq!(ids, created[1000..]);
        assert_eq!(rest.next_cursor, None);
    }
    let exact = s.list_users(Some(1000), None).await.unwrap();
    assert_eq!(exact.items.len(), 1000);
    assert!(exact.next_cursor.is_some());
}
