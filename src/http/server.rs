//! The minimal HTTP server of the texts (`Hello World` on port 8001), made a
//! correct HTTP/1.1 server: keep-alive, pipelining, HEAD, error statuses and
//! limits on everything a client sends.
//!
//! ```text
//! request     METHOD SP TARGET SP HTTP/1.x CRLF *(FIELD: VALUE CRLF) CRLF [BODY]
//! 200         every method; HEAD gets the headers without the body
//! 400         malformed request line or header, bad Content-Length, HTTP/1.1 without Host
//! 408         the request head did not arrive within --header-timeout
//! 411         Transfer-Encoding (chunked) request bodies: send Content-Length instead
//! 413         Content-Length above --max-body-bytes
//! 431         head longer than --max-header-bytes or more than --max-headers fields
//! 505         a well-formed request line with a version other than HTTP/1.x
//! ```
//! Every complete request in the read buffer is answered before the next
//! read, and all the answers go out in one write. Errors are answered with
//! `Connection: close`; the server then half-closes and drains what the client
//! is still sending for a moment, so the client reads the answer instead of a
//! reset.

use std::future::Future;
use std::io;
use std::mem::MaybeUninit;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::time::Instant;

use super::{date, parse_content_length};
use crate::net::{self, ConnInfo, ServerOptions};

/// The texts' port.
pub const DEFAULT_PORT: u16 = 8001;
/// How long a keep-alive connection may wait for its next request.
pub const DEFAULT_IDLE: Duration = Duration::from_secs(60);
/// What the server answers unless `--body` says otherwise.
pub const DEFAULT_BODY: &str = "Hello World";
/// The most header fields `--max-headers` may allow: the parser's slots live
/// on the stack of every parse.
pub const MAX_HEADERS_CEILING: usize = 256;

/// Bytes asked of each read.
const READ_CHUNK: usize = 8 * 1024;
/// Answers are written once this many bytes are pending, even mid-batch, so a
/// pipelining client that never reads cannot grow our buffer without bound.
const FLUSH_AT: usize = 64 * 1024;
/// After an error answer, how long and how much of the client's input is
/// drained before closing (nginx's lingering close).
const LINGER_TIME: Duration = Duration::from_secs(2);
const LINGER_BYTES: usize = 1024 * 1024;

/// What the server accepts from a client.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Longest request head (request line and header fields).
    pub max_header_bytes: usize,
    /// Most header fields in one request (at most [`MAX_HEADERS_CEILING`]).
    pub max_headers: usize,
    /// Time allowed from a request's first byte to the end of its head.
    pub header_timeout: Duration,
    /// Largest request body (read and discarded).
    pub max_body_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_header_bytes: 8 * 1024,
            max_headers: 100,
            header_timeout: Duration::from_secs(10),
            max_body_bytes: 1024 * 1024,
        }
    }
}

/// Serves `Hello World` with the default limits until `shutdown` resolves.
pub async fn run(
    listener: TcpListener,
    config: ServerOptions,
    shutdown: impl Future<Output = ()> + Send,
) -> io::Result<()> {
    run_with(listener, config, DEFAULT_BODY, Limits::default(), shutdown).await
}

/// Serves `body` under `limits` until `shutdown` resolves.
pub async fn run_with(
    listener: TcpListener,
    config: ServerOptions,
    body: &str,
    mut limits: Limits,
    shutdown: impl Future<Output = ()> + Send,
) -> io::Result<()> {
    limits.max_headers = limits.max_headers.clamp(1, MAX_HEADERS_CEILING);
    let site = Arc::new(Site::new(body, limits));
    net::serve(listener, config, shutdown, move |io, conn| {
        let site = site.clone();
        async move { handle(io, conn, &site).await }
    })
    .await
}

/// The precomputed answer and the limits, shared by every connection.
struct Site {
    /// Everything after the Date value up to the Connection field:
    /// `\r\nContent-Type: ...\r\nContent-Length: N\r\n`.
    fields: Box<[u8]>,
    body: Box<[u8]>,
    limits: Limits,
}

impl Site {
    fn new(body: &str, limits: Limits) -> Self {
        let fields = format!(
            "\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\n",
            body.len()
        );
        Self {
            fields: fields.into_bytes().into_boxed_slice(),
            body: body.as_bytes().into(),
            limits,
        }
    }

    /// Appends the 200 answer to one request.
    fn answer(&self, reply: Reply, out: &mut Vec<u8>) {
        out.extend_from_slice(b"HTTP/1.1 200 OK\r\nDate: ");
        date::append(out);
        out.extend_from_slice(&self.fields);
        if reply.close {
            out.extend_from_slice(b"Connection: close\r\n");
        } else if reply.http10 {
            out.extend_from_slice(b"Connection: keep-alive\r\n");
        }
        out.extend_from_slice(b"\r\n");
        if !reply.head_only {
            out.extend_from_slice(&self.body);
        }
    }
}

/// An error status the server answers with before closing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reject {
    /// 400: the request cannot be parsed.
    BadRequest,
    /// 408: the head did not arrive in time.
    Timeout,
    /// 411: a body without Content-Length (chunked).
    LengthRequired,
    /// 413: Content-Length above the limit.
    TooLarge,
    /// 431: the head is too long or has too many fields.
    HeadersTooLarge,
    /// 505: an HTTP version other than 1.x.
    Version,
}

impl Reject {
    /// The status code and reason phrase.
    pub fn status(self) -> (u16, &'static str) {
        match self {
            Reject::BadRequest => (400, "Bad Request"),
            Reject::Timeout => (408, "Request Timeout"),
            Reject::LengthRequired => (411, "Length Required"),
            Reject::TooLarge => (413, "Content Too Large"),
            Reject::HeadersTooLarge => (431, "Request Header Fields Too Large"),
            Reject::Version => (505, "HTTP Version Not Supported"),
        }
    }

    fn append(self, out: &mut Vec<u8>) {
        let (code, reason) = self.status();
        let body = format!("{code} {reason}\n");
        out.extend_from_slice(format!("HTTP/1.1 {code} {reason}\r\nDate: ").as_bytes());
        date::append(out);
        out.extend_from_slice(
            format!(
                "\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            )
            .as_bytes(),
        );
    }
}

/// How to answer one parsed request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Reply {
    head_only: bool,
    close: bool,
    http10: bool,
}

/// One request head, parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Head {
    /// Bytes of the head, up to and including the empty line.
    len: usize,
    body_len: u64,
    reply: Reply,
}

/// What the buffered bytes hold.
#[derive(Debug, PartialEq, Eq)]
enum Parsed {
    Complete(Head),
    Partial,
    Rejected(Reject),
}

/// Parses the request head at the start of `buf` with httparse.
fn parse(buf: &[u8], limits: &Limits) -> Parsed {
    let mut slots = [const { MaybeUninit::<httparse::Header>::uninit() }; MAX_HEADERS_CEILING];
    let mut req = httparse::Request::new(&mut []);
    let max_headers = limits.max_headers.clamp(1, MAX_HEADERS_CEILING);
    match req.parse_with_uninit_headers(buf, &mut slots[..max_headers]) {
        Ok(httparse::Status::Complete(len)) if len > limits.max_header_bytes => {
            Parsed::Rejected(Reject::HeadersTooLarge)
        }
        Ok(httparse::Status::Complete(len)) => match interpret(&req, len, limits) {
            Ok(head) => Parsed::Complete(head),
            Err(reject) => Parsed::Rejected(reject),
        },
        Ok(httparse::Status::Partial) => partial(buf, limits),
        Err(httparse::Error::TooManyHeaders) => Parsed::Rejected(Reject::HeadersTooLarge),
        Err(httparse::Error::Version) => version_problem(buf, limits),
        Err(_) => Parsed::Rejected(Reject::BadRequest),
    }
}

fn partial(buf: &[u8], limits: &Limits) -> Parsed {
    if buf.len() > limits.max_header_bytes {
        Parsed::Rejected(Reject::HeadersTooLarge)
    } else {
        Parsed::Partial
    }
}

/// httparse knows only HTTP/1.x: a complete request line whose version is
/// well-formed but different (`HTTP/2.0`, `HTTP/3.0`) deserves 505, anything
/// else 400. httparse may stop at the version before the line is complete.
fn version_problem(buf: &[u8], limits: &Limits) -> Parsed {
    let start = buf
        .iter()
        .position(|&b| b != b'\r' && b != b'\n')
        .unwrap_or(buf.len());
    let Some(end) = buf[start..].iter().position(|&b| b == b'\n') else {
        return partial(buf, limits);
    };
    let line = &buf[start..start + end];
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let version = line.rsplit(|&b| b == b' ').next().unwrap_or_default();
    let well_formed = match version.strip_prefix(b"HTTP/") {
        Some([major]) => major.is_ascii_digit(),
        Some([major, b'.', minor]) => major.is_ascii_digit() && minor.is_ascii_digit(),
        _ => false,
    };
    let fields = line.split(|&b| b == b' ').count();
    if well_formed && fields == 3 {
        Parsed::Rejected(Reject::Version)
    } else {
        Parsed::Rejected(Reject::BadRequest)
    }
}

/// Reads the fields that decide framing and persistence.
fn interpret(req: &httparse::Request<'_, '_>, len: usize, limits: &Limits) -> Result<Head, Reject> {
    let http10 = req.version == Some(0);
    let mut close_token = false;
    let mut keep_alive_token = false;
    let mut body_len: Option<u64> = None;
    let mut hosts = 0;
    for header in req.headers.iter() {
        let name = header.name;
        if name.eq_ignore_ascii_case("connection") {
            for token in header.value.split(|&b| b == b',') {
                let token = token.trim_ascii();
                close_token |= token.eq_ignore_ascii_case(b"close");
                keep_alive_token |= token.eq_ignore_ascii_case(b"keep-alive");
            }
        } else if name.eq_ignore_ascii_case("content-length") {
            let value = parse_content_length(header.value).ok_or(Reject::BadRequest)?;
            // Repeated Content-Length fields must agree (RFC 9112 §6.3).
            if body_len.is_some_and(|seen| seen != value) {
                return Err(Reject::BadRequest);
            }
            body_len = Some(value);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            return Err(Reject::LengthRequired);
        } else if name.eq_ignore_ascii_case("host") {
            hosts += 1;
        }
    }
    if !http10 && hosts != 1 {
        return Err(Reject::BadRequest);
    }
    let body_len = body_len.unwrap_or(0);
    if body_len > limits.max_body_bytes {
        return Err(Reject::TooLarge);
    }
    let close = if http10 {
        !keep_alive_token
    } else {
        close_token
    };
    Ok(Head {
        len,
        body_len,
        reply: Reply {
            head_only: req.method == Some("HEAD"),
            close,
            http10,
        },
    })
}

/// What the connection does after answering what is buffered.
#[derive(Debug, PartialEq, Eq)]
enum Next {
    /// Write what is pending, then read more.
    Read,
    /// Write what is pending and go on answering without reading.
    Flush,
    /// Write what is pending and close.
    Close,
    /// Answer with an error and close.
    Fail(Reject),
}

/// A connection's buffers and framing state, reused for every request.
struct Conn<'a> {
    site: &'a Site,
    input: BytesMut,
    output: Vec<u8>,
    /// Body bytes of the current request still to be skipped.
    body_left: u64,
    /// The request whose body is being skipped, answered once it is.
    waiting: Option<Reply>,
    /// When the first byte of the head being received was read.
    head_started: Option<Instant>,
}

impl<'a> Conn<'a> {
    fn new(site: &'a Site) -> Self {
        Self {
            site,
            input: BytesMut::with_capacity(READ_CHUNK),
            output: Vec::with_capacity(READ_CHUNK),
            body_left: 0,
            waiting: None,
            head_started: None,
        }
    }

    /// True while part of a request head is buffered.
    fn mid_head(&self) -> bool {
        self.body_left == 0 && !self.input.is_empty()
    }

    /// Answers every complete request in the input buffer.
    fn process(&mut self, stopping: bool) -> Next {
        loop {
            if self.body_left > 0 {
                let skip = self.body_left.min(self.input.len() as u64);
                // `skip` is at most `input.len()`, a usize.
                self.input.advance(skip as usize);
                self.body_left -= skip;
                if self.body_left > 0 {
                    return Next::Read;
                }
            }
            if let Some(reply) = self.waiting.take() {
                self.site.answer(reply, &mut self.output);
                if reply.close {
                    return Next::Close;
                }
                if self.output.len() >= FLUSH_AT {
                    return Next::Flush;
                }
            }
            if self.input.is_empty() {
                return Next::Read;
            }
            match parse(&self.input, &self.site.limits) {
                Parsed::Complete(mut head) => {
                    self.input.advance(head.len);
                    self.head_started = None;
                    head.reply.close |= stopping;
                    self.body_left = head.body_len;
                    self.waiting = Some(head.reply);
                }
                Parsed::Partial => return Next::Read,
                Parsed::Rejected(reject) => return Next::Fail(reject),
            }
        }
    }
}

async fn handle<S: AsyncRead + AsyncWrite + Unpin>(
    mut io: S,
    info: ConnInfo,
    site: &Site,
) -> io::Result<()> {
    let mut conn = Conn::new(site);
    // Registered once per connection rather than once per read.
    let stop = info.shutdown.cancelled();
    tokio::pin!(stop);
    loop {
        let next = conn.process(info.shutdown.is_cancelled());
        if let Next::Fail(reject) = next {
            reject.append(&mut conn.output);
        }
        if !conn.output.is_empty() {
            match io.write_all(&conn.output).await {
                Ok(()) => conn.output.clear(),
                Err(err) if client_left(&err) => return Ok(()),
                Err(err) => return Err(err),
            }
        }
        match next {
            Next::Read => {}
            Next::Flush => continue,
            Next::Close => {
                linger(&mut io).await;
                return Ok(());
            }
            Next::Fail(reject) => {
                linger(&mut io).await;
                let (code, reason) = reject.status();
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("answered {code} {reason}"),
                ));
            }
        }

        conn.input.reserve(READ_CHUNK);
        let read = if conn.mid_head() {
            let started = *conn.head_started.get_or_insert_with(Instant::now);
            let deadline = started + site.limits.header_timeout;
            match tokio::time::timeout_at(deadline, io.read_buf(&mut conn.input)).await {
                Ok(read) => read?,
                Err(_) => {
                    conn.output.clear();
                    Reject::Timeout.append(&mut conn.output);
                    io.write_all(&conn.output).await?;
                    linger(&mut io).await;
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!(
                            "answered 408 Request Timeout: request head not complete after {}s",
                            site.limits.header_timeout.as_secs_f64()
                        ),
                    ));
                }
            }
        } else {
            if conn.body_left == 0 && info.shutdown.is_cancelled() {
                return io.shutdown().await;
            }
            tokio::select! {
                biased;
                read = io.read_buf(&mut conn.input) => match read {
                    Ok(read) => read,
                    Err(err) if client_left(&err) => return Ok(()),
                    Err(err) => return Err(err),
                },
                () = &mut stop, if conn.body_left == 0 => return io.shutdown().await,
            }
        };
        if read == 0 {
            if conn.input.is_empty() && conn.body_left == 0 {
                return Ok(());
            }
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the client closed in the middle of a request",
            ));
        }
    }
}

/// A reset between requests, or while we answer, is how load generators and
/// browsers often hang up: the client left, nothing went wrong here.
fn client_left(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe
    )
}

/// Half-closes after the last answer and drains the client's input for a
/// moment: closing with unread input would send a reset that can destroy the
/// answer before the client reads it.
async fn linger<S: AsyncRead + AsyncWrite + Unpin>(io: &mut S) {
    if io.shutdown().await.is_err() {
        return;
    }
    let deadline = Instant::now() + LINGER_TIME;
    let mut sink = [0u8; 4096];
    let mut drained = 0;
    while drained < LINGER_BYTES {
        match tokio::time::timeout_at(deadline, io.read(&mut sink)).await {
            Ok(Ok(n)) if n > 0 => drained += n,
            _ => break,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits::default()
    }

    fn head(buf: &[u8]) -> Head {
        match parse(buf, &limits()) {
            Parsed::Complete(head) => head,
            other => panic!("expected a complete head, got {other:?}"),
        }
    }

    fn rejected(buf: &[u8]) -> Reject {
        match parse(buf, &limits()) {
            Parsed::Rejected(reject) => reject,
            other => panic!("expected a rejection, got {other:?}"),
        }
    }

    #[test]
    fn keep_alive_rules() {
        let h = head(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        assert!(!h.reply.close && !h.reply.http10 && !h.reply.head_only);
        let h = head(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: Close\r\n\r\n");
        assert!(h.reply.close);
        let h = head(b"GET / HTTP/1.0\r\n\r\n");
        assert!(h.reply.close && h.reply.http10);
        let h = head(b"HEAD / HTTP/1.0\r\nConnection: upgrade, keep-alive\r\n\r\n");
        assert!(!h.reply.close && h.reply.head_only);
    }

    #[test]
    fn framing_and_limits() {
        let h = head(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello");
        assert_eq!(h.body_len, 5);
        assert_eq!(h.len, 47);
        assert_eq!(
            rejected(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +5\r\n\r\n"),
            Reject::BadRequest
        );
        assert_eq!(
            rejected(
                b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n"
            ),
            Reject::BadRequest
        );
        assert_eq!(
            rejected(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"),
            Reject::LengthRequired
        );
        assert_eq!(
            rejected(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n\r\n"),
            Reject::TooLarge
        );
        assert_eq!(rejected(b"GET / HTTP/1.1\r\n\r\n"), Reject::BadRequest);
    }

    #[test]
    fn versions_and_garbage() {
        assert_eq!(
            rejected(b"GET / HTTP/3.0\r\nHost: x\r\n\r\n"),
            Reject::Version
        );
        assert_eq!(
            rejected(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"),
            Reject::Version
        );
        assert_eq!(rejected(b"GET / HTTP/x.y\r\n\r\n"), Reject::BadRequest);
        assert_eq!(rejected(b"hello there\r\n\r\n"), Reject::BadRequest);
        // The version is judged only once its line is complete.
        assert_eq!(parse(b"GET / HTTP/2", &limits()), Parsed::Partial);
    }

    #[test]
    fn oversized_heads() {
        let mut many = b"GET / HTTP/1.1\r\nHost: x\r\n".to_vec();
        for i in 0..150 {
            many.extend_from_slice(format!("X-{i}: y\r\n").as_bytes());
        }
        many.extend_from_slice(b"\r\n");
        assert_eq!(rejected(&many), Reject::HeadersTooLarge);
        let long = vec![b'a'; 9000];
        assert_eq!(
            rejected(&[b"GET /".as_slice(), &long].concat()),
            Reject::HeadersTooLarge
        );
        assert_eq!(
            parse(b"GET / HTTP/1.1\r\nHost: x\r\n", &limits()),
            Parsed::Partial
        );
    }

    #[test]
    fn pipelined_requests_answered_in_one_batch() {
        let site = Site::new("hi", limits());
        let mut conn = Conn::new(&site);
        conn.input.extend_from_slice(
            b"GET /1 HTTP/1.1\r\nHost: x\r\n\r\nPOST /2 HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabcHEAD /3 HTTP/1.1\r\nHost: x\r\n\r\nGET /4 HT",
        );
        assert_eq!(conn.process(false), Next::Read);
        let text = String::from_utf8(conn.output.clone()).expect("ascii");
        assert_eq!(text.matches("HTTP/1.1 200 OK").count(), 3);
        assert_eq!(
            text.matches("\r\n\r\nhi").count(),
            2,
            "HEAD has no body: {text}"
        );
        assert_eq!(&conn.input[..], b"GET /4 HT");
        assert!(conn.mid_head());
    }
}
