//! `authn-bench`: the benchmark suite, run by `cargo xtask bench` (release
//! build, PostgreSQL found or started, `wrk` installed). Every scenario
//! measures authn and its limit side by side in one run, so ratios hold on
//! a noisy machine; the report (a Markdown table per scenario, with the
//! machine it ran on) goes to stdout or `--out`.
//!
//! Scenarios (one module each):
//! - [`store`]: session validation through the store API against the raw
//!   lookup, at 1/4/16 tasks with 10^4 and 10^6 sessions; growth; and
//!   validation while `cleanup_expired` deletes 10^6 expired sessions.
//! - [`http`]: `GET /api/v1/auth/me` and introspection over loopback with
//!   `wrk` at 1/16/64 connections.
//! - [`login`]: login latency against the bare argon2id hash, and the
//!   server at 4x its hashing capacity.
//! - [`totp`]: TOTP verification and `compute_totp` against `totp-rs`.
// A benchmark binary reports and exits on the first broken assumption.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod http;
mod login;
mod measure;
mod report;
mod server;
mod store;
mod totp;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::report::{Report, Section};
use crate::server::Db;

/// Command line of the benchmark binary.
#[derive(Parser)]
#[command(name = "authn-bench", about = "authn benchmarks")]
struct Cli {
    /// Write the Markdown report here (default: stdout only).
    #[arg(long, global = true)]
    out: Option<PathBuf>,
    /// The PostgreSQL superuser URL to create the bench database on.
    #[arg(
        long,
        global = true,
        env = "AUTHN_TEST_DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/postgres"
    )]
    pg_admin_url: String,
    /// The `authn` server binary (release build) for the HTTP scenarios.
    #[arg(long, global = true, default_value = "target/release/authn")]
    authn_bin: PathBuf,
    /// Shorter runs and 10^5 instead of 10^6 sessions: a smoke test of the
    /// suite itself, not figures to publish.
    #[arg(long, global = true)]
    quick: bool,
    /// Run the store, login and HTTP scenarios on this backend only (both
    /// by default): to look into one backend's figures. A report of one
    /// backend is not one to publish.
    #[arg(long, global = true, value_enum)]
    backend: Option<Db>,
    #[command(subcommand)]
    scenario: Option<Scenario>,
}

/// Which scenarios to run (all when none is named).
#[derive(Subcommand, Clone, Copy, PartialEq, Eq)]
enum Scenario {
    /// Session validation, growth, cleanup (PostgreSQL and SQLite).
    Store,
    /// `/me` and introspection under wrk.
    Http,
    /// Login latency and overload.
    Login,
    /// TOTP against totp-rs.
    Totp,
}

/// Settings every scenario reads.
#[derive(Clone, Debug)]
pub struct Settings {
    /// PostgreSQL superuser URL.
    pub pg_admin_url: String,
    /// The `authn` binary.
    pub authn_bin: PathBuf,
    /// Smoke-test sizes and durations.
    pub quick: bool,
    /// The one backend to run on, when not both.
    pub backend: Option<Db>,
}

impl Settings {
    /// The backends the scenarios run on, PostgreSQL first.
    pub fn backends(&self) -> Vec<Db> {
        Db::ALL
            .into_iter()
            .filter(|db| self.backend.is_none_or(|b| b == *db))
            .collect()
    }
}

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let settings = Settings {
        pg_admin_url: cli.pg_admin_url.clone(),
        authn_bin: cli.authn_bin.clone(),
        quick: cli.quick,
        backend: cli.backend,
    };
    let all = cli.scenario.is_none();
    let wants = |s: Scenario| all || cli.scenario == Some(s);
    let mut sections: Vec<Section> = Vec::new();
    if wants(Scenario::Totp) {
        sections.extend(totp::run(&settings).await);
    }
    if wants(Scenario::Store) {
        sections.extend(store::run(&settings).await);
    }
    if wants(Scenario::Login) {
        settle(&settings).await;
        sections.extend(login::run(&settings).await);
    }
    if wants(Scenario::Http) {
        settle(&settings).await;
        sections.extend(http::run(&settings).await);
    }
    let report = Report::new(sections, &settings).await;
    let text = report.markdown();
    println!("{text}");
    if let Some(out) = &cli.out {
        std::fs::write(out, &text).expect("write the report");
        eprintln!("authn-bench: wrote {}", out.display());
    }
    if !report.all_pass() {
        eprintln!("authn-bench: some targets were missed (see the report)");
    }
}

/// Writes out what earlier scenarios left for the disk (PostgreSQL's dirty
/// buffers, the page cache) before the next one starts. The store scenario
/// writes and deletes millions of rows; flushed in the background while
/// logins are measured, they would stall the fsyncs of the logins' own
/// commits (behind a journal full of another scenario's pages) and show
/// that scenario's cost in this one's tail.
async fn settle(settings: &Settings) {
    use sqlx::Connection;
    if settings.backends().contains(&Db::Postgres) {
        let mut conn = sqlx::PgConnection::connect(&settings.pg_admin_url)
            .await
            .expect("connect to the bench PostgreSQL");
        sqlx::query("CHECKPOINT")
            .execute(&mut conn)
            .await
            .expect("CHECKPOINT");
        let _ = conn.close().await;
    }
    let synced = std::process::Command::new("sync").status();
    assert!(
        synced.as_ref().is_ok_and(|s| s.success()),
        "sync: {synced:?}"
    );
}
