//! The UDP proxy: each client gets an upstream socket of its own (so the
//! server's replies find their way back), forgotten after an idle time and
//! bounded in number; datagrams cross netem's faults both ways.
//!
//! One task does the relaying, so a seeded run draws in arrival order and
//! repeats; a small task per client only waits for the server's replies.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use rand::SeedableRng;
use rand::rngs::StdRng;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::{debug, info, warn};

use super::netem::{DirectedFault, HOLD_LIMIT, Netem, Outgoing};
use super::toxic::Direction;
use crate::net::AccessList;
use crate::udp::{MAX_DATAGRAM, ephemeral_for};

/// What a UDP proxy is run with.
#[derive(Debug, Clone)]
pub struct Options {
    /// The server every client's datagrams go to.
    pub upstream: SocketAddr,
    /// The faults, each on its direction.
    pub faults: Vec<DirectedFault>,
    /// Seeds the random draws so that a run repeats.
    pub seed: Option<u64>,
    /// Clients served at once; datagrams of further ones are dropped.
    pub max_clients: usize,
    /// A client with no datagram either way for this long is forgotten.
    pub idle: Duration,
    /// Datagrams delayed at once; past it, new ones are dropped (netem's `limit`).
    pub queue_limit: usize,
    /// The clients served.
    pub access: AccessList,
}

impl Options {
    /// The defaults, relaying to `upstream` with no faults.
    pub fn new(upstream: SocketAddr) -> Options {
        Options {
            upstream,
            faults: Vec::new(),
            seed: None,
            max_clients: 10_000,
            idle: Duration::from_secs(60),
            queue_limit: 10_000,
            access: AccessList::default(),
        }
    }
}

/// A client's upstream socket and the task that reads it.
struct Client {
    socket: Arc<UdpSocket>,
    last_seen: Instant,
    reader: JoinHandle<()>,
}

impl Drop for Client {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

/// A datagram waiting for its time: when, order of arrival, which way, to whom.
type Due = Reverse<(Instant, u64, Direction, SocketAddr, Bytes)>;

/// Relays datagrams on `socket` until `shutdown` resolves.
pub async fn serve(
    socket: UdpSocket,
    options: Options,
    shutdown: impl std::future::Future<Output = ()>,
) -> io::Result<()> {
    let mut rng = match options.seed {
        Some(seed) => StdRng::seed_from_u64(seed),
        None => rand::make_rng(),
    };
    let mut up = Netem::new(&options.faults, Direction::Upstream);
    let mut down = Netem::new(&options.faults, Direction::Downstream);
    let mut clients: HashMap<SocketAddr, Client> = HashMap::new();
    let (replies_tx, mut replies) = mpsc::channel::<(SocketAddr, Bytes)>(1024);
    let mut due: BinaryHeap<Due> = BinaryHeap::new();
    let mut order = 0u64;
    let mut out = Vec::new();
    let mut buf = vec![0u8; MAX_DATAGRAM];
    let mut sweep = tokio::time::interval(
        options
            .idle
            .clamp(Duration::from_millis(100), Duration::from_secs(10))
            / 2,
    );
    // Datagrams held back for reordering, and since when.
    let mut held_since: [Option<Instant>; 2] = [None, None];
    tokio::pin!(shutdown);
    loop {
        let next = due.peek().map(|Reverse((at, ..))| *at);
        let hold = held_since
            .iter()
            .flatten()
            .map(|since| *since + HOLD_LIMIT)
            .min();
        let wake = [next, hold].into_iter().flatten().min();
        let now = tokio::select! {
            () = &mut shutdown => return Ok(()),
            received = socket.recv_from(&mut buf) => {
                let (len, from) = match received {
                    Ok(got) => got,
                    // An ICMP error for an earlier send to a client: not ours to end on.
                    Err(err) => { debug!("receive: {err}"); continue; }
                };
                if !options.access.permits(from.ip()) {
                    warn!("refused datagram from {from}: not allowed by --allow/--deny");
                    continue;
                }
                let now = Instant::now();
                if !clients.contains_key(&from) {
                    if clients.len() >= options.max_clients {
                        warn!("client limit of {} reached: dropping a datagram from {from}", options.max_clients);
                        continue;
                    }
                    let client = new_client(from, options.upstream, replies_tx.clone()).await?;
                    info!("new client {from}");
                    clients.insert(from, client);
                }
                if let Some(client) = clients.get_mut(&from) {
                    client.last_seen = now;
                }
                let data = Bytes::copy_from_slice(&buf[..len]);
                up.datagram(data, from, now, &mut rng, &mut out);
                if up.holds() && held_since[0].is_none() { held_since[0] = Some(now); }
                if !up.holds() { held_since[0] = None; }
                schedule(&mut due, &mut out, &mut order, Direction::Upstream, options.queue_limit);
                now
            }
            Some((client, data)) = replies.recv() => {
                let now = Instant::now();
                if let Some(known) = clients.get_mut(&client) {
                    known.last_seen = now;
                }
                down.datagram(data, client, now, &mut rng, &mut out);
                if down.holds() && held_since[1].is_none() { held_since[1] = Some(now); }
                if !down.holds() { held_since[1] = None; }
                schedule(&mut due, &mut out, &mut order, Direction::Downstream, options.queue_limit);
                now
            }
            () = sleep_until(wake) => Instant::now(),
            _ = sweep.tick() => {
                let now = Instant::now();
                clients.retain(|addr, client| {
                    let keep = now.duration_since(client.last_seen) < options.idle;
                    if !keep { info!("forgetting idle client {addr}"); }
                    keep
                });
                now
            }
        };
        // A held datagram that nothing passed in time goes out as it is.
        for (slot, netem, direction) in [
            (0, &mut up, Direction::Upstream),
            (1, &mut down, Direction::Downstream),
        ] {
            if held_since[slot].is_some_and(|since| since + HOLD_LIMIT <= now) {
                if let Some((data, peer)) = netem.release_held() {
                    order += 1;
                    due.push(Reverse((now, order, direction, peer, data)));
                }
                held_since[slot] = None;
            }
        }
        while let Some(Reverse((at, ..))) = due.peek() {
            if *at > now {
                break;
            }
            let Some(Reverse((_, _, direction, peer, data))) = due.pop() else {
                break;
            };
            let sent = match direction {
                Direction::Upstream => match clients.get(&peer) {
                    Some(client) => client.socket.send(&data).await,
                    None => continue,
                },
                Direction::Downstream => socket.send_to(&data, peer).await,
            };
            if let Err(err) = sent {
                // The server's port may be closed for now (ICMP): a datagram is lost.
                debug!("{} datagram for {peer} not sent: {err}", direction.as_str());
            }
        }
    }
}

/// Queues what a direction's faults made of a datagram; past `limit`
/// datagrams waiting, the new ones are dropped, as a full netem queue does.
fn schedule(
    due: &mut BinaryHeap<Due>,
    out: &mut Vec<Outgoing>,
    order: &mut u64,
    direction: Direction,
    limit: usize,
) {
    for (data, at, peer) in out.drain(..) {
        if due.len() >= limit {
            debug!("queue of {limit} datagrams full: dropping one for {peer}");
            continue;
        }
        *order += 1;
        due.push(Reverse((at, *order, direction, peer, data)));
    }
}

async fn sleep_until(when: Option<Instant>) {
    match when {
        Some(when) => tokio::time::sleep_until(when).await,
        None => std::future::pending().await,
    }
}

/// A socket connected to `upstream` for `client`, and its reader.
async fn new_client(
    client: SocketAddr,
    upstream: SocketAddr,
    replies: mpsc::Sender<(SocketAddr, Bytes)>,
) -> io::Result<Client> {
    let socket = ephemeral_for(upstream).await?;
    socket.connect(upstream).await?;
    let socket = Arc::new(socket);
    let reading = socket.clone();
    let reader = tokio::spawn(async move {
        let mut buf = vec![0u8; MAX_DATAGRAM];
        loop {
            match reading.recv(&mut buf).await {
                Ok(len) => {
                    let reply = (client, Bytes::copy_from_slice(&buf[..len]));
                    if replies.send(reply).await.is_err() {
                        return;
                    }
                }
                // ICMP port unreachable from the server: nothing to relay.
                Err(err) => debug!("from upstream for {client}: {err}"),
            }
        }
    });
    Ok(Client {
        socket,
        last_seen: Instant::now(),
        reader,
    })
}
