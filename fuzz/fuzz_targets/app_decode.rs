//! Feeds arbitrary bytes to the app decoder, whole and in two pieces, with a
//! small content limit: it must never panic, both feeds must agree, and every
//! decoded message must encode and decode back to itself.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use socklab::app::{FrameError, Message, MessageCodec};
use tokio_util::codec::{Decoder, Encoder};

const MAX_CONTENT: usize = 4096;

/// Decodes `input` fed in chunks ending at `cuts`; the messages and whether it ended in an error.
fn decode(input: &[u8], cuts: &[usize]) -> (Vec<Message>, bool) {
    let mut codec = MessageCodec::new(MAX_CONTENT);
    let mut buf = BytesMut::new();
    let mut messages = Vec::new();
    let mut start = 0;
    for &end in cuts.iter().chain(std::iter::once(&input.len())) {
        buf.extend_from_slice(&input[start..end]);
        start = end;
        loop {
            match codec.decode(&mut buf) {
                Ok(Some(message)) => messages.push(message),
                Ok(None) => break,
                Err(_) => return (messages, true),
            }
        }
    }
    let failed = codec.decode_eof(&mut buf).is_err();
    (messages, failed)
}

fuzz_target!(|data: &[u8]| {
    let whole = decode(data, &[]);
    let cut = data.first().map_or(0, |&b| usize::from(b) % (data.len() + 1));
    assert_eq!(whole, decode(data, &[cut]), "split at {cut}");
    for message in &whole.0 {
        let mut encoded = BytesMut::new();
        // Python-style separators can push a header near 64 KiB past the limit.
        match MessageCodec::new(MAX_CONTENT).encode(message, &mut encoded) {
            Ok(()) => {}
            Err(FrameError::HeaderTooLong(_)) => continue,
            Err(err) => panic!("a decoded message does not re-encode: {err}"),
        }
        let again = MessageCodec::new(MAX_CONTENT)
            .decode(&mut encoded)
            .expect("re-encoded bytes decode")
            .expect("a whole message");
        assert_eq!(&again, message);
    }
});
