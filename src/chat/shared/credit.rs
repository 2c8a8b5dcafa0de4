//! How many bytes of lines a node has on their way to Redis: senders wait
//! while it is over the bound, so a slow Redis holds back senders (their
//! sockets fill, TCP slows them) instead of growing memory.

use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::Notify;

/// The bytes queued for Redis and their bound.
pub(super) struct Credit {
    queued: AtomicUsize,
    max: usize,
    freed: Notify,
}

impl Credit {
    pub(super) fn new(max: usize) -> Self {
        Self {
            queued: AtomicUsize::new(0),
            max: max.max(1),
            freed: Notify::new(),
        }
    }

    /// Counts `bytes` more on their way. It never refuses: what a sender
    /// adds past the bound is at most one line, as it waited before.
    pub(super) fn take(&self, bytes: usize) {
        self.queued.fetch_add(bytes, Ordering::Relaxed);
    }

    /// Counts `bytes` as delivered to Redis (or dropped).
    pub(super) fn give(&self, bytes: usize) {
        let before = self.queued.fetch_sub(bytes, Ordering::Relaxed);
        if before >= self.max && before - bytes < self.max {
            self.freed.notify_waiters();
        }
    }

    /// Waits until the queue is under its bound.
    pub(super) async fn wait(&self) {
        loop {
            let freed = self.freed.notified();
            if self.queued.load(Ordering::Relaxed) < self.max {
                return;
            }
            freed.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;

    #[tokio::test]
    async fn a_sender_waits_until_the_queue_is_under_its_bound() {
        let credit = Arc::new(Credit::new(100));
        credit.take(60);
        credit.wait().await;
        credit.take(60);
        let waiting = tokio::spawn({
            let credit = credit.clone();
            async move { credit.wait().await }
        });
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished());
        credit.give(60);
        tokio::time::timeout(Duration::from_secs(5), waiting)
            .await
            .expect("woken once under the bound")
            .expect("task");
    }
}
