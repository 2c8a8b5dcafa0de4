//! The `socklab` binary: parse, run, map the result to an exit code.

use std::process::ExitCode;

use clap::Parser;
use socklab::cli::Cli;

fn main() -> ExitCode {
    // Like other Unix tools, end quietly when stdout's reader goes away
    // (`socklab tour | head`). Sockets are unaffected: every socket write in
    // Rust's std, mio and socket2 passes MSG_NOSIGNAL.
    // SAFETY: restoring a default disposition before any thread starts.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
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
