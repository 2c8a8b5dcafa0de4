//! `socklab app server`: answers framed requests (app-server.py, libserver.py).
//!
//! ```text
//! client -> server   one message (codec.rs), "keep-alive": true to send more
//! server -> client   its answer (content.rs), then close unless keep-alive
//! bad input          {"error": "..."} (text/json) while the peer can still
//!                    be told, then close
//! ```
//! Requests may be pipelined on a keep-alive connection: every request already
//! buffered is answered, and the answers go out in order in one write (the
//! connection writes what is queued when it has to wait for input).

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncWrite};
use tracing::info;

use super::codec::{DEFAULT_MAX_CONTENT, FrameError, HeadCodec, Parts};
use super::content::ContentError;
use super::head_template::{HeadTemplate, json_head, server_binary_head};
use super::message::{Header, Message};
use super::search::{SearchTable, Written, WrittenHit};
use crate::net::{self, ConnInfo, Connection};

/// app-server.py used 65432, which echo keeps; we take the next port.
pub const DEFAULT_PORT: u16 = 65433;
/// A request/response peer has no reason to sit silent for long.
pub const DEFAULT_IDLE: Duration = Duration::from_secs(30);
/// What a binary answer starts with.
pub const BINARY_PREFIX: &[u8] = b"First 10 bytes of request: ";
/// How many request bytes a binary answer repeats.
pub const BINARY_ECHO: usize = 10;

// Requests are logged with at most this much of their content.
const LOG_PREVIEW: usize = 200;

/// What an app server serves, and the limits every server has.
#[derive(Debug, Clone)]
pub struct Options {
    /// Answers to search requests.
    pub table: SearchTable,
    /// Largest request content; a longer one gets an error and is closed.
    pub max_content: usize,
    /// Connection limit, idle timeout (default [`DEFAULT_IDLE`]) and grace.
    pub server: net::ServerOptions,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            table: SearchTable::builtin(),
            max_content: DEFAULT_MAX_CONTENT,
            server: net::ServerOptions::with_idle(DEFAULT_IDLE),
        }
    }
}

/// Serves the app protocol on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: impl net::IntoListener,
    options: Options,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    let server = options.server.clone();
    let options = Arc::new(options);
    net::serve(listener, server, shutdown, move |io, conn| {
        handle(io, conn, options.clone())
    })
    .await
}

/// The answer to one request, as libserver.py gives it; `"keep-alive"` is
/// echoed. Load generators use it to check answers ([`Message::equivalent`]).
pub fn respond(table: &SearchTable, request: &Message) -> Result<Message, ContentError> {
    let answer = match answer(table, &request.header, &request.content)? {
        Answer::Hit(hit) => Message::json_bytes(hit.content().clone()),
        Answer::Pieces(pieces) => {
            let (head, content) = pieces.parts();
            Message {
                header: head.header(false).clone(),
                content: content.concat().into(),
            }
        }
        Answer::Message(message) => message,
    };
    Ok(answer.with_keep_alive(request.header.keep_alive))
}

/// An answer before its keep-alive is set. A server's usual answers (a
/// hit's, a miss's, a binary one's) are kept in pieces that are copied
/// into the write buffer, not gathered into a [`Message`] first.
enum Answer<'t> {
    /// Written in advance.
    Hit(&'t WrittenHit),
    /// Written now, a header and two pieces of content.
    Pieces(Pieces),
    /// Anything else: the long path's answers.
    Message(Message),
}

/// An answer the server writes in pieces.
enum Pieces {
    /// text/json content.
    Json(Bytes),
    /// [`BINARY_PREFIX`] and these request bytes.
    Binary(Echoed),
}

/// The first [`BINARY_ECHO`] bytes of a request (or all, if fewer).
struct Echoed {
    bytes: [u8; BINARY_ECHO],
    len: usize,
}

impl Echoed {
    fn new(content: &[u8]) -> Self {
        let len = content.len().min(BINARY_ECHO);
        let mut bytes = [0; BINARY_ECHO];
        bytes[..len].copy_from_slice(&content[..len]);
        Echoed { bytes, len }
    }

    fn bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

impl Pieces {
    /// The header's template and the content's pieces.
    fn parts(&self) -> (&'static HeadTemplate, [&[u8]; 2]) {
        match self {
            Pieces::Json(content) => (json_head(), [content, &[]]),
            Pieces::Binary(echoed) => (server_binary_head(), [BINARY_PREFIX, echoed.bytes()]),
        }
    }
}

fn answer<'t>(
    table: &'t SearchTable,
    header: &Header,
    content: &[u8],
) -> Result<Answer<'t>, ContentError> {
    if !header.is_json() {
        return Ok(Answer::Pieces(Pieces::Binary(Echoed::new(content))));
    }
    let text = header.text(content)?;
    Ok(match table.written_answer(text) {
        Some(Written::Hit(hit)) => Answer::Hit(hit),
        Some(Written::Miss(content)) => Answer::Pieces(Pieces::Json(content)),
        None => Answer::Message(Message::json(&table.answer(&header.json_object(content)?))),
    })
}

/// Why a server closed a connection early.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The bytes were no valid message, or the transport failed.
    #[error("{0}")]
    Frame(#[from] FrameError),
    /// The message's content could not be understood.
    #[error("{0}")]
    Content(#[from] ContentError),
}

impl From<io::Error> for ServeError {
    fn from(err: io::Error) -> Self {
        ServeError::Frame(err.into())
    }
}

async fn handle<S: AsyncRead + AsyncWrite + Unpin>(
    io: S,
    conn: ConnInfo,
    options: Arc<Options>,
) -> Result<(), ServeError> {
    let codec = HeadCodec::new(options.max_content);
    let mut connection = Connection::new(io, codec, conn.shutdown.clone());
    loop {
        let head = match connection.read_frame().await {
            Ok(Some(head)) => head,
            // A clean EOF, or a shutdown while no message was in flight.
            Ok(None) => return Ok(connection.shutdown().await?),
            Err(FrameError::Io(err)) => return Err(FrameError::Io(err).into()),
            Err(err @ FrameError::Truncated) => {
                // The peer may have only half-closed: tell it, best effort.
                queue_error(&mut connection, &err);
                let _ = connection.flush().await;
                return Err(err.into());
            }
            Err(err) => return fail(connection, err.into()).await,
        };
        let content = &connection.read_buffer()[..head.content_len];
        log_request(&head.header, content, conn.peer);
        let answer = answer(&options.table, &head.header, content);
        connection.consume(head.content_len);
        let answer = match answer {
            Ok(answer) => answer,
            Err(err) => return fail(connection, err.into()).await,
        };
        // Once shutting down, this answer is the connection's last. Checked
        // only when no further request is buffered (the token's state sits
        // behind a lock): pipelined answers of one batch share one check.
        let keep_alive = head.header.keep_alive
            && !(connection.read_buffer().is_empty() && connection.is_shutting_down());
        let queued = match answer {
            Answer::Hit(hit) => {
                connection.queue_encoded(hit.head(keep_alive));
                connection.queue_encoded(hit.content());
                Ok(())
            }
            Answer::Pieces(pieces) => {
                let (head, content) = pieces.parts();
                connection.queue(Parts {
                    head,
                    keep_alive,
                    content: &content,
                })
            }
            Answer::Message(message) => connection.queue(&message.with_keep_alive(keep_alive)),
        };
        if let Err(err) = queued {
            return fail(connection, err.into()).await;
        }
        if !keep_alive {
            return Ok(connection.close().await?);
        }
    }
}

/// Answers `{"error": ERR}` after what is queued, closes, and returns `err`.
async fn fail<S: AsyncRead + AsyncWrite + Unpin>(
    mut connection: Connection<S, HeadCodec>,
    err: ServeError,
) -> Result<(), ServeError> {
    queue_error(&mut connection, &err);
    let _ = connection.close().await;
    Err(err)
}

/// Queues the error answer. Decoding and content errors never concern the
/// transport, so the peer can always be told.
fn queue_error<S: AsyncRead + AsyncWrite + Unpin>(
    connection: &mut Connection<S, HeadCodec>,
    err: &impl std::fmt::Display,
) {
    // A short error object always fits the 2-byte header prefix.
    let _ = connection.queue(&Message::error(&err.to_string()));
}

fn log_request(header: &Header, content: &[u8], peer: SocketAddr) {
    if header.is_json() {
        let shown = &content[..content.len().min(LOG_PREVIEW)];
        info!(
            "received request {} from {peer}",
            String::from_utf8_lossy(shown)
        );
    } else {
        info!("received {} request from {peer}", header.content_type);
    }
}
