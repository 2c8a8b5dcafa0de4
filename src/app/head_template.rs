//! A header written in advance but for its content-length, for the answers
//! whose content type and encoding never change (a miss's, a binary one's):
//! writing one costs a few copies, not a header's writing.

use std::sync::LazyLock;

use bytes::{BufMut, BytesMut};

use super::codec::{FrameError, PREFIX_LEN};
use super::content::{BINARY_ENCODING, CLIENT_BINARY_TYPE, JSON_TYPE, SERVER_BINARY_TYPE, UTF8};
use super::message::Header;
use super::python_json::{HEADER_END, write_header};

/// The headers the protocol's own programs write, in this machine's byte
/// order: text/json (requests and answers), the server's binary answers,
/// the client's binary requests.
pub(super) static KNOWN_HEADS: LazyLock<[HeadTemplate; 3]> = LazyLock::new(|| {
    [
        (JSON_TYPE, UTF8),
        (SERVER_BINARY_TYPE, BINARY_ENCODING),
        (CLIENT_BINARY_TYPE, BINARY_ENCODING),
    ]
    .map(|(kind, encoding)| HeadTemplate::new(Header::from_static(kind, encoding)))
});

/// The text/json template.
pub(super) fn json_head() -> &'static HeadTemplate {
    &KNOWN_HEADS[0]
}

/// The server's binary answers' template.
pub(super) fn server_binary_head() -> &'static HeadTemplate {
    &KNOWN_HEADS[1]
}

/// A header with a fixed content type and encoding, its length left open.
#[derive(Debug)]
pub(super) struct HeadTemplate {
    /// The header it writes, indexed by keep-alive.
    headers: [Header; 2],
    /// The JSON up to the content-length's digits.
    before: Vec<u8>,
}

impl HeadTemplate {
    /// The template of `header` (its keep-alive is set per answer).
    pub(super) fn new(mut header: Header) -> Self {
        header.keep_alive = false;
        let mut written = BytesMut::new();
        write_header(&header, 0, &mut written);
        // Both writers put the length last of all but keep-alive and extra
        // keys; with neither, the header ends with the length's one digit.
        let end = written.len() - b"0".len() - HEADER_END[0].len();
        debug_assert!(written.ends_with(b"0}") && header.extra.is_empty());
        written.truncate(end);
        let mut kept = header.clone();
        kept.keep_alive = true;
        HeadTemplate {
            headers: [header, kept],
            before: written.to_vec(),
        }
    }

    /// The header it writes.
    pub(super) fn header(&self, keep_alive: bool) -> &Header {
        &self.headers[usize::from(keep_alive)]
    }

    /// The bytes before the content-length's digits (no length prefix).
    pub(super) fn before(&self) -> &[u8] {
        &self.before
    }

    /// Appends the length prefix and the header for this content length.
    pub(super) fn write(
        &self,
        content_length: usize,
        keep_alive: bool,
        dst: &mut BytesMut,
    ) -> Result<(), FrameError> {
        let mut digits = itoa::Buffer::new();
        let digits = digits.format(content_length).as_bytes();
        let end = HEADER_END[usize::from(keep_alive)];
        let header_len = self.before.len() + digits.len() + end.len();
        let prefix =
            u16::try_from(header_len).map_err(|_| FrameError::HeaderTooLong(header_len))?;
        dst.reserve(PREFIX_LEN + header_len);
        dst.put_u16(prefix);
        dst.put_slice(&self.before);
        dst.put_slice(digits);
        dst.put_slice(end);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::codec::encode_head;

    #[test]
    fn writes_what_the_header_writer_writes() {
        for (kind, encoding) in [
            ("text/json", "utf-8"),
            ("binary/custom-server-binary-type", "binary"),
            ("text/\"quoted\"", "utf-8"),
        ] {
            let template = HeadTemplate::new(Header::new(kind, encoding));
            for length in [0, 9, 10, 37, 65535, usize::MAX] {
                for keep_alive in [false, true] {
                    let mut header = Header::new(kind, encoding);
                    header.keep_alive = keep_alive;
                    let (mut expected, mut written) = (BytesMut::new(), BytesMut::new());
                    encode_head(&header, length, &mut expected).expect("fits");
                    template
                        .write(length, keep_alive, &mut written)
                        .expect("fits");
                    assert_eq!(written, expected, "{kind} {length} {keep_alive}");
                }
            }
        }
    }

    #[test]
    fn a_header_too_long_for_the_prefix_is_refused() {
        let template = HeadTemplate::new(Header::new(&"x".repeat(70_000), "utf-8"));
        let mut dst = BytesMut::new();
        let refused = template.write(1, false, &mut dst);
        assert!(matches!(refused, Err(FrameError::HeaderTooLong(_))));
        assert!(dst.is_empty());
    }
}
