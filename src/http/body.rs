//! Response body framing for the client: Content-Length, chunked and
//! read-until-close bodies, decoded incrementally with bounded lines.
//!
//! ```text
//! chunked-body = *( HEXSIZE [;ext] CRLF DATA CRLF ) "0" [;ext] CRLF *( TRAILER CRLF ) CRLF
//! ```

/// Longest chunk-size line (with extensions) accepted.
pub const MAX_CHUNK_LINE: usize = 4096;
/// Most trailer bytes accepted after the last chunk.
pub const MAX_TRAILERS: usize = 64 * 1024;

/// How the end of a body is found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// No body (HEAD answers, 1xx, 204, 304).
    Empty,
    /// Exactly this many bytes.
    Length(u64),
    /// Transfer-Encoding: chunked.
    Chunked,
    /// Everything until the server closes.
    UntilClose,
}

/// A body that breaks its framing.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BodyError {
    /// A chunk-size line that is not hex, too long, or overflows.
    #[error("bad chunk size line {0:?}")]
    ChunkSize(String),
    /// Chunk data not followed by CRLF.
    #[error("chunk data not followed by CRLF")]
    ChunkEnd,
    /// Trailer fields past the limit.
    #[error("chunked trailer longer than {MAX_TRAILERS} bytes")]
    Trailers,
    /// The server closed before the body was complete.
    #[error("the server closed the connection after {0} body bytes, before the body was complete")]
    Truncated(u64),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Length(u64),
    UntilClose,
    ChunkSize,
    ChunkData(u64),
    ChunkDataEnd,
    Trailers(usize),
    Done,
}

/// Decodes one body as its bytes arrive.
#[derive(Debug)]
pub struct BodyDecoder {
    state: State,
    delivered: u64,
}

impl BodyDecoder {
    /// A decoder for a body framed as `framing`.
    pub fn new(framing: Framing) -> Self {
        let state = match framing {
            Framing::Empty | Framing::Length(0) => State::Done,
            Framing::Length(n) => State::Length(n),
            Framing::Chunked => State::ChunkSize,
            Framing::UntilClose => State::UntilClose,
        };
        Self {
            state,
            delivered: 0,
        }
    }

    /// True once the whole body has been decoded.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Decodes what it can of `input`, appending body bytes to `out`, and
    /// returns how many input bytes it used; the rest must be offered again
    /// with more data behind it.
    pub fn decode(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<usize, BodyError> {
        let mut pos = 0;
        loop {
            let rest = &input[pos..];
            match self.state {
                State::Done => return Ok(pos),
                State::UntilClose => {
                    self.deliver(rest, out);
                    return Ok(input.len());
                }
                State::Length(left) | State::ChunkData(left) => {
                    let take = left.min(rest.len() as u64);
                    // `take` is at most `rest.len()`, a usize.
                    self.deliver(&rest[..take as usize], out);
                    pos += take as usize;
                    let left = left - take;
                    self.state = match (self.state, left) {
                        (State::Length(_), 0) => State::Done,
                        (State::Length(_), _) => State::Length(left),
                        (_, 0) => State::ChunkDataEnd,
                        _ => State::ChunkData(left),
                    };
                    if left > 0 {
                        return Ok(pos);
                    }
                }
                State::ChunkDataEnd => match rest {
                    [b'\r', b'\n', ..] => {
                        pos += 2;
                        self.state = State::ChunkSize;
                    }
                    [b'\n', ..] => {
                        pos += 1;
                        self.state = State::ChunkSize;
                    }
                    [] | [b'\r'] => return Ok(pos),
                    _ => return Err(BodyError::ChunkEnd),
                },
                State::ChunkSize => {
                    let Some(end) = rest.iter().position(|&b| b == b'\n') else {
                        if rest.len() > MAX_CHUNK_LINE {
                            return Err(BodyError::ChunkSize(preview(rest)));
                        }
                        return Ok(pos);
                    };
                    if end > MAX_CHUNK_LINE {
                        return Err(BodyError::ChunkSize(preview(&rest[..end])));
                    }
                    let size = parse_chunk_size(&rest[..end])?;
                    pos += end + 1;
                    self.state = if size == 0 {
                        State::Trailers(0)
                    } else {
                        State::ChunkData(size)
                    };
                }
                State::Trailers(seen) => {
                    let Some(end) = rest.iter().position(|&b| b == b'\n') else {
                        if seen + rest.len() > MAX_TRAILERS {
                            return Err(BodyError::Trailers);
                        }
                        return Ok(pos);
                    };
                    pos += end + 1;
                    let line = &rest[..end];
                    self.state = if line.is_empty() || line == b"\r" {
                        State::Done
                    } else if seen + end + 1 > MAX_TRAILERS {
                        return Err(BodyError::Trailers);
                    } else {
                        State::Trailers(seen + end + 1)
                    };
                }
            }
        }
    }

    /// Called when the server closes: fine for a complete or close-delimited body.
    pub fn finish(&mut self) -> Result<(), BodyError> {
        match self.state {
            State::Done | State::UntilClose => {
                self.state = State::Done;
                Ok(())
            }
            _ => Err(BodyError::Truncated(self.delivered)),
        }
    }

    fn deliver(&mut self, data: &[u8], out: &mut Vec<u8>) {
        self.delivered += data.len() as u64;
        out.extend_from_slice(data);
    }
}

/// `HEX [; extensions] [CR]`: at most 16 hex digits, so it fits in a u64.
fn parse_chunk_size(line: &[u8]) -> Result<u64, BodyError> {
    let bad = || BodyError::ChunkSize(preview(line));
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let digits = line
        .split(|&b| b == b';')
        .next()
        .unwrap_or_default()
        .trim_ascii();
    if digits.is_empty() || digits.len() > 16 || !digits.iter().all(u8::is_ascii_hexdigit) {
        return Err(bad());
    }
    let digits = std::str::from_utf8(digits).map_err(|_| bad())?;
    u64::from_str_radix(digits, 16).map_err(|_| bad())
}

fn preview(bytes: &[u8]) -> String {
    String::from_utf8_lossy(&bytes[..bytes.len().min(40)]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn decode_all(framing: Framing, wire: &[u8], step: usize) -> Result<Vec<u8>, BodyError> {
        let mut decoder = BodyDecoder::new(framing);
        let mut out = Vec::new();
        let mut buffered = Vec::new();
        for piece in wire.chunks(step.max(1)) {
            buffered.extend_from_slice(piece);
            let used = decoder.decode(&buffered, &mut out)?;
            buffered.drain(..used);
        }
        decoder.finish()?;
        Ok(out)
    }

    fn chunk(body: &[u8], size: usize) -> Vec<u8> {
        let mut wire = Vec::new();
        for part in body.chunks(size.max(1)) {
            wire.extend_from_slice(format!("{:X};ext=1\r\n", part.len()).as_bytes());
            wire.extend_from_slice(part);
            wire.extend_from_slice(b"\r\n");
        }
        wire.extend_from_slice(b"0\r\nX-Trailer: yes\r\n\r\n");
        wire
    }

    #[test]
    fn chunked_body_with_trailer() {
        let wire = b"5\r\nHello\r\n6\r\n World\r\n0\r\n\r\n";
        assert_eq!(
            decode_all(Framing::Chunked, wire, 1).as_deref(),
            Ok(&b"Hello World"[..])
        );
    }

    #[test]
    fn bad_and_truncated_chunks() {
        assert!(matches!(
            decode_all(Framing::Chunked, b"zz\r\n", 64),
            Err(BodyError::ChunkSize(_))
        ));
        assert!(matches!(
            decode_all(Framing::Chunked, b"+5\r\nHello\r\n0\r\n\r\n", 64),
            Err(BodyError::ChunkSize(_))
        ));
        assert!(matches!(
            decode_all(Framing::Chunked, b"11111111111111111\r\n", 64),
            Err(BodyError::ChunkSize(_))
        ));
        assert_eq!(
            decode_all(Framing::Chunked, b"5\r\nHelloXX", 64),
            Err(BodyError::ChunkEnd)
        );
        assert_eq!(
            decode_all(Framing::Chunked, b"5\r\nHel", 64),
            Err(BodyError::Truncated(3))
        );
        let endless = vec![b'1'; MAX_CHUNK_LINE + 1];
        assert!(decode_all(Framing::Chunked, &endless, 64).is_err());
    }

    #[test]
    fn length_and_close_framing() {
        assert_eq!(
            decode_all(Framing::Length(3), b"abc", 1).as_deref(),
            Ok(&b"abc"[..])
        );
        assert_eq!(
            decode_all(Framing::Length(4), b"abc", 1),
            Err(BodyError::Truncated(3))
        );
        assert_eq!(
            decode_all(Framing::UntilClose, b"xyz", 2).as_deref(),
            Ok(&b"xyz"[..])
        );
        let mut decoder = BodyDecoder::new(Framing::Length(2));
        let mut out = Vec::new();
        assert_eq!(decoder.decode(b"abEXTRA", &mut out), Ok(2));
        assert!(decoder.is_done());
    }

    proptest! {
        #[test]
        fn chunked_round_trip(body in proptest::collection::vec(any::<u8>(), 0..2000),
                              size in 1usize..300, step in 1usize..64) {
            let wire = chunk(&body, size);
            prop_assert_eq!(decode_all(Framing::Chunked, &wire, step), Ok(body));
        }
    }
}
