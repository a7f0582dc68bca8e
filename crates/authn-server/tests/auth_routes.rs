//! The user routes under `/api/v1/auth` through a real server: signup,
//! login (enumeration, lockout, races), session transport and CSRF,
//! logout, the current user and session, session management, email
//! verification, password reset and change, magic links, introspection.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::*;
use reqwest::header::{LOCATION, RETRY_AFTER, SET_COOKIE};
use reqwest::{Client, RequestBuilder, Response, StatusCode};
use serde_json::{Value, json};

/// Status and JSON body of a request.
async fn send(rb: RequestBuilder) -> (StatusCode, Value) {
    json_of(rb.send().await.unwrap()).await
}

/// The `Set-Cookie` header of a response (there must be exactly one).
fn set_cookie(r: &Response) -> String {
    let all: Vec<_> = r.headers().get_all(SET_COOKIE).iter().collect();
    assert_eq!(all.len(), 1, "{all:?}");
    all[0].to_str().unwrap().to_owned()
}

/// The session token a `Set-Cookie` header carries.
fn cookie_token(cookie: &str) -> String {
    let first = cookie.split(';').next().unwrap();
    let (name, value) = first.split_once('=').unwrap();
    assert_eq!(name, "authn_session", "{cookie}");
    value.to_owned()
}

/// `GET /me` with a bearer token.
async fn me(srv: &TestServer, token: &str) -> (StatusCode, Value) {
    send(
        srv.bare_client()
            .get(srv.url("/api/v1/auth/me"))
            .bearer_auth(token),
    )
    .await
}

/// Asserts a token is no longer a session.
#[track_caller]
fn assert_dead(got: &(StatusCode, Value)) {
    assert_error(got, StatusCode::UNAUTHORIZED, "unauthorized");
}

fn assert_rfc3339(v: &Value) {
    let s = v.as_str().unwrap_or_else(|| panic!("not a string: {v}"));
    chrono::DateTime::parse_from_rfc3339(s).unwrap_or_else(|e| panic!("{s}: {e}"));
}

fn assert_user(v: &Value, email: &str) {
    uuid::Uuid::parse_str(v["id"].as_str().unwrap()).unwrap();
    assert_eq!(v["email"], email, "{v}");
    assert!(v["email_verified"].is_boolean(), "{v}");
    assert!(v["mfa_enabled"].is_boolean(), "{v}");
    assert_rfc3339(&v["created_at"]);
    assert_rfc3339(&v["updated_at"]);
    assert!(v.get("disabled_at").is_none(), "{v}");
}

/// A token of a password login (no MFA).
async fn login_token(srv: &TestServer, email: &str) -> String {
    let (status, v) = srv.login(&srv.bare_client(), email, PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    v["token"].as_str().unwrap().to_owned()
}

/// Introspects a token with the admin key.
async fn introspect(srv: &TestServer, body: Value) -> (StatusCode, Value) {
    send(
        srv.bare_client()
            .post(srv.url("/api/v1/auth/introspect"))
            .bearer_auth(ADMIN_KEY)
            .json(&body),
    )
    .await
}

/// `url` with query parameters, percent-encoded.
fn with_query(url: String, params: &[(&str, &str)]) -> String {
    url::Url::parse_with_params(&url, params)
        .unwrap()
        .to_string()
}

/// A client that does not follow redirects (to see the `302`).
fn no_redirect_client() -> Client {
    common::client_builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

// ---------------------------------------------------------------- signup

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signup_answers_201_user_token_and_session_cookie() {
    let srv = TestServer::start().await;
    let addr = email("Signup");
    let typed = format!("  {}  ", addr.replace("example.com", "EXAMPLE.com"));
    let r = srv
        .bare_client()
        .post(srv.url("/api/v1/auth/signup"))
        .json(&json!({ "email": typed, "password": PASSWORD, "name": "Ann Example" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let cookie = set_cookie(&r);
    let (_, v) = json_of(r).await;
    assert_user(&v, &addr.to_lowercase());
    assert_eq!(v["email_verified"], false);
    assert_eq!(v["mfa_enabled"], false);
    assert_eq!(v["name"], "Ann Example");
    let token = v["token"].as_str().unwrap();
    assert!(token.len() >= 43, "token too short: {token}");
    assert!(!token.contains(['+', '/', '=']), "not base64url: {token}");

    assert!(
        cookie.starts_with(&format!("authn_session={token};")),
        "{cookie}"
    );
    let attrs: Vec<&str> = cookie.split(';').map(str::trim).collect();
    for a in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(attrs.contains(&a), "{a} missing: {cookie}");
    }
    assert!(
        !attrs.iter().any(|a| a.eq_ignore_ascii_case("secure")),
        "Secure on http: {cookie}"
    );

    // the token is a working session of that user
    let (status, m) = me(&srv, token).await;
    assert_eq!(status, StatusCode::OK, "{m}");
    assert_eq!(m["id"], v["id"]);
    assert!(m.get("token").is_none(), "{m}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signup_refuses_bad_email_weak_password_and_taken_email() {
    let srv = TestServer::start().await;
    let c = srv.bare_client();
    let signup = |email: String, password: &str| {
        c.post(srv.url("/api/v1/auth/signup"))
            .json(&json!({ "email": email, "password": password }))
    };

    let got = send(signup("not-an-email".into(), PASSWORD)).await;
    assert_error(&got, StatusCode::BAD_REQUEST, "invalid_email");

    let got = send(signup(email("weak"), "password")).await;
    assert_error(&got, StatusCode::BAD_REQUEST, "weak_password");

    // the email's local part as the password
    let addr = email("localpart");
    let local = addr.split('@').next().unwrap().to_owned();
    let got = send(signup(addr.clone(), &local)).await;
    assert_error(&got, StatusCode::BAD_REQUEST, "weak_password");
    // nothing was created: the address is still free
    let (status, v) = send(signup(addr.clone(), PASSWORD)).await;
    assert_eq!(status, StatusCode::CREATED, "{v}");

    // the same address in another case is taken
    let got = send(signup(addr.to_uppercase(), PASSWORD)).await;
    assert_error(&got, StatusCode::CONFLICT, "email_taken");
}

// ---------------------------------------------------------------- login

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_answers_user_and_token_and_never_tells_why_it_failed() {
    let srv = TestServer::start().await;
    let c = srv.bare_client();
    let alice = email("alice");
    let (id, signup_token) = srv.signup(&c, &alice).await;

    let (status, v) = srv.login(&c, &alice.to_uppercase(), PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_user(&v, &alice);
    assert_eq!(v["id"], id.as_str());
    assert!(v.get("mfaRequired").is_none(), "{v}");
    let token = v["token"].as_str().unwrap();
    assert_ne!(token, signup_token, "a new session on every login");
    assert_eq!(me(&srv, token).await.0, StatusCode::OK);

    let wrong = srv.login(&c, &alice, "wrong password entirely").await;
    assert_error(&wrong, StatusCode::UNAUTHORIZED, "invalid_credentials");
    let unknown = srv.login(&c, &email("nobody"), PASSWORD).await;
    let malformed = srv.login(&c, "not an email", PASSWORD).await;
    assert_eq!(unknown, wrong, "unknown email vs wrong password");
    assert_eq!(malformed, wrong, "malformed email vs wrong password");

    // a disabled user gets the same answer, even with the right password
    let bob = email("bob");
    let (bob_id, bob_token) = srv.signup(&c, &bob).await;
    assert!(
        authn_core::store::UserStore::disable_user(
            srv.state.auth.store(),
            authn_core::UserId::parse(&bob_id).unwrap(),
        )
        .await
        .unwrap()
    );
    let disabled = srv.login(&c, &bob, PASSWORD).await;
    assert_eq!(disabled, wrong, "disabled user vs wrong password");
    assert_dead(&me(&srv, &bob_token).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_wrong_passwords_lock_the_account_with_retry_after() {
    let srv = TestServer::start().await;
    let c = srv.bare_client();
    let alice = email("locked");
    srv.signup(&c, &alice).await;
    for _ in 0..5 {
        let got = srv.login(&c, &alice, "not the password").await;
        assert_error(&got, StatusCode::UNAUTHORIZED, "invalid_credentials");
    }
    let r = c
        .post(srv.url("/api/v1/auth/login"))
        .json(&json!({ "email": alice, "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    let retry: u64 = r
        .headers()
        .get(RETRY_AFTER)
        .expect("Retry-After")
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry >= 1, "Retry-After {retry}");
    let got = json_of(r).await;
    assert_error(&got, StatusCode::TOO_MANY_REQUESTS, "account_locked");
    assert!(got.1.get("token").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_wrong_passwords_never_pass_the_lockout_limit() {
    // Every login takes a place in the hasher's queue before anything
    // else; with room for all 20, none is refused as busy and only the
    // lockout decides.
    let srv = TestServer::start_with(&["--hash-queue", "32"]).await;
    let alice = email("race");
    srv.signup(&srv.bare_client(), &alice).await;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let c = srv.bare_client();
        let url = srv.url("/api/v1/auth/login");
        let body = json!({ "email": alice, "password": "not the password" });
        tasks.spawn(async move { send(c.post(url).json(&body)).await });
    }
    let (mut unauthorized, mut locked) = (0, 0);
    while let Some(got) = tasks.join_next().await {
        let got = got.unwrap();
        match got.0 {
            StatusCode::UNAUTHORIZED => {
                assert_error(&got, StatusCode::UNAUTHORIZED, "invalid_credentials");
                unauthorized += 1;
            }
            _ => {
                assert_error(&got, StatusCode::TOO_MANY_REQUESTS, "account_locked");
                locked += 1;
            }
        }
    }
    assert!(
        (1..=5).contains(&unauthorized),
        "{unauthorized} wrong passwords checked"
    );
    assert_eq!(unauthorized + locked, 20);
    let got = srv.login(&srv.bare_client(), &alice, PASSWORD).await;
    assert_error(&got, StatusCode::TOO_MANY_REQUESTS, "account_locked");
}

// ---------------------------------------------------------------- transport

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bearer_and_cookie_both_work_and_cross_origin_cookie_posts_are_refused() {
    let srv = TestServer::start().await;
    let browser = srv.client();
    let alice = email("transport");
    let (id, token) = srv.signup(&browser, &alice).await;

    // bearer without cookies
    let (status, v) = me(&srv, &token).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["id"], id.as_str());
    // cookie without bearer
    let (status, v) = send(browser.get(srv.url("/api/v1/auth/me"))).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["id"], id.as_str());
    // a cross-origin GET is harmless and allowed
    let (status, _) = send(
        browser
            .get(srv.url("/api/v1/auth/me"))
            .header("Origin", "https://evil.example"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    // a cookie-authenticated state change from another origin: refused,
    // and the action did not happen
    let got = send(
        browser
            .post(srv.url("/api/v1/auth/logout"))
            .header("Origin", "https://evil.example"),
    )
    .await;
    assert_error(&got, StatusCode::FORBIDDEN, "forbidden_origin");
    let other = login_token(&srv, &alice).await;
    let got = send(
        browser
            .delete(srv.url("/api/v1/auth/sessions"))
            .header("Origin", "https://evil.example"),
    )
    .await;
    assert_error(&got, StatusCode::FORBIDDEN, "forbidden_origin");
    assert_eq!(me(&srv, &token).await.0, StatusCode::OK);
    assert_eq!(me(&srv, &other).await.0, StatusCode::OK);

    // the same from the server's own origin works
    let (status, v) = send(
        browser
            .delete(srv.url("/api/v1/auth/sessions"))
            .header("Origin", &srv.base),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["revoked"], 1);
    assert_dead(&me(&srv, &other).await);
    let (status, _) = send(
        browser
            .post(srv.url("/api/v1/auth/logout"))
            .header("Origin", &srv.base),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_dead(&me(&srv, &token).await);

    // a bearer request carries no ambient credential: any Origin is fine
    let bearer = login_token(&srv, &alice).await;
    let (status, v) = send(
        srv.bare_client()
            .post(srv.url("/api/v1/auth/logout"))
            .bearer_auth(&bearer)
            .header("Origin", "https://evil.example"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_dead(&me(&srv, &bearer).await);
}

// ---------------------------------------------------------------- logout

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_revokes_the_session_and_clears_the_cookie() {
    let srv = TestServer::start().await;
    let browser = srv.client();
    let (_, token) = srv.signup(&browser, &email("logout")).await;

    let r = browser
        .post(srv.url("/api/v1/auth/logout"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let cookie = set_cookie(&r);
    assert!(cookie.starts_with("authn_session=;"), "{cookie}");
    assert!(cookie.contains("Max-Age=0"), "{cookie}");
    assert!(cookie.contains("Path=/"), "{cookie}");
    assert_eq!(json_of(r).await.1, json!({}));

    assert_dead(&me(&srv, &token).await);
    assert_dead(&send(browser.get(srv.url("/api/v1/auth/me"))).await);
    // logging out again: there is no session any more
    assert_dead(
        &send(
            srv.bare_client()
                .post(srv.url("/api/v1/auth/logout"))
                .bearer_auth(&token),
        )
        .await,
    );
}

// ---------------------------------------------------------------- /me

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn me_needs_a_session_and_delete_me_removes_the_account() {
    let srv = TestServer::start().await;
    assert_dead(&send(srv.bare_client().get(srv.url("/api/v1/auth/me"))).await);
    assert_dead(&me(&srv, "not-a-session-token").await);

    let alice = email("deleteme");
    let (_, token) = srv.signup(&srv.bare_client(), &alice).await;
    let other = login_token(&srv, &alice).await;
    let r = srv
        .bare_client()
        .delete(srv.url("/api/v1/auth/me"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(set_cookie(&r).contains("Max-Age=0"));
    let (_, v) = json_of(r).await;
    assert!(v["message"].is_string(), "{v}");

    assert_dead(&me(&srv, &token).await);
    assert_dead(&me(&srv, &other).await);
    let got = srv.login(&srv.bare_client(), &alice, PASSWORD).await;
    assert_error(&got, StatusCode::UNAUTHORIZED, "invalid_credentials");
    // the address is free again
    srv.signup(&srv.bare_client(), &alice).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_session_needs_step_up_for_delete_me_and_password_change() {
    let srv = TestServer::start_with(&["--step-up-max-age-secs", "1"]).await;
    let alice = email("stale");
    let (_, token) = srv.signup(&srv.bare_client(), &alice).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let c = srv.bare_client();

    let got = send(c.delete(srv.url("/api/v1/auth/me")).bearer_auth(&token)).await;
    assert_error(&got, StatusCode::FORBIDDEN, "step_up_required");
    assert_eq!(got.1["max_age"], 1);
    assert_eq!(me(&srv, &token).await.0, StatusCode::OK, "not deleted");

    let got = send(
        c.post(srv.url("/api/v1/auth/password/change"))
            .bearer_auth(&token)
            .json(
                &json!({ "current_password": PASSWORD, "new_password": "a brand new passphrase" }),
            ),
    )
    .await;
    assert_error(&got, StatusCode::FORBIDDEN, "step_up_required");
    assert_eq!(got.1["max_age"], 1);
    let (status, _) = srv.login(&c, &alice, PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "password unchanged");
}

// ---------------------------------------------------------------- sessions

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn current_session_describes_a_password_session() {
    let srv = TestServer::start().await;
    let (id, token) = srv.signup(&srv.bare_client(), &email("session")).await;
    let (status, s) = send(
        srv.bare_client()
            .get(srv.url("/api/v1/auth/session"))
            .bearer_auth(&token),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{s}");
    uuid::Uuid::parse_str(s["id"].as_str().unwrap()).unwrap();
    assert_eq!(s["user_id"], id.as_str());
    assert_eq!(s["amr"], json!(["pwd"]));
    assert_eq!(s["acr"], "aal1");
    assert_rfc3339(&s["auth_time"]);
    assert!(s["mfa_at"].is_null(), "{s}");
    assert_rfc3339(&s["expires_at"]);
    let expires = chrono::DateTime::parse_from_rfc3339(s["expires_at"].as_str().unwrap()).unwrap();
    assert!(expires > chrono::Utc::now());
    assert_eq!(s["partial"], false);

    assert_dead(&send(srv.bare_client().get(srv.url("/api/v1/auth/session"))).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_are_listed_and_revoked_one_by_one_or_all_others() {
    let srv = TestServer::start().await;
    let alice = email("sessions");
    let ua = |n: &str| format!("auth-routes-test/{n}");
    let login_with_ua = async |n: &str| {
        let (status, v) = send(
            srv.bare_client()
                .post(srv.url("/api/v1/auth/login"))
                .header("User-Agent", ua(n))
                .json(&json!({ "email": alice, "password": PASSWORD })),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{v}");
        v["token"].as_str().unwrap().to_owned()
    };
    srv.signup(&srv.bare_client(), &alice).await;
    let a = login_with_ua("a").await;
    let b = login_with_ua("b").await;
    let list = |t: String| {
        srv.bare_client()
            .get(srv.url("/api/v1/auth/sessions"))
            .bearer_auth(t)
    };

    let (status, v) = send(list(a.clone())).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let data = v["data"].as_array().unwrap();
    assert_eq!(data.len(), 3, "signup + two logins: {v}");
    let current: Vec<&Value> = data.iter().filter(|s| s["current"] == true).collect();
    assert_eq!(current.len(), 1, "{v}");
    let (_, me_session) = send(
        srv.bare_client()
            .get(srv.url("/api/v1/auth/session"))
            .bearer_auth(&a),
    )
    .await;
    assert_eq!(current[0]["id"], me_session["id"]);
    assert_eq!(current[0]["user_agent"], ua("a"));
    for s in data {
        assert_eq!(s["ip_address"], "127.0.0.1", "{s}");
        assert_eq!(s["amr"], json!(["pwd"]), "{s}");
        assert_rfc3339(&s["created_at"]);
        assert_rfc3339(&s["expires_at"]);
    }
    let b_item = data
        .iter()
        .find(|s| s["user_agent"] == ua("b"))
        .expect("b listed");
    assert_eq!(b_item["current"], false);
    let b_id = b_item["id"].as_str().unwrap().to_owned();

    // revoke b from a
    let revoke = |t: &str, id: &str| {
        srv.bare_client()
            .delete(srv.url(&format!("/api/v1/auth/sessions/{id}")))
            .bearer_auth(t)
    };
    let r = revoke(&a, &b_id).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_dead(&me(&srv, &b).await);
    assert_eq!(me(&srv, &a).await.0, StatusCode::OK);
    // again, unknown, garbage: 404
    let got = send(revoke(&a, &b_id)).await;
    assert_error(&got, StatusCode::NOT_FOUND, "not_found");
    let got = send(revoke(&a, &uuid::Uuid::now_v7().to_string())).await;
    assert_error(&got, StatusCode::NOT_FOUND, "not_found");
    let got = send(revoke(&a, "not-a-session-id")).await;
    assert_error(&got, StatusCode::NOT_FOUND, "not_found");
    // another user's session: 404, and it lives on
    let (_, mallory) = srv.signup(&srv.bare_client(), &email("mallory")).await;
    let (_, m_session) = send(
        srv.bare_client()
            .get(srv.url("/api/v1/auth/session"))
            .bearer_auth(&mallory),
    )
    .await;
    let got = send(revoke(&a, m_session["id"].as_str().unwrap())).await;
    assert_error(&got, StatusCode::NOT_FOUND, "not_found");
    assert_eq!(me(&srv, &mallory).await.0, StatusCode::OK);

    // all others: the signup session and two more logins go, a stays
    let c = login_with_ua("c").await;
    let d = login_with_ua("d").await;
    let (status, v) = send(
        srv.bare_client()
            .delete(srv.url("/api/v1/auth/sessions"))
            .bearer_auth(&a),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v, json!({ "revoked": 3 }));
    assert_dead(&me(&srv, &c).await);
    assert_dead(&me(&srv, &d).await);
    assert_eq!(me(&srv, &a).await.0, StatusCode::OK);
    let (_, v) = send(list(a.clone())).await;
    assert_eq!(v["data"].as_array().unwrap().len(), 1, "{v}");
    assert_eq!(
        me(&srv, &mallory).await.0,
        StatusCode::OK,
        "other users untouched"
    );
}

// ---------------------------------------------------------------- email verification

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn email_verification_by_link_and_by_post() {
    let srv = TestServer::start().await;
    let c = srv.bare_client();
    let alice = email("verify");
    let (_, token) = srv.signup(&c, &alice).await;

    assert_dead(&send(c.post(srv.url("/api/v1/auth/email/verify/send"))).await);
    let (status, v) = send(
        c.post(srv.url("/api/v1/auth/email/verify/send"))
            .bearer_auth(&token),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert!(v["message"].is_string());
    let mail = srv.wait_mail(&alice, 0).await;
    let text = mail["text"].as_str().unwrap();
    let link_token = token_in(&mail);
    assert!(
        text.contains(&format!(
            "{}/api/v1/auth/email/verify?token={link_token}",
            srv.base
        )),
        "{text}"
    );

    let verify = |t: &str| {
        c.get(with_query(
            srv.url("/api/v1/auth/email/verify"),
            &[("token", t)],
        ))
    };
    let (status, v) = send(verify(&link_token)).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert!(v["message"].is_string());
    assert_eq!(me(&srv, &token).await.1["email_verified"], true);
    let got = send(verify(&link_token)).await;
    assert_error(&got, StatusCode::BAD_REQUEST, "invalid_token");
    let got = send(verify("garbage-token")).await;
    assert_error(&got, StatusCode::BAD_REQUEST, "invalid_token");

    // the POST form
    let bob = email("verify-post");
    let (_, bob_token) = srv.signup(&c, &bob).await;
    let (status, _) = send(
        c.post(srv.url("/api/v1/auth/email/verify/send"))
            .bearer_auth(&bob_token),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let bob_link = token_in(&srv.wait_mail(&bob, 0).await);
    let post = |t: &str| {
        c.post(srv.url("/api/v1/auth/email/verify"))
            .json(&json!({ "token": t }))
    };
    let got = send(post("garbage-token")).await;
    assert_error(&got, StatusCode::BAD_REQUEST, "invalid_token");
    let (status, v) = send(post(&bob_link)).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(me(&srv, &bob_token).await.1["email_verified"], true);
    let got = send(post(&bob_link)).await;
    assert_error(&got, StatusCode::BAD_REQUEST, "invalid_token");
}

// ---------------------------------------------------------------- password reset

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_reset_revokes_every_session_and_is_single_use() {
    let srv = TestServer::start().await;
    let c = srv.bare_client();
    let alice = email("reset");
    let (_, s1) = srv.signup(&c, &alice).await;
    let s2 = login_token(&srv, &alice).await;
    let send_link = |e: &str| {
        c.post(srv.url("/api/v1/auth/password/send-reset-link"))
            .json(&json!({ "email": e }))
    };

    let known = send(send_link(&alice)).await;
    let unknown_addr = email("nobody");
    let unknown = send(send_link(&unknown_addr)).await;
    let malformed = send(send_link("not an email")).await;
    assert_eq!(known.0, StatusCode::OK, "{}", known.1);
    assert!(known.1["message"].is_string());
    assert_eq!(unknown, known, "unknown email vs known");
    assert_eq!(malformed, known, "malformed email vs known");
    let mail = srv.wait_mail(&alice, 0).await;
    let reset_token = token_in(&mail);
    assert!(srv.last_mail(&unknown_addr).await.is_null());

    let reset = |t: &str, p: &str| {
        c.post(srv.url("/api/v1/auth/password/reset"))
            .json(&json!({ "token": t, "password": p }))
    };
    // a weak password is refused before the token is spent
    let got = send(reset(&reset_token, "password")).await;
    assert_error(&got, StatusCode::BAD_REQUEST, "weak_password");
    let got = send(reset("garbage-token", "a brand new passphrase")).await;
    assert_error(&got, StatusCode::BAD_REQUEST, "invalid_token");
    assert_eq!(me(&srv, &s1).await.0, StatusCode::OK);

    let (status, v) = send(reset(&reset_token, "a brand new passphrase")).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert!(v["message"].is_string());
    assert_dead(&me(&srv, &s1).await);
    assert_dead(&me(&srv, &s2).await);
    let got = srv.login(&c, &alice, PASSWORD).await;
    assert_error(&got, StatusCode::UNAUTHORIZED, "invalid_credentials");
    let (status, v) = srv.login(&c, &alice, "a brand new passphrase").await;
    assert_eq!(status, StatusCode::OK, "{v}");

    let got = send(reset(&reset_token, "yet another passphrase")).await;
    assert_error(&got, StatusCode::BAD_REQUEST, "invalid_token");
    let (status, _) = srv.login(&c, &alice, "a brand new passphrase").await;
    assert_eq!(status, StatusCode::OK, "the reused token changed nothing");
}

// ---------------------------------------------------------------- password change

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_change_needs_the_current_password_and_revokes_other_sessions() {
    let srv = TestServer::start().await;
    let c = srv.bare_client();
    let alice = email("change");
    let (_, current) = srv.signup(&c, &alice).await;
    let other = login_token(&srv, &alice).await;
    let change = |cur: &str, new: &str| {
        c.post(srv.url("/api/v1/auth/password/change"))
            .bearer_auth(&current)
            .json(&json!({ "current_password": cur, "new_password": new }))
    };

    let got = send(change("not the password", "a brand new passphrase")).await;
    assert_error(&got, StatusCode::UNAUTHORIZED, "invalid_credentials");
    assert_eq!(me(&srv, &other).await.0, StatusCode::OK);
    let got = send(change(PASSWORD, "password")).await;
    assert_error(&got, StatusCode::BAD_REQUEST, "weak_password");

    let (status, v) = send(change(PASSWORD, "a brand new passphrase")).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert!(v["message"].is_string());
    assert_eq!(me(&srv, &current).await.0, StatusCode::OK);
    assert_dead(&me(&srv, &other).await);
    let got = srv.login(&c, &alice, PASSWORD).await;
    assert_error(&got, StatusCode::UNAUTHORIZED, "invalid_credentials");
    let (status, _) = srv.login(&c, &alice, "a brand new passphrase").await;
    assert_eq!(status, StatusCode::OK);
}

// ---------------------------------------------------------------- magic links

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn magic_link_signs_in_once_and_verifies_the_email() {
    let srv = TestServer::start().await;
    let c = srv.bare_client();
    let alice = email("magic");
    let (id, _) = srv.signup(&c, &alice).await;
    let send_link = |e: &str| {
        c.post(srv.url("/api/v1/auth/magic-link/send"))
            .json(&json!({ "email": e }))
    };
    let known = send(send_link(&alice)).await;
    assert_eq!(known.0, StatusCode::OK, "{}", known.1);
    assert!(known.1["message"].is_string());
    let unknown_addr = email("nobody");
    assert_eq!(send(send_link(&unknown_addr)).await, known);
    assert_eq!(send(send_link("not an email")).await, known);
    let mail = srv.wait_mail(&alice, 0).await;
    let link = token_in(&mail);
    assert!(
        mail["text"]
            .as_str()
            .unwrap()
            .contains("/api/v1/auth/magic-link/verify?token="),
        "{mail}"
    );
    assert!(srv.last_mail(&unknown_addr).await.is_null());

    let browser = srv.client();
    let verify = |t: &str| {
        browser.get(with_query(
            srv.url("/api/v1/auth/magic-link/verify"),
            &[("token", t)],
        ))
    };
    let r = verify(&link).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let cookie = set_cookie(&r);
    let (_, v) = json_of(r).await;
    assert_user(&v, &alice);
    assert_eq!(v["id"], id.as_str());
    assert_eq!(v["email_verified"], true);
    let token = v["token"].as_str().unwrap();
    assert_eq!(cookie_token(&cookie), token);
    // the cookie alone is a session; it was made by email
    let (status, s) = send(browser.get(srv.url("/api/v1/auth/session"))).await;
    assert_eq!(status, StatusCode::OK, "{s}");
    assert_eq!(s["amr"], json!(["email"]));
    assert_eq!(s["partial"], false);
    assert_eq!(me(&srv, token).await.1["email_verified"], true);

    let got = send(verify(&link)).await;
    assert_error(&got, StatusCode::BAD_REQUEST, "invalid_token");
    let got = send(verify("garbage-token")).await;
    assert_error(&got, StatusCode::BAD_REQUEST, "invalid_token");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn magic_link_of_an_mfa_user_opens_a_partial_session() {
    let srv = TestServer::start().await;
    let c = srv.bare_client();
    let alice = email("magic-mfa");
    let (_, token) = srv.signup(&c, &alice).await;
    srv.enable_mfa(&c, &token).await;
    let (status, _) = send(
        c.post(srv.url("/api/v1/auth/magic-link/send"))
            .json(&json!({ "email": alice })),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let link = token_in(&srv.wait_mail(&alice, 0).await);
    let (status, v) = send(c.get(with_query(
        srv.url("/api/v1/auth/magic-link/verify"),
        &[("token", &link)],
    )))
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["mfaRequired"], true, "{v}");
    assert!(
        v["mfa_methods"]
            .as_array()
            .unwrap()
            .contains(&json!("totp")),
        "{v}"
    );
    assert!(
        v.get("id").is_none(),
        "no user before the second factor: {v}"
    );
    let partial = v["token"].as_str().unwrap();
    let got = me(&srv, partial).await;
    assert_error(&got, StatusCode::FORBIDDEN, "mfa_required");
    let (_, s) = send(c.get(srv.url("/api/v1/auth/session")).bearer_auth(partial)).await;
    assert_eq!(s["partial"], true, "{s}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn magic_link_redirects_only_to_allow_listed_uris() {
    let srv = TestServer::start_with(&["--redirect-allowlist", "https://app.example/"]).await;
    let c = no_redirect_client();
    let alice = email("magic-redirect");
    srv.signup(&c, &alice).await;
    let (status, _) = send(
        c.post(srv.url("/api/v1/auth/magic-link/send"))
            .json(&json!({ "email": alice })),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let link = token_in(&srv.wait_mail(&alice, 0).await);
    let verify = |uri: &str| {
        c.get(with_query(
            srv.url("/api/v1/auth/magic-link/verify"),
            &[("token", link.as_str()), ("redirect_uri", uri)],
        ))
    };

    for bad in [
        "https://evil.example/cb",
        "https://app.example.evil.example/",
        "javascript:alert(1)",
    ] {
        let got = send(verify(bad)).await;
        assert_eq!(got.0, StatusCode::BAD_REQUEST, "{bad}: {}", got.1);
        assert!(got.1["error"].is_string() && got.1["message"].is_string());
    }

    // the token was not spent by the refused redirects
    let r = verify("https://app.example/welcome?x=1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FOUND);
    assert_eq!(
        r.headers().get(LOCATION).unwrap(),
        "https://app.example/welcome?x=1"
    );
    let token = cookie_token(&set_cookie(&r));
    let (status, v) = me(&srv, &token).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["email"], alice.as_str());
    assert_eq!(v["email_verified"], true);

    let got = send(verify("https://app.example/welcome")).await;
    assert_error(&got, StatusCode::BAD_REQUEST, "invalid_token");
}

// ---------------------------------------------------------------- introspection

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn introspection_tells_services_what_a_token_is_worth() {
    let srv = TestServer::start().await;
    let c = srv.bare_client();
    let alice = email("introspect");
    let (id, token) = srv.signup(&c, &alice).await;

    // the admin key is required
    let url = srv.url("/api/v1/auth/introspect");
    let got = send(c.post(&url).json(&json!({ "token": token }))).await;
    assert_error(&got, StatusCode::UNAUTHORIZED, "unauthorized");
    let got = send(
        c.post(&url)
            .bearer_auth(&token)
            .json(&json!({ "token": token })),
    )
    .await;
    assert_error(&got, StatusCode::UNAUTHORIZED, "unauthorized");

    let (status, v) = introspect(&srv, json!({ "token": token })).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let (_, s) = send(c.get(srv.url("/api/v1/auth/session")).bearer_auth(&token)).await;
    assert_eq!(v["active"], true);
    assert_eq!(v["user_id"], id.as_str());
    assert_eq!(v["session_id"], s["id"]);
    assert_eq!(v["email"], alice.as_str());
    assert_eq!(v["amr"], json!(["pwd"]));
    assert_eq!(v["acr"], "aal1");
    assert_rfc3339(&v["auth_time"]);
    assert_rfc3339(&v["expires_at"]);

    // no second factor yet: not fresh enough when one is asked for
    let (_, v) = introspect(&srv, json!({ "token": token, "max_mfa_age": 600 })).await;
    assert_eq!(v, json!({ "active": false }));

    let inactive = json!({ "active": false });
    let (status, v) = introspect(&srv, json!({ "token": "garbage" })).await;
    assert_eq!((status, v), (StatusCode::OK, inactive.clone()));

    // a partial session is not active; after the challenge it is, and fresh
    let (secret, _) = srv.enable_mfa(&c, &token).await;
    let (_, login) = srv.login(&c, &alice, PASSWORD).await;
    assert_eq!(login["mfaRequired"], true, "{login}");
    let partial = login["token"].as_str().unwrap();
    let (_, v) = introspect(&srv, json!({ "token": partial })).await;
    assert_eq!(v, inactive);
    let (status, ch) = send(
        c.post(srv.url("/api/v1/auth/mfa/challenge"))
            .bearer_auth(partial)
            .json(&json!({ "code": next_code(&secret) })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{ch}");
    let full = ch["token"].as_str().unwrap();
    let (_, v) = introspect(&srv, json!({ "token": full, "max_mfa_age": 600 })).await;
    assert_eq!(v["active"], true, "{v}");
    assert_eq!(v["acr"], "aal2");
    assert_rfc3339(&v["mfa_at"]);
    let (_, v) = introspect(&srv, json!({ "token": partial })).await;
    assert_eq!(v, inactive, "the partial token was replaced");

    // revoked
    let (status, _) = send(c.post(srv.url("/api/v1/auth/logout")).bearer_auth(full)).await;
    assert_eq!(status, StatusCode::OK);
    let (_, v) = introspect(&srv, json!({ "token": full })).await;
    assert_eq!(v, inactive);
}
