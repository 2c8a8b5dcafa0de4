//! The process's exit codes in one place (as fd's exit_codes.rs). A usage
//! error is 2, which clap exits with itself.

/// How the process ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// The command did what it was asked.
    Success = 0,
    /// A runtime failure: refused, timed out, a protocol error, a failed check.
    Failure = 1,
    /// A second Ctrl-C or SIGTERM while a server was finishing its connections.
    Interrupted = 130,
}

impl Exit {
    /// Ends the process now (the binary's alone to do).
    pub fn now(self) -> ! {
        std::process::exit(self as i32)
    }
}

impl From<Exit> for std::process::ExitCode {
    fn from(exit: Exit) -> Self {
        Self::from(exit as u8)
    }
}
