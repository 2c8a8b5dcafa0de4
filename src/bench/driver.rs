//! The request/response engine shared by the echo, http and app benches: one
//! task per connection, up to `--pipeline` requests in flight, answers matched
//! to requests in order and verified by the protocol's [`Exchange`].
//!
//! A connection's task writes and reads on the same socket without splitting
//! it (readiness plus `try_read`/`try_write`), so a request costs no channel
//! hop and a batch of answers is followed by one write of the next requests.
//! Servers that answer once and close (the app protocol without keep-alive)
//! get [`one_per_connection`] instead: connect, request, answer, close, repeat.

use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{Instant, sleep_until};

use super::report::{Failure, Tally};
use super::{BenchError, Load};
use super::{Pacer, Plan, micros};
use crate::net;

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

/// Connects to `addr` (TCP_NODELAY, the shared error wording).
pub async fn connect(addr: SocketAddr, limit: Duration) -> Result<TcpStream, BenchError> {
    let io = net::connect(&addr.ip().to_string(), addr.port(), limit).await?;
    Ok(io.into_inner())
}

/// Runs one keep-alive connection until the plan's end, then waits for the
/// answers still in flight.
pub async fn keep_alive<E: Exchange>(
    exchange: &E,
    stream: TcpStream,
    load: &Load,
    mut pacer: Pacer,
    plan: Plan,
) -> Tally {
    let mut tally = Tally::default();
    if let Err((kind, why)) = converse(exchange, &stream, load, &mut pacer, plan, &mut tally).await
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

async fn converse<E: Exchange>(
    exchange: &E,
    stream: &TcpStream,
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
        while !out.is_empty() {
            match stream.try_write(&out) {
                Ok(n) => {
                    if plan.counts(now) {
                        tally.bytes_sent += n as u64;
                    }
                    out.advance(n);
                }
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => break,
                Err(err) => return Err(io_err("writing", err)),
            }
        }
        let mut wake = if issuing { plan.end } else { plan.drain_end };
        if let Some(oldest) = in_flight.front() {
            wake = wake.min(oldest.sent + load.timeout);
        }
        if let Some(due) = pacer
            .due()
            .filter(|_| issuing && in_flight.len() < load.pipeline)
        {
            wake = wake.min(due);
        }
        if wake < timer.deadline() || timer.is_elapsed() {
            timer.as_mut().reset(wake);
        }
        tokio::select! {
            biased;
            ready = stream.readable() => {
                ready.map_err(|err| io_err("waiting to read", err))?;
                match read_some(stream, &mut input) {
                    Ok(0) => return Err((
                        Failure::Io,
                        format!("the server closed the connection with {} request(s) unanswered", in_flight.len()),
                    )),
                    Ok(n) => {
                        let at = Instant::now();
                        if plan.counts(at) {
                            tally.bytes_received += n as u64;
                        }
                        while let Some(front) = in_flight.front() {
                            match exchange.answer(front.seq, &mut input) {
                                Ok(true) => {
                                    if plan.counts(at) {
                                        tally.record(micros(front.due, at));
                                    }
                                    in_flight.pop_front();
                                }
                                Ok(false) => break,
                                Err(why) => return Err((Failure::Verify, why)),
                            }
                        }
                        if in_flight.is_empty() && !input.is_empty() {
                            return Err((Failure::Verify, format!("{} unexpected byte(s) with no request in flight", input.len())));
                        }
                    }
                    Err(err) if err.kind() == io::ErrorKind::WouldBlock => {}
                    Err(err) => return Err(io_err("reading", err)),
                }
            }
            ready = stream.writable(), if !out.is_empty() => {
                ready.map_err(|err| io_err("waiting to write", err))?;
            }
            () = &mut timer => {}
        }
    }
}

/// Reads what the socket has without waiting, growing `input` as needed.
fn read_some(stream: &TcpStream, input: &mut BytesMut) -> io::Result<usize> {
    if input.capacity() - input.len() < READ_CHUNK / 4 {
        input.reserve(READ_CHUNK);
    }
    stream.try_read_buf(input)
}
/// Runs one worker of a protocol whose server closes after each answer: a
/// new connection per request, latency from before the connect, until the
/// plan's end.
pub async fn one_per_connection<E: Exchange>(
    exchange: &E,
    addr: SocketAddr,
    load: &Load,
    mut pacer: Pacer,
    plan: Plan,
) -> Tally {
    let mut tally = Tally::default();
    let mut seq = 0u64;
    while let Some(due) = pacer.next_before(plan.end).await {
        let result = tokio::time::timeout(
            load.timeout,
            once(exchange, addr, load, seq, &plan, &mut tally),
        )
        .await;
        match result {
            Ok(Ok(())) => {
                let at = Instant::now();
                if plan.counts(at) {
                    tally.record(micros(due, at));
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
    addr: SocketAddr,
    load: &Load,
    seq: u64,
    plan: &Plan,
    tally: &mut Tally,
) -> Result<(), (Failure, String)> {
    let io_err =
        |what: &str, err: io::Error| (Failure::Io, format!("{what}: {}", net::describe(&err)));
    let mut stream = connect(addr, load.connect_timeout)
        .await
        .map_err(|err| (Failure::Connect, err.to_string()))?;
    let mut out = BytesMut::with_capacity(load.size + 256);
    exchange.request(seq, &mut out);
    stream
        .write_all(&out)
        .await
        .map_err(|err| io_err("writing", err))?;
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
