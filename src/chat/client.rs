//! The interactive chat client: stdin lines go to the server while whatever
//! the server sends is printed as it arrives.
//!
//! `quit` or the end of input (Ctrl-D, or the end of a pipe) leaves: the
//! client sends `quit`, half-closes, and prints what still comes until the
//! server closes (bounded by [`LEAVE_TIMEOUT`]).

use std::time::Duration;

use anyhow::{Context, Result};
use bytes::{BufMut, BytesMut};
use futures_util::StreamExt;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio_util::codec::FramedRead;
use tracing::{info, warn};

use super::lines::{Line, LineDecoder};
use super::{DEFAULT_MAX_LINE, DEFAULT_PORT};
use crate::cli::ChatClientArgs;
use crate::net;

/// How long to wait for the server to close after we said `quit`.
pub const LEAVE_TIMEOUT: Duration = Duration::from_secs(5);

/// Runs `chat client` on the terminal (or whatever stdin and stdout are).
pub async fn client(args: &ChatClientArgs) -> Result<()> {
    let port = args.target.port.unwrap_or(DEFAULT_PORT);
    let io = net::connect(&args.target.host, port, args.target.connect_timeout).await?;
    session(
        io,
        tokio::io::stdin(),
        tokio::io::stdout(),
        args.nick.as_deref(),
    )
    .await
}

/// Chats on a connected stream: `input`'s lines go out, the server's bytes
/// are copied to `output`, both at once; returns once the server has closed.
pub async fn session<S, I, O>(io: S, input: I, mut output: O, nick: Option<&str>) -> Result<()>
where
    S: AsyncRead + AsyncWrite + Unpin,
    I: AsyncRead + Unpin,
    O: AsyncWrite + Unpin,
{
    let (mut from_server, mut to_server) = tokio::io::split(io);
    let sending = send_lines(&mut to_server, input, nick);
    let receiving = print_incoming(&mut from_server, &mut output);
    tokio::pin!(sending, receiving);
    tokio::select! {
        received = &mut receiving => {
            received.context("receiving")?;
            info!("the server closed the connection");
            return Ok(());
        }
        sent = &mut sending => sent?,
    }
    match tokio::time::timeout(LEAVE_TIMEOUT, receiving).await {
        Ok(received) => received.context("receiving")?,
        Err(_) => warn!(
            "the server did not close within {}s after quit; leaving anyway",
            LEAVE_TIMEOUT.as_secs()
        ),
    }
    Ok(())
}

/// Sends `/nick NAME` if asked, then every input line, then `quit` and a
/// half-close.
async fn send_lines<W, I>(to_server: &mut W, input: I, nick: Option<&str>) -> Result<()>
where
    W: AsyncWrite + Unpin,
    I: AsyncRead + Unpin,
{
    if let Some(nick) = nick {
        let command = format!("/nick {nick}\n");
        to_server
            .write_all(command.as_bytes())
            .await
            .context("sending")?;
    }
    let mut lines = FramedRead::new(input, LineDecoder::new(DEFAULT_MAX_LINE));
    let mut said_quit = false;
    while let Some(line) = lines.next().await {
        let mut line = match line.context("reading input")? {
            Line::Text(line) | Line::Unterminated(line) => line,
            Line::TooLong => {
                warn!("line longer than {DEFAULT_MAX_LINE} bytes not sent");
                continue;
            }
        };
        said_quit = line.trim_ascii() == b"quit";
        line.put_u8(b'\n');
        to_server.write_all(&line).await.context("sending")?;
        if said_quit {
            break;
        }
    }
    if !said_quit {
        // The end of input leaves as `quit` does, also with servers that
        // do not take a half-close as leaving.
        to_server.write_all(b"quit\n").await.context("sending")?;
    }
    to_server.shutdown().await.context("closing")
}

/// Copies what the server sends to `output` as it arrives, until it closes.
async fn print_incoming<R, O>(from_server: &mut R, output: &mut O) -> std::io::Result<()>
where
    R: AsyncRead + Unpin,
    O: AsyncWrite + Unpin,
{
    let mut buf = BytesMut::with_capacity(16 * 1024);
    loop {
        buf.clear();
        if from_server.read_buf(&mut buf).await? == 0 {
            return output.flush().await;
        }
        output.write_all(&buf).await?;
        output.flush().await?;
    }
}
