//! The database going away: the server answers `503 service_unavailable`
//! at once (no 500, no hang, no 401 that would log clients out) and
//! recovers by itself when the database returns, without a restart.
//!
//! The store's pool connects through a TCP proxy in this test; cutting the
//! proxy closes every live connection and refuses new ones.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use authn_store_pg::PgStore;
use common::*;
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::AbortHandle;

/// A TCP proxy to PostgreSQL with a switch.
struct Proxy {
    port: u16,
    up: Arc<AtomicBool>,
    live: Arc<Mutex<Vec<AbortHandle>>>,
    accept: AbortHandle,
}

impl Proxy {
    async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let up = Arc::new(AtomicBool::new(true));
        let live: Arc<Mutex<Vec<AbortHandle>>> = Arc::default();
        let (up2, live2) = (up.clone(), live.clone());
        let accept = tokio::spawn(async move {
            loop {
                let Ok((mut client, _)) = listener.accept().await else {
                    continue;
                };
                if !up2.load(Ordering::SeqCst) {
                    drop(client); // refused: closed at once
                    continue;
                }
                let task = tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                let mut live = live2.lock().unwrap();
                live.retain(|h| !h.is_finished());
                live.push(task.abort_handle());
            }
        })
        .abort_handle();
        Self {
            port,
            up,
            live,
            accept,
        }
    }

    /// Closes every live connection and refuses new ones.
    fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        for h in self.live.lock().unwrap().drain(..) {
            h.abort(); // drops both sockets
        }
    }

    /// Forwards new connections again.
    fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
        for h in self.live.lock().unwrap().drain(..) {
            h.abort();
        }
    }
}

/// Where the test PostgreSQL listens.
fn postgres_addr() -> SocketAddr {
    let opts: PgConnectOptions = authn_testkit::admin_url().parse().unwrap();
    let host = match opts.get_host() {
        "localhost" => "127.0.0.1",
        h => h,
    };
    format!("{host}:{}", opts.get_port())
        .parse()
        .expect("the test PostgreSQL must be given by IP address")
}

/// A client whose requests give up after 15 s: an outage must not hang.
fn client() -> Client {
    common::client_builder()
        .timeout(Duration::from_secs(15))
        .build()
        .unwrap()
}

/// Login, me and signup through the server; their answers.
async fn probe(
    srv: &TestServer,
    c: &Client,
    user: &str,
    token: &str,
) -> Vec<(&'static str, StatusCode, Value)> {
    let mut out = Vec::new();
    let r = c
        .post(srv.url("/api/v1/auth/login"))
        .json(&json!({ "email": user, "password": PASSWORD }))
        .send()
        .await
        .expect("login answered in time");
    let (s, v) = json_of(r).await;
    out.push(("login", s, v));
    let r = c
        .get(srv.url("/api/v1/auth/me"))
        .bearer_auth(token)
        .send()
        .await
        .expect("me answered in time");
    let (s, v) = json_of(r).await;
    out.push(("me", s, v));
    let r = c
        .post(srv.url("/api/v1/auth/signup"))
        .json(&json!({ "email": email("during"), "password": PASSWORD }))
        .send()
        .await
        .expect("signup answered in time");
    let (s, v) = json_of(r).await;
    out.push(("signup", s, v));
    let r = c
        .get(srv.url("/readyz"))
        .send()
        .await
        .expect("readyz answered in time");
    let (s, v) = json_of(r).await;
    out.push(("readyz", s, v));
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_outage_gives_503_and_the_server_recovers() {
    authn_testkit::ensure_database().await;
    let proxy = Proxy::start(postgres_addr()).await;
    let pool = PgPoolOptions::new()
        .max_connections(4)
        .acquire_timeout(Duration::from_secs(2))
        .connect_with(
            authn_testkit::app_options()
                .host("127.0.0.1")
                .port(proxy.port),
        )
        .await
        .unwrap();
    let store = PgStore::new(pool)
        .namespace(&authn_testkit::unique_namespace())
        .unwrap();
    let srv = TestServer::start_on(store, &[]).await;
    let c = client();
    let alice = email("alice");
    let (_, token) = srv.signup(&c, &alice).await;
    for (what, status, v) in probe(&srv, &c, &alice, &token).await {
        assert!(
            status.is_success(),
            "{what} before the outage: {status} {v}"
        );
    }

    proxy.cut();
    // a few rounds: the first meets dead pooled connections, the next ones
    // find no connection at all
    for round in 0..3 {
        for (what, status, v) in probe(&srv, &c, &alice, &token).await {
            assert_eq!(
                status,
                StatusCode::SERVICE_UNAVAILABLE,
                "{what} (round {round}): {v}"
            );
            assert_eq!(v["error"], "service_unavailable", "{what}: {v}");
            assert!(v["message"].is_string(), "{what}: {v}");
            let text = v.to_string();
            for leak in ["sqlx", "connection", "pool", "io error", "os error"] {
                assert!(
                    !text.to_lowercase().contains(leak),
                    "{what} leaks {leak:?}: {text}"
                );
            }
        }
    }
    // the process itself is alive
    let r = c.get(srv.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);

    proxy.restore();
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut last = Vec::new();
    loop {
        let answers = probe(&srv, &c, &alice, &token).await;
        if answers.iter().all(|(_, s, _)| s.is_success()) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the server did not recover within 20 s: {last:?}"
        );
        last = answers;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // the session from before the outage is intact, and data written since works
    let (status, me) = json_of(
        c.get(srv.url("/api/v1/auth/me"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["email"], alice.as_str());
    let bob = email("bob");
    srv.signup(&c, &bob).await;
    let (status, _) = srv.login(&c, &bob, PASSWORD).await;
    assert_eq!(status, StatusCode::OK);
    let r = c.get(srv.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_routes_answer_503_during_an_outage() {
    authn_testkit::ensure_database().await;
    let proxy = Proxy::start(postgres_addr()).await;
    let pool = PgPoolOptions::new()
        .max_connections(4)
        .acquire_timeout(Duration::from_secs(2))
        .connect_with(
            authn_testkit::app_options()
                .host("127.0.0.1")
                .port(proxy.port),
        )
        .await
        .unwrap();
    let store = PgStore::new(pool)
        .namespace(&authn_testkit::unique_namespace())
        .unwrap();
    let srv = TestServer::start_on(store, &[]).await;
    let c = client();
    let (id, _) = srv.signup(&c, &email("admin-outage")).await;

    proxy.cut();
    for path in [
        "/api/v1/users".to_owned(),
        format!("/api/v1/users/{id}"),
        "/api/v1/audit-logs".to_owned(),
        "/api/v1/admin/stats".to_owned(),
    ] {
        let r = c
            .get(srv.url(&path))
            .bearer_auth(ADMIN_KEY)
            .send()
            .await
            .expect("answered in time");
        let got = json_of(r).await;
        assert_error(&got, StatusCode::SERVICE_UNAVAILABLE, "service_unavailable");
    }
    // a stored-key lookup needs the database too: 503, not 401
    let r = c
        .get(srv.url("/api/v1/admin/stats"))
        .bearer_auth("some-stored-admin-key-0123456789")
        .send()
        .await
        .expect("answered in time");
    let got = json_of(r).await;
    assert_error(&got, StatusCode::SERVICE_UNAVAILABLE, "service_unavailable");

    proxy.restore();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let r = c
            .get(srv.url(&format!("/api/v1/users/{id}")))
            .bearer_auth(ADMIN_KEY)
            .send()
            .await
            .unwrap();
        if r.status() == StatusCode::OK {
            break;
        }
        assert!(Instant::now() < deadline, "no recovery: {}", r.status());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
