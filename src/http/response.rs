//! The client's response parser: status line and header fields (httparse),
//! interim 1xx answers, then the body by its framing (Content-Length,
//! chunked, or everything until the server closes).
//!
//! ```text
//! response   HTTP/1.x SP CODE SP REASON CRLF *(FIELD: VALUE CRLF) CRLF [BODY]
//! interim    1xx heads (but 101) before the real one: no body
//! ```
//! A hostile server can neither crash it nor make it buffer without bound:
//! a head is at most [`MAX_HEAD`] bytes with [`MAX_FIELDS`] fields, at most
//! [`MAX_INTERIM`] interim heads come first, and a body is handed out as it
//! is decoded, a read at a time.

use bytes::{Bytes, BytesMut};

use super::body::{BodyDecoder, BodyError, Framing};
use super::parse_content_length;

/// Longest response head accepted.
pub const MAX_HEAD: usize = 64 * 1024;
/// Most header fields in a response head.
pub const MAX_FIELDS: usize = 100;
/// Most interim (1xx) heads before the real one.
pub const MAX_INTERIM: usize = 64;

/// A response that breaks HTTP.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ResponseError {
    /// The head passed [`MAX_HEAD`].
    #[error("response head longer than {MAX_HEAD} bytes")]
    HeadTooLong,
    /// httparse refused the head.
    #[error("malformed response head: {0}")]
    Malformed(httparse::Error),
    /// A Content-Length that is not a number.
    #[error("bad Content-Length {0:?}")]
    ContentLength(String),
    /// Two Content-Length fields that disagree.
    #[error("conflicting Content-Length fields")]
    ConflictingLength,
    /// More interim heads than [`MAX_INTERIM`].
    #[error("more than {MAX_INTERIM} interim responses")]
    TooManyInterim,
    /// The server closed before the head was complete.
    #[error("the server closed the connection before sending a complete response head")]
    NoHead,
    /// The body breaks its framing.
    #[error(transparent)]
    Body(#[from] BodyError),
}

/// One response head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    /// The status code.
    pub code: u16,
    /// The reason phrase.
    pub reason: String,
    /// The header fields, in order.
    pub fields: Vec<(String, Vec<u8>)>,
    /// How its body ends.
    pub framing: Framing,
    /// The head's bytes as received, up to and including the empty line.
    pub raw: Bytes,
}

impl Head {
    /// An interim answer (100 Continue, 103 Early Hints): the real one follows.
    pub fn is_interim(&self) -> bool {
        (100..200).contains(&self.code) && self.code != 101
    }
}

/// What the decoder made of the bytes so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    /// A head, interim or final.
    Head(Head),
    /// Body bytes: decoded, and the wire bytes they came from.
    Body {
        /// The body's bytes.
        data: Bytes,
        /// The same stretch as received (chunk framing included).
        wire: Bytes,
    },
}

#[derive(Debug)]
enum Phase {
    Head { interim: usize },
    Body(BodyDecoder),
}

/// Decodes one response as its bytes arrive.
#[derive(Debug)]
pub struct ResponseDecoder {
    phase: Phase,
}

impl Default for ResponseDecoder {
    fn default() -> Self {
        Self {
            phase: Phase::Head { interim: 0 },
        }
    }
}

impl ResponseDecoder {
    /// A decoder waiting for the first head.
    pub fn new() -> Self {
        Self::default()
    }

    /// True once the final head and the whole body have been decoded.
    pub fn is_done(&self) -> bool {
        matches!(&self.phase, Phase::Body(body) if body.is_done())
    }

    /// Takes the next part from the front of `input`, or `None` when more
    /// bytes are needed (or the response is done).
    pub fn decode(&mut self, input: &mut BytesMut) -> Result<Option<Part>, ResponseError> {
        match &mut self.phase {
            Phase::Head { interim } => {
                let Some((len, code, reason, fields, framing)) = parse_head(input)? else {
                    return if input.len() > MAX_HEAD {
                        Err(ResponseError::HeadTooLong)
                    } else {
                        Ok(None)
                    };
                };
                let head = Head {
                    code,
                    reason,
                    fields,
                    framing,
                    raw: input.split_to(len).freeze(),
                };
                if head.is_interim() {
                    *interim += 1;
                    if *interim > MAX_INTERIM {
                        return Err(ResponseError::TooManyInterim);
                    }
                } else {
                    self.phase = Phase::Body(BodyDecoder::new(framing));
                }
                Ok(Some(Part::Head(head)))
            }
            Phase::Body(body) => {
                if input.is_empty() || body.is_done() {
                    return Ok(None);
                }
                let mut data = Vec::new();
                let used = body.decode(input, &mut data)?;
                if used == 0 {
                    return Ok(None);
                }
                Ok(Some(Part::Body {
                    data: data.into(),
                    wire: input.split_to(used).freeze(),
                }))
            }
        }
    }

    /// Called when the server closes: fine once done, or for a body that
    /// ends with the connection.
    pub fn finish(&mut self) -> Result<(), ResponseError> {
        match &mut self.phase {
            Phase::Head { .. } => Err(ResponseError::NoHead),
            Phase::Body(body) => Ok(body.finish()?),
        }
    }
}

/// A parsed head's length, status, fields and framing.
type Parsed = (usize, u16, String, Vec<(String, Vec<u8>)>, Framing);

/// Parses a complete response head at the start of `buf`, or `None` if more
/// bytes are needed.
fn parse_head(buf: &[u8]) -> Result<Option<Parsed>, ResponseError> {
    let mut fields = [httparse::EMPTY_HEADER; MAX_FIELDS];
    let mut response = httparse::Response::new(&mut fields);
    let len = match response.parse(buf) {
        // Too long however it arrived, so that no split of it passes.
        Ok(httparse::Status::Complete(len)) if len > MAX_HEAD => {
            return Err(ResponseError::HeadTooLong);
        }
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(err) => return Err(ResponseError::Malformed(err)),
    };
    let code = response.code.unwrap_or_default();
    let framing = framing(code, response.headers)?;
    let fields = response
        .headers
        .iter()
        .map(|field| (field.name.to_owned(), field.value.to_vec()))
        .collect();
    let reason = response.reason.unwrap_or_default().to_owned();
    Ok(Some((len, code, reason, fields, framing)))
}

/// RFC 9112 §6.3: how the body of a response to GET ends.
fn framing(code: u16, fields: &[httparse::Header<'_>]) -> Result<Framing, ResponseError> {
    if (100..200).contains(&code) || code == 204 || code == 304 {
        return Ok(Framing::Empty);
    }
    let mut length = None;
    for field in fields {
        if field.name.eq_ignore_ascii_case("transfer-encoding") {
            let last = field
                .value
                .rsplit(|&b| b == b',')
                .next()
                .unwrap_or_default();
            return Ok(if last.trim_ascii().eq_ignore_ascii_case(b"chunked") {
                Framing::Chunked
            } else {
                Framing::UntilClose
            });
        }
        if field.name.eq_ignore_ascii_case("content-length") {
            let value = parse_content_length(field.value).ok_or_else(|| {
                ResponseError::ContentLength(String::from_utf8_lossy(field.value).into_owned())
            })?;
            if length.is_some_and(|seen| seen != value) {
                return Err(ResponseError::ConflictingLength);
            }
            length = Some(value);
        }
    }
    Ok(length.map_or(Framing::UntilClose, Framing::Length))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(text: &[u8]) -> Head {
        let mut input = BytesMut::from(text);
        match ResponseDecoder::new().decode(&mut input) {
            Ok(Some(Part::Head(head))) => head,
            other => panic!("expected a head, got {other:?}"),
        }
    }

    fn error(text: &[u8]) -> ResponseError {
        let mut input = BytesMut::from(text);
        ResponseDecoder::new()
            .decode(&mut input)
            .expect_err("a bad head")
    }

    #[test]
    fn framing_rules() {
        let h = head(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello");
        assert_eq!(
            (h.code, h.framing, h.raw.len()),
            (200, Framing::Length(5), 38)
        );
        assert_eq!(h.fields, vec![("Content-Length".to_owned(), b"5".to_vec())]);
        let h = head(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\nContent-Length: 5\r\n\r\n",
        );
        assert_eq!(h.framing, Framing::Chunked);
        let h = head(b"HTTP/1.0 200 OK\r\n\r\n");
        assert_eq!(h.framing, Framing::UntilClose);
        let h = head(b"HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n");
        assert_eq!(h.framing, Framing::Empty);
        assert_eq!(
            error(b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n"),
            ResponseError::ContentLength("x".to_owned())
        );
        let mut partial = BytesMut::from(&b"HTTP/1.1 200 OK\r\n"[..]);
        assert_eq!(ResponseDecoder::new().decode(&mut partial), Ok(None));
    }

    #[test]
    fn interim_heads_then_a_chunked_body() {
        let mut decoder = ResponseDecoder::new();
        let mut input = BytesMut::from(
            &b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"[..],
        );
        let mut codes = Vec::new();
        let mut body = Vec::new();
        while let Some(part) = decoder.decode(&mut input).expect("valid") {
            match part {
                Part::Head(head) => codes.push(head.code),
                Part::Body { data, .. } => body.extend_from_slice(&data),
            }
        }
        assert_eq!(codes, [100, 200]);
        assert_eq!(body, b"abc");
        assert!(decoder.is_done());
    }

    #[test]
    fn hostile_servers_are_bounded() {
        let long = [b"HTTP/1.1 200 OK\r\nX: ".as_slice(), &[b'a'; MAX_HEAD]].concat();
        assert_eq!(error(&long), ResponseError::HeadTooLong);
        let mut decoder = ResponseDecoder::new();
        let mut input = BytesMut::from(
            b"HTTP/1.1 100 Continue\r\n\r\n"
                .repeat(MAX_INTERIM + 1)
                .as_slice(),
        );
        let mut result = Ok(None);
        for _ in 0..=MAX_INTERIM {
            result = decoder.decode(&mut input);
        }
        assert_eq!(result, Err(ResponseError::TooManyInterim));
        assert_eq!(ResponseDecoder::new().finish(), Err(ResponseError::NoHead));
    }
}
