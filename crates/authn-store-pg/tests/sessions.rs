//! SessionStore against a real PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::net::IpAddr;
use std::time::Duration;

use authn_core::store::{SessionStore, UserStore};
use authn_core::{SessionId, StoreError, UserId};
use chrono::Utc;
use common::*;

#[tokio::test]
async fn validate_returns_the_session_and_its_user() {
    let s = store().await;
    let uid = s.create_user("v@example.com", None).await.unwrap();
    let (tok, hash) = token();
    let sid = s
        .create_session(uid, &hash, None, None, None)
        .await
        .unwrap();
    let v = s
        .validate_session(&authn_core::TokenHash::of_token(&tok))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (v.session_id, v.user_id, v.email.as_str()),
        (sid, uid, "v@example.com")
    );
    assert!(!v.email_verified);
    let week = (v.expires_at - v.created_at).num_seconds();
    assert!(
        (7 * 86_400 - 5..=7 * 86_400 + 5).contains(&week),
        "default 7 days, got {week}s"
    );
    let (_, other) = token();
    assert!(s.validate_session(&other).await.unwrap().is_none());
    let ev = events_of(&s, "session_created").await;
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0].resource_id.as_deref(), Some(sid.to_string().as_str()));
}

#[tokio::test]
async fn create_session_refuses_unknown_disabled_and_duplicate() {
    let s = store().await;
    let (_, h) = token();
    assert!(matches!(
        s.create_session(UserId::new(), &h, None, None, None).await,
        Err(StoreError::NotFound { entity: "user" })
    ));
    let uid = s.create_user("x@example.com", None).await.unwrap();
    s.create_session(uid, &h, None, None, None).await.unwrap();
    assert!(matches!(
        s.create_session(uid, &h, None, None, None).await,
        Err(StoreError::AlreadyExists {
            field: "token_hash"
        })
    ));
    let (_, h2) = token();
    assert_invalid(
        s.create_session(uid, &h2, Some(Duration::ZERO), None, None)
            .await,
        "expires_in",
    );
    // beyond any sane lifetime (and PostgreSQL's timestamp range): typed, not a driver error
    let millennia = Duration::from_secs(300_000 * 365 * 86_400);
    assert_invalid(
        s.create_session(uid, &h2, Some(millennia), None, None)
            .await,
        "expires_in",
    );
    assert_invalid(s.extend_session(&h, Some(millennia)).await, "extend_by");
    s.disable_user(uid).await.unwrap();
    assert!(matches!(
        s.create_session(uid, &h2, None, None, None).await,
        Err(StoreError::UserDisabled)
    ));
}

#[tokio::test]
async fn expired_sessions_are_dead_and_cannot_be_extended() {
    let s = store().await;
    let uid = s.create_user("e@example.com", None).await.unwrap();
    let (_, h) = token();
    s.create_session(uid, &h, Some(Duration::from_millis(300)), None, None)
        .await
        .unwrap();
    assert!(s.validate_session(&h).await.unwrap().is_some());
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(s.validate_session(&h).await.unwrap().is_none());
    assert!(
        s.extend_session(&h, None).await.unwrap().is_none(),
        "never revives"
    );
    assert!(s.validate_session(&h).await.unwrap().is_none());
    assert!(
        !s.revoke_session(&h).await.unwrap(),
        "nothing active to revoke"
    );
    assert!(s.list_sessions(uid).await.unwrap().is_empty());
}

#[tokio::test]
async fn extend_never_shortens_and_audits_only_real_moves() {
    let s = store().await;
    let uid = s.create_user("x@example.com", None).await.unwrap();
    let (_, h) = token();
    s.create_session(uid, &h, Some(Duration::from_secs(3600)), None, None)
        .await
        .unwrap();
    let before = s.validate_session(&h).await.unwrap().unwrap().expires_at;

    // shorter than what is left: unchanged
    let same = s
        .extend_session(&h, Some(Duration::from_secs(60)))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(same, before);
    assert!(events_of(&s, "session_extended").await.is_empty());

    let later = s
        .extend_session(&h, Some(Duration::from_secs(7200)))
        .await
        .unwrap()
        .unwrap();
    assert!(later > before);
    let in_2h = Utc::now() + chrono::Duration::hours(2);
    assert!((later - in_2h).num_seconds().abs() < 5);
    assert_eq!(
        s.validate_session(&h).await.unwrap().unwrap().expires_at,
        later
    );
    let ev = events_of(&s, "session_extended").await;
    assert_eq!(ev.len(), 1);
    assert!(ev[0].old_values.is_some() && ev[0].new_values.is_some());

    // default extension: the session lifetime (7 days)
    let week = s.extend_session(&h, None).await.unwrap().unwrap();
    assert!((week - Utc::now()).num_days() == 6 || (week - Utc::now()).num_days() == 7);
    assert_invalid(
        s.extend_session(&h, Some(Duration::ZERO)).await,
        "extend_by",
    );

    // revoked and disabled-user sessions are never extended
    s.revoke_session(&h).await.unwrap();
    assert!(s.extend_session(&h, None).await.unwrap().is_none());
    let (_, h2) = token();
    s.create_session(uid, &h2, None, None, None).await.unwrap();
    s.disable_user(uid).await.unwrap();
    s.enable_user(uid).await.unwrap();
    assert!(s.extend_session(&h2, None).await.unwrap().is_none());
}

#[tokio::test]
async fn revoke_one_all_and_by_id() {
    let s = store().await;
    let uid = s.create_user("r@example.com", None).await.unwrap();
    let other = s.create_user("o@example.com", None).await.unwrap();
    let mut hashes = Vec::new();
    for _ in 0..3 {
        let (_, h) = token();
        s.create_session(uid, &h, None, None, None).await.unwrap();
        hashes.push(h);
    }
    let (_, oh) = token();
    let other_sid = s
        .create_session(other, &oh, None, None, None)
        .await
        .unwrap();

    assert!(s.revoke_session(&hashes[0]).await.unwrap());
    assert!(!s.revoke_session(&hashes[0]).await.unwrap());
    assert!(s.validate_session(&hashes[0]).await.unwrap().is_none());

    // by id: only the owner's session
    assert!(!s.revoke_session_by_id(uid, other_sid).await.unwrap());
    assert!(s.validate_session(&oh).await.unwrap().is_some());
    let sid1 = s
        .validate_session(&hashes[1])
        .await
        .unwrap()
        .unwrap()
        .session_id;
    assert!(s.revoke_session_by_id(uid, sid1).await.unwrap());
    assert!(!s.revoke_session_by_id(uid, SessionId::new()).await.unwrap());

    assert_eq!(s.revoke_all_sessions(uid).await.unwrap(), 1);
    assert_eq!(s.revoke_all_sessions(uid).await.unwrap(), 0);
    assert!(hashes.iter().all(|_| true));
    for h in &hashes {
        assert!(s.validate_session(h).await.unwrap().is_none());
    }
    assert!(
        s.validate_session(&oh).await.unwrap().is_some(),
        "other user untouched"
    );
    assert_eq!(events_of(&s, "session_revoked").await.len(), 2);
    let all = events_of(&s, "sessions_revoked_all").await;
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].new_values.as_ref().unwrap()["revoked"], 1);
}

#[tokio::test]
async fn list_sessions_newest_first_with_client_details_and_no_hash() {
    let s = store().await;
    let uid = s.create_user("l@example.com", None).await.unwrap();
    let v4: IpAddr = "203.0.113.7".parse().unwrap();
    let v6: IpAddr = "2001:db8::42".parse().unwrap();
    let (_, h1) = token();
    let first = s
        .create_session(uid, &h1, None, Some(v4), Some("curl/8.0"))
        .await
        .unwrap();
    let (_, h2) = token();
    let second = s
        .create_session(uid, &h2, None, Some(v6), Some("  Firefox\u{0}/1 \n"))
        .await
        .unwrap();
    let (_, h3) = token();
    let long_ua = "x".repeat(2000);
    let third = s
        .create_session(uid, &h3, None, None, Some(&long_ua))
        .await
        .unwrap();
    let (_, h4) = token();
    s.create_session(uid, &h4, None, None, None).await.unwrap();
    s.revoke_session(&h4).await.unwrap();

    let list = s.list_sessions(uid).await.unwrap();
    let ids: Vec<_> = list.iter().map(|x| x.id).collect();
    assert_eq!(
        ids,
        [third, second, first],
        "newest first, revoked excluded"
    );
    assert_eq!(list[2].ip_address, Some(v4));
    assert_eq!(list[2].user_agent.as_deref(), Some("curl/8.0"));
    assert_eq!(list[1].ip_address, Some(v6));
    assert_eq!(
        list[1].user_agent.as_deref(),
        Some("Firefox/1"),
        "control chars dropped"
    );
    assert_eq!(
        list[0].user_agent.as_ref().map(String::len),
        Some(512),
        "cut to 512 bytes"
    );
    let json = serde_json::to_string(&list).unwrap();
    for h in [&h1, &h2, &h3] {
        assert!(!json.contains(h.as_str()), "no token hash in listings");
    }
    assert!(s.list_sessions(UserId::new()).await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_extend_and_revoke_never_resurrect() {
    let s = store_with(Default::default(), 16).await;
    let uid = s.create_user("race@example.com", None).await.unwrap();
    for _ in 0..10 {
        let (_, h) = token();
        s.create_session(uid, &h, Some(Duration::from_secs(60)), None, None)
            .await
            .unwrap();
        let mut tasks = Vec::new();
        for i in 0..8 {
            let (s, h) = (s.clone(), h.clone());
            tasks.push(tokio::spawn(async move {
                if i == 4 {
                    s.revoke_session(&h).await.map(|_| ())
                } else {
                    s.extend_session(&h, Some(Duration::from_secs(3600)))
                        .await
                        .map(|_| ())
                }
            }));
        }
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        assert!(
            s.validate_session(&h).await.unwrap().is_none(),
            "revoked stays revoked"
        );
        assert!(s.extend_session(&h, None).await.unwrap().is_none());
    }
}
