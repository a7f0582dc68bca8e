//! Admin keys (`AdminKeyStore`): stored by hash, found only while active,
//! per namespace, never leaking the key or its hash into audit events.

use std::time::Duration;

use authn_core::store::AdminKeyStore;
use authn_core::{AdminKeyId, StoreError};
use chrono::Utc;

use crate::Harness;
use crate::support::*;
/// Admin keys are found by hash while active, listed oldest first with revoked ones, and revoked once.
pub async fn create_find_list_revoke<H: Harness>(h: &H) {
    let s = h.store().await;
    let (_, h1) = token();
    let k1 = s.create_admin_key("  deploy bot ", &h1).await.unwrap();
    assert_eq!(k1.name, "deploy bot", "trimmed");
    assert_eq!(k1.revoked_at, None);
    assert!((Utc::now() - k1.created_at).num_seconds().abs() < 5);

    assert_eq!(s.find_admin_key(&h1).await.unwrap(), Some(k1.clone()));
    let (_, unknown) = token();
    assert_eq!(s.find_admin_key(&unknown).await.unwrap(), None);

    tokio::time::sleep(Duration::from_millis(5)).await;
    let (_, h2) = token();
    let k2 = s.create_admin_key("ci", &h2).await.unwrap();
    tokio::time::sleep(Duration::from_millis(5)).await;
    let (_, h3) = token();
    let k3 = s.create_admin_key("ops", &h3).await.unwrap();
    let listed = s.list_admin_keys().await.unwrap();
    assert_eq!(
        listed.iter().map(|k| k.id).collect::<Vec<_>>(),
        [k1.id, k2.id, k3.id],
        "oldest first"
    );

    assert!(s.revoke_admin_key(k2.id).await.unwrap());
    assert!(!s.revoke_admin_key(k2.id).await.unwrap(), "already revoked");
    assert!(!s.revoke_admin_key(AdminKeyId::new()).await.unwrap());
    assert_eq!(
        s.find_admin_key(&h2).await.unwrap(),
        None,
        "a revoked key is not found"
    );
    assert_eq!(s.find_admin_key(&h1).await.unwrap(), Some(k1.clone()));
    // still listed, with its revocation time
    let listed = s.list_admin_keys().await.unwrap();
    assert_eq!(listed.len(), 3);
    let r = listed.iter().find(|k| k.id == k2.id).unwrap();
    assert!(r.revoked_at.is_some());
    assert!(
        listed
            .iter()
            .filter(|k| k.id != k2.id)
            .all(|k| k.revoked_at.is_none())
    );

    assert_eq!(events_of(&s, "admin_key_created").await.len(), 3);
    let revoked = events_of(&s, "admin_key_revoked").await;
    assert_eq!(revoked.len(), 1);
    assert_eq!(
        revoked[0].resource_id.as_deref(),
        Some(k2.id.to_string().as_str())
    );
}

/// Bad key names are `InvalidInput(name)`, a taken hash (even revoked) is `AlreadyExists(key_hash)`.
pub async fn bad_names_and_duplicate_hashes_are_refused<H: Harness>(h: &H) {
    let s = h.store().await;
    let (_, h) = token();
    assert_invalid(s.create_admin_key("", &h).await, "name");
    assert_invalid(s.create_admin_key("   ", &h).await, "name");
    assert_invalid(s.create_admin_key(&"k".repeat(257), &h).await, "name");
    assert_invalid(s.create_admin_key("tab\there", &h).await, "name");
    assert!(s.list_admin_keys().await.unwrap().is_empty());
    assert_eq!(s.find_admin_key(&h).await.unwrap(), None);

    let longest = "k".repeat(256);
    let k = s.create_admin_key(&longest, &h).await.unwrap();
    assert_eq!(k.name, longest);
    assert!(matches!(
        s.create_admin_key("again", &h).await,
        Err(StoreError::AlreadyExists { field: "key_hash" })
    ));
    // a revoked key's hash stays taken (keys are never reused)
    assert!(s.revoke_admin_key(k.id).await.unwrap());
    assert!(matches!(
        s.create_admin_key("again", &h).await,
        Err(StoreError::AlreadyExists { field: "key_hash" })
    ));
    assert_eq!(s.list_admin_keys().await.unwrap().len(), 1);
    assert_eq!(events_of(&s, "admin_key_created").await.len(), 1);
}

/// An admin key is invisible to, and cannot be revoked from, another namespace.
pub async fn keys_belong_to_their_namespace<H: Harness>(h: &H) {
    let a = h.store().await;
    let b = elsewhere(&a);
    let (_, h) = token();
    let ka = a.create_admin_key("tenant a", &h).await.unwrap();

    assert_eq!(b.find_admin_key(&h).await.unwrap(), None);
    assert!(b.list_admin_keys().await.unwrap().is_empty());
    assert!(
        !b.revoke_admin_key(ka.id).await.unwrap(),
        "another namespace cannot revoke it"
    );
    assert_eq!(a.find_admin_key(&h).await.unwrap(), Some(ka.clone()));
    assert!(events_of(&b, "admin_key_revoked").await.is_empty());

    // the same hash in another namespace is another key
    let kb = b.create_admin_key("tenant b", &h).await.unwrap();
    assert_ne!(ka.id, kb.id);
    assert_eq!(b.find_admin_key(&h).await.unwrap(), Some(kb.clone()));
    assert_eq!(a.find_admin_key(&h).await.unwrap(), Some(ka.clone()));
    assert!(b.revoke_admin_key(kb.id).await.unwrap());
    assert_eq!(a.find_admin_key(&h).await.unwrap(), Some(ka));
    assert_eq!(a.list_admin_keys().await.unwrap().len(), 1);
    assert_eq!(events_of(&a, "admin_key_created").await.len(), 1);
}

/// Admin key audit events carry the name and actor, never the key or its hash.
pub async fn audit_events_never_hold_the_key_or_its_hash<H: Harness>(h: &H) {
    let s = h.store().await;
    let (key, h) = token();
    let k = s.create_admin_key("audited", &h).await.unwrap();
    s.revoke_admin_key(k.id).await.unwrap();
    let mut events = events_of(&s, "admin_key_created").await;
    events.extend(events_of(&s, "admin_key_revoked").await);
    assert_eq!(events.len(), 2);
    for e in &events {
        assert_eq!(e.resource_type.as_deref(), Some("admin_key"));
        assert_eq!(e.resource_id.as_deref(), Some(k.id.to_string().as_str()));
        let text = serde_json::to_string(e).unwrap();
        assert!(!text.contains(h.as_str()), "hash in audit: {text}");
        assert!(!text.contains(&key), "key in audit: {text}");
    }
    let created = &events[0];
    assert_eq!(created.new_values.as_ref().unwrap()["name"], "audited");
    assert_eq!(created.actor_id.as_deref(), Some("test:harness"));
}
