//! The `authn` binary: the server and its admin commands (see `authn --help`).

use std::process::ExitCode;

use authn_server::cli::{self, Command};
use authn_server::telemetry;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = cli::parse();
    let format = match &cli.command {
        Command::Serve(c) | Command::Migrate(c) | Command::Cleanup(c) | Command::Stats(c) => {
            c.log_format
        }
        Command::AdminKey { config, .. } | Command::User { config, .. } => config.log_format,
    };
    telemetry::init(format);
    match cli::run(cli.command).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "authn failed");
            eprintln!("authn: {e}");
            ExitCode::FAILURE
        }
    }
}
