//! fixed: the 16-octet exchange of tcp_sixteen.py.
//!
//! ```text
//! client -> server   b'Hi there, server'   exactly 16 bytes
//! server -> client   b'Farewell, client'   exactly 16 bytes, then close
//! ```

use std::io;
use std::time::Duration;

use anyhow::{Context, Result};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tracing::info;

use crate::cli::Target;
use crate::net::{self, ConnInfo, escape_bytes};

/// The texts' port.
pub const DEFAULT_PORT: u16 = 1060;
/// Sixteen bytes should not take long to arrive.
pub const DEFAULT_IDLE: Duration = Duration::from_secs(30);
/// The client's message.
pub const GREETING: &[u8; 16] = b"Hi there, server";
/// The server's answer.
pub const FAREWELL: &[u8; 16] = b"Farewell, client";

/// The texts' `recvall` error: the peer closed before `expected` bytes came.
#[derive(Debug, thiserror::Error)]
#[error("was expecting {expected} bytes but only received {got} bytes before the socket closed")]
pub struct ShortRead {
    /// Bytes wanted.
    pub expected: usize,
    /// Bytes that came before EOF.
    pub got: usize,
}

/// Reads exactly `len` bytes, or fails with [`ShortRead`] on an early EOF.
pub async fn recvall<R: AsyncRead + Unpin>(reader: &mut R, len: usize) -> io::Result<Vec<u8>> {
    let mut data = vec![0u8; len];
    let mut got = 0;
    while got < len {
        let n = reader.read(&mut data[got..]).await?;
        if n == 0 {
            let short = ShortRead { expected: len, got };
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, short));
        }
        got += n;
    }
    Ok(data)
}

/// Serves one 16-octet exchange.
pub async fn handle<S: AsyncRead + AsyncWrite + Unpin>(
    mut io: S,
    conn: ConnInfo,
) -> io::Result<()> {
    info!("  Socket name: {}", conn.local);
    info!("  Socket peer: {}", conn.peer);
    let message = recvall(&mut io, GREETING.len()).await?;
    info!(
        "  Incoming sixteen-octet message: {}",
        escape_bytes(&message, usize::MAX)
    );
    io.write_all(FAREWELL).await?;
    io.shutdown().await?;
    info!("  Reply sent, socket closed");
    Ok(())
}

/// Runs `fixed client`.
pub async fn client(target: &Target) -> Result<()> {
    let port = target.port.unwrap_or(DEFAULT_PORT);
    let mut io = net::connect(&target.host, port, target.connect_timeout).await?;
    let local = io
        .get_ref()
        .local_addr()
        .context("reading the socket name")?;
    println!("Client has been assigned socket name {local}");
    io.write_all(GREETING).await.context("sending")?;
    let reply = recvall(&mut io, FAREWELL.len()).await?;
    println!("The server said {}", escape_bytes(&reply, usize::MAX));
    Ok(())
}
