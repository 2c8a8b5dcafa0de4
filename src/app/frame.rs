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
//! The four keys above are required; `"keep-alive": true` is understood; any
//! other key is kept in [`Header::extra`] and otherwise ignored. Headers are
//! written the way Python's `json.dumps(..., ensure_ascii=False)` writes them
//! (`", "` and `": "` separators, non-ASCII as UTF-8), so our bytes match the
//! original programs' bytes.
//!
//! Limits are checked before anything is buffered: the header is at most
//! 65535 bytes by construction, and a `content-length` above the codec's
//! maximum is an error as soon as the header has been read.

use std::borrow::Cow;
use std::io;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use serde::de::{Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeMap, Serializer as _};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use tokio_util::codec::{Decoder, Encoder};

/// The largest content a message may carry unless configured otherwise (16 MiB).
pub const DEFAULT_MAX_CONTENT: usize = 16 * 1024 * 1024;
/// Bytes of the big-endian header-length prefix.
pub const PREFIX_LEN: usize = 2;
/// The keys every header must hold, in the order the original checks them.
pub const REQUIRED_KEYS: [&str; 4] = [
    "byteorder",
    "content-length",
    "content-type",
    "content-encoding",
];
/// The optional key that keeps a connection open after the answer.
pub const KEEP_ALIVE: &str = "keep-alive";

// A peer's claimed content-length costs it nothing, so the buffer grows in
// steps as bytes really arrive instead of being reserved up front.
const RESERVE_STEP: usize = 64 * 1024;

/// The sender's byte order, as Python's `sys.byteorder` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ByteOrder {
    /// `"little"`
    Little,
    /// `"big"`
    Big,
}

impl ByteOrder {
    /// This machine's byte order.
    pub const NATIVE: ByteOrder = if cfg!(target_endian = "big") {
        ByteOrder::Big
    } else {
        ByteOrder::Little
    };

    /// The header value: `"little"` or `"big"`.
    pub fn as_str(self) -> &'static str {
        match self {
            ByteOrder::Little => "little",
            ByteOrder::Big => "big",
        }
    }
}

/// A message's JSON header, without `content-length` (the content's own
/// length, so a [`Message`] can never disagree with itself).
#[derive(Debug, Clone, PartialEq)]
pub struct Header {
    /// The sender's byte order (informational, as in the original).
    pub byteorder: ByteOrder,
    /// `text/json` or anything else (binary).
    pub content_type: String,
    /// `utf-8` for text/json, `binary` for binary content.
    pub content_encoding: String,
    /// `"keep-alive": true`: the connection stays open after the answer.
    pub keep_alive: bool,
    /// Any other keys; a known key placed here is not written.
    pub extra: Map<String, Value>,
}

impl Header {
    /// A header with this machine's byte order and no keep-alive.
    pub fn new(content_type: &str, content_encoding: &str) -> Self {
        Header {
            byteorder: ByteOrder::NATIVE,
            content_type: content_type.to_string(),
            content_encoding: content_encoding.to_string(),
            keep_alive: false,
            extra: Map::new(),
        }
    }
}

/// One app-protocol message: a header and its content.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// The JSON header.
    pub header: Header,
    /// The content, `content-length` bytes.
    pub content: Bytes,
}

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
    Io(#[from] io::Error),
}

/// Encodes and decodes [`Message`]s; one codec per connection direction.
///
/// After the decoder returns an error the stream is out of step and must be
/// dropped (tokio-util's `FramedRead` stops by itself).
#[derive(Debug, Clone)]
pub struct MessageCodec {
    max_content: usize,
    // The header of the message whose content is still arriving.
    pending: Option<(Header, usize)>,
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

impl Decoder for MessageCodec {
    type Item = Message;
    type Error = FrameError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Message>, FrameError> {
        let (header, length) = match self.pending.take() {
            Some(pending) => pending,
            None => match decode_head(src, self.max_content)? {
                Some(head) => head,
                None => return Ok(None),
            },
        };
        if src.len() < length {
            src.reserve((length - src.len()).min(RESERVE_STEP));
            self.pending = Some((header, length));
            return Ok(None);
        }
        let content = src.split_to(length).freeze();
        Ok(Some(Message { header, content }))
    }

    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<Message>, FrameError> {
        match self.decode(src)? {
            Some(message) => Ok(Some(message)),
            None if src.is_empty() && self.pending.is_none() => Ok(None),
            None => Err(FrameError::Truncated),
        }
    }
}

/// Reads the prefix and the header once both are buffered.
fn decode_head(
    src: &mut BytesMut,
    max_content: usize,
) -> Result<Option<(Header, usize)>, FrameError> {
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
    src.advance(PREFIX_LEN);
    let raw = src.split_to(header_len);
    let (header, length) = parse_header(&raw)?;
    match usize::try_from(length) {
        Ok(length) if length <= max_content => Ok(Some((header, length))),
        _ => Err(FrameError::ContentTooLong {
            length,
            max: max_content,
        }),
    }
}

/// Parses and checks a JSON header; returns it with its `content-length`.
pub fn parse_header(raw: &[u8]) -> Result<(Header, u64), FrameError> {
    let text = std::str::from_utf8(raw).map_err(FrameError::HeaderNotUtf8)?;
    let fields = match serde_json::from_str(text).map_err(FrameError::HeaderNotJson)? {
        RawHeader::Object(fields) => fields,
        RawHeader::Other(kind) => return Err(FrameError::HeaderNotObject(kind)),
    };
    let [
        byteorder,
        length,
        content_type,
        content_encoding,
        keep_alive,
    ] = fields.known;
    let required = [&byteorder, &length, &content_type, &content_encoding];
    if let Some(at) = required.iter().position(|value| value.is_none()) {
        return Err(FrameError::MissingKey(REQUIRED_KEYS[at]));
    }
    let byteorder = match byteorder {
        Some(Value::String(s)) if s == "little" => ByteOrder::Little,
        Some(Value::String(s)) if s == "big" => ByteOrder::Big,
        other => return Err(bad_value("byteorder", "\"little\" or \"big\"", other)),
    };
    // as_u64 is None for negative numbers, fractions (1.5, even 12.0) and strings.
    let Some(length_value) = length.as_ref().and_then(Value::as_u64) else {
        return Err(bad_value(
            "content-length",
            "a non-negative integer",
            length,
        ));
    };
    let header = Header {
        byteorder,
        content_type: string("content-type", content_type)?,
        content_encoding: string("content-encoding", content_encoding)?,
        keep_alive: match keep_alive {
            None => false,
            Some(Value::Bool(keep)) => keep,
            other => return Err(bad_value(KEEP_ALIVE, "true or false", other)),
        },
        extra: fields.extra,
    };
    Ok((header, length_value))
}

/// A header as parsed: the known keys picked out while parsing (no map is
/// built for them; a repeated key keeps its last value, as in a JSON object
/// parsed whole), or the kind of JSON value that is not an object.
enum RawHeader {
    Object(HeaderFields),
    Other(&'static str),
}

struct HeaderFields {
    /// [`REQUIRED_KEYS`] in order, then [`KEEP_ALIVE`].
    known: [Option<Value>; 5],
    extra: Map<String, Value>,
}

impl<'de> Deserialize<'de> for RawHeader {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(RawHeaderVisitor)
    }
}

struct RawHeaderVisitor;

impl<'de> Visitor<'de> for RawHeaderVisitor {
    type Value = RawHeader;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawHeader, A::Error> {
        let mut fields = HeaderFields {
            known: Default::default(),
            extra: Map::new(),
        };
        while let Some(Key(key)) = map.next_key()? {
            let slot = REQUIRED_KEYS
                .iter()
                .chain([&KEEP_ALIVE])
                .position(|known| *known == key);
            let value = map.next_value::<Value>()?;
            match slot {
                Some(at) => fields.known[at] = Some(value),
                None => {
                    fields.extra.insert(key.into_owned(), value);
                }
            }
        }
        Ok(RawHeader::Object(fields))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawHeader, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(RawHeader::Other("an array"))
    }

    fn visit_unit<E>(self) -> Result<RawHeader, E> {
        Ok(RawHeader::Other("null"))
    }

    fn visit_bool<E>(self, _: bool) -> Result<RawHeader, E> {
        Ok(RawHeader::Other("a boolean"))
    }

    fn visit_i64<E>(self, _: i64) -> Result<RawHeader, E> {
        Ok(RawHeader::Other("a number"))
    }

    fn visit_u64<E>(self, _: u64) -> Result<RawHeader, E> {
        Ok(RawHeader::Other("a number"))
    }

    fn visit_f64<E>(self, _: f64) -> Result<RawHeader, E> {
        Ok(RawHeader::Other("a number"))
    }

    fn visit_str<E>(self, _: &str) -> Result<RawHeader, E> {
        Ok(RawHeader::Other("a string"))
    }
}

/// An object key, borrowed from the input unless it has escapes.
struct Key<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(KeyVisitor)
    }
}

struct KeyVisitor;

impl<'de> Visitor<'de> for KeyVisitor {
    type Value = Key<'de>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a string key")
    }

    fn visit_borrowed_str<E>(self, key: &'de str) -> Result<Key<'de>, E> {
        Ok(Key(Cow::Borrowed(key)))
    }

    fn visit_str<E>(self, key: &str) -> Result<Key<'de>, E> {
        Ok(Key(Cow::Owned(key.to_string())))
    }
}

fn string(key: &'static str, value: Option<Value>) -> Result<String, FrameError> {
    match value {
        Some(Value::String(s)) => Ok(s),
        other => Err(bad_value(key, "a string", other)),
    }
}

fn bad_value(key: &'static str, expected: &'static str, found: Option<Value>) -> FrameError {
    FrameError::BadValue {
        key,
        expected,
        found: found.unwrap_or(Value::Null).to_string(),
    }
}

/// The name of a JSON value's type, for error messages.
pub fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

impl Encoder<&Message> for MessageCodec {
    type Error = FrameError;

    fn encode(&mut self, message: &Message, dst: &mut BytesMut) -> Result<(), FrameError> {
        let start = dst.len();
        dst.reserve(PREFIX_LEN + 128 + message.content.len());
        dst.put_u16(0);
        write_header(&message.header, message.content.len(), &mut *dst);
        let header_len = dst.len() - start - PREFIX_LEN;
        let Ok(prefix) = u16::try_from(header_len) else {
            dst.truncate(start);
            return Err(FrameError::HeaderTooLong(header_len));
        };
        dst[start..start + PREFIX_LEN].copy_from_slice(&prefix.to_be_bytes());
        dst.extend_from_slice(&message.content);
        Ok(())
    }
}

impl Encoder<Message> for MessageCodec {
    type Error = FrameError;

    fn encode(&mut self, message: Message, dst: &mut BytesMut) -> Result<(), FrameError> {
        self.encode(&message, dst)
    }
}

/// Writes the header in the original's key order and Python's JSON style.
fn write_header(header: &Header, content_length: usize, dst: &mut BytesMut) {
    let mut ser = serde_json::Serializer::with_formatter(dst.writer(), PythonStyle);
    let written = (|| {
        let mut map = (&mut ser).serialize_map(None)?;
        map.serialize_entry("byteorder", header.byteorder.as_str())?;
        map.serialize_entry("content-type", &header.content_type)?;
        map.serialize_entry("content-encoding", &header.content_encoding)?;
        map.serialize_entry("content-length", &content_length)?;
        if header.keep_alive {
            map.serialize_entry(KEEP_ALIVE, &true)?;
        }
        for (key, value) in &header.extra {
            if !REQUIRED_KEYS.contains(&key.as_str()) && key != KEEP_ALIVE {
                map.serialize_entry(key, value)?;
            }
        }
        map.end()
    })();
    // Strings, integers and `Value`s always serialize, and a BytesMut writer
    // grows instead of failing.
    written.expect("a JSON header always serializes into memory");
}

/// Serializes `value` as Python's `json.dumps(value, ensure_ascii=False)` does.
pub fn python_json<T: Serialize + ?Sized>(value: &T) -> serde_json::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(64);
    value.serialize(&mut serde_json::Serializer::with_formatter(
        &mut out,
        PythonStyle,
    ))?;
    Ok(out)
}

/// serde_json's compact output with Python's default `", "` and `": "`.
struct PythonStyle;

impl serde_json::ser::Formatter for PythonStyle {
    fn begin_array_value<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        if first { Ok(()) } else { w.write_all(b", ") }
    }

    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        if first { Ok(()) } else { w.write_all(b", ") }
    }

    fn begin_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        w.write_all(b": ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
