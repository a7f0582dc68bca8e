//! Admin routes over a real server: the admin key, users, their MFA and
//! sessions, audit (filters, paging, actor context, no secrets), statistics,
//! cleanup and the development outbox.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::HashSet;
use std::time::Duration;

use authn_core::store::AdminKeyStore;
use authn_core::store::{SessionStore, UserStore};
use authn_core::{NewSession, TokenHash, UserId};
use common::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// An admin request with `key` as bearer; status and JSON body.
async fn admin_with(
    srv: &TestServer,
    key: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut rb = srv
        .bare_client()
        .request(method, srv.url(path))
        .bearer_auth(key);
    if let Some(b) = body {
        rb = rb.json(&b);
    }
    json_of(rb.send().await.unwrap()).await
}

/// An admin request with the bootstrap key.
async fn admin(
    srv: &TestServer,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    admin_with(srv, ADMIN_KEY, method, path, body).await
}

/// Percent-encodes a query value.
fn enc(v: &str) -> String {
    url::form_urlencoded::byte_serialize(v.as_bytes()).collect()
}

/// `GET /auth/me` with a bearer token; the status.
async fn me_status(srv: &TestServer, token: &str) -> StatusCode {
    srv.bare_client()
        .get(srv.url("/api/v1/auth/me"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
}

/// Creates a user through the admin API; returns its JSON.
async fn create_user(srv: &TestServer, body: Value) -> Value {
    let (status, v) = admin(srv, Method::POST, "/api/v1/admin/users", Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    v
}

/// Every audit event of the server's namespace, newest first, following
/// cursors (bounded).
async fn all_audit_events(srv: &TestServer, filter: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..100 {
        let mut path = format!("/api/v1/audit-logs?limit=1000{filter}");
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={}", enc(c)));
        }
        let (status, v) = admin(srv, Method::GET, &path, None).await;
        assert_eq!(status, StatusCode::OK, "{v}");
        out.extend(v["data"].as_array().unwrap().iter().cloned());
        match v["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return out,
        }
    }
    panic!("audit paging did not end");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_routes_need_a_valid_admin_key() {
    let srv = TestServer::start().await;
    let c = srv.bare_client();
    let (user_id, session_token) = srv.signup(&c, &email("keyless")).await;
    let paths = [
        (Method::GET, "/api/v1/users".to_owned()),
        (Method::GET, format!("/api/v1/users/{user_id}")),
        (Method::DELETE, format!("/api/v1/users/{user_id}")),
        (Method::GET, "/api/v1/audit-logs".to_owned()),
        (Method::GET, "/api/v1/admin/stats".to_owned()),
        (Method::POST, "/api/v1/admin/cleanup".to_owned()),
        (Method::GET, "/api/v1/admin/dev/outbox".to_owned()),
    ];
    for (method, path) in &paths {
        // no key at all
        let r = c
            .request(method.clone(), srv.url(path))
            .send()
            .await
            .unwrap();
        assert_error(&json_of(r).await, StatusCode::UNAUTHORIZED, "unauthorized");
        // a wrong key, a user's session token, the right key with another scheme
        for key in ["wrong-admin-key-0123456789", session_token.as_str()] {
            let got = admin_with(&srv, key, method.clone(), path, None).await;
            assert_error(&got, StatusCode::UNAUTHORIZED, "unauthorized");
        }
        let r = c
            .request(method.clone(), srv.url(path))
            .header("authorization", format!("Basic {ADMIN_KEY}"))
            .send()
            .await
            .unwrap();
        assert_error(&json_of(r).await, StatusCode::UNAUTHORIZED, "unauthorized");
    }
    // nothing was deleted by the refused requests
    let (status, _) = admin(&srv, Method::GET, &format!("/api/v1/users/{user_id}"), None).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stored_admin_key_works_until_revoked() {
    let srv = TestServer::start().await;
    let key = format!("ak_{}", authn_core::token::generate_token());
    let stored = srv
        .state
        .auth
        .store()
        .create_admin_key("ci", &TokenHash::of_token(&key))
        .await
        .unwrap();
    let (status, v) = admin_with(&srv, &key, Method::GET, "/api/v1/admin/stats", None).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    // its actions are audited under the key's id (never the key)
    let created = admin_with(
        &srv,
        &key,
        Method::POST,
        "/api/v1/admin/users",
        Some(json!({ "email": email("bykey") })),
    )
    .await;
    assert_eq!(created.0, StatusCode::CREATED, "{}", created.1);
    let id = created.1["id"].as_str().unwrap();
    let events =
        all_audit_events(&srv, &format!("&resource_id={id}&event_type=user_created")).await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["actor_id"], format!("admin_key:{}", stored.id));

    assert!(
        srv.state
            .auth
            .store()
            .revoke_admin_key(stored.id)
            .await
            .unwrap()
    );
    let got = admin_with(&srv, &key, Method::GET, "/api/v1/admin/stats", None).await;
    assert_error(&got, StatusCode::UNAUTHORIZED, "unauthorized");
    // the bootstrap key is unaffected
    let (status, _) = admin(&srv, Method::GET, "/api/v1/admin/stats", None).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_users_pages_in_creation_order_and_finds_by_email() {
    let srv = TestServer::start().await;
    let mut created = Vec::new();
    let mut emails = Vec::new();
    for i in 0..5 {
        let e = email(&format!("page{i}"));
        let v = create_user(&srv, json!({ "email": e })).await;
        created.push(v["id"].as_str().unwrap().to_owned());
        emails.push(e);
    }

    // pages of 2, in creation order, until next_cursor is null
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        pages += 1;
        assert!(pages <= 4, "too many pages");
        let mut path = "/api/v1/users?limit=2".to_owned();
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={}", enc(c)));
        }
        let (status, v) = admin(&srv, Method::GET, &path, None).await;
        assert_eq!(status, StatusCode::OK, "{v}");
        let data = v["data"].as_array().unwrap();
        assert!(data.len() <= 2, "{v}");
        for u in data {
            for field in [
                "id",
                "email",
                "email_verified",
                "mfa_enabled",
                "created_at",
                "updated_at",
            ] {
                assert!(u.get(field).is_some(), "{field} missing in {u}");
            }
            seen.push(u["id"].as_str().unwrap().to_owned());
        }
        match v["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => {
                assert!(
                    v.get("next_cursor").is_some(),
                    "next_cursor is always present: {v}"
                );
                break;
            }
        }
    }
    assert_eq!(seen, created);
    assert!(pages >= 3);

    // without a limit: everything, in order
    let (_, v) = admin(&srv, Method::GET, "/api/v1/users", None).await;
    let all: Vec<&str> = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_str().unwrap())
        .collect();
    assert_eq!(all, created);
    assert!(v["next_cursor"].is_null(), "{v}");

    // by email, case-insensitive
    let upper = emails[2].to_uppercase();
    let (status, v) = admin(
        &srv,
        Method::GET,
        &format!("/api/v1/users?email={}", enc(&upper)),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let data = v["data"].as_array().unwrap();
    assert_eq!(data.len(), 1, "{v}");
    assert_eq!(data[0]["id"], created[2].as_str());
    assert_eq!(data[0]["email"], emails[2].as_str());

    // unknown or malformed email: empty data, not an error
    for e in [email("nobody"), "not-an-email".to_owned()] {
        let (status, v) = admin(
            &srv,
            Method::GET,
            &format!("/api/v1/users?email={}", enc(&e)),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{v}");
        assert_eq!(v["data"], json!([]), "{v}");
        assert!(v["next_cursor"].is_null());
    }

    // bad paging values are client errors, never 5xx (unparsable query
    // strings are covered in robustness.rs)
    for q in ["cursor=garbage", "limit=0"] {
        let (status, v) = admin(&srv, Method::GET, &format!("/api/v1/users?{q}"), None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{q}: {v}");
        assert!(v["error"].is_string() && v["message"].is_string(), "{v}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_creates_users() {
    let srv = TestServer::start().await;
    let c = srv.client();

    // verified, with a password and a name: the user can log in
    let alice = email("alice");
    let v = create_user(
        &srv,
        json!({ "email": alice, "password": PASSWORD, "name": "Alice", "email_verified": true }),
    )
    .await;
    assert_eq!(v["email"], alice.as_str());
    assert_eq!(v["email_verified"], true);
    assert_eq!(v["name"], "Alice");
    assert_eq!(v["mfa_enabled"], false);
    assert!(uuid::Uuid::parse_str(v["id"].as_str().unwrap()).is_ok());
    assert!(v.get("password").is_none() && v.get("password_hash").is_none());
    let (status, login) = srv.login(&c, &alice, PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{login}");
    assert_eq!(login["id"], v["id"]);

    // email normalised to lower case; unverified by default
    let bob = email("bob");
    let v = create_user(&srv, json!({ "email": bob.to_uppercase() })).await;
    assert_eq!(v["email"], bob.as_str());
    assert_eq!(v["email_verified"], false);
    assert!(v["name"].is_null());
    // no password: password login is refused like any wrong password
    let got = srv.login(&c, &bob, PASSWORD).await;
    assert_error(&got, StatusCode::UNAUTHORIZED, "invalid_credentials");

    // errors
    let got = admin(
        &srv,
        Method::POST,
        "/api/v1/admin/users",
        Some(json!({ "email": email("weak"), "password": "password" })),
    )
    .await;
    assert_error(&got, StatusCode::BAD_REQUEST, "weak_password");
    let got = admin(
        &srv,
        Method::POST,
        "/api/v1/admin/users",
        Some(json!({ "email": alice.to_uppercase() })),
    )
    .await;
    assert_error(&got, StatusCode::CONFLICT, "email_taken");
    let got = admin(
        &srv,
        Method::POST,
        "/api/v1/admin/users",
        Some(json!({ "email": "not an email" })),
    )
    .await;
    assert_error(&got, StatusCode::BAD_REQUEST, "invalid_email");
    let got = admin(&srv, Method::POST, "/api/v1/admin/users", Some(json!({}))).await;
    assert!(got.0.is_client_error(), "{}", got.1);
    assert!(got.1["error"].is_string(), "{}", got.1);

    // the weak-password user was not created
    let (_, list) = admin(&srv, Method::GET, "/api/v1/users", None).await;
    assert_eq!(list["data"].as_array().unwrap().len(), 2, "{list}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_user_and_unknown_ids() {
    let srv = TestServer::start().await;
    let c = srv.bare_client();
    let e = email("getme");
    let (id, _) = srv.signup(&c, &e).await;
    let (status, v) = admin(&srv, Method::GET, &format!("/api/v1/users/{id}"), None).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["id"], id.as_str());
    assert_eq!(v["email"], e.as_str());
    assert!(v.get("disabled_at").is_none_or(Value::is_null), "{v}");

    let (status, v) = admin(
        &srv,
        Method::PATCH,
        &format!("/api/v1/users/{id}"),
        Some(json!({ "disabled": true })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert!(v["disabled_at"].is_string(), "{v}");
    let (_, v) = admin(&srv, Method::GET, &format!("/api/v1/users/{id}"), None).await;
    let at = v["disabled_at"].as_str().expect("disabled_at");
    assert!(chrono::DateTime::parse_from_rfc3339(at).is_ok(), "{at}");

    // unknown and garbage ids: 404 not_found on every per-user route
    let unknown = uuid::Uuid::now_v7().to_string();
    for bad in [unknown.as_str(), "not-a-uuid", "123", "%20"] {
        for (method, suffix) in [
            (Method::GET, ""),
            (Method::DELETE, ""),
            (Method::DELETE, "/mfa"),
            (Method::GET, "/sessions"),
            (Method::DELETE, "/sessions"),
        ] {
            let got = admin(
                &srv,
                method.clone(),
                &format!("/api/v1/users/{bad}{suffix}"),
                None,
            )
            .await;
            assert_error(&got, StatusCode::NOT_FOUND, "not_found");
        }
        let got = admin(
            &srv,
            Method::PATCH,
            &format!("/api/v1/users/{bad}"),
            Some(json!({ "name": "x" })),
        )
        .await;
        assert_error(&got, StatusCode::NOT_FOUND, "not_found");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn patch_user_fields() {
    let srv = TestServer::start().await;
    let v = create_user(
        &srv,
        json!({ "email": email("patch"), "name": "Old", "email_verified": true }),
    )
    .await;
    let id = v["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/users/{id}");
    assert_eq!(v["email_verified"], true);

    // a new email clears verification
    let new_email = email("patched");
    let (status, v) = admin(
        &srv,
        Method::PATCH,
        &path,
        Some(json!({ "email": new_email.to_uppercase() })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["email"], new_email.as_str());
    assert_eq!(v["email_verified"], false);
    assert_eq!(v["name"], "Old");

    // name
    let (status, v) = admin(&srv, Method::PATCH, &path, Some(json!({ "name": "New" }))).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["name"], "New");
    assert_eq!(v["email"], new_email.as_str());

    // an absent name is left alone; verification set
    let (status, v) = admin(
        &srv,
        Method::PATCH,
        &path,
        Some(json!({ "email_verified": true })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["email_verified"], true);
    assert_eq!(v["name"], "New");

    // "name": null clears it
    let (status, v) = admin(&srv, Method::PATCH, &path, Some(json!({ "name": null }))).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert!(v["name"].is_null(), "{v}");
    assert_eq!(v["email_verified"], true);

    // verification cleared
    let (_, v) = admin(
        &srv,
        Method::PATCH,
        &path,
        Some(json!({ "email_verified": false })),
    )
    .await;
    assert_eq!(v["email_verified"], false);

    // what GET shows afterwards
    let (_, got) = admin(&srv, Method::GET, &path, None).await;
    assert_eq!(got["email"], new_email.as_str());
    assert!(got["name"].is_null());
    assert_eq!(got["email_verified"], false);

    // errors: taken email, invalid email, wrong types
    let other = email("other");
    create_user(&srv, json!({ "email": other })).await;
    let got = admin(&srv, Method::PATCH, &path, Some(json!({ "email": other }))).await;
    assert_error(&got, StatusCode::CONFLICT, "email_taken");
    let got = admin(&srv, Method::PATCH, &path, Some(json!({ "email": "nope" }))).await;
    assert_error(&got, StatusCode::BAD_REQUEST, "invalid_email");
    let got = admin(
        &srv,
        Method::PATCH,
        &path,
        Some(json!({ "disabled": "yes" })),
    )
    .await;
    assert!(got.0.is_client_error(), "{}", got.1);
    assert!(
        got.1["error"].is_string() && got.1["message"].is_string(),
        "{}",
        got.1
    );
    let (_, after) = admin(&srv, Method::GET, &path, None).await;
    assert_eq!(after["email"], new_email.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disabling_kills_sessions_and_login_until_enabled() {
    let srv = TestServer::start().await;
    let c = srv.client();
    let e = email("disable");
    let (id, token1) = srv.signup(&c, &e).await;
    let (_, login) = srv.login(&srv.bare_client(), &e, PASSWORD).await;
    let token2 = login["token"].as_str().unwrap().to_owned();
    assert_eq!(me_status(&srv, &token1).await, StatusCode::OK);
    let path = format!("/api/v1/users/{id}");

    let (status, v) = admin(
        &srv,
        Method::PATCH,
        &path,
        Some(json!({ "disabled": true })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    for t in [&token1, &token2] {
        assert_eq!(me_status(&srv, t).await, StatusCode::UNAUTHORIZED);
    }
    // the cookie session too
    let me = json_of(c.get(srv.url("/api/v1/auth/me")).send().await.unwrap()).await;
    assert_error(&me, StatusCode::UNAUTHORIZED, "unauthorized");
    let got = srv.login(&srv.bare_client(), &e, PASSWORD).await;
    assert_error(&got, StatusCode::UNAUTHORIZED, "invalid_credentials");
    let (_, sessions) = admin(&srv, Method::GET, &format!("{path}/sessions"), None).await;
    assert_eq!(sessions["data"], json!([]), "{sessions}");
    // disabling twice is harmless
    let (status, _) = admin(
        &srv,
        Method::PATCH,
        &path,
        Some(json!({ "disabled": true })),
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    let (status, v) = admin(
        &srv,
        Method::PATCH,
        &path,
        Some(json!({ "disabled": false })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert!(v.get("disabled_at").is_none_or(Value::is_null), "{v}");
    let (status, login) = srv.login(&srv.bare_client(), &e, PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{login}");
    let token3 = login["token"].as_str().unwrap();
    assert_eq!(me_status(&srv, token3).await, StatusCode::OK);
    // old sessions stay dead
    assert_eq!(me_status(&srv, &token1).await, StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_user_then_404() {
    let srv = TestServer::start().await;
    let c = srv.bare_client();
    let e = email("delete");
    let (id, token) = srv.signup(&c, &e).await;
    let path = format!("/api/v1/users/{id}");
    let r = c
        .delete(srv.url(&path))
        .bearer_auth(ADMIN_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert!(r.bytes().await.unwrap().is_empty());
    let got = admin(&srv, Method::GET, &path, None).await;
    assert_error(&got, StatusCode::NOT_FOUND, "not_found");
    let got = admin(&srv, Method::DELETE, &path, None).await;
    assert_error(&got, StatusCode::NOT_FOUND, "not_found");
    assert_eq!(me_status(&srv, &token).await, StatusCode::UNAUTHORIZED);
    let got = srv.login(&c, &e, PASSWORD).await;
    assert_error(&got, StatusCode::UNAUTHORIZED, "invalid_credentials");
    let (_, v) = admin(
        &srv,
        Method::GET,
        &format!("/api/v1/users?email={}", enc(&e)),
        None,
    )
    .await;
    assert_eq!(v["data"], json!([]));
    // the address is free again
    srv.signup(&c, &e).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_mfa_reset_lets_the_user_in_and_enroll_again() {
    let srv = TestServer::start().await;
    let c = srv.bare_client();
    let e = email("lostphone");
    let (id, token) = srv.signup(&c, &e).await;
    srv.enable_mfa(&c, &token).await;
    let (_, login) = srv.login(&c, &e, PASSWORD).await;
    assert_eq!(login["mfaRequired"], true, "{login}");
    let (_, user) = admin(&srv, Method::GET, &format!("/api/v1/users/{id}"), None).await;
    assert_eq!(user["mfa_enabled"], true);

    let (status, v) = admin(
        &srv,
        Method::DELETE,
        &format!("/api/v1/users/{id}/mfa"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v, json!({ "mfa_enabled": false, "user_id": id }));
    let (_, user) = admin(&srv, Method::GET, &format!("/api/v1/users/{id}"), None).await;
    assert_eq!(user["mfa_enabled"], false);

    // a password login is complete again
    let (status, login) = srv.login(&c, &e, PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{login}");
    assert!(login.get("mfaRequired").is_none(), "{login}");
    let token = login["token"].as_str().unwrap().to_owned();
    assert_eq!(me_status(&srv, &token).await, StatusCode::OK);
    let (status, st) = json_of(
        c.get(srv.url("/api/v1/auth/mfa/"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{st}");
    assert_eq!(st["mfa_enabled"], false);
    assert_eq!(st["recovery_codes_remaining"], 0);

    // and MFA can be enrolled again
    let (_, codes) = srv.enable_mfa(&c, &token).await;
    assert_eq!(codes.len(), 10);
    let (_, login) = srv.login(&c, &e, PASSWORD).await;
    assert_eq!(login["mfaRequired"], true, "{login}");

    // resetting a user without MFA is fine too
    let (status, v) = admin(
        &srv,
        Method::DELETE,
        &format!("/api/v1/users/{id}/mfa"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let (status, v) = admin(
        &srv,
        Method::DELETE,
        &format!("/api/v1/users/{id}/mfa"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_lists_and_revokes_a_users_sessions() {
    let srv = TestServer::start().await;
    let c = srv.bare_client();
    let e = email("sessions");
    let (id, t1) = srv.signup(&c, &e).await;
    let mut tokens = vec![t1];
    for _ in 0..2 {
        let (_, login) = srv.login(&c, &e, PASSWORD).await;
        tokens.push(login["token"].as_str().unwrap().to_owned());
    }
    // another user's session is not touched
    let (_, other_token) = srv.signup(&c, &email("bystander")).await;

    let path = format!("/api/v1/users/{id}/sessions");
    let (status, v) = admin(&srv, Method::GET, &path, None).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let data = v["data"].as_array().unwrap();
    assert_eq!(data.len(), 3, "{v}");
    let ids: HashSet<&str> = data.iter().map(|s| s["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 3);
    for s in data {
        assert_eq!(s["ip_address"], "127.0.0.1", "{s}");
        assert!(
            s["created_at"].is_string() && s["expires_at"].is_string(),
            "{s}"
        );
        assert!(s["amr"].as_array().unwrap().contains(&json!("pwd")), "{s}");
        assert_eq!(s["current"], false);
        // the listing never carries a token or its hash
        for t in &tokens {
            assert!(!s.to_string().contains(t.as_str()));
            assert!(!s.to_string().contains(TokenHash::of_token(t).as_str()));
        }
    }

    let (status, v) = admin(&srv, Method::DELETE, &path, None).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v, json!({ "revoked": 3 }));
    for t in &tokens {
        assert_eq!(me_status(&srv, t).await, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(me_status(&srv, &other_token).await, StatusCode::OK);
    let (_, v) = admin(&srv, Method::GET, &path, None).await;
    assert_eq!(v["data"], json!([]));
    let (_, v) = admin(&srv, Method::DELETE, &path, None).await;
    assert_eq!(v, json!({ "revoked": 0 }));
    // the user can still log in
    let (status, _) = srv.login(&c, &e, PASSWORD).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_logs_filters_and_paging() {
    let srv = TestServer::start().await;
    let c = srv.bare_client();
    let (a, _) = srv.signup(&c, &email("audit-a")).await;
    let (b, _) = srv.signup(&c, &email("audit-b")).await;
    for (id, name) in [(&a, "A1"), (&a, "A2"), (&b, "B1")] {
        let r = c
            .patch(srv.url(&format!("/api/v1/users/{id}")))
            .bearer_auth(ADMIN_KEY)
            .header("x-actor", "user:admin-carol")
            .json(&json!({ "name": name }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
    }

    // per user: only events about that user, newest first
    let (status, v) = admin(
        &srv,
        Method::GET,
        &format!("/api/v1/users/{a}/audit-logs"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let data = v["data"].as_array().unwrap();
    let types: Vec<&str> = data
        .iter()
        .map(|e| e["event_type"].as_str().unwrap())
        .collect();
    assert!(types.contains(&"user_created"), "{types:?}");
    assert_eq!(
        types
            .iter()
            .filter(|t| **t == "user_profile_updated")
            .count(),
        2,
        "{types:?}"
    );
    for e in data {
        assert_eq!(e["resource_type"], "user");
        assert_eq!(e["resource_id"], a.as_str());
        for field in ["id", "event_type", "occurred_at"] {
            assert!(e[field].is_string(), "{field}: {e}");
        }
    }
    let times: Vec<&str> = data
        .iter()
        .map(|e| e["occurred_at"].as_str().unwrap())
        .collect();
    let parsed: Vec<_> = times
        .iter()
        .map(|t| chrono::DateTime::parse_from_rfc3339(t).unwrap())
        .collect();
    assert!(
        parsed.windows(2).all(|w| w[0] >= w[1]),
        "newest first: {times:?}"
    );
    assert_eq!(data[0]["new_values"]["name"], "A2", "{}", data[0]);
    let (_, v) = admin(
        &srv,
        Method::GET,
        &format!("/api/v1/users/{a}/audit-logs?limit=1"),
        None,
    )
    .await;
    assert_eq!(v["data"].as_array().unwrap().len(), 1);

    // filters
    let by_type = all_audit_events(&srv, "&event_type=user_created").await;
    assert_eq!(by_type.len(), 2, "{by_type:?}");
    assert!(by_type.iter().all(|e| e["event_type"] == "user_created"));
    let by_resource = all_audit_events(&srv, &format!("&resource_type=user&resource_id={b}")).await;
    assert!(!by_resource.is_empty());
    assert!(
        by_resource
            .iter()
            .all(|e| e["resource_id"] == b.as_str() && e["resource_type"] == "user")
    );
    let by_actor = all_audit_events(&srv, &format!("&actor_id={}", enc("user:admin-carol"))).await;
    assert_eq!(by_actor.len(), 3, "{by_actor:?}");
    assert!(
        by_actor
            .iter()
            .all(|e| e["actor_id"] == "user:admin-carol"
                && e["event_type"] == "user_profile_updated")
    );
    let sessions = all_audit_events(&srv, "&resource_type=session").await;
    assert!(sessions.iter().all(|e| e["resource_type"] == "session"));
    assert!(
        sessions
            .iter()
            .any(|e| e["event_type"] == "session_created")
    );
    let none = all_audit_events(&srv, "&event_type=no_such_event").await;
    assert!(none.is_empty());

    // cursor paging: pages of 2 cover the full list exactly once, in order
    let everything = all_audit_events(&srv, "").await;
    assert!(everything.len() > 4, "{}", everything.len());
    let mut paged = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..everything.len() + 2 {
        let mut path = "/api/v1/audit-logs?limit=2".to_owned();
        if let Some(cur) = &cursor {
            path.push_str(&format!("&cursor={}", enc(cur)));
        }
        let (status, v) = admin(&srv, Method::GET, &path, None).await;
        assert_eq!(status, StatusCode::OK, "{v}");
        let page = v["data"].as_array().unwrap();
        assert!(page.len() <= 2);
        paged.extend(page.iter().map(|e| e["id"].as_str().unwrap().to_owned()));
        match v["next_cursor"].as_str() {
            Some(cur) => cursor = Some(cur.to_owned()),
            None => {
                cursor = None;
                break;
            }
        }
    }
    assert!(cursor.is_none(), "paging did not end");
    let full: Vec<String> = everything
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(paged, full);

    // bad values: 400, not 500 (unparsable query strings: robustness.rs)
    for q in ["cursor=garbage", "limit=0"] {
        let got = admin(&srv, Method::GET, &format!("/api/v1/audit-logs?{q}"), None).await;
        assert_eq!(got.0, StatusCode::BAD_REQUEST, "{q}: {}", got.1);
        assert!(got.1["error"].is_string() && got.1["message"].is_string());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn actor_headers_reach_the_audit_event() {
    let srv = TestServer::start().await;
    let c = srv.bare_client();
    let (id, _) = srv.signup(&c, &email("ctx")).await;
    let request_id = format!("req-{}", uuid::Uuid::now_v7());
    let r = c
        .patch(srv.url(&format!("/api/v1/users/{id}")))
        .bearer_auth(ADMIN_KEY)
        .header("x-actor", "user:admin-bob")
        .header("x-on-behalf-of", "user:customer-alice")
        .header("x-reason", "support_ticket:12345")
        .header("x-request-id", &request_id)
        .header("user-agent", "admin-console/1.0")
        .json(&json!({ "name": "Renamed", "disabled": true }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["x-request-id"], request_id.as_str());

    let events = all_audit_events(&srv, &format!("&resource_id={id}")).await;
    for event_type in ["user_profile_updated", "user_disabled"] {
        let e = events
            .iter()
            .find(|e| e["event_type"] == event_type)
            .unwrap_or_else(|| panic!("no {event_type} in {events:?}"));
        assert_eq!(e["actor_id"], "user:admin-bob", "{e}");
        assert_eq!(e["on_behalf_of"], "user:customer-alice", "{e}");
        assert_eq!(e["reason"], "support_ticket:12345", "{e}");
        assert_eq!(e["request_id"], request_id.as_str(), "{e}");
        assert_eq!(e["ip_address"], "127.0.0.1", "{e}");
        assert_eq!(e["user_agent"], "admin-console/1.0", "{e}");
    }
    let updated = events
        .iter()
        .find(|e| e["event_type"] == "user_profile_updated")
        .unwrap();
    assert_eq!(updated["new_values"]["name"], "Renamed");
    assert!(updated["old_values"]["name"].is_null());

    // without X-Actor the actor is the key (never its value)
    let r = c
        .patch(srv.url(&format!("/api/v1/users/{id}")))
        .bearer_auth(ADMIN_KEY)
        .json(&json!({ "name": "Again" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let events = all_audit_events(
        &srv,
        &format!("&resource_id={id}&event_type=user_profile_updated"),
    )
    .await;
    let newest = &events[0];
    assert_eq!(newest["new_values"]["name"], "Again");
    assert_eq!(newest["actor_id"], "admin_key:config", "{newest}");
    assert!(
        newest["on_behalf_of"].is_null() && newest["reason"].is_null(),
        "{newest}"
    );
    // a request id is generated when the client sends none
    assert!(
        newest["request_id"].as_str().is_some_and(|r| !r.is_empty()),
        "{newest}"
    );
    assert!(!newest.to_string().contains(ADMIN_KEY));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_events_carry_no_secrets() {
    let srv = TestServer::start().await;
    let c = srv.bare_client();
    let mut secrets: Vec<String> = vec![PASSWORD.to_owned(), ADMIN_KEY.to_owned()];

    // signup, login, password reset by mail, login with the new password
    let e = email("secrets");
    let (id, t1) = srv.signup(&c, &e).await;
    let (_, login) = srv.login(&c, &e, PASSWORD).await;
    let t2 = login["token"].as_str().unwrap().to_owned();
    let before = 0;
    let r = c
        .post(srv.url("/api/v1/auth/password/send-reset-link"))
        .json(&json!({ "email": e }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let reset = token_in(&srv.wait_mail(&e, before).await);
    let new_password = "a completely different passphrase 42";
    let r = c
        .post(srv.url("/api/v1/auth/password/reset"))
        .json(&json!({ "token": reset, "password": new_password }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let (status, login) = srv.login(&c, &e, new_password).await;
    assert_eq!(status, StatusCode::OK, "{login}");
    let t3 = login["token"].as_str().unwrap().to_owned();

    // MFA: secret, recovery codes, a recovery-code login
    let (secret, codes) = srv.enable_mfa(&c, &t3).await;
    let (_, partial) = srv.login(&c, &e, new_password).await;
    let partial_token = partial["token"].as_str().unwrap().to_owned();
    let (status, rec) = json_of(
        c.post(srv.url("/api/v1/auth/mfa/recovery"))
            .bearer_auth(&partial_token)
            .json(&json!({ "code": codes[0] }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{rec}");
    let t4 = rec["token"].as_str().unwrap().to_owned();

    // magic link
    let mails_before = 1;
    let r = c
        .post(srv.url("/api/v1/auth/magic-link/send"))
        .json(&json!({ "email": e }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let magic = token_in(&srv.wait_mail(&e, mails_before).await);

    // an admin-created user with a password, a stored admin key, a change by admin
    let admin_password = "admin chosen passphrase 9";
    create_user(
        &srv,
        json!({ "email": email("made"), "password": admin_password }),
    )
    .await;
    let stored_key = format!("ak_{}", authn_core::token::generate_token());
    srv.state
        .auth
        .store()
        .create_admin_key("ci", &TokenHash::of_token(&stored_key))
        .await
        .unwrap();
    let (status, _) = admin_with(
        &srv,
        &stored_key,
        Method::PATCH,
        &format!("/api/v1/users/{id}"),
        Some(json!({ "name": "Secretive" })),
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    let password_hash = srv
        .state
        .auth
        .store()
        .get_credentials(&e)
        .await
        .unwrap()
        .and_then(|c| c.password_hash)
        .map(|h| h.as_str().to_owned())
        .expect("a password hash");

    for t in [
        &t1,
        &t2,
        &t3,
        &t4,
        &partial_token,
        &reset,
        &magic,
        &stored_key,
    ] {
        secrets.push(t.clone());
        secrets.push(TokenHash::of_token(t).as_str().to_owned());
    }
    secrets.push(secret.clone());
    secrets.extend(codes.iter().cloned());
    secrets.extend(codes.iter().map(|c| c.replace('-', "")));
    secrets.push(new_password.to_owned());
    secrets.push(admin_password.to_owned());
    secrets.push(password_hash);

    let events = all_audit_events(&srv, "").await;
    assert!(events.len() > 10, "{}", events.len());
    for event in &events {
        let text = event.to_string();
        for s in &secrets {
            assert!(
                !text.contains(s.as_str()),
                "an audit event contains a secret: {text}"
            );
        }
        assert!(!text.contains("$argon2"), "{text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_count_users_sessions_and_mfa() {
    let srv = TestServer::start().await;
    let c = srv.bare_client();
    let (_, stats) = admin(&srv, Method::GET, "/api/v1/admin/stats", None).await;
    assert_eq!(
        stats,
        json!({
            "user_count": 0,
            "verified_user_count": 0,
            "disabled_user_count": 0,
            "active_session_count": 0,
            "mfa_enabled_user_count": 0,
        })
    );

    // a: a session and MFA; b: verified, no session; d: disabled
    let (_, ta) = srv.signup(&c, &email("stats-a")).await;
    srv.enable_mfa(&c, &ta).await;
    create_user(
        &srv,
        json!({ "email": email("stats-b"), "email_verified": true }),
    )
    .await;
    let (d, _) = srv.signup(&c, &email("stats-d")).await;
    let (status, _) = admin(
        &srv,
        Method::PATCH,
        &format!("/api/v1/users/{d}"),
        Some(json!({ "disabled": true })),
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    let (status, stats) = admin(&srv, Method::GET, "/api/v1/admin/stats", None).await;
    assert_eq!(status, StatusCode::OK, "{stats}");
    assert_eq!(
        stats,
        json!({
            "user_count": 3,
            "verified_user_count": 1,
            "disabled_user_count": 1,
            "active_session_count": 1,
            "mfa_enabled_user_count": 1,
        })
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cleanup_removes_expired_sessions() {
    let srv = TestServer::start().await;
    let c = srv.bare_client();
    let (id, live) = srv.signup(&c, &email("cleanup")).await;
    let store = srv.state.auth.store();
    let expiring = authn_core::token::generate_token();
    let mut new = NewSession::new(UserId::parse(&id).unwrap(), TokenHash::of_token(&expiring));
    new.expires_in = Some(Duration::from_millis(200));
    store.create_session_with(&new).await.unwrap();
    assert!(
        store
            .validate_session(&TokenHash::of_token(&expiring))
            .await
            .unwrap()
            .is_some()
    );
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(me_status(&srv, &expiring).await, StatusCode::UNAUTHORIZED);

    let (_, stats) = admin(&srv, Method::GET, "/api/v1/admin/stats", None).await;
    assert_eq!(stats["active_session_count"], 1, "{stats}");

    let (status, v) = admin(&srv, Method::POST, "/api/v1/admin/cleanup", None).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["sessions_deleted"], 1, "{v}");
    assert!(v["tokens_deleted"].is_u64(), "{v}");
    assert!(v["attempts_deleted"].is_u64(), "{v}");
    let (_, v) = admin(&srv, Method::POST, "/api/v1/admin/cleanup", None).await;
    assert_eq!(v["sessions_deleted"], 0, "{v}");
    // the live session survives
    assert_eq!(me_status(&srv, &live).await, StatusCode::OK);
    // GET is not cleanup
    let r = c
        .get(srv.url("/api/v1/admin/cleanup"))
        .bearer_auth(ADMIN_KEY)
        .send()
        .await
        .unwrap();
    assert_error(
        &json_of(r).await,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dev_outbox_only_in_dev_mode() {
    let srv = TestServer::start().await;
    let e = email("outbox");
    srv.signup(&srv.bare_client(), &e).await;
    let r = srv
        .bare_client()
        .post(srv.url("/api/v1/auth/magic-link/send"))
        .json(&json!({ "email": e }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let mail = srv.wait_mail(&e, 0).await;
    assert!(mail["subject"].is_string() && mail["id"].is_string() && mail["sent_at"].is_string());
    let (status, v) = admin(&srv, Method::GET, "/api/v1/admin/dev/outbox", None).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert!(!v["data"].as_array().unwrap().is_empty());
    // still an admin route
    let r = srv
        .bare_client()
        .get(srv.url("/api/v1/admin/dev/outbox"))
        .send()
        .await
        .unwrap();
    assert_error(&json_of(r).await, StatusCode::UNAUTHORIZED, "unauthorized");

    let prod = TestServer::start_with_config(|c| c.dev_mode = false).await;
    assert!(!prod.state.config.dev_mode);
    let got = admin(&prod, Method::GET, "/api/v1/admin/dev/outbox", None).await;
    assert_error(&got, StatusCode::NOT_FOUND, "not_found");
    // the rest of the admin API works there
    let (status, _) = admin(&prod, Method::GET, "/api/v1/admin/stats", None).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unusable_x_actor_does_not_erase_who_acted() {
    // An X-Actor the audit cannot record (too long, or with a control
    // character such as a tab, which HTTP allows in header values) must not
    // leave an event without an actor: refused with a 400, or recorded
    // under the admin key.
    let srv = TestServer::start().await;
    let c = srv.bare_client();
    let (id, _) = srv.signup(&c, &email("unusable")).await;
    let mut anonymous = Vec::new();
    for (i, actor) in ["a".repeat(2000), "user:\tadmin".to_owned()]
        .iter()
        .enumerate()
    {
        let name = format!("Name {i}");
        let r = c
            .patch(srv.url(&format!("/api/v1/users/{id}")))
            .bearer_auth(ADMIN_KEY)
            .header("x-actor", actor)
            .json(&json!({ "name": name }))
            .send()
            .await
            .unwrap();
        let (status, v) = json_of(r).await;
        assert!(!status.is_server_error(), "{status} {v}");
        if status == StatusCode::BAD_REQUEST {
            assert!(v["error"].is_string() && v["message"].is_string(), "{v}");
            continue;
        }
        assert_eq!(status, StatusCode::OK, "{v}");
        let events = all_audit_events(
            &srv,
            &format!("&resource_id={id}&event_type=user_profile_updated"),
        )
        .await;
        let e = events
            .iter()
            .find(|e| e["new_values"]["name"] == name.as_str())
            .expect("the change is audited");
        if e["actor_id"].as_str().is_none_or(str::is_empty) {
            anonymous.push(format!(
                "X-Actor {:?}...: actor_id {}",
                &actor[..8],
                e["actor_id"]
            ));
        }
    }
    assert!(
        anonymous.is_empty(),
        "audit events without an actor:\n{}",
        anonymous.join("\n")
    );
}
