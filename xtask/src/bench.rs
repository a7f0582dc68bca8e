//! `cargo xtask bench`: the benchmark suite (`crates/authn-bench`) in a
//! release build, on a real PostgreSQL and with `wrk` for the HTTP load,
//! writing `docs/benchmarks.md` when every scenario ran at full size.

use std::env;
use std::error::Error;
use std::ffi::OsString;
use std::path::Path;
use std::process::{Command, ExitCode, Stdio};

use crate::test::{DATABASE_URL_VAR, database_url, redact_password};

/// Where a full run writes its report.
const REPORT: &str = "docs/benchmarks.md";

/// Prepares PostgreSQL and `wrk`, builds in release, and runs
/// `authn-bench` with `args` (`--quick`, a scenario name). Only a full run
/// (no arguments) rewrites [`REPORT`]: a quick or partial run is not the
/// figures to publish.
pub fn run(root: &Path, args: &[String]) -> Result<ExitCode, Box<dyn Error>> {
    let url = database_url(root)?;
    eprintln!("xtask: {DATABASE_URL_VAR}={}", redact_password(&url));
    ensure_wrk()?;

    let cargo = env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
    eprintln!("xtask: building authn and authn-bench (release)");
    let built = Command::new(&cargo)
        .args([
            "build",
            "--release",
            "--locked",
            "-p",
            "authn-server",
            "-p",
            "authn-bench",
        ])
        .current_dir(root)
        .status()?;
    if !built.success() {
        return Err("the release build failed".into());
    }

    let mut cmd = Command::new(root.join("target/release/authn-bench"));
    cmd.current_dir(root)
        .env(DATABASE_URL_VAR, &url)
        .arg("--authn-bin")
        .arg(root.join("target/release/authn"))
        .args(args);
    if args.is_empty() {
        cmd.arg("--out").arg(root.join(REPORT));
    }
    let status = cmd.status()?;
    Ok(if status.success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// `wrk` on the PATH, installed from Debian's packages when missing and
/// we may (root with apt-get).
fn ensure_wrk() -> Result<(), Box<dyn Error>> {
    let found = |program: &str| {
        Command::new(program)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok()
    };
    if found("wrk") {
        return Ok(());
    }
    eprintln!("xtask: wrk is missing; installing it (apt-get install wrk)");
    let installed = Command::new("apt-get")
        .args(["install", "-y", "-qq", "wrk"])
        .env("DEBIAN_FRONTEND", "noninteractive")
        .status()
        .is_ok_and(|s| s.success());
    if installed && found("wrk") {
        Ok(())
    } else {
        Err(
            "wrk is needed for the HTTP benchmarks: install it (Debian: apt-get install wrk)"
                .into(),
        )
    }
}
