//! MFA methods (`MfaStore`): secrets only from `get_mfa`, never in listings
//! or audit events; exactly-once removal; pending enrollments and their
//! confirmation; TOTP step replay protection; recovery code sets; reset.

use std::sync::Arc;

use authn_core::store::{AuditStore, MaintenanceStore, MfaStore, UserStore};
use authn_core::{AuditQuery, MfaId, MfaSecret, MfaType, StoreError, StorePolicy, UserId};
use tokio::sync::Barrier;

use crate::Harness;
use crate::support::*;
/// `get_mfa` returns the secrets of one user and type, oldest first.
pub async fn get_returns_secrets_of_one_type_oldest_first<H: Harness>(h: &H) {
    let s = h.store().await;
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

/// `list_mfa` returns every method without secrets, oldest first, names trimmed.
pub async fn list_returns_every_type_without_secrets_oldest_first<H: Harness>(h: &H) {
    let s = h.store().await;
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

/// `has_mfa` follows add and remove; another namespace can neither use nor remove a method.
pub async fn has_mfa_follows_add_and_remove<H: Harness>(h: &H) {
    let s = h.store().await;
    let id = s.create_user("h@example.com", None).await.unwrap();
    assert!(!s.has_mfa(id).await.unwrap());
    let m = s
        .add_mfa(id, MfaType::Totp, &secret("X"), None)
        .await
        .unwrap();
    assert!(s.has_mfa(id).await.unwrap());
    // another namespace can neither use nor remove it
    let elsewhere = elsewhere(&s);
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

/// `record_mfa_use` sets and moves `last_used_at` of that method only.
pub async fn record_mfa_use_sets_last_used_at<H: Harness>(h: &H) {
    let s = h.store().await;
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

/// `add_mfa` refuses unknown users and bad names and stores nothing then.
pub async fn add_mfa_checks_user_and_name<H: Harness>(h: &H) {
    let s = h.store().await;
    assert!(matches!(
        s.add_mfa(UserId::new(), MfaType::Totp, &secret("X"), None)
            .await,
        Err(StoreError::NotFound { entity: "user" })
    ));
    let id = s.create_user("n@example.com", None).await.unwrap();
    // a user of another namespace is unknown here
    let elsewhere = elsewhere(&s);
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

/// A 64 KiB MFA secret round-trips.
pub async fn a_64k_secret_round_trips<H: Harness>(h: &H) {
    let s = h.store().await;
    let id = s.create_user("big@example.com", None).await.unwrap();
    let big = "Q".repeat(65536);
    s.add_mfa(id, MfaType::RecoveryCodes, &secret(&big), None)
        .await
        .unwrap();
    let got = s.get_mfa(id, MfaType::RecoveryCodes).await.unwrap();
    assert_eq!(got[0].secret.expose(), big);
}

/// Of concurrent removals of one method exactly one wins.
pub async fn concurrent_removals_exactly_one_wins<H: Harness>(h: &H) {
    let s = h
        .store_with(authn_core::StorePolicy::default(), RACE_CONNECTIONS)
        .await;
    let id = s.create_user("rc@example.com", None).await.unwrap();
    let code = s
        .add_mfa(id, MfaType::RecoveryCodes, &secret("CODE-HASH"), None)
        .await
        .unwrap();
    let peers = peers(h, &s).await;
    let n = 20;
    let barrier = Arc::new(tokio::sync::Barrier::new(n));
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let s = peers[i % peers.len()].clone();
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

/// MFA audit events never contain the secret.
pub async fn audit_events_never_contain_the_secret<H: Harness>(h: &H) {
    let s = h.store().await;
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

fn codes(prefix: &str, n: usize) -> Vec<MfaSecret> {
    (0..n)
        .map(|i| secret(&format!("{prefix}-code-hash-{i:02}")))
        .collect()
}

/// A user with a confirmed TOTP method whose last accepted step is `step`.
async fn totp_user<S: UserStore + MfaStore>(s: &S, email: &str, step: u64) -> (UserId, MfaId) {
    let uid = s.create_user(email, None).await.unwrap();
    let id = s
        .add_pending_mfa(uid, MfaType::Totp, &secret("ENC-TOTP"), Some("Phone"))
        .await
        .unwrap();
    assert!(s.confirm_mfa(id, Some(step)).await.unwrap());
    (uid, id)
}

/// A pending method is listed but does not enable MFA.
pub async fn a_pending_method_is_listed_but_does_not_enable_mfa<H: Harness>(h: &H) {
    let s = h.store().await;
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

/// A new enrollment replaces only the pending method of its type and user.
pub async fn a_new_enrollment_replaces_only_the_pending_method_of_its_type<H: Harness>(h: &H) {
    let s = h.store().await;
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

/// Confirmation happens once and burns the confirming TOTP step.
pub async fn confirm_is_exactly_once_and_burns_its_step<H: Harness>(h: &H) {
    let s = h.store().await;
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

/// Accepted TOTP steps only move forward; pending and removed methods refuse.
pub async fn totp_steps_only_move_forward<H: Harness>(h: &H) {
    let s = h.store().await;
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

/// The same TOTP step submitted 20 times at once is accepted once.
///
/// The same TOTP code submitted 20 times at once is accepted once.
pub async fn parallel_submissions_of_one_code_are_accepted_once<H: Harness>(h: &H) {
    let s = h.store_with(StorePolicy::default(), RACE_CONNECTIONS).await;
    let step = 58_000_200u64;
    let (_, id) = totp_user(&s, "totprace@example.com", step - 1).await;
    let peers = peers(h, &s).await;
    let barrier = Arc::new(Barrier::new(20));
    let mut tasks = Vec::new();
    for i in 0..20 {
        let (s, barrier) = (peers[i % peers.len()].clone(), barrier.clone());
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

/// `replace_recovery_codes` swaps the whole set and audits counts, never hashes.
pub async fn replace_recovery_codes_swaps_the_whole_set<H: Harness>(h: &H) {
    let s = h.store().await;
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

/// Replacing the codes of an unknown user is `NotFound(user)`, even with an empty set, and audits nothing.
///
/// Replacing the codes of a user that does not exist is refused whatever
/// the new set, and leaves no audit event about a phantom user.
pub async fn replace_recovery_codes_of_an_unknown_user_with_an_empty_set<H: Harness>(h: &H) {
    let s = h.store().await;
    let r = s.replace_recovery_codes(UserId::new(), &[]).await;
    assert!(
        matches!(r, Err(StoreError::NotFound { entity: "user" })),
        "expected NotFound(user), got {r:?}"
    );
    assert!(events_of(&s, "recovery_codes_replaced").await.is_empty());
}

/// A recovery code is spent once and only by its user.
pub async fn a_recovery_code_is_spent_once_and_only_by_its_user<H: Harness>(h: &H) {
    let s = h.store().await;
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
///
/// One recovery code used 20 times at once works once.
pub async fn parallel_uses_of_one_recovery_code_succeed_once<H: Harness>(h: &H) {
    let s = h.store_with(StorePolicy::default(), RACE_CONNECTIONS).await;
    let uid = s.create_user("rcrace@example.com", None).await.unwrap();
    let set = codes("race", 5);
    s.replace_recovery_codes(uid, &set).await.unwrap();
    let peers = peers(h, &s).await;
    let barrier = Arc::new(Barrier::new(20));
    let mut tasks = Vec::new();
    for i in 0..20 {
        let (s, barrier, code) = (
            peers[i % peers.len()].clone(),
            barrier.clone(),
            set[2].clone(),
        );
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

/// `remove_all_mfa` removes confirmed and pending methods of one user and audits once.
pub async fn remove_all_mfa_resets_confirmed_and_pending<H: Harness>(h: &H) {
    let s = h.store().await;
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

/// Parallel enrollments leave exactly one pending method of the type.
///
/// Enrollment started twice at once (double click, two tabs): the contract
/// says a new pending method replaces any pending one of its type, so one
/// pending TOTP method is left, whatever the interleaving.
pub async fn parallel_enrollments_leave_one_pending_method<H: Harness>(h: &H) {
    let s = h.store_with(StorePolicy::default(), RACE_CONNECTIONS).await;
    let uid = s.create_user("twotabs@example.com", None).await.unwrap();
    let peers = peers(h, &s).await;
    let barrier = Arc::new(Barrier::new(10));
    let mut tasks = Vec::new();
    for i in 0..10 {
        let (s, barrier) = (peers[i % peers.len()].clone(), barrier.clone());
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

/// Parallel replacements of recovery codes leave exactly one whole set.
///
/// Codes regenerated twice at once: exactly one whole set survives; the
/// codes of the other sets (shown to nobody, or to the other tab) never work.
pub async fn parallel_replacements_leave_exactly_one_code_set<H: Harness>(h: &H) {
    let s = h.store_with(StorePolicy::default(), RACE_CONNECTIONS).await;
    let uid = s.create_user("regen@example.com", None).await.unwrap();
    s.replace_recovery_codes(uid, &codes("init", 10))
        .await
        .unwrap();
    let peers = peers(h, &s).await;
    let barrier = Arc::new(Barrier::new(10));
    let mut tasks = Vec::new();
    for i in 0..10 {
        let (s, barrier) = (peers[i % peers.len()].clone(), barrier.clone());
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
    assert_ne!(set, "init", "the first set was replaced");
    assert!(
        left.iter()
            .all(|c| c.secret.expose().starts_with(&format!("{set}-"))),
        "all surviving codes are of one set"
    );
}

/// Every code of a set, each submitted from several processes at once, is spent exactly once.
///
/// Each of 8 recovery codes submitted by 3 tasks at once, spread over
/// handles with pools of their own: every code works exactly once.
pub async fn every_code_of_a_set_is_spent_once_across_processes<H: Harness>(h: &H) {
    let s = h.store_with(StorePolicy::default(), RACE_CONNECTIONS).await;
    let peers = peers(h, &s).await;
    let uid = s.create_user("allcodes@example.com", None).await.unwrap();
    let set = codes("all", 8);
    s.replace_recovery_codes(uid, &set).await.unwrap();
    let n = set.len() * 3;
    let barrier = Arc::new(Barrier::new(n));
    let mut tasks = Vec::new();
    for i in 0..n {
        let (s, barrier) = (peers[i % peers.len()].clone(), barrier.clone());
        let code_index = i % set.len();
        let code = set[code_index].clone();
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            (
                code_index,
                s.consume_recovery_code(uid, &code).await.unwrap(),
            )
        }));
    }
    let mut spent = vec![0; set.len()];
    for t in tasks {
        let (code_index, ok) = t.await.unwrap();
        spent[code_index] += usize::from(ok);
    }
    assert_eq!(spent, vec![1; set.len()], "each code works exactly once");
    assert!(
        s.get_mfa(uid, MfaType::RecoveryCodes)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(events_of(&s, "recovery_code_used").await.len(), set.len());
}

/// TOTP steps submitted from several processes at once are each accepted at most once, the latest exactly once.
///
/// Four consecutive steps, each submitted 4 times at once over handles with
/// pools of their own: no step is accepted twice, the latest step is
/// accepted exactly once (nothing later can beat it), and every acceptance
/// is audited.
pub async fn totp_steps_from_several_processes_are_each_accepted_at_most_once<H: Harness>(h: &H) {
    let s = h.store_with(StorePolicy::default(), RACE_CONNECTIONS).await;
    let peers = peers(h, &s).await;
    let first = 58_000_300u64;
    let (_, id) = totp_user(&s, "steprace@example.com", first - 1).await;
    let n = 16;
    let barrier = Arc::new(Barrier::new(n));
    let mut tasks = Vec::new();
    for i in 0..n {
        let (s, barrier) = (peers[i % peers.len()].clone(), barrier.clone());
        let step = first + (i % 4) as u64;
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            (step, s.accept_totp_step(id, step).await.unwrap())
        }));
    }
    let mut accepted = [0usize; 4];
    for t in tasks {
        let (step, ok) = t.await.unwrap();
        accepted[usize::try_from(step - first).unwrap()] += usize::from(ok);
    }
    assert!(
        accepted.iter().all(|&a| a <= 1),
        "a step accepted twice: {accepted:?}"
    );
    assert_eq!(accepted[3], 1, "the latest step is accepted exactly once");
    assert_eq!(
        events_of(&s, "mfa_used").await.len(),
        accepted.iter().sum::<usize>()
    );
    for step in first..first + 4 {
        assert!(!s.accept_totp_step(id, step).await.unwrap(), "step {step}");
    }
}

/// A replacement racing uses of the old codes leaves exactly the new set, less the new codes spent.
///
/// Codes regenerated while the old ones are being used (from other
/// processes): old codes work only before the replacement, and afterwards
/// the user has exactly the new set, less a new code spent in the race.
pub async fn a_replacement_racing_code_uses_leaves_the_new_set<H: Harness>(h: &H) {
    let s = h.store_with(StorePolicy::default(), RACE_CONNECTIONS).await;
    let peers = peers(h, &s).await;
    let uid = s.create_user("regenuse@example.com", None).await.unwrap();
    let old = codes("old", 6);
    let new = codes("new", 6);
    s.replace_recovery_codes(uid, &old).await.unwrap();
    let n = old.len() + 3;
    let barrier = Arc::new(Barrier::new(n));
    let mut tasks = Vec::new();
    for i in 0..n {
        let (s, barrier) = (peers[i % peers.len()].clone(), barrier.clone());
        let (old, new) = (old.clone(), new.clone());
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            if i == 0 {
                assert_eq!(s.replace_recovery_codes(uid, &new).await.unwrap(), 6);
                (None, false)
            } else if i <= old.len() {
                (
                    Some(false),
                    s.consume_recovery_code(uid, &old[i - 1]).await.unwrap(),
                )
            } else {
                // the first new code, tried twice
                (
                    Some(true),
                    s.consume_recovery_code(uid, &new[0]).await.unwrap(),
                )
            }
        }));
    }
    let (mut old_spent, mut new_spent) = (0, 0);
    for t in tasks {
        match t.await.unwrap() {
            (Some(false), ok) => old_spent += usize::from(ok),
            (Some(true), ok) => new_spent += usize::from(ok),
            _ => {}
        }
    }
    assert!(new_spent <= 1, "a new code spent {new_spent} times");
    let left: Vec<String> = s
        .get_mfa(uid, MfaType::RecoveryCodes)
        .await
        .unwrap()
        .iter()
        .map(|c| c.secret.expose().to_owned())
        .collect();
    let mut expected: Vec<String> = new[new_spent..]
        .iter()
        .map(|c| c.expose().to_owned())
        .collect();
    let mut sorted = left.clone();
    sorted.sort();
    expected.sort();
    assert_eq!(sorted, expected, "exactly the new set is left");
    for c in &old {
        assert!(!s.consume_recovery_code(uid, c).await.unwrap());
    }
    assert_eq!(
        events_of(&s, "recovery_code_used").await.len(),
        old_spent + new_spent
    );
}

#[cfg(test)]
mod tests {
    use authn_core::MfaSecret;

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
}
