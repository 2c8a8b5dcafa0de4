//! `bench chat`: N clients in one room, the first S of them sending; every
//! line must reach every other client exactly once, in each sender's order,
//! and every client must see the same order of all lines. The clients may be
//! spread over several servers (the nodes of one room): client i connects to
//! address i mod n of `ADDR,ADDR,...`.
//!
//! ```text
//! sender s, line q     socklab-bench s q T ....\n   (T: µs since the start,
//!                                                   padded to --size)
//! relayed as           YYYY/mm/dd HH:MM:SS IP PORT\nLINE\n   (socklab, ChatServer)
//!                      <userN> LINE\n                        (ncat --chat)
//! ```
//! Receivers look for the marker anywhere in a line, so every server's framing
//! works, and ignore everything else (join/leave notices, date lines, their
//! own lines). Before the load, client 0 repeats a `socklab-bench sync` line
//! until every other client has seen one: then all of them are in the room,
//! on every node (a line relayed through a broker may take a while to reach
//! the other nodes: the wait is for readiness, bounded by `--timeout`).
//!
//! Every client folds the `(sender, seq)` of each line it receives into a
//! running hash ([`super::order`]); the hashes must all be equal at the end.
//! That needs a server that relays a client's own lines back to it (ours
//! does); for one that does not (ChatServer, `ncat --chat`) the order check
//! is reported as not applicable.
//!
//! Each sender keeps `--pipeline` lines in flight; a line is done when all
//! N - 1 other clients have it, which frees its slot for the next line.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::Semaphore;
use tokio::time::{Instant, sleep, timeout_at};

use super::driver::{Reader, Writer};
use super::order::{Digest, Order};
use super::report::{Failure, Report, Tally};
use super::{BenchError, Load};
use super::{Plan, micros, run_workers, setup, targets};

/// The port of `socklab chat server`.
const DEFAULT_PORT: u16 = 9998;
const MARKER: &[u8] = b"socklab-bench ";
const SYNC: &[u8] = b"socklab-bench sync\n";
/// A relayed line longer than this (beyond --size) is an error.
const LINE_SLACK: usize = 64 * 1024;

/// What all clients of a run share.
struct Room {
    clients: usize,
    senders: usize,
    window: usize,
    /// Clients other than client 0 that have seen the sync line.
    ready: AtomicUsize,
    /// The server addresses, and per address the clients that have seen the
    /// sync line and how many clients it has.
    addrs: Vec<String>,
    ready_at: Vec<AtomicUsize>,
    clients_at: Vec<usize>,
    /// Some client got one of its own lines back: every sender must get all
    /// of its own, and the order of all lines is compared.
    echoes: AtomicBool,
    /// Per client, once it has received everything: its order digest.
    digests: Mutex<Vec<Option<u64>>>,
    /// Per sender, per window slot: how many clients have the slot's line.
    slots: Vec<Vec<AtomicUsize>>,
    /// Per sender: frees a window slot.
    permits: Vec<Semaphore>,
    /// Per sender: lines written.
    sent: Vec<AtomicU64>,
    /// Senders that have stopped.
    finished: AtomicUsize,
}

/// What `bench chat` loads.
#[derive(Debug, Clone)]
pub struct ChatOptions {
    /// The load.
    pub load: Load,
    /// How many of the clients send lines (the others only read).
    pub senders: usize,
}

impl Default for ChatOptions {
    fn default() -> Self {
        Self {
            load: Load::default(),
            senders: 5,
        }
    }
}

/// Runs `bench chat`.
pub async fn run(args: &ChatOptions) -> Result<Report, BenchError> {
    let load = &args.load;
    let dialers = targets(load, DEFAULT_PORT).await?;
    if load.conns < 2 || args.senders == 0 || args.senders > load.conns {
        return Err(BenchError::ChatClients);
    }
    if load.rate.is_some() {
        return Err(BenchError::ChatRate);
    }
    let room = Arc::new(Room {
        clients: load.conns,
        senders: args.senders,
        window: load.pipeline,
        ready: AtomicUsize::new(0),
        addrs: dialers.iter().map(|d| d.addr.to_string()).collect(),
        ready_at: dialers.iter().map(|_| AtomicUsize::new(0)).collect(),
        clients_at: (0..dialers.len())
            .map(|a| spread(load.conns, dialers.len(), a))
            .collect(),
        echoes: AtomicBool::new(false),
        digests: Mutex::new(vec![None; load.conns]),
        slots: (0..args.senders)
            .map(|_| (0..load.pipeline).map(|_| AtomicUsize::new(0)).collect())
            .collect(),
        permits: (0..args.senders)
            .map(|_| Semaphore::new(load.pipeline))
            .collect(),
        sent: (0..args.senders).map(|_| AtomicU64::new(0)).collect(),
        finished: AtomicUsize::new(0),
    });
    let shared = load.clone();
    let workers_room = room.clone();
    let mut tally = run_workers(
        load,
        move |index| {
            let dialer = dialers[index % dialers.len()].clone();
            async move { dialer.connect_halves().await }
        },
        move |index, (reader, writer), plan, _| {
            client(
                workers_room.clone(),
                shared.clone(),
                index,
                reader,
                writer,
                plan,
            )
        },
    )
    .await;
    let order = verdict(&room);
    if order.failed() {
        tally.fail(Failure::Verify, format!("order: {order}"));
    }
    let protocol = format!("chat ({} senders)", args.senders);
    // `targets` returns at least one address.
    let first = room.addrs[0]
        .parse()
        .expect("a socket address prints and parses");
    let mut setup = setup(load, &protocol, first, "deliveries");
    setup.target = room.addrs.join(",");
    setup.spread = room
        .addrs
        .iter()
        .cloned()
        .zip(room.clients_at.clone())
        .collect();
    Ok(Report {
        setup,
        tally,
        order: Some(order),
    })
}

/// How many of `clients` go to address `a` of `n`, round-robin.
fn spread(clients: usize, n: usize, a: usize) -> usize {
    clients / n + usize::from(a < clients % n)
}

/// The order verdict over the clients that received everything.
fn verdict(room: &Room) -> Order {
    if !room.echoes.load(Ordering::Acquire) {
        return Order::NotApplicable;
    }
    // A poisoned lock means a client task panicked, already counted as a failure.
    let digests = match room.digests.lock() {
        Ok(digests) => digests.iter().flatten().copied().collect::<Vec<_>>(),
        Err(poisoned) => poisoned.get_ref().iter().flatten().copied().collect(),
    };
    Order::of(&digests)
}

async fn client(
    room: Arc<Room>,
    load: Load,
    index: usize,
    reader: Reader,
    writer: Writer,
    plan: Plan,
) -> Tally {
    // Dropping a write half sends FIN, which a chat server takes as leaving:
    // every client keeps its own until it has received everything.
    let (sending, _idle_writer) = if index < room.senders {
        let (room, load) = (room.clone(), load.clone());
        let task = tokio::spawn(async move { send(&room, &load, index, writer, plan).await });
        (Some(task), None)
    } else {
        (None, Some(writer))
    };
    let mut tally = Tally::default();
    if let Err((kind, why)) = receive(&room, &load, index, reader, plan, &mut tally).await {
        tally.fail(kind, why);
    }
    if let Some(sending) = sending {
        match sending.await {
            Ok((Ok(bytes), _)) => tally.bytes_sent = bytes,
            Ok((Err(why), _)) => tally.fail(Failure::Io, why),
            Err(err) => tally.fail(Failure::Io, format!("sender failed: {err}")),
        }
    }
    tally
}

/// Sends lines while the window allows, until the end; returns the bytes
/// written in the window, and the writer, to be dropped only after the
/// client has received everything.
async fn send(
    room: &Room,
    load: &Load,
    sender: usize,
    mut writer: Writer,
    plan: Plan,
) -> (Result<u64, String>, Writer) {
    let result = send_lines(room, load, sender, &mut writer, plan).await;
    room.finished.fetch_add(1, Ordering::Release);
    (result, writer)
}

async fn send_lines(
    room: &Room,
    load: &Load,
    sender: usize,
    writer: &mut Writer,
    plan: Plan,
) -> Result<u64, String> {
    let io_err = |err: std::io::Error| format!("sending: {}", crate::net::describe(&err));
    let others = room.clients - 1;
    // Client 0 repeats the sync line (a joiner the server had not registered
    // yet misses it) until every other client has seen one.
    while room.ready.load(Ordering::Acquire) < others {
        if Instant::now() >= plan.measure + load.timeout {
            return Err(not_synced(room));
        }
        if sender == 0 {
            writer.write_all(SYNC).await.map_err(io_err)?;
            writer.flush().await.map_err(io_err)?;
        }
        sleep(Duration::from_millis(if sender == 0 { 100 } else { 5 })).await;
    }
    let mut out = BytesMut::new();
    let mut seq = 0u64;
    let mut counted = 0u64;
    loop {
        let Ok(Ok(permit)) = timeout_at(plan.end, room.permits[sender].acquire()).await else {
            return Ok(counted);
        };
        permit.forget();
        let mut lines = 1;
        while lines < room.window {
            match room.permits[sender].try_acquire() {
                Ok(permit) => {
                    permit.forget();
                    lines += 1;
                }
                Err(_) => break,
            }
        }
        let now = Instant::now();
        if now >= plan.end {
            return Ok(counted);
        }
        for _ in 0..lines {
            // The slot's previous line has reached everyone: reuse it.
            room.slots[sender][(seq % room.window as u64) as usize].store(0, Ordering::Relaxed);
            let start = out.len();
            out.extend_from_slice(
                format!("socklab-bench {sender} {seq} {} ", micros(plan.start, now)).as_bytes(),
            );
            while out.len() - start < load.size {
                out.extend_from_slice(b".");
            }
            out.extend_from_slice(b"\n");
            seq += 1;
        }
        writer.write_all(&out).await.map_err(io_err)?;
        // TLS holds a record the socket would not take until flushed.
        writer.flush().await.map_err(io_err)?;
        if plan.counts(now) {
            counted += out.len() as u64;
        }
        out.clear();
        room.sent[sender].store(seq, Ordering::Release);
    }
}

/// Why the sync phase gave up: how many clients of each address saw the line.
fn not_synced(room: &Room) -> String {
    let others = room.clients - 1;
    let mut why = format!(
        "only {} of {others} clients saw the sync line: not all joined the room",
        room.ready.load(Ordering::Acquire)
    );
    if room.addrs.len() > 1 {
        let each: Vec<String> = (0..room.addrs.len())
            .map(|a| {
                // Client 0 (on the first address) sends the line.
                let expected = room.clients_at[a] - usize::from(a == 0);
                let seen = room.ready_at[a].load(Ordering::Acquire);
                format!("{seen} of {expected} on {}", room.addrs[a])
            })
            .collect();
        why.push_str(&format!(
            " ({}; do these servers share one room?)",
            each.join(", ")
        ));
    }
    why
}

/// Reads relayed lines, checking every sender's sequence, until every line
/// sent has arrived; then leaves the client's order digest in the room.
async fn receive(
    room: &Room,
    load: &Load,
    index: usize,
    mut reader: Reader,
    plan: Plan,
    tally: &mut Tally,
) -> Result<(), (Failure, String)> {
    let mut next = vec![0u64; room.senders];
    let mut digest = Digest::default();
    let mut synced = false;
    let mut input = BytesMut::with_capacity(16 * 1024);
    loop {
        let now = Instant::now();
        if room.finished.load(Ordering::Acquire) == room.senders && caught_up(room, index, &next) {
            if let Ok(mut digests) = room.digests.lock() {
                digests[index] = Some(digest.value());
            }
            return Ok(());
        }
        let wake = if now < plan.end {
            plan.end
        } else {
            (now + Duration::from_millis(20)).min(plan.drain_end)
        };
        if now >= plan.drain_end {
            let missing: u64 = (0..room.senders)
                .filter(|&s| s != index || room.echoes.load(Ordering::Acquire))
                .map(|s| room.sent[s].load(Ordering::Acquire).saturating_sub(next[s]))
                .sum();
            return Err((
                Failure::Timeout,
                format!("client {index} was still missing {missing} line(s) at the end"),
            ));
        }
        if input.capacity() - input.len() < 4096 {
            input.reserve(16 * 1024);
        }
        let n = match timeout_at(wake, reader.read_buf(&mut input)).await {
            Err(_) => continue,
            Ok(Ok(0)) => {
                return Err((
                    Failure::Io,
                    format!("client {index}: the server closed the connection"),
                ));
            }
            Ok(Ok(n)) => n,
            Ok(Err(err)) => {
                return Err((
                    Failure::Io,
                    format!("client {index} reading: {}", crate::net::describe(&err)),
                ));
            }
        };
        let at = Instant::now();
        let counting = plan.counts(at);
        if counting {
            tally.bytes_received += n as u64;
        }
        while let Some(end) = input.iter().position(|&b| b == b'\n') {
            let line = input.split_to(end + 1);
            let Some(from) = find(&line, MARKER) else {
                continue;
            };
            let body = &line[from + MARKER.len()..];
            if body.starts_with(b"sync") {
                if !synced && index != 0 {
                    synced = true;
                    room.ready.fetch_add(1, Ordering::AcqRel);
                    room.ready_at[index % room.addrs.len()].fetch_add(1, Ordering::AcqRel);
                }
                continue;
            }
            let (sender, seq, t) = parse(body).ok_or_else(|| {
                (
                    Failure::Verify,
                    format!(
                        "client {index} got a mangled line: {}",
                        crate::net::escape_bytes(&line, 80)
                    ),
                )
            })?;
            if sender >= room.senders {
                return Err((
                    Failure::Verify,
                    format!("client {index} got a line from unknown sender {sender}"),
                ));
            }
            if seq < next[sender] {
                return Err((
                    Failure::Verify,
                    format!("client {index} got line {seq} of sender {sender} twice"),
                ));
            }
            if seq > next[sender] {
                return Err((
                    Failure::Verify,
                    format!(
                        "client {index} expected line {} of sender {sender} but got line {seq}",
                        next[sender]
                    ),
                ));
            }
            next[sender] += 1;
            digest.push(sender, seq);
            if sender == index {
                // Our own line back: in the order, not a delivery to count.
                room.echoes.store(true, Ordering::Release);
                continue;
            }
            if counting {
                tally.record(
                    micros(plan.start + Duration::from_micros(t), at),
                    plan.slot(at),
                );
            }
            let slot = &room.slots[sender][(seq % room.window as u64) as usize];
            if slot.fetch_add(1, Ordering::AcqRel) + 1 == room.clients - 1 {
                room.permits[sender].add_permits(1);
            }
        }
        if input.len() > load.size + LINE_SLACK {
            return Err((
                Failure::Verify,
                format!(
                    "client {index} got a line longer than {} bytes",
                    load.size + LINE_SLACK
                ),
            ));
        }
    }
}

/// Whether client `index` has every line sent (its own too, once the server
/// is seen to send clients their own lines).
fn caught_up(room: &Room, index: usize, next: &[u64]) -> bool {
    let own_too = room.echoes.load(Ordering::Acquire);
    (0..room.senders)
        .all(|s| (s == index && !own_too) || next[s] >= room.sent[s].load(Ordering::Acquire))
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if haystack.starts_with(needle) {
        return Some(0);
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// `s q t` at the start of a line body.
fn parse(body: &[u8]) -> Option<(usize, u64, u64)> {
    let text = std::str::from_utf8(body).ok()?;
    let mut words = text.split_ascii_whitespace();
    let sender = words.next()?.parse().ok()?;
    let seq = words.next()?.parse().ok()?;
    let t = words.next()?.parse().ok()?;
    Some((sender, seq, t))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_marker_in_every_framing() {
        let ours = b"socklab-bench 2 7 1234 ....\n";
        assert_eq!(find(ours, MARKER), Some(0));
        let ncat = b"<user5> socklab-bench 2 7 1234 ....\n";
        let at = find(ncat, MARKER).expect("found");
        assert_eq!(parse(&ncat[at + MARKER.len()..]), Some((2, 7, 1234)));
        assert_eq!(find(b"2024/01/02 03:04:05 127.0.0.1 5000\n", MARKER), None);
        assert_eq!(parse(b"two 7 1234"), None);
    }

    #[test]
    fn clients_spread_round_robin() {
        let counts: Vec<usize> = (0..3).map(|a| spread(10, 3, a)).collect();
        assert_eq!(counts, [4, 3, 3]);
        assert_eq!(counts.iter().sum::<usize>(), 10);
        assert_eq!(spread(2, 3, 2), 0);
    }
}
