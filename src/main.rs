//! The `socklab` binary: parse, run, map the result to an exit code.

use std::process::ExitCode;

use clap::Parser;
use socklab::cli::Cli;

fn main() -> ExitCode {
    let cli = Cli::parse();
    socklab::logging::init(cli.verbose, cli.quiet, cli.trace);
    if let Err(err) = socklab::net::raise_fd_limit() {
        tracing::debug!("cannot raise the open-files limit: {err}");
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(socklab::run::run(cli.command));
    runtime.shutdown_timeout(std::time::Duration::from_millis(100));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
