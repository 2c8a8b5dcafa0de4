//! Parsing a JSON header in one pass: a hand-written serde visitor picks the
//! known keys out as it reads (no map is built for them) and names the kind
//! of value that is not an object, for the error answer.

use std::borrow::Cow;

use serde::Deserialize;
use serde::de::{Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use super::codec::FrameError;
use super::head_template::KNOWN_HEADS;
use super::message::{ByteOrder, Header, KEEP_ALIVE, REQUIRED_KEYS, known_value};
use super::python_json::{HEADER_END, must_escape};

/// Parses and checks a JSON header; returns it with its `content-length`.
pub fn parse_header(raw: &[u8]) -> Result<(Header, u64), FrameError> {
    parse_head(raw).map(|(header, length)| (header.into_owned(), length))
}

/// [`parse_header`], one of the protocol's own headers borrowed: a server
/// reading it neither builds nor drops a header per request.
pub(super) fn parse_head(raw: &[u8]) -> Result<(Cow<'static, Header>, u64), FrameError> {
    if let Some((header, length)) = parse_known(raw) {
        return Ok((Cow::Borrowed(header), length));
    }
    let (header, length) = match parse_plain(raw) {
        Some(parsed) => parsed,
        None => parse_json(std::str::from_utf8(raw).map_err(FrameError::HeaderNotUtf8)?)?,
    };
    Ok((Cow::Owned(header), length))
}

/// One of the headers the protocol's own programs send, in this machine's
/// byte order: the bytes before the length are one comparison with a
/// template's, where the plain reader below matched and scanned them a
/// piece at a time.
fn parse_known(raw: &[u8]) -> Option<(&'static Header, u64)> {
    KNOWN_HEADS.iter().find_map(|head| {
        let rest = raw.strip_prefix(head.before())?;
        let (length, keep_alive) = length_and_end(rest)?;
        Some((head.header(keep_alive), length))
    })
}

/// The usual header, as python_json.rs's plain writer writes it (and as the
/// texts' clients do), read without a JSON parser: the four keys in that
/// order and spacing, nothing escaped, no extra key, `"keep-alive": true`
/// or nothing after `content-length`. `None` for any other header, which
/// [`parse_json`] then reads and judges. A JSON parse built three strings
/// and a map walk for each request header; this is a few comparisons.
/// Read as bytes: only the two strings need a UTF-8 check, the rest is
/// matched against ASCII.
fn parse_plain(raw: &[u8]) -> Option<(Header, u64)> {
    let rest = raw.strip_prefix(b"{\"byteorder\": \"")?;
    let (byteorder, rest) = match rest.strip_prefix(b"little\"") {
        Some(rest) => (ByteOrder::Little, rest),
        None => (ByteOrder::Big, rest.strip_prefix(b"big\"")?),
    };
    let rest = rest.strip_prefix(b", \"content-type\": \"")?;
    let (content_type, rest) = plain_bytes(rest)?;
    let rest = rest.strip_prefix(b", \"content-encoding\": \"")?;
    let (content_encoding, rest) = plain_bytes(rest)?;
    let rest = rest.strip_prefix(b", \"content-length\": ")?;
    let (length, keep_alive) = length_and_end(rest)?;
    let header = Header {
        byteorder,
        content_type,
        content_encoding,
        keep_alive,
        extra: Map::new(),
    };
    Some((header, length))
}

/// A plain header's end: the content-length's digits, then `}` or
/// `"keep-alive": true}`.
fn length_and_end(rest: &[u8]) -> Option<(u64, bool)> {
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    let (number, rest) = rest.split_at(digits);
    // JSON has no leading zeros; the full parser says what is wrong.
    if number.is_empty() || (number.len() > 1 && number[0] == b'0') {
        return None;
    }
    let length = number.iter().try_fold(0u64, |n, &digit| {
        n.checked_mul(10)?.checked_add(u64::from(digit - b'0'))
    })?;
    let keep_alive = match rest {
        end if end == HEADER_END[0] => false,
        end if end == HEADER_END[1] => true,
        _ => return None,
    };
    Some((length, keep_alive))
}

/// A JSON string's text up to its closing quote, and what follows it, if
/// nothing in it is escaped (or must be).
pub(super) fn plain_string(s: &str) -> Option<(&str, &str)> {
    let end = plain_end(s.as_bytes())?;
    Some((&s[..end], &s[end + 1..]))
}

/// [`plain_string`] of bytes, as a header value: one of the protocol's own
/// values as it is, any other only if it is UTF-8.
fn plain_bytes(s: &[u8]) -> Option<(Cow<'static, str>, &[u8])> {
    let end = plain_end(s)?;
    let value = match known_value(&s[..end]) {
        Some(known) => Cow::Borrowed(known),
        None => Cow::Owned(std::str::from_utf8(&s[..end]).ok()?.to_owned()),
    };
    Some((value, &s[end + 1..]))
}

/// Where a JSON string's closing quote is, if nothing before it is
/// escaped (or must be).
fn plain_end(s: &[u8]) -> Option<usize> {
    let end = s.iter().copied().position(must_escape)?;
    (s[end] == b'"').then_some(end)
}

/// Any header, through the JSON parser.
fn parse_json(text: &str) -> Result<(Header, u64), FrameError> {
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

fn string(key: &'static str, value: Option<Value>) -> Result<Cow<'static, str>, FrameError> {
    match value {
        Some(Value::String(s)) => Ok(s.into()),
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

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::BytesMut;
    use proptest::prelude::*;

    use crate::app::python_json::write_header;

    fn written(header: &Header, length: usize) -> String {
        let mut dst = BytesMut::new();
        write_header(header, length, &mut dst);
        String::from_utf8(dst.to_vec()).expect("we write UTF-8")
    }

    type Parsed = (Header, u64);

    /// The known reading, owned.
    fn known(text: &str) -> Option<Parsed> {
        parse_known(text.as_bytes()).map(|(header, length)| (header.clone(), length))
    }

    /// Both parsers' answers, errors as text.
    fn both(text: &str) -> (Option<Parsed>, Result<Parsed, String>) {
        (
            parse_plain(text.as_bytes()),
            parse_json(text).map_err(|e| e.to_string()),
        )
    }

    #[test]
    fn the_texts_header_is_read_the_plain_way() {
        let text = r#"{"byteorder": "little", "content-type": "text/json", "content-encoding": "utf-8", "content-length": 37, "keep-alive": true}"#;
        let (plain, json) = both(text);
        let plain = plain.expect("the usual header");
        assert_eq!(plain.1, 37);
        assert!(plain.0.keep_alive);
        assert_eq!(plain.0.content_type, "text/json");
        assert_eq!(known(text), Some(plain.clone()));
        assert_eq!(Ok(plain), json);
    }

    #[test]
    fn the_protocols_own_headers_are_known() {
        for (kind, encoding) in [
            ("text/json", "utf-8"),
            ("binary/custom-client-binary-type", "binary"),
            ("binary/custom-server-binary-type", "binary"),
        ] {
            for keep_alive in [false, true] {
                let mut header = Header::new(kind, encoding);
                header.keep_alive = keep_alive;
                let text = written(&header, 158);
                let read = known(&text);
                assert_eq!(read, Some((header, 158)), "{text}");
                assert_eq!(read, parse_plain(text.as_bytes()));
            }
        }
        let other = written(&Header::new("image/png", "binary"), 1);
        assert_eq!(known(&other), None);
    }

    #[test]
    fn anything_else_is_left_to_the_json_parser() {
        for text in [
            r#"{"byteorder": "little", "content-type": "text/json", "content-encoding": "utf-8", "content-length": 012}"#,
            r#"{"byteorder": "little", "content-type": "text/json", "content-encoding": "utf-8", "content-length": 1.5}"#,
            r#"{"byteorder": "little", "content-type": "text/json", "content-encoding": "utf-8", "content-length": 99999999999999999999}"#,
            r#"{"byteorder": "little", "content-type": "te\"xt", "content-encoding": "utf-8", "content-length": 1}"#,
            r#"{"byteorder": "middle", "content-type": "text/json", "content-encoding": "utf-8", "content-length": 1}"#,
            r#"{"byteorder": "little", "content-type": "text/json", "content-encoding": "utf-8", "content-length": 1, "keep-alive": false}"#,
            r#"{"byteorder": "little", "content-type": "text/json", "content-encoding": "utf-8", "content-length": 1} "#,
        ] {
            assert_eq!(parse_plain(text.as_bytes()), None, "{text}");
            assert_eq!(known(text), None, "{text}");
        }
    }

    #[test]
    fn a_plain_header_that_is_not_utf8_is_refused() {
        for bad in [&b"text/\xff"[..], b"\xe2\x82", b"json\xc0\xaf"] {
            let mut raw = br#"{"byteorder": "little", "content-type": ""#.to_vec();
            raw.extend_from_slice(bad);
            raw.extend_from_slice(br#"", "content-encoding": "utf-8", "content-length": 1}"#);
            assert!(parse_plain(&raw).is_none());
            assert!(matches!(
                parse_header(&raw),
                Err(FrameError::HeaderNotUtf8(_))
            ));
        }
    }

    proptest! {
        // Every header our plain writer writes is read the plain way, and
        // as the JSON parser reads it.
        #[test]
        fn what_we_write_reads_back_the_same_both_ways(
            content_type in "\\PC{0,12}",
            content_encoding in "\\PC{0,12}",
            big in any::<bool>(),
            keep_alive in any::<bool>(),
            length in any::<u32>(),
        ) {
            let mut header = Header::new(&content_type, &content_encoding);
            header.byteorder = if big { ByteOrder::Big } else { ByteOrder::Little };
            header.keep_alive = keep_alive;
            let text = written(&header, length as usize);
            let (plain, json) = both(&text);
            let escaped = text.contains('\\');
            prop_assert_eq!(plain.is_none(), escaped, "{}", text);
            if let Some(plain) = plain {
                prop_assert_eq!(&plain, &(header, u64::from(length)));
                prop_assert_eq!(Ok(plain), json);
            }
        }

        // A header bent anywhere is read the plain way only if the JSON
        // parser reads it the same.
        #[test]
        fn the_plain_reading_never_disagrees_with_json(
            at in 0usize..140,
            cut in 0usize..4,
            insert in "[ -~]{0,3}",
            order in prop::sample::select(vec!["big", "little"]),
        ) {
            let text = format!(r#"{{"byteorder": "{order}", "content-type": "text/json", "content-encoding": "utf-8", "content-length": 4096, "keep-alive": true}}"#);
            let at = at.min(text.len());
            let end = (at + cut).min(text.len());
            let bent = format!("{}{}{}", &text[..at], insert, &text[end..]);
            let (plain, json) = both(&bent);
            if let Some(known) = known(&bent) {
                prop_assert_eq!(Ok(known), json.clone(), "{}", bent);
            }
            if let Some(plain) = plain {
                prop_assert_eq!(Ok(plain), json, "{}", bent);
            }
        }
    }
}
