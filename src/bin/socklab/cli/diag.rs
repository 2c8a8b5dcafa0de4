//! The troubleshooting commands: stall, lookup, sockets, ping.

use std::time::Duration;

use clap::{Args, Subcommand, ValueEnum};

use super::parse::{HostArg, parse_duration};
use super::server::{ServerArgs, Target};

/// Roles of the stall pair.
#[derive(Debug, Subcommand)]
pub enum StallCmd {
    /// Accept connections and never read from them (app-server-test.py)
    #[command(after_help = "Example: socklab stall server 127.0.0.1 65434")]
    Server(ServerArgs),
    /// Write until the socket would block, then show where the bytes wait (app-client-test.py)
    #[command(after_help = "Example: socklab stall client 127.0.0.1 65434")]
    Client(StallClientArgs),
}

/// Options of `lookup`.
#[derive(Debug, Clone, Args)]
pub struct LookupArgs {
    /// Host name or address to resolve
    #[arg(required_unless_present_any = ["service", "port"], conflicts_with_all = ["service", "port"],
          value_parser = HostArg::Host)]
    pub host: Option<String>,
    /// Port number or service name to resolve with HOST
    #[arg(value_name = "PORT")]
    pub target_port: Option<String>,
    /// Look a service name up in the services database (ssh -> 22/tcp)
    #[arg(long, value_name = "NAME", conflicts_with = "port")]
    pub service: Option<String>,
    /// Look a port up in the services database (22 -> ssh)
    #[arg(long, value_name = "N")]
    pub port: Option<u16>,
    /// Only this transport protocol
    #[arg(long, value_enum)]
    pub proto: Option<Proto>,
}

/// A transport protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Proto {
    /// TCP (SOCK_STREAM)
    Tcp,
    /// UDP (SOCK_DGRAM)
    Udp,
}

/// Options of `sockets`.
#[derive(Debug, Clone, Args)]
pub struct SocketsArgs {
    /// Only sockets with this port at either end
    #[arg(long, value_name = "N")]
    pub port: Option<u16>,
    /// Only listening TCP sockets and unconnected UDP ones
    #[arg(short, long)]
    pub listening: bool,
    /// Only TCP sockets
    #[arg(short, long, conflicts_with = "udp")]
    pub tcp: bool,
    /// Only UDP sockets
    #[arg(short, long)]
    pub udp: bool,
    /// Print one JSON array of objects instead of the table
    #[arg(long)]
    pub json: bool,
}

/// Options of `stall client`.
#[derive(Debug, Clone, Args)]
pub struct StallClientArgs {
    #[command(flatten)]
    pub target: Target,
    /// After the report, keep the connection (and its full queues) open this long
    #[arg(long, value_parser = parse_duration, default_value = "0s", value_name = "DURATION")]
    pub hold: Duration,
}

/// Options of `ping`.
#[derive(Debug, Clone, Args)]
pub struct PingArgs {
    /// Host name or IPv4 address to ping
    #[arg(value_parser = HostArg::Host)]
    pub host: String,
    /// Stop after N echo requests [default: until Ctrl-C]
    #[arg(short = 'c', long, value_name = "N")]
    pub count: Option<u64>,
    /// Wait this long between echo requests (at least 10ms)
    #[arg(short = 'i', long, value_parser = parse_duration, default_value = "1s", value_name = "S")]
    pub interval: Duration,
    /// After the last request, wait this long for replies still on their way
    #[arg(short = 'W', long, value_parser = parse_duration, default_value = "2s", value_name = "S")]
    pub timeout: Duration,
}
