//! The app protocol's wire format and its tokio-util codec.
//!
//! ```text
//! +--------------------+------------------------------+------------------+
//! | 2 bytes, unsigned, | JSON header, UTF-8,          | content,         |
//! | big-endian: length | exactly that many bytes      | content-length   |
//! | of the JSON header | (never 0)                    | bytes            |
//! +--------------------+------------------------------+------------------+
//!
//! b'\x00g{"byteorder": "little", "content-type": "text/json",
//!   "content-encoding": "utf-8", "content-length": 43}{"result": ...}'
//! ```
//! Headers are parsed by header.rs and written by python_json.rs the way
//! Python's `json.dumps(..., ensure_ascii=False)` writes them, so our bytes
//! match the original programs' bytes.
//!
//! Limits are checked before anything is buffered: the header is at most
//! 65535 bytes by construction, and a `content-length` above the codec's
//! maximum is an error as soon as the header has been read.

use std::borrow::Cow;
use std::io;

use bytes::{Buf, BufMut, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

use super::head_template::HeadTemplate;
use super::header::parse_head;
use super::message::{Header, Message};
use super::python_json::write_header;
use crate::net::EofInFrame;

/// The largest content a message may carry unless configured otherwise (16 MiB).
pub const DEFAULT_MAX_CONTENT: usize = 16 * 1024 * 1024;
/// Bytes of the big-endian header-length prefix.
pub const PREFIX_LEN: usize = 2;

// A peer's claimed content-length costs it nothing, so the buffer grows in
// steps as bytes really arrive instead of being reserved up front.
const RESERVE_STEP: usize = 64 * 1024;

/// Why bytes on the wire are not a valid message.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// The 2-byte prefix announced an empty header.
    #[error("JSON header length is 0")]
    EmptyHeader,
    /// The header bytes are not UTF-8.
    #[error("JSON header is not UTF-8: {0}")]
    HeaderNotUtf8(std::str::Utf8Error),
    /// The header is not JSON.
    #[error("JSON header is not valid JSON: {0}")]
    HeaderNotJson(serde_json::Error),
    /// The header is JSON but not an object.
    #[error("JSON header must be an object, not {0}")]
    HeaderNotObject(&'static str),
    /// A required key is absent (the original's wording).
    #[error("Missing required header \"{0}\".")]
    MissingKey(&'static str),
    /// A known key has a value of the wrong type or range.
    #[error("header \"{key}\" must be {expected}, not {found}")]
    BadValue {
        /// The key.
        key: &'static str,
        /// What it must be.
        expected: &'static str,
        /// What it was, as JSON.
        found: String,
    },
    /// `content-length` exceeds the configured maximum.
    #[error("content-length {length} is above the limit of {max} bytes")]
    ContentTooLong {
        /// The announced length.
        length: u64,
        /// The limit.
        max: usize,
    },
    /// The header we were asked to send does not fit the 2-byte prefix.
    #[error("JSON header of {0} bytes does not fit the 2-byte length prefix")]
    HeaderTooLong(usize),
    /// The stream ended inside a message.
    #[error("the connection closed in the middle of a message")]
    Truncated,
    /// The transport failed.
    #[error(transparent)]
    Io(io::Error),
}

/// `net::Connection` reports EOF inside a frame as an I/O error.
impl From<io::Error> for FrameError {
    fn from(err: io::Error) -> Self {
        match EofInFrame::sort(err) {
            Ok(eof) => eof.into(),
            Err(err) => FrameError::Io(err),
        }
    }
}

impl From<EofInFrame> for FrameError {
    fn from(_: EofInFrame) -> Self {
        FrameError::Truncated
    }
}

/// Encodes and decodes [`Message`]s; one codec per connection direction.
///
/// After the decoder returns an error the stream is out of step and must be
/// dropped (tokio-util's `FramedRead` stops by itself).
#[derive(Debug, Clone)]
pub struct MessageCodec {
    max_content: usize,
    // The header of the message whose content is still arriving.
    pending: Option<(Cow<'static, Header>, usize)>,
}

impl Default for MessageCodec {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_CONTENT)
    }
}

impl MessageCodec {
    /// A codec that rejects content longer than `max_content` bytes.
    pub fn new(max_content: usize) -> Self {
        MessageCodec {
            max_content,
            pending: None,
        }
    }

    /// The content limit.
    pub fn max_content(&self) -> usize {
        self.max_content
    }

    /// True between messages: no header is waiting for its content.
    pub fn is_between_messages(&self) -> bool {
        self.pending.is_none()
    }
}

impl MessageCodec {
    /// The next message's header once all its content is buffered, which
    /// is left at the front of `src`, and the content's length.
    fn decode_in_place(&mut self, src: &mut BytesMut) -> Result<Option<Head>, FrameError> {
        let (header, content_len) = match self.pending.take() {
            Some(pending) => pending,
            None => match decode_head(src, self.max_content)? {
                Some(head) => head,
                None => return Ok(None),
            },
        };
        if src.len() < content_len {
            src.reserve((content_len - src.len()).min(RESERVE_STEP));
            self.pending = Some((header, content_len));
            return Ok(None);
        }
        Ok(Some(Head {
            header,
            content_len,
        }))
    }
}

impl Decoder for MessageCodec {
    type Item = Message;
    type Error = FrameError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Message>, FrameError> {
        Ok(self.decode_in_place(src)?.map(|head| Message {
            content: src.split_to(head.content_len).freeze(),
            header: head.header.into_owned(),
        }))
    }

    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<Message>, FrameError> {
        match self.decode(src)? {
            Some(message) => Ok(Some(message)),
            None if src.is_empty() && self.pending.is_none() => Ok(None),
            None => Err(FrameError::Truncated),
        }
    }
}

/// A message's header, its content still in the read buffer.
#[derive(Debug)]
pub(super) struct Head {
    pub(super) header: Cow<'static, Header>,
    pub(super) content_len: usize,
}

/// Decodes a message's header and leaves its content at the front of the
/// read buffer, where the server reads it and then drops it
/// ([`crate::net::Connection::consume`]): splitting it off as `Bytes` took
/// and dropped a reference count per request. Encodes as [`MessageCodec`].
#[derive(Debug, Clone)]
pub(super) struct HeadCodec(MessageCodec);

impl HeadCodec {
    /// A codec that rejects content longer than `max_content` bytes.
    pub(super) fn new(max_content: usize) -> Self {
        HeadCodec(MessageCodec::new(max_content))
    }
}

impl Decoder for HeadCodec {
    type Item = Head;
    type Error = FrameError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Head>, FrameError> {
        self.0.decode_in_place(src)
    }
}

impl Encoder<&Message> for HeadCodec {
    type Error = FrameError;

    fn encode(&mut self, message: &Message, dst: &mut BytesMut) -> Result<(), FrameError> {
        self.0.encode(message, dst)
    }
}

/// A message given as a header template and the pieces of its content,
/// encoded without first gathering them into a [`Message`].
pub(super) struct Parts<'a> {
    pub(super) head: &'a HeadTemplate,
    pub(super) keep_alive: bool,
    pub(super) content: &'a [&'a [u8]],
}

impl Encoder<Parts<'_>> for HeadCodec {
    type Error = FrameError;

    fn encode(&mut self, parts: Parts<'_>, dst: &mut BytesMut) -> Result<(), FrameError> {
        let length = parts.content.iter().map(|piece| piece.len()).sum();
        parts.head.write(length, parts.keep_alive, dst)?;
        for piece in parts.content {
            dst.extend_from_slice(piece);
        }
        Ok(())
    }
}

/// Reads the prefix and the header once both are buffered.
fn decode_head(
    src: &mut BytesMut,
    max_content: usize,
) -> Result<Option<(Cow<'static, Header>, usize)>, FrameError> {
    let Some(&[hi, lo]) = src.get(..PREFIX_LEN) else {
        src.reserve(PREFIX_LEN);
        return Ok(None);
    };
    let header_len = usize::from(u16::from_be_bytes([hi, lo]));
    if header_len == 0 {
        return Err(FrameError::EmptyHeader);
    }
    let needed = PREFIX_LEN + header_len;
    if src.len() < needed {
        src.reserve(needed - src.len());
        return Ok(None);
    }
    // Read in place: splitting the header off would cost a reference
    // count taken and dropped per message.
    let (header, length) = parse_head(&src[PREFIX_LEN..needed])?;
    src.advance(needed);
    match usize::try_from(length) {
        Ok(length) if length <= max_content => Ok(Some((header, length))),
        _ => Err(FrameError::ContentTooLong {
            length,
            max: max_content,
        }),
    }
}

impl Encoder<&Message> for MessageCodec {
    type Error = FrameError;

    fn encode(&mut self, message: &Message, dst: &mut BytesMut) -> Result<(), FrameError> {
        dst.reserve(PREFIX_LEN + 128 + message.content.len());
        encode_head(&message.header, message.content.len(), dst)?;
        dst.extend_from_slice(&message.content);
        Ok(())
    }
}

/// Writes what goes before a message's content: the prefix and the header
/// announcing `content_length` bytes. Nothing is left written on an error.
pub(super) fn encode_head(
    header: &Header,
    content_length: usize,
    dst: &mut BytesMut,
) -> Result<(), FrameError> {
    let start = dst.len();
    dst.put_u16(0);
    write_header(header, content_length, &mut *dst);
    let header_len = dst.len() - start - PREFIX_LEN;
    let Ok(prefix) = u16::try_from(header_len) else {
        dst.truncate(start);
        return Err(FrameError::HeaderTooLong(header_len));
    };
    dst[start..start + PREFIX_LEN].copy_from_slice(&prefix.to_be_bytes());
    Ok(())
}

impl Encoder<Message> for MessageCodec {
    type Error = FrameError;

    fn encode(&mut self, message: Message, dst: &mut BytesMut) -> Result<(), FrameError> {
        self.encode(&message, dst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::message::ByteOrder;
    use bytes::Bytes;
    use serde_json::Value;

    fn encode(message: &Message) -> BytesMut {
        let mut buf = BytesMut::new();
        MessageCodec::default()
            .encode(message, &mut buf)
            .expect("encodes");
        buf
    }

    #[test]
    fn header_bytes_match_python() {
        let mut message = Message {
            header: Header::new("text/json", "utf-8"),
            content: Bytes::from_static(b"{}"),
        };
        message.header.byteorder = ByteOrder::Big;
        let expected: &[u8] = b"\x00c{\"byteorder\": \"big\", \"content-type\": \"text/json\", \
\"content-encoding\": \"utf-8\", \"content-length\": 2}{}";
        assert_eq!(&encode(&message)[..], expected);
    }

    #[test]
    fn decodes_in_pieces_and_keeps_extra_keys() {
        let mut message = Message {
            header: Header::new("binary/x", "binary"),
            content: Bytes::from_static(b"\x00\xffabc"),
        };
        message.header.keep_alive = true;
        message.header.extra.insert("id".into(), Value::from(7));
        let bytes = encode(&message);
        let mut codec = MessageCodec::default();
        let mut buf = BytesMut::new();
        for (i, byte) in bytes.iter().enumerate() {
            buf.put_u8(*byte);
            let decoded = codec.decode(&mut buf).expect("valid");
            assert_eq!(decoded.is_some(), i + 1 == bytes.len(), "at byte {i}");
            if let Some(decoded) = decoded {
                assert_eq!(decoded, message);
            }
        }
    }

    #[test]
    fn the_head_codec_leaves_the_content_at_the_front() {
        let message = Message::search("ring").with_keep_alive(true);
        let mut buf = encode(&message);
        buf.extend_from_slice(b"\x00");
        let mut codec = HeadCodec::new(DEFAULT_MAX_CONTENT);
        let mut partial = BytesMut::from(&buf[..buf.len() - 2]);
        assert!(codec.decode(&mut partial).expect("valid").is_none());
        partial.extend_from_slice(&buf[buf.len() - 2..]);
        let head = codec.decode(&mut partial).expect("valid").expect("whole");
        assert_eq!(*head.header, message.header);
        assert_eq!(&partial[..head.content_len], &message.content[..]);
        assert_eq!(&partial[head.content_len..], b"\x00");
    }

    #[test]
    fn content_limit_is_checked_before_the_content_arrives() {
        let header = br#"{"byteorder": "big", "content-length": 11, "content-type": "x", "content-encoding": "y"}"#;
        let mut buf = BytesMut::new();
        buf.put_u16(u16::try_from(header.len()).expect("short"));
        buf.extend_from_slice(header);
        let err = MessageCodec::new(10)
            .decode(&mut buf)
            .expect_err("too long");
        assert!(matches!(
            err,
            FrameError::ContentTooLong {
                length: 11,
                max: 10
            }
        ));
    }

    #[test]
    fn eof_inside_a_message_is_an_error() {
        let mut codec = MessageCodec::default();
        assert!(
            codec
                .decode_eof(&mut BytesMut::new())
                .expect("clean")
                .is_none()
        );
        let mut buf = BytesMut::from(&b"\x00"[..]);
        assert!(matches!(
            codec.decode_eof(&mut buf),
            Err(FrameError::Truncated)
        ));
    }
}
