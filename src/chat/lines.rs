//! A bounded line decoder that survives a line over the limit.
//!
//! tokio-util's `LinesCodec` ends the stream on a too-long line or invalid
//! UTF-8; a chat user who pastes too much should get a notice and stay. So
//! this decoder yields [`Line::TooLong`] once, drops the rest of that line
//! and carries on, and leaves UTF-8 to the caller (bytes stay bytes).

use std::io;

use bytes::{Buf, BytesMut};
use tokio_util::codec::Decoder;

/// One decoded item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    /// A line without its `\n` (and without a `\r` before it).
    Text(BytesMut),
    /// A line longer than the limit; its bytes were dropped.
    TooLong,
    /// Bytes without a newline at the end of the stream. A reset can look
    /// like a clean end (when a write saw the error first), so the server
    /// drops these; the client sends them (`printf hi | socklab chat client`).
    Unterminated(BytesMut),
}

/// Splits a byte stream into lines of at most `max` bytes.
#[derive(Debug)]
pub struct LineDecoder {
    max: usize,
    /// Bytes of the buffer already searched for a newline.
    scanned: usize,
    /// Inside a too-long line: drop bytes up to the next newline.
    discarding: bool,
}

impl LineDecoder {
    /// A decoder refusing lines longer than `max` bytes.
    pub fn new(max: usize) -> Self {
        Self {
            max,
            scanned: 0,
            discarding: false,
        }
    }
}

impl Decoder for LineDecoder {
    type Item = Line;
    type Error = io::Error;

    fn decode(&mut self, buf: &mut BytesMut) -> io::Result<Option<Line>> {
        loop {
            let newline = buf[self.scanned..]
                .iter()
                .position(|&b| b == b'\n')
                .map(|i| i + self.scanned);
            match newline {
                Some(end) => {
                    self.scanned = 0;
                    if self.discarding {
                        self.discarding = false;
                        buf.advance(end + 1);
                        continue;
                    }
                    let mut line = buf.split_to(end + 1);
                    line.truncate(end);
                    if line.last() == Some(&b'\r') {
                        line.truncate(end - 1);
                    }
                    if line.len() > self.max {
                        return Ok(Some(Line::TooLong));
                    }
                    return Ok(Some(Line::Text(line)));
                }
                None if self.discarding => {
                    buf.clear();
                    self.scanned = 0;
                    return Ok(None);
                }
                // No newline yet and already past the limit (a `\r` may still
                // come off the end, hence the +1): refuse now, not at the newline.
                None if buf.len() > self.max + 1 => {
                    buf.clear();
                    self.scanned = 0;
                    self.discarding = true;
                    return Ok(Some(Line::TooLong));
                }
                None => {
                    self.scanned = buf.len();
                    return Ok(None);
                }
            }
        }
    }

    /// Bytes left without a newline come out as [`Line::Unterminated`].
    fn decode_eof(&mut self, buf: &mut BytesMut) -> io::Result<Option<Line>> {
        if let Some(line) = self.decode(buf)? {
            return Ok(Some(line));
        }
        self.scanned = 0;
        if buf.is_empty() || self.discarding {
            buf.clear();
            return Ok(None);
        }
        let mut line = buf.split();
        if line.last() == Some(&b'\r') {
            line.truncate(line.len() - 1);
        }
        Ok(Some(Line::Unterminated(line)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> Option<Line> {
        Some(Line::Text(BytesMut::from(s)))
    }

    fn all(decoder: &mut LineDecoder, chunks: &[&[u8]]) -> Vec<Line> {
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        for chunk in chunks {
            buf.extend_from_slice(chunk);
            while let Some(line) = decoder.decode(&mut buf).expect("infallible") {
                out.push(line);
            }
        }
        while let Some(line) = decoder.decode_eof(&mut buf).expect("infallible") {
            out.push(line);
        }
        out
    }

    #[test]
    fn splits_lines_across_chunks_and_strips_cr() {
        let mut d = LineDecoder::new(16);
        let out = all(&mut d, &[b"hel", b"lo\r\nwor", b"ld\n\nlast"]);
        let mut want: Vec<Line> = ["hello", "world", ""]
            .iter()
            .filter_map(|s| text(s))
            .collect();
        want.push(Line::Unterminated(BytesMut::from("last")));
        assert_eq!(out, want);
    }

    #[test]
    fn too_long_line_is_refused_once_and_the_next_line_survives() {
        let mut d = LineDecoder::new(4);
        let out = all(&mut d, &[b"abcdefgh", b"ijkl", b"mn\nok\n"]);
        assert_eq!(out, vec![Line::TooLong, Line::Text(BytesMut::from("ok"))]);
        let mut d = LineDecoder::new(4);
        let out = all(&mut d, &[b"abcde\nabcd\r\n"]);
        assert_eq!(out, vec![Line::TooLong, Line::Text(BytesMut::from("abcd"))]);
    }

    #[test]
    fn unfinished_too_long_line_at_eof_is_dropped() {
        let mut d = LineDecoder::new(4);
        assert_eq!(all(&mut d, &[b"abcdefgh"]), vec![Line::TooLong]);
    }

    #[test]
    fn bytes_stay_bytes() {
        let mut d = LineDecoder::new(8);
        let out = all(&mut d, &[b"\xff\xfe\n"]);
        assert_eq!(out, vec![Line::Text(BytesMut::from(&b"\xff\xfe"[..]))]);
    }
}
