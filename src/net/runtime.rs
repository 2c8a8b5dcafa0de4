//! Running one hot task on a single-threaded runtime of its own.
//!
//! A task that owns all its sockets (a UDP server, a UDP load generator)
//! gains nothing from the shared multi-threaded runtime and pays for it: each
//! time the task wakes, the scheduler also wakes an idle second worker to
//! look for work (a futex round trip per wake-up). On a runtime of its own
//! the task sleeps and wakes like a blocking program.

use std::future::Future;
use std::io;

/// Builds the future with `make` on a new single-threaded runtime, in a
/// thread of the blocking pool, and waits for its output.
///
/// Sockets must be created (or re-registered) inside `make`'s future: a
/// socket belongs to the runtime that registered it.
pub async fn single_threaded<M, F>(make: M) -> io::Result<F::Output>
where
    M: FnOnce() -> F + Send + 'static,
    F: Future,
    F::Output: Send + 'static,
{
    tokio::task::spawn_blocking(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        Ok(runtime.block_on(make()))
    })
    .await
    .map_err(io::Error::other)?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn runs_the_future_on_another_thread_and_returns_its_output() {
        let here = std::thread::current().id();
        let (there, sum) = single_threaded(|| async {
            tokio::task::yield_now().await;
            (std::thread::current().id(), 2 + 2)
        })
        .await
        .expect("runtime starts");
        assert_ne!(here, there);
        assert_eq!(sum, 4);
    }
}
