//! The seed's MFA journey through a real server.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_journey_login_enroll_verify_logout_challenge() {
    let srv = TestServer::start().await;
    let c = srv.client();
    let alice = email("alice");
    srv.signup(&c, &alice).await;
    let (status, login) = srv.login(&c, &alice, PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{login}");
    let token = login["token"].as_str().unwrap().to_owned();

    let (secret, codes) = srv.enable_mfa(&c, &token).await;
    assert_eq!(codes.len(), 10);

    let r = c.post(srv.url("/api/v1/auth/logout")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let me = json_of(c.get(srv.url("/api/v1/auth/me")).send().await.unwrap()).await;
    assert_error(&me, StatusCode::UNAUTHORIZED, "unauthorized");

    let (status, login) = srv.login(&c, &alice, PASSWORD).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(login["mfaRequired"], true, "{login}");
    let me = json_of(c.get(srv.url("/api/v1/auth/me")).send().await.unwrap()).await;
    assert_error(&me, StatusCode::FORBIDDEN, "mfa_required");

    // the next step: the current one may have confirmed the enrollment,
    // and a step is never accepted twice
    let (status, ch) = json_of(
        c.post(srv.url("/api/v1/auth/mfa/challenge"))
            .json(&json!({ "code": next_code(&secret) }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{ch}");
    assert!(ch["token"].is_string());
    assert_eq!(ch["email"], alice.as_str());
    let (status, me) = json_of(c.get(srv.url("/api/v1/auth/me")).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["mfa_enabled"], true);
}
