//! Bad input over a real server: malformed or oversized bodies, wrong types,
//! wrong content types, invalid UTF-8, unknown routes and methods, bad query
//! strings; every answer a 4xx in the error format, never a 5xx or a leak.
//! And the per-IP rate limit, which a forged `X-Forwarded-For` cannot dodge.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::*;
use reqwest::header::{HeaderValue, RETRY_AFTER};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Texts that would betray internals (driver, parser, panic, source paths).
const LEAKS: &[&str] = &[
    "serde",
    "sqlx",
    "postgres",
    "SELECT",
    "INSERT",
    "panicked",
    "thread '",
    ".rs:",
    "src/",
    "at line",
    "column",
    "invalid type",
    "Error(",
    "Failed to",
    "RUST_BACKTRACE",
];

/// Asserts a client error in the contract's format, without internals or `secret`.
#[track_caller]
fn assert_clean_4xx(what: &str, got: &(StatusCode, Value), secret: Option<&str>) {
    let (status, v) = got;
    assert!(status.is_client_error(), "{what}: {status} {v}");
    assert!(
        v["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{what}: {v}"
    );
    assert!(
        v["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{what}: {v}"
    );
    let text = v.to_string();
    for leak in LEAKS {
        assert!(!text.contains(leak), "{what}: leaks {leak:?}: {text}");
    }
    if let Some(s) = secret {
        assert!(!text.contains(s), "{what}: echoes a secret: {text}");
    }
}

/// POST raw bytes with an optional content type.
async fn post_raw(
    srv: &TestServer,
    path: &str,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> (StatusCode, Value) {
    let mut rb = srv.bare_client().post(srv.url(path)).body(body);
    if let Some(ct) = content_type {
        rb = rb.header("content-type", ct);
    }
    json_of(rb.send().await.unwrap()).await
}

const JSON: Option<&str> = Some("application/json");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_bodies_get_json_errors() {
    let srv = TestServer::start().await;
    let login = "/api/v1/auth/login";

    let got = post_raw(
        &srv,
        login,
        JSON,
        br#"{"email": "a@example.com", "password":"#.to_vec(),
    )
    .await;
    assert_error(&got, StatusCode::BAD_REQUEST, "invalid_json");
    assert_clean_4xx("truncated JSON", &got, None);
    let got = post_raw(&srv, login, JSON, b"not json at all".to_vec()).await;
    assert_error(&got, StatusCode::BAD_REQUEST, "invalid_json");
    assert_clean_4xx("not JSON", &got, None);
    let got = post_raw(
        &srv,
        login,
        JSON,
        br#"{"email": "a@example.com", "password": "x"} trailing"#.to_vec(),
    )
    .await;
    assert_error(&got, StatusCode::BAD_REQUEST, "invalid_json");

    // wrong types and missing fields; the password is never echoed
    let secret = "hunter2-very-secret";
    for body in [
        json!({ "email": 5, "password": secret }),
        json!({ "email": "a@example.com", "password": 12345 }),
        json!({ "email": ["a@example.com"], "password": secret }),
        json!({ "email": "a@example.com" }),
        json!({}),
        json!([secret]),
        json!(secret),
        json!(null),
    ] {
        let got = post_raw(&srv, login, JSON, body.to_string().into_bytes()).await;
        assert_error(&got, StatusCode::UNPROCESSABLE_ENTITY, "invalid_request");
        assert_clean_4xx(&format!("body {body}"), &got, Some(secret));
    }
    let got = post_raw(
        &srv,
        "/api/v1/auth/signup",
        JSON,
        json!({ "email": {"x": 1}, "password": secret })
            .to_string()
            .into_bytes(),
    )
    .await;
    assert_error(&got, StatusCode::UNPROCESSABLE_ENTITY, "invalid_request");
    assert_clean_4xx("signup wrong type", &got, Some(secret));

    // invalid UTF-8 inside a JSON string, and bare
    let mut bytes = br#"{"email": "a@example.com", "password": ""#.to_vec();
    bytes.extend_from_slice(&[0xff, 0xfe, 0xc3, 0x28]);
    bytes.extend_from_slice(br#""}"#);
    let got = post_raw(&srv, login, JSON, bytes).await;
    assert_clean_4xx("invalid UTF-8 in a string", &got, None);
    let got = post_raw(&srv, login, JSON, vec![0xff, 0xfe, 0xfd, 0x00, 0x80]).await;
    assert_clean_4xx("invalid UTF-8", &got, None);

    // empty bodies
    let got = post_raw(&srv, login, JSON, Vec::new()).await;
    assert_clean_4xx("empty body", &got, None);
    let got = post_raw(&srv, "/api/v1/auth/signup", JSON, b"   ".to_vec()).await;
    assert_clean_4xx("blank body", &got, None);

    // the server is fine afterwards
    let e = email("after");
    srv.signup(&srv.bare_client(), &e).await;
    let (status, _) = srv.login(&srv.bare_client(), &e, PASSWORD).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn content_type_is_required() {
    let srv = TestServer::start().await;
    let body = json!({ "email": "a@example.com", "password": PASSWORD })
        .to_string()
        .into_bytes();
    for ct in [
        None,
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
    ] {
        let got = post_raw(&srv, "/api/v1/auth/login", ct, body.clone()).await;
        assert_error(
            &got,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        );
        assert_clean_4xx(&format!("content type {ct:?}"), &got, Some(PASSWORD));
    }
    // JSON with parameters and the +json suffix are JSON
    for ct in [
        "application/json; charset=utf-8",
        "application/problem+json",
    ] {
        let got = post_raw(&srv, "/api/v1/auth/login", Some(ct), body.clone()).await;
        assert_error(&got, StatusCode::UNAUTHORIZED, "invalid_credentials");
    }
    // on an admin route too
    let r = srv
        .bare_client()
        .post(srv.url("/api/v1/admin/users"))
        .bearer_auth(ADMIN_KEY)
        .body(json!({ "email": email("ct") }).to_string())
        .send()
        .await
        .unwrap();
    let got = json_of(r).await;
    assert_error(
        &got,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_bodies_get_413() {
    let srv = TestServer::start_with(&["--max-body-bytes", "1024"]).await;
    let big = "x".repeat(10 * 1024);
    for path in [
        "/api/v1/auth/login",
        "/api/v1/auth/signup",
        "/api/v1/auth/password/send-reset-link",
    ] {
        let body = json!({ "email": "a@example.com", "password": big }).to_string();
        let got = post_raw(&srv, path, JSON, body.into_bytes()).await;
        assert_error(&got, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
        assert_clean_4xx(path, &got, None);
    }
    // an admin route too
    let r = srv
        .bare_client()
        .post(srv.url("/api/v1/admin/users"))
        .bearer_auth(ADMIN_KEY)
        .json(&json!({ "email": email("big"), "name": big }))
        .send()
        .await
        .unwrap();
    assert_error(
        &json_of(r).await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
    );
    // under the limit still works
    let e = email("small");
    srv.signup(&srv.bare_client(), &e).await;
}

/// Sends raw HTTP/1.1 and reads the answer until the server closes or
/// `Connection: close` ends it (bounded).
async fn raw_http(srv: &TestServer, request: &[u8]) -> String {
    let mut s = tokio::net::TcpStream::connect(srv.addr).await.unwrap();
    s.write_all(request).await.unwrap();
    let mut out = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(15), s.read_to_end(&mut out)).await;
    assert!(
        read.is_ok(),
        "the server hung: {}",
        String::from_utf8_lossy(&out)
    );
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_chunked_body_gets_413() {
    // No Content-Length: the limit holds while streaming.
    let srv = TestServer::start_with(&["--max-body-bytes", "1024"]).await;
    let mut req = format!(
        "POST /api/v1/auth/login HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
        srv.addr
    )
    .into_bytes();
    let chunk = "y".repeat(1000);
    req.extend_from_slice(b"b\r\n{\"email\": \"\r\n");
    for _ in 0..10 {
        req.extend_from_slice(format!("{:x}\r\n{chunk}\r\n", chunk.len()).as_bytes());
    }
    req.extend_from_slice(b"2\r\n\"}\r\n0\r\n\r\n");
    let answer = raw_http(&srv, &req).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("payload_too_large"), "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_fields_under_the_body_limit() {
    // 60 000-character values inside the default 64 KiB limit: refused by
    // validation, fast, never a 5xx.
    let srv = TestServer::start().await;
    let c = srv.bare_client();
    let long = "a".repeat(60_000);
    let cases = [
        (
            "/api/v1/auth/signup",
            json!({ "email": format!("{long}@example.com"), "password": PASSWORD }),
            "invalid_email",
        ),
        (
            "/api/v1/auth/signup",
            json!({ "email": email("longpw"), "password": long }),
            "weak_password",
        ),
    ];
    for (path, body, slug) in cases {
        let got = json_of(c.post(srv.url(path)).json(&body).send().await.unwrap()).await;
        assert_error(&got, StatusCode::BAD_REQUEST, slug);
        assert_clean_4xx(path, &got, Some(&long));
    }
    for (path, body) in [
        (
            "/api/v1/auth/login",
            json!({ "email": format!("{long}@example.com"), "password": long }),
        ),
        (
            "/api/v1/auth/password/send-reset-link",
            json!({ "email": long }),
        ),
        ("/api/v1/auth/magic-link/send", json!({ "email": long })),
        (
            "/api/v1/auth/password/reset",
            json!({ "token": long, "password": PASSWORD }),
        ),
        ("/api/v1/auth/email/verify", json!({ "token": long })),
    ] {
        let got = json_of(c.post(srv.url(path)).json(&body).send().await.unwrap()).await;
        assert!(!got.0.is_server_error(), "{path}: {}", got.1);
        if !got.0.is_success() {
            assert_clean_4xx(path, &got, Some(&long));
        }
    }
    let (_, user) = srv.signup(&c, &email("long-name")).await;
    let got = json_of(
        c.post(srv.url("/api/v1/auth/mfa/challenge"))
            .bearer_auth(&user)
            .json(&json!({ "code": long }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_clean_4xx("long code", &got, Some(&long));
    let got = json_of(
        c.post(srv.url("/api/v1/admin/users"))
            .bearer_auth(ADMIN_KEY)
            .json(&json!({ "email": email("longname"), "name": long }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_clean_4xx("long name", &got, Some(&long));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_routes_and_wrong_methods() {
    let srv = TestServer::start().await;
    let c = srv.bare_client();
    for path in [
        "/nope",
        "/api/v1/nope",
        "/api/v1/auth/nope",
        "/api/v2/auth/login",
        "/api/v1/users/x/y/z",
    ] {
        for method in [Method::GET, Method::POST, Method::DELETE] {
            let got = json_of(
                c.request(method.clone(), srv.url(path))
                    .send()
                    .await
                    .unwrap(),
            )
            .await;
            assert_error(&got, StatusCode::NOT_FOUND, "not_found");
            assert_clean_4xx(path, &got, None);
        }
    }
    for (method, path) in [
        (Method::PUT, "/api/v1/auth/login"),
        (Method::GET, "/api/v1/auth/login"),
        (Method::PATCH, "/api/v1/auth/signup"),
        (Method::POST, "/api/v1/auth/me"),
        (Method::PUT, "/api/v1/users"),
        (Method::POST, "/healthz"),
        (Method::DELETE, "/metrics"),
    ] {
        let r = c
            .request(method.clone(), srv.url(path))
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        let got = json_of(r).await;
        assert_error(&got, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
        assert_clean_4xx(&format!("{method} {path}"), &got, None);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_query_strings_and_paths_get_json_errors() {
    // Every route with query parameters: an unparsable query string is a
    // 400 in the error format (not axum's plain-text rejection, which also
    // quotes serde's text); an undecodable path segment a 404 likewise.
    let srv = TestServer::start().await;
    let c = srv.bare_client();
    let (id, session) = srv.signup(&c, &email("query")).await;
    let mut bad = Vec::new();
    for (path, admin) in [
        ("/api/v1/users?limit=abc".to_owned(), true),
        ("/api/v1/users?limit=-1".to_owned(), true),
        ("/api/v1/audit-logs?limit=abc".to_owned(), true),
        (
            format!("/api/v1/users/{id}/audit-logs?limit=99999999999"),
            true,
        ),
        // one-time-link routes without their token
        ("/api/v1/auth/magic-link/verify".to_owned(), false),
        ("/api/v1/auth/email/verify".to_owned(), false),
    ] {
        let mut rb = c.get(srv.url(&path));
        if admin {
            rb = rb.bearer_auth(ADMIN_KEY);
        }
        let (status, v) = json_of(rb.send().await.unwrap()).await;
        let text = v.to_string();
        let clean = status == StatusCode::BAD_REQUEST
            && v["error"].is_string()
            && v["message"].is_string()
            && !LEAKS.iter().any(|l| text.contains(l));
        if !clean {
            bad.push(format!("GET {path} -> {status} {v}"));
        }
    }
    // a path segment that is not UTF-8 once percent-decoded: an id that
    // cannot exist (404, like any garbage id)
    for (method, path, admin) in [
        (Method::GET, "/api/v1/users/%FF%FE".to_owned(), true),
        (
            Method::DELETE,
            "/api/v1/users/%C3%28/sessions".to_owned(),
            true,
        ),
        (
            Method::DELETE,
            "/api/v1/auth/sessions/%FF".to_owned(),
            false,
        ),
    ] {
        let mut rb = c.request(method.clone(), srv.url(&path));
        rb = rb.bearer_auth(if admin { ADMIN_KEY } else { &session });
        let (status, v) = json_of(rb.send().await.unwrap()).await;
        let text = v.to_string();
        let clean = status == StatusCode::NOT_FOUND
            && v["error"] == "not_found"
            && v["message"].is_string()
            && !LEAKS.iter().any(|l| text.contains(l));
        if !clean {
            bad.push(format!("{method} {path} -> {status} {v}"));
        }
    }
    assert!(
        bad.is_empty(),
        "not an error in the contract's format:\n{}",
        bad.join("\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn odd_headers_are_refused_cleanly() {
    let srv = TestServer::start().await;
    let c = srv.bare_client();
    let odd = [
        HeaderValue::from_bytes(b"Bearer \xff\xfe").unwrap(),
        HeaderValue::from_static("Bearer"),
        HeaderValue::from_static("Bearer "),
        HeaderValue::from_static("bearer    "),
        HeaderValue::from_static("Token abc"),
        HeaderValue::from_str(&format!("Bearer {}", "z".repeat(8000))).unwrap(),
    ];
    for h in &odd {
        for path in ["/api/v1/auth/me", "/api/v1/admin/stats"] {
            let r = c
                .get(srv.url(path))
                .header("authorization", h.clone())
                .send()
                .await
                .unwrap();
            let got = json_of(r).await;
            assert_error(&got, StatusCode::UNAUTHORIZED, "unauthorized");
        }
    }
    let r = c
        .get(srv.url("/api/v1/auth/me"))
        .header(
            "cookie",
            HeaderValue::from_bytes(b"authn_session=\xff\xfe; x=y").unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_error(&json_of(r).await, StatusCode::UNAUTHORIZED, "unauthorized");
}

/// A login (for a fresh unknown email, so the per-email lockout stays out
/// of the way) from this client with an optional `X-Forwarded-For`.
async fn login_from(srv: &TestServer, forwarded: Option<&str>) -> reqwest::Response {
    let mut rb = srv
        .bare_client()
        .post(srv.url("/api/v1/auth/login"))
        .json(&json!({ "email": email("nobody"), "password": PASSWORD }));
    if let Some(f) = forwarded {
        rb = rb.header("x-forwarded-for", f);
    }
    rb.send().await.unwrap()
}

#[track_caller]
fn assert_rate_limited(status: StatusCode, retry_after: Option<&HeaderValue>, body: &Value) {
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(body["error"], "rate_limited", "{body}");
    assert!(body["message"].is_string());
    let secs: u64 = retry_after
        .expect("Retry-After")
        .to_str()
        .unwrap()
        .parse()
        .expect("Retry-After in whole seconds");
    assert!((1..=60).contains(&secs), "{secs}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_ip_rate_limit_with_forged_forwarded_for() {
    let srv = TestServer::start_with_config(|c| {
        c.rate_limit_per_minute = 5;
        c.rate_limit_burst = 5;
    })
    .await;
    // every request claims another client address; the peer is what counts
    for i in 0..5 {
        let r = login_from(&srv, Some(&format!("203.0.113.{i}"))).await;
        let got = json_of(r).await;
        assert_error(&got, StatusCode::UNAUTHORIZED, "invalid_credentials");
    }
    let r = login_from(&srv, Some("198.51.100.77")).await;
    let (status, retry) = (r.status(), r.headers().get(RETRY_AFTER).cloned());
    let body: Value = r.json().await.unwrap();
    assert_rate_limited(status, retry.as_ref(), &body);
    let r = login_from(&srv, None).await;
    let (status, retry) = (r.status(), r.headers().get(RETRY_AFTER).cloned());
    let body: Value = r.json().await.unwrap();
    assert_rate_limited(status, retry.as_ref(), &body);
    // other limited auth routes share the allowance
    let got = json_of(
        srv.bare_client()
            .post(srv.url("/api/v1/auth/signup"))
            .json(&json!({ "email": email("late"), "password": PASSWORD }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_error(&got, StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    // routes outside the limit still answer
    let r = srv
        .bare_client()
        .get(srv.url("/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = srv
        .bare_client()
        .get(srv.url("/api/v1/admin/stats"))
        .bearer_auth(ADMIN_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_holds_under_concurrency() {
    let srv = TestServer::start_with_config(|c| {
        c.rate_limit_per_minute = 5;
        c.rate_limit_burst = 5;
    })
    .await;
    let mut tasks = Vec::new();
    for i in 0..20 {
        let c = srv.bare_client();
        let url = srv.url("/api/v1/auth/login");
        tasks.push(tokio::spawn(async move {
            c.post(url)
                .header("x-forwarded-for", format!("203.0.113.{i}"))
                .json(&json!({ "email": email("nobody"), "password": PASSWORD }))
                .send()
                .await
                .unwrap()
                .status()
        }));
    }
    let mut passed = 0;
    for t in tasks {
        let status = t.await.unwrap();
        if status == StatusCode::TOO_MANY_REQUESTS {
            continue;
        }
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        passed += 1;
    }
    assert_eq!(passed, 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trusted_proxy_forwarded_for_is_believed() {
    // The control for the test above: from a configured proxy, each
    // forwarded client has its own allowance.
    let srv = TestServer::start_with_config(|c| {
        c.rate_limit_per_minute = 5;
        c.rate_limit_burst = 5;
        c.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()].into();
    })
    .await;
    for i in 0..8 {
        let r = login_from(&srv, Some(&format!("203.0.113.{i}"))).await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "client {i}");
    }
    for _ in 0..5 {
        let r = login_from(&srv, Some("198.51.100.1")).await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    let got = json_of(login_from(&srv, Some("198.51.100.1")).await).await;
    assert_error(&got, StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    // a forged entry left of the proxy's does not help either
    let got = json_of(login_from(&srv, Some("10.9.9.9, 198.51.100.1")).await).await;
    assert_error(&got, StatusCode::TOO_MANY_REQUESTS, "rate_limited");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_hasher_refuses_logins_at_once_and_counts_no_attempt() {
    // One hash at a time and none waiting: of logins sent together, those
    // that find the hasher full get 503 server_busy before any store work,
    // so they reserve no attempt and the lockout (5 unfinished or failed
    // attempts) never sees them.
    let srv = TestServer::start_with_config(|c| {
        c.hash_concurrency = Some(1);
        c.hash_queue = Some(0);
    })
    .await;
    let who = email("busy");
    srv.signup(&srv.bare_client(), &who).await;
    let mut tasks = Vec::new();
    for _ in 0..12 {
        let c = srv.bare_client();
        let url = srv.url("/api/v1/auth/login");
        let who = who.clone();
        tasks.push(tokio::spawn(async move {
            let r = c
                .post(url)
                .json(&json!({ "email": who, "password": PASSWORD }))
                .send()
                .await
                .unwrap();
            let retry = r.headers().get(RETRY_AFTER).cloned();
            (json_of(r).await, retry)
        }));
    }
    let (mut ok, mut busy) = (0, 0);
    for t in tasks {
        let (got, retry) = t.await.unwrap();
        if got.0 == StatusCode::OK {
            ok += 1;
            continue;
        }
        assert_error(&got, StatusCode::SERVICE_UNAVAILABLE, "server_busy");
        assert!(retry.is_some(), "503 without Retry-After");
        busy += 1;
    }
    assert!(ok >= 1 && busy >= 1, "{ok} accepted, {busy} refused");
    // Nothing was left counting against the account.
    for _ in 0..6 {
        let got = srv.login(&srv.bare_client(), &who, PASSWORD).await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);
    }
}

#[tokio::test]
async fn an_unknown_email_is_answered_like_a_known_one_with_room_for_one_hash() {
    // The dummy hash of the first unknown email is built on that login's
    // own place in the hasher: with room for one hash and no queue it must
    // not be refused as busy where a known email would be answered.
    let srv = TestServer::start_with_config(|c| {
        c.hash_concurrency = Some(1);
        c.hash_queue = Some(0);
    })
    .await;
    for who in [
        "nobody-1@example.com",
        "nobody-2@example.com",
        "not an email",
    ] {
        let got = srv.login(&srv.bare_client(), who, PASSWORD).await;
        assert_error(&got, StatusCode::UNAUTHORIZED, "invalid_credentials");
    }
    let known = email("known");
    srv.signup(&srv.bare_client(), &known).await;
    let got = srv
        .login(&srv.bare_client(), &known, "wrong password 123")
        .await;
    assert_error(&got, StatusCode::UNAUTHORIZED, "invalid_credentials");
}
