//! The axum guard against a fake introspection endpoint on 127.0.0.1:0
//! (the real server's end-to-end tests live elsewhere).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use authn_client::AdminClient;
use authn_client::axum::{Caller, Verifier, require_mfa, require_session};
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use chrono::Utc;
use serde_json::{Value, json};
use tower::ServiceExt;

const ADMIN_KEY: &str = "test-admin-key-0123456789";
const USER_ID: &str = "01890a5d-ac96-774b-bcce-b302099a8057";

/// Sessions the fake server knows: token -> seconds since the second
/// factor (`None`: password only).
#[derive(Clone, Default)]
struct Fake {
    sessions: Arc<Mutex<HashMap<String, Option<i64>>>>,
    calls: Arc<AtomicUsize>,
    bodies: Arc<Mutex<Vec<Value>>>,
}

impl Fake {
    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

async fn introspect(
    State(fake): State<Fake>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    fake.calls.fetch_add(1, Ordering::SeqCst);
    fake.bodies.lock().unwrap().push(body.clone());
    if headers.get("authorization").and_then(|v| v.to_str().ok())
        != Some(&format!("Bearer {ADMIN_KEY}"))
    {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": "unauthorized", "message": "authentication required"})),
        )
            .into_response();
    }
    let token = body["token"].as_str().unwrap_or_default();
    if token == "explode" {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(json!({"error": "internal_error", "message": "internal error"})),
        )
            .into_response();
    }
    let session = fake.sessions.lock().unwrap().get(token).copied();
    let Some(mfa_age) = session else {
        return Json(json!({"active": false})).into_response();
    };
    if let Some(max) = body["max_mfa_age"].as_i64()
        && mfa_age.is_none_or(|age| age > max)
    {
        return Json(json!({"active": false})).into_response();
    }
    let now = Utc::now();
    let mfa_at = mfa_age.map(|age| (now - chrono::Duration::seconds(age)).to_rfc3339());
    let amr = if mfa_age.is_some() {
        json!(["pwd", "otp", "mfa"])
    } else {
        json!(["pwd"])
    };
    Json(json!({
        "active": true,
        "user_id": USER_ID,
        "session_id": "01890a5d-ac96-774b-bcce-b302099a8058",
        "email": "alice@example.com",
        "amr": amr,
        "auth_time": now.to_rfc3339(),
        "mfa_at": mfa_at,
        "expires_at": (now + chrono::Duration::days(7)).to_rfc3339(),
    }))
    .into_response()
}

/// Starts the fake auth server; returns its base URL.
async fn fake_server() -> (String, Fake) {
    let fake = Fake::default();
    {
        let mut s = fake.sessions.lock().unwrap();
        s.insert("fresh".into(), Some(10));
        s.insert("stale".into(), Some(3600));
        s.insert("pwd-only".into(), None);
    }
    let app = Router::new()
        .route("/api/v1/auth/introspect", post(introspect))
        .with_state(fake.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}"), fake)
}

async fn profile(Extension(caller): Extension<Caller>) -> String {
    caller.email
}

async fn transfer(caller: Caller) -> String {
    format!(
        "{} {}",
        caller.user_id,
        caller.mfa_at.map(|_| "mfa").unwrap_or("none")
    )
}

async fn unguarded(caller: Caller) -> String {
    caller.email
}

fn app(verifier: &Verifier) -> Router {
    Router::new()
        .route(
            "/profile",
            get(profile)
                .post(profile)
                .layer(require_session(verifier.clone())),
        )
        .route(
            "/transfer",
            post(transfer).layer(require_mfa(verifier.clone(), Duration::from_secs(300))),
        )
        .route("/unguarded", get(unguarded))
}

fn verifier(base: &str) -> Verifier {
    Verifier::new(AdminClient::new(base, ADMIN_KEY).unwrap())
}

async fn call(app: &Router, req: Request<Body>) -> (StatusCode, HeaderMap, String) {
    let res = app.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let body = axum::body::to_bytes(res.into_body(), 1 << 20)
        .await
        .unwrap();
    (status, headers, String::from_utf8(body.to_vec()).unwrap())
}

fn get_with(path: &str, header: Option<(&str, &str)>) -> Request<Body> {
    let mut b = Request::get(path);
    if let Some((k, v)) = header {
        b = b.header(k, v);
    }
    b.body(Body::empty()).unwrap()
}

fn bearer(token: &str) -> Option<(&'static str, String)> {
    Some(("authorization", format!("Bearer {token}")))
}

fn post_bearer(path: &str, token: &str) -> Request<Body> {
    Request::post(path)
        .header("authorization", format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap()
}

fn json_body(s: &str) -> Value {
    serde_json::from_str(s).unwrap()
}

#[tokio::test]
async fn session_guard_admits_valid_sessions_only() {
    let (base, fake) = fake_server().await;
    let app = app(&verifier(&base));

    // No token: refused without asking the server.
    let (status, headers, body) = call(&app, get_with("/profile", None)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(json_body(&body)["error"], "unauthorized");
    assert_eq!(headers["www-authenticate"], "Bearer");
    assert_eq!(fake.calls(), 0);

    let h = bearer("fresh").unwrap();
    let (status, _, body) = call(&app, get_with("/profile", Some((h.0, &h.1)))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, "alice@example.com");
    assert_eq!(fake.calls(), 1);
    // require_session asks without a freshness demand.
    assert_eq!(fake.bodies.lock().unwrap()[0], json!({"token": "fresh"}));

    // A password-only session is a valid session.
    let h = bearer("pwd-only").unwrap();
    let (status, _, _) = call(&app, get_with("/profile", Some((h.0, &h.1)))).await;
    assert_eq!(status, StatusCode::OK);

    let h = bearer("unknown").unwrap();
    let (status, _, body) = call(&app, get_with("/profile", Some((h.0, &h.1)))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(json_body(&body)["error"], "unauthorized");
}

#[tokio::test]
async fn no_caching_revocation_is_immediate() {
    let (base, fake) = fake_server().await;
    let app = app(&verifier(&base));
    let h = bearer("fresh").unwrap();
    for _ in 0..2 {
        let (status, _, _) = call(&app, get_with("/profile", Some((h.0, &h.1)))).await;
        assert_eq!(status, StatusCode::OK);
    }
    assert_eq!(fake.calls(), 2);
    fake.sessions.lock().unwrap().remove("fresh");
    let (status, _, _) = call(&app, get_with("/profile", Some((h.0, &h.1)))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(fake.calls(), 3);
}

#[tokio::test]
async fn mfa_guard_demands_a_fresh_second_factor() {
    let (base, fake) = fake_server().await;
    let app = app(&verifier(&base));

    let (status, _, body) = call(&app, post_bearer("/transfer", "fresh")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, format!("{USER_ID} mfa"));
    assert_eq!(fake.calls(), 1);
    assert_eq!(
        fake.bodies.lock().unwrap()[0],
        json!({"token": "fresh", "max_mfa_age": 300})
    );

    for token in ["stale", "pwd-only"] {
        let (status, _, body) = call(&app, post_bearer("/transfer", token)).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{token}");
        let body = json_body(&body);
        assert_eq!(body["error"], "step_up_required");
        assert_eq!(body["max_age"], 300);
        assert!(body["message"].is_string());
    }

    // Not a session at all: 401, not a step-up.
    let (status, _, body) = call(&app, post_bearer("/transfer", "unknown")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(json_body(&body)["error"], "unauthorized");
}

#[tokio::test]
async fn cookies_and_origins() {
    let (base, _fake) = fake_server().await;
    let app = app(&verifier(&base));

    let (status, _, _) = call(
        &app,
        get_with(
            "/profile",
            Some(("cookie", "theme=dark; authn_session=fresh")),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    // A cookie-authenticated state change from another origin is refused
    // before the session is even checked ...
    let req = Request::post("/profile")
        .header("cookie", "authn_session=fresh")
        .header("origin", "https://evil.example")
        .header("host", "svc.example.com")
        .body(Body::empty())
        .unwrap();
    let (status, _, body) = call(&app, req).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(json_body(&body)["error"], "forbidden_origin");
    // ... but allowed from the service's own origin ...
    let req = Request::post("/profile")
        .header("cookie", "authn_session=fresh")
        .header("origin", "https://svc.example.com")
        .header("host", "svc.example.com")
        .body(Body::empty())
        .unwrap();
    assert_eq!(call(&app, req).await.0, StatusCode::OK);
    // ... and bearer tokens are not ambient credentials: no origin check.
    let req = Request::post("/profile")
        .header("authorization", "Bearer fresh")
        .header("origin", "https://evil.example")
        .body(Body::empty())
        .unwrap();
    assert_eq!(call(&app, req).await.0, StatusCode::OK);

    // Custom cookie name; the default one is then ignored.
    let custom = app_with(verifier(&base).cookie_name("sid"));
    assert_eq!(
        call(&custom, get_with("/profile", Some(("cookie", "sid=fresh"))))
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(
        call(
            &custom,
            get_with("/profile", Some(("cookie", "authn_session=fresh")))
        )
        .await
        .0,
        StatusCode::UNAUTHORIZED
    );
    // Bearer only.
    let bearer_only = app_with(verifier(&base).without_cookie());
    assert_eq!(
        call(
            &bearer_only,
            get_with("/profile", Some(("cookie", "authn_session=fresh")))
        )
        .await
        .0,
        StatusCode::UNAUTHORIZED
    );
}

fn app_with(v: Verifier) -> Router {
    app(&v)
}

#[tokio::test]
async fn auth_server_trouble_fails_closed_with_503() {
    // Nothing listens there any more.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dead = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let app_dead = app(&verifier(&dead));
    let (status, headers, body) = call(&app_dead, post_bearer("/transfer", "fresh")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(json_body(&body)["error"], "service_unavailable");
    assert!(headers.contains_key("retry-after"));

    // A rejected admin key or a server error is no reason to let anyone in.
    let (base, _fake) = fake_server().await;
    let wrong_key = app_with(Verifier::new(AdminClient::new(&base, "wrong-key").unwrap()));
    let h = bearer("fresh").unwrap();
    assert_eq!(
        call(&wrong_key, get_with("/profile", Some((h.0, &h.1))))
            .await
            .0,
        StatusCode::SERVICE_UNAVAILABLE
    );
    let app = app(&verifier(&base));
    let h = bearer("explode").unwrap();
    assert_eq!(
        call(&app, get_with("/profile", Some((h.0, &h.1)))).await.0,
        StatusCode::SERVICE_UNAVAILABLE
    );
}

#[tokio::test]
async fn caller_extractor_without_a_guard_is_401() {
    let (base, fake) = fake_server().await;
    let app = app(&verifier(&base));
    let h = bearer("fresh").unwrap();
    let (status, _, _) = call(&app, get_with("/unguarded", Some((h.0, &h.1)))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(fake.calls(), 0);
}

#[tokio::test]
async fn verifier_can_be_used_directly() {
    let (base, _fake) = fake_server().await;
    let v = verifier(&base);
    let caller = v.verify("fresh", None).await.unwrap();
    assert_eq!(caller.email, "alice@example.com");
    assert_eq!(caller.amr, ["pwd", "otp", "mfa"]);
    assert!(caller.mfa_at.is_some());
    assert!(matches!(
        v.verify("stale", Some(Duration::from_secs(60))).await,
        Err(authn_client::axum::Denial::StepUpRequired { max_age: 60 })
    ));
    assert!(matches!(
        v.verify("", None).await,
        Err(authn_client::axum::Denial::Unauthorized)
    ));
}
