//! Operations routes over a real server: liveness, readiness, Prometheus
//! metrics, the OpenAPI document (every route of the contract), request ids.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// Every route of `http.md`, with its methods (lower case, as in OpenAPI).
const CONTRACT_ROUTES: &[(&str, &[&str])] = &[
    // user routes
    ("/api/v1/auth/signup", &["post"]),
    ("/api/v1/auth/login", &["post"]),
    ("/api/v1/auth/logout", &["post"]),
    ("/api/v1/auth/me", &["get", "delete"]),
    ("/api/v1/auth/session", &["get"]),
    ("/api/v1/auth/sessions", &["get", "delete"]),
    ("/api/v1/auth/sessions/{id}", &["delete"]),
    ("/api/v1/auth/email/verify/send", &["post"]),
    ("/api/v1/auth/email/verify", &["get", "post"]),
    ("/api/v1/auth/password/send-reset-link", &["post"]),
    ("/api/v1/auth/password/reset", &["post"]),
    ("/api/v1/auth/password/change", &["post"]),
    ("/api/v1/auth/magic-link/send", &["post"]),
    ("/api/v1/auth/magic-link/verify", &["get"]),
    // MFA routes
    ("/api/v1/auth/mfa/enroll", &["post"]),
    ("/api/v1/auth/mfa/verify", &["post"]),
    ("/api/v1/auth/mfa/challenge", &["post"]),
    ("/api/v1/auth/mfa/recovery", &["post"]),
    ("/api/v1/auth/mfa/", &["get", "delete"]),
    ("/api/v1/auth/mfa", &["delete"]),
    ("/api/v1/auth/mfa/recovery-codes", &["get", "post"]),
    // admin routes
    ("/api/v1/users", &["get"]),
    ("/api/v1/admin/users", &["post"]),
    ("/api/v1/users/{id}", &["get", "patch", "delete"]),
    ("/api/v1/users/{id}/mfa", &["delete"]),
    ("/api/v1/users/{id}/sessions", &["get", "delete"]),
    ("/api/v1/users/{id}/audit-logs", &["get"]),
    ("/api/v1/audit-logs", &["get"]),
    ("/api/v1/admin/stats", &["get"]),
    ("/api/v1/admin/cleanup", &["post"]),
    ("/api/v1/auth/introspect", &["post"]),
    // operations
    ("/healthz", &["get"]),
    ("/readyz", &["get"]),
    ("/metrics", &["get"]),
];

/// The value of the sample `name{labels}` (labels in any order) in a
/// Prometheus text exposition, if present.
fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            let (metric, rest) = series.split_once('{').unwrap_or((series, "}"));
            (metric == name).then_some((rest, value))
        })
        .find(|(rest, _)| {
            labels
                .iter()
                .all(|(k, v)| rest.contains(&format!("{k}=\"{v}\"")))
        })
        .and_then(|(_, v)| v.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_and_readyz() {
    let srv = TestServer::start().await;
    let c = srv.bare_client();
    let (status, v) = json_of(c.get(srv.url("/healthz")).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["status"], "ok");
    let r = c.get(srv.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let v: Value = r.json().await.unwrap();
    assert_eq!(v, json!({ "status": "ready" }));
    // no credentials needed, and not rate limited like the auth routes
    let limited = TestServer::start_with_config(|c| {
        c.rate_limit_per_minute = 1;
        c.rate_limit_burst = 1;
    })
    .await;
    for _ in 0..5 {
        let r = c.get(limited.url("/healthz")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let r = c.get(limited.url("/readyz")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_requests_by_route_template() {
    let srv = TestServer::start().await;
    let c = srv.bare_client();
    // a failed login, a signup, a successful login, an admin read by id
    let got = srv.login(&c, &email("ghost"), PASSWORD).await;
    assert_error(&got, StatusCode::UNAUTHORIZED, "invalid_credentials");
    let e = email("metric");
    let (id, _) = srv.signup(&c, &e).await;
    let (status, _) = srv.login(&c, &e, PASSWORD).await;
    assert_eq!(status, StatusCode::OK);
    let r = c
        .get(srv.url(&format!("/api/v1/users/{id}")))
        .bearer_auth(ADMIN_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let unknown = uuid::Uuid::now_v7();
    let r = c
        .get(srv.url(&format!("/api/v1/users/{unknown}")))
        .bearer_auth(ADMIN_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = c
        .get(srv.url(&format!("/no/such/{unknown}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    let r = c.get(srv.url("/metrics")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let ct = r.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(
        ct.starts_with("text/plain") || ct.starts_with("application/openmetrics-text"),
        "{ct}"
    );
    let text = r.text().await.unwrap();

    let login_401 = [
        ("route", "/api/v1/auth/login"),
        ("method", "POST"),
        ("status", "401"),
    ];
    assert_eq!(
        sample(&text, "http_requests_total", &login_401),
        Some(1.0),
        "{text}"
    );
    let login_200 = [("route", "/api/v1/auth/login"), ("status", "200")];
    assert_eq!(
        sample(&text, "http_requests_total", &login_200),
        Some(1.0),
        "{text}"
    );
    let signup = [("route", "/api/v1/auth/signup"), ("status", "201")];
    assert_eq!(
        sample(&text, "http_requests_total", &signup),
        Some(1.0),
        "{text}"
    );
    let by_id = [
        ("route", "/api/v1/users/{id}"),
        ("method", "GET"),
        ("status", "200"),
    ];
    assert_eq!(
        sample(&text, "http_requests_total", &by_id),
        Some(1.0),
        "{text}"
    );
    let by_id_404 = [("route", "/api/v1/users/{id}"), ("status", "404")];
    assert_eq!(
        sample(&text, "http_requests_total", &by_id_404),
        Some(1.0),
        "{text}"
    );
    // route labels are templates, never raw paths
    assert!(!text.contains(&id), "a raw id in the metrics: {text}");
    assert!(
        !text.contains(&unknown.to_string()),
        "a raw path in the metrics"
    );
    assert!(!text.contains(&e), "an email in the metrics");

    // latency histogram, logins, lockouts, MFA failures, hash queue
    assert!(
        sample(
            &text,
            "http_request_duration_seconds_count",
            &[("route", "/api/v1/auth/login")]
        )
        .is_some_and(|n| n >= 2.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, "logins_total", &[("outcome", "failure")]),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, "logins_total", &[("outcome", "success")]),
        Some(1.0),
        "{text}"
    );
    assert!(text.contains("lockouts_total"), "{text}");
    assert!(text.contains("mfa_failures_total"), "{text}");
    assert!(
        sample(&text, "password_hash_queue_depth", &[]).is_some_and(|d| d >= 0.0),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_documents_every_contract_route() {
    let srv = TestServer::start().await;
    let r = srv
        .bare_client()
        .get(srv.url("/api/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let doc: Value = serde_json::from_str(&r.text().await.unwrap()).expect("valid JSON");
    assert!(
        doc["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1")),
        "{}",
        doc["openapi"]
    );
    assert!(doc["info"]["title"].is_string());
    let paths = doc["paths"].as_object().expect("paths");
    let mut missing = Vec::new();
    for (path, methods) in CONTRACT_ROUTES {
        for m in *methods {
            if paths.get(*path).and_then(|p| p.get(*m)).is_none() {
                missing.push(format!("{} {path}", m.to_uppercase()));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "not in the OpenAPI document: {missing:?}"
    );
    // every operation documents its answers
    for (path, item) in paths {
        for (method, op) in item.as_object().unwrap() {
            assert!(
                op["responses"].as_object().is_some_and(|r| !r.is_empty()),
                "{method} {path} has no responses"
            );
        }
    }
    // the error schema is there for clients
    let schemas = doc["components"]["schemas"].as_object().expect("schemas");
    let error = &schemas["ErrorBody"];
    for f in ["error", "message"] {
        assert!(error["properties"].get(f).is_some(), "{error}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_route_is_served() {
    // The document and the router agree: no documented operation answers
    // 404 (no such route) or 405 (no such method). Without credentials the
    // answers are 401s, 4xx body errors or 200s.
    let srv = TestServer::start().await;
    let c = srv.bare_client();
    let doc: Value = c
        .get(srv.url("/api/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = uuid::Uuid::now_v7().to_string();
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            let Ok(m) = Method::from_bytes(method.to_uppercase().as_bytes()) else {
                continue;
            };
            let url = srv.url(&path.replace("{id}", &id));
            let (status, v) = json_of(c.request(m, url).send().await.unwrap()).await;
            assert!(
                status != StatusCode::NOT_FOUND
                    || v["error"] != "not_found"
                    || path.contains("{id}"),
                "{method} {path}: {status} {v}"
            );
            assert_ne!(
                status,
                StatusCode::METHOD_NOT_ALLOWED,
                "{method} {path}: {v}"
            );
            assert!(!status.is_server_error(), "{method} {path}: {status} {v}");
            checked += 1;
        }
    }
    assert!(checked >= 40, "{checked}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn responses_carry_a_request_id() {
    let srv = TestServer::start().await;
    let c = srv.bare_client();
    // generated when the client sends none, different each time
    let mut seen = Vec::new();
    for path in ["/healthz", "/api/v1/auth/me", "/no/such/route"] {
        let r = c.get(srv.url(path)).send().await.unwrap();
        let id = r
            .headers()
            .get("x-request-id")
            .unwrap_or_else(|| panic!("no x-request-id on {path}"))
            .to_str()
            .unwrap()
            .to_owned();
        assert!(!id.is_empty());
        seen.push(id);
    }
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 3);
    // echoed when the client sends one, on successes and errors alike
    for (method, path) in [
        (Method::GET, "/healthz"),
        (Method::GET, "/api/v1/auth/me"),
        (Method::POST, "/api/v1/auth/login"),
        (Method::GET, "/no/such/route"),
        (Method::GET, "/api/v1/admin/stats"),
    ] {
        let rid = format!("client-{}", uuid::Uuid::now_v7());
        let r = c
            .request(method, srv.url(path))
            .header("x-request-id", &rid)
            .send()
            .await
            .unwrap();
        assert_eq!(r.headers()["x-request-id"], rid.as_str(), "{path}");
    }
}
