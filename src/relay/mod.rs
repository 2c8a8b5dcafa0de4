//! The relay core under `connect`, `listen` and `proxy`: bytes copied both
//! ways between two streams, each direction through a [`Stage`] (where the
//! proxy's toxics sit), with half-close propagated and every buffer bounded.
//!
//! ```text
//! a (client side) ──read──▶ queue ──stage──write──▶ b    "upstream"
//! a ◀──write──stage── queue ◀──read── b (server side)    "downstream"
//! ```
//! Each direction holds at most `queue` chunks of at most `read_size` bytes:
//! a stage that waits (a bandwidth or latency toxic) stops its direction's
//! reads once the queue is full, so the sender is pushed back by TCP's own
//! flow control instead of the stream piling up in memory. An EOF read on
//! one side becomes a shutdown of the other side's write half once the queue
//! is drained, and the other direction goes on: the reply after a peer's
//! half-close still arrives.

pub mod hex;
mod pump;
mod stage;

use std::io;

use tokio::io::{AsyncRead, AsyncWrite};

pub use stage::{Pass, Stage, Step};

/// How a relay copies.
#[derive(Debug, Clone)]
pub struct Options {
    /// Largest chunk read at once.
    pub read_size: usize,
    /// Chunks queued per direction between its reader and its stage.
    pub queue: usize,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            read_size: 64 * 1024,
            queue: 4,
        }
    }
}

/// How one direction ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// Its reader reached EOF and the writer was shut down.
    Eof,
    /// A stage closed the connection (limit_data, timeout).
    Closed,
    /// A stage asked for a reset (reset_peer): the caller closes its sockets
    /// with SO_LINGER 0.
    Reset,
}

/// What a relay moved, and how it ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// Bytes written from `a` to `b`.
    pub upstream: u64,
    /// Bytes written from `b` to `a`.
    pub downstream: u64,
    /// [`End::Eof`] when both sides closed in turn; otherwise what a stage did.
    pub end: End,
}

/// Copies `a` to `b` through `up` and `b` to `a` through `down` until both
/// directions have ended (each EOF passed on as a shutdown), a stage
/// closes or resets, or an error.
pub async fn relay<AR, AW, BR, BW, U, D>(
    (a_read, a_write): (AR, AW),
    (b_read, b_write): (BR, BW),
    up: U,
    down: D,
    options: &Options,
) -> io::Result<Outcome>
where
    AR: AsyncRead + Unpin + Send,
    AW: AsyncWrite + Unpin + Send,
    BR: AsyncRead + Unpin + Send,
    BW: AsyncWrite + Unpin + Send,
    U: Stage,
    D: Stage,
{
    let mut up_bytes = 0;
    let mut down_bytes = 0;
    let end = {
        let upstream = pump::pump(a_read, b_write, up, options, &mut up_bytes);
        let downstream = pump::pump(b_read, a_write, down, options, &mut down_bytes);
        tokio::pin!(upstream, downstream);
        let (mut up_done, mut down_done) = (false, false);
        loop {
            tokio::select! {
                end = &mut upstream, if !up_done => match end? {
                    End::Eof => up_done = true,
                    other => break other,
                },
                end = &mut downstream, if !down_done => match end? {
                    End::Eof => down_done = true,
                    other => break other,
                },
            }
            if up_done && down_done {
                break End::Eof;
            }
        }
    };
    Ok(Outcome {
        upstream: up_bytes,
        downstream: down_bytes,
        end,
    })
}

/// Copies both ways with no stage and the default options: a plain relay.
pub async fn plain<AR, AW, BR, BW>(a: (AR, AW), b: (BR, BW)) -> io::Result<Outcome>
where
    AR: AsyncRead + Unpin + Send,
    AW: AsyncWrite + Unpin + Send,
    BR: AsyncRead + Unpin + Send,
    BW: AsyncWrite + Unpin + Send,
{
    relay(a, b, Pass, Pass, &Options::default()).await
}

#[cfg(test)]
mod tests;
