//! The minimal HTTP server of the texts (`Hello World` on port 8001), made a
//! correct HTTP/1.1 server: keep-alive, pipelining, HEAD, error statuses and
//! limits on everything a client sends.
//!
//! ```text
//! 200         every method; HEAD gets the headers without the body
//! 408         the request head did not arrive within the header timeout
//! 4xx, 505    what the request decoder rejects (see `request`)
//! ```
//! Every complete request in the read buffer is answered before the next
//! read, and all the answers go out in one write. Errors are answered with
//! `Connection: close`; the server then half-closes and drains what the client
//! is still sending for a moment, so the client reads the answer instead of a
//! reset.

use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::Instant;
use tokio_util::codec::{Decoder, Encoder};

use super::answer::{Answer, write_reject};
use super::request::{Limits, Reject, Request, RequestDecoder, RequestError};
use crate::net::{self, ConnInfo, Connection, ServerOptions};

/// The texts' port.
pub const DEFAULT_PORT: u16 = 8001;
/// How long a keep-alive connection may wait for its next request.
pub const DEFAULT_IDLE: Duration = Duration::from_secs(60);
/// What the server answers unless told otherwise.
pub const DEFAULT_BODY: &str = "Hello World";

/// What the server answers and accepts.
#[derive(Debug, Clone)]
pub struct Options {
    /// Body of every answer.
    pub body: String,
    /// What a request may be.
    pub limits: Limits,
    /// Connection limit, idle timeout and grace.
    pub server: ServerOptions,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            body: DEFAULT_BODY.to_owned(),
            limits: Limits::default(),
            server: ServerOptions::with_idle(DEFAULT_IDLE),
        }
    }
}

/// Serves `options.body` under `options.limits` until `shutdown` resolves.
pub async fn serve(
    listener: impl net::IntoListener,
    options: Options,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    let answer = Arc::new(Answer::new(&options.body));
    let limits = options.limits;
    let mut server = options.server;
    // HTTPS clients that ask (curl does) hear that this is HTTP/1.1.
    server.tls = server
        .tls
        .map(|tls| tls.with_alpn(vec![b"http/1.1".to_vec()]));
    net::serve(listener, server, shutdown, move |io, conn| {
        let codec = ServerCodec::new(limits.clone(), answer.clone());
        async move { handle(io, conn, codec).await }
    })
    .await
}

/// What the server's codec reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Incoming {
    /// A request, its body skipped.
    Request(Request),
    /// The first bytes of a head that is not complete yet: its clock starts.
    HeadStarted,
}

/// The request decoder, and the answers as encoders.
#[derive(Debug)]
struct ServerCodec {
    requests: RequestDecoder,
    answer: Arc<Answer>,
    /// A partial head was reported and its request has not come yet.
    timing: bool,
}

impl ServerCodec {
    fn new(limits: Limits, answer: Arc<Answer>) -> Self {
        Self {
            requests: RequestDecoder::new(limits),
            answer,
            timing: false,
        }
    }
}

impl Decoder for ServerCodec {
    type Item = Incoming;
    type Error = RequestError;

    fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Incoming>, RequestError> {
        if let Some(request) = self.requests.decode(buf)? {
            self.timing = false;
            return Ok(Some(Incoming::Request(request)));
        }
        if !self.timing && self.requests.mid_head(buf) {
            self.timing = true;
            return Ok(Some(Incoming::HeadStarted));
        }
        Ok(None)
    }
}

impl Encoder<Request> for ServerCodec {
    type Error = RequestError;

    fn encode(&mut self, request: Request, out: &mut BytesMut) -> Result<(), RequestError> {
        self.answer.write(request, out);
        Ok(())
    }
}

impl Encoder<Reject> for ServerCodec {
    type Error = RequestError;

    fn encode(&mut self, reject: Reject, out: &mut BytesMut) -> Result<(), RequestError> {
        write_reject(reject, out);
        Ok(())
    }
}

/// Answers one connection's requests until it closes.
async fn handle<S: AsyncRead + AsyncWrite + Unpin>(
    io: S,
    info: ConnInfo,
    codec: ServerCodec,
) -> Result<(), RequestError> {
    let header_timeout = codec.requests.limits().header_timeout;
    let mut conn = Connection::new(io, codec, info.shutdown);
    let mut deadline = None;
    let result = loop {
        let frame = match deadline {
            None => conn.read_frame().await,
            Some(at) => match tokio::time::timeout_at(at, conn.read_frame()).await {
                Ok(frame) => frame,
                Err(_) => {
                    conn.queue(Reject::Timeout)?;
                    break answered(
                        conn.close().await,
                        RequestError::HeadTimeout(header_timeout),
                    );
                }
            },
        };
        match frame {
            Ok(Some(Incoming::HeadStarted)) => deadline = Some(Instant::now() + header_timeout),
            Ok(Some(Incoming::Request(mut request))) => {
                deadline = None;
                request.close |= conn.is_shutting_down();
                conn.queue(request)?;
                if request.close {
                    break conn.close().await.map_err(RequestError::from);
                }
            }
            Ok(None) if conn.is_shutting_down() => {
                break conn.shutdown().await.map_err(RequestError::from);
            }
            Ok(None) => return Ok(()),
            Err(RequestError::Rejected(reject)) => {
                conn.queue(reject)?;
                break answered(conn.close().await, RequestError::Rejected(reject));
            }
            Err(err) => break Err(err),
        }
    };
    match result {
        Err(RequestError::Io(err)) if client_left(&err) => Ok(()),
        other => other,
    }
}

/// What a connection closed after an error answer ends with: `why`, unless
/// the close itself failed.
fn answered(closed: io::Result<()>, why: RequestError) -> Result<(), RequestError> {
    closed?;
    Err(why)
}

/// A reset between requests, or while we answer, is how load generators and
/// browsers often hang up: the client left, nothing went wrong here.
fn client_left(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt, duplex};
    use tokio_util::sync::CancellationToken;

    fn info(shutdown: CancellationToken) -> ConnInfo {
        let addr = "127.0.0.1:1".parse().expect("address");
        ConnInfo {
            peer: addr,
            local: addr,
            shutdown,
        }
    }

    #[tokio::test]
    async fn pipelined_requests_answered_in_one_batch() {
        let (mut client, server) = duplex(1 << 16);
        let codec = ServerCodec::new(Limits::default(), Arc::new(Answer::new("hi")));
        let task = tokio::spawn(handle(server, info(CancellationToken::new()), codec));
        client
            .write_all(
                b"GET /1 HTTP/1.1\r\nHost: x\r\n\r\nPOST /2 HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabcHEAD /3 HTTP/1.1\r\nHost: x\r\n\r\nGET /4 HT",
            )
            .await
            .expect("write");
        let mut first = vec![0u8; 4096];
        let n = tokio::time::timeout(Duration::from_secs(5), client.read(&mut first))
            .await
            .expect("in time")
            .expect("read");
        let text = String::from_utf8_lossy(&first[..n]).into_owned();
        assert_eq!(text.matches("HTTP/1.1 200 OK").count(), 3, "{text}");
        assert_eq!(
            text.matches("\r\n\r\nhi").count(),
            2,
            "HEAD has no body: {text}"
        );
        drop(client);
        let result = tokio::time::timeout(Duration::from_secs(5), task)
            .await
            .expect("in time")
            .expect("task");
        assert!(
            matches!(result, Err(RequestError::Truncated(_))),
            "{result:?}"
        );
    }
}
