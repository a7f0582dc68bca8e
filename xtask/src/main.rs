//! Project automation for authn, run as `cargo xtask <command>`.
//!
//! - `cargo xtask docs [--check]`: generate (or verify) the reference docs
//!   under `docs/reference/` from doc comments and the server's OpenAPI
//!   document.
//! - `cargo xtask test [-- <runner args>]`: run every test of the workspace
//!   against a real PostgreSQL.
//! - `cargo xtask bench [--quick] [--backend postgres|sqlite]
//!   [store|http|login|totp]`: the benchmark suite in release; a full run
//!   writes `docs/benchmarks.md`.

mod bench;
mod docs;
mod test;

use std::error::Error;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

const USAGE: &str = "\
usage: cargo xtask <command>

commands:
  docs            generate docs/reference/*.md from doc comments and the
                  server's OpenAPI document (`authn openapi`)
  docs --check    fail when a generated doc is stale
  test [-- ARGS]  run all tests (ARGS go to nextest / cargo test) and doctests
                  against PostgreSQL: $AUTHN_TEST_DATABASE_URL, or one found or
                  started by scripts/ensure-postgres
  bench [--quick] [--backend postgres|sqlite] [SCENARIO]
                  the benchmarks (release build, PostgreSQL, wrk); a full run
                  (no arguments) writes docs/benchmarks.md. SCENARIO: store,
                  http, login or totp; --quick: small sizes, short runs;
                  --backend: one store only";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &[String]) -> Result<ExitCode, Box<dyn Error>> {
    let root = workspace_root()?;
    let (command, rest) = match args.split_first() {
        Some((command, rest)) => (command.as_str(), rest),
        None => {
            eprintln!("{USAGE}");
            return Ok(ExitCode::FAILURE);
        }
    };
    match (command, rest) {
        ("docs", []) => docs::run(&root, false).map(|()| ExitCode::SUCCESS),
        ("docs", [flag]) if flag == "--check" => docs::run(&root, true).map(|()| ExitCode::SUCCESS),
        ("test", rest) => {
            // `cargo xtask test -- ARGS`; the `--` is optional.
            let extra = rest.strip_prefix(&["--".to_owned()]).unwrap_or(rest);
            test::run(&root, extra)
        }
        ("bench", rest) => {
            let extra = rest.strip_prefix(&["--".to_owned()]).unwrap_or(rest);
            bench::run(&root, extra)
        }
        ("help" | "-h" | "--help", _) => {
            println!("{USAGE}");
            Ok(ExitCode::SUCCESS)
        }
        _ => Err(format!("unknown arguments: {}\n\n{USAGE}", args.join(" ")).into()),
    }
}

/// The workspace root: the parent of xtask's own manifest directory.
fn workspace_root() -> Result<PathBuf, Box<dyn Error>> {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .ok_or_else(|| "xtask's manifest directory has no parent".into())
}
