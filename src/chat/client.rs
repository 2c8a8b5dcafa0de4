//! Chat clients: [`Client`], which sends lines and returns the room's lines
//! typed, and [`session`], the interactive client: input lines go to the
//! server while whatever the server sends is copied out as it arrives.
//!
//! `quit` or the end of input (Ctrl-D, or the end of a pipe) leaves: the
//! client sends `quit`, half-closes, and prints what still comes until the
//! server closes (bounded by [`LEAVE_TIMEOUT`]).

use std::io;
use std::time::Duration;

use bytes::{BufMut, BytesMut};
use futures_util::StreamExt;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio_util::codec::FramedRead;
use tracing::{info, warn};

use super::DEFAULT_MAX_LINE;
use super::lines::{Line, LineDecoder};
use crate::net::Connection;

/// How long to wait for the server to close after we said `quit`.
pub const LEAVE_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a chat session ended badly; each names the side that failed.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// Reading from the server or writing the output failed.
    #[error("receiving: {0}")]
    Receiving(io::Error),
    /// Sending to the server failed.
    #[error("sending: {0}")]
    Sending(io::Error),
    /// Reading the input failed.
    #[error("reading input: {0}")]
    Input(io::Error),
    /// Half-closing after `quit` failed.
    #[error("closing: {0}")]
    Closing(io::Error),
}

/// Chats on a connected stream: `input`'s lines go out, the server's bytes
/// are copied to `output`, both at once; returns once the server has closed.
pub async fn session<S, I, O>(
    io: S,
    input: I,
    mut output: O,
    nick: Option<&str>,
) -> Result<(), SessionError>
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
            received.map_err(SessionError::Receiving)?;
            info!("the server closed the connection");
            return Ok(());
        }
        sent = &mut sending => sent?,
    }
    match tokio::time::timeout(LEAVE_TIMEOUT, receiving).await {
        Ok(received) => received.map_err(SessionError::Receiving)?,
        Err(_) => warn!(
            "the server did not close within {}s after quit; leaving anyway",
            LEAVE_TIMEOUT.as_secs()
        ),
    }
    Ok(())
}

/// Sends `/nick NAME` if asked, then every input line, then `quit` and a
/// half-close.
async fn send_lines<W, I>(
    to_server: &mut W,
    input: I,
    nick: Option<&str>,
) -> Result<(), SessionError>
where
    W: AsyncWrite + Unpin,
    I: AsyncRead + Unpin,
{
    if let Some(nick) = nick {
        let command = format!("/nick {nick}\n");
        to_server
            .write_all(command.as_bytes())
            .await
            .map_err(SessionError::Sending)?;
    }
    let mut lines = FramedRead::new(input, LineDecoder::new(DEFAULT_MAX_LINE));
    let mut said_quit = false;
    while let Some(line) = lines.next().await {
        let mut line = match line.map_err(SessionError::Input)? {
            Line::Text(line) | Line::Unterminated(line) => line,
            Line::TooLong => {
                warn!("line longer than {DEFAULT_MAX_LINE} bytes not sent");
                continue;
            }
        };
        said_quit = line.trim_ascii() == b"quit";
        line.put_u8(b'\n');
        to_server
            .write_all(&line)
            .await
            .map_err(SessionError::Sending)?;
        if said_quit {
            break;
        }
    }
    if !said_quit {
        // The end of input leaves as `quit` does, also with servers that
        // do not take a half-close as leaving.
        to_server
            .write_all(b"quit\n")
            .await
            .map_err(SessionError::Sending)?;
    }
    to_server.shutdown().await.map_err(SessionError::Closing)
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

/// What a chat server sends: a relayed line, or a notice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A line someone said: `TIME SENDER\nTEXT\n`.
    Message {
        /// `YYYY/mm/dd HH:MM:SS`, the server's local time.
        time: String,
        /// The sender's nickname, or `IP PORT`.
        sender: String,
        /// What was said (invalid UTF-8 replaced).
        text: String,
    },
    /// `* TEXT`: joins, leaves, renames, refusals, `/who`.
    Notice(String),
}

/// Length of the time stamp a relayed line starts with.
const TIME_LEN: usize = "YYYY/mm/dd HH:MM:SS".len();

/// Why a [`Client`] call failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Reading or writing the connection failed (or it ended mid-line).
    #[error(transparent)]
    Io(#[from] io::Error),
    /// The server sent something that is not the chat protocol.
    #[error("not a chat line: {0:?}")]
    Malformed(String),
}

/// A chat connection: lines sent, the room's lines received as [`Event`]s.
#[derive(Debug)]
pub struct Client<S> {
    conn: Connection<S, LineDecoder>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Client<S> {
    /// A client on a connected stream.
    pub fn new(io: S) -> Self {
        Client {
            conn: Connection::client(io, LineDecoder::new(DEFAULT_MAX_LINE)),
        }
    }

    /// Sends one line (a newline is added).
    pub async fn send(&mut self, line: &str) -> Result<(), ClientError> {
        let mut out = BytesMut::with_capacity(line.len() + 1);
        out.put_slice(line.as_bytes());
        out.put_u8(b'\n');
        Ok(self.conn.get_mut().write_all(&out).await?)
    }

    /// The next event, or `None` once the server has closed.
    pub async fn recv(&mut self) -> Result<Option<Event>, ClientError> {
        let Some(first) = self.line().await? else {
            return Ok(None);
        };
        if let Some(notice) = first.strip_prefix("* ") {
            return Ok(Some(Event::Notice(notice.to_string())));
        }
        let (time, sender) = match (first.get(..TIME_LEN), first.get(TIME_LEN + 1..)) {
            (Some(time), Some(sender)) => (time.to_string(), sender.to_string()),
            _ => return Err(ClientError::Malformed(first)),
        };
        let Some(text) = self.line().await? else {
            return Err(ClientError::Malformed(first));
        };
        Ok(Some(Event::Message { time, sender, text }))
    }

    /// Says `quit` and half-closes; the server closes after its last lines.
    pub async fn quit(&mut self) -> Result<(), ClientError> {
        self.send("quit").await?;
        Ok(self.conn.shutdown().await?)
    }

    /// One line from the server, `None` at its end; over-long ones are
    /// skipped, as the server refuses them.
    async fn line(&mut self) -> io::Result<Option<String>> {
        loop {
            match self.conn.read_frame().await? {
                Some(Line::Text(line) | Line::Unterminated(line)) => {
                    return Ok(Some(String::from_utf8_lossy(&line).into_owned()));
                }
                Some(Line::TooLong) => continue,
                None => return Ok(None),
            }
        }
    }
}
