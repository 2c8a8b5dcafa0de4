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
