//! The network layer every server and client stands on.
//!
//! Address parsing (the texts' `''` for all interfaces, IPv6 literals, names),
//! listeners with SO_REUSEADDR and a large backlog, connecting with clear errors,
//! the accept loop with its access list, connection limit and graceful shutdown, and the
//! per-connection stream wrapper that enforces idle timeouts and writes the
//! `--trace` transcript. Protocol modules only ever see an already-set-up stream.

mod access;
mod addr;
mod cancelled;
mod connect;
mod connection;
mod error;
mod fdlimit;
mod listen;
mod monitored;
mod plain;
mod preview;
mod queues;
mod runtime;
mod serve;
mod stream;
mod unix;

pub use access::{AccessList, Cidr, CidrError};
pub use addr::{HostError, check_host, normalize_host, resolve, split_host_port};
pub use cancelled::Cancelled;
pub use connect::{DEFAULT_CONNECT_TIMEOUT, Endpoint, connect};
pub use connection::{
    Connection, EofInFrame, FLUSH_AT, FrameReader, LINGER_BYTES, LINGER_TIME, linger,
};
pub use error::{NetError, describe};
pub use fdlimit::raise_fd_limit;
pub use listen::{DEFAULT_BACKLOG, bind_first, bind_tcp};
pub use monitored::{
    Monitored, ReadReady, WIRE_TARGET, peek_first, read_ready, trace_received, trace_sent,
};
pub(crate) use plain::plain_server;
pub use preview::{PREVIEW_LIMIT, escape_bytes};
pub use queues::{QueueSizes, queue_sizes};
pub use runtime::single_threaded;
pub use serve::{Accepted, ConnInfo, IntoListener, Listener, ServerOptions, TcpIncoming, serve};
pub use stream::Stream;
pub use unix::{UNIX_PEER, UnixIncoming};
