//! upper: the uppercasing stream of tcp_deadlock.py.
//!
//! ```text
//! client -> server   any bytes, then shutdown(SHUT_WR)
//! server -> client   the same bytes with ASCII a-z turned to A-Z, then close
//! ```
//! The server works chunk by chunk, so memory stays flat at any size. The
//! client sends and receives at once and so never deadlocks; `--lockstep`
//! reproduces the texts' client, and reports the deadlock instead of hanging.

use std::cell::Cell;
use std::io;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use indicatif::{ProgressBar, ProgressStyle};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tracing::info;

use crate::cli::UpperClientArgs;
use crate::net::{self, ConnInfo, PREVIEW_LIMIT, escape_bytes, queue_sizes};

/// The texts' deadlock example used 1060; we take the next port.
pub const DEFAULT_PORT: u16 = 1061;
/// A stream that stops moving for a minute is dropped.
pub const DEFAULT_IDLE: Duration = Duration::from_secs(60);
/// The 16-byte message the client repeats.
pub const MESSAGE: &[u8; 16] = b"capitalize this!";

const CHUNK: usize = 64 * 1024;
/// Transfers at least this large get a progress bar (on a terminal).
const PROGRESS_FROM: u64 = 8 * 1024 * 1024;

// A shutdown does not cut a stream short: the reply runs until the peer's
// half-close has been answered in full (bounded by the server's grace period).
/// Serves one uppercasing stream until the peer's half-close is answered in full.
pub async fn handle<S: AsyncRead + AsyncWrite + Unpin>(
    mut io: S,
    conn: ConnInfo,
) -> io::Result<()> {
    info!(
        "Processing up to {CHUNK} bytes at a time from {}",
        conn.peer
    );
    let mut buf = vec![0u8; CHUNK];
    let mut processed: u64 = 0;
    loop {
        let n = io.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        buf[..n].make_ascii_uppercase();
        io.write_all(&buf[..n]).await?;
        processed += n as u64;
    }
    io.shutdown().await?;
    info!("  {processed} bytes processed, socket closed");
    Ok(())
}

/// Runs `upper client`.
pub async fn client(args: &UpperClientArgs) -> Result<()> {
    let total = args.bytes.div_ceil(16) * 16;
    let port = args.target.port.unwrap_or(DEFAULT_PORT);
    println!(
        "Sending {total} bytes of data, {} repeated",
        escape_bytes(MESSAGE, PREVIEW_LIMIT)
    );
    let mut io = net::connect(&args.target.host, port, args.target.connect_timeout).await?;
    let progress = Progress::new(total);
    let started = Instant::now();
    let outcome = {
        let (reader, writer) = tokio::io::split(&mut io);
        let transfer = async {
            if args.lockstep {
                send(writer, total, &progress).await?;
                receive(reader, total, &progress).await
            } else {
                let (sent, first) = tokio::join!(
                    send(writer, total, &progress),
                    receive(reader, total, &progress)
                );
                sent?;
                first
            }
        };
        tokio::select! {
            result = transfer => Some(result),
            () = progress.watch(args.stall_timeout) => None,
        }
    };
    progress.finish();
    let (sent, received) = (progress.sent.get(), progress.received.get());
    let Some(result) = outcome else {
        let queues = queue_sizes(io.get_ref()).context("reading the socket queues")?;
        let what = if args.lockstep { "deadlock" } else { "stalled" };
        bail!(
            "{what}: nothing moved for {}s; sent {sent} of {total} bytes, received {received} bytes; \
             our socket holds {} unsent bytes (Send-Q) and {} unread bytes (Recv-Q){}",
            args.stall_timeout.as_secs_f64(),
            queues.send_q,
            queues.recv_q,
            if args.lockstep {
                ": both sides are blocked writing, the server waits for us to read while we wait \
                 for it to read (run without --lockstep to send and receive at once)"
            } else {
                ""
            }
        );
    };
    let first = result?;
    println!("  {sent} bytes sent");
    println!("Receiving all the data the server sends back");
    println!(
        "  The first data received says {}",
        escape_bytes(&first, PREVIEW_LIMIT)
    );
    let secs = started.elapsed().as_secs_f64();
    println!(
        "  {received} bytes received and verified in {secs:.2}s ({:.1} MiB/s)",
        received as f64 / (1024.0 * 1024.0) / secs.max(1e-9)
    );
    Ok(())
}

/// Counters shared by the sending and receiving halves and the stall watcher;
/// all three run in one task, so plain cells suffice.
struct Progress {
    sent: Cell<u64>,
    received: Cell<u64>,
    bar: Option<ProgressBar>,
}

impl Progress {
    fn new(total: u64) -> Self {
        let bar = (total >= PROGRESS_FROM).then(|| {
            let bar = ProgressBar::new(total);
            if let Ok(style) = ProgressStyle::with_template(
                "{bar:40} {bytes}/{total_bytes} received, {bytes_per_sec} {msg}",
            ) {
                bar.set_style(style);
            }
            bar
        });
        Self {
            sent: Cell::new(0),
            received: Cell::new(0),
            bar,
        }
    }

    /// Returns once neither counter has moved for `stall`.
    async fn watch(&self, stall: Duration) {
        let mut last = (self.sent.get(), self.received.get());
        let mut since = Instant::now();
        loop {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let now = (self.sent.get(), self.received.get());
            if let Some(bar) = &self.bar {
                bar.set_position(now.1);
                bar.set_message(format!("({} sent)", indicatif::HumanBytes(now.0)));
            }
            if now != last {
                last = now;
                since = Instant::now();
            } else if since.elapsed() >= stall {
                return;
            }
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

async fn send<W: AsyncWrite + Unpin>(mut writer: W, total: u64, progress: &Progress) -> Result<()> {
    let block = MESSAGE.repeat(CHUNK / MESSAGE.len());
    let mut left = total;
    while left > 0 {
        // `total` and the block are multiples of 16, so every write keeps the
        // pattern aligned.
        let n = left.min(block.len() as u64) as usize;
        writer.write_all(&block[..n]).await.context("sending")?;
        left -= n as u64;
        progress.sent.set(total - left);
    }
    writer
        .shutdown()
        .await
        .context("shutting down the sending side")?;
    Ok(())
}

/// Reads until EOF, checks every byte against the uppercased pattern, and
/// returns the first chunk received.
async fn receive<R: AsyncRead + Unpin>(
    mut reader: R,
    total: u64,
    progress: &Progress,
) -> Result<Vec<u8>> {
    let expected = MESSAGE
        .to_ascii_uppercase()
        .repeat(CHUNK / MESSAGE.len() + 1);
    let mut buf = vec![0u8; CHUNK];
    let mut first = Vec::new();
    let mut received: u64 = 0;
    loop {
        let n = reader.read(&mut buf).await.context("receiving")?;
        if n == 0 {
            break;
        }
        if received + n as u64 > total {
            bail!("the server sent more than the {total} bytes we sent");
        }
        let offset = (received % 16) as usize;
        if buf[..n] != expected[offset..offset + n] {
            let at = buf[..n]
                .iter()
                .zip(&expected[offset..])
                .position(|(a, b)| a != b)
                .unwrap_or(0);
            bail!(
                "verification failed at byte {}: got {}, expected {}",
                received + at as u64,
                escape_bytes(&buf[at..n], 16),
                escape_bytes(&expected[offset + at..offset + n], 16)
            );
        }
        if first.is_empty() {
            first = buf[..n].to_vec();
        }
        received += n as u64;
        progress.received.set(received);
    }
    if received != total {
        bail!("the server closed after {received} of {total} bytes");
    }
    Ok(first)
}
