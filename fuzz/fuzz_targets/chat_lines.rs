//! Feeds arbitrary bytes to the chat line decoder, whole and in two pieces,
//! with a small line limit: it must never panic, both feeds must give the
//! same lines, and no line may hold a newline or exceed the limit.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use socklab::chat::lines::{Line, LineDecoder};
use tokio_util::codec::Decoder;

const MAX_LINE: usize = 16;

/// Every line `data` decodes to when it arrives in pieces cut at `cuts`.
fn decode(data: &[u8], cut: usize) -> Vec<Line> {
    let mut decoder = LineDecoder::new(MAX_LINE);
    let mut buf = BytesMut::new();
    let mut lines = Vec::new();
    for piece in [&data[..cut], &data[cut..]] {
        buf.extend_from_slice(piece);
        while let Some(line) = decoder.decode(&mut buf).expect("infallible") {
            lines.push(line);
        }
    }
    while let Some(line) = decoder.decode_eof(&mut buf).expect("infallible") {
        lines.push(line);
    }
    lines
}

fuzz_target!(|data: &[u8]| {
    let whole = decode(data, data.len());
    let cut = data
        .first()
        .map_or(0, |&b| usize::from(b) % (data.len() + 1));
    assert_eq!(whole, decode(data, cut), "split at {cut}");
    for line in &whole {
        if let Line::Text(text) | Line::Unterminated(text) = line {
            assert!(!text.contains(&b'\n'), "a newline inside {text:?}");
            assert!(text.len() <= MAX_LINE + 1, "{} bytes", text.len());
        }
        if let Line::Text(text) = line {
            assert!(text.len() <= MAX_LINE, "{} bytes", text.len());
        }
    }
});
