//! upper: the uppercasing stream of tcp_deadlock.py.
//!
//! ```text
//! client -> server   any bytes, then shutdown(SHUT_WR)
//! server -> client   the same bytes with ASCII a-z turned to A-Z, then close
//! ```
//! The server works chunk by chunk, so memory stays flat at any size. The
//! client sends and receives at once and so never deadlocks; `lockstep`
//! reproduces the texts' client, and reports the deadlock instead of hanging.

use std::cell::Cell;
use std::io;
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tracing::info;

use crate::echo::copy_back;
use crate::net::{
    self, ConnInfo, Endpoint, NetError, QueueSizes, ReadReady, escape_bytes, queue_sizes,
};

/// The texts' deadlock example used 1060; we take the next port.
pub const DEFAULT_PORT: u16 = 1061;
/// A stream that stops moving for a minute is dropped.
pub const DEFAULT_IDLE: Duration = Duration::from_secs(60);
/// The 16-byte message the client repeats.
pub const MESSAGE: &[u8; 16] = b"capitalize this!";
/// How long the client waits for anything to move before reporting a stall.
pub const DEFAULT_STALL: Duration = Duration::from_secs(5);

const CHUNK: usize = 64 * 1024;
/// How often the client's stall watcher looks at the counters.
const TICK: Duration = Duration::from_millis(100);

net::plain_server!("upper", DEFAULT_IDLE, handle);

// A shutdown does not cut a stream short: the reply runs until the peer's
// half-close has been answered in full (bounded by the server's grace period).
/// Serves one uppercasing stream until the peer's half-close is answered in full.
pub async fn handle<S>(mut io: S, conn: ConnInfo) -> io::Result<()>
where
    S: AsyncRead + AsyncWrite + ReadReady + Unpin,
{
    info!(
        "Processing up to {CHUNK} bytes at a time from {}",
        conn.peer
    );
    let processed = copy_back(&mut io, CHUNK, None, <[u8]>::make_ascii_uppercase).await?;
    info!("  {processed} bytes processed, socket closed");
    Ok(())
}

/// What the client sends.
#[derive(Debug, Clone)]
pub struct Transfer {
    /// Bytes to send; rounded up to a multiple of 16 (see [`Transfer::total`]).
    pub bytes: u64,
    /// Send everything before reading anything, as the texts' naive client does.
    pub lockstep: bool,
    /// A stall (a deadlock when `lockstep`) is reported after nothing moved this long.
    pub stall_timeout: Duration,
}

impl Default for Transfer {
    fn default() -> Self {
        Self {
            bytes: MESSAGE.len() as u64,
            lockstep: false,
            stall_timeout: DEFAULT_STALL,
        }
    }
}

impl Transfer {
    /// The bytes actually sent: whole repetitions of [`MESSAGE`].
    pub fn total(&self) -> u64 {
        self.bytes.div_ceil(16) * 16
    }
}

/// What a verified transfer did.
#[derive(Debug, Clone)]
pub struct Report {
    /// Bytes sent.
    pub sent: u64,
    /// Bytes received, every one verified.
    pub received: u64,
    /// The first chunk received.
    pub first: Vec<u8>,
    /// From connected to the last byte received.
    pub elapsed: Duration,
}

/// Why a transfer failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Connecting failed.
    #[error(transparent)]
    Net(#[from] NetError),
    /// Writing failed.
    #[error("sending: {0}")]
    Send(io::Error),
    /// The half-close after the last byte failed.
    #[error("shutting down the sending side: {0}")]
    ShutdownWrite(io::Error),
    /// Reading failed.
    #[error("receiving: {0}")]
    Receive(io::Error),
    /// The server answered more than it was sent.
    #[error("the server sent more than the {total} bytes we sent")]
    TooMuch {
        /// Bytes sent.
        total: u64,
    },
    /// A byte came back that is not the uppercased pattern.
    #[error(
        "verification failed at byte {at}: got {}, expected {}",
        escape_bytes(got, 16),
        escape_bytes(expected, 16)
    )]
    Mismatch {
        /// Offset of the first wrong byte in the stream.
        at: u64,
        /// What came, from that byte on.
        got: Vec<u8>,
        /// What should have.
        expected: Vec<u8>,
    },
    /// The server closed before answering everything.
    #[error("the server closed after {received} of {total} bytes")]
    Short {
        /// Bytes received.
        received: u64,
        /// Bytes sent.
        total: u64,
    },
    /// The socket queues could not be read for a stall report.
    #[error("reading the socket queues: {0}")]
    Queues(io::Error),
    /// Nothing moved for `stall`: with `lockstep` the texts' deadlock.
    #[error(
        "{}: nothing moved for {}s; sent {sent} of {total} bytes, received {received} bytes; \
         our socket holds {} unsent bytes (Send-Q) and {} unread bytes (Recv-Q){}",
        if *lockstep { "deadlock" } else { "stalled" },
        stall.as_secs_f64(),
        queues.send_q,
        queues.recv_q,
        if *lockstep {
            ": both sides are blocked writing, the server waits for us to read while we wait \
             for it to read (run without --lockstep to send and receive at once)"
        } else {
            ""
        }
    )]
    Stalled {
        /// Whether the client sent before reading.
        lockstep: bool,
        /// How long nothing moved.
        stall: Duration,
        /// Bytes sent.
        sent: u64,
        /// Bytes to send.
        total: u64,
        /// Bytes received.
        received: u64,
        /// Our socket's kernel queues at that moment.
        queues: QueueSizes,
    },
}

/// Connects to `server` and streams `transfer` through it, verifying every
/// byte; `on_progress(sent, received)` hears the counters every 100 ms.
pub async fn client(
    server: &Endpoint,
    transfer: &Transfer,
    mut on_progress: impl FnMut(u64, u64),
) -> Result<Report, Error> {
    let total = transfer.total();
    let mut io = server.connect().await?;
    let counters = Counters::default();
    let started = Instant::now();
    let outcome = {
        let (reader, writer) = tokio::io::split(&mut io);
        let moving = async {
            if transfer.lockstep {
                send(writer, total, &counters).await?;
                receive(reader, total, &counters).await
            } else {
                let (sent, first) = tokio::join!(
                    send(writer, total, &counters),
                    receive(reader, total, &counters)
                );
                sent?;
                first
            }
        };
        tokio::select! {
            result = moving => Some(result),
            () = counters.watch(transfer.stall_timeout, &mut on_progress) => None,
        }
    };
    let (sent, received) = (counters.sent.get(), counters.received.get());
    let Some(result) = outcome else {
        let queues = queue_sizes(io.get_ref().get_ref()).map_err(Error::Queues)?;
        return Err(Error::Stalled {
            lockstep: transfer.lockstep,
            stall: transfer.stall_timeout,
            sent,
            total,
            received,
            queues,
        });
    };
    let first = result?;
    Ok(Report {
        sent,
        received,
        first,
        elapsed: started.elapsed(),
    })
}

/// Counters shared by the sending and receiving halves and the stall watcher;
/// all three run in one task, so plain cells suffice.
#[derive(Debug, Default)]
struct Counters {
    sent: Cell<u64>,
    received: Cell<u64>,
}

impl Counters {
    /// Returns once neither counter has moved for `stall`.
    async fn watch(&self, stall: Duration, on_progress: &mut impl FnMut(u64, u64)) {
        let mut last = (self.sent.get(), self.received.get());
        let mut since = Instant::now();
        loop {
            tokio::time::sleep(TICK).await;
            let now = (self.sent.get(), self.received.get());
            on_progress(now.0, now.1);
            if now != last {
                last = now;
                since = Instant::now();
            } else if since.elapsed() >= stall {
                return;
            }
        }
    }
}

async fn send<W: AsyncWrite + Unpin>(
    mut writer: W,
    total: u64,
    counters: &Counters,
) -> Result<(), Error> {
    let block = MESSAGE.repeat(CHUNK / MESSAGE.len());
    let mut left = total;
    while left > 0 {
        // `total` and the block are multiples of 16, so every write keeps the
        // pattern aligned.
        let n = left.min(block.len() as u64) as usize;
        writer.write_all(&block[..n]).await.map_err(Error::Send)?;
        left -= n as u64;
        counters.sent.set(total - left);
    }
    writer.shutdown().await.map_err(Error::ShutdownWrite)
}

/// Reads until EOF, checks every byte against the uppercased pattern, and
/// returns the first chunk received.
async fn receive<R: AsyncRead + Unpin>(
    mut reader: R,
    total: u64,
    counters: &Counters,
) -> Result<Vec<u8>, Error> {
    let expected = MESSAGE
        .to_ascii_uppercase()
        .repeat(CHUNK / MESSAGE.len() + 1);
    let mut buf = vec![0u8; CHUNK];
    let mut first = Vec::new();
    let mut received: u64 = 0;
    loop {
        let n = reader.read(&mut buf).await.map_err(Error::Receive)?;
        if n == 0 {
            break;
        }
        if received + n as u64 > total {
            return Err(Error::TooMuch { total });
        }
        let offset = (received % 16) as usize;
        if buf[..n] != expected[offset..offset + n] {
            let at = buf[..n]
                .iter()
                .zip(&expected[offset..])
                .position(|(a, b)| a != b)
                .unwrap_or(0);
            return Err(Error::Mismatch {
                at: received + at as u64,
                got: buf[at..n].to_vec(),
                expected: expected[offset + at..offset + n].to_vec(),
            });
        }
        if first.is_empty() {
            first = buf[..n].to_vec();
        }
        received += n as u64;
        counters.received.set(received);
    }
    if received != total {
        return Err(Error::Short { received, total });
    }
    Ok(first)
}
