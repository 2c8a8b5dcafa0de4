//! `bench app`: requests of the framed app protocol (SPEC §7), every answer
//! checked against what [`crate::app::respond`] says the built-in table gives.
//!
//! ```text
//! request N   one of, in turn: search "morpheus", search "ring", search "🐶",
//!             search "nobody" (a miss), binary (--size bytes of "binary😃…");
//!             or always search --value VALUE
//! answer N    equivalent to respond(builtin table, request N): content type,
//!             encoding, keep-alive and content equal
//! default     one connection per request, closed by the server (the original)
//! --keep-alive  "keep-alive": true on every request, --pipeline K in flight
//! ```
//! Requests and expected answers are encoded once, with the shared codec. An
//! answer whose bytes equal the expected encoding is accepted at once (it
//! decodes to exactly the expected message); any other answer is decoded and
//! compared, so a server that orders its header keys differently still passes.

use std::sync::Arc;

use bytes::{Buf, Bytes, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

use super::driver::{self, Exchange};
use super::report::Report;
use super::{BenchError, Load};
use super::{run_workers, setup, target};
use crate::app::{DEFAULT_PORT, Message, MessageCodec, SearchTable, respond};
use crate::net::escape_bytes;

/// The queries the bench rotates through: hits (one non-ASCII) and a miss.
const QUERIES: [&str; 4] = ["morpheus", "ring", "\u{1f436}", "nobody"];
/// What a binary request's content repeats.
const BINARY_PATTERN: &[u8] = "binary\u{1f603}".as_bytes();
/// Answers are a few dozen bytes; anything near this is not an answer of ours.
const MAX_ANSWER: usize = 64 * 1024;

/// One request on the wire and the answer it must get.
struct Case {
    request: Bytes,
    expected: Message,
    expected_bytes: Bytes,
}

/// The rotation of requests and their checks.
struct AppExchange {
    cases: Vec<Case>,
}

impl AppExchange {
    /// The requests of a run: `value` alone, or the rotation; `keep_alive`
    /// sets the header key; binary content is `size` bytes.
    fn new(value: Option<&str>, keep_alive: bool, size: usize) -> Result<Self, BenchError> {
        let requests: Vec<Message> = match value {
            Some(value) => vec![Message::search(value)],
            None => {
                let binary: Vec<u8> = BINARY_PATTERN.iter().copied().cycle().take(size).collect();
                QUERIES
                    .iter()
                    .map(|query| Message::search(query))
                    .chain([Message::binary(binary)])
                    .collect()
            }
        };
        let table = SearchTable::builtin();
        let mut codec = MessageCodec::new(MAX_ANSWER);
        let mut encode = |message: &Message| -> Result<Bytes, BenchError> {
            let mut out = BytesMut::new();
            codec.encode(message, &mut out)?;
            Ok(out.freeze())
        };
        let mut cases = Vec::with_capacity(requests.len());
        for request in requests {
            let request = request.with_keep_alive(keep_alive);
            let expected = respond(&table, &request).map_err(BenchError::Expected)?;
            cases.push(Case {
                request: encode(&request)?,
                expected_bytes: encode(&expected)?,
                expected,
            });
        }
        Ok(AppExchange { cases })
    }

    fn case(&self, seq: u64) -> &Case {
        // The index is below cases.len(), which is a usize.
        &self.cases[(seq % self.cases.len() as u64) as usize]
    }
}

impl Exchange for AppExchange {
    fn request(&self, seq: u64, out: &mut BytesMut) {
        out.extend_from_slice(&self.case(seq).request);
    }

    fn answer(&self, seq: u64, input: &mut BytesMut) -> Result<bool, String> {
        let case = self.case(seq);
        let expected = &case.expected_bytes[..];
        if input.starts_with(expected) {
            input.advance(expected.len());
            return Ok(true);
        }
        if expected.starts_with(input) {
            return Ok(false);
        }
        // Different bytes: decode a copy (the codec consumes a header whose
        // content is still missing) and compare meanings.
        let mut copy = input.clone();
        let answer = match MessageCodec::new(MAX_ANSWER).decode(&mut copy) {
            Ok(Some(answer)) => answer,
            Ok(None) => return Ok(false),
            Err(err) => return Err(format!("answer {seq} is not a valid message: {err}")),
        };
        if !answer.equivalent(&case.expected) {
            return Err(format!(
                "answer {seq} is wrong: expected {}, got {}",
                show(&case.expected),
                show(&answer)
            ));
        }
        input.advance(input.len() - copy.len());
        Ok(true)
    }
}

/// An answer as an error message shows it: type, keep-alive, content.
fn show(message: &Message) -> String {
    let keep_alive = if message.header.keep_alive {
        ", keep-alive"
    } else {
        ""
    };
    format!(
        "{}{keep_alive} {}",
        message.header.content_type,
        escape_bytes(&message.content, 200)
    )
}

/// What `bench app` loads.
#[derive(Debug, Clone, Default)]
pub struct AppOptions {
    /// The load.
    pub load: Load,
    /// Send `"keep-alive": true` and reuse each connection [default: one connection per request].
    pub keep_alive: bool,
    /// Search for this value only [default: the rotation].
    pub value: Option<String>,
}

/// Runs `bench app`.
pub async fn run(args: &AppOptions) -> Result<Report, BenchError> {
    let load = &args.load;
    let dialer = target(load, DEFAULT_PORT).await?;
    let addr = dialer.addr;
    let exchange = Arc::new(AppExchange::new(
        args.value.as_deref(),
        args.keep_alive,
        load.size.max(1),
    )?);
    let shared = load.clone();
    let keep_alive = args.keep_alive;
    let tally = if keep_alive {
        run_workers(
            load,
            move |_| {
                let dialer = dialer.clone();
                async move { dialer.connect().await }
            },
            move |_, stream, plan, pacer| {
                let (exchange, load) = (exchange.clone(), shared.clone());
                async move { driver::keep_alive(&*exchange, stream, &load, pacer, plan).await }
            },
        )
        .await
    } else {
        // Each worker connects per request, so there is nothing to open first.
        run_workers(
            load,
            |_| async { Ok(()) },
            move |_, (), plan, pacer| {
                let (exchange, load, dialer) = (exchange.clone(), shared.clone(), dialer.clone());
                async move {
                    driver::one_per_connection(&*exchange, &dialer, &load, pacer, plan).await
                }
            },
        )
        .await
    };
    let protocol = if keep_alive {
        "app --keep-alive"
    } else {
        "app"
    };
    Ok(Report::new(setup(load, protocol, addr, "requests"), tally))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answers(exchange: &AppExchange, seq: u64) -> BytesMut {
        BytesMut::from(&exchange.case(seq).expected_bytes[..])
    }

    #[test]
    fn rotation_covers_hits_a_miss_and_binary() {
        let exchange = AppExchange::new(None, true, 64).expect("builds");
        let contents: Vec<String> = exchange
            .cases
            .iter()
            .map(|case| String::from_utf8_lossy(&case.expected.content).into_owned())
            .collect();
        assert!(contents[0].contains("white rabbit"), "{contents:?}");
        assert!(contents[2].contains("Playing ball! 🏐"), "{contents:?}");
        assert!(
            contents[3].contains("No match for \\\"nobody\\\""),
            "{contents:?}"
        );
        assert_eq!(contents[4], "First 10 bytes of request: binary\u{1f603}");
        assert!(exchange.cases.iter().all(|c| c.expected.header.keep_alive));
    }

    #[test]
    fn accepts_in_pieces_and_equivalent_reorderings() {
        let exchange = AppExchange::new(None, false, 64).expect("builds");
        let whole = answers(&exchange, 0);
        let mut input = BytesMut::from(&whole[..5]);
        assert_eq!(exchange.answer(0, &mut input), Ok(false));
        input.extend_from_slice(&whole[5..]);
        input.extend_from_slice(b"\x00");
        assert_eq!(exchange.answer(0, &mut input), Ok(true));
        assert_eq!(&input[..], b"\x00");
        // The same answer with the other byte order and an extra key.
        let mut other = exchange.case(1).expected.clone();
        other.header.byteorder = match other.header.byteorder {
            crate::app::ByteOrder::Little => crate::app::ByteOrder::Big,
            crate::app::ByteOrder::Big => crate::app::ByteOrder::Little,
        };
        other.header.extra.insert("server".into(), "x".into());
        let mut input = BytesMut::new();
        MessageCodec::default()
            .encode(&other, &mut input)
            .expect("encodes");
        let half = input.len() / 2;
        let mut partial = BytesMut::from(&input[..half]);
        assert_eq!(exchange.answer(1, &mut partial), Ok(false));
        assert_eq!(partial.len(), half, "nothing consumed while incomplete");
        assert_eq!(exchange.answer(1, &mut input), Ok(true));
        assert!(input.is_empty());
    }

    #[test]
    fn refuses_wrong_answers() {
        let exchange = AppExchange::new(None, false, 64).expect("builds");
        let mut input = answers(&exchange, 1);
        let why = exchange
            .answer(0, &mut input)
            .expect_err("ring is not morpheus");
        assert!(why.contains("answer 0 is wrong"), "{why}");
        let mut input = BytesMut::from(&b"\x00\x00"[..]);
        let why = exchange.answer(0, &mut input).expect_err("empty header");
        assert!(why.contains("not a valid message"), "{why}");
        // keep-alive must be echoed.
        let mut with = exchange.case(0).expected.clone().with_keep_alive(true);
        with.header.extra.clear();
        let mut input = BytesMut::new();
        MessageCodec::default()
            .encode(&with, &mut input)
            .expect("encodes");
        assert!(exchange.answer(0, &mut input).is_err());
    }
}
