//! What the clients put on the wire and how they keep the session, against
//! a recording fake server on 127.0.0.1:0 answering like the real one.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use authn_client::{
    Actor, AdminClient, AuthClient, ClientError, ListUsers, Login, SessionToken, UserPatch,
};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

const USER_ID: &str = "01890a5d-ac96-774b-bcce-b302099a8057";

#[derive(Debug, Clone)]
struct Seen {
    method: Method,
    path: String,
    query: Option<String>,
    headers: HeaderMap,
    body: Option<Value>,
}

impl Seen {
    fn auth(&self) -> Option<&str> {
        self.headers
            .get("authorization")
            .map(|v| v.to_str().unwrap())
    }
}

type Log = Arc<Mutex<Vec<Seen>>>;

fn user(extra: Value) -> Value {
    let mut u = json!({
        "id": USER_ID, "email": "alice@example.com", "email_verified": true, "name": null,
        "mfa_enabled": true, "created_at": "2026-01-02T03:04:05Z", "updated_at": "2026-01-02T03:04:05Z"
    });
    for (k, v) in extra.as_object().unwrap() {
        u[k] = v.clone();
    }
    u
}

fn err(status: StatusCode, slug: &str) -> Response {
    (status, axum::Json(json!({"error": slug, "message": slug}))).into_response()
}

/// The canned answers, by method and path.
async fn answer(seen: &Seen) -> Response {
    let full = "Bearer full-token";
    match (seen.method.as_str(), seen.path.as_str()) {
        ("POST", "/api/v1/auth/login") => {
            if seen.body.as_ref().unwrap()["password"] == "wrong" {
                return err(StatusCode::UNAUTHORIZED, "invalid_credentials");
            }
            axum::Json(json!({"mfaRequired": true, "token": "partial-token", "mfa_methods": ["totp", "recovery_code"]})).into_response()
        }
        ("POST", "/api/v1/auth/signup") => (
            StatusCode::CREATED,
            axum::Json(user(json!({"token": "signup-token", "mfa_enabled": false}))),
        )
            .into_response(),
        ("GET", "/api/v1/auth/me") => match seen.auth() {
            Some(a) if a == full => axum::Json(user(json!({}))).into_response(),
            Some("Bearer partial-token") => err(StatusCode::FORBIDDEN, "mfa_required"),
            _ => err(StatusCode::UNAUTHORIZED, "unauthorized"),
        },
        ("POST", "/api/v1/auth/mfa/challenge") | ("POST", "/api/v1/auth/mfa/recovery") => {
            if seen.auth() != Some("Bearer partial-token") && seen.auth() != Some(full) {
                return err(StatusCode::UNAUTHORIZED, "unauthorized");
            }
            axum::Json(user(json!({"token": "full-token"}))).into_response()
        }
        ("DELETE", "/api/v1/auth/mfa") => axum::Json(json!({"mfa_enabled": false})).into_response(),
        ("POST", "/api/v1/auth/mfa/recovery-codes") => {
            axum::Json(json!({"recovery_codes": ["a", "b"]})).into_response()
        }
        ("GET", "/api/v1/auth/mfa") => axum::Json(
            json!({"mfa_enabled": true, "methods": ["totp"], "recovery_codes_remaining": 10}),
        )
        .into_response(),
        ("POST", "/api/v1/auth/logout") => axum::Json(json!({})).into_response(),
        ("GET", "/api/v1/auth/magic-link/verify") => {
            axum::Json(user(json!({"token": "magic-token"}))).into_response()
        }
        ("POST", "/api/v1/auth/password/change") => {
            let mut r = err(StatusCode::FORBIDDEN, "step_up_required");
            *r.body_mut() = axum::body::Body::from(
                r#"{"error":"step_up_required","message":"recent authentication required","max_age":600}"#,
            );
            r
        }
        ("POST", "/api/v1/auth/password/send-reset-link") => {
            let mut r = err(StatusCode::TOO_MANY_REQUESTS, "rate_limited");
            r.headers_mut().insert("retry-after", "7".parse().unwrap());
            r
        }
        ("DELETE", "/api/v1/auth/sessions") => axum::Json(json!({"revoked": 2})).into_response(),
        ("GET", "/api/v1/users") => {
            axum::Json(json!({"data": [user(json!({}))], "next_cursor": "c2"})).into_response()
        }
        ("PATCH", p) if p.starts_with("/api/v1/users/") => {
            axum::Json(user(json!({"disabled_at": "2026-03-01T00:00:00Z"}))).into_response()
        }
        ("DELETE", p) if p.ends_with("/mfa") => {
            axum::Json(json!({"mfa_enabled": false, "user_id": USER_ID})).into_response()
        }
        ("DELETE", p) if p.starts_with("/api/v1/users/") => StatusCode::NO_CONTENT.into_response(),
        _ => err(StatusCode::NOT_FOUND, "not_found"),
    }
}

async fn record(State(log): State<Log>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let bytes: Bytes = axum::body::to_bytes(body, 1 << 20).await.unwrap();
    let seen = Seen {
        method: parts.method,
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().map(str::to_owned),
        headers: parts.headers,
        body: (!bytes.is_empty()).then(|| serde_json::from_slice(&bytes).unwrap()),
    };
    log.lock().unwrap().push(seen.clone());
    answer(&seen).await
}

async fn fake() -> (String, Log) {
    let log = Log::default();
    let app = Router::new().fallback(record).with_state(log.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}"), log)
}

fn last(log: &Log) -> Seen {
    log.lock().unwrap().last().cloned().unwrap()
}

#[tokio::test]
async fn mfa_login_journey_rotates_the_shared_session() {
    let (base, log) = fake().await;
    let auth = AuthClient::new(&base).unwrap();
    let mfa = auth.mfa();

    let login = auth.login("alice@example.com", "pw").await.unwrap();
    assert_eq!(
        login,
        Login::MfaRequired {
            methods: vec!["totp".into(), "recovery_code".into()]
        }
    );
    let seen = last(&log);
    assert_eq!(seen.auth(), None, "login sends no credentials");
    assert_eq!(
        seen.body,
        Some(json!({"email": "alice@example.com", "password": "pw"}))
    );
    assert_eq!(
        mfa.session().token(),
        Some(SessionToken::new("partial-token"))
    );

    // The partial session cannot be used yet.
    let e = auth.me().await.unwrap_err();
    assert!(e.is("mfa_required"), "{e}");
    assert_eq!(e.status(), Some(403));

    let user = mfa.challenge("123456").await.unwrap();
    assert_eq!(user.id.to_string(), USER_ID);
    let seen = last(&log);
    assert_eq!(seen.auth(), Some("Bearer partial-token"));
    assert_eq!(seen.body, Some(json!({"code": "123456"})));
    // The rotated token is what every client of this AuthClient now sends.
    assert_eq!(
        auth.session().token(),
        Some(SessionToken::new("full-token"))
    );
    assert_eq!(auth.me().await.unwrap().email, "alice@example.com");
    assert_eq!(last(&log).auth(), Some("Bearer full-token"));

    let st = mfa.status().await.unwrap();
    assert_eq!(st.recovery_codes_remaining, 10);

    auth.logout().await.unwrap();
    assert_eq!(last(&log).path, "/api/v1/auth/logout");
    assert!(!mfa.session().has_token());
    assert!(matches!(
        auth.me().await,
        Err(ClientError::NotAuthenticated)
    ));
}

#[tokio::test]
async fn mfa_calls_wire_format() {
    let (base, log) = fake().await;
    let auth = AuthClient::new(&base).unwrap();
    auth.session().set_token(SessionToken::new("full-token"));
    let mfa = auth.mfa();

    mfa.disable(None).await.unwrap();
    let seen = last(&log);
    assert_eq!(
        (seen.method.as_str(), seen.path.as_str()),
        ("DELETE", "/api/v1/auth/mfa")
    );
    assert_eq!(seen.body, Some(json!({})));
    assert_eq!(seen.headers["content-type"], "application/json");

    mfa.disable(Some("654321")).await.unwrap();
    assert_eq!(last(&log).body, Some(json!({"code": "654321"})));

    assert_eq!(mfa.regenerate_recovery_codes().await.unwrap(), ["a", "b"]);

    mfa.recovery("aaaa-bbbb").await.unwrap();
    let seen = last(&log);
    assert_eq!(seen.path, "/api/v1/auth/mfa/recovery");
    assert_eq!(seen.body, Some(json!({"code": "aaaa-bbbb"})));
}

#[tokio::test]
async fn other_user_calls() {
    let (base, log) = fake().await;
    let auth = AuthClient::builder(&base)
        .user_agent("wire-test/1")
        .build()
        .unwrap();

    let u = auth
        .signup("alice@example.com", "long passphrase", Some("Alice"))
        .await
        .unwrap();
    assert!(!u.mfa_enabled);
    let seen = last(&log);
    assert_eq!(seen.headers["user-agent"], "wire-test/1");
    assert_eq!(
        seen.body,
        Some(json!({"email": "alice@example.com", "password": "long passphrase", "name": "Alice"}))
    );
    assert_eq!(
        auth.session().token(),
        Some(SessionToken::new("signup-token"))
    );

    assert_eq!(auth.revoke_other_sessions().await.unwrap(), 2);
    assert_eq!(last(&log).auth(), Some("Bearer signup-token"));

    let login = auth.verify_magic_link("tok/with+chars").await.unwrap();
    assert!(matches!(login, Login::Authenticated(_)));
    let seen = last(&log);
    assert_eq!(seen.query.as_deref(), Some("token=tok%2Fwith%2Bchars"));
    assert_eq!(
        auth.session().token(),
        Some(SessionToken::new("magic-token"))
    );

    let e = auth.change_password("a", "b").await.unwrap_err();
    assert!(e.is("step_up_required"));
    assert_eq!(e.max_age(), Some(600));

    let e = auth
        .send_password_reset("alice@example.com")
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(429));
    assert_eq!(e.retry_after(), Some(Duration::from_secs(7)));

    let e = auth.login("alice@example.com", "wrong").await.unwrap_err();
    assert!(e.is("invalid_credentials"));
    // A failed login leaves the session alone, and no error text carries
    // the password.
    assert_eq!(
        auth.session().token(),
        Some(SessionToken::new("magic-token"))
    );
    assert!(!format!("{e} {e:?}").contains("wrong"));
}

#[tokio::test]
async fn admin_calls_carry_key_actor_and_bodies() {
    let (base, log) = fake().await;
    let admin = AdminClient::new(&base, "admin-key-0123456789")
        .unwrap()
        .with_actor(
            Actor::new("support:jane")
                .on_behalf_of("user:1")
                .reason("ticket 4711"),
        )
        .unwrap();

    let page = admin
        .list_users(ListUsers {
            email: Some("alice@example.com".into()),
            limit: Some(5),
            cursor: None,
        })
        .await
        .unwrap();
    assert_eq!(page.next_cursor.as_deref(), Some("c2"));
    let seen = last(&log);
    assert_eq!(
        seen.query.as_deref(),
        Some("email=alice%40example.com&limit=5")
    );
    assert_eq!(seen.auth(), Some("Bearer admin-key-0123456789"));
    assert_eq!(seen.headers["x-actor"], "support:jane");
    assert_eq!(seen.headers["x-on-behalf-of"], "user:1");
    assert_eq!(seen.headers["x-reason"], "ticket 4711");

    let id = page.data[0].id;
    let u = admin
        .update_user(
            id,
            UserPatch {
                name: Some(None),
                disabled: Some(true),
                ..UserPatch::default()
            },
        )
        .await
        .unwrap();
    assert!(u.disabled_at.is_some());
    let seen = last(&log);
    assert_eq!(seen.path, format!("/api/v1/users/{id}"));
    assert_eq!(seen.body, Some(json!({"name": null, "disabled": true})));

    admin.reset_mfa(id).await.unwrap();
    assert_eq!(last(&log).path, format!("/api/v1/users/{id}/mfa"));
    admin.delete_user(id).await.unwrap();
    assert_eq!(last(&log).method, Method::DELETE);

    let e = admin.stats().await.unwrap_err();
    assert!(e.is("not_found"));
}

#[tokio::test]
async fn timeouts_are_reported_as_such() {
    // A server that accepts connections and never answers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((sock, _)) = listener.accept().await {
            held.push(sock);
        }
    });
    let silent = AdminClient::builder(&format!("http://{addr}"), "k")
        .timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let e = silent.stats().await.unwrap_err();
    assert!(matches!(e, ClientError::Timeout), "{e:?}");
}

#[tokio::test]
async fn unreachable_server_is_a_transport_error_without_url() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let auth = AuthClient::new(&base).unwrap();
    let e = auth
        .verify_magic_link("secret-magic-token")
        .await
        .unwrap_err();
    assert!(matches!(e, ClientError::Transport(_)), "{e:?}");
    let text = format!("{e} {e:?} {:?}", std::error::Error::source(&e));
    assert!(!text.contains("secret-magic-token"), "{text}");
}
