//! `socklab http`: the minimal server and the raw-socket GET client.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Subcommand};

use super::parse::parse_duration;
use super::server::ServerArgs;
use super::tls::TrustArgs;

/// Roles of the HTTP protocol.
#[derive(Debug, Subcommand)]
pub enum HttpCmd {
    /// Answer every request with `Hello World` (HTTP/1.1: keep-alive, pipelining, HEAD)
    #[command(after_help = "Example: socklab http server 127.0.0.1 8001 --body 'Hi there'")]
    Server(HttpServerArgs),
    /// Fetch a URL with a hand-written request: head to stderr, body to stdout or FILE
    #[command(after_help = "Example: socklab http get http://127.0.0.1:8001/ -o page.txt")]
    Get(HttpGetArgs),
}

/// Options of `http server`.
#[derive(Debug, Clone, Args)]
pub struct HttpServerArgs {
    #[command(flatten)]
    pub server: ServerArgs,
    /// Body of every answer
    #[arg(long, default_value = socklab::http::server::DEFAULT_BODY, value_name = "TEXT")]
    pub body: String,
    /// Longest request head (request line and fields); longer gets 431
    #[arg(long, default_value_t = 8192, value_name = "BYTES")]
    pub max_header_bytes: usize,
    /// Most header fields in a request (1 to 256); more gets 431
    #[arg(long, default_value_t = 100, value_name = "N",
          value_parser = clap::value_parser!(u16).range(1..=256))]
    pub max_headers: u16,
    /// Time from a request's first byte to the end of its head; slower gets 408 and is closed
    #[arg(long, value_parser = parse_duration, default_value = "10s", value_name = "DURATION")]
    pub header_timeout: Duration,
    /// Largest request body (read and discarded); larger gets 413
    #[arg(long, default_value_t = 1024 * 1024, value_name = "BYTES")]
    pub max_body_bytes: u64,
}

/// Options of `http get`.
#[derive(Debug, Clone, Args)]
pub struct HttpGetArgs {
    /// http:// or https:// URL
    pub url: String,
    /// Write the body to FILE instead of stdout
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Show the exact bytes: the request on stderr, the undecoded response on stdout (or FILE)
    #[arg(long)]
    pub raw: bool,
    #[command(flatten)]
    pub trust: TrustArgs,
    /// Give up connecting after this long
    #[arg(long, value_parser = parse_duration, default_value = "10s", value_name = "DURATION")]
    pub connect_timeout: Duration,
    /// Give up when the server sends nothing for this long

    #[arg(long, value_parser = parse_duration, default_value = "30s", value_name = "DURATION")]
    pub timeout: Duration,
}
