//! JSON written as Python's `json.dumps(..., ensure_ascii=False)` writes it:
//! `", "` and `": "` separators, non-ASCII as UTF-8, so headers and content
//! match the original programs' bytes.

use std::io;

use bytes::{BufMut, BytesMut};
use serde::Serialize;
use serde::ser::{SerializeMap, Serializer as _};

use super::message::{Header, KEEP_ALIVE, REQUIRED_KEYS};

/// Writes the header in the original's key order and Python's JSON style.
pub(super) fn write_header(header: &Header, content_length: usize, dst: &mut BytesMut) {
    // The usual header (our own answers' among them) has no extra keys and
    // no string JSON must escape: written as bytes, it costs a few copies
    // instead of a serializer's calls per character run.
    if !write_plain_header(header, content_length, dst) {
        write_any_header(header, content_length, dst);
    }
}

/// What a plain header ends with after its content-length, indexed by
/// keep-alive.
pub(super) const HEADER_END: [&[u8]; 2] = [b"}", b", \"keep-alive\": true}"];

/// The fast way, for a header with no extra key and nothing to escape;
/// `false` (nothing written) for any other.
fn write_plain_header(header: &Header, content_length: usize, dst: &mut BytesMut) -> bool {
    let plain = |s: &str| !s.bytes().any(must_escape);
    if header.extra.is_empty() && plain(&header.content_type) && plain(&header.content_encoding) {
        dst.put_slice(b"{\"byteorder\": \"");
        dst.put_slice(header.byteorder.as_str().as_bytes());
        dst.put_slice(b"\", \"content-type\": \"");
        dst.put_slice(header.content_type.as_bytes());
        dst.put_slice(b"\", \"content-encoding\": \"");
        dst.put_slice(header.content_encoding.as_bytes());
        dst.put_slice(b"\", \"content-length\": ");
        dst.put_slice(itoa::Buffer::new().format(content_length).as_bytes());
        dst.put_slice(HEADER_END[usize::from(header.keep_alive)]);
        return true;
    }
    false
}

/// True for a byte JSON writes escaped in a string: a quote, a backslash,
/// a control character.
pub(super) fn must_escape(b: u8) -> bool {
    b == b'"' || b == b'\\' || b < 0x20
}

/// Any header, through serde_json.
fn write_any_header(header: &Header, content_length: usize, dst: &mut BytesMut) {
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

    #[test]
    fn the_fast_header_is_byte_for_byte_serde_s() {
        for (kind, encoding, keep_alive, length) in [
            ("text/json", "utf-8", false, 0),
            ("text/json", "utf-8", true, 42),
            ("binary/custom-server-binary-type", "binary", true, 65535),
            ("image/🐰", "utf-8", false, usize::MAX),
        ] {
            let mut header = Header::new(kind, encoding);
            header.keep_alive = keep_alive;
            let (mut fast, mut slow) = (BytesMut::new(), BytesMut::new());
            assert!(write_plain_header(&header, length, &mut fast));
            write_any_header(&header, length, &mut slow);
            assert_eq!(fast, slow);
        }
        let header = Header::new("text/\"json\"", "utf-8");
        assert!(!write_plain_header(&header, 1, &mut BytesMut::new()));
    }
}
