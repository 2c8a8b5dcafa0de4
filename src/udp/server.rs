//! The lucky-number server (TestServer.py) and its unstable twin
//! (UnstableUDPServer.py): one socket, one datagram at a time.
//!
//! ```text
//! request   any datagram, empty or up to 65,507 bytes
//! reply     b"Here's your lucky number: X"   X uniform in [0, 1)
//!           (none at all for a request the server pretends to drop)
//! ```

use std::future::Future;
use std::io;
use std::net::SocketAddr;

use anyhow::Result;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use tokio::net::UdpSocket;
use tracing::{info, warn};

use super::{DEFAULT_PORT, MAX_DATAGRAM, announce, bind, quoted, trace_datagram};
use crate::cli::UdpServerArgs;
use crate::net::{describe, shutdown_signal};

/// How the server misbehaves on purpose.
#[derive(Debug, Clone, Copy, Default)]
pub struct ServerOptions {
    /// Probability of pretending a request was lost (0 = answer everything).
    pub drop_rate: f64,
    /// Seed for drops and lucky numbers, so that a run can be repeated.
    pub seed: Option<u64>,
}

/// Runs `udp server`: binds the user's address, prints `listening on`, and
/// answers until SIGINT or SIGTERM.
pub async fn serve(args: &UdpServerArgs) -> Result<()> {
    // Handlers first: a signal right after `listening on` must not kill us.
    let shutdown = shutdown_signal();
    let socket = bind(&args.host, args.port.unwrap_or(DEFAULT_PORT)).await?;
    announce(&socket)?;
    let options = ServerOptions {
        drop_rate: args.drop_rate,
        seed: args.seed,
    };
    run(socket, options, shutdown).await?;
    Ok(())
}

/// Answers every datagram on `socket` until `shutdown` resolves, then returns.
///
/// Memory is one receive buffer however many clients there are; a reply that
/// cannot be sent is logged and the loop goes on, as one lost datagram should.
pub async fn run(
    socket: UdpSocket,
    options: ServerOptions,
    shutdown: impl Future<Output = ()> + Send,
) -> io::Result<()> {
    let mut rng = match options.seed {
        Some(seed) => StdRng::seed_from_u64(seed),
        None => rand::make_rng(),
    };
    let mut buf = vec![0u8; MAX_DATAGRAM];
    tokio::pin!(shutdown);
    loop {
        let (len, peer) = tokio::select! {
            () = &mut shutdown => return Ok(()),
            received = socket.recv_from(&mut buf) => match received {
                Ok(got) => got,
                Err(err) => {
                    // An unconnected socket only fails here for local reasons
                    // (e.g. ENOMEM); they concern that one datagram.
                    warn!("cannot receive: {}", describe(&err));
                    continue;
                }
            },
        };
        answer(&socket, &mut rng, options.drop_rate, &buf[..len], peer).await;
    }
}

async fn answer(
    socket: &UdpSocket,
    rng: &mut StdRng,
    drop_rate: f64,
    data: &[u8],
    peer: SocketAddr,
) {
    trace_datagram("received", "from", peer, data);
    // The drop is decided first, as in UnstableUDPServer.py, so a seeded run
    // draws the same numbers in the same order.
    if rng.random::<f64>() < drop_rate {
        info!("pretending to drop packet from {peer}");
        return;
    }
    info!("The client at {peer} says {}", quoted(data));
    let reply = format!("Here's your lucky number: {}", rng.random::<f64>());
    match socket.send_to(reply.as_bytes(), peer).await {
        Ok(_) => {
            trace_datagram("sent", "to", peer, reply.as_bytes());
            info!("Packet sent successfully!");
        }
        Err(err) => warn!("cannot answer {peer}: {}", describe(&err)),
    }
}
