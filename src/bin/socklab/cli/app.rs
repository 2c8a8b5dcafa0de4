//! `socklab app`: the framed JSON-header server and client.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Subcommand};

use super::parse::{HostArg, parse_duration};
use super::server::ServerArgs;
use super::tls::TlsClientArgs;

/// Roles of the app protocol.
#[derive(Debug, Subcommand)]
pub enum AppCmd {
    /// Answer search and binary requests, one per connection unless keep-alive
    #[command(after_help = "Example: socklab app server 127.0.0.1 65433 --data table.json")]
    Server(AppServerArgs),
    /// Send one request (search QUERY, or any ACTION VALUE as binary) and print the answer
    #[command(after_help = "Example: socklab app client 127.0.0.1 65433 search morpheus")]
    Client(AppClientArgs),
}

/// Options of `app server`.
#[derive(Debug, Clone, Args)]
pub struct AppServerArgs {
    #[command(flatten)]
    pub server: ServerArgs,
    /// Load the search table from a JSON object file (query -> answer) [default: the original's]
    #[arg(long, value_name = "FILE")]
    pub data: Option<PathBuf>,
    /// Largest request content; a larger one gets an error answer and is closed
    #[arg(long, value_name = "BYTES", default_value_t = socklab::app::DEFAULT_MAX_CONTENT)]
    pub max_content: usize,
}

/// Options of `app client`.
#[derive(Debug, Clone, Args)]
pub struct AppClientArgs {
    /// Server host name or address
    #[arg(value_parser = HostArg::Host)]
    pub host: String,
    /// Server port
    pub port: u16,
    /// `search` sends a JSON search; any other action a binary ACTION+VALUE request
    pub action: String,
    /// The query, or the rest of the binary content
    #[arg(allow_hyphen_values = true)]
    pub value: String,
    /// Print the answer's header and content as one JSON object
    #[arg(long)]
    pub json: bool,
    /// Give up connecting after this long
    #[arg(long, value_parser = parse_duration, default_value = "10s", value_name = "DURATION")]
    pub connect_timeout: Duration,
    /// Give up waiting for the answer after this long
    #[arg(long, value_parser = parse_duration, default_value = "30s", value_name = "DURATION")]
    pub timeout: Duration,
    #[command(flatten)]
    pub tls: TlsClientArgs,
}
