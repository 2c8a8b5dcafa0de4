//! What every bench shares: the target and the load, as plain options, and
//! the errors a bench can end with.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use crate::app::{ContentError, FrameError};
use crate::net::{self, NetError};
use crate::tls::ClientTls;

/// The load every bench shares: where, how many, how long, how fast.
#[derive(Debug, Clone)]
pub struct Load {
    /// Server address: `HOST:PORT`, `[V6]:PORT`, or `HOST` (then `addr_port`, or the protocol's port);
    /// bench chat takes a comma-separated list and spreads its clients over it.
    pub addr: String,
    /// Server port, when `addr` is a HOST alone.
    pub addr_port: Option<u16>,
    /// Connections (sockets, clients) at once.
    pub conns: usize,
    /// Bytes per message (payload; the line length for chat).
    pub size: usize,
    /// How long to measure, after the warm-up.
    pub duration: Duration,
    /// Load applied first and left out of every number.
    pub warmup: Duration,
    /// Requests in flight per connection.
    pub pipeline: usize,
    /// Open loop: requests per second over all connections [default: closed loop].
    pub rate: Option<f64>,
    /// Connection handshakes in flight at once while ramping up.
    pub ramp: usize,
    /// An answer later than this is an error (a loss for udp).
    pub timeout: Duration,
    /// Give up connecting after this long.
    pub connect_timeout: Duration,
    /// Allow a target that is not a loopback or private address.
    pub allow_remote: bool,
    /// TLS over every connection [default: plain]; udp ignores it.
    pub tls: Option<ClientTls>,
    /// The server's process, whose CPU time and RSS over the window are reported.
    pub server_pid: Option<u32>,
}

impl Default for Load {
    fn default() -> Self {
        Self {
            addr: "127.0.0.1".to_owned(),
            addr_port: None,
            conns: 50,
            size: 64,
            duration: Duration::from_secs(5),
            warmup: Duration::from_secs(1),
            pipeline: 1,
            rate: None,
            ramp: 64,
            timeout: Duration::from_secs(5),
            connect_timeout: net::DEFAULT_CONNECT_TIMEOUT,
            allow_remote: false,
            tls: None,
            server_pid: None,
        }
    }
}

/// Why a bench could not run (failures during the run are counted in its
/// report instead).
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// The address does not parse.
    #[error("invalid address: {0}")]
    Address(String),
    /// A port in the address and another after it.
    #[error("give the port once: in {0:?} or after it")]
    PortTwice(String),
    /// A public target without `allow_remote`.
    #[error(
        "refusing to load {0}: not a loopback or private address \
         (pass --allow-remote for a server you are allowed to load)"
    )]
    Remote(SocketAddr),
    /// A list of addresses for a bench of one server.
    #[error("{0:?}: this bench loads one server; only bench chat takes a list of addresses")]
    OneAddress(String),
    /// No connections or no requests in flight.
    #[error("--conns and --pipeline must be at least 1")]
    NoLoad,
    /// A rate that is not a positive number.
    #[error("--rate must be a positive number of requests per second")]
    Rate,
    /// Too few chat clients, or senders outside 1 to the clients.
    #[error("bench chat needs at least 2 clients and 1 to --conns senders")]
    ChatClients,
    /// An open-loop chat bench.
    #[error("bench chat runs closed loop: use --pipeline to set the lines in flight")]
    ChatRate,
    /// A udp bench with a pipeline.
    #[error("bench udp keeps one request in flight per socket: use --conns, not --pipeline")]
    UdpPipeline,
    /// The app bench's own expected answers could not be built.
    #[error("building an expected answer: {0}")]
    Expected(ContentError),
    /// An app request could not be encoded.
    #[error(transparent)]
    Frame(#[from] FrameError),
    /// Resolving or connecting failed.
    #[error(transparent)]
    Net(#[from] NetError),
    /// The server's process could not be sampled.
    #[error(transparent)]
    Server(#[from] super::server::SampleError),
    /// A socket could not be set up.
    #[error(transparent)]
    Io(#[from] io::Error),
}
