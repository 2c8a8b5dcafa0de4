//! echo: every byte back until the peer closes (echo-server.py, multiconn-*.py).
//!
//! ```text
//! client -> server   any bytes
//! server -> client   the same bytes, in order
//! ```
//! The client alone closes; the server finishes echoing after the peer's
//! half-close and then closes its side.

use std::io;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::task::JoinSet;

use crate::cli::EchoClientArgs;
use crate::net::{self, ConnInfo, PREVIEW_LIMIT, ReadReady, escape_bytes, read_ready};

/// The texts' port.
pub const DEFAULT_PORT: u16 = 65432;
/// An echo peer may sit quietly between messages for a while.
pub const DEFAULT_IDLE: Duration = Duration::from_secs(300);
/// The message of echo-client.py.
pub const DEFAULT_MESSAGE: &str = "Hello, world";
/// The messages multiconn-client.py sends on every connection.
pub const MULTICONN_MESSAGES: [&str; 2] = ["Message 1 from client.", "Message 2 from client."];

const BUFFER: usize = 256 * 1024;

/// Serves one echo connection: every byte back until the peer closes.
pub async fn handle<S>(mut io: S, conn: ConnInfo) -> io::Result<()>
where
    S: AsyncRead + AsyncWrite + ReadReady + Unpin,
{
    // A connection that has sent nothing yet holds no buffer: thousands of
    // idle peers would otherwise cost a touched page each.
    tokio::select! {
        biased;
        ready = read_ready(&mut io) => ready?,
        () = conn.shutdown.cancelled() => return io.shutdown().await,
    }
    let mut buf = vec![0u8; BUFFER];
    loop {
        // Between reads nothing is in flight, so a shutdown may close here.
        let n = tokio::select! {
            biased;
            read = io.read(&mut buf) => read?,
            () = conn.shutdown.cancelled() => break,
        };
        if n == 0 {
            break;
        }
        io.write_all(&buf[..n]).await?;
    }
    io.shutdown().await
}

/// Runs `echo client`: one message, or the texts' multi-connection client.
pub async fn client(args: &EchoClientArgs) -> Result<()> {
    let host = &args.target.host;
    let port = args.target.port.unwrap_or(DEFAULT_PORT);
    let timeout = args.target.connect_timeout;
    let Some(conns) = args.conns else {
        let message = args.message.as_deref().unwrap_or(DEFAULT_MESSAGE);
        let mut io = net::connect(host, port, timeout).await?;
        let echoed = exchange(&mut io, &[message]).await?;
        println!("Received {}", escape_bytes(&echoed, usize::MAX));
        return Ok(());
    };
    let messages: Vec<String> = match &args.message {
        Some(message) => vec![message.clone()],
        None => MULTICONN_MESSAGES.iter().map(|m| m.to_string()).collect(),
    };
    let mut tasks = JoinSet::new();
    for id in 1..=conns {
        let (host, messages) = (host.clone(), messages.clone());
        tasks.spawn(async move {
            let result = one_connection(id, &host, port, timeout, &messages).await;
            if let Err(err) = &result {
                eprintln!("connection {id}: {err:#}");
            }
            result.is_ok()
        });
    }
    let mut failed = 0;
    while let Some(ok) = tasks.join_next().await {
        if !matches!(ok, Ok(true)) {
            failed += 1;
        }
    }
    if failed > 0 {
        bail!("{failed} of {conns} connections failed");
    }
    Ok(())
}

async fn one_connection(
    id: usize,
    host: &str,
    port: u16,
    timeout: Duration,
    messages: &[String],
) -> Result<()> {
    println!("starting connection {id} to {host}:{port}");
    let mut io = net::connect(host, port, timeout).await?;
    for message in messages {
        println!(
            "sending {} to connection {id}",
            escape_bytes(message.as_bytes(), PREVIEW_LIMIT)
        );
    }
    let parts: Vec<&str> = messages.iter().map(String::as_str).collect();
    let echoed = exchange(&mut io, &parts).await?;
    println!(
        "received {} from connection {id}",
        escape_bytes(&echoed, PREVIEW_LIMIT)
    );
    println!("closing connection {id}");
    Ok(())
}

/// Sends `messages`, reads until as many bytes came back, checks they are the
/// same bytes, and closes.
async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
    io: &mut S,
    messages: &[&str],
) -> Result<Vec<u8>> {
    let sent: Vec<u8> = messages.concat().into_bytes();
    for message in messages {
        io.write_all(message.as_bytes()).await.context("sending")?;
    }
    let mut echoed = vec![0u8; sent.len()];
    let mut got = 0;
    while got < sent.len() {
        let n = io.read(&mut echoed[got..]).await.context("receiving")?;
        if n == 0 {
            bail!(
                "the server closed after echoing {got} of {} bytes",
                sent.len()
            );
        }
        got += n;
    }
    if echoed != sent {
        let at = sent
            .iter()
            .zip(&echoed)
            .position(|(a, b)| a != b)
            .unwrap_or(0);
        bail!(
            "echo mismatch at byte {at}: sent {}, got {}",
            escape_bytes(&sent, PREVIEW_LIMIT),
            escape_bytes(&echoed, PREVIEW_LIMIT)
        );
    }
    io.shutdown().await.context("closing")?;
    Ok(echoed)
}
