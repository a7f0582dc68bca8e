//! One-time tokens (`TokenStore`): single use, also under concurrency;
//! typed; expiring; bound to the address they were issued to; dead for
//! disabled users; every consumption audited.

use std::sync::Arc;
use std::time::Duration;

use authn_core::store::{AuditStore, TokenStore, UserStore};
use authn_core::{StoreError, StoreResult, TokenType, UserId};
use chrono::{DateTime, Utc};

use crate::Harness;
use crate::support::*;
/// `consume_token` returns the user and email exactly once and audits it.
pub async fn consume_returns_user_and_email_exactly_once<H: Harness>(h: &H) {
    let s = h.store().await;
    let id = s.create_user("Tok@Example.com", None).await.unwrap();
    let (raw, h) = token();
    let tid = s
        .create_token(id, &h, TokenType::PasswordReset, None)
        .await
        .unwrap();

    // another namespace does not know the token and cannot use it up
    let elsewhere = elsewhere(&s);
    assert!(
        elsewhere
            .consume_token(&h, TokenType::PasswordReset)
            .await
            .unwrap()
            .is_none()
    );
    let c = s
        .consume_token(&h, TokenType::PasswordReset)
        .await
        .unwrap()
        .expect("first consume succeeds");
    assert_eq!(c.token_id, tid);
    assert_eq!(c.user_id, id);
    assert_eq!(c.email.as_str(), "tok@example.com");

    assert!(
        s.consume_token(&h, TokenType::PasswordReset)
            .await
            .unwrap()
            .is_none(),
        "a token is single-use"
    );
    // the raw token is not its hash: looking up the raw value finds nothing
    let raw_as_hash = authn_core::TokenHash::parse(&raw).unwrap();
    assert!(
        s.consume_token(&raw_as_hash, TokenType::PasswordReset)
            .await
            .unwrap()
            .is_none()
    );
    let (_, unknown) = token();
    assert!(
        s.consume_token(&unknown, TokenType::PasswordReset)
            .await
            .unwrap()
            .is_none()
    );

    let ev = events_of(&s, "token_consumed").await;
    assert_eq!(ev.len(), 1, "only the successful consume is audited");
    assert_eq!(ev[0].resource_type.as_deref(), Some("token"));
    assert_eq!(ev[0].resource_id, Some(tid.to_string()));
    let nv = ev[0].new_values.as_ref().unwrap();
    assert_eq!(nv["user_id"], id.to_string());
    assert_eq!(nv["token_type"], "password_reset");
}

/// Consuming with the wrong type does not use the token up.
pub async fn wrong_type_does_not_use_the_token_up<H: Harness>(h: &H) {
    let s = h.store().await;
    let id = s.create_user("type@example.com", None).await.unwrap();
    let (_, h) = token();
    s.create_token(id, &h, TokenType::MagicLink, None)
        .await
        .unwrap();

    for wrong in [TokenType::PasswordReset, TokenType::EmailVerify] {
        assert!(s.consume_token(&h, wrong).await.unwrap().is_none());
    }
    assert!(
        s.verify_email(&h).await.unwrap().is_none(),
        "a magic link cannot verify an email"
    );
    assert!(
        s.get_user(id)
            .await
            .unwrap()
            .unwrap()
            .email_verified_at
            .is_none()
    );
    let c = s
        .consume_token(&h, TokenType::MagicLink)
        .await
        .unwrap()
        .expect("the right type still works after wrong-type attempts");
    assert_eq!(c.user_id, id);
    assert!(events_of(&s, "email_verified").await.is_empty());
}

/// Expired tokens do not consume; a zero lifetime is `InvalidInput`.
pub async fn expired_tokens_do_not_consume_and_zero_lifetime_is_invalid<H: Harness>(h: &H) {
    let s = h.store().await;
    let id = s.create_user("exp@example.com", None).await.unwrap();
    let (_, h) = token();
    s.create_token(
        id,
        &h,
        TokenType::MagicLink,
        Some(Duration::from_millis(300)),
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        s.consume_token(&h, TokenType::MagicLink)
            .await
            .unwrap()
            .is_none(),
        "expired"
    );

    let (_, h2) = token();
    assert_invalid(
        s.create_token(id, &h2, TokenType::MagicLink, Some(Duration::ZERO))
            .await,
        "expires_in",
    );
    // nothing was created by the rejected call
    assert_eq!(events_of(&s, "token_created").await.len(), 1);
}

/// The `expires_at` written into the `token_created` event of `token_id`.
async fn audited_expiry<S: AuditStore>(s: &S, token_id: authn_core::TokenId) -> DateTime<Utc> {
    let ev = events_of(s, "token_created").await;
    let e = ev
        .iter()
        .find(|e| e.resource_id.as_deref() == Some(token_id.to_string().as_str()))
        .expect("token_created event");
    let v = e.new_values.as_ref().unwrap();
    serde_json::from_value(v["expires_at"].clone()).unwrap()
}

/// Tokens get their type's default lifetime unless one is given.
pub async fn default_lifetimes_per_type<H: Harness>(h: &H) {
    let s = h.store().await;
    let id = s.create_user("life@example.com", None).await.unwrap();
    for (tt, expected) in [
        (TokenType::PasswordReset, Duration::from_secs(3600)),
        (TokenType::EmailVerify, Duration::from_secs(24 * 3600)),
        (TokenType::MagicLink, Duration::from_secs(15 * 60)),
    ] {
        let (_, h) = token();
        let before = Utc::now();
        let tid = s.create_token(id, &h, tt, None).await.unwrap();
        let after = Utc::now();
        let exp = audited_expiry(&s, tid).await;
        let expected = chrono::Duration::from_std(expected).unwrap();
        let slack = chrono::Duration::seconds(5);
        assert!(
            exp >= before + expected - slack && exp <= after + expected + slack,
            "{tt}: expires_at {exp} not about now + {expected}"
        );
        let ev = events_of(&s, "token_created").await;
        let nv = ev[0].new_values.as_ref().unwrap();
        assert_eq!(nv["token_type"], tt.as_str());
        assert_eq!(nv["user_id"], id.to_string());
    }
    // an explicit lifetime wins over the default
    let (_, h) = token();
    let before = Utc::now();
    let tid = s
        .create_token(
            id,
            &h,
            TokenType::EmailVerify,
            Some(Duration::from_secs(120)),
        )
        .await
        .unwrap();
    let exp = audited_expiry(&s, tid).await;
    let d = exp - before;
    assert!(
        d > chrono::Duration::seconds(115) && d < chrono::Duration::seconds(125),
        "{d}"
    );
}

/// Of 50 concurrent consumers of one token exactly one wins.
pub async fn concurrent_consumers_exactly_one_wins<H: Harness>(h: &H) {
    let s = h
        .store_with(authn_core::StorePolicy::default(), RACE_CONNECTIONS)
        .await;
    let peers = peers(h, &s).await;
    let id = s.create_user("race@example.com", None).await.unwrap();
    let (_, h) = token();
    s.create_token(id, &h, TokenType::MagicLink, None)
        .await
        .unwrap();

    let n = 50;
    let barrier = Arc::new(tokio::sync::Barrier::new(n));
    let mut tasks = Vec::new();
    for i in 0..n {
        let s = peers[i % peers.len()].clone();
        let h = h.clone();
        let barrier = barrier.clone();
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            s.consume_token(&h, TokenType::MagicLink).await
        }));
    }
    let mut results: Vec<StoreResult<_>> = Vec::new();
    for t in tasks {
        results.push(t.await.unwrap());
    }
    let wins: Vec<_> = results
        .into_iter()
        .filter_map(|r| r.expect("no consumer fails"))
        .collect();
    assert_eq!(
        wins.len(),
        1,
        "exactly one of {n} concurrent consumers wins"
    );
    assert_eq!(wins[0].user_id, id);
    assert_eq!(events_of(&s, "token_consumed").await.len(), 1);
}

/// A disabled user's tokens stay dead after `enable_user`.
pub async fn disabled_users_tokens_are_dead_for_good<H: Harness>(h: &H) {
    let s = h.store().await;
    let id = s.create_user("dis@example.com", None).await.unwrap();
    let (_, h) = token();
    s.create_token(id, &h, TokenType::PasswordReset, None)
        .await
        .unwrap();
    assert!(s.disable_user(id).await.unwrap());
    assert!(
        s.consume_token(&h, TokenType::PasswordReset)
            .await
            .unwrap()
            .is_none()
    );
    assert!(s.enable_user(id).await.unwrap());
    assert!(
        s.consume_token(&h, TokenType::PasswordReset)
            .await
            .unwrap()
            .is_none(),
        "a token issued before a disable stays dead after enable"
    );
    assert!(events_of(&s, "token_consumed").await.is_empty());
    // a token issued after the enable works
    let (_, fresh) = token();
    s.create_token(id, &fresh, TokenType::PasswordReset, None)
        .await
        .unwrap();
    assert!(
        s.consume_token(&fresh, TokenType::PasswordReset)
            .await
            .unwrap()
            .is_some()
    );
}

/// `create_token` errors are typed: unknown or foreign user, disabled user, taken hash.
pub async fn create_token_errors_are_typed<H: Harness>(h: &H) {
    let s = h.store().await;
    let (_, h) = token();
    assert!(matches!(
        s.create_token(UserId::new(), &h, TokenType::MagicLink, None)
            .await,
        Err(StoreError::NotFound { entity: "user" })
    ));

    let dis = s.create_user("off@example.com", None).await.unwrap();
    assert!(s.disable_user(dis).await.unwrap());
    assert!(matches!(
        s.create_token(dis, &h, TokenType::MagicLink, None).await,
        Err(StoreError::UserDisabled)
    ));

    let id = s.create_user("on@example.com", None).await.unwrap();
    s.create_token(id, &h, TokenType::MagicLink, None)
        .await
        .unwrap();
    // the same hash again, even with another type or user: AlreadyExists
    let other = s.create_user("on2@example.com", None).await.unwrap();
    for (uid, tt) in [
        (id, TokenType::MagicLink),
        (id, TokenType::PasswordReset),
        (other, TokenType::EmailVerify),
    ] {
        match s.create_token(uid, &h, tt, None).await {
            Err(StoreError::AlreadyExists { field }) => assert_eq!(field, "token_hash"),
            other => panic!("expected AlreadyExists(token_hash), got {other:?}"),
        }
    }
    // a user of another namespace is unknown here
    let elsewhere = elsewhere(&s);
    let (_, h2) = token();
    assert!(matches!(
        elsewhere
            .create_token(id, &h2, TokenType::MagicLink, None)
            .await,
        Err(StoreError::NotFound { entity: "user" })
    ));
    assert_eq!(events_of(&s, "token_created").await.len(), 1);
}

/// `verify_email` sets `email_verified_at` and is single use.
pub async fn verify_email_sets_verified_and_is_single_use<H: Harness>(h: &H) {
    let s = h.store().await;
    let id = s.create_user("ver@example.com", None).await.unwrap();
    let (_, h) = token();
    let tid = s
        .create_token(id, &h, TokenType::EmailVerify, None)
        .await
        .unwrap();
    assert!(
        s.get_user(id)
            .await
            .unwrap()
            .unwrap()
            .email_verified_at
            .is_none()
    );
    let c = s.verify_email(&h).await.unwrap().expect("verifies");
    assert_eq!(
        (c.token_id, c.user_id, c.email.as_str()),
        (tid, id, "ver@example.com")
    );
    let u = s.get_user(id).await.unwrap().unwrap();
    assert!(u.email_verified_at.is_some());
    assert!(s.verify_email(&h).await.unwrap().is_none(), "single use");
    assert!(
        s.consume_token(&h, TokenType::EmailVerify)
            .await
            .unwrap()
            .is_none()
    );

    let ev = events_of(&s, "email_verified").await;
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0].resource_id, Some(id.to_string()));
    assert_eq!(
        ev[0].new_values.as_ref().unwrap()["email"],
        "ver@example.com"
    );
    assert_eq!(events_of(&s, "token_consumed").await.len(), 1);
}

/// Tokens are bound to the address they were issued for.
pub async fn tokens_are_bound_to_the_address_they_were_issued_for<H: Harness>(h: &H) {
    let s = h.store().await;
    let id = s.create_user("old@example.com", None).await.unwrap();
    let (_, verify) = token();
    s.create_token(id, &verify, TokenType::EmailVerify, None)
        .await
        .unwrap();
    let (_, reset) = token();
    s.create_token(id, &reset, TokenType::PasswordReset, None)
        .await
        .unwrap();
    let (_, magic) = token();
    s.create_token(id, &magic, TokenType::MagicLink, None)
        .await
        .unwrap();

    assert!(s.update_email(id, "new@example.com").await.unwrap());

    assert!(
        s.verify_email(&verify).await.unwrap().is_none(),
        "an old verify token must not verify the new address"
    );
    assert!(
        s.get_user(id)
            .await
            .unwrap()
            .unwrap()
            .email_verified_at
            .is_none()
    );
    assert!(
        s.consume_token(&reset, TokenType::PasswordReset)
            .await
            .unwrap()
            .is_none(),
        "an old reset token must not work after an email change"
    );
    assert!(
        s.consume_token(&magic, TokenType::MagicLink)
            .await
            .unwrap()
            .is_none()
    );
    assert!(events_of(&s, "email_verified").await.is_empty());
    assert!(events_of(&s, "token_consumed").await.is_empty());

    // a token issued after the change is bound to the new address and works
    let (_, fresh) = token();
    s.create_token(id, &fresh, TokenType::EmailVerify, None)
        .await
        .unwrap();
    let c = s.verify_email(&fresh).await.unwrap().unwrap();
    assert_eq!(c.email.as_str(), "new@example.com");
    assert!(
        s.get_user(id)
            .await
            .unwrap()
            .unwrap()
            .email_verified_at
            .is_some()
    );
}

/// `invalidate_tokens` kills and counts only live tokens of that user and type.
pub async fn invalidate_tokens_counts_only_live_tokens_of_that_type<H: Harness>(h: &H) {
    let s = h.store().await;
    let id = s.create_user("inv@example.com", None).await.unwrap();
    let other = s.create_user("inv2@example.com", None).await.unwrap();
    let (_, r1) = token();
    let (_, r2) = token();
    let (_, used) = token();
    let (_, expired) = token();
    let (_, magic) = token();
    let (_, others_reset) = token();
    for h in [&r1, &r2, &used] {
        s.create_token(id, h, TokenType::PasswordReset, None)
            .await
            .unwrap();
    }
    s.create_token(
        id,
        &expired,
        TokenType::PasswordReset,
        Some(Duration::from_millis(200)),
    )
    .await
    .unwrap();
    s.create_token(id, &magic, TokenType::MagicLink, None)
        .await
        .unwrap();
    s.create_token(other, &others_reset, TokenType::PasswordReset, None)
        .await
        .unwrap();
    assert!(
        s.consume_token(&used, TokenType::PasswordReset)
            .await
            .unwrap()
            .is_some()
    );
    tokio::time::sleep(Duration::from_millis(400)).await;

    assert_eq!(
        s.invalidate_tokens(id, TokenType::PasswordReset)
            .await
            .unwrap(),
        2
    );
    for h in [&r1, &r2] {
        assert!(
            s.consume_token(h, TokenType::PasswordReset)
                .await
                .unwrap()
                .is_none()
        );
    }
    assert!(
        s.consume_token(&magic, TokenType::MagicLink)
            .await
            .unwrap()
            .is_some(),
        "other types are untouched"
    );
    assert!(
        s.consume_token(&others_reset, TokenType::PasswordReset)
            .await
            .unwrap()
            .is_some(),
        "other users are untouched"
    );

    let ev = events_of(&s, "tokens_invalidated").await;
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0].resource_type.as_deref(), Some("user"));
    assert_eq!(ev[0].resource_id, Some(id.to_string()));
    let nv = ev[0].new_values.as_ref().unwrap();
    assert_eq!(nv["count"], 2);
    assert_eq!(nv["token_type"], "password_reset");

    // nothing left: zero, and no event for nothing
    assert_eq!(
        s.invalidate_tokens(id, TokenType::PasswordReset)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        s.invalidate_tokens(UserId::new(), TokenType::MagicLink)
            .await
            .unwrap(),
        0
    );
    assert_eq!(events_of(&s, "tokens_invalidated").await.len(), 1);
}
