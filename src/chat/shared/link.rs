//! Whether this node's room is whole (its lines go through Redis) or
//! local-only, and telling its members when that changes.

use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::Notify;
use tracing::{info, warn};

use super::super::hub::Hub;
use super::{LOCAL_ONLY, WHOLE_AGAIN};

/// The state both the publisher and the reader change.
#[derive(Default)]
pub(super) struct Link {
    up: AtomicBool,
    /// Whether the members were told the room is local-only.
    told_split: AtomicBool,
    /// Wakes the publisher when the reader lost Redis.
    lost: Notify,
    /// Wakes those waiting for the room to be whole.
    up_again: Notify,
}

impl Link {
    pub(super) fn is_up(&self) -> bool {
        self.up.load(Ordering::Acquire)
    }

    /// Redis failed the publisher: from now on lines stay on this node; the
    /// members hear it once. Returns whether the link was up.
    pub(super) fn lost(&self, hub: &Hub, why: &dyn std::fmt::Display) -> bool {
        let was_up = self.up.swap(false, Ordering::AcqRel);
        if !self.told_split.swap(true, Ordering::AcqRel) {
            warn!("Redis: {why}; the room is local-only until it answers");
            hub.announce_here(LOCAL_ONLY);
        }
        was_up
    }

    /// Redis failed the reader: as [`Link::lost`], and the publisher, which
    /// may be idle, is told to reconnect too.
    pub(super) fn reader_lost(&self, hub: &Hub, why: &dyn std::fmt::Display) {
        if self.lost(hub, why) {
            self.lost.notify_one();
        }
    }

    /// Resolves once [`Link::reader_lost`] found the link up.
    pub(super) async fn wait_lost(&self) {
        self.lost.notified().await;
    }

    /// Lines go through Redis again; called with the hub locked, at the
    /// instant the publisher takes the roster it registers.
    pub(super) fn set_up(&self) {
        self.up.store(true, Ordering::Release);
        self.up_again.notify_waiters();
    }

    /// Waits up to `within` for lines to go through Redis; whether they do.
    pub(super) async fn wait_up(&self, within: std::time::Duration) -> bool {
        let waiting = async {
            loop {
                let up_again = self.up_again.notified();
                if self.is_up() {
                    return;
                }
                up_again.await;
            }
        };
        tokio::time::timeout(within, waiting).await.is_ok()
    }

    /// Tells the members the room is whole, if they heard it was not.
    pub(super) fn whole(&self, hub: &Hub) {
        if self.told_split.swap(false, Ordering::AcqRel) {
            info!("Redis answers again: the room is whole");
            hub.announce_here(WHOLE_AGAIN);
        }
    }
}

/// Waits between attempts to reach Redis: 50 ms, doubling to 1 s.
#[derive(Debug)]
pub(super) struct Backoff(std::time::Duration);

impl Default for Backoff {
    fn default() -> Self {
        Self(FIRST_RETRY)
    }
}

const FIRST_RETRY: std::time::Duration = std::time::Duration::from_millis(50);
const LAST_RETRY: std::time::Duration = std::time::Duration::from_secs(1);

impl Backoff {
    /// The wait before the next attempt.
    pub(super) fn next(&mut self) -> std::time::Duration {
        let wait = self.0;
        self.0 = (self.0 * 2).min(LAST_RETRY);
        wait
    }

    /// Redis answered: the next loss starts from the first wait again.
    pub(super) fn reset(&mut self) {
        self.0 = FIRST_RETRY;
    }
}

/// How the node's connections to Redis wait: a connect that hangs or an
/// answer that never comes counts as Redis lost.
pub(super) fn connection_config() -> redis::AsyncConnectionConfig {
    redis::AsyncConnectionConfig::new()
        .set_connection_timeout(Some(std::time::Duration::from_secs(2)))
        .set_response_timeout(Some(std::time::Duration::from_secs(5)))
}
