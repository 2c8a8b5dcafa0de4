//! `bench echo`: round trips of `--size` bytes, every echoed byte compared; or
//! `--bulk`, both directions streaming at once on every connection.
//!
//! ```text
//! request N   --size bytes of a 251-periodic pattern starting at 7*N mod 251
//! answer N    the same bytes
//! bulk        the pattern from offset 0, written until the end, then a
//!             half-close; the echo must match byte for byte up to EOF
//! ```
//! The period is prime so that a dropped, doubled or reordered chunk shows up
//! as a mismatch instead of lining up with the next copy.

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::{Instant, timeout_at};

use super::driver::{self, Exchange, Reader, Writer};
use super::report::{Failure, Report, Tally};
use super::{BenchError, Load};
use super::{Plan, run_workers, setup, target};
use crate::echo::DEFAULT_PORT;

const PERIOD: usize = 251;
/// Bytes per write and per read in bulk mode: large enough that system calls
/// cost little next to the copying.
const BULK_CHUNK: usize = 256 * 1024;

/// Bytes `i` = `i mod 251`, long enough for any slice a run needs.
fn pattern(len: usize) -> Bytes {
    (0..len + PERIOD).map(|i| (i % PERIOD) as u8).collect()
}

/// Where two equally long slices first differ. The common case, no
/// difference, is one memcmp: comparing byte by byte capped bulk runs at about
/// 1.4 GB/s of client time.
fn first_difference(expected: &[u8], got: &[u8]) -> Option<usize> {
    if expected == got {
        return None;
    }
    expected.iter().zip(got).position(|(a, b)| a != b)
}

/// Round trips of one fixed-size message.
struct Echo {
    size: usize,
    pattern: Bytes,
}

impl Echo {
    fn message(&self, seq: u64) -> &[u8] {
        let start = (seq as usize).wrapping_mul(7) % PERIOD;
        &self.pattern[start..start + self.size]
    }
}

impl Exchange for Echo {
    fn request(&self, seq: u64, out: &mut BytesMut) {
        out.extend_from_slice(self.message(seq));
    }

    fn answer(&self, seq: u64, input: &mut BytesMut) -> Result<bool, String> {
        if input.len() < self.size {
            return Ok(false);
        }
        let expected = self.message(seq);
        if let Some(at) = first_difference(expected, &input[..self.size]) {
            return Err(format!(
                "echo of message {seq} differs at byte {at}: sent {:#04x}, got {:#04x}",
                expected[at], input[at]
            ));
        }
        input.advance(self.size);
        Ok(true)
    }
}

/// What `bench echo` loads.
#[derive(Debug, Clone, Default)]
pub struct EchoOptions {
    /// The load.
    pub load: Load,
    /// Stream both ways at once on every connection and report MB/s.
    pub bulk: bool,
}

/// Runs `bench echo`.
pub async fn run(args: &EchoOptions) -> Result<Report, BenchError> {
    let load = &args.load;
    let dialer = target(load, DEFAULT_PORT).await?;
    let addr = dialer.addr;
    let tally = if args.bulk {
        let pattern = pattern(BULK_CHUNK);
        let open = move |_| {
            let dialer = dialer.clone();
            async move { dialer.connect_halves().await }
        };
        run_workers(load, open, move |_, (reader, writer), plan, _| {
            bulk(reader, writer, pattern.clone(), plan)
        })
        .await
    } else {
        let open = move |_| {
            let dialer = dialer.clone();
            async move { dialer.connect().await }
        };
        let echo = std::sync::Arc::new(Echo {
            size: load.size,
            pattern: pattern(load.size),
        });
        let load2 = load.clone();
        run_workers(load, open, move |_, stream, plan, pacer| {
            let (echo, load) = (echo.clone(), load2.clone());
            async move { driver::keep_alive(&*echo, stream, &load, pacer, plan).await }
        })
        .await
    };
    let (protocol, unit) = if args.bulk {
        ("echo --bulk", "chunks")
    } else {
        ("echo", "round trips")
    };
    let mut setup = setup(load, protocol, addr, unit);
    if args.bulk {
        setup.size = BULK_CHUNK;
    }
    Ok(Report::new(setup, tally))
}

/// Streams the pattern out and checks it back in at the same time, on one
/// connection; counts the bytes and the 64 KiB chunks echoed in the window.
async fn bulk(mut reader: Reader, mut writer: Writer, pattern: Bytes, plan: Plan) -> Tally {
    let sending = tokio::spawn(async move {
        let mut sent = 0u64;
        let mut counted = 0u64;
        while Instant::now() < plan.end {
            let start = (sent % PERIOD as u64) as usize;
            let chunk = &pattern[start..start + BULK_CHUNK];
            match timeout_at(plan.drain_end, writer.write_all(chunk)).await {
                Ok(Ok(())) => {}
                Ok(Err(err)) => return Err(format!("writing: {}", crate::net::describe(&err))),
                Err(_) => return Err("the server stopped reading".to_string()),
            }
            sent += BULK_CHUNK as u64;
            if plan.counts(Instant::now()) {
                counted += BULK_CHUNK as u64;
            }
        }
        // The half-close tells the server we are done; it closes after echoing.
        let _ = writer.shutdown().await;
        Ok((sent, counted))
    });
    let mut tally = Tally::default();
    let expected = pattern_check(&mut reader, &mut tally, plan).await;
    match sending.await {
        Ok(Ok((sent, counted))) => {
            tally.bytes_sent = counted;
            if let Ok(received) = expected
                && received != sent
            {
                tally.fail(
                    Failure::Verify,
                    format!("sent {sent} bytes but {received} came back before EOF"),
                );
            }
        }
        Ok(Err(why)) => tally.fail(Failure::Io, why),
        Err(err) => tally.fail(Failure::Io, format!("sender failed: {err}")),
    }
    if let Err((kind, why)) = expected {
        tally.fail(kind, why);
    }
    tally
}

/// Reads the echo to EOF, comparing it with the pattern; returns the byte count.
async fn pattern_check(
    reader: &mut Reader,
    tally: &mut Tally,
    plan: Plan,
) -> Result<u64, (Failure, String)> {
    let expected = pattern(BULK_CHUNK);
    let mut buf = vec![0u8; BULK_CHUNK];
    let mut received = 0u64;
    let mut chunk_bytes = 0u64;
    loop {
        let n = match timeout_at(plan.drain_end, reader.read(&mut buf)).await {
            Ok(Ok(n)) => n,
            Ok(Err(err)) => {
                return Err((
                    Failure::Io,
                    format!("reading: {}", crate::net::describe(&err)),
                ));
            }
            Err(_) => {
                return Err((
                    Failure::Timeout,
                    format!("echo stalled after {received} bytes"),
                ));
            }
        };
        if n == 0 {
            return Ok(received);
        }
        let start = (received % PERIOD as u64) as usize;
        if let Some(at) = first_difference(&expected[start..start + n], &buf[..n]) {
            return Err((
                Failure::Verify,
                format!("echoed stream differs at byte {}", received + at as u64),
            ));
        }
        received += n as u64;
        let at = Instant::now();
        if plan.counts(at) {
            tally.bytes_received += n as u64;
            chunk_bytes += n as u64;
            while chunk_bytes >= BULK_CHUNK as u64 {
                chunk_bytes -= BULK_CHUNK as u64;
                tally.complete(plan.slot(at));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_difference_is_found_wherever_it_is() {
        let expected = pattern(1000);
        assert_eq!(first_difference(&expected[..1000], &expected[..1000]), None);
        for at in [0, 1, 500, 999] {
            let mut got = expected[..1000].to_vec();
            got[at] ^= 0x80;
            assert_eq!(first_difference(&expected[..1000], &got), Some(at));
        }
    }

    #[test]
    fn the_pattern_repeats_every_251_bytes() {
        let p = pattern(BULK_CHUNK);
        assert_eq!(p.len(), BULK_CHUNK + PERIOD);
        assert_eq!(&p[..PERIOD], &p[PERIOD..2 * PERIOD]);
        assert_eq!(p[250], 250);
        assert_eq!(p[251], 0);
    }
}
