//! The command line: one subcommand per protocol, roles under each, one file
//! per area; `parse` holds the value parsers they share.

mod app;
mod bench;
mod capture;
mod cert;
mod chat;
mod diag;
mod http;
mod parse;
pub use parse::usage_error;
mod relay;
mod server;
mod small;
mod tls;
mod udp;

pub use app::*;
pub use bench::*;
pub use capture::*;
pub use cert::*;
pub use chat::*;
pub use diag::*;
pub use http::*;
pub use relay::*;
pub use server::*;
pub use small::*;
pub use tls::*;
pub use udp::*;

use clap::{ArgAction, Parser, Subcommand};

/// Every client and server of the classic socket-programming texts.
#[derive(Debug, Parser)]
#[command(name = "socklab", version, propagate_version = true)]
#[command(after_help = "Example: socklab echo server & socklab echo client")]
pub struct Cli {
    /// Show more log output (-v debug, -vv everything)
    #[arg(short, long, action = ArgAction::Count, global = true)]
    pub verbose: u8,
    /// Show less log output (-q warnings only, -qq errors only)
    #[arg(short, long, action = ArgAction::Count, global = true, conflicts_with = "verbose")]
    pub quiet: u8,
    /// Log every read and write with its byte count and an escaped preview
    #[arg(long, global = true)]
    pub trace: bool,
    /// Worker threads (default: one per core); 1 runs everything on one
    /// thread, as redis does, which costs less CPU per request
    #[arg(long, global = true, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub threads: Option<u16>,
    #[command(subcommand)]
    pub command: Command,
}

/// What to run.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Echo every byte back (echo-server.py, multiconn-server.py); port 65432
    #[command(subcommand)]
    Echo(EchoCmd),
    /// The 16-octet exchange (tcp_sixteen.py); port 1060
    #[command(subcommand)]
    Fixed(FixedCmd),
    /// The uppercasing stream (tcp_deadlock.py); port 1061
    #[command(subcommand)]
    Upper(UpperCmd),
    /// The "Welcome!" / "Hello, NAME!" server; port 9999
    #[command(subcommand)]
    Hello(HelloCmd),
    /// UDP lucky numbers, retransmission, broadcast and path MTU; port 60000
    #[command(subcommand)]
    Udp(UdpCmd),
    /// The minimal HTTP server (Hello World) and the raw-socket GET client; port 8001
    #[command(subcommand)]
    Http(HttpCmd),
    /// Name and service lookups: getaddrinfo, getservbyname, getservbyport
    #[command(
        after_help = "Examples: socklab lookup localhost 80\n          socklab lookup --service ssh\n          socklab lookup --port 22"
    )]
    Lookup(LookupArgs),
    /// The framed JSON-header request/response protocol (app-server.py); port 65433
    #[command(subcommand)]
    App(AppCmd),
    /// The group chat room (ChatServer / ChatClient); port 9998
    #[command(subcommand)]
    Chat(ChatCmd),
    /// Run every pair on loopback and show the exchanges
    #[command(
        after_help = "Examples: socklab tour\n          socklab tour --tls\n          sudo socklab tour --capture"
    )]
    Tour(TourArgs),
    /// Load generators that verify every answer (echo, http, udp, chat, app)
    #[command(subcommand)]
    Bench(BenchCmd),
    /// List TCP and UDP sockets with queues, state and owner, like `ss -tuanp`
    #[command(after_help = "Example: socklab sockets --port 65434")]
    Sockets(SocketsArgs),
    /// A server that never reads, a client that fills its queues (app-*-test.py); port 65434
    #[command(subcommand)]
    Stall(StallCmd),
    /// ICMP echo with round-trip statistics, like `ping`
    #[command(after_help = "Example: socklab ping -c 3 127.0.0.1")]
    Ping(PingArgs),
    /// The development TLS certificate: show it, make a new one, or find its CA
    #[command(subcommand)]
    Cert(CertCmd),
    /// Show packets as tshark does (relative Seq/Ack, analysis), write or read pcap
    #[command(
        after_help = "Examples: socklab capture --port 65432\n          socklab capture --port 65432 -w echo.pcap --print\n          socklab capture -r echo.pcap"
    )]
    Capture(CaptureArgs),
    /// Connect stdin and stdout to a socket, like nc -N (TCP, UDP, Unix, TLS)
    #[command(
        after_help = "Examples: socklab connect 127.0.0.1 65432 < request\n          socklab connect --tls --hex localhost 8443\n          socklab connect --unix /tmp/app.sock"
    )]
    Connect(ConnectArgs),
    /// Serve a connection with stdin and stdout, or a program per connection, like nc -l
    #[command(
        after_help = "Examples: socklab listen 9000 > received\n          socklab listen -k 9000 --exec 'tr a-z A-Z'\n          socklab listen --udp 9000"
    )]
    Listen(ListenArgs),
    /// Relay LISTEN to UPSTREAM injecting faults: toxiproxy's toxics, netem's with --udp
    #[command(
        after_help = "Examples: socklab proxy 127.0.0.1:7000 127.0.0.1:65432 --toxic latency:latency=100,jitter=10\n          socklab proxy --udp 127.0.0.1:7000 127.0.0.1:60000 --toxic loss:percent=30 --seed 1\n          socklab proxy --api 127.0.0.1:8474"
    )]
    Proxy(ProxyArgs),
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::parse::parse_duration;
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert!(parse_duration("fast").is_err());
        assert!(parse_duration("5 parsecs").is_err());
        assert!(parse_duration("-1").is_err());
    }

    #[test]
    fn global_flags_stand_anywhere() {
        let cli = Cli::try_parse_from(["socklab", "echo", "client", "-v", "--trace", "::1", "7"])
            .expect("parses");
        assert_eq!(cli.verbose, 1);
        assert!(cli.trace);
        let Command::Echo(EchoCmd::Client(args)) = cli.command else {
            panic!("wrong command")
        };
        assert_eq!(args.target.host, "::1");
        assert_eq!(args.target.port, Some(7));
    }
}

/// Options of `tour`.
#[derive(Debug, Clone, clap::Args)]
pub struct TourArgs {
    /// Run every TCP pair over TLS (the development certificate, verified by the clients)
    #[arg(long)]
    pub tls: bool,
    /// Show each exchange's packets under it (needs root or CAP_NET_RAW)
    #[arg(long)]
    pub capture: bool,
}
