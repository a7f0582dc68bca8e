//! Users with a profile: `create_user_with` (display name, pre-verified
//! address) and `update_profile`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use authn_core::store::UserStore;
use authn_core::{NewUser, ProfileUpdate, StoreError, UserId};
use common::*;

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

#[tokio::test]
async fn create_user_with_stores_the_name_and_verification() {
    let s = store().await;
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

#[tokio::test]
async fn create_user_with_refuses_bad_input_and_duplicates() {
    let s = store().await;
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

#[tokio::test]
async fn update_profile_sets_and_clears_the_name() {
    let s = store().await;
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

#[tokio::test]
async fn update_profile_toggles_verification() {
    let s = store().await;
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

#[tokio::test]
async fn a_no_op_update_writes_no_audit() {
    let s = store().await;
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

#[tokio::test]
async fn update_profile_of_an_unknown_user_or_with_a_bad_name() {
    let s = store().await;
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
    let other = s.namespace(&unique_namespace()).unwrap();
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
