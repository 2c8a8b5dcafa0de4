//! The command line: one subcommand per protocol, roles under each.

use std::path::PathBuf;
use std::time::Duration;

use std::ffi::OsStr;

use clap::builder::TypedValueParser;
use clap::error::ErrorKind;
use clap::{ArgAction, Args, Parser, Subcommand, ValueEnum};

use socklab::net::{self, DEFAULT_CONNECT_TIMEOUT, ServerOptions};

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
    #[command(after_help = "Example: socklab tour")]
    Tour,
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
}

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
    /// N clients in one room, S of them sending; every line must reach every other client
    #[command(after_help = "Example: socklab bench chat 127.0.0.1:9998 --conns 500 --senders 5")]
    Chat(BenchChatArgs),
    /// Search requests of the framed app protocol, every result checked
    #[command(after_help = "Example: socklab bench app 127.0.0.1:65433 --keep-alive --pipeline 16")]
    App(BenchAppArgs),
}

/// The load every bench shares: where, how many, how long, how fast.
#[derive(Debug, Clone, Args)]
pub struct LoadArgs {
    /// Server address: HOST:PORT, [V6]:PORT, or HOST (then PORT, or the protocol's port)
    #[arg(value_parser = HostArg::Addr)]
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
}

/// Options of `bench echo`.
#[derive(Debug, Clone, Args)]
pub struct BenchEchoArgs {
    #[command(flatten)]
    pub load: LoadArgs,
    /// Stream both ways at once on every connection and report MB/s
    #[arg(long, conflicts_with_all = ["pipeline", "rate"])]
    pub bulk: bool,
}

/// Options of `bench http`.
#[derive(Debug, Clone, Args)]
pub struct BenchHttpArgs {
    #[command(flatten)]
    pub load: LoadArgs,
    /// Path to request
    #[arg(long, default_value = "/")]
    pub path: String,
}

/// Options of `bench chat`.
#[derive(Debug, Clone, Args)]
pub struct BenchChatArgs {
    #[command(flatten)]
    pub load: LoadArgs,
    /// How many of the clients send lines (the others only read)
    #[arg(long, default_value_t = 5, value_name = "S")]
    pub senders: usize,
}

/// Options of `bench app`.
#[derive(Debug, Clone, Args)]
pub struct BenchAppArgs {
    #[command(flatten)]
    pub load: LoadArgs,
    /// Send `"keep-alive": true` and reuse each connection [default: one connection per request]
    #[arg(long)]
    pub keep_alive: bool,
    /// Search for this value only [default: rotate through morpheus, ring, 🐶, a miss
    /// and a binary request of --size bytes]; answers are checked against the built-in table
    #[arg(long)]
    pub value: Option<String>,
}

/// Roles of the UDP lucky-number protocol.
#[derive(Debug, Subcommand)]
pub enum UdpCmd {
    /// Answer each datagram with `Here's your lucky number: X`, optionally dropping some
    #[command(after_help = "Example: socklab udp server 127.0.0.1 60000 --drop 0.7 --seed 1")]
    Server(UdpServerArgs),
    /// Ask for a lucky number, retransmitting with exponential backoff (or --broadcast)
    #[command(
        after_help = "Examples: socklab udp client 127.0.0.1 60000 --start 0.1s --max-wait 5s\n          \
                      socklab udp client --broadcast 192.168.1.255 60000 --wait 2s"
    )]
    Client(UdpClientArgs),
    /// Print the path MTU to HOST and show a datagram larger than it being refused
    #[command(after_help = "Example: socklab udp mtu 127.0.0.1")]
    Mtu(UdpMtuArgs),
}

/// Options of `udp server`.
#[derive(Debug, Clone, Args)]
pub struct UdpServerArgs {
    /// Interface to listen on: '' or 0.0.0.0 for all IPv4 ones, :: for all IPv6 ones
    #[arg(default_value = "127.0.0.1", value_parser = HostArg::Host)]
    pub host: String,
    /// Port; 0 picks a free one [default: 60000]
    pub port: Option<u16>,
    /// Pretend to lose each request with this probability (0 to 1)
    #[arg(long = "drop", value_parser = parse_probability, default_value_t = 0.0, value_name = "P")]
    pub drop_rate: f64,
    /// Seed the random numbers (drops and lucky numbers) so a run can be repeated
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
}

/// Options of `udp client`.
#[derive(Debug, Clone, Args)]
pub struct UdpClientArgs {
    /// Server host name or address (with --broadcast: the broadcast address)
    #[arg(default_value = "127.0.0.1", value_parser = HostArg::Host)]
    pub host: String,
    /// Server port [default: 60000]
    pub port: Option<u16>,
    /// Text to send
    #[arg(long, default_value = socklab::udp::DEFAULT_MESSAGE, value_name = "TEXT")]
    pub message: String,
    /// First wait for a reply; each retransmission doubles it
    #[arg(long, value_parser = parse_positive_duration, default_value = "0.1s", value_name = "DURATION")]
    pub start: Duration,
    /// Give up when the next wait would be longer than this
    #[arg(long, value_parser = parse_duration, default_value = "5s", value_name = "DURATION")]
    pub max_wait: Duration,
    /// Send once to a broadcast address (SO_BROADCAST) and print every reply
    #[arg(long, conflicts_with_all = ["start", "max_wait"])]
    pub broadcast: bool,
    /// With --broadcast: how long to collect replies
    #[arg(long, requires = "broadcast", value_parser = parse_duration, default_value = "2s", value_name = "DURATION")]
    pub wait: Duration,
}

/// Options of `udp mtu`.
#[derive(Debug, Clone, Args)]
pub struct UdpMtuArgs {
    /// Destination host name or address
    #[arg(value_parser = HostArg::Host)]
    pub host: String,
    /// Destination port (nothing is delivered there) [default: 60000]
    pub port: Option<u16>,
}

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
    /// Trust only the CA certificates in this PEM file (https)
    #[arg(long, value_name = "FILE")]
    pub cacert: Option<PathBuf>,
    /// Give up connecting after this long
    #[arg(long, value_parser = parse_duration, default_value = "10s", value_name = "DURATION")]
    pub connect_timeout: Duration,
    /// Give up when the server sends nothing for this long

    #[arg(long, value_parser = parse_duration, default_value = "30s", value_name = "DURATION")]
    pub timeout: Duration,
}

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

/// Roles of the chat protocol.
#[derive(Debug, Subcommand)]
pub enum ChatCmd {
    /// Relay every line to everyone, with /nick, /who and quit
    #[command(after_help = "Example: socklab chat server 127.0.0.1 9998 --max-queue 1048576")]
    Server(ChatServerArgs),
    /// Send stdin lines to the room while printing what the room says
    #[command(after_help = "Example: socklab chat client 127.0.0.1 9998 --nick alice")]
    Client(ChatClientArgs),
}

/// Options of `chat server`.
#[derive(Debug, Clone, Args)]
pub struct ChatServerArgs {
    #[command(flatten)]
    pub server: ServerArgs,
    /// Longest line accepted, in bytes; longer ones are refused with a notice
    #[arg(long, default_value_t = socklab::chat::DEFAULT_MAX_LINE, value_name = "BYTES")]
    pub max_line: usize,
    /// Bytes of pending lines a client may fall behind by before it is disconnected
    #[arg(long, default_value_t = socklab::chat::DEFAULT_MAX_QUEUE, value_name = "BYTES")]
    pub max_queue: usize,
    /// Kernel send buffer (SO_SNDBUF) per client, in bytes
    #[arg(long, default_value_t = socklab::chat::DEFAULT_SEND_BUFFER, value_name = "BYTES")]
    pub send_buffer: usize,
}

/// Options of `chat client`.
#[derive(Debug, Clone, Args)]
pub struct ChatClientArgs {
    #[command(flatten)]
    pub target: Target,
    /// Take this nickname on joining (sends `/nick NAME`)
    #[arg(long, value_name = "NAME")]
    pub nick: Option<String>,
}

/// Where a server listens and the limits every server has.
#[derive(Debug, Clone, Args)]
pub struct ServerArgs {
    /// Interface to listen on: '' or 0.0.0.0 for all IPv4 ones, :: for all IPv6 ones
    #[arg(default_value = "127.0.0.1", value_parser = HostArg::Host)]
    pub host: String,
    /// Port; 0 picks a free one [default: the protocol's own]
    pub port: Option<u16>,
    /// Connections served at once; further ones are accepted and closed
    #[arg(long, default_value_t = 10_000, value_name = "N")]
    pub max_conns: usize,
    /// Drop a connection after this long without progress (30s, 500ms; 0 = never) [default: the protocol's own]
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub idle_timeout: Option<Duration>,
    /// After Ctrl-C or SIGTERM, how long connections in flight may take to finish
    #[arg(long, value_parser = parse_duration, default_value = "10s", value_name = "DURATION")]
    pub grace: Duration,
}

impl ServerArgs {
    /// The server limits, with the protocol's idle timeout unless one was given.
    pub fn config(&self, default_idle: Duration) -> ServerOptions {
        let idle = self.idle_timeout.unwrap_or(default_idle);
        ServerOptions {
            max_conns: self.max_conns.max(1),
            idle_timeout: (!idle.is_zero()).then_some(idle),
            grace: self.grace,
        }
    }
}

/// The server a client talks to.
#[derive(Debug, Clone, Args)]
pub struct Target {
    /// Server host name or address
    #[arg(default_value = "127.0.0.1", value_parser = HostArg::Host)]
    pub host: String,
    /// Server port [default: the protocol's own]
    pub port: Option<u16>,
    /// Give up connecting after this long
    #[arg(long, value_parser = parse_duration, default_value = "10s", value_name = "DURATION")]
    pub connect_timeout: Duration,
}

impl Target {
    /// A target on `host:port` with the default connect timeout.
    pub fn new(host: &str, port: u16) -> Self {
        Self {
            host: host.to_string(),
            port: Some(port),
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
        }
    }
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

/// A HOST argument (`Host`), or a one-argument address whose host part
/// is checked (`Addr`: `HOST:PORT`, `[V6]:PORT`, `HOST`), refused as a usage
/// error (exit 2) that shows the command's argument order when
/// [`net::check_host`] refuses the host.
#[derive(Debug, Clone, Copy)]
pub enum HostArg {
    /// The argument is a host.
    Host,
    /// The argument is an address that may carry a port.
    Addr,
}

impl TypedValueParser for HostArg {
    type Value = String;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        _arg: Option<&clap::Arg>,
        value: &OsStr,
    ) -> Result<String, clap::Error> {
        let text = utf8(cmd, value)?;
        let host = match self {
            HostArg::Host => text.to_string(),
            HostArg::Addr => {
                net::split_host_port(text)
                    .map_err(|why| {
                        clap::Error::raw(
                            ErrorKind::ValueValidation,
                            format!("invalid address: {why}\n"),
                        )
                        .with_cmd(cmd)
                    })?
                    .0
            }
        };
        net::check_host(&host).map_err(|err| not_a_host(cmd, err))?;
        Ok(text.to_string())
    }
}

fn utf8<'a>(cmd: &clap::Command, value: &'a OsStr) -> Result<&'a str, clap::Error> {
    value
        .to_str()
        .ok_or_else(|| clap::Error::new(ErrorKind::InvalidUtf8).with_cmd(cmd))
}

/// `'1000000' is not a host (...); usage: socklab upper client [HOST] [PORT] [BYTES]`
fn not_a_host(cmd: &clap::Command, err: net::HostError) -> clap::Error {
    let name = cmd.get_bin_name().unwrap_or_else(|| cmd.get_name());
    let mut usage = name.to_string();
    for arg in cmd.get_positionals() {
        let names = arg.get_value_names().unwrap_or_default();
        let id = arg.get_id().as_str().to_uppercase();
        let value = names.first().map_or(id.as_str(), |n| n.as_str());
        let dots = if arg.get_num_args().is_some_and(|n| n.max_values() > 1) {
            "..."
        } else {
            ""
        };
        if arg.is_required_set() {
            usage.push_str(&format!(" <{value}>{dots}"));
        } else {
            usage.push_str(&format!(" [{value}]{dots}"));
        }
    }
    clap::Error::raw(
        ErrorKind::ValueValidation,
        format!("{err}; usage: {usage}\n"),
    )
}

/// Parses `1.5`, `1.5s`, `250ms`, `2m` or `1h` into a duration; a bare number is seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("invalid duration {text:?} (try 10s, 250ms, 1.5)"))?;
    let scale = match unit.trim() {
        "" | "s" | "sec" | "secs" => 1.0,
        "ms" => 0.001,
        "us" | "µs" => 0.000_001,
        "m" | "min" => 60.0,
        "h" => 3600.0,
        other => {
            return Err(format!(
                "unknown unit {other:?} in {text:?} (use ms, s, m or h)"
            ));
        }
    };
    Duration::try_from_secs_f64(value * scale)
        .map_err(|err| format!("invalid duration {text:?}: {err}"))
}

/// Parses a probability between 0 and 1 inclusive.
pub fn parse_probability(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(p) if (0.0..=1.0).contains(&p) => Ok(p),
        _ => Err(format!(
            "invalid probability {text:?} (a number from 0 to 1)"
        )),
    }
}

/// Parses a duration that must not be zero (a zero backoff would never grow).
pub fn parse_positive_duration(text: &str) -> Result<Duration, String> {
    match parse_duration(text)? {
        d if d.is_zero() => Err(format!("{text:?} must be longer than zero")),
        d => Ok(d),
    }
}

#[cfg(test)]
mod tests {
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
