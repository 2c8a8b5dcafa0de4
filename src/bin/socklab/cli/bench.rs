//! `socklab bench`: the load every bench shares and each bench's own options.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Subcommand};

use super::parse::{HostArg, parse_duration};
use super::tls::TlsClientArgs;

/// Load generators, one per protocol.
#[derive(Debug, Subcommand)]
pub enum BenchCmd {
    /// Round trips of SIZE-byte messages (or --bulk streams), every byte checked
    #[command(after_help = "Example: socklab bench echo 127.0.0.1:65432 --conns 50 --size 64")]
    Echo(BenchEchoArgs),
    /// GET requests over keep-alive connections, status and length checked
    #[command(after_help = "Example: socklab bench http 127.0.0.1:8001 --conns 100 --pipeline 4")]
    Http(BenchHttpArgs),
    /// Lucky-number requests over N connected UDP sockets; timeouts count as losses
    #[command(after_help = "Example: socklab bench udp 127.0.0.1:60000 --conns 8")]
    Udp(LoadArgs),
    /// N clients in one room, S of them sending; every line must reach every client once, in one order
    #[command(
        after_help = "Example: socklab bench chat 127.0.0.1:9998 --conns 500 --senders 5\n         socklab bench chat 127.0.0.1:9001,127.0.0.1:9002,127.0.0.1:9003 --conns 900"
    )]
    Chat(BenchChatArgs),
    /// Search requests of the framed app protocol, every result checked
    #[command(after_help = "Example: socklab bench app 127.0.0.1:65433 --keep-alive --pipeline 16")]
    App(BenchAppArgs),
    /// N idle connections opened in steps; the server's RSS per connection at each step
    #[command(
        after_help = "Example: socklab bench idle 127.0.0.1:65432 --conns 10000 --step 1000 --server-pid 4242"
    )]
    Idle(BenchIdleArgs),
}

/// Options of `bench idle`.
#[derive(Debug, Clone, Args)]
pub struct BenchIdleArgs {
    /// Server address: HOST:PORT, [V6]:PORT, or HOST (then PORT, or the echo port)
    #[arg(value_parser = HostArg::Addrs)]
    pub addr: String,
    /// Server port, when ADDR is a HOST alone
    #[arg(value_name = "PORT")]
    pub addr_port: Option<u16>,
    /// Connections to open in all
    #[arg(short, long, default_value_t = 1000, value_name = "N")]
    pub conns: usize,
    /// Connections opened per step, before each sample
    #[arg(long, default_value_t = 1000, value_name = "K")]
    pub step: usize,
    /// The server's process: its descriptors and RSS are read after each step
    #[arg(long, value_name = "PID")]
    pub server_pid: Option<u32>,
    /// How long to wait after a step for the server to hold every connection
    #[arg(long, value_parser = parse_duration, default_value = "10s", value_name = "DURATION")]
    pub settle: Duration,
    /// Connection handshakes in flight at once
    #[arg(long, default_value_t = 64, value_name = "N")]
    pub ramp: usize,
    /// Give up connecting after this long
    #[arg(long, value_parser = parse_duration, default_value = "10s", value_name = "DURATION")]
    pub connect_timeout: Duration,
    /// Print one JSON object instead of the table
    #[arg(long)]
    pub json: bool,
    /// Draw the server's RSS and RSS per connection by connections into this SVG file
    #[arg(long, value_name = "FILE.svg", requires = "server_pid")]
    pub plot: Option<PathBuf>,
    /// Allow a target that is not a loopback or private address
    #[arg(long)]
    pub allow_remote: bool,
}

impl BenchCmd {
    /// The load options of a bench that has them (all but idle).
    pub fn load(&self) -> Option<&LoadArgs> {
        match self {
            BenchCmd::Echo(a) => Some(&a.load),
            BenchCmd::Http(a) => Some(&a.load),
            BenchCmd::Udp(a) => Some(a),
            BenchCmd::Chat(a) => Some(&a.load),
            BenchCmd::App(a) => Some(&a.load),
            BenchCmd::Idle(_) => None,
        }
    }
}

/// The load every bench shares: where, how many, how long, how fast.
#[derive(Debug, Clone, Args)]
pub struct LoadArgs {
    /// Server address: HOST:PORT, [V6]:PORT, or HOST (then PORT, or the protocol's port);
    /// bench chat takes a comma-separated list and spreads its clients over it round-robin
    #[arg(value_parser = HostArg::Addrs)]
    pub addr: String,
    /// Server port, when ADDR is a HOST alone
    #[arg(value_name = "PORT")]
    pub addr_port: Option<u16>,
    /// Connections (sockets, clients) at once
    #[arg(short, long, default_value_t = 50, value_name = "N")]
    pub conns: usize,
    /// Bytes per message (payload; the line length for chat)
    #[arg(short, long, default_value_t = 64, value_name = "BYTES")]
    pub size: usize,
    /// How long to measure, after the warm-up
    #[arg(short, long, value_parser = parse_duration, default_value = "5s", value_name = "DURATION")]
    pub duration: Duration,
    /// Load applied first and left out of every number
    #[arg(long, value_parser = parse_duration, default_value = "1s", value_name = "DURATION")]
    pub warmup: Duration,
    /// Requests in flight per connection
    #[arg(short = 'P', long, default_value_t = 1, value_name = "K")]
    pub pipeline: usize,
    /// Open loop: R requests per second over all connections, latency counted
    /// from when each should have been sent (as wrk2 does) [default: closed loop]
    #[arg(short, long, value_name = "R")]
    pub rate: Option<f64>,
    /// Connection handshakes in flight at once while ramping up
    #[arg(long, default_value_t = 64, value_name = "N")]
    pub ramp: usize,
    /// An answer later than this is an error (a loss for udp)
    #[arg(long, value_parser = parse_duration, default_value = "5s", value_name = "DURATION")]
    pub timeout: Duration,
    /// Give up connecting after this long
    #[arg(long, value_parser = parse_duration, default_value = "10s", value_name = "DURATION")]
    pub connect_timeout: Duration,
    /// Print one JSON object instead of the summary
    #[arg(long)]
    pub json: bool,
    /// Allow a target that is not a loopback or private address
    #[arg(long)]
    pub allow_remote: bool,
    /// Also print the full latency distribution in HdrHistogram's percentile
    /// format (in --json: `latency_spectrum`, and `latency_hdr`, the histogram
    /// in HdrHistogram's base64 V2 encoding)
    #[arg(long)]
    pub latency_spectrum: bool,
    /// Draw latency by percentile and throughput over time into this SVG file
    #[arg(long, value_name = "FILE.svg", conflicts_with = "vs")]
    pub plot: Option<PathBuf>,
    /// Report this server process's CPU time and RSS over the measured
    /// window, and its CPU µs per request (from /proc)
    #[arg(long, value_name = "PID")]
    pub server_pid: Option<u32>,
    /// Compare with a second server: the same bench against ADDR and this,
    /// interleaved in pairs of alternating order (A B, B A, ...), medians
    /// and the ratio A/B
    #[arg(long, value_name = "ADDR", value_parser = HostArg::Addrs)]
    pub vs: Option<String>,
    /// The --vs server's process, sampled as --server-pid samples ADDR's
    #[arg(long, value_name = "PID", requires = "vs")]
    pub vs_pid: Option<u32>,
    /// How many runs of each server with --vs
    #[arg(long, default_value_t = 5, value_name = "N", requires = "vs")]
    pub runs: usize,
}

/// Options of `bench echo`.
#[derive(Debug, Clone, Args)]
pub struct BenchEchoArgs {
    #[command(flatten)]
    pub load: LoadArgs,
    #[command(flatten)]
    pub tls: TlsClientArgs,
    /// Stream both ways at once on every connection and report MB/s
    #[arg(long, conflicts_with_all = ["pipeline", "rate"])]
    pub bulk: bool,
}

/// Options of `bench http`.
#[derive(Debug, Clone, Args)]
pub struct BenchHttpArgs {
    #[command(flatten)]
    pub load: LoadArgs,
    #[command(flatten)]
    pub tls: TlsClientArgs,
    /// Path to request
    #[arg(long, default_value = "/")]
    pub path: String,
}

/// Options of `bench chat`.
#[derive(Debug, Clone, Args)]
pub struct BenchChatArgs {
    #[command(flatten)]
    pub load: LoadArgs,
    #[command(flatten)]
    pub tls: TlsClientArgs,
    /// How many of the clients send lines (the others only read)
    #[arg(long, default_value_t = 5, value_name = "S")]
    pub senders: usize,
}

/// Options of `bench app`.
#[derive(Debug, Clone, Args)]
pub struct BenchAppArgs {
    #[command(flatten)]
    pub load: LoadArgs,
    #[command(flatten)]
    pub tls: TlsClientArgs,
    /// Send `"keep-alive": true` and reuse each connection [default: one connection per request]
    #[arg(long)]
    pub keep_alive: bool,
    /// Search for this value only [default: rotate through morpheus, ring, 🐶, a miss
    /// and a binary request of --size bytes]; answers are checked against the built-in table
    #[arg(long)]
    pub value: Option<String>,
}
