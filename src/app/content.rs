//! What a message's content means: the original programs' JSON requests and
//! answers, binary content, and constructors for both (used by the server,
//! the client and load generators).
//!
//! ```text
//! request  text/json, utf-8   {"action": "search", "value": "morpheus"}
//! answer   text/json, utf-8   {"result": "Follow the white rabbit. 🐰"}
//! request  binary/custom-client-binary-type, binary   binary\xf0\x9f\x98\x83
//! answer   binary/custom-server-binary-type, binary
//!          First 10 bytes of request: binary\xf0\x9f\x98\x83
//! error    text/json, utf-8   {"error": "Missing required header \"byteorder\"."}
//! ```

use bytes::Bytes;
use serde_json::{Map, Value};

use super::header::json_kind;
use super::message::{Header, Message};
use super::python_json::python_json;

/// The content type whose content is a JSON object.
pub const JSON_TYPE: &str = "text/json";
/// The encoding of JSON content.
pub const UTF8: &str = "utf-8";
/// The content type of the original client's binary requests.
pub const CLIENT_BINARY_TYPE: &str = "binary/custom-client-binary-type";
/// The content type of the server's binary answers.
pub const SERVER_BINARY_TYPE: &str = "binary/custom-server-binary-type";
/// The encoding of binary content.
pub const BINARY_ENCODING: &str = "binary";

/// Why a message's content does not mean what its header says.
#[derive(Debug, thiserror::Error)]
pub enum ContentError {
    /// text/json content in an encoding we cannot decode.
    #[error("content-encoding \"{0}\" is not supported for text/json (use utf-8)")]
    UnsupportedEncoding(String),
    /// The content is not valid in its declared encoding.
    #[error("content is not valid {encoding}: {detail}")]
    NotDecodable {
        /// The declared encoding.
        encoding: String,
        /// What is wrong, and where.
        detail: String,
    },
    /// text/json content that is not JSON.
    #[error("content is not valid JSON: {0}")]
    NotJson(serde_json::Error),
    /// text/json content that is JSON but not an object.
    #[error("text/json content must be a JSON object, not {0}")]
    NotObject(&'static str),
}

/// What an answer says, as the original client interprets it.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// text/json `{"result": ...}`.
    Result(Value),
    /// text/json `{"error": "..."}`: the server refused the request.
    Error(String),
    /// text/json without either key: the whole object.
    Other(Map<String, Value>),
    /// Any other content type: the raw content.
    Binary(Bytes),
}

impl Message {
    /// A text/json, utf-8 message holding `object`, serialized as Python's
    /// `json.dumps(..., ensure_ascii=False)` does.
    pub fn json(object: &Map<String, Value>) -> Message {
        // A map of JSON values with string keys always serializes.
        let content = python_json(object).expect("a JSON object always serializes");
        Message::json_bytes(content.into())
    }

    /// A text/json message whose content is already written as JSON.
    pub fn json_bytes(content: Bytes) -> Message {
        Message {
            header: Header::new(JSON_TYPE, UTF8),
            content,
        }
    }

    /// A search request: `{"action": "search", "value": QUERY}`.
    pub fn search(query: &str) -> Message {
        let mut object = Map::new();
        object.insert("action".into(), "search".into());
        object.insert("value".into(), query.into());
        Message::json(&object)
    }

    /// A binary request of the original client's content type.
    pub fn binary(content: impl Into<Bytes>) -> Message {
        Message {
            header: Header::new(CLIENT_BINARY_TYPE, BINARY_ENCODING),
            content: content.into(),
        }
    }

    /// The request app-client.py builds from its command line: `search`
    /// becomes a JSON search, any other action a binary ACTION+VALUE request.
    pub fn request(action: &str, value: &str) -> Message {
        if action == "search" {
            Message::search(value)
        } else {
            Message::binary(format!("{action}{value}"))
        }
    }

    /// The server's error answer: `{"error": TEXT}`.
    pub fn error(text: &str) -> Message {
        let mut object = Map::new();
        object.insert("error".into(), text.into());
        Message::json(&object)
    }

    /// The same message with `"keep-alive"` set or cleared.
    pub fn with_keep_alive(mut self, keep_alive: bool) -> Message {
        self.header.keep_alive = keep_alive;
        self
    }

    /// Whether the content is a JSON object (content-type `text/json`).
    pub fn is_json(&self) -> bool {
        self.header.is_json()
    }

    /// The content as text, decoded with its content-encoding.
    pub fn text(&self) -> Result<&str, ContentError> {
        self.header.text(&self.content)
    }

    /// Decodes text/json content with its content-encoding; it must be an object.
    pub fn json_object(&self) -> Result<Map<String, Value>, ContentError> {
        self.header.json_object(&self.content)
    }

    /// What this answer says.
    pub fn reply(&self) -> Result<Reply, ContentError> {
        if !self.is_json() {
            return Ok(Reply::Binary(self.content.clone()));
        }
        let mut object = self.json_object()?;
        if let Some(result) = object.remove("result") {
            return Ok(Reply::Result(result));
        }
        match object.remove("error") {
            Some(Value::String(error)) => Ok(Reply::Error(error)),
            Some(error) => Ok(Reply::Error(error.to_string())),
            None => Ok(Reply::Other(object)),
        }
    }

    /// Whether two messages say the same thing: content type, encoding,
    /// keep-alive and content equal; byte order and unknown keys ignored.
    /// Checks an answer against the one [`super::respond`] would give.
    pub fn equivalent(&self, other: &Message) -> bool {
        self.header.content_type == other.header.content_type
            && self.header.content_encoding == other.header.content_encoding
            && self.header.keep_alive == other.header.keep_alive
            && self.content == other.content
    }
}

/// What content means under a header: for content still in a read buffer
/// (the server's), as [`Message`]'s methods for its own.
impl Header {
    /// Whether the content is a JSON object (content-type `text/json`).
    pub fn is_json(&self) -> bool {
        self.content_type == JSON_TYPE
    }

    /// `content` as text, decoded with this header's content-encoding.
    pub fn text<'a>(&self, content: &'a [u8]) -> Result<&'a str, ContentError> {
        decode_text(content, &self.content_encoding)
    }

    /// Decodes text/json `content` with the content-encoding; it must be an object.
    pub fn json_object(&self, content: &[u8]) -> Result<Map<String, Value>, ContentError> {
        match serde_json::from_str(self.text(content)?).map_err(ContentError::NotJson)? {
            Value::Object(object) => Ok(object),
            other => Err(ContentError::NotObject(json_kind(&other))),
        }
    }
}

/// Decodes `content` as text in `encoding` (utf-8, or its ASCII subset).
fn decode_text<'a>(content: &'a [u8], encoding: &str) -> Result<&'a str, ContentError> {
    // The texts' spelling, and so nearly every request's, needs no lookup.
    let ascii_only = if encoding == UTF8 || names_one_of(encoding, &["utf-8", "utf8"]) {
        false
    } else if names_one_of(encoding, &["ascii", "us-ascii"]) {
        true
    } else {
        return Err(ContentError::UnsupportedEncoding(encoding.to_string()));
    };
    let not_decodable = |detail: String| ContentError::NotDecodable {
        encoding: encoding.to_string(),
        detail,
    };
    if ascii_only && let Some(at) = content.iter().position(|b| !b.is_ascii()) {
        return Err(not_decodable(format!(
            "byte 0x{:02x} at position {at} is not ASCII",
            content[at]
        )));
    }
    std::str::from_utf8(content).map_err(|err| not_decodable(err.to_string()))
}

/// Whether `encoding` is one of `names` (lowercase, with `-`) as Python's
/// codec lookup sees it: spaces around ignored, any case, `_` for `-`.
/// Compared in place: normalizing a copy cost two allocations per request.
fn names_one_of(encoding: &str, names: &[&str]) -> bool {
    let given = encoding.trim().as_bytes();
    names.iter().any(|name| {
        name.len() == given.len()
            && given
                .iter()
                .zip(name.bytes())
                .all(|(&g, n)| g.to_ascii_lowercase() == n || (g == b'_' && n == b'-'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_match_the_original_client() {
        let search = Message::request("search", "morpheus");
        assert_eq!(
            &search.content[..],
            br#"{"action": "search", "value": "morpheus"}"#
        );
        assert_eq!(search.content.len(), 41, "the text's content-length");
        let binary = Message::request("binary", "😃");
        assert_eq!(&binary.content[..], b"binary\xf0\x9f\x98\x83");
        assert_eq!(binary.header.content_type, CLIENT_BINARY_TYPE);
    }

    #[test]
    fn content_errors() {
        let mut message = Message::search("x");
        message.content = Bytes::from_static(b"[1]");
        assert!(matches!(
            message.json_object(),
            Err(ContentError::NotObject("an array"))
        ));
        message.content = Bytes::from_static(b"{\"a\": \"\xff\"}");
        assert!(matches!(
            message.json_object(),
            Err(ContentError::NotDecodable { .. })
        ));
        message.header.content_encoding = "utf-16".into();
        assert!(matches!(
            message.json_object(),
            Err(ContentError::UnsupportedEncoding(_))
        ));
        message.header.content_encoding = "ascii".into();
        message.content = Bytes::from("{\"a\": \"é\"}");
        assert!(matches!(
            message.json_object(),
            Err(ContentError::NotDecodable { .. })
        ));
    }

    #[test]
    fn encoding_names_are_spelled_as_python_accepts_them() {
        for name in ["utf-8", "UTF-8", " Utf_8 ", "utf8", "UTF8"] {
            assert_eq!(decode_text(b"ok", name).ok(), Some("ok"), "{name:?}");
        }
        for name in ["ascii", "US-ASCII", "us_ascii"] {
            assert!(decode_text("é".as_bytes(), name).is_err(), "{name:?}");
            assert_eq!(decode_text(b"ok", name).ok(), Some("ok"), "{name:?}");
        }
        for name in ["utf-16", "utf-", "utf-88", "", "ut-f8", "utf--8"] {
            assert!(
                matches!(
                    decode_text(b"ok", name),
                    Err(ContentError::UnsupportedEncoding(_))
                ),
                "{name:?}"
            );
        }
    }
}
