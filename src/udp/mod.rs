//! udp: the texts' lucky-number server and client over UDP, with the unstable
//! server's simulated loss, the retransmitting client, broadcast and path MTU.
//!
//! One datagram each way; no framing, no connection:
//!
//! ```text
//! client -> server   any bytes, 0 to 65,507 of them   (default b"Hello, I'm a client.")
//! server -> client   b"Here's your lucky number:0.3872235270764811"   (see lucky.rs)
//! ```
//!
//! A request the server "drops" (`--drop P`) gets no answer at all; the client
//! sends it again after 0.1 s, 0.2 s, 0.4 s … and gives up when the next wait
//! would pass `--max-wait`.

pub mod client;
pub mod lucky;
pub mod mtu;
pub mod server;
pub mod socket;

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::net::{self, NetError, PREVIEW_LIMIT, WIRE_TARGET, escape_bytes};
use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::UdpSocket;

pub use client::{Backoff, Reply, RequestError, broadcast, connect, request};
pub use mtu::{PathMtu, probe};
pub use server::{Options, run, serve};
pub use socket::{QuietSocket, RecvBatch};

/// The texts' port.
pub const DEFAULT_PORT: u16 = 60000;
/// What the texts' client sends.
pub const DEFAULT_MESSAGE: &str = "Hello, I'm a client.";
/// Receive buffer size: one byte more than any UDP payload (65,507 over IPv4,
/// 65,527 over IPv6) so that nothing is ever silently truncated.
pub const MAX_DATAGRAM: usize = 65_536;
/// How much of a received datagram a log line or a printed reply shows.
pub const SHOW_LIMIT: usize = 200;

/// Binds a UDP socket on the first address `host` resolves to.
///
/// Unlike a TCP listener this one does NOT set SO_REUSEADDR: UDP has no
/// TIME_WAIT to get past, and on Linux the option lets a second server bind
/// the same port and silently take its unicast traffic, where the user should
/// get `address already in use`.
pub async fn bind(host: &str, port: u16) -> Result<UdpSocket, NetError> {
    net::bind_first(host, port, bind_one).await
}

fn bind_one(addr: SocketAddr) -> io::Result<UdpSocket> {
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    UdpSocket::from_std(socket.into())
}

/// An unbound socket of `peer`'s family on an ephemeral port, ready to send to it.
pub async fn ephemeral_for(peer: SocketAddr) -> io::Result<UdpSocket> {
    let any: IpAddr = match peer {
        SocketAddr::V4(_) => Ipv4Addr::UNSPECIFIED.into(),
        SocketAddr::V6(_) => Ipv6Addr::UNSPECIFIED.into(),
    };
    UdpSocket::bind(SocketAddr::new(any, 0)).await
}

/// Logs a datagram for `--trace` in the stream wrapper's words, e.g.
/// `sent 20 bytes to 127.0.0.1:60000: b'...'`.
fn trace_datagram(verb: &str, preposition: &str, peer: SocketAddr, data: &[u8]) {
    tracing::trace!(
        target: WIRE_TARGET,
        "{verb} {} bytes {preposition} {peer}: {}",
        data.len(),
        escape_bytes(data, PREVIEW_LIMIT)
    );
}

/// A datagram as the texts print a string: Python's repr, quotes included,
/// cut after [`SHOW_LIMIT`] bytes.
pub fn quoted(data: &[u8]) -> String {
    let repr = escape_bytes(data, SHOW_LIMIT);
    // escape_bytes always starts with the `b` of a bytes literal; the texts
    // decode to str first, so their repr has no `b`.
    repr.strip_prefix('b').map(str::to_string).unwrap_or(repr)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_like_a_python_str() {
        assert_eq!(quoted(b"Hello, I'm a client."), "\"Hello, I'm a client.\"");
        assert_eq!(quoted(b""), "''");
    }

    #[tokio::test]
    async fn a_second_server_on_the_same_port_is_refused() {
        let first = bind("127.0.0.1", 0).await.expect("bind");
        let port = first.local_addr().expect("addr").port();
        let err = bind("127.0.0.1", port).await.expect_err("port in use");
        assert!(err.to_string().ends_with("address already in use"), "{err}");
    }
}
