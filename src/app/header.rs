//! Parsing a JSON header in one pass: a hand-written serde visitor picks the
//! known keys out as it reads (no map is built for them) and names the kind
//! of value that is not an object, for the error answer.

use std::borrow::Cow;

use serde::Deserialize;
use serde::de::{Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use super::codec::FrameError;
use super::message::{ByteOrder, Header, KEEP_ALIVE, REQUIRED_KEYS};

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
