//! A real server on loopback for each test: the real router and
//! middleware, served by axum on `127.0.0.1:0`, over the real PostgreSQL
//! store (role and database from `authn-testkit`) in a namespace of its own.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;
use std::time::Duration;

use authn_core::crypto::{KeyId, SecretBox, SecretKey};
use authn_server::app;
use authn_server::config::ServerConfig;
use authn_server::state::AppState;
use authn_store::AnyStore;
use clap::Parser;
use reqwest::{Client, Response, StatusCode};
use serde_json::{Value, json};

/// The bootstrap admin key of test servers.
pub const ADMIN_KEY: &str = "test-admin-key-0123456789";
/// A password the policy accepts.
pub const PASSWORD: &str = "correct horse battery staple";

#[derive(Parser)]
struct Args {
    #[command(flatten)]
    config: ServerConfig,
}

/// A configuration as `authn serve` would parse it from these flags (on
/// top of test defaults: loopback, dev mode, a bootstrap admin key, a
/// generous rate limit).
pub fn config(extra: &[&str]) -> ServerConfig {
    let mut args = vec![
        "authn",
        "--listen",
        "127.0.0.1:0",
        "--admin-keys",
        ADMIN_KEY,
        "--dev",
        "--rate-limit",
        "10000",
        "--rate-limit-burst",
        "10000",
    ];
    args.extend_from_slice(extra);
    Args::try_parse_from(args).expect("test config").config
}

/// Installs the process-wide rustls provider (ring) that `reqwest` needs
/// once any crate of the workspace enables its `rustls-no-provider`
/// feature (the SDK does; cargo unifies features). Idempotent.
pub fn crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A reqwest builder usable in tests.
pub fn client_builder() -> reqwest::ClientBuilder {
    crypto();
    Client::builder()
}

/// A running test server.
pub struct TestServer {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// Its state (store, flows, mailer...).
    pub state: AppState,
    /// The address it listens on.
    pub addr: SocketAddr,
}

impl TestServer {
    /// A server with the default test configuration.
    pub async fn start() -> Self {
        Self::start_with(&[]).await
    }

    /// A server with extra configuration flags.
    pub async fn start_with(extra: &[&str]) -> Self {
        Self::start_on(authn_testkit::store().await, extra).await
    }

    /// A server on a given store (e.g. one connected through a proxy).
    pub async fn start_on(store: impl Into<AnyStore>, extra: &[&str]) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let base = format!("http://{addr}");
        let public = format!("--public-url={base}");
        let mut flags = vec![public.as_str()];
        flags.extend_from_slice(extra);
        let config = config(&flags);
        let secrets =
            SecretBox::new((KeyId::new("test").unwrap(), SecretKey::generate()), vec![]).unwrap();
        let state = app::state_from_parts(config, store.into(), secrets).unwrap();
        tokio::spawn(app::serve_on(state.clone(), listener));
        Self { base, state, addr }
    }

    /// `base` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A client with a cookie jar (like a browser or the Python SDK).
    pub fn client(&self) -> Client {
        client_builder()
            .cookie_store(true)
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap()
    }

    /// A client without cookies (bearer-only).
    pub fn bare_client(&self) -> Client {
        client_builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap()
    }

    /// Signs a user up; returns (user id, session token).
    pub async fn signup(&self, client: &Client, email: &str) -> (String, String) {
        let r = client
            .post(self.url("/api/v1/auth/signup"))
            .json(&json!({ "email": email, "password": PASSWORD }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CREATED);
        let v: Value = r.json().await.unwrap();
        (
            v["id"].as_str().unwrap().to_owned(),
            v["token"].as_str().unwrap().to_owned(),
        )
    }

    /// Logs in; returns the JSON answer.
    pub async fn login(&self, client: &Client, email: &str, password: &str) -> (StatusCode, Value) {
        let r = client
            .post(self.url("/api/v1/auth/login"))
            .json(&json!({ "email": email, "password": password }))
            .send()
            .await
            .unwrap();
        json_of(r).await
    }

    /// Enrolls and verifies TOTP for the client's session; returns (secret, recovery codes).
    pub async fn enable_mfa(&self, client: &Client, token: &str) -> (String, Vec<String>) {
        let e: Value = client
            .post(self.url("/api/v1/auth/mfa/enroll"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let secret = e["secret"].as_str().unwrap().to_owned();
        let code = authn_core::compute_totp(&secret).unwrap();
        let (status, v) = json_of(
            client
                .post(self.url("/api/v1/auth/mfa/verify"))
                .bearer_auth(token)
                .json(&json!({ "code": code }))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{v}");
        let codes = v["recovery_codes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap().to_owned())
            .collect();
        (secret, codes)
    }

    /// The newest mail the development outbox holds for `to`.
    pub async fn last_mail(&self, to: &str) -> Value {
        let v: Value = self
            .bare_client()
            .get(self.url("/api/v1/admin/dev/outbox"))
            .bearer_auth(ADMIN_KEY)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        v["data"]
            .as_array()
            .unwrap()
            .iter()
            .rev()
            .find(|m| m["to"] == to)
            .cloned()
            .unwrap_or(Value::Null)
    }

    /// Waits for a mail to `to` (mail is sent in the background).
    pub async fn wait_mail(&self, to: &str, count_before: usize) -> Value {
        for _ in 0..100 {
            let v: Value = self
                .bare_client()
                .get(self.url("/api/v1/admin/dev/outbox"))
                .bearer_auth(ADMIN_KEY)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let mails: Vec<&Value> = v["data"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|m| m["to"] == to)
                .collect();
            if mails.len() > count_before {
                return (*mails.last().unwrap()).clone();
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no mail to {to}");
    }
}

/// The TOTP code of the next time step: accepted (one step of skew) and
/// later than any step used so far, so a test never waits for a new step.
pub fn next_code(secret: &str) -> String {
    code_at_offset(secret, 30)
}

/// The TOTP code of the step `offset` seconds from now.
pub fn code_at_offset(secret: &str, offset: i64) -> String {
    let key = authn_core::totp::decode_secret(secret).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let t = now.checked_add_signed(offset).unwrap();
    authn_core::totp::code_at(&key, t, &authn_core::totp::TotpConfig::default()).unwrap()
}

/// The `token=` parameter of the link in a mail.
pub fn token_in(mail: &Value) -> String {
    let text = mail["text"].as_str().unwrap();
    let start = text.find("token=").unwrap() + "token=".len();
    text[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect()
}

/// Status and JSON body of a response.
pub async fn json_of(r: Response) -> (StatusCode, Value) {
    let status = r.status();
    let body = r.text().await.unwrap();
    let v = serde_json::from_str(&body).unwrap_or_else(|_| json!({ "raw": body }));
    (status, v)
}

/// Asserts an error answer: status and slug, in the contract's format.
#[track_caller]
pub fn assert_error(got: &(StatusCode, Value), status: StatusCode, slug: &str) {
    assert_eq!(got.0, status, "{}", got.1);
    assert_eq!(got.1["error"], slug, "{}", got.1);
    assert!(got.1["message"].is_string(), "{}", got.1);
}

/// A unique email for a test.
pub fn email(tag: &str) -> String {
    format!("{tag}-{}@example.com", uuid::Uuid::now_v7().simple())
}

impl TestServer {
    /// A server whose configuration is the test default (`config(&[])`)
    /// changed by `adjust`: for settings the default flags already give
    /// (`--dev`, `--rate-limit`, `--rate-limit-burst`, `--admin-keys`),
    /// which clap refuses to take twice.
    pub async fn start_with_config(adjust: impl FnOnce(&mut ServerConfig)) -> Self {
        Self::start_on_with_config(authn_testkit::store().await, adjust).await
    }

    /// [`start_with_config`](Self::start_with_config) on a given store.
    pub async fn start_on_with_config(
        store: impl Into<AnyStore>,
        adjust: impl FnOnce(&mut ServerConfig),
    ) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let base = format!("http://{addr}");
        let public = format!("--public-url={base}");
        let mut config = config(&[public.as_str()]);
        adjust(&mut config);
        let secrets =
            SecretBox::new((KeyId::new("test").unwrap(), SecretKey::generate()), vec![]).unwrap();
        let state = app::state_from_parts(config, store.into(), secrets).unwrap();
        tokio::spawn(app::serve_on(state.clone(), listener));
        Self { base, state, addr }
    }
}
