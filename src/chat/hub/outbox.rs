//! A member's side of the room: its [`Outbox`], from which its writer takes
//! the lines meant for it, in batches, at its own pace; and what each line
//! and each reader of the room's log carry.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::super::log;
use super::{Inner, LINE_OVERHEAD, MemberId, Room};

/// What a writer's place in the log carries besides its cursor and end.
pub(super) struct Reader {
    /// Set by [`Outbox::close_with`]: once at `until`, send `last` and stop.
    pub(super) closed: bool,
    pub(super) last: Option<Bytes>,
    /// Cancelled when the reader is dropped for falling behind.
    pub(super) kicked: CancellationToken,
}

/// One line of the room's log.
pub(super) struct Entry {
    pub(super) line: Bytes,
    /// The one member the line is for; everyone when `None`.
    pub(super) to: Option<MemberId>,
}

impl Entry {
    fn is_for(&self, id: MemberId) -> bool {
        self.to.is_none_or(|to| to == id)
    }
}

impl log::Entry for Entry {
    fn cost(&self) -> usize {
        self.line.len() + LINE_OVERHEAD
    }
}

impl Room {
    /// Takes up to about `max_bytes` of the lines after `id`'s cursor; `None`
    /// when there is nothing for it yet.
    pub(super) fn take(&mut self, id: MemberId, max_bytes: usize) -> Option<Batch> {
        let Some((reader, log)) = self.log.reader_and_view(id) else {
            // Only dropping it for falling behind removes a reader its
            // outbox still uses.
            return Some(Batch::Kicked);
        };
        let until = reader.until.unwrap_or(log.end());
        // First the lines that fit, stepping over others' private ones; the
        // first line goes whatever its size.
        let cursor = reader.cursor();
        let (mut seq, mut count, mut taken, mut first) = (cursor, 0, 0, cursor);
        while seq < until {
            let entry = log.get(seq);
            if entry.is_for(id) {
                if count == 0 {
                    first = seq;
                } else if taken + entry.line.len() > max_bytes {
                    break;
                }
                count += 1;
                taken += entry.line.len();
            }
            seq += 1;
        }
        let batch = match count {
            0 if seq == until && reader.state.closed => {
                Some(reader.state.last.take().map_or(Batch::Closed, Batch::Lines))
            }
            0 => None,
            1 => Some(Batch::Lines(log.get(first).line.clone())),
            // Copying a few KiB costs less than a system call per line; the
            // copy is made under the lock so the writer keeps no per-line
            // list of its own.
            _ => {
                let mut joined = BytesMut::with_capacity(taken);
                for at in cursor..seq {
                    let entry = log.get(at);
                    if entry.is_for(id) {
                        joined.extend_from_slice(&entry.line);
                    }
                }
                Some(Batch::Lines(joined.freeze()))
            }
        };
        self.log.advance(id, seq);
        batch
    }
}

/// One member's view of the room's log: its writer takes the lines meant
/// for it from here. Dropping it lets the log forget what it had not taken.
pub struct Outbox {
    pub(super) hub: Arc<Inner>,
    pub(super) id: MemberId,
    pub(super) kicked: CancellationToken,
    /// Wakes the writer when the connection closes the outbox.
    closed: Notify,
}

/// What [`Outbox::next_batch`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Batch {
    /// Lines for the member, joined into one buffer when there were several.
    Lines(Bytes),
    /// Closed and drained: nothing more will come.
    Closed,
    /// Dropped from the room for falling behind.
    Kicked,
}

impl Outbox {
    pub(super) fn new(hub: Arc<Inner>, id: MemberId, kicked: CancellationToken) -> Self {
        Self {
            hub,
            id,
            kicked,
            closed: Notify::new(),
        }
    }

    /// Adds a last line and closes: the writer sends the lines said before
    /// the member left, then `last`, then stops.
    pub fn close_with(&self, last: Option<Bytes>) {
        {
            let mut room = self.hub.room();
            let end = room.log.end();
            let Some(reader) = room.log.reader_mut(self.id) else {
                return;
            };
            if reader.state.closed {
                return;
            }
            reader.until.get_or_insert(end);
            reader.state.closed = true;
            reader.state.last = last;
        }
        self.closed.notify_one();
    }

    /// Resolves once the member has been dropped for falling behind.
    pub async fn kicked(&self) {
        self.kicked.cancelled().await;
    }

    /// Waits for lines and takes up to about `max_bytes` of them, or
    /// reports that nothing more will come.
    pub async fn next_batch(&self, max_bytes: usize) -> Batch {
        loop {
            // Made before looking: `notify_waiters` wakes every `Notified`
            // made before it, polled yet or not, so a line appended after the
            // look still wakes this writer. Being dropped for falling behind
            // happens in a publish too, and `take` reports it.
            let published = self.hub.published.notified();
            if let Some(batch) = self.hub.room().take(self.id, max_bytes) {
                return batch;
            }
            tokio::select! {
                () = published => {}
                () = self.closed.notified() => {}
            }
        }
    }
}

impl Drop for Outbox {
    fn drop(&mut self) {
        self.hub.room().log.remove_reader(self.id);
    }
}
