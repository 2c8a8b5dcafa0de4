//! Feeds arbitrary bytes to the HTTP request decoder, whole and in two
//! pieces, with small limits: it must never panic, never buffer a head past
//! its limit, and both feeds must decode the same requests and rejection.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use socklab::http::{Limits, Reject, Request, RequestDecoder, RequestError};
use tokio_util::codec::Decoder;

const MAX_HEADER_BYTES: usize = 512;

fn limits() -> Limits {
    Limits {
        max_header_bytes: MAX_HEADER_BYTES,
        max_headers: 8,
        max_body_bytes: 256,
        ..Limits::default()
    }
}

/// The requests decoded from `data` fed in pieces cut at `cuts`, and the
/// rejection that ended them, if any.
fn decode_pieces(data: &[u8], cuts: &[usize]) -> (Vec<Request>, Option<Reject>) {
    let mut decoder = RequestDecoder::new(limits());
    let mut buf = BytesMut::new();
    let mut requests = Vec::new();
    let mut start = 0;
    for end in cuts.iter().copied().chain([data.len()]) {
        buf.extend_from_slice(&data[start..end]);
        start = end;
        loop {
            match decoder.decode(&mut buf) {
                Ok(Some(request)) => requests.push(request),
                Ok(None) => break,
                Err(RequestError::Rejected(reject)) => return (requests, Some(reject)),
                Err(err) => panic!("a decoder error that is no rejection: {err}"),
            }
        }
        assert!(
            !decoder.mid_head(&buf) || buf.len() <= MAX_HEADER_BYTES,
            "a partial head of {} bytes is buffered",
            buf.len()
        );
    }
    (requests, None)
}

fuzz_target!(|data: &[u8]| {
    let whole = decode_pieces(data, &[]);
    let cut = data
        .first()
        .map_or(0, |&b| usize::from(b) % (data.len() + 1));
    assert_eq!(whole, decode_pieces(data, &[cut]), "split at {cut}");
});
