//! Feeds arbitrary bytes to the app decoder, whole and in two pieces, with a
//! small content limit: it must never panic, both feeds must agree, and every
//! decoded message must encode and decode back to itself.
#![no_main]

#[path = "../../tests/app/pieces.rs"]
mod pieces;

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use socklab::app::{FrameError, MessageCodec};
use tokio_util::codec::{Decoder, Encoder};

const MAX_CONTENT: usize = 4096;

fuzz_target!(|data: &[u8]| {
    let whole = pieces::decode_pieces(data, &[], MAX_CONTENT);
    let cut = data
        .first()
        .map_or(0, |&b| usize::from(b) % (data.len() + 1));
    assert_eq!(
        whole,
        pieces::decode_pieces(data, &[cut], MAX_CONTENT),
        "split at {cut}"
    );
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
