//! The real `authn` binary: `migrate`, `admin-key`, `user`, `cleanup`,
//! `stats` against the test database, checked through a server on the same
//! namespace; `serve`, which stops cleanly on SIGTERM; and the zero-setup
//! start on the embedded SQLite default.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::Write;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// The environment of one test: the app role's URL of the test database
/// (none: the embedded default), a fresh namespace and a data directory.
struct Env {
    database_url: Option<String>,
    namespace: String,
    data_dir: tempfile::TempDir,
}

impl Env {
    async fn new() -> Self {
        authn_testkit::ensure_database().await;
        let opts = authn_testkit::app_options();
        let database_url = format!(
            "postgres://{}@{}:{}/{}",
            authn_testkit::APP_ROLE,
            opts.get_host(),
            opts.get_port(),
            authn_testkit::database_name()
        );
        Self {
            database_url: Some(database_url),
            namespace: authn_testkit::unique_namespace(),
            data_dir: tempfile::tempdir().unwrap(),
        }
    }

    /// No database URL at all: what a new user runs.
    fn embedded() -> Self {
        Self {
            database_url: None,
            namespace: "default".to_owned(),
            data_dir: tempfile::tempdir().unwrap(),
        }
    }

    /// `authn <args>` with this environment (and no other `AUTHN_*`
    /// variable from the caller's environment).
    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_authn"));
        for (k, _) in std::env::vars() {
            if k.starts_with("AUTHN_") {
                cmd.env_remove(k);
            }
        }
        if let Some(url) = &self.database_url {
            cmd.env("AUTHN_DATABASE_URL", url);
        }
        cmd.args(args)
            .env("AUTHN_NAMESPACE", &self.namespace)
            .env("AUTHN_DATA_DIR", self.data_dir.path())
            .env("RUST_LOG", "warn")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    }

    /// Runs `authn <args>` to completion (off the async workers), feeding `stdin`.
    async fn run(&self, args: &[&str], stdin: &str) -> Output {
        let mut cmd = self.command(args);
        let stdin = stdin.to_owned();
        tokio::task::spawn_blocking(move || {
            let mut child = cmd.spawn().unwrap();
            let mut input = child.stdin.take().unwrap();
            input.write_all(stdin.as_bytes()).unwrap();
            drop(input);
            child.wait_with_output().unwrap()
        })
        .await
        .unwrap()
    }

    /// Runs `authn <args>`, expects success, parses its JSON output.
    async fn json(&self, args: &[&str], stdin: &str) -> Value {
        let out = self.run(args, stdin).await;
        assert!(
            out.status.success(),
            "authn {args:?} failed: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "authn {args:?} printed no JSON ({e}): {}",
                String::from_utf8_lossy(&out.stdout)
            )
        })
    }

    /// A test server on this namespace.
    async fn server(&self) -> TestServer {
        let store = authn_testkit::store()
            .await
            .namespace(&self.namespace)
            .unwrap();
        TestServer::start_on(store, &[]).await
    }
}

/// `GET /api/v1/admin/stats` with `key`: the status.
async fn admin_status(srv: &TestServer, key: &str) -> StatusCode {
    srv.bare_client()
        .get(srv.url("/api/v1/admin/stats"))
        .bearer_auth(key)
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_and_admin_keys() {
    let env = Env::new().await;
    let v = env.json(&["migrate"], "").await;
    assert_eq!(v["migrated"], true, "{v}");
    // idempotent
    env.json(&["migrate"], "").await;

    let created = env.json(&["admin-key", "create", "--name", "ci"], "").await;
    let key = created["key"].as_str().expect("key").to_owned();
    let id = created["id"].as_str().expect("id").to_owned();
    assert_eq!(created["name"], "ci");
    assert!(key.len() >= 32, "{key}");

    let srv = env.server().await;
    assert_eq!(admin_status(&srv, &key).await, StatusCode::OK);
    // a key of another namespace is refused
    let other = TestServer::start().await;
    assert_eq!(admin_status(&other, &key).await, StatusCode::UNAUTHORIZED);

    let out = env.run(&["admin-key", "list"], "").await;
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(!text.contains(&key), "the key value is listed: {text}");
    let list: Value = serde_json::from_str(&text).unwrap();
    let listed = list
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == id.as_str())
        .expect("the key is listed");
    assert_eq!(listed["name"], "ci");
    assert!(listed["revoked_at"].is_null());
    assert!(
        listed.get("key").is_none() && listed.get("key_hash").is_none(),
        "{listed}"
    );

    let v = env.json(&["admin-key", "revoke", &id], "").await;
    assert_eq!(v["revoked"], id.as_str(), "{v}");
    assert_eq!(admin_status(&srv, &key).await, StatusCode::UNAUTHORIZED);
    let list = env.json(&["admin-key", "list"], "").await;
    assert!(list[0]["revoked_at"].is_string(), "{list}");

    // revoking again, or an unknown or garbage id: non-zero with a message
    for bad in [id.as_str(), "not-an-id", &uuid::Uuid::now_v7().to_string()] {
        let out = env.run(&["admin-key", "revoke", bad], "").await;
        assert!(!out.status.success(), "revoke {bad} succeeded");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("no such"), "{err}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_commands() {
    let env = Env::new().await;
    let srv = env.server().await;
    let c = srv.bare_client();
    let e = email("cli-user");

    // create with the password on stdin (and a trailing newline)
    let created = env
        .json(
            &[
                "user",
                "create",
                "--email",
                &e,
                "--name",
                "Cli",
                "--password-stdin",
                "--verified",
            ],
            &format!("{PASSWORD}\n"),
        )
        .await;
    let id = created["id"].as_str().expect("id").to_owned();
    assert_eq!(created["email"], e.as_str());
    assert!(created["email_verified_at"].is_string(), "{created}");
    let out = serde_json::to_string(&created).unwrap();
    assert!(!out.contains(PASSWORD) && !out.contains("argon2"), "{out}");
    let (status, login) = srv.login(&c, &e, PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{login}");
    assert_eq!(login["id"], id.as_str());
    assert_eq!(login["email_verified"], true);
    assert_eq!(login["name"], "Cli");

    // a weak password and a duplicate are refused with a message
    let out = env
        .run(
            &[
                "user",
                "create",
                "--email",
                &email("weak"),
                "--password-stdin",
            ],
            "password\n",
        )
        .await;
    assert!(!out.status.success());
    assert!(!String::from_utf8_lossy(&out.stderr).trim().is_empty());
    let out = env
        .run(&["user", "create", "--email", &e.to_uppercase()], "")
        .await;
    assert!(!out.status.success());
    assert!(!String::from_utf8_lossy(&out.stderr).trim().is_empty());

    // list
    let list = env.json(&["user", "list"], "").await;
    let users = list["data"].as_array().unwrap();
    assert_eq!(users.len(), 1, "{list}");
    assert_eq!(users[0]["email"], e.as_str());
    assert_eq!(users[0]["id"], id.as_str());
    assert!(list["next_cursor"].is_null());

    // disable by email: sessions die, login refused
    let token = login["token"].as_str().unwrap().to_owned();
    let v = env.json(&["user", "disable", &e], "").await;
    assert!(v["disabled_at"].is_string(), "{v}");
    let got = srv.login(&c, &e, PASSWORD).await;
    assert_error(&got, StatusCode::UNAUTHORIZED, "invalid_credentials");
    let r = c
        .get(srv.url("/api/v1/auth/me"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

    // enable by id: login works again
    let v = env.json(&["user", "enable", &id], "").await;
    assert!(v["disabled_at"].is_null(), "{v}");
    let (status, login) = srv.login(&c, &e, PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{login}");

    // reset-mfa after enabling MFA over HTTP
    let token = login["token"].as_str().unwrap().to_owned();
    srv.enable_mfa(&c, &token).await;
    let (_, login) = srv.login(&c, &e, PASSWORD).await;
    assert_eq!(login["mfaRequired"], true, "{login}");
    let v = env.json(&["user", "reset-mfa", &e], "").await;
    assert_eq!(v, json!({ "user_id": id, "mfa_enabled": false }));
    let (status, login) = srv.login(&c, &e, PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{login}");
    assert!(login.get("mfaRequired").is_none(), "{login}");
    assert_eq!(login["mfa_enabled"], false);

    // unknown users: non-zero exit with a message
    for args in [
        vec!["user", "disable", "nobody@example.com"],
        vec!["user", "enable", "nobody@example.com"],
        vec!["user", "reset-mfa", "nobody@example.com"],
    ] {
        let out = env.run(&args, "").await;
        assert!(!out.status.success(), "{args:?} succeeded");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("no such user"), "{args:?}: {err}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
    let unknown_id = uuid::Uuid::now_v7().to_string();
    for action in ["disable", "enable", "reset-mfa"] {
        let out = env.run(&["user", action, &unknown_id], "").await;
        assert!(!out.status.success(), "{action} {unknown_id} succeeded");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("not found") || err.contains("no such"),
            "{action}: {err}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cleanup_and_stats() {
    let env = Env::new().await;
    let srv = env.server().await;
    let c = srv.bare_client();
    let e = email("stats");
    srv.signup(&c, &e).await;
    srv.signup(&c, &email("stats2")).await;

    let stats = env.json(&["stats"], "").await;
    assert_eq!(
        stats,
        json!({
            "user_count": 2,
            "verified_user_count": 0,
            "disabled_user_count": 0,
            "active_session_count": 2,
            "mfa_enabled_user_count": 0,
        })
    );
    let cleanup = env.json(&["cleanup"], "").await;
    for k in ["sessions_deleted", "tokens_deleted", "attempts_deleted"] {
        assert!(cleanup[k].is_u64(), "{k}: {cleanup}");
    }
    assert_eq!(cleanup.as_object().unwrap().len(), 3, "{cleanup}");
    // cleanup leaves live sessions alone
    let stats = env.json(&["stats"], "").await;
    assert_eq!(stats["active_session_count"], 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_fail_cleanly_without_a_database() {
    let env = Env::new().await;
    let out = env
        .command(&["stats"])
        .env(
            "AUTHN_DATABASE_URL",
            "postgres://authn_test_app@127.0.0.1:1/nothing",
        )
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("authn:"), "{err}");
    let out = env.command(&["user", "frobnicate"]).output().unwrap();
    assert!(!out.status.success());
}

/// Kills the server process if the test ends early.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// A running `authn serve` of an [`Env`], its log in the data directory.
struct Served {
    process: Running,
    base: String,
    log_path: std::path::PathBuf,
    client: reqwest::Client,
}

impl Served {
    /// Starts `authn serve` on a free port (with `data_dir` as the data
    /// directory) and waits until `/healthz` answers.
    async fn start(env: &Env, data_dir: &std::path::Path, log_name: &str) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let listen = format!("127.0.0.1:{port}");
        let log_path = env.data_dir.path().join(log_name);
        let log = std::fs::File::create(&log_path).unwrap();
        let mut cmd = env.command(&["serve", "--listen", &listen]);
        cmd.env("RUST_LOG", "info")
            .env("AUTHN_DATA_DIR", data_dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log));
        let mut served = Self {
            process: Running(cmd.spawn().unwrap()),
            base: format!("http://{listen}"),
            log_path,
            client: common::client_builder()
                .timeout(Duration::from_secs(5))
                .build()
                .unwrap(),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = served.process.0.try_wait().unwrap() {
                panic!("authn serve exited early: {status}\n{}", served.log());
            }
            if let Ok(r) = served.client.get(served.url("/healthz")).send().await
                && r.status() == StatusCode::OK
            {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "authn serve did not come up within 60 s\n{}",
                served.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        served
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// Sends SIGTERM and expects a clean exit within 10 s.
    async fn terminate(mut self) {
        let pid = self.process.0.id().to_string();
        let kill = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(kill.success());
        let deadline = Instant::now() + Duration::from_secs(10);
        let status = loop {
            if let Some(status) = self.process.0.try_wait().unwrap() {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "authn serve still runs 10 s after SIGTERM\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        assert!(
            status.success(),
            "exit status after SIGTERM: {status}\n{}",
            self.log()
        );
        assert!(self.log().contains("SIGTERM"), "{}", self.log());
        // the port is free again
        assert!(self.client.get(self.url("/healthz")).send().await.is_err());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_stops_cleanly_on_sigterm() {
    let env = Env::new().await;
    let served = Served::start(&env, env.data_dir.path(), "serve.log").await;
    let c = &served.client;
    let r = c.get(served.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    // it serves the configured namespace
    let r = c
        .post(served.url("/api/v1/auth/signup"))
        .json(&json!({ "email": email("served"), "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let stats = env.json(&["stats"], "").await;
    assert_eq!(stats["user_count"], 1);
    served.terminate().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zero_setup_serve_creates_its_database_and_keys_and_says_what_next() {
    // What a new user does: no database URL, a data directory that does
    // not exist yet.
    let env = Env::embedded();
    let data = env.data_dir.path().join("fresh").join("data");

    // A command other than serve/migrate does not make an empty database
    // wherever it runs: it says where it looked.
    let mut cmd = env.command(&["stats"]);
    cmd.env("AUTHN_DATA_DIR", &data);
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no database at") && err.contains("authn.db"),
        "{err}"
    );
    assert!(!data.join("authn.db").exists());

    let served = Served::start(&env, &data, "first.log").await;
    let c = served.client.clone();
    let r = c.get(served.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{}", served.log());
    assert!(
        data.join("authn.db").is_file(),
        "the SQLite file is created"
    );
    assert!(
        data.join("server-key.json").is_file(),
        "the key is generated"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(
            mode(&data),
            0o700,
            "the data directory is the owner's alone"
        );
        assert_eq!(mode(&data.join("authn.db")), 0o600);
    }
    let log = served.log();
    assert!(
        log.contains(&format!("listening on {}", served.base)),
        "{log}"
    );
    assert!(
        log.contains("authn.db"),
        "the log says where the data is: {log}"
    );
    assert!(log.contains("admin-key create"), "{log}");

    // the first admin key, made as the log says, while the server runs
    let data_arg = data.to_str().unwrap();
    let mut cmd = env.command(&["admin-key", "create", "--name", "first"]);
    cmd.env("AUTHN_DATA_DIR", data_arg);
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let created: Value = serde_json::from_slice(&out.stdout).unwrap();
    let key = created["key"].as_str().unwrap().to_owned();
    let r = c
        .get(served.url("/api/v1/admin/stats"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);

    let alice = email("zero");
    let r = c
        .post(served.url("/api/v1/auth/signup"))
        .json(&json!({ "email": alice, "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    served.terminate().await;

    // a restart keeps the users, the admin key and the server key
    let served = Served::start(&env, &data, "second.log").await;
    let r = served
        .client
        .post(served.url("/api/v1/auth/login"))
        .json(&json!({ "email": alice, "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{}", served.log());
    let r = served
        .client
        .get(served.url("/api/v1/admin/stats"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let stats: Value = r.json().await.unwrap();
    assert_eq!(stats["user_count"], 1, "{stats}");
    assert!(!served.log().contains("generated a new server key"));
    served.terminate().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_command_prints_the_served_document() {
    let env = Env::new().await;
    let printed = env.json(&["openapi"], "").await;
    let srv = TestServer::start().await;
    let served: Value = srv
        .bare_client()
        .get(srv.url("/api/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        printed["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1"))
    );
    assert_eq!(printed["paths"], served["paths"]);
    assert_eq!(printed["components"], served["components"]);
}
