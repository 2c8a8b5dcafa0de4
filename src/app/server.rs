//! `socklab app server`: answers framed requests (app-server.py, libserver.py).
//!
//! ```text
//! client -> server   one message (frame.rs), "keep-alive": true to send more
//! server -> client   its answer (content.rs), then close unless keep-alive
//! bad input          {"error": "..."} (text/json) while the peer can still
//!                    be told, then close
//! ```
//! Requests may be pipelined on a keep-alive connection: every request already
//! buffered is answered, and the answers go out in order in one write.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::{BufMut, BytesMut};
use futures_util::FutureExt;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_util::codec::{Decoder, Encoder};
use tracing::info;

use super::content::{BINARY_ENCODING, ContentError, SERVER_BINARY_TYPE};
use super::frame::{DEFAULT_MAX_CONTENT, FrameError, Header, Message, MessageCodec};
use super::search::SearchTable;
use crate::net::{self, ConnInfo};

/// app-server.py used 65432, which echo keeps; we take the next port.
pub const DEFAULT_PORT: u16 = 65433;
/// A request/response peer has no reason to sit silent for long.
pub const DEFAULT_IDLE: Duration = Duration::from_secs(30);
/// What a binary answer starts with.
pub const BINARY_PREFIX: &[u8] = b"First 10 bytes of request: ";
/// How many request bytes a binary answer repeats.
pub const BINARY_ECHO: usize = 10;

// Answers are written once this much is batched, even if more requests wait.
const BATCH_LIMIT: usize = 64 * 1024;
const READ_SIZE: usize = 8 * 1024;
// After the last answer, unread input is drained for at most this long/much.
const LINGER: Duration = Duration::from_secs(1);
const LINGER_BYTES: usize = 64 * 1024 * 1024;
// Requests are logged with at most this much of their content.
const LOG_PREVIEW: usize = 200;

/// What an app server serves, besides the limits every server has.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// Answers to search requests.
    pub table: SearchTable,
    /// Largest request content; a longer one gets an error and is closed.
    pub max_content: usize,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            table: SearchTable::builtin(),
            max_content: DEFAULT_MAX_CONTENT,
        }
    }
}

/// Serves the app protocol with the built-in table until `shutdown` resolves.
pub async fn run(
    listener: TcpListener,
    config: net::ServerOptions,
    shutdown: impl Future<Output = ()> + Send,
) -> io::Result<()> {
    serve(listener, config, ServerOptions::default(), shutdown).await
}

/// Serves the app protocol with `options` until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    config: net::ServerOptions,
    options: ServerOptions,
    shutdown: impl Future<Output = ()> + Send,
) -> io::Result<()> {
    let options = Arc::new(options);
    net::serve(listener, config, shutdown, move |io, conn| {
        handle(io, conn, options.clone())
    })
    .await
}

/// The answer to one request, as libserver.py gives it; `"keep-alive"` is
/// echoed. Load generators use it to check answers ([`Message::equivalent`]).
pub fn respond(table: &SearchTable, request: &Message) -> Result<Message, ContentError> {
    let answer = if request.is_json() {
        Message::json(&table.answer(&request.json_object()?))
    } else {
        let echoed = &request.content[..request.content.len().min(BINARY_ECHO)];
        let mut content = BytesMut::with_capacity(BINARY_PREFIX.len() + echoed.len());
        content.put_slice(BINARY_PREFIX);
        content.put_slice(echoed);
        Message {
            header: Header::new(SERVER_BINARY_TYPE, BINARY_ENCODING),
            content: content.freeze(),
        }
    };
    Ok(answer.with_keep_alive(request.header.keep_alive))
}

/// Why a connection was closed early.
#[derive(Debug, thiserror::Error)]
enum ConnError {
    #[error("{0}")]
    Frame(#[from] FrameError),
    #[error("{0}")]
    Content(#[from] ContentError),
}

/// What answering the buffered requests left to do.
enum Step {
    /// Every complete request is answered; read more.
    NeedInput,
    /// The batch is full; write it and answer the rest.
    BatchFull,
    /// A request without keep-alive was answered: close.
    Done,
    /// Bad input; the error answer (if any) is in the batch: close.
    Failed(ConnError),
}

async fn handle<S: AsyncRead + AsyncWrite + Unpin>(
    mut io: S,
    conn: ConnInfo,
    options: Arc<ServerOptions>,
) -> Result<(), ConnError> {
    let mut codec = MessageCodec::new(options.max_content);
    let mut input = BytesMut::with_capacity(READ_SIZE);
    let mut output = BytesMut::new();
    loop {
        let step = answer_buffered(&mut codec, &mut input, &mut output, &options, &conn);
        if !output.is_empty() {
            io.write_all(&output).await.map_err(FrameError::from)?;
            output.clear();
        }
        match step {
            Step::NeedInput => {}
            Step::BatchFull => continue,
            Step::Done if input.is_empty() => return close_answered(&mut io).await,
            Step::Done => break,
            Step::Failed(err) => {
                let _ = close_gently(&mut io).await;
                return Err(err);
            }
        }
        // Between messages a shutdown may close; inside one, the exchange
        // in flight finishes (bounded by the grace period).
        let between = input.is_empty() && codec.is_between_messages();
        if input.capacity() - input.len() < READ_SIZE / 2 {
            input.reserve(READ_SIZE);
        }
        let read = tokio::select! {
            biased;
            read = io.read_buf(&mut input) => read.map_err(FrameError::from)?,
            () = conn.shutdown.cancelled(), if between => return shut(&mut io).await,
        };
        if read == 0 {
            // Every complete request was answered above, so this is either
            // a clean close between messages or a truncated message.
            if let Err(err) = codec.decode_eof(&mut input) {
                // The peer may have only half-closed: tell it, best effort.
                encode_error(&mut codec, &mut output, &err);
                let _ = io.write_all(&output).await;
                return Err(err.into());
            }
            return shut(&mut io).await;
        }
    }
    close_gently(&mut io).await.map_err(FrameError::from)?;
    Ok(())
}

async fn shut<S: AsyncWrite + Unpin>(io: &mut S) -> Result<(), ConnError> {
    io.shutdown().await.map_err(FrameError::from)?;
    Ok(())
}

/// Closes after the last answer: at once when the peer has sent nothing more
/// (nothing unread, so dropping the socket sends a plain FIN and no
/// `shutdown` call is needed), else gently.
async fn close_answered<S: AsyncRead + AsyncWrite + Unpin>(io: &mut S) -> Result<(), ConnError> {
    let mut probe = [0u8; 1];
    // One poll: Pending means nothing is waiting to be read.
    let pending = io.read(&mut probe).now_or_never();
    match pending {
        None | Some(Ok(0)) => Ok(()),
        Some(_) => close_gently(io)
            .await
            .map_err(|err| FrameError::from(err).into()),
    }
}

/// Sends FIN, then discards what the peer still sends until it closes, for
/// a bounded time. Closing with unread input would make the kernel send a
/// reset, which can destroy our last answer before the peer reads it.
async fn close_gently<S: AsyncRead + AsyncWrite + Unpin>(io: &mut S) -> io::Result<()> {
    io.shutdown().await?;
    let mut sink = [0u8; 8192];
    let mut drained = 0;
    let _ = tokio::time::timeout(LINGER, async {
        while drained < LINGER_BYTES {
            match io.read(&mut sink).await {
                Ok(0) | Err(_) => break,
                Ok(n) => drained += n,
            }
        }
    })
    .await;
    Ok(())
}

/// Decodes and answers every complete request in `input` into `output`.
fn answer_buffered(
    codec: &mut MessageCodec,
    input: &mut BytesMut,
    output: &mut BytesMut,
    options: &ServerOptions,
    conn: &ConnInfo,
) -> Step {
    // Checked once per batch: the token's state sits behind a lock.
    let shutting_down = conn.shutdown.is_cancelled();
    while output.len() < BATCH_LIMIT {
        let request = match codec.decode(input) {
            Ok(Some(request)) => request,
            Ok(None) => return Step::NeedInput,
            Err(err) => {
                encode_error(codec, output, &err);
                return Step::Failed(err.into());
            }
        };
        log_request(&request, conn.peer);
        let answer = match respond(&options.table, &request) {
            Ok(answer) => answer,
            Err(err) => {
                encode_error(codec, output, &err);
                return Step::Failed(err.into());
            }
        };
        // Once shutting down, this answer is the connection's last.
        let keep_alive = answer.header.keep_alive && !shutting_down;
        let answer = answer.with_keep_alive(keep_alive);
        if let Err(err) = codec.encode(&answer, output) {
            encode_error(codec, output, &err);
            return Step::Failed(err.into());
        }
        if !keep_alive {
            return Step::Done;
        }
    }
    Step::BatchFull
}

/// Appends the error answer `{"error": ERR}`. Decoding and content errors
/// never concern the transport, so the peer can always be told.
fn encode_error(codec: &mut MessageCodec, output: &mut BytesMut, err: &impl std::fmt::Display) {
    // A short error object always fits the 2-byte header prefix.
    let _ = codec.encode(&Message::error(&err.to_string()), output);
}

fn log_request(request: &Message, peer: SocketAddr) {
    if request.is_json() {
        let shown = &request.content[..request.content.len().min(LOG_PREVIEW)];
        info!(
            "received request {} from {peer}",
            String::from_utf8_lossy(shown)
        );
    } else {
        info!(
            "received {} request from {peer}",
            request.header.content_type
        );
    }
}
