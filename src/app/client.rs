//! The app client (app-client.py, libclient.py): [`Client`] over any stream
//! for many keep-alive requests, [`request`] for the texts' one-shot one.
//!
//! ```text
//! $ socklab app client 127.0.0.1 65433 search morpheus
//! got result: Follow the white rabbit. 🐰
//! $ socklab app client 127.0.0.1 65433 binary 😃
//! got response: b'First 10 bytes of request: binary\xf0\x9f\x98\x83'
//! ```
//! Like the original, the one-shot client sends one message, reads one answer
//! and closes.

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::{Map, Value};
use tokio::io::{AsyncRead, AsyncWrite};

use super::codec::{FrameError, MessageCodec};
use super::content::{ContentError, Reply};
use super::message::{KEEP_ALIVE, Message};
use crate::net::{Connection, Endpoint, NetError, escape_bytes};

/// Why a request got no answer.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Connecting failed.
    #[error(transparent)]
    Connect(#[from] NetError),
    /// The request could not be sent.
    #[error("sending the request: {0}")]
    Send(FrameError),
    /// The answer could not be read.
    #[error("reading the answer: {0}")]
    Receive(FrameError),
    /// The answer's content could not be understood.
    #[error("reading the answer: {0}")]
    Content(#[from] ContentError),
    /// The server closed before answering.
    #[error("the server closed the connection without answering")]
    Closed,
    /// No answer within the timeout.
    #[error("no answer from {peer} within {}s", .timeout.as_secs_f64())]
    Timeout {
        /// The server.
        peer: SocketAddr,
        /// How long we waited.
        timeout: Duration,
    },
}

/// A client connection: requests are sent one at a time, and bytes read past
/// an answer stay buffered for the next one.
#[derive(Debug)]
pub struct Client<S> {
    connection: Connection<S, MessageCodec>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Client<S> {
    /// A client on an open stream.
    pub fn new(io: S) -> Self {
        Client {
            connection: Connection::client(io, MessageCodec::default()),
        }
    }

    /// Sends `message` as one write and reads exactly one answer.
    pub async fn request(&mut self, message: &Message) -> Result<Message, ClientError> {
        self.connection
            .send(message)
            .await
            .map_err(ClientError::Send)?;
        match self.connection.read_frame().await {
            Ok(Some(answer)) => Ok(answer),
            Ok(None) => Err(ClientError::Closed),
            Err(err) => Err(ClientError::Receive(err)),
        }
    }

    /// A keep-alive search for `query`.
    pub async fn search(&mut self, query: &str) -> Result<Reply, ClientError> {
        let answer = self
            .request(&Message::search(query).with_keep_alive(true))
            .await?;
        Ok(answer.reply()?)
    }

    /// A keep-alive binary request with `content`.
    pub async fn binary(&mut self, content: impl Into<bytes::Bytes>) -> Result<Reply, ClientError> {
        let answer = self
            .request(&Message::binary(content).with_keep_alive(true))
            .await?;
        Ok(answer.reply()?)
    }

    /// The stream.
    pub fn get_ref(&self) -> &S {
        self.connection.get_ref()
    }

    /// Closes: what is queued goes out, then a FIN.
    pub async fn close(mut self) -> Result<(), ClientError> {
        self.connection
            .shutdown()
            .await
            .map_err(|err| ClientError::Send(err.into()))
    }
}

/// Connects to `host`:`port`, sends `message` and returns the one answer,
/// waiting at most `timeout` for it (app-client.py).
pub async fn request(
    server: &Endpoint,
    timeout: Duration,
    message: &Message,
) -> Result<Message, ClientError> {
    let io = server.connect().await?;
    let peer = io.peer();
    let mut client = Client::new(io);
    tokio::time::timeout(timeout, client.request(message))
        .await
        .map_err(|_| ClientError::Timeout { peer, timeout })?
}

/// The answer as `{"header": {...}, "content": ...}`: JSON content as JSON,
/// other content as text when it is UTF-8, else as Python's bytes repr.
pub fn describe(answer: &Message) -> Value {
    let header = &answer.header;
    let mut shown = header.extra.clone();
    shown.insert("byteorder".into(), header.byteorder.as_str().into());
    shown.insert("content-type".into(), header.content_type.as_ref().into());
    shown.insert(
        "content-encoding".into(),
        header.content_encoding.as_ref().into(),
    );
    shown.insert("content-length".into(), answer.content.len().into());
    if header.keep_alive {
        shown.insert(KEEP_ALIVE.into(), true.into());
    }
    let content = match answer.json_object() {
        Ok(object) if answer.is_json() => Value::Object(object),
        _ => match std::str::from_utf8(&answer.content) {
            Ok(text) => text.into(),
            Err(_) => escape_bytes(&answer.content, usize::MAX).into(),
        },
    };
    let mut described = Map::new();
    described.insert("header".into(), Value::Object(shown));
    described.insert("content".into(), content);
    Value::Object(described)
}
