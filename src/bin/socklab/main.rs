//! The `socklab` binary: parse, run, map the result to an exit code. It owns
//! the command line (`cli`), what is shown (`cmd`, `tour`), the log
//! subscriber (`logging`), signals and exit codes; the library does the rest.

mod cli;
mod cmd;
mod exit;
mod logging;
mod run;
mod signal;
mod tour;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::Cli;
use crate::exit::Exit;

fn main() -> ExitCode {
    // Like other Unix tools, end quietly when stdout's reader goes away
    // (`socklab tour | head`). Sockets are unaffected: every socket write in
    // Rust's std, mio and socket2 passes MSG_NOSIGNAL.
    // SAFETY: restoring a default disposition before any thread starts.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    let cli = Cli::parse();
    logging::init(cli.verbose, cli.quiet, cli.trace);
    if let Err(err) = socklab::net::raise_fd_limit() {
        tracing::debug!("cannot raise the open-files limit: {err}");
    }
    let runtime = match build_runtime(cli.threads) {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the runtime: {err}");
            return Exit::Failure.into();
        }
    };
    let result = runtime.block_on(run::run(cli.command));
    runtime.shutdown_timeout(std::time::Duration::from_millis(100));
    match result {
        Ok(()) => Exit::Success.into(),
        Err(err) => {
            eprintln!("error: {err:#}");
            Exit::Failure.into()
        }
    }
}

/// The runtime `--threads` asks for. One thread is a current-thread
/// runtime: no second worker to wake, no work to steal.
fn build_runtime(threads: Option<u16>) -> std::io::Result<tokio::runtime::Runtime> {
    let mut builder = match threads {
        Some(1) => tokio::runtime::Builder::new_current_thread(),
        Some(n) => {
            let mut builder = tokio::runtime::Builder::new_multi_thread();
            builder.worker_threads(usize::from(n));
            builder
        }
        None => tokio::runtime::Builder::new_multi_thread(),
    };
    builder.enable_all().build()
}
