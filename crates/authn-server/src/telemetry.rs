//! Logging setup: `tracing` events to stderr, as text or JSON lines.

use std::io::IsTerminal as _;

use tracing_subscriber::EnvFilter;

/// The filter used when `RUST_LOG` is unset or invalid.
pub const DEFAULT_FILTER: &str = "info,authn_server=info,sqlx=warn";

/// How log lines are written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines (colored when stderr is a terminal).
    #[default]
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

/// Installs the global `tracing` subscriber writing to stderr.
///
/// The filter comes from `RUST_LOG`, else [`DEFAULT_FILTER`]. Calling it again
/// (or after another subscriber was installed, e.g. by a test harness) does
/// nothing, so it is safe to call from every entry point.
pub fn init(format: LogFormat) {
    let (filter, bad_rust_log) = filter_from_env();
    // stderr keeps stdout free for command output (e.g. a key shown once).
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let installed = match format {
        LogFormat::Text => builder
            .with_ansi(std::io::stderr().is_terminal())
            .try_init()
            .is_ok(),
        LogFormat::Json => builder.json().try_init().is_ok(),
    };
    // Reported only once logging works, so the warning is not lost.
    if installed && let Some(error) = bad_rust_log {
        tracing::warn!(%error, default = DEFAULT_FILTER, "RUST_LOG is invalid; using the default filter");
    }
}

/// The filter from `RUST_LOG`, or the default plus the parse error when
/// `RUST_LOG` is set but invalid (a typo must not silence all logs).
fn filter_from_env() -> (EnvFilter, Option<String>) {
    let default = || EnvFilter::new(DEFAULT_FILTER);
    match std::env::var("RUST_LOG") {
        Ok(value) if !value.trim().is_empty() => match EnvFilter::try_new(&value) {
            Ok(filter) => (filter, None),
            Err(err) => (default(), Some(err.to_string())),
        },
        _ => (default(), None),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::test_support::in_child;

    #[test]
    fn json_lines_on_stderr() {
        let Some(out) = in_child("telemetry::tests::json_lines_on_stderr", &[]) else {
            init(LogFormat::Json);
            init(LogFormat::Text); // idempotent: no panic, format unchanged
            tracing::info!(answer = 42, "hello");
            tracing::debug!("filtered out by the default filter");
            return;
        };
        let stderr = String::from_utf8_lossy(&out.stderr);
        let line = stderr
            .lines()
            .find(|l| l.contains("hello"))
            .expect("log line");
        let json: serde_json::Value = serde_json::from_str(line).expect("JSON log line");
        assert_eq!(json["level"], "INFO");
        assert_eq!(json["fields"]["answer"], 42);
        assert!(!stderr.contains("filtered out"));
        assert!(out.stdout.iter().all(|&b| b != b'{'), "logs go to stderr");
    }

    #[test]
    fn text_and_rust_log() {
        let Some(out) = in_child(
            "telemetry::tests::text_and_rust_log",
            &[("RUST_LOG", "debug")],
        ) else {
            init(LogFormat::Text);
            tracing::debug!("visible at debug");
            return;
        };
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("DEBUG"), "{stderr}");
        assert!(stderr.contains("visible at debug"));
        assert!(
            !stderr.contains('\u{1b}'),
            "no color codes when not a terminal"
        );
    }

    #[test]
    fn invalid_rust_log_falls_back_with_a_warning() {
        let Some(out) = in_child(
            "telemetry::tests::invalid_rust_log_falls_back_with_a_warning",
            &[("RUST_LOG", "info,=[bad")],
        ) else {
            init(LogFormat::Text);
            tracing::info!("still logging");
            return;
        };
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("RUST_LOG is invalid"), "{stderr}");
        assert!(stderr.contains("still logging"));
    }
}
