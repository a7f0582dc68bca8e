//! Sessions (`SessionStore`): creation, validation, extension that never
//! shortens or revives, revocation, the authentication context (partial
//! sessions, rotation, step-up), per-session second-factor attempts.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use authn_core::store::{LoginAttemptStore, SessionStore, UserStore};
use authn_core::{
    MfaReservation, NewSession, SessionId, SessionUpgrade, StoreError, StorePolicy, StoreResult,
    TokenHash, UserId,
};
use chrono::{DateTime, Utc};
use tokio::sync::Barrier;

use crate::Harness;
use crate::support::*;
/// `validate_session` returns the session and its user, with the default 7-day lifetime.
pub async fn validate_returns_the_session_and_its_user<H: Harness>(h: &H) {
    let s = h.store().await;
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
    // The event's values, times written as everywhere else (RFC 3339, `Z`).
    assert_eq!(
        ev[0].new_values,
        Some(serde_json::json!({
            "user_id": uid,
            "expires_at": v.expires_at,
            "ip_address": null,
            "user_agent": null,
            "partial": false,
            "amr": [],
            "acr": null,
        }))
    );
}

/// `create_session` refuses unknown and disabled users, taken hashes and bad lifetimes.
pub async fn create_session_refuses_unknown_disabled_and_duplicate<H: Harness>(h: &H) {
    let s = h.store().await;
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

/// Expired sessions do not validate, extend, or revoke.
pub async fn expired_sessions_are_dead_and_cannot_be_extended<H: Harness>(h: &H) {
    let s = h.store().await;
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

/// `extend_session` never shortens, never revives, and audits only real moves.
pub async fn extend_never_shortens_and_audits_only_real_moves<H: Harness>(h: &H) {
    let s = h.store().await;
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

/// Revocation by token, by id (owner only) and all-of-a-user, each audited.
pub async fn revoke_one_all_and_by_id<H: Harness>(h: &H) {
    let s = h.store().await;
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

/// `list_sessions` lists active sessions newest first with client details, never a hash.
pub async fn list_sessions_newest_first_with_client_details_and_no_hash<H: Harness>(h: &H) {
    let s = h.store().await;
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

/// Concurrent extends never resurrect a concurrently revoked session.
pub async fn concurrent_extend_and_revoke_never_resurrect<H: Harness>(h: &H) {
    let s = h.store_with(Default::default(), RACE_CONNECTIONS).await;
    let peers = peers(h, &s).await;
    let uid = s.create_user("race@example.com", None).await.unwrap();
    for _ in 0..10 {
        let (_, h) = token();
        s.create_session(uid, &h, Some(Duration::from_secs(60)), None, None)
            .await
            .unwrap();
        let mut tasks = Vec::new();
        for i in 0..8 {
            let (s, h) = (peers[i % peers.len()].clone(), h.clone());
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
        assert!(
            s.list_sessions(uid).await.unwrap().is_empty(),
            "not listed as active"
        );
    }
}

/// Asserts a database time is the current time (same host: a few seconds of slack).
#[track_caller]
fn assert_near_now(t: DateTime<Utc>, what: &str) {
    let off = (Utc::now() - t).num_milliseconds().abs();
    assert!(off < 5_000, "{what} is {off} ms away from now");
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_owned()).collect()
}

fn upgrade(add: &[&str], acr: &str) -> SessionUpgrade {
    SessionUpgrade {
        add_amr: strings(add),
        acr: Some(acr.to_owned()),
    }
}

/// A partial session (password passed, second factor owed), like a login of
/// an MFA user makes.
fn partial(user_id: UserId, hash: &TokenHash) -> NewSession {
    NewSession {
        partial: true,
        amr: strings(&["pwd"]),
        acr: Some("aal1".to_owned()),
        ..NewSession::new(user_id, hash.clone())
    }
}

async fn user<S: UserStore>(s: &S, email: &str) -> UserId {
    s.create_user(email, None).await.unwrap()
}

/// `create_session_with` keeps partial, amr, acr, mfa_at and auth_time.
pub async fn create_session_with_keeps_the_authentication_context<H: Harness>(h: &H) {
    let s = h.store().await;
    let uid = user(&s, "ctx@example.com").await;
    let ip: IpAddr = "203.0.113.7".parse().unwrap();

    let (_, ph) = token();
    let psid = s
        .create_session_with(&NewSession {
            ip_address: Some(ip),
            user_agent: Some("curl/8".to_owned()),
            ..partial(uid, &ph)
        })
        .await
        .unwrap();
    let v = s.validate_session(&ph).await.unwrap().unwrap();
    assert_eq!((v.session_id, v.user_id), (psid, uid));
    assert!(v.partial, "a partial session validates as partial");
    assert_eq!(v.amr, ["pwd"]);
    assert_eq!(v.acr.as_deref(), Some("aal1"));
    assert_eq!(v.mfa_at, None, "no second factor passed yet");
    assert_near_now(v.auth_time, "auth_time");

    // a full session created right after a second factor
    let (_, fh) = token();
    let fsid = s
        .create_session_with(&NewSession {
            amr: strings(&["pwd", "otp", "mfa"]),
            acr: Some("aal2".to_owned()),
            mfa: true,
            expires_in: Some(Duration::from_secs(3600)),
            ..NewSession::new(uid, fh.clone())
        })
        .await
        .unwrap();
    let f = s.validate_session(&fh).await.unwrap().unwrap();
    assert_eq!(f.session_id, fsid);
    assert!(!f.partial);
    assert_eq!(f.amr, ["pwd", "otp", "mfa"]);
    assert_eq!(f.acr.as_deref(), Some("aal2"));
    assert_near_now(f.mfa_at.expect("mfa: true sets mfa_at"), "mfa_at");
    assert_near_now(f.auth_time, "auth_time");
    let hour = (f.expires_at - f.created_at).num_seconds();
    assert!(
        (3595..=3605).contains(&hour),
        "expires_in honoured: {hour}s"
    );

    // NewSession::new: full, no methods, no acr, no mfa_at
    let (_, nh) = token();
    s.create_session_with(&NewSession::new(uid, nh.clone()))
        .await
        .unwrap();
    let n = s.validate_session(&nh).await.unwrap().unwrap();
    assert!(!n.partial && n.amr.is_empty() && n.acr.is_none() && n.mfa_at.is_none());

    let listed = s.list_sessions(uid).await.unwrap();
    assert_eq!(listed.len(), 3);
    let p = listed.iter().find(|x| x.id == psid).unwrap();
    assert!(p.partial);
    assert_eq!(p.amr, ["pwd"]);
    assert_eq!(p.ip_address, Some(ip));
    assert_eq!(p.user_agent.as_deref(), Some("curl/8"));
    let f = listed.iter().find(|x| x.id == fsid).unwrap();
    assert!(!f.partial);
    assert_eq!(f.amr, ["pwd", "otp", "mfa"]);

    let created = events_of(&s, "session_created").await;
    assert_eq!(created.len(), 3);
    let pe = created
        .iter()
        .find(|e| e.resource_id.as_deref() == Some(psid.to_string().as_str()))
        .unwrap();
    let nv = pe.new_values.as_ref().unwrap();
    assert_eq!(nv["partial"], true);
    assert_eq!(nv["amr"], serde_json::json!(["pwd"]));
}

/// `create_session_with` refuses unknown and disabled users, taken hashes and zero lifetimes.
pub async fn create_session_with_refuses_unknown_disabled_and_duplicate<H: Harness>(h: &H) {
    let s = h.store().await;
    let (_, h) = token();
    assert!(matches!(
        s.create_session_with(&partial(UserId::new(), &h)).await,
        Err(StoreError::NotFound { entity: "user" })
    ));
    let uid = user(&s, "dup@example.com").await;
    s.create_session_with(&partial(uid, &h)).await.unwrap();
    assert!(matches!(
        s.create_session_with(&partial(uid, &h)).await,
        Err(StoreError::AlreadyExists {
            field: "token_hash"
        })
    ));
    let (_, h2) = token();
    assert_invalid(
        s.create_session_with(&NewSession {
            expires_in: Some(Duration::ZERO),
            ..partial(uid, &h2)
        })
        .await,
        "expires_in",
    );
    s.disable_user(uid).await.unwrap();
    assert!(matches!(
        s.create_session_with(&partial(uid, &h2)).await,
        Err(StoreError::UserDisabled)
    ));
}

/// `email`'s one attempt, `permit`, finished as a success by a session:
/// no longer counted (max 1), recorded as a success, and not open any
/// more, whichever way it would be finished again.
async fn concluded_as_a_success<S: LoginAttemptStore>(
    s: &S,
    email: &str,
    permit: &authn_core::AttemptPermit,
) {
    assert!(!s.is_locked_out(email, None, Some(1)).await.unwrap());
    let recent = s.get_recent_attempts(email, None).await.unwrap();
    assert_eq!(recent.len(), 1);
    assert!(recent[0].success);
    for success in [false, true] {
        assert!(matches!(
            s.finish_login_attempt(permit, success).await,
            Err(StoreError::NotFound {
                entity: "login_attempt"
            })
        ));
    }
}

/// A session that concludes a login attempt finishes it as a success in
/// its own commit: the attempt stops counting and cannot be finished again;
/// one no longer open, or a refused user, writes neither.
pub async fn a_session_concludes_its_login_attempt<H: Harness>(h: &H) {
    let s = h.store().await;
    let uid = user(&s, "concl@example.com").await;
    let open = s
        .begin_login_attempt("concl@example.com", None)
        .await
        .unwrap();
    // in progress: it counts (max 1 here)
    assert!(
        s.is_locked_out("concl@example.com", None, Some(1))
            .await
            .unwrap()
    );
    let (tok, hash) = token();
    let sid = s
        .create_session_with(&NewSession {
            concludes: Some(open.clone()),
            ..NewSession::new(uid, hash.clone())
        })
        .await
        .unwrap();
    let v = s
        .validate_session(&TokenHash::of_token(&tok))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(v.session_id, sid);
    concluded_as_a_success(&s, "concl@example.com", &open).await;
    // an attempt no longer open: no session
    let (tok2, hash2) = token();
    assert!(matches!(
        s.create_session_with(&NewSession {
            concludes: Some(open.clone()),
            ..NewSession::new(uid, hash2.clone())
        })
        .await,
        Err(StoreError::NotFound {
            entity: "login_attempt"
        })
    ));
    assert!(
        s.validate_session(&TokenHash::of_token(&tok2))
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(s.list_sessions(uid).await.unwrap().len(), 1);
    assert_eq!(events_of(&s, "session_created").await.len(), 1);
    // a disabled user: no session, and the attempt is still open
    let pending = s
        .begin_login_attempt("concl@example.com", None)
        .await
        .unwrap();
    s.disable_user(uid).await.unwrap();
    assert!(matches!(
        s.create_session_with(&NewSession {
            concludes: Some(pending.clone()),
            ..NewSession::new(uid, hash2.clone())
        })
        .await,
        Err(StoreError::UserDisabled)
    ));
    let o = s.finish_login_attempt(&pending, false).await.unwrap();
    assert_eq!(o.failures_in_window, 1);
}

/// `prepare_session` then `commit`: the errors of `create_session_with`,
/// reported by either step.
async fn prepare_and_commit<S: SessionStore>(s: &S, new: &NewSession) -> StoreResult<SessionId> {
    s.prepare_session(new).await?.commit(s).await
}

/// A prepared session is invisible until its commit (not valid, not
/// listed, not audited, its attempt still counted), then exists as
/// `create_session_with` makes it, its attempt concluded as a success.
pub async fn a_prepared_session_exists_only_once_committed<H: Harness>(h: &H) {
    let s = h.store().await;
    let uid = user(&s, "prep@example.com").await;
    let permit = s
        .begin_login_attempt("prep@example.com", None)
        .await
        .unwrap();
    let (tok, hash) = token();
    let prepared = s
        .prepare_session(&NewSession {
            concludes: Some(permit.clone()),
            ..partial(uid, &hash)
        })
        .await
        .unwrap();
    let other = peers(h, &s).await.remove(0);
    for s in [&s, &other] {
        assert!(
            s.validate_session(&TokenHash::of_token(&tok))
                .await
                .unwrap()
                .is_none()
        );
        assert!(s.list_sessions(uid).await.unwrap().is_empty());
        assert!(events_of(s, "session_created").await.is_empty());
        assert!(
            s.is_locked_out("prep@example.com", None, Some(1))
                .await
                .unwrap()
        );
    }
    let sid = prepared.commit(&s).await.unwrap();
    let v = other
        .validate_session(&TokenHash::of_token(&tok))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((v.session_id, v.user_id, v.partial), (sid, uid, true));
    assert_eq!(v.amr, strings(&["pwd"]));
    let ev = events_of(&other, "session_created").await;
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0].resource_id.as_deref(), Some(sid.to_string().as_str()));
    concluded_as_a_success(&other, "prep@example.com", &permit).await;
}

/// A prepared session aborted (wrong password, or no verdict), or
/// dropped, leaves no session and no audit event, and its attempt open:
/// finished as a failure at once, as for an unknown email.
pub async fn an_aborted_prepared_session_leaves_no_session<H: Harness>(h: &H) {
    let s = h.store().await;
    let uid = user(&s, "prepfail@example.com").await;
    for drop_it in [false, true] {
        let permit = s
            .begin_login_attempt("prepfail@example.com", None)
            .await
            .unwrap();
        let (tok, hash) = token();
        let prepared = s
            .prepare_session(&NewSession {
                concludes: Some(permit.clone()),
                ..partial(uid, &hash)
            })
            .await
            .unwrap();
        if drop_it {
            drop(prepared);
        } else {
            prepared.abort();
        }
        let o = tokio::time::timeout(
            Duration::from_secs(10),
            s.finish_login_attempt(&permit, false),
        )
        .await
        .expect("a failure waited for an aborted session")
        .unwrap();
        assert_eq!(o.failures_in_window, if drop_it { 2 } else { 1 });
        assert!(
            s.validate_session(&TokenHash::of_token(&tok))
                .await
                .unwrap()
                .is_none()
        );
    }
    assert!(s.list_sessions(uid).await.unwrap().is_empty());
    assert!(events_of(&s, "session_created").await.is_empty());
    assert_eq!(events_of(&s, "login_attempt_failed").await.len(), 2);
}

/// A prepared session is refused, by `prepare_session` or by its commit,
/// wherever `create_session_with` refuses: an unknown or disabled user, a
/// taken token hash, an attempt no longer open. Nothing is written then.
pub async fn a_prepared_session_is_refused_as_create_session_with_is<H: Harness>(h: &H) {
    let s = h.store().await;
    let (_, hash) = token();
    assert!(matches!(
        prepare_and_commit(&s, &partial(UserId::new(), &hash)).await,
        Err(StoreError::NotFound { entity: "user" })
    ));
    let uid = user(&s, "prepref@example.com").await;
    s.create_session_with(&partial(uid, &hash)).await.unwrap();
    assert!(matches!(
        prepare_and_commit(&s, &partial(uid, &hash)).await,
        Err(StoreError::AlreadyExists {
            field: "token_hash"
        })
    ));
    let closed = s
        .begin_login_attempt("prepref@example.com", None)
        .await
        .unwrap();
    s.finish_login_attempt(&closed, false).await.unwrap();
    let (tok, hash) = token();
    assert!(matches!(
        prepare_and_commit(
            &s,
            &NewSession {
                concludes: Some(closed),
                ..partial(uid, &hash)
            }
        )
        .await,
        Err(StoreError::NotFound {
            entity: "login_attempt"
        })
    ));
    assert!(
        s.validate_session(&TokenHash::of_token(&tok))
            .await
            .unwrap()
            .is_none()
    );
    let open = s
        .begin_login_attempt("prepref@example.com", None)
        .await
        .unwrap();
    s.disable_user(uid).await.unwrap();
    assert!(matches!(
        prepare_and_commit(
            &s,
            &NewSession {
                concludes: Some(open.clone()),
                ..partial(uid, &hash)
            }
        )
        .await,
        Err(StoreError::UserDisabled)
    ));
    // the attempt was left open
    s.finish_login_attempt(&open, false).await.unwrap();
    assert_eq!(events_of(&s, "session_created").await.len(), 1);
}

/// While a session is prepared (its verdict pending), nothing waits for
/// it: other attempts of the same subject are reserved and finished, and
/// its user is disabled, deleted or given a new email; its commit then
/// respects what happened: refused for a disabled or deleted user (its
/// attempt left open), made for the new email.
pub async fn a_prepared_session_holds_up_nothing<H: Harness>(h: &H) {
    let s = h.store().await;
    let other = peers(h, &s).await.remove(0);
    let bound = Duration::from_secs(10);
    let prepare = |uid, email: &'static str| {
        let s = &s;
        async move {
            let permit = s.begin_login_attempt(email, None).await.unwrap();
            let (tok, hash) = token();
            let prepared = s
                .prepare_session(&NewSession {
                    concludes: Some(permit.clone()),
                    ..NewSession::new(uid, hash)
                })
                .await
                .unwrap();
            // Time for a store that writes on its own time to have written.
            tokio::time::sleep(Duration::from_millis(200)).await;
            (permit, tok, prepared)
        }
    };

    let uid = user(&s, "prephold@example.com").await;
    let (permit, tok, prepared) = prepare(uid, "prephold@example.com").await;
    let next = tokio::time::timeout(
        bound,
        other.begin_login_attempt("prephold@example.com", None),
    )
    .await
    .expect("a reservation waited for a prepared session")
    .unwrap();
    tokio::time::timeout(bound, other.finish_login_attempt(&next, false))
        .await
        .expect("a failure waited for a prepared session")
        .unwrap();
    assert!(
        tokio::time::timeout(bound, other.disable_user(uid))
            .await
            .expect("a disable waited for a prepared session")
            .unwrap()
    );
    assert!(matches!(
        prepared.commit(&s).await,
        Err(StoreError::UserDisabled)
    ));
    assert!(
        s.validate_session(&TokenHash::of_token(&tok))
            .await
            .unwrap()
            .is_none()
    );
    // refused: the attempt is still open
    s.finish_login_attempt(&permit, true).await.unwrap();

    let uid = user(&s, "prepdel@example.com").await;
    let (_, tok, prepared) = prepare(uid, "prepdel@example.com").await;
    assert!(
        tokio::time::timeout(bound, other.delete_user(uid))
            .await
            .expect("a deletion waited for a prepared session")
            .unwrap()
    );
    assert!(matches!(
        prepared.commit(&s).await,
        Err(StoreError::NotFound { entity: "user" })
    ));
    assert!(
        s.validate_session(&TokenHash::of_token(&tok))
            .await
            .unwrap()
            .is_none()
    );

    let uid = user(&s, "prepmail@example.com").await;
    let (_, tok, prepared) = prepare(uid, "prepmail@example.com").await;
    assert!(
        tokio::time::timeout(bound, other.update_email(uid, "prepmail2@example.com"))
            .await
            .expect("an email change waited for a prepared session")
            .unwrap()
    );
    let sid = prepared.commit(&s).await.unwrap();
    let v = s
        .validate_session(&TokenHash::of_token(&tok))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (v.session_id, v.email.as_str()),
        (sid, "prepmail2@example.com")
    );
}

/// Sessions racing to conclude one login attempt (from several
/// processes): exactly one is created.
pub async fn parallel_sessions_concluding_one_attempt_make_one<H: Harness>(h: &H) {
    let s = h.store_with(StorePolicy::default(), RACE_CONNECTIONS).await;
    let peers = peers(h, &s).await;
    let uid = user(&s, "conrace@example.com").await;
    let permit = s
        .begin_login_attempt("conrace@example.com", None)
        .await
        .unwrap();
    let barrier = Arc::new(Barrier::new(12));
    let mut tasks = Vec::new();
    for i in 0..12 {
        let (s, barrier, permit) = (
            peers[i % peers.len()].clone(),
            barrier.clone(),
            permit.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let (_, hash) = token();
            barrier.wait().await;
            s.create_session_with(&NewSession {
                concludes: Some(permit),
                ..NewSession::new(uid, hash)
            })
            .await
        }));
    }
    let mut created = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => created += 1,
            Err(StoreError::NotFound {
                entity: "login_attempt",
            }) => {}
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    assert_eq!(created, 1, "exactly one session concludes the attempt");
    assert_eq!(s.list_sessions(uid).await.unwrap().len(), 1);
    assert_eq!(events_of(&s, "session_created").await.len(), 1);
}

/// `rotate_session` kills the old token and makes a full session keeping auth_time.
pub async fn rotate_replaces_a_partial_session_by_a_full_one<H: Harness>(h: &H) {
    let s = h.store().await;
    let uid = user(&s, "rot@example.com").await;
    let ip: IpAddr = "2001:db8::5".parse().unwrap();
    let (_, old) = token();
    let old_id = s
        .create_session_with(&NewSession {
            ip_address: Some(ip),
            user_agent: Some("Firefox/140".to_owned()),
            expires_in: Some(Duration::from_secs(600)),
            ..partial(uid, &old)
        })
        .await
        .unwrap();
    let before = s.validate_session(&old).await.unwrap().unwrap();
    // let the clock move, so "kept" and "now" differ
    tokio::time::sleep(Duration::from_millis(50)).await;

    let (_, new) = token();
    let new_id = s
        .rotate_session(&old, &new, &upgrade(&["otp", "pwd", "mfa", "otp"], "aal2"))
        .await
        .unwrap()
        .expect("a valid session rotates");
    assert_ne!(new_id, old_id, "a new session, not the old one renamed");

    assert!(
        s.validate_session(&old).await.unwrap().is_none(),
        "the old token is dead (no fixation)"
    );
    let v = s.validate_session(&new).await.unwrap().unwrap();
    assert_eq!((v.session_id, v.user_id), (new_id, uid));
    assert!(!v.partial, "the new session is full");
    assert_eq!(v.amr, ["pwd", "otp", "mfa"], "joined, unique, in order");
    assert_eq!(v.acr.as_deref(), Some("aal2"));
    let mfa_at = v.mfa_at.expect("mfa_at set");
    assert_near_now(mfa_at, "mfa_at");
    assert!(mfa_at > before.auth_time);
    assert_eq!(
        v.auth_time, before.auth_time,
        "auth_time is the first factor's, kept across rotation"
    );
    let life = (v.expires_at - Utc::now()).num_seconds();
    assert!(
        (7 * 86_400 - 10..=7 * 86_400 + 10).contains(&life),
        "fresh default lifetime, not the old 10 minutes: {life}s"
    );

    let listed = s.list_sessions(uid).await.unwrap();
    assert_eq!(listed.len(), 1, "only the new session is active");
    assert_eq!(listed[0].id, new_id);
    assert_eq!(listed[0].ip_address, Some(ip));
    assert_eq!(listed[0].user_agent.as_deref(), Some("Firefox/140"));
    assert!(!listed[0].partial);

    let ev = events_of(&s, "session_rotated").await;
    assert_eq!(ev.len(), 1);
    assert_eq!(
        ev[0].resource_id.as_deref(),
        Some(new_id.to_string().as_str())
    );
    assert_eq!(
        ev[0].old_values.as_ref().unwrap()["session_id"],
        serde_json::json!(old_id)
    );
    let text = serde_json::to_string(&ev[0]).unwrap();
    assert!(!text.contains(old.as_str()) && !text.contains(new.as_str()));

    // the rotated-away token cannot rotate again
    let (_, again) = token();
    assert_eq!(
        s.rotate_session(&old, &again, &upgrade(&["otp"], "aal2"))
            .await
            .unwrap(),
        None
    );
}

/// Unknown, revoked, expired and disabled-user sessions do not rotate.
pub async fn rotate_refuses_sessions_that_are_not_valid<H: Harness>(h: &H) {
    let s = h.store().await;
    let uid = user(&s, "rv@example.com").await;
    let up = upgrade(&["otp"], "aal2");

    // unknown
    let (_, unknown) = token();
    let (_, n1) = token();
    assert_eq!(s.rotate_session(&unknown, &n1, &up).await.unwrap(), None);

    // revoked
    let (_, revoked) = token();
    s.create_session_with(&partial(uid, &revoked))
        .await
        .unwrap();
    assert!(s.revoke_session(&revoked).await.unwrap());
    assert_eq!(s.rotate_session(&revoked, &n1, &up).await.unwrap(), None);

    // expired
    let (_, expired) = token();
    s.create_session_with(&NewSession {
        expires_in: Some(Duration::from_millis(200)),
        ..partial(uid, &expired)
    })
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(s.rotate_session(&expired, &n1, &up).await.unwrap(), None);

    // disabled user (and re-enabling does not bring the session back)
    let other = user(&s, "dis@example.com").await;
    let (_, dis) = token();
    s.create_session_with(&partial(other, &dis)).await.unwrap();
    assert!(s.disable_user(other).await.unwrap());
    assert_eq!(s.rotate_session(&dis, &n1, &up).await.unwrap(), None);
    assert!(s.enable_user(other).await.unwrap());
    assert_eq!(s.rotate_session(&dis, &n1, &up).await.unwrap(), None);

    // no new session was made by any of them
    assert!(s.validate_session(&n1).await.unwrap().is_none());
    assert!(events_of(&s, "session_rotated").await.is_empty());
}

/// Rotating onto a taken hash is `AlreadyExists` and leaves the old session intact.
pub async fn rotate_onto_a_taken_hash_rolls_back<H: Harness>(h: &H) {
    let s = h.store().await;
    let uid = user(&s, "taken@example.com").await;
    let (_, old) = token();
    let old_id = s.create_session_with(&partial(uid, &old)).await.unwrap();
    let (_, taken) = token();
    s.create_session(uid, &taken, None, None, None)
        .await
        .unwrap();
    let up = upgrade(&["otp"], "aal2");

    assert!(matches!(
        s.rotate_session(&old, &taken, &up).await,
        Err(StoreError::AlreadyExists {
            field: "token_hash"
        })
    ));
    // the old session was not revoked: the transaction rolled back
    let v = s.validate_session(&old).await.unwrap().unwrap();
    assert_eq!(v.session_id, old_id);
    assert!(v.partial && v.mfa_at.is_none());
    assert_eq!(v.amr, ["pwd"]);
    // rotating onto its own hash is a taken hash too
    assert!(matches!(
        s.rotate_session(&old, &old, &up).await,
        Err(StoreError::AlreadyExists {
            field: "token_hash"
        })
    ));
    assert!(s.validate_session(&old).await.unwrap().is_some());
    assert_eq!(s.list_sessions(uid).await.unwrap().len(), 2);
    assert!(events_of(&s, "session_rotated").await.is_empty());

    // and it still rotates afterwards
    let (_, fresh) = token();
    assert!(s.rotate_session(&old, &fresh, &up).await.unwrap().is_some());
    assert!(s.validate_session(&old).await.unwrap().is_none());
}

/// Of 20 parallel rotations of one session exactly one wins.
///
/// 20 parallel second-factor completions of one partial session: exactly one
/// rotation wins, and exactly one new token works.
pub async fn parallel_rotations_of_one_session_make_one_new_session<H: Harness>(h: &H) {
    let s = h.store_with(StorePolicy::default(), RACE_CONNECTIONS).await;
    let peers = peers(h, &s).await;
    let uid = user(&s, "race@example.com").await;
    let (_, old) = token();
    s.create_session_with(&partial(uid, &old)).await.unwrap();
    let barrier = Arc::new(Barrier::new(20));
    let mut tasks = Vec::new();
    for i in 0..20 {
        let (s, barrier, old) = (peers[i % peers.len()].clone(), barrier.clone(), old.clone());
        tasks.push(tokio::spawn(async move {
            let (_, new) = token();
            barrier.wait().await;
            let r = s
                .rotate_session(&old, &new, &upgrade(&["otp"], "aal2"))
                .await
                .unwrap();
            (new, r)
        }));
    }
    let mut results = Vec::new();
    for t in tasks {
        results.push(t.await.unwrap());
    }
    let winners: Vec<_> = results.iter().filter(|(_, r)| r.is_some()).collect();
    assert_eq!(winners.len(), 1, "exactly one rotation succeeds");
    let mut valid = 0;
    for (new, r) in &results {
        if let Some(v) = s.validate_session(new).await.unwrap() {
            valid += 1;
            assert_eq!(Some(v.session_id), *r);
            assert!(!v.partial);
        }
    }
    assert_eq!(valid, 1, "exactly one new token validates");
    assert!(s.validate_session(&old).await.unwrap().is_none());
    assert_eq!(s.list_sessions(uid).await.unwrap().len(), 1);
    assert_eq!(events_of(&s, "session_rotated").await.len(), 1);
}

/// `step_up_session` sets `mfa_at` on a full, valid session only.
pub async fn step_up_records_a_second_factor_on_a_full_session<H: Harness>(h: &H) {
    let s = h.store().await;
    let uid = user(&s, "step@example.com").await;
    let (_, full) = token();
    let sid = s
        .create_session_with(&NewSession {
            amr: strings(&["pwd"]),
            acr: Some("aal1".to_owned()),
            ..NewSession::new(uid, full.clone())
        })
        .await
        .unwrap();
    let before = s.validate_session(&full).await.unwrap().unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;

    let mfa_at = s
        .step_up_session(&full, &upgrade(&["otp", "pwd", "mfa"], "aal2"))
        .await
        .unwrap()
        .expect("a full session steps up");
    assert_near_now(mfa_at, "mfa_at");
    let v = s.validate_session(&full).await.unwrap().unwrap();
    assert_eq!(v.session_id, sid, "same session, same token");
    assert!(!v.partial);
    assert_eq!(v.amr, ["pwd", "otp", "mfa"]);
    assert_eq!(v.acr.as_deref(), Some("aal2"));
    assert_eq!(v.mfa_at, Some(mfa_at));
    assert_eq!(v.auth_time, before.auth_time);
    let ev = events_of(&s, "session_stepped_up").await;
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0].resource_id.as_deref(), Some(sid.to_string().as_str()));

    // a second step-up moves mfa_at forward and keeps amr unique
    tokio::time::sleep(Duration::from_millis(20)).await;
    let later = s
        .step_up_session(&full, &upgrade(&["otp"], "aal2"))
        .await
        .unwrap()
        .unwrap();
    assert!(later > mfa_at);
    let v = s.validate_session(&full).await.unwrap().unwrap();
    assert_eq!(v.amr, ["pwd", "otp", "mfa"]);

    // a partial session must be rotated, not stepped up
    let (_, ph) = token();
    s.create_session_with(&partial(uid, &ph)).await.unwrap();
    assert_eq!(
        s.step_up_session(&ph, &upgrade(&["otp"], "aal2"))
            .await
            .unwrap(),
        None
    );
    let p = s.validate_session(&ph).await.unwrap().unwrap();
    assert!(p.partial && p.mfa_at.is_none());
    assert_eq!(p.amr, ["pwd"]);
    assert_eq!(p.acr.as_deref(), Some("aal1"));

    // revoked and unknown sessions
    assert!(s.revoke_session(&full).await.unwrap());
    assert_eq!(
        s.step_up_session(&full, &upgrade(&["otp"], "aal2"))
            .await
            .unwrap(),
        None
    );
    let (_, unknown) = token();
    assert_eq!(
        s.step_up_session(&unknown, &upgrade(&["otp"], "aal2"))
            .await
            .unwrap(),
        None
    );
    assert_eq!(events_of(&s, "session_stepped_up").await.len(), 2);
}

/// Session second-factor reservations stop at the maximum; successes give slots back.
pub async fn reservations_stop_at_max_and_successes_give_slots_back<H: Harness>(h: &H) {
    let s = h.store().await;
    let uid = user(&s, "res@example.com").await;
    let (_, h) = token();
    s.create_session_with(&partial(uid, &h)).await.unwrap();
    for i in 0..5 {
        assert_eq!(
            s.reserve_session_mfa_attempt(&h, 5).await.unwrap(),
            MfaReservation::Reserved,
            "reservation {i}"
        );
    }
    assert_eq!(
        s.reserve_session_mfa_attempt(&h, 5).await.unwrap(),
        MfaReservation::Exhausted
    );
    // exhausted is not revoked: the session is still there
    assert!(s.validate_session(&h).await.unwrap().is_some());
    // a right code gives its slot back
    assert!(!s.finish_session_mfa_attempt(&h, true, 5).await.unwrap());
    assert_eq!(
        s.reserve_session_mfa_attempt(&h, 5).await.unwrap(),
        MfaReservation::Reserved
    );
    assert_eq!(
        s.reserve_session_mfa_attempt(&h, 5).await.unwrap(),
        MfaReservation::Exhausted
    );
    assert!(events_of(&s, "session_mfa_exhausted").await.is_empty());

    let (_, unknown) = token();
    assert_eq!(
        s.reserve_session_mfa_attempt(&unknown, 5).await.unwrap(),
        MfaReservation::NoSession
    );
    // revoked and expired sessions have no attempts
    let (_, r) = token();
    s.create_session_with(&partial(uid, &r)).await.unwrap();
    s.revoke_session(&r).await.unwrap();
    assert_eq!(
        s.reserve_session_mfa_attempt(&r, 5).await.unwrap(),
        MfaReservation::NoSession
    );
    let (_, e) = token();
    s.create_session_with(&NewSession {
        expires_in: Some(Duration::from_millis(200)),
        ..partial(uid, &e)
    })
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        s.reserve_session_mfa_attempt(&e, 5).await.unwrap(),
        MfaReservation::NoSession
    );
}

/// The fifth wrong code revokes the session, once.
pub async fn five_wrong_codes_revoke_the_session<H: Harness>(h: &H) {
    let s = h.store().await;
    let uid = user(&s, "wrong@example.com").await;
    let (_, h) = token();
    let sid = s.create_session_with(&partial(uid, &h)).await.unwrap();
    for i in 1..=5 {
        assert_eq!(
            s.reserve_session_mfa_attempt(&h, 5).await.unwrap(),
            MfaReservation::Reserved
        );
        let revoked = s.finish_session_mfa_attempt(&h, false, 5).await.unwrap();
        assert_eq!(revoked, i == 5, "only the 5th wrong code revokes (at {i})");
    }
    assert!(s.validate_session(&h).await.unwrap().is_none());
    assert_eq!(
        s.reserve_session_mfa_attempt(&h, 5).await.unwrap(),
        MfaReservation::NoSession
    );
    // a late wrong code on the dead session revokes nothing more
    assert!(!s.finish_session_mfa_attempt(&h, false, 5).await.unwrap());
    let ev = events_of(&s, "session_mfa_exhausted").await;
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0].resource_id.as_deref(), Some(sid.to_string().as_str()));
    assert!(s.list_sessions(uid).await.unwrap().is_empty());
}

/// Of 20 parallel codes on one session exactly the maximum are checked and one revokes it.
///
/// 20 parallel codes on one session (max 5): exactly 5 get checked, and
/// when all 5 are wrong exactly one of them kills the session.
pub async fn parallel_codes_on_one_session_never_get_past_max<H: Harness>(h: &H) {
    let s = h.store_with(StorePolicy::default(), RACE_CONNECTIONS).await;
    let peers = peers(h, &s).await;
    let uid = user(&s, "pc@example.com").await;
    let (_, h) = token();
    s.create_session_with(&partial(uid, &h)).await.unwrap();
    let barrier = Arc::new(Barrier::new(20));
    let mut tasks = Vec::new();
    for i in 0..20 {
        let (s, barrier, h) = (peers[i % peers.len()].clone(), barrier.clone(), h.clone());
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            s.reserve_session_mfa_attempt(&h, 5).await.unwrap()
        }));
    }
    let mut reserved = 0;
    let mut exhausted = 0;
    for t in tasks {
        match t.await.unwrap() {
            MfaReservation::Reserved => reserved += 1,
            MfaReservation::Exhausted => exhausted += 1,
            MfaReservation::NoSession => panic!("the session exists"),
        }
    }
    assert_eq!((reserved, exhausted), (5, 15));

    let barrier = Arc::new(Barrier::new(reserved));
    let mut tasks = Vec::new();
    for i in 0..reserved {
        let (s, barrier, h) = (peers[i % peers.len()].clone(), barrier.clone(), h.clone());
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            s.finish_session_mfa_attempt(&h, false, 5).await.unwrap()
        }));
    }
    let mut revoked = 0;
    for t in tasks {
        revoked += usize::from(t.await.unwrap());
    }
    assert_eq!(revoked, 1, "exactly one wrong code revokes");
    assert!(s.validate_session(&h).await.unwrap().is_none());
    assert_eq!(events_of(&s, "session_mfa_exhausted").await.len(), 1);
}

/// `revoke_other_sessions` revokes every other active session of the user and keeps one.
pub async fn revoke_other_sessions_keeps_exactly_one<H: Harness>(h: &H) {
    let s = h.store().await;
    let a = user(&s, "a@example.com").await;
    let b = user(&s, "b@example.com").await;
    let (_, a1) = token();
    let (_, a2) = token();
    let (_, a3) = token();
    let (_, b1) = token();
    s.create_session(a, &a1, None, None, None).await.unwrap();
    let keep = s.create_session(a, &a2, None, None, None).await.unwrap();
    s.create_session_with(&partial(a, &a3)).await.unwrap();
    s.create_session(b, &b1, None, None, None).await.unwrap();
    // an already revoked session is not counted
    let (_, a4) = token();
    s.create_session(a, &a4, None, None, None).await.unwrap();
    s.revoke_session(&a4).await.unwrap();

    assert_eq!(s.revoke_other_sessions(a, keep).await.unwrap(), 2);
    let listed = s.list_sessions(a).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, keep);
    assert_eq!(
        s.validate_session(&a2).await.unwrap().unwrap().session_id,
        keep
    );
    assert!(s.validate_session(&a1).await.unwrap().is_none());
    assert!(s.validate_session(&a3).await.unwrap().is_none());
    assert!(
        s.validate_session(&b1).await.unwrap().is_some(),
        "other users are left alone"
    );
    assert_eq!(s.list_sessions(b).await.unwrap().len(), 1);

    let ev = events_of(&s, "sessions_revoked_all").await;
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0].resource_id.as_deref(), Some(a.to_string().as_str()));
    let nv = ev[0].new_values.as_ref().unwrap();
    assert_eq!(nv["revoked"], 2);
    assert_eq!(nv["kept_session_id"], serde_json::json!(keep));

    // nothing left to revoke: 0, no audit
    assert_eq!(s.revoke_other_sessions(a, keep).await.unwrap(), 0);
    assert_eq!(events_of(&s, "sessions_revoked_all").await.len(), 1);
    assert!(s.validate_session(&a2).await.unwrap().is_some());
}

/// Codes reserved and finished at once from several processes: exactly the maximum are checked and one revokes.
///
/// 20 second-factor codes on one session, each reserved and then found
/// wrong, from handles with pools of their own, with no phase between
/// reserving and finishing: exactly 5 are checked, exactly one revokes.
pub async fn interleaved_codes_from_several_processes_never_get_past_max<H: Harness>(h: &H) {
    let s = h.store_with(StorePolicy::default(), RACE_CONNECTIONS).await;
    let peers = peers(h, &s).await;
    let uid = user(&s, "inter@example.com").await;
    let (_, h) = token();
    s.create_session_with(&partial(uid, &h)).await.unwrap();
    let barrier = Arc::new(Barrier::new(20));
    let mut tasks = Vec::new();
    for i in 0..20 {
        let (s, barrier, h) = (peers[i % peers.len()].clone(), barrier.clone(), h.clone());
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            let r = s.reserve_session_mfa_attempt(&h, 5).await.unwrap();
            let revoked = if r == MfaReservation::Reserved {
                s.finish_session_mfa_attempt(&h, false, 5).await.unwrap()
            } else {
                false
            };
            (r, revoked)
        }));
    }
    let (mut reserved, mut revoked) = (0, 0);
    for t in tasks {
        let (r, rv) = t.await.unwrap();
        reserved += usize::from(r == MfaReservation::Reserved);
        revoked += usize::from(rv);
    }
    assert_eq!(reserved, 5, "exactly the maximum are checked");
    assert_eq!(revoked, 1, "exactly one wrong code revokes");
    assert!(s.validate_session(&h).await.unwrap().is_none());
    assert_eq!(
        s.reserve_session_mfa_attempt(&h, 5).await.unwrap(),
        MfaReservation::NoSession
    );
    assert_eq!(events_of(&s, "session_mfa_exhausted").await.len(), 1);
}

/// Sessions rotated while the user's other sessions are revoked are revoked too: no rotation outlives a revoke-all.
///
/// Second factors completed (`rotate_session` of partial sessions) while
/// the user logs out everywhere (`revoke_all_sessions`, and
/// `revoke_other_sessions` as a password change does), over handles with
/// pools of their own: run one after the other in either order, no
/// session of the rotated ones is left, so none may be left by the race.
///
/// KNOWN STORE BUG, FAILS ON POSTGRESQL (kept on purpose until fixed):
/// `PgStore::rotate_session` inserts the new session while the revoking
/// `UPDATE sessions ... WHERE user_id = $2 AND revoked_at IS NULL` waits on
/// the old session's row lock; that statement then skips the old row (now
/// revoked) and never sees the new one, which stays active.
pub async fn rotations_during_a_revoke_all_leave_no_rotated_session<H: Harness>(h: &H) {
    let s = h.store_with(StorePolicy::default(), RACE_CONNECTIONS).await;
    let peers = peers(h, &s).await;
    let up = upgrade(&["otp"], "aal2");
    for round in 0..8 {
        let uid = user(&s, &format!("rall{round}@example.com")).await;
        let (_, kept) = token();
        let keep = s
            .create_session(uid, &kept, None, None, None)
            .await
            .unwrap();
        let mut olds = Vec::new();
        for _ in 0..6 {
            let (_, h) = token();
            s.create_session_with(&partial(uid, &h)).await.unwrap();
            olds.push(h);
        }
        let news: Vec<TokenHash> = (0..olds.len()).map(|_| token().1).collect();
        let barrier = Arc::new(Barrier::new(olds.len() + 1));
        let mut tasks = Vec::new();
        for (i, (old, new)) in olds.iter().zip(&news).enumerate() {
            let (p, b) = (peers[i % peers.len()].clone(), barrier.clone());
            let (old, new, up) = (old.clone(), new.clone(), up.clone());
            tasks.push(tokio::spawn(async move {
                b.wait().await;
                p.rotate_session(&old, &new, &up).await.unwrap();
            }));
        }
        let (p, b) = (peers[olds.len() % peers.len()].clone(), barrier.clone());
        tasks.push(tokio::spawn(async move {
            b.wait().await;
            if round % 2 == 0 {
                p.revoke_all_sessions(uid).await.unwrap();
            } else {
                p.revoke_other_sessions(uid, keep).await.unwrap();
            }
        }));
        for t in tasks {
            t.await.unwrap();
        }
        let how = if round % 2 == 0 {
            "revoke_all_sessions"
        } else {
            "revoke_other_sessions"
        };
        for (i, h) in olds.iter().chain(&news).enumerate() {
            assert!(
                s.validate_session(h).await.unwrap().is_none(),
                "after {how}: session {i} validates"
            );
        }
        let left: Vec<SessionId> = s
            .list_sessions(uid)
            .await
            .unwrap()
            .iter()
            .map(|x| x.id)
            .collect();
        let expected = if round % 2 == 0 { vec![] } else { vec![keep] };
        assert_eq!(left, expected, "after {how}: active sessions");
    }
}
