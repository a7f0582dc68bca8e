//! The SDK's axum guard (`authn_client::axum`) in front of a tiny service on
//! 127.0.0.1:0, checking sessions with a real `authn serve` process.
//! The service is called with plain HTTP (it is not the auth server; the SDK
//! has no client for it); the auth server only through the SDK.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use authn_client::axum::{Caller, Verifier, require_mfa, require_session};
use authn_client::{AuthClient, Login, SessionToken, UserPatch};
use authn_e2e::{Deployment, Node, PASSWORD, email, enable_mfa, http, on_both_stores};
use axum::Json;
use axum::Router;
use axum::routing::{get, post};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// The age of the second factor `/transfer` demands.
const MFA_AGE: Duration = Duration::from_secs(60);

async fn whoami(caller: Caller) -> Json<Value> {
    Json(json!({
        "user_id": caller.user_id,
        "session_id": caller.session_id,
        "email": caller.email,
        "amr": caller.amr,
        "acr": caller.acr,
        "auth_time": caller.auth_time,
        "mfa_at": caller.mfa_at,
        "expires_at": caller.expires_at,
    }))
}

async fn transfer(caller: Caller) -> Json<Value> {
    Json(json!({ "done": true, "by": caller.user_id }))
}

/// The guarded service: `GET /whoami` needs a session, `POST /transfer` a
/// second factor within a minute. Returns its base URL; it runs until the
/// test's runtime ends.
async fn service(auth: &Node) -> String {
    let verifier = Verifier::new(auth.admin());
    let app = Router::new()
        .route(
            "/whoami",
            get(whoami).layer(require_session(verifier.clone())),
        )
        .route(
            "/transfer",
            post(transfer).layer(require_mfa(verifier, MFA_AGE)),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

/// Status and JSON body of a request to the service with `token` as bearer.
async fn call(
    service: &str,
    method: reqwest::Method,
    path: &str,
    token: Option<&SessionToken>,
) -> (StatusCode, Value) {
    let mut req = http().request(method, format!("{service}{path}"));
    if let Some(t) = token {
        req = req.bearer_auth(t.expose_secret());
    }
    let r = req.send().await.unwrap();
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn whoami_as(service: &str, token: Option<&SessionToken>) -> (StatusCode, Value) {
    call(service, reqwest::Method::GET, "/whoami", token).await
}

async fn transfer_as(service: &str, token: Option<&SessionToken>) -> (StatusCode, Value) {
    call(service, reqwest::Method::POST, "/transfer", token).await
}

#[track_caller]
fn assert_denied(got: &(StatusCode, Value), status: StatusCode, slug: &str) {
    assert_eq!(got.0, status, "{}", got.1);
    assert_eq!(got.1["error"], slug, "{}", got.1);
    assert!(got.1["message"].is_string(), "{}", got.1);
}

fn token(auth: &AuthClient) -> SessionToken {
    auth.session().token().unwrap()
}

on_both_stores! {
    async fn the_guard_admits_sessions_and_demands_a_recent_second_factor(store: Store) {
        let node = Deployment::on(store).await.start_node().await;
        let svc = service(&node).await;

        // no token, a made-up token
        let got = whoami_as(&svc, None).await;
        assert_denied(&got, StatusCode::UNAUTHORIZED, "unauthorized");
        let r = http().get(format!("{svc}/whoami")).send().await.unwrap();
        assert_eq!(r.headers()["www-authenticate"], "Bearer");
        let junk = SessionToken::new("not-a-session-token");
        assert_denied(
            &whoami_as(&svc, Some(&junk)).await,
            StatusCode::UNAUTHORIZED,
            "unauthorized",
        );

        // a signed-in user (password only): the Caller is theirs
        let mia = email("mia");
        let auth = node.client();
        let user = auth.signup(&mia, PASSWORD, None).await.unwrap();
        let session = auth.current_session().await.unwrap();
        let (status, caller) = whoami_as(&svc, Some(&token(&auth))).await;
        assert_eq!(status, StatusCode::OK, "{caller}");
        assert_eq!(caller["user_id"], user.id.to_string());
        assert_eq!(caller["session_id"], session.id.to_string());
        assert_eq!(caller["email"], mia.as_str());
        assert_eq!(caller["amr"], json!(["pwd"]));
        assert!(caller["auth_time"].is_string() && caller["expires_at"].is_string());
        assert!(caller["mfa_at"].is_null());

        // the same session from a browser: the cookie works for reads, and a
        // cross-site state change with it is refused
        let cookie = format!("authn_session={}", token(&auth).expose_secret());
        let r = http()
            .get(format!("{svc}/whoami"))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let r = http()
            .post(format!("{svc}/transfer"))
            .header("cookie", &cookie)
            .header("origin", "https://evil.example")
            .send()
            .await
            .unwrap();
        let got = (r.status(), r.json().await.unwrap_or(Value::Null));
        assert_denied(&got, StatusCode::FORBIDDEN, "forbidden_origin");

        // /transfer wants a second factor within a minute: step up
        let got = transfer_as(&svc, Some(&token(&auth))).await;
        assert_denied(&got, StatusCode::FORBIDDEN, "step_up_required");
        assert_eq!(got.1["max_age"], MFA_AGE.as_secs());

        // enrolling confirms a second factor on this session
        let (mut totp, _codes) = enable_mfa(&auth).await;
        let (status, body) = transfer_as(&svc, Some(&token(&auth))).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["by"], user.id.to_string());

        // next login: the partial session passes no guard
        auth.logout().await.unwrap();
        let Login::MfaRequired { .. } = auth.login(&mia, PASSWORD).await.unwrap() else {
            panic!("MFA owed");
        };
        let partial = token(&auth);
        assert_denied(
            &whoami_as(&svc, Some(&partial)).await,
            StatusCode::UNAUTHORIZED,
            "unauthorized",
        );
        assert_denied(
            &transfer_as(&svc, Some(&partial)).await,
            StatusCode::UNAUTHORIZED,
            "unauthorized",
        );

        // right after the challenge: both routes, with the second factor shown
        auth.mfa().challenge(&totp.next_code().await).await.unwrap();
        let (status, body) = transfer_as(&svc, Some(&token(&auth))).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let (status, caller) = whoami_as(&svc, Some(&token(&auth))).await;
        assert_eq!(status, StatusCode::OK, "{caller}");
        assert!(caller["mfa_at"].is_string(), "{caller}");
        assert_eq!(caller["acr"], "aal2");
        let amr = caller["amr"].as_array().unwrap();
        assert!(
            amr.contains(&json!("otp")) && amr.contains(&json!("mfa")),
            "{caller}"
        );
    }

    async fn revocations_on_the_auth_server_reach_the_guard_at_once(store: Store) {
        let node = Deployment::on(store).await.start_node().await;
        let svc = service(&node).await;
        let admin = node.admin();
        let noah = email("noah");
        let auth = node.client();
        let user = auth.signup(&noah, PASSWORD, None).await.unwrap();

        // logout
        let t = token(&auth);
        assert_eq!(whoami_as(&svc, Some(&t)).await.0, StatusCode::OK);
        auth.logout().await.unwrap();
        assert_denied(
            &whoami_as(&svc, Some(&t)).await,
            StatusCode::UNAUTHORIZED,
            "unauthorized",
        );

        // revoked from another device
        let Login::Authenticated(_) = auth.login(&noah, PASSWORD).await.unwrap() else {
            panic!("no MFA");
        };
        let t = token(&auth);
        assert_eq!(whoami_as(&svc, Some(&t)).await.0, StatusCode::OK);
        let other = node.client();
        let Login::Authenticated(_) = other.login(&noah, PASSWORD).await.unwrap() else {
            panic!("no MFA");
        };
        let id = auth.current_session().await.unwrap().id;
        other.revoke_session(id).await.unwrap();
        assert_denied(
            &whoami_as(&svc, Some(&t)).await,
            StatusCode::UNAUTHORIZED,
            "unauthorized",
        );

        // admin: every session of the user
        let t = token(&other);
        assert_eq!(whoami_as(&svc, Some(&t)).await.0, StatusCode::OK);
        admin.revoke_user_sessions(user.id).await.unwrap();
        assert_denied(
            &whoami_as(&svc, Some(&t)).await,
            StatusCode::UNAUTHORIZED,
            "unauthorized",
        );

        // admin: the account disabled
        let Login::Authenticated(_) = auth.login(&noah, PASSWORD).await.unwrap() else {
            panic!("no MFA");
        };
        let t = token(&auth);
        assert_eq!(whoami_as(&svc, Some(&t)).await.0, StatusCode::OK);
        admin
            .update_user(
                user.id,
                UserPatch {
                    disabled: Some(true),
                    ..UserPatch::default()
                },
            )
            .await
            .unwrap();
        assert_denied(
            &whoami_as(&svc, Some(&t)).await,
            StatusCode::UNAUTHORIZED,
            "unauthorized",
        );
    }

    async fn the_guard_fails_closed_when_the_auth_server_is_down(store: Store) {
        let mut node = Deployment::on(store).await.start_node().await;
        let svc = service(&node).await;
        let auth = node.client();
        auth.signup(&email("olga"), PASSWORD, None).await.unwrap();
        let t = token(&auth);
        assert_eq!(whoami_as(&svc, Some(&t)).await.0, StatusCode::OK);

        node.stop();
        let r = http()
            .get(format!("{svc}/whoami"))
            .bearer_auth(t.expose_secret())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(r.headers().contains_key("retry-after"));
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"], "service_unavailable", "{body}");
    }
}
