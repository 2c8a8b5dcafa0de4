//! Decoding a byte string fed in pieces; shared by tests/app.rs and the
//! fuzz target (fuzz/fuzz_targets/app_decode.rs), which include this file.

use bytes::BytesMut;
use socklab::app::{Message, MessageCodec};
use tokio_util::codec::Decoder;

/// Decodes `input` fed in pieces ending at `cuts` (ascending): the messages,
/// and the error decoding ended with, if any (end of input included).
pub fn decode_pieces(
    input: &[u8],
    cuts: &[usize],
    max_content: usize,
) -> (Vec<Message>, Option<String>) {
    let mut codec = MessageCodec::new(max_content);
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
                Err(err) => return (messages, Some(err.to_string())),
            }
        }
    }
    let end = codec.decode_eof(&mut buf).err().map(|err| err.to_string());
    (messages, end)
}
