//! Real `authn serve` processes (the release binary) for the HTTP
//! scenarios: a [`Deployment`] is a data directory, a database (a fresh
//! PostgreSQL database owned by an ordinary role, or the embedded SQLite
//! default) and settings; [`Deployment::start`] runs a [`Server`] of it on
//! a free loopback port. Servers run the default configuration (log level
//! included) but for per-IP rate limits, which a benchmark from one
//! address would hit at once.

use std::fs::File;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sqlx::{Connection, PgConnection};

use crate::Settings;

/// The bootstrap admin key of every bench server (32 characters).
pub const ADMIN_KEY: &str = "bench-admin-key-0123456789abcdef";

/// A password the server's policy accepts.
pub const PASSWORD: &str = "correct horse battery staple";

/// The PostgreSQL role the servers connect as: what the README recommends
/// (LOGIN, not a superuser, no BYPASSRLS), so row-level security costs
/// what it costs in production.
const PG_ROLE: &str = "authn_bench_app";

/// How long a server may take to answer `/readyz`.
const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// The store a deployment (or a store scenario) runs on.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Db {
    /// A fresh database on the bench PostgreSQL.
    Postgres,
    /// The zero-setup default: `authn.db` in the data directory.
    Sqlite,
}

impl Db {
    /// Both stores, PostgreSQL first.
    pub const ALL: [Db; 2] = [Db::Postgres, Db::Sqlite];

    /// The name in tables.
    pub fn label(self) -> &'static str {
        match self {
            Db::Postgres => "PostgreSQL",
            Db::Sqlite => "SQLite",
        }
    }
}

/// A data directory, a database and settings; servers of it share them.
pub struct Deployment {
    data_dir: tempfile::TempDir,
    /// `(superuser URL, database name)` of a PostgreSQL database to drop.
    pg: Option<(String, String)>,
    database_url: Option<String>,
    bin: PathBuf,
}

impl Deployment {
    /// A fresh deployment on `db`; on PostgreSQL the database
    /// `authn_bench_<name>` is (re)created, owned by the bench role.
    pub async fn new(settings: &Settings, db: Db, name: &str) -> Self {
        let bin = settings.authn_bin.clone();
        assert!(
            bin.is_file(),
            "{} is missing: build it with `cargo build --release -p authn-server`",
            bin.display()
        );
        let (pg, database_url) = match db {
            Db::Postgres => {
                let db_name = format!("authn_bench_{name}");
                let url = create_pg_database(&settings.pg_admin_url, &db_name).await;
                (Some((settings.pg_admin_url.clone(), db_name)), Some(url))
            }
            Db::Sqlite => (None, None),
        };
        Self {
            data_dir: tempfile::tempdir().expect("temp dir"),
            pg,
            database_url,
            bin,
        }
    }

    /// The data directory (scratch files may go there too).
    pub fn dir(&self) -> &Path {
        self.data_dir.path()
    }

    /// Starts `authn serve` and waits until `/readyz` answers 200.
    pub async fn start(&self) -> Server {
        let mut last = String::new();
        // A port found free may be taken before the server binds it: retry.
        for _ in 0..5 {
            let port = free_port();
            let mut server = self.spawn(port);
            match server.wait_ready().await {
                Ok(()) => return server,
                Err(log) if log.contains("in use") => last = log,
                Err(log) => panic!("authn serve did not become ready:\n{}", tail(&log, 40)),
            }
        }
        panic!("authn serve found no free port:\n{}", tail(&last, 40));
    }

    fn spawn(&self, port: u16) -> Server {
        let base = format!("http://127.0.0.1:{port}");
        let log_path = self.data_dir.path().join(format!("server-{port}.log"));
        let log = File::create(&log_path).expect("server log file");
        let mut cmd = Command::new(&self.bin);
        cmd.arg("serve");
        // Only the settings chosen here: none of the caller's AUTHN_*
        // variables, and no RUST_LOG, so the default log filter applies.
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("AUTHN_") {
                cmd.env_remove(key);
            }
        }
        cmd.env_remove("RUST_LOG");
        if let Some(url) = &self.database_url {
            cmd.env("AUTHN_DATABASE_URL", url);
        }
        cmd.env("AUTHN_LISTEN", format!("127.0.0.1:{port}"))
            .env("AUTHN_PUBLIC_URL", &base)
            .env("AUTHN_DATA_DIR", self.data_dir.path())
            .env("AUTHN_ADMIN_KEYS", ADMIN_KEY)
            .env("AUTHN_RATE_LIMIT", "100000000")
            .env("AUTHN_RATE_LIMIT_BURST", "100000000");
        let child = cmd
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("server log file"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", self.bin.display()));
        Server {
            child: Some(child),
            base,
            log_path,
        }
    }

    /// Drops the PostgreSQL database (stop the servers first).
    pub async fn finish(self) {
        if let Some((admin, name)) = &self.pg {
            let mut conn = PgConnection::connect(admin)
                .await
                .expect("connect to the bench PostgreSQL");
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
            )))
            .execute(&mut conn)
            .await
            .expect("drop the bench database");
        }
    }
}

/// Creates the bench role (once) and a fresh database owned by it;
/// returns the role's URL of that database.
async fn create_pg_database(admin_url: &str, name: &str) -> String {
    let mut conn = PgConnection::connect(admin_url)
        .await
        .unwrap_or_else(|e| panic!("cannot reach PostgreSQL at the admin URL: {e}"));
    let role: Option<(bool,)> = sqlx::query_as("SELECT true FROM pg_roles WHERE rolname = $1")
        .bind(PG_ROLE)
        .fetch_optional(&mut conn)
        .await
        .expect("look up the bench role");
    if role.is_none() {
        // Another bench process may create it meanwhile: that is fine.
        let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
            "CREATE ROLE {PG_ROLE} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE"
        )))
        .execute(&mut conn)
        .await;
    }
    for sql in [
        format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
        format!("CREATE DATABASE {name} OWNER {PG_ROLE}"),
    ] {
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&mut conn)
            .await
            .expect("create the bench database");
    }
    let mut url = reqwest::Url::parse(admin_url).expect("the PostgreSQL admin URL");
    url.set_username(PG_ROLE).expect("a URL with a host");
    url.set_password(None).expect("a URL with a host");
    url.set_path(&format!("/{name}"));
    url.to_string()
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

/// A running `authn serve`, killed when dropped.
pub struct Server {
    child: Option<Child>,
    base: String,
    log_path: PathBuf,
}

impl Server {
    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> &str {
        &self.base
    }

    /// Peak resident memory of the process so far (VmHWM), MiB.
    pub fn peak_rss_mib(&self) -> Option<f64> {
        crate::measure::peak_rss_mib(self.child.as_ref()?.id())
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// Kills the process; idempotent.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    async fn wait_ready(&mut self) -> Result<(), String> {
        let http = reqwest::Client::new();
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
                    "no 200 from /readyz in {READY_TIMEOUT:?}\n{}",
                    self.log()
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}
