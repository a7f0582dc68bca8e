//! MfaStore against a real PostgreSQL: secrets only from `get_mfa`, never in
//! listings or audit events; removal is exactly-once.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;

use authn_core::store::{AuditStore, MfaStore, UserStore};
use authn_core::{AuditQuery, MfaId, MfaSecret, MfaType, StoreError, UserId};
use common::*;

fn secret(s: &str) -> MfaSecret {
    MfaSecret::parse(s).unwrap()
}

#[tokio::test]
async fn get_returns_secrets_of_one_type_oldest_first() {
    let s = store().await;
    let id = s.create_user("m@example.com", None).await.unwrap();
    let other = s.create_user("o@example.com", None).await.unwrap();
    let t1 = s
        .add_mfa(id, MfaType::Totp, &secret("TOTP-SECRET-ONE"), Some("Phone"))
        .await
        .unwrap();
    let w = s
        .add_mfa(id, MfaType::Webauthn, &secret("WEBAUTHN-KEY"), Some("Key"))
        .await
        .unwrap();
    let t2 = s
        .add_mfa(id, MfaType::Totp, &secret("TOTP-SECRET-TWO"), None)
        .await
        .unwrap();
    s.add_mfa(other, MfaType::Totp, &secret("OTHER-USER-TOTP"), None)
        .await
        .unwrap();

    let totp = s.get_mfa(id, MfaType::Totp).await.unwrap();
    let got: Vec<_> = totp
        .iter()
        .map(|c| (c.method.id, c.secret.expose(), c.method.name.as_deref()))
        .collect();
    assert_eq!(
        got,
        [
            (t1, "TOTP-SECRET-ONE", Some("Phone")),
            (t2, "TOTP-SECRET-TWO", None)
        ]
    );
    assert!(
        totp.iter()
            .all(|c| c.method.user_id == id && c.method.mfa_type == MfaType::Totp)
    );
    let wa = s.get_mfa(id, MfaType::Webauthn).await.unwrap();
    assert_eq!(wa.len(), 1);
    assert_eq!(
        (wa[0].method.id, wa[0].secret.expose()),
        (w, "WEBAUTHN-KEY")
    );
    assert!(
        s.get_mfa(id, MfaType::RecoveryCodes)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        s.get_mfa(UserId::new(), MfaType::Totp)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn list_returns_every_type_without_secrets_oldest_first() {
    let s = store().await;
    let id = s.create_user("l@example.com", None).await.unwrap();
    let a = s
        .add_mfa(id, MfaType::Totp, &secret("S1"), Some("  Phone  "))
        .await
        .unwrap();
    let b = s
        .add_mfa(id, MfaType::RecoveryCodes, &secret("S2"), Some("Codes"))
        .await
        .unwrap();
    let c = s
        .add_mfa(id, MfaType::Webauthn, &secret("S3"), Some("   "))
        .await
        .unwrap();

    let list = s.list_mfa(id).await.unwrap();
    let got: Vec<_> = list
        .iter()
        .map(|m| (m.id, m.mfa_type, m.name.as_deref()))
        .collect();
    assert_eq!(
        got,
        [
            (a, MfaType::Totp, Some("Phone")),
            (b, MfaType::RecoveryCodes, Some("Codes")),
            (c, MfaType::Webauthn, None),
        ],
        "names trimmed, blank name is None, creation order"
    );
    assert!(
        list.iter()
            .all(|m| m.user_id == id && m.last_used_at.is_none())
    );
    assert!(list.windows(2).all(|w| w[0].created_at <= w[1].created_at));
    // MfaMethod has no secret field; its serialised form carries none either
    let json = serde_json::to_string(&list).unwrap();
    for sec in ["S1", "S2", "S3"] {
        assert!(!json.contains(&format!("\"{sec}\"")), "{json}");
    }
    assert!(s.list_mfa(UserId::new()).await.unwrap().is_empty());
}

#[tokio::test]
async fn has_mfa_follows_add_and_remove() {
    let s = store().await;
    let id = s.create_user("h@example.com", None).await.unwrap();
    assert!(!s.has_mfa(id).await.unwrap());
    let m = s
        .add_mfa(id, MfaType::Totp, &secret("X"), None)
        .await
        .unwrap();
    assert!(s.has_mfa(id).await.unwrap());
    // another namespace can neither use nor remove it
    let elsewhere = s.namespace(&unique_namespace()).unwrap();
    assert!(!elsewhere.record_mfa_use(m).await.unwrap());
    assert!(!elsewhere.remove_mfa(m).await.unwrap());
    assert!(!elsewhere.has_mfa(id).await.unwrap());
    assert!(s.has_mfa(id).await.unwrap());
    assert!(s.remove_mfa(m).await.unwrap());
    assert!(!s.remove_mfa(m).await.unwrap(), "already gone");
    assert!(!s.has_mfa(id).await.unwrap());
    assert!(s.list_mfa(id).await.unwrap().is_empty());
    assert!(!s.remove_mfa(MfaId::new()).await.unwrap());

    let ev = events_of(&s, "mfa_removed").await;
    assert_eq!(ev.len(), 1, "only the real removal is audited");
    assert_eq!(ev[0].resource_id, Some(m.to_string()));
    let old = ev[0].old_values.as_ref().unwrap();
    assert_eq!(old["user_id"], id.to_string());
    assert_eq!(old["mfa_type"], "totp");
}

#[tokio::test]
async fn record_mfa_use_sets_last_used_at() {
    let s = store().await;
    let id = s.create_user("u@example.com", None).await.unwrap();
    let m = s
        .add_mfa(id, MfaType::Webauthn, &secret("K"), None)
        .await
        .unwrap();
    let other = s
        .add_mfa(id, MfaType::Totp, &secret("T"), None)
        .await
        .unwrap();
    let before = chrono::Utc::now() - chrono::Duration::seconds(5);
    assert!(s.record_mfa_use(m).await.unwrap());
    let list = s.list_mfa(id).await.unwrap();
    let used = list.iter().find(|x| x.id == m).unwrap();
    let last = used.last_used_at.expect("last_used_at set");
    assert!(last >= before && last >= used.created_at);
    assert!(
        list.iter()
            .find(|x| x.id == other)
            .unwrap()
            .last_used_at
            .is_none(),
        "only that method"
    );
    // get_mfa shows it too
    let cred = s.get_mfa(id, MfaType::Webauthn).await.unwrap();
    assert_eq!(cred[0].method.last_used_at, Some(last));

    // a second use moves it forward
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    assert!(s.record_mfa_use(m).await.unwrap());
    let again = s.list_mfa(id).await.unwrap()[0].last_used_at.unwrap();
    assert!(again > last);

    assert!(!s.record_mfa_use(MfaId::new()).await.unwrap());
    let ev = events_of(&s, "mfa_used").await;
    assert_eq!(ev.len(), 2);
    assert!(ev.iter().all(|e| e.resource_id == Some(m.to_string())));
}

#[tokio::test]
async fn add_mfa_checks_user_and_name() {
    let s = store().await;
    assert!(matches!(
        s.add_mfa(UserId::new(), MfaType::Totp, &secret("X"), None)
            .await,
        Err(StoreError::NotFound { entity: "user" })
    ));
    let id = s.create_user("n@example.com", None).await.unwrap();
    // a user of another namespace is unknown here
    let elsewhere = s.namespace(&unique_namespace()).unwrap();
    assert!(matches!(
        elsewhere
            .add_mfa(id, MfaType::Totp, &secret("X"), None)
            .await,
        Err(StoreError::NotFound { entity: "user" })
    ));

    assert_invalid(
        s.add_mfa(id, MfaType::Totp, &secret("X"), Some(&"n".repeat(257)))
            .await,
        "name",
    );
    assert_invalid(
        s.add_mfa(id, MfaType::Totp, &secret("X"), Some("bad\nname"))
            .await,
        "name",
    );
    let max = "n".repeat(256);
    let m = s
        .add_mfa(id, MfaType::Totp, &secret("X"), Some(&max))
        .await
        .unwrap();
    let e = s
        .add_mfa(id, MfaType::Totp, &secret("Y"), Some(""))
        .await
        .unwrap();
    let list = s.list_mfa(id).await.unwrap();
    assert_eq!(list.len(), 2, "rejected adds stored nothing");
    assert_eq!(
        (list[0].id, list[0].name.as_deref()),
        (m, Some(max.as_str()))
    );
    assert_eq!((list[1].id, list[1].name.as_deref()), (e, None));
    assert_eq!(events_of(&s, "mfa_added").await.len(), 2);
}

#[test]
fn mfa_secret_limits() {
    assert!(MfaSecret::parse(&"s".repeat(65536)).is_ok());
    assert_eq!(
        MfaSecret::parse(&"s".repeat(65537)).map_err(|e| e.field),
        Err("secret")
    );
    for bad in ["", "   ", "ab\u{0}cd", "ab\ncd", "\u{7f}x"] {
        assert_eq!(
            MfaSecret::parse(bad).map_err(|e| e.field),
            Err("secret"),
            "{bad:?}"
        );
    }
    assert_eq!(MfaSecret::parse("  JBSW  ").unwrap().expose(), "JBSW");
}

#[tokio::test]
async fn a_64k_secret_round_trips() {
    let s = store().await;
    let id = s.create_user("big@example.com", None).await.unwrap();
    let big = "Q".repeat(65536);
    s.add_mfa(id, MfaType::RecoveryCodes, &secret(&big), None)
        .await
        .unwrap();
    let got = s.get_mfa(id, MfaType::RecoveryCodes).await.unwrap();
    assert_eq!(got[0].secret.expose(), big);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_removals_exactly_one_wins() {
    let s = store_with(authn_core::StorePolicy::default(), 20).await;
    let id = s.create_user("rc@example.com", None).await.unwrap();
    let code = s
        .add_mfa(id, MfaType::RecoveryCodes, &secret("CODE-HASH"), None)
        .await
        .unwrap();
    let n = 20;
    let barrier = Arc::new(tokio::sync::Barrier::new(n));
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let s = s.clone();
            let barrier = barrier.clone();
            tokio::spawn(async move {
                barrier.wait().await;
                s.remove_mfa(code).await
            })
        })
        .collect();
    let mut wins = 0;
    for t in tasks {
        if t.await.unwrap().expect("no removal fails") {
            wins += 1;
        }
    }
    assert_eq!(wins, 1, "a recovery code is spent exactly once");
    assert!(!s.has_mfa(id).await.unwrap());
    assert_eq!(events_of(&s, "mfa_removed").await.len(), 1);
}

#[tokio::test]
async fn audit_events_never_contain_the_secret() {
    let s = store().await;
    let id = s.create_user("sec@example.com", None).await.unwrap();
    let raw = "JBSWY3DPEHPK3PXP-very-secret-value";
    let m = s
        .add_mfa(id, MfaType::Totp, &secret(raw), Some("Phone"))
        .await
        .unwrap();
    assert!(s.record_mfa_use(m).await.unwrap());
    assert!(s.remove_mfa(m).await.unwrap());

    let added = events_of(&s, "mfa_added").await;
    assert_eq!(added.len(), 1);
    let nv = added[0].new_values.as_ref().unwrap();
    assert_eq!(nv["mfa_type"], "totp");
    assert_eq!(nv["name"], "Phone");
    assert_eq!(nv["user_id"], id.to_string());
    assert_eq!(events_of(&s, "mfa_used").await.len(), 1);
    assert_eq!(events_of(&s, "mfa_removed").await.len(), 1);

    let all = s
        .get_audit_events(&AuditQuery {
            resource_type: Some("mfa".into()),
            resource_id: Some(m.to_string()),
            ..Default::default()
        })
        .await
        .unwrap()
        .items;
    let kinds: Vec<_> = all.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(kinds, ["mfa_removed", "mfa_used", "mfa_added"]);
    for e in &all {
        let text = format!(
            "{} {}",
            serde_json::to_string(&e.old_values).unwrap(),
            serde_json::to_string(&e.new_values).unwrap()
        );
        assert!(!text.contains(raw), "{}: {text}", e.event_type);
        assert!(
            !text.contains("JBSWY3DPEHPK3PXP"),
            "{}: {text}",
            e.event_type
        );
    }
}
