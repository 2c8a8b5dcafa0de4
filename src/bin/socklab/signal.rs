//! Ctrl-C and SIGTERM as one future, and the `listening on` line that tells
//! scripts a server is ready.

use std::future::Future;
use std::pin::Pin;

use tokio::signal::unix::{Signal, SignalKind, signal};
use tracing::{info, warn};

/// A boxed shutdown future, the form `main` hands to a server's `run`.
pub type ShutdownSignal = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Installs the SIGINT and SIGTERM handlers now (so a signal that comes right
/// after `listening on` is not lost to the default action) and returns a
/// future that resolves on the first of them, logging `shutting down: WHAT`.
/// A second signal exits at once, for a user who does not want to wait out
/// the grace period.
pub fn shutdown_signal(what: &'static str) -> ShutdownSignal {
    let handlers = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    );
    let (mut interrupt, mut terminate) = match handlers {
        (Ok(interrupt), Ok(terminate)) => (interrupt, terminate),
        (Err(err), _) | (_, Err(err)) => {
            warn!("cannot watch SIGINT/SIGTERM ({err}); the default action applies");
            return Box::pin(std::future::pending());
        }
    };
    Box::pin(async move {
        either(&mut interrupt, &mut terminate).await;
        info!("shutting down: {what}");
        tokio::spawn(async move {
            either(&mut interrupt, &mut terminate).await;
            warn!("second signal: exiting now");
            crate::exit::Exit::Interrupted.now();
        });
    })
}

async fn either(a: &mut Signal, b: &mut Signal) {
    tokio::select! {
        _ = a.recv() => {}
        _ = b.recv() => {}
    }
}

/// Prints `listening on ADDR` as the first line of stdout, which scripts and
/// tests wait for, and returns the address.
pub fn announce(
    addr: std::io::Result<std::net::SocketAddr>,
) -> std::io::Result<std::net::SocketAddr> {
    let addr = addr?;
    println!("listening on {addr}");
    Ok(addr)
}

/// Ignores SIGPIPE from here on. `main` keeps its default for `| head`, but
/// the proxy's splice(2) raises it for the whole process whenever a peer
/// resets mid-transfer, and the proxy only ends on a signal of its own.
pub fn ignore_sigpipe() {
    // SAFETY: setting a disposition; no handler runs.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
}
