//! Ctrl-C and SIGTERM as one future.

use tracing::{info, warn};

/// Resolves on the first SIGINT or SIGTERM; a second one exits at once, for a
/// user who does not want to wait out the grace period.
pub async fn shutdown_signal() {
    wait_for_signal().await;
    info!("shutting down: no new connections, finishing the ones in flight");
    tokio::spawn(async {
        wait_for_signal().await;
        warn!("second signal: exiting now");
        std::process::exit(130);
    });
}

async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(err) => {
            warn!("cannot watch SIGTERM ({err}); only Ctrl-C stops the server");
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// A boxed shutdown future, the form `main` hands to a server's `run`.
pub type ShutdownSignal = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;
