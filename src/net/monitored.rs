//! A stream wrapper that drops idle peers and writes the `--trace` transcript.
//!
//! Idle means no progress in either direction: a peer that sends nothing, or
//! one that stops reading while we wait to write, is cut off after the timeout.
//! The clock is read once per wait, not per operation: progress is only
//! noted, and timed when a direction next waits (or at once if the other
//! direction is waiting, whose timer must see it). The timers are only armed
//! while an operation is pending, and only moved when they go off.

use std::fmt::Display;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll, Waker, ready};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::{Instant, Sleep};

use super::{PREVIEW_LIMIT, escape_bytes};

/// The tracing target of the byte-level transcript that `--trace` turns on.
pub const WIRE_TARGET: &str = "socklab::wire";

/// Logs a write for `--trace`; for I/O that does not go through [`Monitored`]
/// (non-blocking writes, ICMP).
pub fn trace_sent(peer: impl Display, data: &[u8]) {
    tracing::trace!(
        target: WIRE_TARGET,
        "sent {} bytes to {peer}: {}",
        data.len(),
        escape_bytes(data, PREVIEW_LIMIT)
    );
}

/// Logs a read for `--trace`; the counterpart of [`trace_sent`].
pub fn trace_received(peer: impl Display, data: &[u8]) {
    tracing::trace!(
        target: WIRE_TARGET,
        "received {} bytes from {peer}: {}",
        data.len(),
        escape_bytes(data, PREVIEW_LIMIT)
    );
}

/// A connection's stream with an idle timeout and an optional transcript.
#[derive(Debug)]
pub struct Monitored<S> {
    inner: S,
    peer: SocketAddr,
    idle: Option<Duration>,
    last_activity: Instant,
    /// Progress since `last_activity` was read off the clock. The next wait
    /// times it: a round trip of a read and a write then costs one clock
    /// read instead of two. Idle time thus runs from when we start waiting
    /// on the peer; time the program spends elsewhere between two
    /// operations does not count against the peer.
    unclocked: bool,
    // One timer per direction: after a split, reader and writer may wait in
    // different tasks and each needs its own waker.
    read_timer: Option<IdleTimer>,
    write_timer: Option<IdleTimer>,
    trace: bool,
}

/// A direction's idle timer and the waker the runtime holds for it.
#[derive(Debug)]
struct IdleTimer {
    sleep: Pin<Box<Sleep>>,
    polled_with: Option<Waker>,
    /// The direction's last operation is waiting: progress the other way
    /// must be timed at once, for this timer to see it when it goes off.
    waiting: bool,
}

impl<S> Monitored<S> {
    /// Wraps `inner`, talking to `peer`; `idle` of `None` never times out.
    pub fn new(inner: S, peer: SocketAddr, idle: Option<Duration>) -> Self {
        Self {
            inner,
            peer,
            idle,
            last_activity: Instant::now(),
            unclocked: false,
            read_timer: None,
            write_timer: None,
            trace: tracing::enabled!(target: WIRE_TARGET, tracing::Level::TRACE),
        }
    }

    /// The address of the other end.
    pub fn peer(&self) -> SocketAddr {
        self.peer
    }

    /// The wrapped stream, for socket options and queue sizes.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// Unwraps the stream.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

/// One way of the stream, for its timer.
#[derive(Debug, Clone, Copy)]
enum Direction {
    Read,
    Write,
}

impl<S> Monitored<S> {
    /// `dir`'s timer, and the other direction's.
    fn timers(&mut self, dir: Direction) -> (&mut Option<IdleTimer>, &Option<IdleTimer>) {
        match dir {
            Direction::Read => (&mut self.read_timer, &self.write_timer),
            Direction::Write => (&mut self.write_timer, &self.read_timer),
        }
    }

    /// Notes progress `dir`'s way.
    fn progressed(&mut self, dir: Direction) {
        if self.idle.is_none() {
            return;
        }
        let (own, other) = self.timers(dir);
        if let Some(own) = own {
            own.waiting = false;
        }
        if other.as_ref().is_some_and(|timer| timer.waiting) {
            self.last_activity = Instant::now();
            self.unclocked = false;
        } else {
            self.unclocked = true;
        }
    }

    /// Waits `dir`'s way: ready with a timeout error once nothing has moved
    /// for the idle timeout.
    fn poll_wait(&mut self, dir: Direction, cx: &mut Context<'_>) -> Poll<io::Error> {
        let Some(idle) = self.idle else {
            return Poll::Pending;
        };
        if self.unclocked {
            self.last_activity = Instant::now();
            self.unclocked = false;
        }
        let last_activity = self.last_activity;
        poll_idle(self.timers(dir).0, idle, last_activity, cx)
    }
}

/// Ready with a timeout error once nothing has moved for `idle`.
///
/// The timer is armed at the deadline it first sees and moved only when it
/// goes off early: moving it on every read and write would reach into the
/// runtime's timer wheel once per message, while traffic only ever pushes
/// the deadline later.
///
/// Polling the timer hands the runtime the task's waker again (about a
/// hundred instructions per wait); while the waker is the same one and the
/// timer has not gone off, the runtime already holds it and the poll is
/// skipped.
fn poll_idle(
    timer: &mut Option<IdleTimer>,
    idle: Duration,
    last_activity: Instant,
    cx: &mut Context<'_>,
) -> Poll<io::Error> {
    let timer = timer.get_or_insert_with(|| IdleTimer {
        sleep: Box::pin(tokio::time::sleep_until(last_activity + idle)),
        polled_with: None,
        waiting: false,
    });
    timer.waiting = true;
    let holds_waker = timer
        .polled_with
        .as_ref()
        .is_some_and(|waker| waker.will_wake(cx.waker()));
    if holds_waker && !timer.sleep.is_elapsed() {
        return Poll::Pending;
    }
    let deadline = last_activity + idle;
    loop {
        match timer.sleep.as_mut().poll(cx) {
            Poll::Pending => {
                if !holds_waker {
                    timer.polled_with = Some(cx.waker().clone());
                }
                return Poll::Pending;
            }
            Poll::Ready(()) if Instant::now() >= deadline => {
                return Poll::Ready(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("idle for {}s", idle.as_secs_f64()),
                ));
            }
            Poll::Ready(()) => timer.sleep.as_mut().reset(deadline),
        }
    }
}

/// A stream that can wait for input without taking any, so that a connection
/// need not hold a read buffer while nothing arrives.
pub trait ReadReady {
    /// Ready once input, end of stream or an error is waiting (possibly
    /// spuriously: the read that follows may still find nothing).
    fn poll_read_ready(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>>;

    /// Ready as [`poll_read_ready`](Self::poll_read_ready), with the first
    /// byte waiting, left in place; `None` at the end of the stream or where
    /// the stream cannot look ahead.
    fn poll_peek_first(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<Option<u8>>> {
        self.poll_read_ready(cx).map_ok(|()| None)
    }
}

impl ReadReady for TcpStream {
    fn poll_read_ready(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_peek_first(cx).map_ok(drop)
    }

    fn poll_peek_first(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<Option<u8>>> {
        // Readiness alone would not do: tokio assumes an accepted stream
        // readable until a read says otherwise. Peeking at one byte waits for
        // real input (or the end) and leaves it in the socket.
        let mut byte = [0u8; 1];
        let mut peek = ReadBuf::new(&mut byte);
        ready!(self.poll_peek(cx, &mut peek))?;
        Poll::Ready(Ok(peek.filled().first().copied()))
    }
}

/// An in-memory pipe (tests, embedding) has no buffer to save: always ready.
impl ReadReady for tokio::io::DuplexStream {
    fn poll_read_ready(&mut self, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// Waiting counts against the idle timeout, as a pending read does.
impl<S: ReadReady> ReadReady for Monitored<S> {
    fn poll_read_ready(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.inner.poll_read_ready(cx) {
            Poll::Ready(ready) => Poll::Ready(ready),
            Poll::Pending => self.poll_wait(Direction::Read, cx).map(Err),
        }
    }
}

/// Waits until `io` has input (or end of stream, or an error) without reading.
pub async fn read_ready<S: ReadReady>(io: &mut S) -> io::Result<()> {
    std::future::poll_fn(|cx| io.poll_read_ready(cx)).await
}

/// Waits for `io`'s first byte and returns it without taking it (see
/// [`ReadReady::poll_peek_first`]).
pub async fn peek_first<S: ReadReady>(io: &mut S) -> io::Result<Option<u8>> {
    std::future::poll_fn(|cx| io.poll_peek_first(cx)).await
}

impl<S: AsyncRead + Unpin> AsyncRead for Monitored<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                this.progressed(Direction::Read);
                if this.trace {
                    trace_received(this.peer, &buf.filled()[before..]);
                }
                Poll::Ready(Ok(()))
            }
            Poll::Pending => this.poll_wait(Direction::Read, cx).map(Err),
            other => other,
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Monitored<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_write(cx, buf) {
            Poll::Ready(Ok(n)) => {
                this.progressed(Direction::Write);
                if this.trace {
                    trace_sent(this.peer, &buf[..n]);
                }
                Poll::Ready(Ok(n))
            }
            Poll::Pending => this.poll_wait(Direction::Write, cx).map(Err),
            other => other,
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.trace {
            tracing::trace!(target: WIRE_TARGET, "shut down writing to {}", this.peer);
        }
        Pin::new(&mut this.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn addr() -> SocketAddr {
        "127.0.0.1:9".parse().expect("literal")
    }

    /// `future`, failing instead of hanging when a lost wake-up leaves it
    /// waiting forever (on the paused clock the hour passes at once).
    async fn within<F: Future>(future: F) -> F::Output {
        tokio::time::timeout(Duration::from_secs(3600), future)
            .await
            .expect("still waiting after an hour: a wake-up was lost")
    }

    #[tokio::test(start_paused = true)]
    async fn silent_peer_times_out() {
        let (a, _b) = tokio::io::duplex(64);
        let mut io = Monitored::new(a, addr(), Some(Duration::from_secs(5)));
        let mut buf = [0u8; 8];
        let started = Instant::now();
        let err = within(io.read(&mut buf)).await.expect_err("must time out");
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert_eq!(started.elapsed(), Duration::from_secs(5));
    }

    #[tokio::test(start_paused = true)]
    async fn activity_pushes_the_deadline() {
        let (a, mut b) = tokio::io::duplex(64);
        let mut io = Monitored::new(a, addr(), Some(Duration::from_secs(5)));
        let feeder = tokio::spawn(async move {
            for _ in 0..3 {
                tokio::time::sleep(Duration::from_secs(3)).await;
                b.write_all(b"x").await.expect("duplex open");
            }
            b
        });
        let started = Instant::now();
        let mut buf = [0u8; 8];
        for _ in 0..3 {
            assert_eq!(within(io.read(&mut buf)).await.expect("data in time"), 1);
        }
        let err = within(io.read(&mut buf)).await.expect_err("then idle");
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert_eq!(started.elapsed(), Duration::from_secs(14));
        drop(feeder.await);
    }

    // Writes are timed at once while a read waits in another task. Noted
    // for the next wait only, they would reach the reader's timer late: it
    // would go off at 5 s and time the deadline from there (20 s, not 17).
    #[tokio::test(start_paused = true)]
    async fn writes_keep_a_waiting_reader_alive() {
        let (a, _b) = tokio::io::duplex(64);
        let io = Monitored::new(a, addr(), Some(Duration::from_secs(5)));
        let (mut reader, mut writer) = tokio::io::split(io);
        let started = Instant::now();
        let read = tokio::spawn(async move {
            let mut buf = [0u8; 8];
            reader.read(&mut buf).await
        });
        for _ in 0..4 {
            tokio::time::sleep(Duration::from_secs(3)).await;
            writer.write_all(b"x").await.expect("duplex has room");
        }
        let err = within(read)
            .await
            .expect("reader task")
            .expect_err("idle after the last write");
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert_eq!(started.elapsed(), Duration::from_secs(17));
    }

    #[tokio::test]
    async fn waiting_for_input_takes_none_and_times_out_when_idle() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let mut client = TcpStream::connect(listener.local_addr().expect("addr"))
            .await
            .expect("connect");
        let (stream, peer) = listener.accept().await.expect("accept");
        // Sent before the 200 ms clock starts, so a stall of this test on a
        // loaded machine cannot make the input look late.
        client.write_all(b"hi").await.expect("write");
        let mut io = Monitored::new(stream, peer, Some(Duration::from_millis(200)));
        read_ready(&mut io).await.expect("input waiting");
        let mut buf = [0u8; 8];
        assert_eq!(io.read(&mut buf).await.expect("read"), 2, "nothing taken");
        let err = within(read_ready(&mut io)).await.expect_err("then idle");
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
    }

    #[tokio::test(start_paused = true)]
    async fn stuck_writer_times_out() {
        let (a, _b) = tokio::io::duplex(4);
        let mut io = Monitored::new(a, addr(), Some(Duration::from_secs(2)));
        let err = within(io.write_all(&[0u8; 64]))
            .await
            .expect_err("peer never reads");
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
    }

    // The timer holds the waker of the task that last waited; a read that
    // goes on waiting in another task must hand the timer the new one, or
    // the timeout wakes only the task that left.
    #[tokio::test(start_paused = true)]
    async fn a_read_moved_to_another_task_still_times_out() {
        let (a, _b) = tokio::io::duplex(64);
        let mut io = Monitored::new(a, addr(), Some(Duration::from_secs(5)));
        let started = Instant::now();
        let mut buf = [0u8; 8];
        let first = std::future::poll_fn(|cx| {
            let mut read = ReadBuf::new(&mut buf);
            Poll::Ready(Pin::new(&mut io).poll_read(cx, &mut read))
        })
        .await;
        assert!(first.is_pending(), "nothing to read yet");
        let waiter = tokio::spawn(async move {
            let mut buf = [0u8; 8];
            io.read(&mut buf).await
        });
        let err = within(waiter)
            .await
            .expect("reader task")
            .expect_err("must time out");
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert_eq!(started.elapsed(), Duration::from_secs(5));
    }
}
