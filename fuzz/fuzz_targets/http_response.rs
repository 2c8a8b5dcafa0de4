//! Feeds arbitrary bytes, as a hostile server would send them, to the http
//! get response decoder, whole and in two pieces: it must never panic, never
//! hold more than a head's limit undecoded, and both feeds must agree.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use socklab::http::{MAX_HEAD, Part, ResponseDecoder, ResponseError};

/// The heads' codes, the decoded body and the error or EOF verdict of
/// `data` fed in pieces cut at `cuts`.
fn decode_pieces(data: &[u8], cuts: &[usize]) -> (Vec<u16>, Vec<u8>, Result<(), ResponseError>) {
    let mut decoder = ResponseDecoder::new();
    let mut input = BytesMut::new();
    let (mut codes, mut body) = (Vec::new(), Vec::new());
    let mut start = 0;
    for end in cuts.iter().copied().chain([data.len()]) {
        input.extend_from_slice(&data[start..end]);
        start = end;
        loop {
            match decoder.decode(&mut input) {
                Ok(Some(Part::Head(head))) => codes.push(head.code),
                Ok(Some(Part::Body { data, .. })) => body.extend_from_slice(&data),
                Ok(None) => break,
                Err(err) => return (codes, body, Err(err)),
            }
        }
        assert!(
            decoder.is_done() || input.len() <= MAX_HEAD + 64 * 1024,
            "{} bytes undecoded",
            input.len()
        );
    }
    let verdict = if decoder.is_done() {
        Ok(())
    } else {
        decoder.finish()
    };
    (codes, body, verdict)
}

fuzz_target!(|data: &[u8]| {
    let whole = decode_pieces(data, &[]);
    let cut = data
        .first()
        .map_or(0, |&b| usize::from(b) % (data.len() + 1));
    assert_eq!(whole, decode_pieces(data, &[cut]), "split at {cut}");
});
