//! The MFA routes under `/api/v1/auth/mfa` through a real server:
//! enrollment, verification, the partial session, the challenge (replay,
//! races, attempt limits), recovery codes, step-up and disabling.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::*;
use reqwest::header::{RETRY_AFTER, SET_COOKIE};
use reqwest::{RequestBuilder, StatusCode};
use serde_json::{Value, json};

/// Status and JSON body of a request.
async fn send(rb: RequestBuilder) -> (StatusCode, Value) {
    json_of(rb.send().await.unwrap()).await
}

/// A well-formed code that no step near now produces.
fn wrong_code(secret: &str) -> String {
    let near: Vec<String> = (-3..=3).map(|i| code_at_offset(secret, i * 30)).collect();
    (0u32..)
        .map(|i| format!("{:06}", (123_456 + i * 7_919) % 1_000_000))
        .find(|c| !near.contains(c))
        .unwrap()
}

/// A recovery code as a user might type it: upper case, no dashes,
/// spaces between groups.
fn typed_recovery(code: &str) -> String {
    let plain: String = code.chars().filter(|c| *c != '-').collect();
    let upper = plain.to_uppercase();
    let groups: Vec<&str> = (0..upper.len())
        .step_by(4)
        .map(|i| &upper[i..(i + 4).min(upper.len())])
        .collect();
    format!(" {} ", groups.join("  "))
}

/// `GET path` with a bearer token.
async fn get(srv: &TestServer, path: &str, token: &str) -> (StatusCode, Value) {
    send(srv.bare_client().get(srv.url(path)).bearer_auth(token)).await
}

/// `POST path` with a bearer token and an optional JSON body.
async fn post(
    srv: &TestServer,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let rb = srv.bare_client().post(srv.url(path)).bearer_auth(token);
    send(match body {
        Some(b) => rb.json(&b),
        None => rb,
    })
    .await
}

/// `POST /mfa/challenge {code}`.
async fn challenge(srv: &TestServer, token: &str, code: &str) -> (StatusCode, Value) {
    post(
        srv,
        "/api/v1/auth/mfa/challenge",
        token,
        Some(json!({ "code": code })),
    )
    .await
}

/// `POST /mfa/recovery {code}`.
async fn recovery(srv: &TestServer, token: &str, code: &str) -> (StatusCode, Value) {
    post(
        srv,
        "/api/v1/auth/mfa/recovery",
        token,
        Some(json!({ "code": code })),
    )
    .await
}

/// `DELETE path` with an optional JSON body.
async fn delete(
    srv: &TestServer,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let rb = srv.bare_client().delete(srv.url(path)).bearer_auth(token);
    send(match body {
        Some(b) => rb.json(&b),
        None => rb,
    })
    .await
}

/// Signs a user up and enables MFA: (email, full token, secret, recovery codes).
async fn mfa_user(srv: &TestServer, tag: &str) -> (String, String, String, Vec<String>) {
    let c = srv.bare_client();
    let addr = email(tag);
    let (_, token) = srv.signup(&c, &addr).await;
    let (secret, codes) = srv.enable_mfa(&c, &token).await;
    (addr, token, secret, codes)
}

/// A password login of an MFA user: the partial session token.
async fn partial_login(srv: &TestServer, addr: &str) -> String {
    let (status, v) = srv.login(&srv.bare_client(), addr, PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["mfaRequired"], true, "{v}");
    v["token"].as_str().unwrap().to_owned()
}

#[track_caller]
fn assert_dead(got: &(StatusCode, Value)) {
    assert_error(got, StatusCode::UNAUTHORIZED, "unauthorized");
}

fn codes_of(v: &Value) -> Vec<String> {
    v["recovery_codes"]
        .as_array()
        .unwrap_or_else(|| panic!("no recovery codes: {v}"))
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect()
}

// ---------------------------------------------------------------- enroll

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enroll_gives_secret_and_uri_and_reenrolling_replaces_the_pending_secret() {
    let srv = TestServer::start().await;
    let addr = email("enroll");
    let (_, token) = srv.signup(&srv.bare_client(), &addr).await;

    let (status, e1) = post(&srv, "/api/v1/auth/mfa/enroll", &token, None).await;
    assert_eq!(status, StatusCode::OK, "{e1}");
    let secret1 = e1["secret"].as_str().unwrap().to_owned();
    assert!(secret1.len() >= 32, "{secret1}");
    assert!(
        secret1
            .chars()
            .all(|c| c.is_ascii_uppercase() || ('2'..='7').contains(&c)),
        "base32 without padding: {secret1}"
    );
    let uri = e1["otpauth_url"].as_str().unwrap();
    assert_eq!(e1["qr_uri"], e1["otpauth_url"]);
    assert!(uri.starts_with("otpauth://totp/authn:"), "{uri}");
    assert!(uri.contains(&format!("secret={secret1}")), "{uri}");
    assert!(uri.contains("issuer=authn"), "{uri}");

    let (status, e2) = post(&srv, "/api/v1/auth/mfa/enroll", &token, None).await;
    assert_eq!(status, StatusCode::OK, "{e2}");
    let secret2 = e2["secret"].as_str().unwrap().to_owned();
    assert_ne!(secret1, secret2);

    let verify = |code: String| {
        post(
            &srv,
            "/api/v1/auth/mfa/verify",
            &token,
            Some(json!({ "code": code })),
        )
    };
    let got = verify(code_at_offset(&secret1, 0)).await;
    assert_error(&got, StatusCode::UNAUTHORIZED, "invalid_code");
    let (status, v) = verify(code_at_offset(&secret2, 0)).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["mfa_enabled"], true);

    let got = post(&srv, "/api/v1/auth/mfa/enroll", &token, None).await;
    assert_error(&got, StatusCode::CONFLICT, "mfa_already_enabled");
    // the enabled secret is still the second one
    let p = partial_login(&srv, &addr).await;
    let (status, v) = challenge(&srv, &p, &next_code(&secret2)).await;
    assert_eq!(status, StatusCode::OK, "{v}");
}

// ---------------------------------------------------------------- verify

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_enables_mfa_once_and_returns_ten_recovery_codes() {
    let srv = TestServer::start().await;
    let (_, token) = srv.signup(&srv.bare_client(), &email("verify")).await;
    let verify = |code: String| {
        post(
            &srv,
            "/api/v1/auth/mfa/verify",
            &token,
            Some(json!({ "code": code })),
        )
    };

    let got = verify("123456".into()).await;
    assert_error(&got, StatusCode::BAD_REQUEST, "mfa_not_enrolled");
    let (_, e) = post(&srv, "/api/v1/auth/mfa/enroll", &token, None).await;
    let secret = e["secret"].as_str().unwrap().to_owned();
    let got = verify(wrong_code(&secret)).await;
    assert_error(&got, StatusCode::UNAUTHORIZED, "invalid_code");
    let (_, st) = get(&srv, "/api/v1/auth/mfa", &token).await;
    assert_eq!(st["mfa_enabled"], false, "{st}");

    let (status, v) = verify(code_at_offset(&secret, 0)).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["mfa_enabled"], true);
    let codes = codes_of(&v);
    assert_eq!(codes.len(), 10);
    let mut unique = codes.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 10);
    for c in &codes {
        assert_eq!(c.len(), 19, "{c}");
        assert_eq!(c.matches('-').count(), 3, "{c}");
    }

    let got = verify(next_code(&secret)).await;
    assert_error(&got, StatusCode::CONFLICT, "mfa_already_verified");

    for path in ["/api/v1/auth/mfa", "/api/v1/auth/mfa/"] {
        let (status, st) = get(&srv, path, &token).await;
        assert_eq!(status, StatusCode::OK, "{path}: {st}");
        assert_eq!(st["mfa_enabled"], true, "{st}");
        assert!(
            st["methods"].as_array().unwrap().contains(&json!("totp")),
            "{st}"
        );
        assert_eq!(st["recovery_codes_remaining"], 10, "{st}");
    }
    let (_, me) = get(&srv, "/api/v1/auth/me", &token).await;
    assert_eq!(me["mfa_enabled"], true);
}

// ---------------------------------------------------------------- partial session

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partial_session_may_only_answer_the_challenge_or_log_out() {
    let srv = TestServer::start().await;
    let (addr, _, _, _) = mfa_user(&srv, "partial").await;
    let (status, login) = srv.login(&srv.bare_client(), &addr, PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{login}");
    assert_eq!(login["mfaRequired"], true);
    assert!(
        login["mfa_methods"]
            .as_array()
            .unwrap()
            .contains(&json!("totp")),
        "{login}"
    );
    assert!(login.get("id").is_none(), "{login}");
    let p = login["token"].as_str().unwrap().to_owned();

    let (status, s) = get(&srv, "/api/v1/auth/session", &p).await;
    assert_eq!(status, StatusCode::OK, "{s}");
    assert_eq!(s["partial"], true);
    assert_eq!(s["amr"], json!(["pwd"]));
    assert!(s["mfa_at"].is_null());

    for path in [
        "/api/v1/auth/me",
        "/api/v1/auth/sessions",
        "/api/v1/auth/mfa",
    ] {
        let got = get(&srv, path, &p).await;
        assert_error(&got, StatusCode::FORBIDDEN, "mfa_required");
    }
    let got = post(&srv, "/api/v1/auth/mfa/enroll", &p, None).await;
    assert_error(&got, StatusCode::FORBIDDEN, "mfa_required");
    let got = get(&srv, "/api/v1/auth/mfa/recovery-codes", &p).await;
    assert_error(&got, StatusCode::FORBIDDEN, "mfa_required");
    let got = delete(&srv, "/api/v1/auth/mfa", &p, None).await;
    assert_error(&got, StatusCode::FORBIDDEN, "mfa_required");
    let got = delete(&srv, "/api/v1/auth/me", &p, None).await;
    assert_error(&got, StatusCode::FORBIDDEN, "mfa_required");

    let (status, v) = post(&srv, "/api/v1/auth/logout", &p, None).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_dead(&get(&srv, "/api/v1/auth/session", &p).await);
}

// ---------------------------------------------------------------- challenge

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn challenge_replaces_the_partial_session_and_a_code_is_never_accepted_twice() {
    let srv = TestServer::start().await;
    let (addr, _, secret, _) = mfa_user(&srv, "challenge").await;
    let browser = srv.client();
    let (status, login) = srv.login(&browser, &addr, PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{login}");
    let partial = login["token"].as_str().unwrap().to_owned();
    let (_, ps) = get(&srv, "/api/v1/auth/session", &partial).await;

    // answered through the partial-session cookie
    let code = next_code(&secret);
    let r = browser
        .post(srv.url("/api/v1/auth/mfa/challenge"))
        .json(&json!({ "code": code }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let cookie = r
        .headers()
        .get(SET_COOKIE)
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    let (_, v) = json_of(r).await;
    assert_eq!(v["email"], addr.as_str());
    assert_eq!(v["mfa_enabled"], true);
    let full = v["token"].as_str().unwrap().to_owned();
    assert_ne!(full, partial);
    assert!(
        cookie.starts_with(&format!("authn_session={full};")),
        "{cookie}"
    );

    assert_dead(&get(&srv, "/api/v1/auth/session", &partial).await);
    // the cookie jar now holds the full session
    let (status, s) = send(browser.get(srv.url("/api/v1/auth/session"))).await;
    assert_eq!(status, StatusCode::OK, "{s}");
    assert_eq!(s["partial"], false);
    assert_ne!(s["id"], ps["id"], "a new session id");
    let amr = s["amr"].as_array().unwrap();
    for m in ["pwd", "otp", "mfa"] {
        assert!(amr.contains(&json!(m)), "{m} missing: {s}");
    }
    assert_eq!(s["acr"], "aal2");
    let mfa_at = s["mfa_at"].as_str().expect("mfa_at set");
    chrono::DateTime::parse_from_rfc3339(mfa_at).unwrap();
    let (status, _) = send(browser.get(srv.url("/api/v1/auth/me"))).await;
    assert_eq!(status, StatusCode::OK);

    // replay on a new partial session
    let p2 = partial_login(&srv, &addr).await;
    let got = challenge(&srv, &p2, &code).await;
    assert_error(&got, StatusCode::UNAUTHORIZED, "invalid_code");
    let got = challenge(&srv, &p2, &code_at_offset(&secret, 0)).await;
    assert_error(&got, StatusCode::UNAUTHORIZED, "invalid_code");
    let (_, s) = get(&srv, "/api/v1/auth/session", &p2).await;
    assert_eq!(s["partial"], true, "still partial: {s}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_code_on_ten_partial_sessions_in_parallel_passes_once() {
    let srv = TestServer::start().await;
    let (addr, _, secret, _) = mfa_user(&srv, "code-race").await;
    let mut partials = Vec::new();
    for _ in 0..10 {
        partials.push(partial_login(&srv, &addr).await);
    }
    let code = next_code(&secret);
    let mut tasks = tokio::task::JoinSet::new();
    for p in partials {
        let c = srv.bare_client();
        let url = srv.url("/api/v1/auth/mfa/challenge");
        let body = json!({ "code": code });
        tasks.spawn(async move { send(c.post(url).bearer_auth(p).json(&body)).await });
    }
    let mut ok = 0;
    while let Some(got) = tasks.join_next().await {
        let got = got.unwrap();
        if got.0 == StatusCode::OK {
            assert!(got.1["token"].is_string());
            ok += 1;
        } else {
            assert_error(&got, StatusCode::UNAUTHORIZED, "invalid_code");
        }
    }
    assert_eq!(ok, 1, "one code, one session");
}

// ---------------------------------------------------------------- attempt limits

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_wrong_codes_on_one_partial_session_stop_at_five_and_kill_it() {
    let srv = TestServer::start().await;
    let (addr, _, secret, _) = mfa_user(&srv, "session-limit").await;
    let p = partial_login(&srv, &addr).await;
    let wrong = wrong_code(&secret);
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let c = srv.bare_client();
        let url = srv.url("/api/v1/auth/mfa/challenge");
        let (p, body) = (p.clone(), json!({ "code": wrong }));
        tasks.spawn(async move { send(c.post(url).bearer_auth(p).json(&body)).await });
    }
    let (mut invalid, mut limited, mut dead) = (0, 0, 0);
    while let Some(got) = tasks.join_next().await {
        let got = got.unwrap();
        match (got.0, got.1["error"].as_str()) {
            (StatusCode::UNAUTHORIZED, Some("invalid_code")) => invalid += 1,
            (StatusCode::TOO_MANY_REQUESTS, _) => {
                assert_error(&got, StatusCode::TOO_MANY_REQUESTS, "too_many_attempts");
                limited += 1;
            }
            // requests that arrive once the fifth failure revoked the session
            _ => {
                assert_dead(&got);
                dead += 1;
            }
        }
    }
    assert!(
        (1..=5).contains(&invalid),
        "{invalid} wrong codes checked on one session"
    );
    assert_eq!(invalid + limited + dead, 20);
    assert!(limited + dead >= 15);

    // the session is dead: even the right code is refused
    let got = challenge(&srv, &p, &next_code(&secret)).await;
    assert_dead(&got);
    assert_dead(&get(&srv, "/api/v1/auth/session", &p).await);
    // the code was not spent: a new partial session can use it
    let p2 = partial_login(&srv, &addr).await;
    let (status, v) = challenge(&srv, &p2, &next_code(&secret)).await;
    assert_eq!(status, StatusCode::OK, "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_codes_across_sessions_lock_the_users_second_factor() {
    let srv = TestServer::start().await;
    let (addr, _, secret, _) = mfa_user(&srv, "user-limit").await;
    let wrong = wrong_code(&secret);
    for per_session in [4, 4, 2] {
        let p = partial_login(&srv, &addr).await;
        for _ in 0..per_session {
            let got = challenge(&srv, &p, &wrong).await;
            assert_error(&got, StatusCode::UNAUTHORIZED, "invalid_code");
        }
    }
    let fresh = partial_login(&srv, &addr).await;
    let r = srv
        .bare_client()
        .post(srv.url("/api/v1/auth/mfa/challenge"))
        .bearer_auth(&fresh)
        .json(&json!({ "code": next_code(&secret) }))
        .send()
        .await
        .unwrap();
    let retry = r
        .headers()
        .get(RETRY_AFTER)
        .map(|v| v.to_str().unwrap().to_owned());
    let got = json_of(r).await;
    assert_error(&got, StatusCode::TOO_MANY_REQUESTS, "too_many_attempts");
    let retry: u64 = retry.expect("Retry-After").parse().unwrap();
    assert!(retry >= 1);
    // recovery codes are second factors too
    let got = recovery(&srv, &fresh, "0000-0000-0000-0000").await;
    assert_error(&got, StatusCode::TOO_MANY_REQUESTS, "too_many_attempts");
    let (_, s) = get(&srv, "/api/v1/auth/session", &fresh).await;
    assert_eq!(s["partial"], true, "{s}");
}

// ---------------------------------------------------------------- recovery

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recovery_code_opens_a_full_session_once() {
    let srv = TestServer::start().await;
    let (addr, _, _, codes) = mfa_user(&srv, "recovery").await;
    let p = partial_login(&srv, &addr).await;
    let typed = typed_recovery(&codes[3]);
    assert!(!typed.contains('-'));

    let (status, v) = recovery(&srv, &p, &typed).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["email"], addr.as_str());
    let full = v["token"].as_str().unwrap().to_owned();
    assert_dead(&get(&srv, "/api/v1/auth/session", &p).await);
    let (_, s) = get(&srv, "/api/v1/auth/session", &full).await;
    assert_eq!(s["partial"], false, "{s}");
    let amr = s["amr"].as_array().unwrap();
    assert!(amr.contains(&json!("rec")), "{s}");
    assert!(amr.contains(&json!("mfa")), "{s}");
    assert_eq!(s["acr"], "aal2");

    let p2 = partial_login(&srv, &addr).await;
    let got = recovery(&srv, &p2, &codes[3]).await;
    assert_error(&got, StatusCode::UNAUTHORIZED, "invalid_code");
    let got = recovery(&srv, &p2, "not a code").await;
    assert_error(&got, StatusCode::UNAUTHORIZED, "invalid_code");

    let (_, st) = get(&srv, "/api/v1/auth/mfa", &full).await;
    assert_eq!(st["recovery_codes_remaining"], 9, "{st}");
    // another code still works
    let (status, _) = recovery(&srv, &p2, &codes[0]).await;
    assert_eq!(status, StatusCode::OK);
}

// ---------------------------------------------------------------- step-up

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regenerating_recovery_codes_needs_a_recent_second_factor() {
    let srv = TestServer::start_with(&["--step-up-max-age-secs", "1"]).await;
    let (addr, token, secret, codes0) = mfa_user(&srv, "step-up").await;

    // right after verify the session is fresh
    let (status, v) = get(&srv, "/api/v1/auth/mfa/recovery-codes", &token).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let codes1 = codes_of(&v);
    assert_eq!(codes1.len(), 10);
    assert!(codes1.iter().all(|c| !codes0.contains(c)));

    tokio::time::sleep(Duration::from_secs(2)).await;
    let got = get(&srv, "/api/v1/auth/mfa/recovery-codes", &token).await;
    assert_error(&got, StatusCode::FORBIDDEN, "step_up_required");
    assert_eq!(got.1["max_age"], 1);
    let got = post(&srv, "/api/v1/auth/mfa/recovery-codes", &token, None).await;
    assert_error(&got, StatusCode::FORBIDDEN, "step_up_required");

    // step up on the full session: a new token, the old one rotated away
    let (status, v) = challenge(&srv, &token, &next_code(&secret)).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let stepped = v["token"].as_str().unwrap().to_owned();
    assert_ne!(stepped, token);
    assert_dead(&get(&srv, "/api/v1/auth/session", &token).await);
    let (status, v) = get(&srv, "/api/v1/auth/mfa/recovery-codes", &stepped).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let codes2 = codes_of(&v);
    let (status, v) = post(&srv, "/api/v1/auth/mfa/recovery-codes", &stepped, None).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let codes3 = codes_of(&v);
    assert_eq!(codes3.len(), 10);
    let (_, st) = get(&srv, "/api/v1/auth/mfa", &stepped).await;
    assert_eq!(st["recovery_codes_remaining"], 10, "{st}");

    // only the newest set works
    let p = partial_login(&srv, &addr).await;
    for old in [&codes0[0], &codes1[0], &codes2[0]] {
        let got = recovery(&srv, &p, old).await;
        assert_error(&got, StatusCode::UNAUTHORIZED, "invalid_code");
    }
    let (status, v) = recovery(&srv, &p, &codes3[0]).await;
    assert_eq!(status, StatusCode::OK, "{v}");
}

// ---------------------------------------------------------------- disable

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disable_with_a_totp_or_recovery_code_or_a_fresh_session() {
    let srv = TestServer::start().await;
    let (addr, token, secret, _) = mfa_user(&srv, "disable").await;

    // trailing slash, TOTP code
    let got = delete(
        &srv,
        "/api/v1/auth/mfa/",
        &token,
        Some(json!({ "code": wrong_code(&secret) })),
    )
    .await;
    assert_error(&got, StatusCode::UNAUTHORIZED, "invalid_code");
    let (_, st) = get(&srv, "/api/v1/auth/mfa", &token).await;
    assert_eq!(st["mfa_enabled"], true);
    let (status, v) = delete(
        &srv,
        "/api/v1/auth/mfa/",
        &token,
        Some(json!({ "code": next_code(&secret) })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v, json!({ "mfa_enabled": false }));
    let (_, st) = get(&srv, "/api/v1/auth/mfa", &token).await;
    assert_eq!(st["mfa_enabled"], false, "{st}");
    assert_eq!(st["recovery_codes_remaining"], 0, "{st}");
    let (status, login) = srv.login(&srv.bare_client(), &addr, PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{login}");
    assert!(login.get("mfaRequired").is_none(), "{login}");
    assert_eq!(login["mfa_enabled"], false);
    let got = delete(&srv, "/api/v1/auth/mfa", &token, None).await;
    assert_error(&got, StatusCode::BAD_REQUEST, "mfa_not_enabled");
    let got = get(&srv, "/api/v1/auth/mfa/recovery-codes", &token).await;
    assert_error(&got, StatusCode::BAD_REQUEST, "mfa_not_enabled");

    // again, without the slash, with a recovery code as typed by a person
    let (_, codes) = srv.enable_mfa(&srv.bare_client(), &token).await;
    let (status, v) = delete(
        &srv,
        "/api/v1/auth/mfa",
        &token,
        Some(json!({ "code": typed_recovery(&codes[5]) })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["mfa_enabled"], false);
    let (_, me) = get(&srv, "/api/v1/auth/me", &token).await;
    assert_eq!(me["mfa_enabled"], false);

    // again, without a code, right after a challenge
    let (secret3, _) = srv.enable_mfa(&srv.bare_client(), &token).await;
    let p = partial_login(&srv, &addr).await;
    let (status, v) = challenge(&srv, &p, &next_code(&secret3)).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let full = v["token"].as_str().unwrap();
    let (status, v) = delete(&srv, "/api/v1/auth/mfa", full, None).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["mfa_enabled"], false);
    let (status, login) = srv.login(&srv.bare_client(), &addr, PASSWORD).await;
    assert_eq!(status, StatusCode::OK);
    assert!(login.get("mfaRequired").is_none(), "{login}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disable_without_a_code_on_a_stale_session_needs_step_up() {
    let srv = TestServer::start_with(&["--step-up-max-age-secs", "1"]).await;
    let (addr, token, secret, _) = mfa_user(&srv, "disable-stale").await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    for path in ["/api/v1/auth/mfa", "/api/v1/auth/mfa/"] {
        let got = delete(&srv, path, &token, None).await;
        assert_error(&got, StatusCode::FORBIDDEN, "step_up_required");
        assert_eq!(got.1["max_age"], 1);
    }
    let (_, st) = get(&srv, "/api/v1/auth/mfa", &token).await;
    assert_eq!(st["mfa_enabled"], true, "{st}");
    // a code still works on the stale session
    let (status, v) = delete(
        &srv,
        "/api/v1/auth/mfa",
        &token,
        Some(json!({ "code": next_code(&secret) })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let (_, login) = srv.login(&srv.bare_client(), &addr, PASSWORD).await;
    assert!(login.get("mfaRequired").is_none(), "{login}");
}
