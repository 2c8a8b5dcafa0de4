//! The TCP proxy: every accepted connection gets its own upstream
//! connection, and the two are relayed through the proxy's toxics.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use rand::SeedableRng;
use rand::rngs::StdRng;
use socket2::SockRef;
use tokio::net::TcpStream;
use tracing::{debug, info};

use super::splice::{self, Spliced};
use super::stage::{ToxicStage, Toxics};
use super::toxic::Direction;
use crate::net::{self, Endpoint, IntoListener, Monitored, ServerOptions, Stream};
use crate::relay::{self, End};

/// What a TCP proxy is run with.
#[derive(Debug, Clone)]
pub struct Options {
    /// Where every connection is relayed to.
    pub upstream: Endpoint,
    /// The toxics, followed live.
    pub toxics: Toxics,
    /// Seeds each connection's random draws (toxicity, jitter, slicer
    /// sizes) from this and the connection's number, so a run repeats.
    pub seed: Option<u64>,
    /// Limits and timeouts of the accept loop (and TLS towards clients).
    pub server: ServerOptions,
    /// Read size and queue length of each direction.
    pub relay: relay::Options,
}

/// Serves the proxy on `listener` until `shutdown` resolves. Connections
/// without toxics splice(2), which needs SIGPIPE ignored (Rust's default):
/// where it is not, they copy.
pub async fn serve(
    listener: impl IntoListener<Listener = net::TcpIncoming>,
    options: Options,
    shutdown: impl std::future::Future<Output = ()>,
) -> io::Result<()> {
    // Splicing needs the sockets' own bytes: not with TLS on either side.
    let fast = (options.server.tls.is_none() && options.upstream.tls.is_none())
        .then_some(options.server.idle_timeout);
    let shared = Arc::new((
        options.upstream,
        options.toxics,
        options.seed,
        options.relay,
        fast,
    ));
    let count = Arc::new(AtomicU64::new(0));
    net::serve(listener, options.server, shutdown, move |client, info| {
        let shared = shared.clone();
        let number = count.fetch_add(1, Ordering::Relaxed);
        async move {
            let (upstream, toxics, seed, relay, fast) = &*shared;
            let server = upstream.connect().await.map_err(|err| err.to_string())?;
            debug!("{}: relaying to {}", info.peer, server.peer());
            let mut spliced = (0, 0);
            let mut watched = toxics.clone();
            if let Some(idle) = fast.filter(|_| watched.borrow_and_update().is_empty()) {
                let (ours, theirs) = (client.get_ref().get_ref(), server.get_ref().get_ref());
                match splice::relay(ours, theirs, &mut watched, idle).await {
                    Ok(Spliced::Done(up, down)) => {
                        info!("{}: {up} bytes up, {down} bytes down", info.peer);
                        return Ok(());
                    }
                    Ok(Spliced::Staged(up, down)) => spliced = (up, down),
                    Err(err) => return Err(net::describe(&err)),
                }
            }
            let rng = |direction: u64| match seed {
                // Two draws per connection, one per direction, each its own.
                Some(seed) => StdRng::seed_from_u64(
                    seed ^ (number * 2 + direction).wrapping_mul(0x9e37_79b9_7f4a_7c15),
                ),
                None => rand::make_rng(),
            };
            let up = ToxicStage::new(Direction::Upstream, toxics.clone(), rng(0));
            let down = ToxicStage::new(Direction::Downstream, toxics.clone(), rng(1));
            let outcome = proxy_one(client, server, up, down, relay)
                .await
                .map_err(|err| net::describe(&err))?;
            info!(
                "{}: {} bytes up, {} bytes down{}",
                info.peer,
                spliced.0 + outcome.upstream,
                spliced.1 + outcome.downstream,
                match outcome.end {
                    End::Eof => "",
                    End::Closed => ", closed by a toxic",
                    End::Reset => ", reset by a toxic",
                }
            );
            Ok::<(), String>(())
        }
    })
    .await
}

/// Relays one client with its upstream; a reset_peer toxic's reset closes
/// both sockets with SO_LINGER 0, so each peer gets an RST.
async fn proxy_one(
    client: Monitored<Stream<TcpStream>>,
    server: Monitored<Stream<TcpStream>>,
    up: ToxicStage,
    down: ToxicStage,
    options: &relay::Options,
) -> io::Result<relay::Outcome> {
    let (mut client_read, mut client_write) = tokio::io::split(client);
    let (mut server_read, mut server_write) = tokio::io::split(server);
    let outcome = relay::relay(
        (&mut client_read, &mut client_write),
        (&mut server_read, &mut server_write),
        up,
        down,
        options,
    )
    .await?;
    if outcome.end == End::Reset {
        let client = client_read.unsplit(client_write);
        let server = server_read.unsplit(server_write);
        for socket in [client.get_ref().get_ref(), server.get_ref().get_ref()] {
            // Zero linger makes close() send RST instead of FIN.
            let _ = SockRef::from(socket).set_linger(Some(std::time::Duration::ZERO));
        }
    }
    Ok(outcome)
}
