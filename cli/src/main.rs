//! `pladmed-cli`: measure from your terminal. Exit codes: docs/cli.md.

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = pladmed_cli::args::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("pladmed-cli: cannot start: {e}");
            return ExitCode::from(5);
        }
    };
    match runtime.block_on(pladmed_cli::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(pladmed_cli::error::CliError::OutputClosed) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("pladmed-cli: {error}");
            ExitCode::from(error.exit_code() as u8)
        }
    }
}
