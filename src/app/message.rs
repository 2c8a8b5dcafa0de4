//! The app protocol's message: a JSON header and its content.
//!
//! ```text
//! {"byteorder": "little", "content-type": "text/json",
//!  "content-encoding": "utf-8", "content-length": 43 [, "keep-alive": true]}
//! ```
//! The four keys are required; `"keep-alive": true` is understood; any other
//! key is kept in [`Header::extra`]. `content-length` is not stored: it is the
//! content's own length, so a [`Message`] can never disagree with itself.

use std::borrow::Cow;

use bytes::Bytes;
use serde_json::{Map, Value};

use super::content::{BINARY_ENCODING, CLIENT_BINARY_TYPE, JSON_TYPE, SERVER_BINARY_TYPE, UTF8};

/// The keys every header must hold, in the order the original checks them.
pub const REQUIRED_KEYS: [&str; 4] = [
    "byteorder",
    "content-length",
    "content-type",
    "content-encoding",
];
/// The optional key that keeps a connection open after the answer.
pub const KEEP_ALIVE: &str = "keep-alive";

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
    pub content_type: Cow<'static, str>,
    /// `utf-8` for text/json, `binary` for binary content.
    pub content_encoding: Cow<'static, str>,
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
            content_type: header_value(content_type),
            content_encoding: header_value(content_encoding),
            keep_alive: false,
            extra: Map::new(),
        }
    }

    /// [`Header::new`] for values known when compiling: nothing to look up.
    pub fn from_static(content_type: &'static str, content_encoding: &'static str) -> Self {
        Header {
            byteorder: ByteOrder::NATIVE,
            content_type: Cow::Borrowed(content_type),
            content_encoding: Cow::Borrowed(content_encoding),
            keep_alive: false,
            extra: Map::new(),
        }
    }
}

/// `text` as a header value. The values the protocol's own programs send
/// are borrowed: a server would otherwise allocate two strings for every
/// request's header and two more for its answer's.
pub fn header_value(text: &str) -> Cow<'static, str> {
    match known_value(text.as_bytes()) {
        Some(known) => Cow::Borrowed(known),
        None => Cow::Owned(text.to_owned()),
    }
}

/// The protocol's own header value these bytes spell, if any.
pub(super) fn known_value(bytes: &[u8]) -> Option<&'static str> {
    const KNOWN: [&str; 5] = [
        JSON_TYPE,
        UTF8,
        BINARY_ENCODING,
        CLIENT_BINARY_TYPE,
        SERVER_BINARY_TYPE,
    ];
    KNOWN.into_iter().find(|known| known.as_bytes() == bytes)
}

/// One app-protocol message: a header and its content.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// The JSON header.
    pub header: Header,
    /// The content, `content-length` bytes.
    pub content: Bytes,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_protocols_own_header_values_are_borrowed_not_copied() {
        let header = Header::new(JSON_TYPE, UTF8);
        assert!(matches!(header.content_type, Cow::Borrowed(JSON_TYPE)));
        assert!(matches!(header.content_encoding, Cow::Borrowed(UTF8)));
        let other = header_value("text/plain");
        assert!(matches!(other, Cow::Owned(_)));
        assert_eq!(other, "text/plain");
    }
}
