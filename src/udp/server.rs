//! The lucky-number server (TestServer.py) and its unstable twin
//! (UnstableUDPServer.py): one socket, datagrams answered in arrival order.
//!
//! ```text
//! request   any datagram, empty or up to 65,507 bytes
//! reply     b"Here's your lucky number:X"    X uniform in [0, 1), as Python's repr
//!                                             writes it (lucky.rs)
//!           (none at all for a request the server pretends to drop, or
//!           from a source that --allow/--deny refuses)
//! ```

use std::future::Future;
use std::io;
use std::net::SocketAddr;

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use tokio::net::UdpSocket;
use tokio::sync::oneshot;
use tracing::{debug, info, warn};

use super::socket::{QuietSocket, RecvBatch};
use super::{MAX_DATAGRAM, quoted, trace_datagram};
use crate::net::{AccessList, describe, single_threaded};

/// How the server misbehaves on purpose, and whom it answers.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Probability of pretending a request was lost (0 = answer everything).
    pub drop_rate: f64,
    /// Seed for drops and lucky numbers, so that a run can be repeated.
    pub seed: Option<u64>,
    /// The peers answered; datagrams from others are dropped unread.
    pub access: AccessList,
}

/// Answers every datagram on `socket` until `shutdown` resolves, on a
/// runtime of its own: one socket is one task, and see
/// net::single_threaded for why that task gets a thread to itself.
pub async fn serve(
    socket: UdpSocket,
    options: Options,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    let socket = socket.into_std()?;
    let (stop, stopped) = oneshot::channel::<()>();
    let server = single_threaded(move || async move {
        let socket = UdpSocket::from_std(socket)?;
        // Resolves when `stop` is sent or dropped.
        run(socket, options, async move { drop(stopped.await) }).await
    });
    tokio::pin!(server);
    tokio::select! {
        () = shutdown => drop(stop),
        // Only an error ends the server before a shutdown does.
        result = &mut server => return result?,
    }
    server.await?
}

/// Datagrams read per system call. One, as TestServer.py reads them: taking
/// every queued request at once (up to 16, with one `sendmmsg` of their
/// replies) emptied the queue in one go, so the server slept in epoll and
/// was woken for each batch. Read one at a time, requests that arrive while
/// it answers keep it awake. `bench udp -c 8`, alternating runs: 101–102k
/// replies/s at 5.3–5.5 µs of server CPU each with 16, 184–197k at
/// 3.4–3.5 µs with 1 (python's server: 195–208k at 4.3–4.5 µs).
const READ_AT_ONCE: usize = 1;

/// Answers every datagram on `socket` until `shutdown` resolves, on the
/// caller's runtime.
///
/// Each datagram is answered as soon as it is read, one at a time,
/// in arrival order. Memory is one receive buffer however many clients
/// there are; a reply that cannot be sent is logged and the loop goes on, as
/// one lost datagram should.
pub async fn run(
    socket: UdpSocket,
    options: Options,
    shutdown: impl Future<Output = ()> + Send,
) -> io::Result<()> {
    let socket = QuietSocket::new(socket)?;
    let mut rng = match options.seed {
        Some(seed) => StdRng::seed_from_u64(seed),
        None => rand::make_rng(),
    };
    let mut batch = RecvBatch::new(READ_AT_ONCE, MAX_DATAGRAM);
    let mut replies = Replies::default();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => return Ok(()),
            received = socket.recv_batch(&mut batch) => if let Err(err) = received {
                // An unconnected socket only fails here for local reasons
                // (e.g. ENOMEM); they concern that one datagram.
                warn!("cannot receive: {}", describe(&err));
                continue;
            },
        }
        replies.clear();
        for (peer, data) in batch.datagrams() {
            // Before anything looks at the datagram or draws a number. A
            // debug line, not a warning: unlike a TCP peer, a datagram's
            // source can be forged, at any rate, and a line per peer would
            // need a table that grows with them.
            if !options.access.permits(peer.ip()) {
                debug!("dropped datagram from {peer}: not allowed by --allow/--deny");
                continue;
            }
            trace_datagram("received", "from", peer, data);
            // The drop is decided first, as in UnstableUDPServer.py, so a
            // seeded run draws the same numbers in the same order.
            if rng.random::<f64>() < options.drop_rate {
                info!("pretending to drop packet from {peer}");
                continue;
            }
            info!("The client at {peer} says {}", quoted(data));
            replies.push(peer, rng.random::<f64>());
        }
        let out = replies.datagrams();
        socket
            .send_batch(&out, |i, result| {
                let (peer, reply) = out[i];
                match result {
                    Ok(()) => {
                        trace_datagram("sent", "to", peer, reply);
                        info!("Packet sent successfully!");
                    }
                    Err(err) => warn!("cannot answer {peer}: {}", describe(&err)),
                }
            })
            .await;
    }
}

/// The replies to one batch, formatted into one buffer that is reused.
#[derive(Debug, Default)]
struct Replies {
    text: Vec<u8>,
    ends: Vec<(SocketAddr, usize)>,
}

impl Replies {
    fn clear(&mut self) {
        self.text.clear();
        self.ends.clear();
    }

    fn push(&mut self, peer: SocketAddr, number: f64) {
        super::lucky::write_reply(&mut self.text, number);
        self.ends.push((peer, self.text.len()));
    }

    /// Each reply with its destination, in the order pushed.
    fn datagrams(&self) -> Vec<(SocketAddr, &[u8])> {
        let mut start = 0;
        self.ends
            .iter()
            .map(|&(peer, end)| {
                let reply = &self.text[start..end];
                start = end;
                (peer, reply)
            })
            .collect()
    }
}
