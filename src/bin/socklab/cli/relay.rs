//! `socklab connect`, `listen` and `proxy`: netcat, socat and toxiproxy.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use super::parse::{HostArg, parse_duration};
use super::server::AccessArgs;
use super::{TlsClientArgs, TlsServerArgs, UpstreamTlsArgs};

/// Options of `connect`.
#[derive(Debug, Clone, Args)]
pub struct ConnectArgs {
    /// Server host name or address
    #[arg(value_parser = HostArg::Host, required_unless_present = "unix")]
    pub host: Option<String>,
    /// Server port
    #[arg(required_unless_present = "unix")]
    pub port: Option<u16>,
    /// Send datagrams: each read of stdin is one, each one received is printed
    #[arg(long, conflicts_with_all = ["unix", "tls"])]
    pub udp: bool,
    /// Connect to the Unix stream socket at PATH instead of HOST PORT
    #[arg(long, value_name = "PATH", conflicts_with_all = ["host", "port"])]
    pub unix: Option<PathBuf>,
    /// Dump both directions on stderr in hex, with offsets and direction marks
    #[arg(long)]
    pub hex: bool,
    /// Give up connecting after this long
    #[arg(long, value_parser = parse_duration, default_value = "10s", value_name = "DURATION")]
    pub connect_timeout: Duration,
    /// Close after this long with nothing moving either way (0 = never; with --udp,
    /// how long to wait for replies after stdin's end) [default: never; --udp: 2s]
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub idle_timeout: Option<Duration>,
    #[command(flatten)]
    pub tls: TlsClientArgs,
}

/// Options of `listen`.
#[derive(Debug, Clone, Args)]
pub struct ListenArgs {
    /// [HOST] PORT: interface (default 127.0.0.1; '' or 0.0.0.0 for all IPv4 ones) and port (0 picks one)
    #[arg(value_name = "ADDR", num_args = 0..=2, required_unless_present = "unix")]
    pub addr: Vec<String>,
    /// Keep listening: serve one connection after another (with --exec: at once)
    #[arg(short = 'k', long)]
    pub keep_open: bool,
    /// Receive datagrams: print each, send stdin to whoever sent the last one
    #[arg(long, conflicts_with_all = ["unix", "tls", "exec"])]
    pub udp: bool,
    /// Listen on a Unix stream socket at PATH (removed again on exit)
    #[arg(long, value_name = "PATH", conflicts_with_all = ["addr", "allow", "deny"])]
    pub unix: Option<PathBuf>,
    /// Run CMD (through sh -c) per connection, the socket as its stdin and stdout
    #[arg(long, value_name = "CMD")]
    pub exec: Option<String>,
    /// Dump both directions on stderr in hex, with offsets and direction marks
    #[arg(long)]
    pub hex: bool,
    /// Connections served at once with --exec; further ones are accepted and closed
    #[arg(long, default_value_t = 1000, value_name = "N")]
    pub max_conns: usize,
    /// Drop a connection after this long without progress (0 = never)
    #[arg(long, value_parser = parse_duration, default_value = "0", value_name = "DURATION")]
    pub idle_timeout: Duration,
    #[command(flatten)]
    pub access: AccessArgs,
    #[command(flatten)]
    pub tls: TlsServerArgs,
}

/// Options of `proxy`.
#[derive(Debug, Clone, Args)]
pub struct ProxyArgs {
    /// LISTEN UPSTREAM, each HOST:PORT or [V6]:PORT (or HOST PORT HOST PORT); none with --api alone
    #[arg(value_name = "ADDR", num_args = 0..=4, required_unless_present = "api")]
    pub addrs: Vec<String>,
    /// Relay UDP datagrams, with netem's faults (loss, duplicate, reorder, delay, corrupt, rate)
    #[arg(long, conflicts_with_all = ["api", "tls", "upstream_tls"])]
    pub udp: bool,
    /// A toxic (TCP) or fault (--udp), repeatable: latency:latency=100,jitter=10,stream=upstream,toxicity=0.5
    #[arg(long = "toxic", value_name = "SPEC")]
    pub toxics: Vec<String>,
    /// Serve toxiproxy's HTTP JSON API on ADDR (e.g. 127.0.0.1:8474) so its clients drive the proxies
    #[arg(long, value_name = "ADDR", value_parser = HostArg::Addr, conflicts_with_all = ["tls", "upstream_tls"])]
    pub api: Option<String>,
    /// Name of the proxy given by LISTEN UPSTREAM, as the API shows it
    #[arg(long, default_value = "proxy", value_name = "NAME")]
    pub name: String,
    /// Seed the random draws (toxicity, jitter, loss...) so that a run can be repeated
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    /// TCP connections (--udp: clients) served at once; further ones are refused
    #[arg(long, default_value_t = 10_000, value_name = "N")]
    pub max_conns: usize,
    /// Drop a connection (--udp: forget a client) after this long without traffic (0 = never)
    #[arg(long, value_parser = parse_duration, default_value = "5m", value_name = "DURATION")]
    pub idle_timeout: Duration,
    /// Give up connecting to the upstream server after this long
    #[arg(long, value_parser = parse_duration, default_value = "10s", value_name = "DURATION")]
    pub connect_timeout: Duration,
    #[command(flatten)]
    pub access: AccessArgs,
    #[command(flatten)]
    pub tls: TlsServerArgs,
    #[command(flatten)]
    pub upstream_tls: UpstreamTlsArgs,
}
