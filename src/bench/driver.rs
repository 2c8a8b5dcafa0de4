//! The request/response engine shared by the echo, http and app benches: one
//! task per connection, up to `--pipeline` requests in flight, answers matched
//! to requests in order and verified by the protocol's [`Exchange`]; and the
//! [`Dialer`], the one place a bench's connection is made (and, with
//! `--tls`, wrapped).
//!
//! A connection's task writes and reads on the same stream without splitting
//! it (one poll of both directions), so a request costs no channel hop and a
//! batch of answers is followed by one write of the next requests; the same
//! loop drives a plain socket and TLS. Servers that answer once and close
//! (the app protocol without keep-alive) get [`one_per_connection`] instead:
//! connect (and shake hands), request, answer, close, repeat.

use std::collections::VecDeque;
use std::future::{Future, poll_fn};
use std::io;
use std::net::SocketAddr;
use std::pin::{Pin, pin};
use std::task::Poll;
use std::time::Duration;

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{Instant, sleep_until};
use tracing::warn;

use super::report::{Failure, Tally};
use super::{BenchError, Load};
use super::{Pacer, Plan, micros};
use crate::net::{self, NetError, Stream};
use crate::tls::ClientTls;

/// A protocol's requests and the check of its answers.
pub trait Exchange: Send + Sync + 'static {
    /// Appends request number `seq` of a connection to `out`.
    fn request(&self, seq: u64, out: &mut BytesMut);

    /// Looks for the complete answer to request `seq` at the front of `input`:
    /// `Ok(true)` once it is there, checked and consumed; `Ok(false)` while it
    /// is incomplete; an error saying what is wrong with it otherwise.
    fn answer(&self, seq: u64, input: &mut BytesMut) -> Result<bool, String>;
}

/// Read buffer growth step; answers larger than this are read in several steps.
const READ_CHUNK: usize = 64 * 1024;

/// A bench's connection: plain, or TLS over it.
pub type Conn = Stream<TcpStream>;
/// The read half of a connection read and written from two tasks.
pub type Reader = Box<dyn AsyncRead + Send + Unpin>;
/// The write half of a connection read and written from two tasks.
pub type Writer = Box<dyn AsyncWrite + Send + Unpin>;

/// How a bench reaches its server: the address resolved once, the name the
/// server's certificate is checked against, TLS if asked; cheap to clone.
#[derive(Debug, Clone)]
pub struct Dialer {
    /// The resolved server address.
    pub addr: SocketAddr,
    host: String,
    tls: Option<ClientTls>,
    limit: Duration,
}

impl Dialer {
    /// Dials `addr`, reached as `host`, as `load` says (TLS, connect timeout).
    pub fn new(addr: SocketAddr, host: String, load: &Load) -> Self {
        if load.tls.as_ref().is_some_and(ClientTls::is_insecure) {
            // Once per run, not per connection: a bench opens thousands.
            warn!(
                "{addr}: the server's certificate is not checked on any of this bench's connections (--insecure)"
            );
        }
        Self {
            addr,
            host,
            tls: load.tls.clone(),
            limit: load.connect_timeout,
        }
    }

    /// Connects (TCP_NODELAY, the shared error wording) and, with TLS,
    /// shakes hands: the handshake is part of connecting, not of a request.
    pub async fn connect(&self) -> Result<Conn, BenchError> {
        let tcp = self.tcp().await?;
        match &self.tls {
            None => Ok(Stream::plain_client(tcp)),
            Some(tls) => Ok(Stream::from(self.handshake(tls, tcp).await?)),
        }
    }

    /// Connects as [`Dialer::connect`] does, for a bench that reads and
    /// writes from two tasks. A plain socket splits without a lock, so
    /// reading never waits for a write in progress; TLS state is one
    /// session, so its halves share it.
    pub async fn connect_halves(&self) -> Result<(Reader, Writer), BenchError> {
        let tcp = self.tcp().await?;
        match &self.tls {
            None => {
                let (reader, writer) = tcp.into_split();
                Ok((Box::new(reader), Box::new(writer)))
            }
            Some(tls) => {
                let conn = Stream::from(self.handshake(tls, tcp).await?);
                let (reader, writer) = tokio::io::split(conn);
                Ok((Box::new(reader), Box::new(writer)))
            }
        }
    }

    async fn tcp(&self) -> Result<TcpStream, BenchError> {
        let io = net::connect(&self.addr.ip().to_string(), self.addr.port(), self.limit).await?;
        Ok(io.into_inner())
    }

    async fn handshake(
        &self,
        tls: &ClientTls,
        tcp: TcpStream,
    ) -> Result<tokio_rustls::client::TlsStream<TcpStream>, BenchError> {
        Ok(tls.connect(tcp, &self.host).await.map_err(NetError::from)?)
    }
}

/// Runs one keep-alive connection until the plan's end, then waits for the
/// answers still in flight.
pub async fn keep_alive<E: Exchange>(
    exchange: &E,
    mut stream: Conn,
    load: &Load,
    mut pacer: Pacer,
    plan: Plan,
) -> Tally {
    let mut tally = Tally::default();
    if let Err((kind, why)) =
        converse(exchange, &mut stream, load, &mut pacer, plan, &mut tally).await
    {
        tally.fail(kind, why);
    }
    tally
}

/// A request in flight: its number, when it should have been sent (latency
/// counts from here) and when it was (the answer timeout counts from here).
struct InFlight {
    seq: u64,
    due: Instant,
    sent: Instant,
}

/// What woke a connection's loop.
enum Woke {
    /// `n` bytes were read (0: the server closed).
    Read(usize),
    /// The timer (a deadline) or the metronome (a request is due).
    Timer,
}

async fn converse<E: Exchange, S: AsyncRead + AsyncWrite + Unpin>(
    exchange: &E,
    stream: &mut S,
    load: &Load,
    pacer: &mut Pacer,
    plan: Plan,
    tally: &mut Tally,
) -> Result<(), (Failure, String)> {
    let io_err =
        |what: &str, err: io::Error| (Failure::Io, format!("{what}: {}", net::describe(&err)));
    let mut in_flight: VecDeque<InFlight> = VecDeque::with_capacity(load.pipeline);
    let mut out = BytesMut::with_capacity(load.pipeline * (load.size + 256));
    let mut input = BytesMut::with_capacity(READ_CHUNK);
    let mut seq = 0u64;
    // Written but maybe still held by TLS (which buffers records the socket
    // would not take): flushed before the loop waits on anything else.
    let mut unflushed = false;
    // One timer, moved only when something earlier comes up; when it fires
    // the loop re-checks every deadline.
    let timer = sleep_until(plan.end);
    tokio::pin!(timer);
    loop {
        let now = Instant::now();
        let issuing = now < plan.end;
        if issuing {
            while in_flight.len() < load.pipeline {
                let Some(due) = pacer.take(now) else { break };
                if plan.counts(now) && pacer.bell().is_some() {
                    tally.record_send_lag(micros(due, now));
                }
                exchange.request(seq, &mut out);
                in_flight.push_back(InFlight {
                    seq,
                    due,
                    sent: now,
                });
                seq += 1;
            }
        } else if in_flight.is_empty() {
            return Ok(());
        }
        if let Some(oldest) = in_flight.front()
            && (now.saturating_duration_since(oldest.sent) > load.timeout || now >= plan.drain_end)
        {
            return Err((
                Failure::Timeout,
                format!(
                    "no answer to request {} within {:?} ({} in flight)",
                    oldest.seq,
                    load.timeout,
                    in_flight.len()
                ),
            ));
        }
        let mut wake = if issuing { plan.end } else { plan.drain_end };
        if let Some(oldest) = in_flight.front() {
            wake = wake.min(oldest.sent + load.timeout);
        }
        if wake < timer.deadline() || timer.is_elapsed() {
            timer.as_mut().reset(wake);
        }
        // In open loop the metronome rings when the next request is due.
        let bell = pacer
            .bell()
            .filter(|_| issuing && in_flight.len() < load.pipeline);
        let mut rung = pin!(async {
            match &bell {
                Some(bell) => bell.notified().await,
                None => std::future::pending().await,
            }
        });
        let counting = plan.counts(now);
        // Writes as far as the stream takes, then waits for an answer or the
        // timer; a blocked write is retried whenever the task wakes.
        let woke = poll_fn(|cx| {
            while !out.is_empty() {
                match Pin::new(&mut *stream).poll_write(cx, &out) {
                    Poll::Ready(Ok(0)) => {
                        return Poll::Ready(Err(io_err(
                            "writing",
                            io::ErrorKind::WriteZero.into(),
                        )));
                    }
                    Poll::Ready(Ok(n)) => {
                        if counting {
                            tally.bytes_sent += n as u64;
                        }
                        out.advance(n);
                        unflushed = true;
                    }
                    Poll::Ready(Err(err)) => return Poll::Ready(Err(io_err("writing", err))),
                    Poll::Pending => break,
                }
            }
            if out.is_empty() && unflushed {
                match Pin::new(&mut *stream).poll_flush(cx) {
                    Poll::Ready(Ok(())) => unflushed = false,
                    Poll::Ready(Err(err)) => return Poll::Ready(Err(io_err("writing", err))),
                    Poll::Pending => {}
                }
            }
            if input.capacity() - input.len() < READ_CHUNK / 4 {
                input.reserve(READ_CHUNK);
            }
            match pin!(stream.read_buf(&mut input)).poll(cx) {
                Poll::Ready(Ok(n)) => return Poll::Ready(Ok(Woke::Read(n))),
                Poll::Ready(Err(err)) => return Poll::Ready(Err(io_err("reading", err))),
                Poll::Pending => {}
            }
            if rung.as_mut().poll(cx).is_ready() {
                return Poll::Ready(Ok(Woke::Timer));
            }
            timer.as_mut().poll(cx).map(|()| Ok(Woke::Timer))
        })
        .await?;
        let Woke::Read(n) = woke else { continue };
        if n == 0 {
            return Err((
                Failure::Io,
                format!(
                    "the server closed the connection with {} request(s) unanswered",
                    in_flight.len()
                ),
            ));
        }
        let at = Instant::now();
        if plan.counts(at) {
            tally.bytes_received += n as u64;
        }
        while let Some(front) = in_flight.front() {
            match exchange.answer(front.seq, &mut input) {
                Ok(true) => {
                    if plan.counts(at) {
                        tally.record(micros(front.due, at), plan.slot(at));
                    }
                    in_flight.pop_front();
                }
                Ok(false) => break,
                Err(why) => return Err((Failure::Verify, why)),
            }
        }
        if in_flight.is_empty() && !input.is_empty() {
            return Err((
                Failure::Verify,
                format!(
                    "{} unexpected byte(s) with no request in flight",
                    input.len()
                ),
            ));
        }
    }
}

/// Runs one worker of a protocol whose server closes after each answer: a
/// new connection per request, latency from before the connect (a TLS
/// handshake included, as wrk's with `Connection: close`), until the plan's
/// end.
pub async fn one_per_connection<E: Exchange>(
    exchange: &E,
    dialer: &Dialer,
    load: &Load,
    mut pacer: Pacer,
    plan: Plan,
) -> Tally {
    let mut tally = Tally::default();
    let mut seq = 0u64;
    while let Some(due) = pacer.next_before(plan.end).await {
        let now = Instant::now();
        if plan.counts(now) && pacer.bell().is_some() {
            tally.record_send_lag(micros(due, now));
        }
        let result = tokio::time::timeout(
            load.timeout,
            once(exchange, dialer, load, seq, &plan, &mut tally),
        )
        .await;
        match result {
            Ok(Ok(())) => {
                let at = Instant::now();
                if plan.counts(at) {
                    tally.record(micros(due, at), plan.slot(at));
                }
            }
            Ok(Err((kind, why))) => {
                tally.fail(kind, why);
                return tally;
            }
            Err(_) => {
                tally.fail(
                    Failure::Timeout,
                    format!("no answer to request {seq} within {:?}", load.timeout),
                );
                return tally;
            }
        }
        seq += 1;
    }
    tally
}

/// Connects, sends request `seq`, reads and checks its answer, and waits for
/// the server's close (so TIME_WAIT stays on the server, as the protocol has it).
async fn once<E: Exchange>(
    exchange: &E,
    dialer: &Dialer,
    load: &Load,
    seq: u64,
    plan: &Plan,
    tally: &mut Tally,
) -> Result<(), (Failure, String)> {
    let io_err =
        |what: &str, err: io::Error| (Failure::Io, format!("{what}: {}", net::describe(&err)));
    let mut stream = dialer
        .connect()
        .await
        .map_err(|err| (Failure::Connect, err.to_string()))?;
    let mut out = BytesMut::with_capacity(load.size + 256);
    exchange.request(seq, &mut out);
    stream
        .write_all(&out)
        .await
        .map_err(|err| io_err("writing", err))?;
    // TLS may hold the last record until flushed.
    stream.flush().await.map_err(|err| io_err("writing", err))?;
    if plan.counts(Instant::now()) {
        tally.bytes_sent += out.len() as u64;
    }
    let mut input = BytesMut::with_capacity(READ_CHUNK);
    let mut answered = false;
    loop {
        let n = stream
            .read_buf(&mut input)
            .await
            .map_err(|err| io_err("reading", err))?;
        if plan.counts(Instant::now()) {
            tally.bytes_received += n as u64;
        }
        if n == 0 {
            return if answered {
                Ok(())
            } else {
                Err((
                    Failure::Io,
                    "the server closed the connection before answering".into(),
                ))
            };
        }
        if !answered {
            answered = exchange
                .answer(seq, &mut input)
                .map_err(|why| (Failure::Verify, why))?;
        }
        if answered && !input.is_empty() {
            return Err((
                Failure::Verify,
                format!("{} unexpected byte(s) after the answer", input.len()),
            ));
        }
    }
}
