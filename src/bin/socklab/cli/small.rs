//! The small protocols' roles and client options: echo, fixed, upper, hello.

use std::time::Duration;

use clap::{Args, Subcommand};

use super::parse::parse_duration;
use super::server::{ServerArgs, Target};

/// Roles of the echo protocol.
#[derive(Debug, Subcommand)]
pub enum EchoCmd {
    /// Echo every byte back until the peer closes
    #[command(after_help = "Example: socklab echo server 127.0.0.1 65432")]
    Server(ServerArgs),
    /// Send a message (or N connections' messages) and check the echo
    #[command(after_help = "Example: socklab echo client 127.0.0.1 65432 --conns 2")]
    Client(EchoClientArgs),
}

/// Roles of the 16-octet protocol.
#[derive(Debug, Subcommand)]
pub enum FixedCmd {
    /// Read exactly 16 bytes, answer `Farewell, client`, close
    #[command(after_help = "Example: socklab fixed server '' 1060")]
    Server(ServerArgs),
    /// Send `Hi there, server` and read exactly 16 bytes back
    #[command(after_help = "Example: socklab fixed client 127.0.0.1 1060")]
    Client(Target),
}

/// Roles of the uppercasing protocol.
#[derive(Debug, Subcommand)]
pub enum UpperCmd {
    /// Send back everything received with ASCII letters uppercased
    #[command(after_help = "Example: socklab upper server 127.0.0.1 1061")]
    Server(ServerArgs),
    /// Stream BYTES of `capitalize this!` and verify what comes back
    #[command(after_help = "Example: socklab upper client 127.0.0.1 1061 1073741824")]
    Client(UpperClientArgs),
}

/// Roles of the hello protocol.
#[derive(Debug, Subcommand)]
pub enum HelloCmd {
    /// Greet with `Welcome!`, answer each name with `Hello, NAME!`, stop at `exit`
    #[command(after_help = "Example: socklab hello server 127.0.0.1 9999")]
    Server(ServerArgs),
    /// Send each name, print each answer, then `exit`
    #[command(after_help = "Example: socklab hello client 127.0.0.1 9999 Michael Tracy Sarah")]
    Client(HelloClientArgs),
}

/// Options of `echo client`.
#[derive(Debug, Clone, Args)]
pub struct EchoClientArgs {
    #[command(flatten)]
    pub target: Target,
    /// Text to send [default: `Hello, world`; with --conns the texts' two messages]
    #[arg(long, value_name = "TEXT")]
    pub message: Option<String>,
    /// Open N connections at once, as multiconn-client.py does
    #[arg(long, value_name = "N")]
    pub conns: Option<usize>,
}

/// Options of `upper client`.
#[derive(Debug, Clone, Args)]
pub struct UpperClientArgs {
    #[command(flatten)]
    pub target: Target,
    /// Bytes to send, rounded up to a multiple of 16
    #[arg(default_value_t = 16)]
    pub bytes: u64,
    /// Send everything before reading anything, as the texts' naive client does
    #[arg(long)]
    pub lockstep: bool,
    /// Report a stall (a deadlock with --lockstep) when nothing moves for this long
    #[arg(long, value_parser = parse_duration, default_value = "5s", value_name = "DURATION")]
    pub stall_timeout: Duration,
}

/// Options of `hello client`.
#[derive(Debug, Clone, Args)]
pub struct HelloClientArgs {
    #[command(flatten)]
    pub target: Target,
    /// Names to greet
    #[arg(default_values_t = ["Michael".to_string(), "Tracy".to_string(), "Sarah".to_string()])]
    pub names: Vec<String>,
}
