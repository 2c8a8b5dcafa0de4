//! hello: the "Welcome!" / "Hello, NAME!" server of the threaded-server text.
//!
//! ```text
//! server -> client   b'Welcome!'                        on connect, no newline
//! client -> server   b'Michael'   or   b'Michael\n'     one message
//! server -> client   b'Hello, Michael!'  (+ b'\n' if the message had one)
//! client -> server   b'exit'                            the server closes
//! ```
//! The texts' client sends bare names and waits for each answer; line
//! clients such as `nc` end each message with a newline. A newline ends a
//! message at once; bytes without one become a message when the peer pauses.

use std::io;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::cli::HelloClientArgs;
use crate::net::{self, ConnInfo};

/// The texts' port.
pub const DEFAULT_PORT: u16 = 9999;
/// A person at `nc` may think for a while.
pub const DEFAULT_IDLE: Duration = Duration::from_secs(300);
/// The greeting sent on connect.
pub const WELCOME: &[u8] = b"Welcome!";
/// A message longer than this closes the connection.
pub const MAX_MESSAGE: usize = 4096;
/// How long a peer must pause before bytes without a newline count as a message.
const MESSAGE_GAP: Duration = Duration::from_millis(30);

/// Serves one hello conversation until `exit` or EOF.
pub async fn handle<S: AsyncRead + AsyncWrite + Unpin>(
    mut io: S,
    conn: ConnInfo,
) -> io::Result<()> {
    io.write_all(WELCOME).await?;
    let mut buf = BytesMut::with_capacity(1024);
    loop {
        while let Some(end) = buf.iter().position(|&b| b == b'\n') {
            let line = buf.split_to(end + 1);
            if !answer(&mut io, &line[..end], true).await? {
                return io.shutdown().await;
            }
        }
        if buf.len() > MAX_MESSAGE {
            io.write_all(format!("error: message longer than {MAX_MESSAGE} bytes\n").as_bytes())
                .await?;
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "message too long",
            ));
        }
        let read = if buf.is_empty() {
            tokio::select! {
                biased;
                read = io.read_buf(&mut buf) => read?,
                () = conn.shutdown.cancelled() => break,
            }
        } else {
            match tokio::time::timeout(MESSAGE_GAP, io.read_buf(&mut buf)).await {
                Ok(read) => read?,
                Err(_) => {
                    let message = buf.split();
                    if !answer(&mut io, &message, false).await? {
                        break;
                    }
                    continue;
                }
            }
        };
        if read == 0 {
            if !buf.is_empty() {
                let message = buf.split();
                answer(&mut io, &message, false).await?;
            }
            break;
        }
    }
    io.shutdown().await
}

/// Answers one message; false once the peer said `exit`.
async fn answer<S: AsyncWrite + Unpin>(io: &mut S, message: &[u8], line: bool) -> io::Result<bool> {
    let mut message = message;
    if let [rest @ .., b'\r'] = message {
        message = rest;
    }
    if message == b"exit" {
        return Ok(false);
    }
    if message.is_empty() {
        return Ok(true);
    }
    let mut reply = Vec::with_capacity(message.len() + 10);
    reply.extend_from_slice(b"Hello, ");
    reply.extend_from_slice(String::from_utf8_lossy(message).as_bytes());
    reply.push(b'!');
    if line {
        reply.push(b'\n');
    }
    io.write_all(&reply).await?;
    Ok(true)
}

/// Runs `hello client`: prints the welcome, greets each name, sends `exit`.
pub async fn client(args: &HelloClientArgs) -> Result<()> {
    let port = args.target.port.unwrap_or(DEFAULT_PORT);
    let mut io = net::connect(&args.target.host, port, args.target.connect_timeout).await?;
    let mut buf = BytesMut::with_capacity(1024);
    print_reply(&mut io, &mut buf).await?;
    for name in &args.names {
        io.write_all(name.as_bytes()).await.context("sending")?;
        print_reply(&mut io, &mut buf).await?;
    }
    io.write_all(b"exit").await.context("sending")?;
    io.shutdown().await.context("closing")?;
    Ok(())
}

/// Prints one answer: what one read brings, as the texts' client does.
async fn print_reply<S: AsyncRead + Unpin>(io: &mut S, buf: &mut BytesMut) -> Result<()> {
    buf.clear();
    if io.read_buf(buf).await.context("receiving")? == 0 {
        bail!("the server closed the connection");
    }
    println!("{}", String::from_utf8_lossy(buf.chunk()).trim_end());
    Ok(())
}
