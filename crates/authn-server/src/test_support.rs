//! Helpers shared by the unit tests.

use std::process::{Command, Output};

/// Set in the environment of a child test process (see [`in_child`]).
const CHILD_MARKER: &str = "AUTHN_SERVER_TEST_CHILD";

/// Runs the calling test again in a child process with a clean environment
/// (only `PATH` kept) plus `envs`.
///
/// Returns `None` inside the child, which then runs the test body; returns
/// the child's output in the parent after checking that the child passed.
/// Tests need this for process-wide state: clap reads the real environment,
/// setting variables in-process is `unsafe` (forbidden here) and would race
/// with other tests, and signal handlers and the global tracing subscriber
/// cannot be undone.
///
/// `test` is the test's path without the crate name, e.g.
/// `config::tests::defaults`.
#[allow(clippy::expect_used, clippy::panic)]
pub(crate) fn in_child(test: &str, envs: &[(&str, &str)]) -> Option<Output> {
    if std::env::var_os(CHILD_MARKER).is_some() {
        return None;
    }
    let exe = std::env::current_exe().expect("test binary path");
    let output = Command::new(exe)
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env_clear()
        .envs(std::env::var_os("PATH").map(|p| ("PATH", p)))
        .env(CHILD_MARKER, "1")
        .envs(envs.iter().copied())
        .output()
        .expect("start child test process");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "child test {test} failed:\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
    );
    // A typo in `test` would run zero tests and pass silently.
    assert!(
        stdout.contains("1 passed"),
        "child ran no test named {test}:\n{stdout}"
    );
    Some(output)
}
