//! The hello messages a peer sends, and the answers we send back.
//!
//! ```text
//! decode   b"Michael\n"   -> Message { text: b"Michael", line: true }
//!          b"Michael"     -> nothing yet (the server's pause ends it)
//!          no newline in more than MAX_MESSAGE bytes -> TooLong
//! encode   Welcome                          -> b"Welcome!"
//!          Hello { name: b"Ada", line }     -> b"Hello, Ada!" (+ b"\n" if line)
//!          TooLong                          -> b"error: message longer than 4096 bytes\n"
//! ```

use bytes::{BufMut, Bytes, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

use super::{Error, MAX_MESSAGE, WELCOME};

/// One message from the peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The message, without its newline.
    pub text: Bytes,
    /// Whether a newline ended it (the answer then ends with one too).
    pub line: bool,
}

/// What the server sends.
#[derive(Debug, Clone, Copy)]
pub enum Answer<'a> {
    /// The greeting on connect.
    Welcome,
    /// The answer to a name.
    Hello {
        /// The name, as sent (invalid UTF-8 is replaced).
        name: &'a [u8],
        /// Whether to end the answer with a newline.
        line: bool,
    },
    /// The last words to a peer whose message is too long.
    TooLong,
}

/// Splits a peer's input at newlines, with a cap on a message's length.
#[derive(Debug, Clone, Copy)]
pub struct MessageCodec {
    max: usize,
}

impl MessageCodec {
    /// A codec refusing messages longer than `max` bytes.
    pub fn new(max: usize) -> Self {
        Self { max }
    }
}

impl Default for MessageCodec {
    fn default() -> Self {
        Self::new(MAX_MESSAGE)
    }
}

impl Decoder for MessageCodec {
    type Item = Message;
    type Error = Error;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Message>, Error> {
        if let Some(end) = src.iter().position(|&b| b == b'\n') {
            let mut text = src.split_to(end + 1).freeze();
            text.truncate(end);
            return Ok(Some(Message { text, line: true }));
        }
        if src.len() > self.max {
            return Err(Error::TooLong);
        }
        Ok(None)
    }
}

impl Encoder<Answer<'_>> for MessageCodec {
    type Error = Error;

    fn encode(&mut self, answer: Answer<'_>, dst: &mut BytesMut) -> Result<(), Error> {
        match answer {
            Answer::Welcome => dst.put_slice(WELCOME),
            Answer::Hello { name, line } => {
                dst.put_slice(b"Hello, ");
                dst.put_slice(String::from_utf8_lossy(name).as_bytes());
                dst.put_u8(b'!');
                if line {
                    dst.put_u8(b'\n');
                }
            }
            Answer::TooLong => {
                let max = self.max;
                dst.put_slice(format!("error: message longer than {max} bytes\n").as_bytes());
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(input: &[u8], max: usize) -> (Vec<Message>, Result<(), String>, usize) {
        let mut codec = MessageCodec::new(max);
        let mut buf = BytesMut::from(input);
        let mut messages = Vec::new();
        loop {
            match codec.decode(&mut buf) {
                Ok(Some(message)) => messages.push(message),
                Ok(None) => return (messages, Ok(()), buf.len()),
                Err(err) => return (messages, Err(err.to_string()), buf.len()),
            }
        }
    }

    #[test]
    fn newlines_end_messages_and_the_rest_waits() {
        let (messages, result, left) = decode_all(b"Michael\nTracy\r\nSar", 10);
        let texts: Vec<&[u8]> = messages.iter().map(|m| &m.text[..]).collect();
        assert_eq!(texts, [&b"Michael"[..], b"Tracy\r"]);
        assert!(messages.iter().all(|m| m.line));
        assert_eq!((result, left), (Ok(()), 3));
    }

    #[test]
    fn more_than_max_without_a_newline_is_too_long() {
        assert_eq!(decode_all(b"0123456789", 10).1, Ok(()));
        assert_eq!(
            decode_all(b"0123456789a", 10).1,
            Err("message too long".to_string())
        );
    }

    #[test]
    fn answers_are_the_texts_bytes() {
        let mut codec = MessageCodec::new(4096);
        let mut out = BytesMut::new();
        for answer in [
            Answer::Welcome,
            Answer::Hello {
                name: b"Ada",
                line: false,
            },
            Answer::Hello {
                name: b"\xffx",
                line: true,
            },
            Answer::TooLong,
        ] {
            codec.encode(answer, &mut out).expect("encode");
        }
        assert_eq!(
            &out[..],
            "Welcome!Hello, Ada!Hello, \u{fffd}x!\nerror: message longer than 4096 bytes\n"
                .as_bytes()
        );
    }
}
