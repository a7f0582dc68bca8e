//! `cargo xtask test`: every test of the workspace against a real PostgreSQL.

use std::env;
use std::error::Error;
use std::ffi::OsString;
use std::path::Path;
use std::process::{Command, ExitCode, Stdio};

/// Environment variable holding the PostgreSQL superuser URL the tests use.
pub const DATABASE_URL_VAR: &str = "AUTHN_TEST_DATABASE_URL";

/// Environment variable naming the Python (with the test peers installed)
/// that the Rust tests use for their helper processes.
pub const PYTHON_VAR: &str = "AUTHN_TEST_PYTHON";

/// Finds (or starts) a PostgreSQL and prepares the Python test peers, then
/// runs the test runner (with `extra` arguments), the doctests, and the
/// published Python SDK's compatibility suite. Every step runs even when an
/// earlier one failed, so one invocation reports all failures.
pub fn run(root: &Path, extra: &[String]) -> Result<ExitCode, Box<dyn Error>> {
    let url = database_url(root)?;
    eprintln!("xtask: {DATABASE_URL_VAR}={}", redact_password(&url));
    let python = python(root)?;
    eprintln!("xtask: {PYTHON_VAR}={python}");

    // `cargo run` sets CARGO to the cargo that built xtask: use the same
    // toolchain for the tests.
    let cargo = env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
    let has_nextest = Command::new(&cargo)
        .args(["nextest", "--version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());

    let mut runner = vec![cargo.to_string_lossy().into_owned()];
    if has_nextest {
        runner.extend(["nextest", "run", "--workspace", "--no-fail-fast"].map(str::to_owned));
    } else {
        runner.extend(["test", "--workspace", "--no-fail-fast"].map(str::to_owned));
    }
    runner.extend(extra.iter().cloned());
    let cargo = cargo.to_string_lossy().into_owned();
    // nextest does not run doctests; `cargo test` would have, but a separate
    // step keeps both runners alike. The Python suite runs the server binary
    // the first step built.
    let steps: [Vec<String>; 3] = [
        runner,
        [cargo.as_str(), "test", "--workspace", "--doc"]
            .map(str::to_owned)
            .to_vec(),
        ["bash", "tests/python/run.sh"].map(str::to_owned).to_vec(),
    ];

    let mut failed = Vec::new();
    for args in &steps {
        let shown = args.join(" ");
        let Some((program, rest)) = args.split_first() else {
            continue;
        };
        eprintln!("xtask: running `{shown}`");
        let status = Command::new(program)
            .args(rest)
            .current_dir(root)
            .env(DATABASE_URL_VAR, &url)
            .env(PYTHON_VAR, &python)
            .status()
            .map_err(|e| format!("cannot run `{shown}`: {e}"))?;
        if !status.success() {
            failed.push(shown);
        }
    }
    if failed.is_empty() {
        eprintln!("xtask: all tests passed");
        Ok(ExitCode::SUCCESS)
    } else {
        for step in &failed {
            eprintln!("xtask: failed: `{step}`");
        }
        Ok(ExitCode::FAILURE)
    }
}

/// `AUTHN_TEST_PYTHON` when set, else the venv Python that
/// `scripts/python-venv` prepares (pytest, the published SDK, aiosmtpd).
fn python(root: &Path) -> Result<String, Box<dyn Error>> {
    if let Some(p) = env::var(PYTHON_VAR).ok().filter(|p| !p.trim().is_empty()) {
        return Ok(p);
    }
    let output = Command::new("bash")
        .arg(root.join("scripts/python-venv"))
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run scripts/python-venv: {e}"))?;
    if !output.status.success() {
        return Err(format!("scripts/python-venv failed ({})", output.status).into());
    }
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| "scripts/python-venv printed no path".into())
}

/// `AUTHN_TEST_DATABASE_URL` when set, else what `scripts/ensure-postgres`
/// prints (it reuses or starts a local server).
pub fn database_url(root: &Path) -> Result<String, Box<dyn Error>> {
    if let Some(url) = env::var(DATABASE_URL_VAR)
        .ok()
        .filter(|u| !u.trim().is_empty())
    {
        return Ok(url);
    }
    let script = root.join("scripts/ensure-postgres");
    // Through bash rather than exec, so a checkout that lost the exec bit
    // still works.
    let output = Command::new("bash")
        .arg(&script)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
    if !output.status.success() {
        return Err(format!(
            "scripts/ensure-postgres failed ({}); set {DATABASE_URL_VAR} to use an existing server",
            output.status
        )
        .into());
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    match stdout.lines().map(str::trim).rfind(|l| !l.is_empty()) {
        Some(url) => Ok(url.to_owned()),
        None => Err("scripts/ensure-postgres printed no URL".into()),
    }
}

/// `postgres://user:secret@host/db` -> `postgres://user:***@host/db`, for logs.
pub fn redact_password(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return url.to_owned();
    };
    let Some(at) = url[scheme_end..].rfind('@').map(|i| scheme_end + i) else {
        return url.to_owned();
    };
    match url[scheme_end..at].find(':') {
        Some(colon) => format!("{}:***{}", &url[..scheme_end + colon], &url[at..]),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact_password("postgres://u:p%40ss@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(
            redact_password("postgres://postgres@127.0.0.1:5432/postgres"),
            "postgres://postgres@127.0.0.1:5432/postgres"
        );
        assert_eq!(redact_password("host=/tmp user=x"), "host=/tmp user=x");
    }
}
