//! The `authn` binary: the server and its admin commands (see `authn --help`).

use std::process::ExitCode;

use authn_server::cli::{self, Command};
use authn_server::telemetry;

#[tokio::main]
async fn main() -> ExitCode {
    let command = match cli::parse().command() {
        Ok(c) => c,
        Err(e) => e.exit(),
    };
    let format = match &command {
        Command::Serve(c) | Command::Migrate(c) | Command::Cleanup(c) | Command::Stats(c) => {
            Some(c.log_format)
        }
        Command::AdminKey { config, .. } | Command::User { config, .. } => Some(config.log_format),
        Command::Openapi => None,
    };
    if let Some(format) = format {
        telemetry::init(format);
    }
    match cli::run(command).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "authn failed");
            eprintln!("authn: {e}");
            ExitCode::FAILURE
        }
    }
}
