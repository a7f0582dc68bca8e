//! Audit (`AuditStore` and the actor context of `StoreHandle`): who acted
//! is written into every event, filters and keyset pagination, and no
//! secret ever written into an event.

use std::collections::HashSet;
use std::time::Duration;

use authn_core::store::{
    AuditStore, LoginAttemptStore, MaintenanceStore, MfaStore, SessionStore, StoreHandle,
    TokenStore, UserStore,
};
use authn_core::{Actor, AuditEvent, AuditQuery, MfaSecret, MfaType, TokenType, UserId};

use crate::Harness;
use crate::support::*;
/// Every audit event of the handle's namespace, newest first.
async fn all_events<S: AuditStore>(s: &S) -> Vec<AuditEvent> {
    query(s, AuditQuery::default()).await
}

/// The events matching `q`, which all fit one page.
async fn query<S: AuditStore>(s: &S, q: AuditQuery) -> Vec<AuditEvent> {
    let page = s
        .get_audit_events(&AuditQuery {
            limit: Some(1000),
            ..q
        })
        .await
        .unwrap();
    assert!(page.next_cursor.is_none(), "fits one page");
    page.items
}

/// Asserts events are sorted newest first.
#[track_caller]
fn assert_newest_first(events: &[AuditEvent]) {
    assert!(
        events
            .windows(2)
            .all(|w| w[0].id > w[1].id && w[0].occurred_at >= w[1].occurred_at),
        "newest first"
    );
}

/// The actor context is written into audit events, and after `clear_actor` its fields are absent.
pub async fn actor_context_is_written_into_events_and_clears_to_none<H: Harness>(h: &H) {
    let mut s = h.store().await;
    s.set_actor(
        Actor::new("user:admin-bob")
            .unwrap()
            .request_id("req-1")
            .unwrap()
            .ip_address("10.0.0.1")
            .unwrap()
            .user_agent("ua")
            .on_behalf_of("user:customer-alice")
            .unwrap()
            .reason("support_ticket:12345")
            .unwrap(),
    );
    let id = s.create_user("acted@example.com", None).await.unwrap();
    let ev = events_of(&s, "user_created").await;
    assert_eq!(ev.len(), 1);
    let e = &ev[0];
    assert_eq!(e.namespace, s.current_namespace().as_str());
    assert_eq!(e.actor_id.as_deref(), Some("user:admin-bob"));
    assert_eq!(e.request_id.as_deref(), Some("req-1"));
    assert_eq!(e.ip_address, Some("10.0.0.1".parse().unwrap()));
    assert_eq!(e.user_agent.as_deref(), Some("ua"));
    assert_eq!(e.on_behalf_of.as_deref(), Some("user:customer-alice"));
    assert_eq!(e.reason.as_deref(), Some("support_ticket:12345"));
    assert_eq!(e.resource_type.as_deref(), Some("user"));
    assert_eq!(e.resource_id, Some(id.to_string()));
    assert!(e.old_values.is_none());
    let nv = e.new_values.as_ref().unwrap();
    assert_eq!(nv["email"], "acted@example.com");
    assert_eq!(nv["has_password"], false);
    let age = chrono::Utc::now() - e.occurred_at;
    assert!(age < chrono::Duration::seconds(30) && age > chrono::Duration::seconds(-30));

    s.clear_actor();
    assert!(s.actor().is_none());
    let id2 = s.create_user("anon@example.com", None).await.unwrap();
    let ev = events_of(&s, "user_created").await;
    assert_eq!(ev.len(), 2);
    let e = &ev[0];
    assert_eq!(e.resource_id, Some(id2.to_string()));
    assert_eq!(
        (
            &e.actor_id,
            &e.request_id,
            &e.ip_address,
            &e.user_agent,
            &e.on_behalf_of,
            &e.reason
        ),
        (&None, &None, &None, &None, &None, &None),
        "no actor: absent fields, not empty strings"
    );
    assert_eq!(e.namespace, s.current_namespace().as_str());
    // an IPv6 actor address round-trips
    s.set_actor(
        Actor::new("svc")
            .unwrap()
            .ip_address(" 2001:db8::7 ")
            .unwrap(),
    );
    s.create_user("v6@example.com", None).await.unwrap();
    let e = &events_of(&s, "user_created").await[0];
    assert_eq!(e.ip_address, Some("2001:db8::7".parse().unwrap()));
    assert_eq!(e.actor_id.as_deref(), Some("svc"));
    assert_eq!(e.request_id, None);
}

/// `with_actor` returns a copy carrying the actor and leaves the original handle alone.
pub async fn with_actor_returns_a_copy_and_leaves_the_original_alone<H: Harness>(h: &H) {
    let mut s = h.store().await;
    s.clear_actor();
    let agent = s.with_actor(Actor::new("agent:support-bot").unwrap());
    assert!(s.actor().is_none(), "the original handle is unchanged");
    assert_eq!(agent.actor().unwrap().actor_id, "agent:support-bot");
    assert_eq!(agent.current_namespace(), s.current_namespace());

    agent.create_user("copy@example.com", None).await.unwrap();
    s.create_user("orig@example.com", None).await.unwrap();
    let ev = events_of(&s, "user_created").await;
    let actors: Vec<_> = ev.iter().map(|e| e.actor_id.as_deref()).collect();
    assert_eq!(actors, [None, Some("agent:support-bot")]);
}

/// Builds a small history: two actors, two users, a session and a token.
/// Returns (alice-handle, bob-handle, user a, user b).
async fn history<S: StoreHandle>(s: &S) -> (S, S, UserId, UserId) {
    let alice = s.with_actor(Actor::new("user:alice").unwrap());
    let bob = s.with_actor(Actor::new("user:bob").unwrap());
    let a = alice.create_user("a@example.com", None).await.unwrap(); // 1
    let b = bob.create_user("b@example.com", None).await.unwrap(); // 2
    let (_, sess) = token();
    alice
        .create_session(a, &sess, None, None, None)
        .await
        .unwrap(); // 3
    bob.update_email(a, "a2@example.com").await.unwrap(); // 4
    let (_, t) = token();
    alice
        .create_token(b, &t, TokenType::MagicLink, None)
        .await
        .unwrap(); // 5
    bob.consume_token(&t, TokenType::MagicLink)
        .await
        .unwrap()
        .unwrap(); // 6
    alice.disable_user(b).await.unwrap(); // 7
    bob.revoke_session(&sess).await.unwrap(); // 8
    (alice, bob, a, b)
}

/// Audit filters (type, resource, actor) return exactly the matching events, newest first.
pub async fn filters_return_exactly_the_matching_events_newest_first<H: Harness>(h: &H) {
    let s = h.store().await;
    let (_alice, _bob, a, b) = history(&s).await;
    let all = all_events(&s).await;
    assert_eq!(all.len(), 8);
    assert_newest_first(&all);
    let kinds: Vec<_> = all.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "session_revoked",
            "user_disabled",
            "token_consumed",
            "token_created",
            "user_email_updated",
            "session_created",
            "user_created",
            "user_created"
        ]
    );

    let created = query(
        &s,
        AuditQuery {
            event_type: Some("user_created".into()),
            ..Default::default()
        },
    )
    .await;
    let ids: Vec<_> = created.iter().map(|e| e.resource_id.clone()).collect();
    assert_eq!(ids, [Some(b.to_string()), Some(a.to_string())]);

    let on_a = query(
        &s,
        AuditQuery {
            resource_type: Some("user".into()),
            resource_id: Some(a.to_string()),
            ..Default::default()
        },
    )
    .await;
    let kinds: Vec<_> = on_a.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(kinds, ["user_email_updated", "user_created"]);
    let on_b = query(
        &s,
        AuditQuery {
            resource_type: Some("user".into()),
            resource_id: Some(b.to_string()),
            ..Default::default()
        },
    )
    .await;
    let kinds: Vec<_> = on_b.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(kinds, ["user_disabled", "user_created"]);
    let sessions = query(
        &s,
        AuditQuery {
            resource_type: Some("session".into()),
            ..Default::default()
        },
    )
    .await;
    let kinds: Vec<_> = sessions.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(kinds, ["session_revoked", "session_created"]);

    for (actor, expected) in [
        (
            "user:alice",
            [
                "user_disabled",
                "token_created",
                "session_created",
                "user_created",
            ],
        ),
        (
            "user:bob",
            [
                "session_revoked",
                "token_consumed",
                "user_email_updated",
                "user_created",
            ],
        ),
    ] {
        let by = query(
            &s,
            AuditQuery {
                actor_id: Some(actor.into()),
                ..Default::default()
            },
        )
        .await;
        let kinds: Vec<_> = by.iter().map(|e| e.event_type.as_str()).collect();
        assert_eq!(kinds, expected, "{actor}");
        assert!(by.iter().all(|e| e.actor_id.as_deref() == Some(actor)));
    }
    // filters combine with AND
    let both = query(
        &s,
        AuditQuery {
            actor_id: Some("user:bob".into()),
            event_type: Some("user_created".into()),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(both.len(), 1);
    assert_eq!(both[0].resource_id, Some(b.to_string()));
    assert!(
        query(
            &s,
            AuditQuery {
                actor_id: Some("user:nobody".into()),
                ..Default::default()
            }
        )
        .await
        .is_empty()
    );
    // another namespace sees none of it
    let other = elsewhere(&s);
    assert!(all_events(&other).await.is_empty());
}

/// Audit pagination walks every event exactly once, in order, keeping the filter.
pub async fn pagination_walks_every_event_exactly_once<H: Harness>(h: &H) {
    let s = h.store().await;
    history(&s).await;
    let all = all_events(&s).await;
    assert_eq!(all.len(), 8);

    let mut seen = Vec::new();
    let mut sizes = Vec::new();
    let mut cursor = None;
    loop {
        let page = s
            .get_audit_events(&AuditQuery {
                limit: Some(3),
                cursor: cursor.clone(),
                ..Default::default()
            })
            .await
            .unwrap();
        sizes.push(page.items.len());
        seen.extend(page.items.into_iter().map(|e| e.id));
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(sizes, [3, 3, 2]);
    assert_eq!(
        seen,
        all.iter().map(|e| e.id).collect::<Vec<_>>(),
        "same order, no duplicates, none missing"
    );
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 8);

    // pagination keeps the filter
    let first = s
        .get_audit_events(&AuditQuery {
            limit: Some(1),
            resource_type: Some("user".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let second = s
        .get_audit_events(&AuditQuery {
            limit: Some(10),
            resource_type: Some("user".into()),
            cursor: first.next_cursor.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(first.items.len() + second.items.len(), 4);
    assert!(second.next_cursor.is_none());
    assert!(
        second
            .items
            .iter()
            .all(|e| e.resource_type.as_deref() == Some("user"))
    );

    // an exact fit has no next page
    let exact = s
        .get_audit_events(&AuditQuery {
            limit: Some(8),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!((exact.items.len(), exact.next_cursor), (8, None));
    // the default page size (100) holds them all
    let default = s.get_audit_events(&AuditQuery::default()).await.unwrap();
    assert_eq!(default.items.len(), 8);
}

/// A zero audit limit or a bad cursor is `InvalidInput`; big limits are clamped.
pub async fn limits_and_cursors_are_validated<H: Harness>(h: &H) {
    let s = h.store().await;
    history(&s).await;
    assert_invalid(
        s.get_audit_events(&AuditQuery {
            limit: Some(0),
            ..Default::default()
        })
        .await,
        "limit",
    );
    for bad in ["garbage", "", "12345", "not-a-uuid-at-all"] {
        assert_invalid(
            s.get_audit_events(&AuditQuery {
                cursor: Some(bad.into()),
                ..Default::default()
            })
            .await,
            "cursor",
        );
    }
    for big in [1001, 5000, u32::MAX] {
        let page = s
            .get_audit_events(&AuditQuery {
                limit: Some(big),
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(page.items.len(), 8, "clamped, not an error");
        assert!(page.next_cursor.is_none());
    }
}

/// No password hash, token, token hash or MFA secret ever reaches an audit event.
pub async fn no_secret_ever_reaches_an_audit_event<H: Harness>(h: &H) {
    let s = h
        .store_with(
            authn_core::StorePolicy {
                lockout_max_attempts: 2,
                ..authn_core::StorePolicy::default()
            },
            4,
        )
        .await;
    let pw1 = phc("first-password-hash-tag");
    let pw2 = phc("second-password-hash-tag");
    let mfa = "MFA-SECRET-JBSWY3DPEHPK3PXP";
    let mut raw_tokens = Vec::new();
    let mut hashes = Vec::new();
    let mut tok = || {
        let (raw, h) = token();
        raw_tokens.push(raw);
        hashes.push(h.as_str().to_owned());
        h
    };

    let id = s
        .create_user("secret@example.com", Some(&pw1))
        .await
        .unwrap();
    let sess = tok();
    s.create_session(
        id,
        &sess,
        None,
        Some("192.0.2.5".parse().unwrap()),
        Some("Mozilla"),
    )
    .await
    .unwrap();
    s.validate_session(&sess).await.unwrap().unwrap();
    s.extend_session(&sess, Some(Duration::from_secs(30 * 24 * 3600)))
        .await
        .unwrap()
        .unwrap();
    let sess2 = tok();
    s.create_session(id, &sess2, None, None, None)
        .await
        .unwrap();
    let verify = tok();
    s.create_token(id, &verify, TokenType::EmailVerify, None)
        .await
        .unwrap();
    s.verify_email(&verify).await.unwrap().unwrap();
    let reset = tok();
    s.create_token(id, &reset, TokenType::PasswordReset, None)
        .await
        .unwrap();
    s.consume_token(&reset, TokenType::PasswordReset)
        .await
        .unwrap()
        .unwrap();
    let magic = tok();
    s.create_token(id, &magic, TokenType::MagicLink, None)
        .await
        .unwrap();
    s.invalidate_tokens(id, TokenType::MagicLink).await.unwrap();
    let pending = tok();
    s.create_token(id, &pending, TokenType::PasswordReset, None)
        .await
        .unwrap();
    let secret = MfaSecret::parse(mfa).unwrap();
    let m = s
        .add_mfa(id, MfaType::Totp, &secret, Some("Phone"))
        .await
        .unwrap();
    s.get_mfa(id, MfaType::Totp).await.unwrap();
    s.record_mfa_use(m).await.unwrap();
    s.remove_mfa(m).await.unwrap();
    s.add_mfa(id, MfaType::RecoveryCodes, &secret, None)
        .await
        .unwrap();
    s.update_password(id, &pw2).await.unwrap();
    s.get_credentials("secret@example.com").await.unwrap();
    s.revoke_session(&sess).await.unwrap();
    s.revoke_all_sessions(id).await.unwrap();
    for _ in 0..3 {
        s.record_login_attempt("secret@example.com", false, None)
            .await
            .unwrap();
    }
    s.clear_attempts("secret@example.com").await.unwrap();
    s.update_email(id, "secret2@example.com").await.unwrap();
    s.disable_user(id).await.unwrap();
    s.enable_user(id).await.unwrap();
    s.cleanup_expired().await.unwrap();
    s.delete_user(id).await.unwrap();

    let events = all_events(&s).await;
    let kinds: HashSet<_> = events.iter().map(|e| e.event_type.as_str()).collect();
    for k in [
        "user_created",
        "session_created",
        "session_extended",
        "email_verified",
        "token_created",
        "token_consumed",
        "tokens_invalidated",
        "mfa_added",
        "mfa_used",
        "mfa_removed",
        "password_updated",
        "session_revoked",
        "sessions_revoked_all",
        "login_attempt_failed",
        "lockout_triggered",
        "login_attempts_cleared",
        "user_email_updated",
        "user_disabled",
        "user_enabled",
        "cleanup_completed",
        "user_deleted",
    ] {
        assert!(kinds.contains(k), "scenario wrote {k}");
    }

    let mut forbidden: Vec<String> = vec![
        pw1.as_str().to_owned(),
        pw2.as_str().to_owned(),
        "first-password-hash-tag".to_owned(),
        "second-password-hash-tag".to_owned(),
        mfa.to_owned(),
        "JBSWY3DPEHPK3PXP".to_owned(),
    ];
    forbidden.extend(hashes);
    forbidden.extend(raw_tokens);
    for e in &events {
        let values = format!(
            "{} {}",
            serde_json::to_string(&e.old_values).unwrap(),
            serde_json::to_string(&e.new_values).unwrap()
        );
        let whole = serde_json::to_string(e).unwrap();
        for f in &forbidden {
            assert!(
                !values.contains(f.as_str()),
                "{} old/new values leak a secret: {values}",
                e.event_type
            );
            assert!(
                !whole.contains(f.as_str()),
                "{} leaks a secret: {whole}",
                e.event_type
            );
        }
    }
}

/// Runs a failing operation and asserts it failed as `expected` says and
/// wrote no audit event.
macro_rules! fails_unaudited {
    ($s:expr, $what:literal, $op:expr, $expected:pat) => {{
        let before = all_events($s).await.len();
        let r = $op.await;
        assert!(matches!(r, $expected), "{}: unexpected result {r:?}", $what);
        assert_eq!(
            all_events($s).await.len(),
            before,
            "{}: a failed operation wrote an audit event",
            $what
        );
    }};
}

/// A failed operation writes no audit event.
///
/// Refused creations (duplicate or malformed email, unknown or disabled
/// user, taken hash), an email change to a taken address, MFA writes for an
/// unknown user, a rotation onto a taken hash and a finished permit: each
/// fails with its typed error and the audit log does not grow.
pub async fn a_failed_operation_writes_no_audit_event<H: Harness>(h: &H) {
    use authn_core::{NewSession, NewUser, SessionUpgrade, StoreError};
    let s = h.store().await;
    let uid = s.create_user("taken@example.com", None).await.unwrap();
    let other = s.create_user("other@example.com", None).await.unwrap();
    let off = s.create_user("off@example.com", None).await.unwrap();
    assert!(s.disable_user(off).await.unwrap());
    let (_, sess) = token();
    s.create_session_with(&NewSession {
        partial: true,
        ..NewSession::new(uid, sess.clone())
    })
    .await
    .unwrap();
    let (_, tok) = token();
    s.create_token(uid, &tok, TokenType::MagicLink, None)
        .await
        .unwrap();
    let unknown = UserId::new();
    let (_, fresh) = token();

    // users
    fails_unaudited!(
        &s,
        "duplicate create_user",
        s.create_user(" TAKEN@example.com", None),
        Err(StoreError::AlreadyExists { field: "email" })
    );
    fails_unaudited!(
        &s,
        "duplicate create_user_with",
        s.create_user_with(&NewUser {
            email: "taken@example.com".to_owned(),
            ..NewUser::default()
        }),
        Err(StoreError::AlreadyExists { field: "email" })
    );
    fails_unaudited!(
        &s,
        "malformed email",
        s.create_user("not-an-email", None),
        Err(StoreError::InvalidInput(_))
    );
    fails_unaudited!(
        &s,
        "update_email to a taken address",
        s.update_email(other, "Taken@example.com"),
        Err(StoreError::AlreadyExists { field: "email" })
    );
    assert_eq!(
        s.get_user(other).await.unwrap().unwrap().email.as_str(),
        "other@example.com"
    );

    // sessions
    fails_unaudited!(
        &s,
        "create_session for an unknown user",
        s.create_session(unknown, &fresh, None, None, None),
        Err(StoreError::NotFound { entity: "user" })
    );
    fails_unaudited!(
        &s,
        "create_session_with for an unknown user",
        s.create_session_with(&NewSession::new(unknown, fresh.clone())),
        Err(StoreError::NotFound { entity: "user" })
    );
    fails_unaudited!(
        &s,
        "create_session for a disabled user",
        s.create_session(off, &fresh, None, None, None),
        Err(StoreError::UserDisabled)
    );
    fails_unaudited!(
        &s,
        "create_session on a taken hash",
        s.create_session(other, &sess, None, None, None),
        Err(StoreError::AlreadyExists {
            field: "token_hash"
        })
    );
    fails_unaudited!(
        &s,
        "rotate_session onto a taken hash",
        s.rotate_session(&sess, &sess, &SessionUpgrade::default()),
        Err(StoreError::AlreadyExists {
            field: "token_hash"
        })
    );
    assert!(s.validate_session(&fresh).await.unwrap().is_none());

    // tokens
    fails_unaudited!(
        &s,
        "create_token for an unknown user",
        s.create_token(unknown, &fresh, TokenType::PasswordReset, None),
        Err(StoreError::NotFound { entity: "user" })
    );
    fails_unaudited!(
        &s,
        "create_token for a disabled user",
        s.create_token(off, &fresh, TokenType::PasswordReset, None),
        Err(StoreError::UserDisabled)
    );
    fails_unaudited!(
        &s,
        "create_token on a taken hash",
        s.create_token(other, &tok, TokenType::PasswordReset, None),
        Err(StoreError::AlreadyExists {
            field: "token_hash"
        })
    );

    // MFA
    fails_unaudited!(
        &s,
        "add_mfa for an unknown user",
        s.add_mfa(unknown, MfaType::Totp, &secret("S"), None),
        Err(StoreError::NotFound { entity: "user" })
    );
    fails_unaudited!(
        &s,
        "add_pending_mfa for an unknown user",
        s.add_pending_mfa(unknown, MfaType::Totp, &secret("S"), None),
        Err(StoreError::NotFound { entity: "user" })
    );
    fails_unaudited!(
        &s,
        "replace_recovery_codes for an unknown user",
        s.replace_recovery_codes(unknown, &[secret("C")]),
        Err(StoreError::NotFound { entity: "user" })
    );

    // a permit finished twice
    let permit = s
        .begin_login_attempt("taken@example.com", None)
        .await
        .unwrap();
    s.finish_login_attempt(&permit, true).await.unwrap();
    fails_unaudited!(
        &s,
        "finish_login_attempt of a finished permit",
        s.finish_login_attempt(&permit, false),
        Err(StoreError::NotFound {
            entity: "login_attempt"
        })
    );
}

#[cfg(test)]
mod tests {
    use authn_core::Actor;

    #[test]
    fn actor_ip_address_is_validated() {
        let e = Actor::new("x")
            .unwrap()
            .ip_address("not-an-ip")
            .unwrap_err();
        assert_eq!(e.field, "ip_address");
        assert!(
            !e.to_string().contains("not-an-ip"),
            "never echoes the value"
        );
        assert_eq!(
            Actor::new("x")
                .unwrap()
                .ip_address("10.0.0.256")
                .map_err(|e| e.field),
            Err("ip_address")
        );
        assert_eq!(Actor::new(" ").map_err(|e| e.field), Err("actor_id"));
        assert_eq!(
            Actor::new("x").unwrap().reason("").map_err(|e| e.field),
            Err("reason")
        );
        assert_eq!(Actor::new("x").unwrap().user_agent("  ").user_agent, None);
    }
}
