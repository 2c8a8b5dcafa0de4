//! fixed: the 16-octet exchange of tcp_sixteen.py.
//!
//! ```text
//! client -> server   b'Hi there, server'   exactly 16 bytes
//! server -> client   b'Farewell, client'   exactly 16 bytes, then close
//! ```
//! Either side that gets fewer than 16 bytes before EOF reports the texts'
//! `recvall` error.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_util::codec::{Decoder, Encoder};
use tracing::info;

use crate::net::{self, ConnInfo, Connection, Endpoint, EofInFrame, NetError, escape_bytes};

/// The texts' port.
pub const DEFAULT_PORT: u16 = 1060;
/// Sixteen bytes should not take long to arrive.
pub const DEFAULT_IDLE: Duration = Duration::from_secs(30);
/// The length of every message, both ways.
pub const MESSAGE_LEN: usize = 16;
/// The client's message.
pub const GREETING: &[u8; MESSAGE_LEN] = b"Hi there, server";
/// The server's answer.
pub const FAREWELL: &[u8; MESSAGE_LEN] = b"Farewell, client";

/// Why a 16-octet exchange failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Connecting failed.
    #[error(transparent)]
    Net(#[from] NetError),
    /// The texts' `recvall` error: the peer closed before a whole message.
    #[error(
        "was expecting {MESSAGE_LEN} bytes but only received {got} bytes before the socket closed"
    )]
    Short {
        /// Bytes that came before EOF.
        got: usize,
    },
    /// Sending our message failed.
    #[error("sending: {0}")]
    Send(io::Error),
    /// Reading or closing failed.
    #[error(transparent)]
    Io(io::Error),
    /// A message to send was not 16 bytes long.
    #[error("a message is {MESSAGE_LEN} bytes, not {0}")]
    Length(usize),
}

impl From<EofInFrame> for Error {
    fn from(eof: EofInFrame) -> Self {
        Error::Short { got: eof.buffered }
    }
}

/// `net::Connection` reports EOF inside a frame as an I/O error.
impl From<io::Error> for Error {
    fn from(err: io::Error) -> Self {
        match EofInFrame::sort(err) {
            Ok(eof) => eof.into(),
            Err(err) => Error::Io(err),
        }
    }
}

/// Messages of exactly [`MESSAGE_LEN`] bytes, without framing.
#[derive(Debug, Clone, Copy, Default)]
pub struct Codec;

impl Decoder for Codec {
    type Item = Bytes;
    type Error = Error;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Bytes>, Error> {
        if src.len() < MESSAGE_LEN {
            src.reserve(MESSAGE_LEN - src.len());
            return Ok(None);
        }
        Ok(Some(src.split_to(MESSAGE_LEN).freeze()))
    }
}

impl Encoder<&[u8]> for Codec {
    type Error = Error;

    fn encode(&mut self, item: &[u8], dst: &mut BytesMut) -> Result<(), Error> {
        if item.len() != MESSAGE_LEN {
            return Err(Error::Length(item.len()));
        }
        dst.extend_from_slice(item);
        Ok(())
    }
}

net::plain_server!("fixed", DEFAULT_IDLE, handle);

/// Serves one 16-octet exchange.
pub async fn handle<S: AsyncRead + AsyncWrite + Unpin>(io: S, conn: ConnInfo) -> Result<(), Error> {
    info!("  Socket name: {}", conn.local);
    info!("  Socket peer: {}", conn.peer);
    let mut framed = Connection::new(io, Codec, conn.shutdown.clone());
    let Some(message) = framed.read_frame().await? else {
        if framed.is_shutting_down() {
            // No exchange was in flight: the server's shutdown closes it.
            return Ok(());
        }
        return Err(Error::Short { got: 0 });
    };
    info!(
        "  Incoming sixteen-octet message: {}",
        escape_bytes(&message, usize::MAX)
    );
    framed.queue(&FAREWELL[..])?;
    framed.close().await?;
    info!("  Reply sent, socket closed");
    Ok(())
}

/// The server's side of a finished exchange.
#[derive(Debug, Clone)]
pub struct Reply {
    /// The socket name our end was assigned.
    pub local: SocketAddr,
    /// The server's 16 bytes.
    pub message: Bytes,
}

/// Connects to `server`, sends [`GREETING`] and returns the reply.
pub async fn client(server: &Endpoint) -> Result<Reply, Error> {
    let io = server.connect().await?;
    let local = io.get_ref().get_ref().local_addr()?;
    let message = exchange(io).await?;
    Ok(Reply { local, message })
}

/// Sends [`GREETING`] on `io` and reads the 16-byte reply.
pub async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(io: S) -> Result<Bytes, Error> {
    let mut framed = Connection::client(io, Codec);
    framed.queue(&GREETING[..])?;
    framed.flush().await.map_err(Error::Send)?;
    framed.read_frame().await?.ok_or(Error::Short { got: 0 })
}
