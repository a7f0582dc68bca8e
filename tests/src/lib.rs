//! Harness of the end-to-end tests: real `authn serve` processes (the
//! binary of `authn-server`) on the test PostgreSQL or on the embedded
//! SQLite default, each deployment in a namespace of its own, driven through the `authn-client` SDK.
//!
//! - [`on_both_stores!`]: one test written once, run on PostgreSQL and on
//!   the embedded SQLite default.
//! - [`Deployment`]: one namespace, one data directory (so one server key)
//!   and one configuration; [`Deployment::start_node`] starts a process of
//!   it, as many as a test wants (two nodes of one deployment share the
//!   database, the namespace and the key).
//! - [`Node`]: a running process; killed when dropped (its log is printed
//!   if the test is failing).
//! - [`authn_binary`]: where the `authn` executable is, built first when
//!   missing or older than the server's sources.
//! - [`Totp`]: codes of TOTP steps the server has not accepted yet (a step
//!   once accepted for a user is never accepted again).
//! - [`wait_for_mail`] and [`link_token`]: links from the development outbox.
// Test support fails loudly: a test without its server cannot run.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fs::File;
use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use authn_client::{AdminClient, AuthClient, ClientError, OutboxMail, Session};
use authn_core::totp::{TotpConfig, code_at, decode_secret};

/// The bootstrap admin key every test server is started with.
pub const ADMIN_KEY: &str = "e2e-admin-key-0123456789abcdef";

/// A password the server's policy accepts.
pub const PASSWORD: &str = "correct horse battery staple";

/// How long a server may take to answer `/readyz` after it was started.
const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// How long the nested `cargo build` of the binary may take.
const BUILD_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// Installs the process-wide rustls provider (ring). `reqwest` in this
/// workspace is built with `rustls-no-provider` (the SDK's feature; cargo
/// unifies features), so a plain `reqwest::Client` panics without one.
/// The SDK's own clients carry their provider and need nothing.
/// Idempotent.
pub fn crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A plain HTTP client, for what the SDK has no call for (`/readyz`, the
/// guarded service of `guard.rs`).
pub fn http() -> reqwest::Client {
    crypto();
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("reqwest client")
}

/// A unique email address for a test user.
pub fn email(tag: &str) -> String {
    format!("{tag}-{}@example.com", uuid::Uuid::now_v7().simple())
}

/// The workspace root (this package is its `tests/` folder).
fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// The `authn` executable the tests run.
///
/// 1. `AUTHN_E2E_BIN`, when set (e.g. a release build or an installed
///    binary).
/// 2. Otherwise `authn` in the cargo profile directory of this test
///    executable (`target/debug/authn` beside `target/debug/deps/<test>`):
///    cargo gives `CARGO_BIN_EXE_authn` only to `authn-server`'s own tests.
///    `cargo test --workspace` and `cargo nextest run --workspace` (what
///    `cargo xtask test` runs) build it, since `authn-server` has
///    integration tests. When it is missing, or older than a source file
///    of the server, its crates, the migrations or `Cargo.lock`, it is
///    built first with `cargo build -p authn-server --bin authn` (once per
///    test process; cargo's own lock serialises concurrent processes).
pub fn authn_binary() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(locate_binary)
}

fn locate_binary() -> PathBuf {
    if let Some(bin) = std::env::var_os("AUTHN_E2E_BIN").filter(|v| !v.is_empty()) {
        let bin = PathBuf::from(bin);
        assert!(
            bin.is_file(),
            "AUTHN_E2E_BIN={} is not a file",
            bin.display()
        );
        return bin;
    }
    let exe = std::env::current_exe().expect("current_exe");
    // target/<profile>/deps/<test> -> target/<profile>/authn
    let sibling = exe
        .parent()
        .and_then(Path::parent)
        .map(|dir| dir.join(format!("authn{}", std::env::consts::EXE_SUFFIX)));
    if let Some(bin) = &sibling
        && is_fresh(bin)
    {
        return bin.clone();
    }
    let built = cargo_build_authn();
    // `cargo build` uses the dev profile: beside a test executable of
    // another profile (`cargo test --release`), prefer the one it printed.
    built
        .or(sibling.filter(|b| b.is_file()))
        .expect("`cargo build -p authn-server --bin authn` named no executable")
}

/// Whether `bin` exists and is newer than every input of the server build
/// this workspace has (a cheap stand-in for cargo's fingerprints: a git
/// checkout or an edit makes a source newer, and then cargo decides).
fn is_fresh(bin: &Path) -> bool {
    let Ok(built) = std::fs::metadata(bin).and_then(|m| m.modified()) else {
        return false;
    };
    let root = workspace_root();
    let inputs = [
        "Cargo.lock",
        "Cargo.toml",
        "crates/authn-server",
        "crates/authn-core",
        "crates/authn-store-pg",
        "migrations",
    ];
    inputs
        .iter()
        .all(|p| newest_mtime(&root.join(p)).is_none_or(|m| m <= built))
}

fn newest_mtime(path: &Path) -> Option<SystemTime> {
    let meta = std::fs::symlink_metadata(path).ok()?;
    if !meta.is_dir() {
        return meta.modified().ok();
    }
    let mut newest = meta.modified().ok();
    for entry in std::fs::read_dir(path).ok()?.flatten() {
        if entry.file_name() == "target" {
            continue;
        }
        if let Some(m) = newest_mtime(&entry.path()) {
            newest = newest.max(Some(m));
        }
    }
    newest
}

/// `cargo build -p authn-server --bin authn`; the executable it reports.
fn cargo_build_authn() -> Option<PathBuf> {
    let cargo = std::env::var_os("CARGO")
        .or_else(|| option_env!("CARGO").map(Into::into))
        .unwrap_or_else(|| "cargo".into());
    let root = workspace_root();
    eprintln!(
        "authn-e2e: building the server: cargo build -p authn-server --bin authn (in {})",
        root.display()
    );
    let mut child = Command::new(&cargo)
        .args([
            "build",
            "-p",
            "authn-server",
            "--bin",
            "authn",
            "--message-format=json-render-diagnostics",
        ])
        .arg("--manifest-path")
        .arg(root.join("Cargo.toml"))
        .current_dir(&root)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", Path::new(&cargo).display()));
    let mut stdout = child.stdout.take().expect("piped stdout");
    let reader = std::thread::spawn(move || {
        let mut out = String::new();
        let _ = stdout.read_to_string(&mut out);
        out
    });
    let deadline = Instant::now() + BUILD_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for cargo") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("building the authn binary took more than {BUILD_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let out = reader.join().unwrap_or_default();
    assert!(
        status.success(),
        "`cargo build -p authn-server --bin authn` failed: {status}"
    );
    out.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == "authn")
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
}

/// The URL of the app role on the test database (the role and database of
/// `authn-testkit`, on the server of `AUTHN_TEST_DATABASE_URL`).
pub fn database_url() -> String {
    let mut url = url::Url::parse(&authn_testkit::admin_url()).expect("AUTHN_TEST_DATABASE_URL");
    url.set_username(authn_testkit::APP_ROLE)
        .expect("a URL with a host");
    url.set_password(None).expect("a URL with a host");
    url.set_path(&format!("/{}", authn_testkit::database_name()));
    url.to_string()
}

/// The store a deployment runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Store {
    /// The test PostgreSQL (`AUTHN_DATABASE_URL` set to the app role's URL).
    Postgres,
    /// The zero-setup default: no database URL at all, so the server
    /// creates and migrates `authn.db` in its data directory.
    EmbeddedSqlite,
}

/// One deployment of the server: a namespace, a data directory (the
/// server key is generated there by the first node and read by the
/// others, and so is the embedded database), a bootstrap admin key, and
/// extra `AUTHN_*` settings.
pub struct Deployment {
    namespace: String,
    data_dir: Arc<tempfile::TempDir>,
    database_url: Option<String>,
    env: Vec<(String, String)>,
}

impl Deployment {
    /// A fresh deployment on the migrated test PostgreSQL: dev mode (the
    /// mail outbox), [`ADMIN_KEY`], rate limits out of the way.
    pub async fn new() -> Self {
        Self::on(Store::Postgres).await
    }

    /// A fresh deployment on `store`, otherwise as [`Deployment::new`].
    pub async fn on(store: Store) -> Self {
        let database_url = match store {
            Store::Postgres => {
                authn_testkit::ensure_database().await;
                Some(database_url())
            }
            Store::EmbeddedSqlite => None,
        };
        Self {
            namespace: authn_testkit::unique_namespace(),
            data_dir: Arc::new(tempfile::tempdir().expect("temp dir")),
            database_url,
            env: Vec::new(),
        }
    }

    /// The data directory of every node of this deployment.
    pub fn data_dir(&self) -> &Path {
        self.data_dir.path()
    }

    /// Adds (or overrides) an `AUTHN_*` setting of every node started
    /// afterwards, e.g. `("AUTHN_STEP_UP_MAX_AGE_SECS", "1")`.
    #[must_use]
    pub fn with_env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_owned(), value.to_owned()));
        self
    }

    /// The namespace every node of this deployment serves.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// Starts one `authn serve` process and waits (bounded) until its
    /// `/readyz` answers 200.
    pub async fn start_node(&self) -> Node {
        let bin = authn_binary();
        let mut last_log = String::new();
        // A free port is found by binding :0 and letting it go; another
        // process may take it meanwhile, so a bind failure is retried.
        for _ in 0..5 {
            let port = free_port();
            let mut node = self.spawn(bin, port);
            match node.wait_ready().await {
                Ok(()) => return node,
                Err(log) if log.contains("in use") => last_log = log,
                Err(log) => panic!(
                    "authn serve on port {port} did not become ready:\n{}",
                    tail(&log, 60)
                ),
            }
        }
        panic!("authn serve found no free port:\n{}", tail(&last_log, 60));
    }

    fn spawn(&self, bin: &Path, port: u16) -> Node {
        let base = format!("http://127.0.0.1:{port}");
        let log_path = self.data_dir.path().join(format!("node-{port}.log"));
        let log = File::create(&log_path).expect("log file");
        let mut cmd = Command::new(bin);
        cmd.arg("serve");
        // The developer's or CI's own AUTHN_* settings (an SMTP URL, a
        // server key ...) must not leak into the test servers.
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("AUTHN_") {
                cmd.env_remove(key);
            }
        }
        if let Some(url) = &self.database_url {
            cmd.env("AUTHN_DATABASE_URL", url);
        }
        cmd.env("AUTHN_NAMESPACE", &self.namespace)
            .env("AUTHN_LISTEN", format!("127.0.0.1:{port}"))
            .env("AUTHN_PUBLIC_URL", &base)
            .env("AUTHN_DATA_DIR", self.data_dir.path())
            .env("AUTHN_DEV", "1")
            .env("AUTHN_ADMIN_KEYS", ADMIN_KEY)
            .env("AUTHN_RATE_LIMIT", "100000")
            .env("AUTHN_RATE_LIMIT_BURST", "100000");
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        let child = cmd
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        Node {
            child: Some(child),
            base,
            log_path,
            _data_dir: self.data_dir.clone(),
        }
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// A running `authn serve` process, killed when dropped.
pub struct Node {
    child: Option<Child>,
    base: String,
    log_path: PathBuf,
    _data_dir: Arc<tempfile::TempDir>,
}

impl Node {
    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> &str {
        &self.base
    }

    /// A user's client without a session.
    pub fn client(&self) -> AuthClient {
        AuthClient::new(&self.base).expect("client")
    }

    /// A user's client on an existing session (e.g. one made on another
    /// node).
    pub fn client_on(&self, session: Session) -> AuthClient {
        AuthClient::builder(&self.base)
            .session(session)
            .build()
            .expect("client")
    }

    /// An admin client with [`ADMIN_KEY`].
    pub fn admin(&self) -> AdminClient {
        AdminClient::new(&self.base, ADMIN_KEY).expect("admin client")
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// Kills the process (what an outage looks like); idempotent.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Waits for `/readyz` to answer 200; the log when the process exits
    /// or the time is up.
    async fn wait_ready(&mut self) -> Result<(), String> {
        let http = http();
        let url = format!("{}/readyz", self.base);
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            let exited = match self.child.as_mut() {
                Some(child) => child.try_wait().ok().flatten(),
                None => return Err("stopped".to_owned()),
            };
            if let Some(status) = exited {
                self.child = None;
                return Err(format!("exited with {status}\n{}", self.log()));
            }
            if let Ok(r) = http.get(&url).timeout(Duration::from_secs(2)).send().await
                && r.status() == reqwest::StatusCode::OK
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                self.stop();
                return Err(format!(
                    "no 200 from /readyz within {READY_TIMEOUT:?}\n{}",
                    self.log()
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.stop();
        if std::thread::panicking() {
            eprintln!(
                "---- log of authn serve at {} (last lines) ----\n{}\n----",
                self.base,
                tail(&self.log(), 40)
            );
        }
    }
}

/// Codes of TOTP steps not yet accepted for one user.
///
/// The server accepts the current step and one either side, and only a
/// step later than the last it accepted for the user. Each code handed out
/// here is of the earliest step that is both acceptable now and later than
/// every step handed out before; when that is two steps ahead, it waits
/// (under 30 s) for the clock to reach the next step.
pub struct Totp {
    secret: String,
    key: Vec<u8>,
    last: Option<u64>,
}

impl Totp {
    /// A tracker for the base32 `secret` of an enrollment.
    pub fn new(secret: &str) -> Self {
        Self {
            secret: secret.to_owned(),
            key: decode_secret(secret).expect("base32 secret"),
            last: None,
        }
    }

    fn now() -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("clock after 1970")
            .as_secs()
    }

    fn step_now() -> u64 {
        Self::now() / TotpConfig::default().period
    }

    /// The code of the current step, as the SDK's `compute_totp` gives it
    /// (what an authenticator app shows); counted as handed out.
    pub fn current_code(&mut self) -> String {
        let before = Self::step_now();
        let code = authn_client::compute_totp(&self.secret).expect("code");
        // A step boundary in between: the later step is the safe record.
        self.last = Some(Self::step_now().max(before));
        code
    }

    /// A code of a step never handed out before that the server accepts
    /// now (right after [`Totp::current_code`], the next step's: the
    /// `now + 30 s` code).
    pub async fn next_code(&mut self) -> String {
        let step = self.next_step().await;
        self.last = Some(step);
        self.code(step)
    }

    /// The code [`Totp::next_code`] would give, without counting it as
    /// handed out: for a submission that must not be checked at all.
    pub async fn peek_code(&self) -> String {
        self.code(self.next_step().await)
    }

    fn code(&self, step: u64) -> String {
        let cfg = TotpConfig::default();
        code_at(&self.key, step * cfg.period, &cfg).expect("code")
    }

    /// The earliest step later than every one handed out that the server
    /// accepts now; waits (less than a period) when it is two steps ahead.
    async fn next_step(&self) -> u64 {
        let period = TotpConfig::default().period;
        loop {
            let now = Self::step_now();
            let step = self.last.map_or(now, |l| (l + 1).max(now));
            if step <= now + 1 {
                return step;
            }
            let wait = ((step - 1) * period)
                .saturating_sub(Self::now())
                .min(period);
            tokio::time::sleep(Duration::from_secs(wait) + Duration::from_millis(100)).await;
        }
    }

    /// A six-digit code of no step the server would accept now.
    pub fn wrong_code(&self) -> String {
        let now = Self::step_now();
        // The window may slide while the code is in flight: avoid two
        // steps either side.
        let valid: Vec<String> = (now.saturating_sub(2)..=now + 2)
            .map(|s| self.code(s))
            .collect();
        (0..10)
            .map(|d| d.to_string().repeat(6))
            .find(|c| !valid.contains(c))
            .expect("five codes cannot cover ten candidates")
    }
}

/// Waits (at most 10 s) for the development outbox of the server behind
/// `admin` to hold more than `seen` mails to `to`; returns the newest.
pub async fn wait_for_mail(admin: &AdminClient, to: &str, seen: usize) -> OutboxMail {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mails: Vec<OutboxMail> = admin
            .dev_outbox()
            .await
            .expect("dev outbox")
            .into_iter()
            .filter(|m| m.to == to)
            .collect();
        if mails.len() > seen
            && let Some(last) = mails.into_iter().last()
        {
            return last;
        }
        assert!(Instant::now() < deadline, "no mail to {to} within 10 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// How many mails to `to` the outbox holds now.
pub async fn mail_count(admin: &AdminClient, to: &str) -> usize {
    admin
        .dev_outbox()
        .await
        .expect("dev outbox")
        .iter()
        .filter(|m| m.to == to)
        .count()
}

/// The `token=` query parameter of the first link in a mail's text.
pub fn link_token(text: &str) -> String {
    let start = text.find("token=").expect("a link with token=") + "token=".len();
    text[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect()
}

/// Turns TOTP on for the user signed in on `auth` (enroll, then verify
/// with the current code); the code tracker and the recovery codes.
pub async fn enable_mfa(auth: &AuthClient) -> (Totp, Vec<String>) {
    let mfa = auth.mfa();
    let enrollment = mfa.enroll().await.expect("enroll");
    let mut totp = Totp::new(&enrollment.secret);
    let codes = mfa.verify(&totp.current_code()).await.expect("verify");
    (totp, codes)
}

/// The error of a call that must fail with the API slug `slug`.
#[track_caller]
pub fn refused<T: std::fmt::Debug>(result: Result<T, ClientError>, slug: &str) -> ClientError {
    match result {
        Err(e) if e.is(slug) => e,
        Err(e) => panic!("expected `{slug}`, got the error {e:?}"),
        Ok(v) => panic!("expected `{slug}`, got success: {v:?}"),
    }
}

/// Writes each test once and runs it on both stores: every
/// `async fn name(store: Store) { ... }` becomes a module `name` with the
/// tests `postgres` and `sqlite` (so `cargo nextest run sqlite` picks one
/// store).
#[macro_export]
macro_rules! on_both_stores {
    ($( $(#[$meta:meta])* async fn $name:ident($store:ident: Store) $body:block )*) => {
        $(
            $(#[$meta])*
            mod $name {
                #[allow(unused_imports)]
                use super::*;

                async fn run($store: $crate::Store) $body

                #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    run($crate::Store::Postgres).await;
                }

                #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    run($crate::Store::EmbeddedSqlite).await;
                }
            }
        )*
    };
}
