//! The request head as a codec: httparse reads the head, the fields that
//! decide framing and persistence are interpreted, and the body that follows
//! is skipped before the request is handed out.
//!
//! ```text
//! request     METHOD SP TARGET SP HTTP/1.x CRLF *(FIELD: VALUE CRLF) CRLF [BODY]
//! 400         malformed request line or header, bad Content-Length, HTTP/1.1 without Host
//! 411         Transfer-Encoding (chunked) request bodies: send Content-Length instead
//! 413         Content-Length above max_body_bytes
//! 431         head longer than max_header_bytes or more than max_headers fields
//! 505         a well-formed request line with a version other than HTTP/1.x
//! ```
//! (408, a head that does not arrive in time, is the server's: a decoder
//! knows no clock.)

use std::fmt;
use std::io;
use std::mem::MaybeUninit;
use std::time::Duration;

use bytes::{Buf, BytesMut};
use tokio_util::codec::Decoder;

use super::parse_content_length;
use crate::net::EofInFrame;

/// The most header fields `max_headers` may allow: the parser's slots live
/// on the stack of every parse.
pub const MAX_HEADERS_CEILING: usize = 256;

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
}

impl fmt::Display for Reject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (code, reason) = self.status();
        write!(f, "{code} {reason}")
    }
}

/// Why a connection ended badly.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    /// The request was answered with this error status.
    #[error("answered {0}")]
    Rejected(Reject),
    /// The head was still incomplete when the header timeout ran out.
    #[error("answered 408 Request Timeout: request head not complete after {}s", .0.as_secs_f64())]
    HeadTimeout(Duration),
    /// The client closed with part of a request sent.
    #[error("the client closed in the middle of a request")]
    Truncated(#[from] EofInFrame),
    /// The socket failed.
    #[error(transparent)]
    Io(io::Error),
}

/// `net::Connection` reports EOF inside a frame as an I/O error.
impl From<io::Error> for RequestError {
    fn from(err: io::Error) -> Self {
        match EofInFrame::sort(err) {
            Ok(eof) => RequestError::Truncated(eof),
            Err(err) => RequestError::Io(err),
        }
    }
}

/// One request, parsed and with its body skipped: how to answer it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request {
    /// HEAD: the answer has no body.
    pub head_only: bool,
    /// The connection closes after the answer.
    pub close: bool,
    /// HTTP/1.0: keep-alive must be said explicitly.
    pub http10: bool,
}

/// Decodes request heads, skipping each request's body before handing the
/// request out; memory stays within `max_header_bytes` whatever is sent.
#[derive(Debug)]
pub struct RequestDecoder {
    limits: Limits,
    /// The request whose body is being skipped, and the body bytes left.
    skipping: Option<(Request, u64)>,
}

impl RequestDecoder {
    /// A decoder enforcing `limits` (`max_headers` is kept within 1 and
    /// [`MAX_HEADERS_CEILING`]).
    pub fn new(mut limits: Limits) -> Self {
        limits.max_headers = limits.max_headers.clamp(1, MAX_HEADERS_CEILING);
        Self {
            limits,
            skipping: None,
        }
    }

    /// The limits it enforces.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// True while part of a request head is buffered in `buf`.
    pub fn mid_head(&self, buf: &[u8]) -> bool {
        self.skipping.is_none() && !buf.is_empty()
    }
}

impl Decoder for RequestDecoder {
    type Item = Request;
    type Error = RequestError;

    fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Request>, RequestError> {
        if self.skipping.is_none() {
            if buf.is_empty() {
                return Ok(None);
            }
            let Some((len, request, body_len)) = parse(buf, &self.limits)? else {
                return Ok(None);
            };
            buf.advance(len);
            self.skipping = Some((request, body_len));
        }
        let Some((request, left)) = self.skipping.as_mut() else {
            return Ok(None);
        };
        let buffered = buf.len() as u64;
        if *left > buffered {
            // One byte stays buffered while the body is incomplete, so the
            // connection sees a request in flight (no shutdown between
            // frames, EOF is EOF inside a frame).
            let skip = buffered.saturating_sub(1);
            // `skip` is below `buf.len()`, a usize.
            buf.advance(skip as usize);
            *left -= skip;
            return Ok(None);
        }
        // `left` is at most `buf.len()`, a usize.
        buf.advance(*left as usize);
        let request = *request;
        self.skipping = None;
        Ok(Some(request))
    }
}

/// Parses the request head at the start of `buf`: its length, the request
/// and its body length, or `None` while incomplete.
fn parse(buf: &[u8], limits: &Limits) -> Result<Option<(usize, Request, u64)>, RequestError> {
    let mut slots = [const { MaybeUninit::<httparse::Header>::uninit() }; MAX_HEADERS_CEILING];
    let mut req = httparse::Request::new(&mut []);
    let max_headers = limits.max_headers.clamp(1, MAX_HEADERS_CEILING);
    let reject = |reject| Err(RequestError::Rejected(reject));
    match req.parse_with_uninit_headers(buf, &mut slots[..max_headers]) {
        Ok(httparse::Status::Complete(len)) if len > limits.max_header_bytes => {
            reject(Reject::HeadersTooLarge)
        }
        Ok(httparse::Status::Complete(len)) => match interpret(&req, limits) {
            Ok((request, body_len)) => Ok(Some((len, request, body_len))),
            Err(err) => reject(err),
        },
        Ok(httparse::Status::Partial) => partial(buf, limits),
        Err(httparse::Error::TooManyHeaders) => reject(Reject::HeadersTooLarge),
        Err(httparse::Error::Version) => version_problem(buf, limits),
        Err(_) => reject(Reject::BadRequest),
    }
}

fn partial<T>(buf: &[u8], limits: &Limits) -> Result<Option<T>, RequestError> {
    if buf.len() > limits.max_header_bytes {
        Err(RequestError::Rejected(Reject::HeadersTooLarge))
    } else {
        Ok(None)
    }
}

/// httparse knows only HTTP/1.x: a complete request line whose version is
/// well-formed but different (`HTTP/2.0`, `HTTP/3.0`) deserves 505, anything
/// else 400. httparse may stop at the version before the line is complete.
fn version_problem<T>(buf: &[u8], limits: &Limits) -> Result<Option<T>, RequestError> {
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
    Err(RequestError::Rejected(if well_formed && fields == 3 {
        Reject::Version
    } else {
        Reject::BadRequest
    }))
}

/// Reads the fields that decide framing and persistence.
fn interpret(req: &httparse::Request<'_, '_>, limits: &Limits) -> Result<(Request, u64), Reject> {
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
    let request = Request {
        head_only: req.method == Some("HEAD"),
        close,
        http10,
    };
    Ok((request, body_len))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(buf: &[u8]) -> Result<Option<Request>, Reject> {
        let mut decoder = RequestDecoder::new(Limits::default());
        let mut buf = BytesMut::from(buf);
        decoder.decode(&mut buf).map_err(|err| match err {
            RequestError::Rejected(reject) => reject,
            other => panic!("not a rejection: {other}"),
        })
    }

    fn head(buf: &[u8]) -> Request {
        match decode(buf) {
            Ok(Some(request)) => request,
            other => panic!("expected a complete request, got {other:?}"),
        }
    }

    fn rejected(buf: &[u8]) -> Reject {
        match decode(buf) {
            Err(reject) => reject,
            other => panic!("expected a rejection, got {other:?}"),
        }
    }

    #[test]
    fn keep_alive_rules() {
        let h = head(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        assert!(!h.close && !h.http10 && !h.head_only);
        let h = head(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: Close\r\n\r\n");
        assert!(h.close);
        let h = head(b"GET / HTTP/1.0\r\n\r\n");
        assert!(h.close && h.http10);
        let h = head(b"HEAD / HTTP/1.0\r\nConnection: upgrade, keep-alive\r\n\r\n");
        assert!(!h.close && h.head_only);
    }

    #[test]
    fn framing_and_limits() {
        let mut decoder = RequestDecoder::new(Limits::default());
        let mut buf =
            BytesMut::from(&b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhel"[..]);
        assert_eq!(decoder.decode(&mut buf).expect("partial body"), None);
        assert_eq!(
            &buf[..],
            b"l",
            "one byte stays while the body is incomplete"
        );
        buf.extend_from_slice(b"loGET");
        assert!(decoder.decode(&mut buf).expect("body done").is_some());
        assert_eq!(&buf[..], b"GET");
        assert!(decoder.mid_head(&buf));
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
        assert_eq!(decode(b"GET / HTTP/2"), Ok(None));
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
        assert_eq!(decode(b"GET / HTTP/1.1\r\nHost: x\r\n"), Ok(None));
    }
}
