//! Feeds arbitrary bytes to the hello message decoder, whole and in two
//! pieces, with a small limit: it must never panic, both feeds must agree,
//! no message may hold a newline, and nothing without a newline may grow
//! past the limit.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use socklab::hello::{Message, MessageCodec};
use tokio_util::codec::Decoder;

const MAX: usize = 64;

/// Decodes `data` fed in pieces cut at `cuts`: the messages, whether the
/// limit stopped it, and the bytes left undecoded.
fn decode_pieces(data: &[u8], cuts: &[usize]) -> (Vec<Message>, bool, Vec<u8>) {
    let mut codec = MessageCodec::new(MAX);
    let mut buf = BytesMut::new();
    let mut messages = Vec::new();
    let mut start = 0;
    for end in cuts.iter().copied().chain([data.len()]) {
        buf.extend_from_slice(&data[start..end]);
        start = end;
        loop {
            match codec.decode(&mut buf) {
                Ok(Some(message)) => messages.push(message),
                Ok(None) => break,
                Err(_) => return (messages, true, buf.to_vec()),
            }
        }
        assert!(buf.len() <= MAX, "{} bytes buffered", buf.len());
    }
    (messages, false, buf.to_vec())
}

fuzz_target!(|data: &[u8]| {
    let whole = decode_pieces(data, &[]);
    for message in &whole.0 {
        assert!(message.line);
        assert!(!message.text.contains(&b'\n'));
    }
    if !whole.1 {
        let decoded: usize = whole.0.iter().map(|m| m.text.len() + 1).sum();
        assert_eq!(decoded + whole.2.len(), data.len(), "bytes lost");
        let cut = data
            .first()
            .map_or(0, |&b| usize::from(b) % (data.len() + 1));
        let pieces = decode_pieces(data, &[cut]);
        // Fed in pieces, the limit can only stop it earlier, never later.
        if !pieces.1 {
            assert_eq!(whole, pieces, "split at {cut}");
        }
    }
});
