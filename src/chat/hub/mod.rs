//! The room: its members, their names, and one shared log of the lines said
//! in it, which every member's writer reads at its own pace.
//!
//! Connections see the room through two calls: [`Hub::publish`] a line, and
//! take the lines meant for them from their [`Outbox`]. A line is encoded
//! once into [`Bytes`] and appended once to the room's log, whatever the
//! number of members; a line for one member alone (a `/who` answer, an error
//! notice) names its recipient and the others step over it, so private lines
//! keep their place in the one order. Each member has a cursor into the log,
//! the sequence number of the next line it takes, and the log keeps only
//! what the slowest cursor has not passed:
//!
//! ```text
//! seq     7            8             9                      10            end: 11
//! line    * A joined   12:00 B: hi   * here (3): ... (to C)  12:01 A: yo
//! cursor  C            B                                     A
//!         (the slowest: the log starts at its cursor)
//! ```
//!
//! The log with its cursors and bound is [`super::log::Log`], generic over
//! its entries; `members.rs` holds who is in the room and their unique
//! nicknames, `outbox.rs` a member's side (taking its lines in batches), and
//! this file the room's events and what its lines say.
//!
//! Everything happens under one `std::sync::Mutex`, never across an await
//! and never waiting for a peer. A member whose cursor falls more than
//! `max_queue` bytes behind the end of the log is removed on the spot and the
//! room told why. That lag counts every line after the cursor, private lines
//! for others included, because that is what the member keeps in memory: so
//! the whole log never holds more than `max_queue` bytes, however many
//! members the room has. A publish appends, then, with the lock released,
//! wakes every waiting writer at once through one [`Notify`].
//!
//! Several server nodes can share one room through a [`Broker`] (Redis, in
//! [`super::shared`]): every line for the whole room goes to the broker,
//! which either takes it, to put it in the room's one order and hand it back
//! through [`Hub::deliver`] on every node, this one included, or gives it
//! back to be delivered here at once (a room on one node, or one whose broker
//! is unreachable).

mod members;
mod outbox;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use super::log::Log;
pub use members::{MAX_NICK, MemberId, NickError};
use members::{Member, Members};
pub use outbox::{Batch, Outbox};
use outbox::{Entry, Reader};

/// What a logged line costs besides its bytes: its 48-byte slot in the log
/// and the allocator's header on its buffer, so the limit bounds memory and
/// not only payload.
pub const LINE_OVERHEAD: usize = 64;

/// What a line for the whole room is about, for a broker that keeps track of
/// who is on which node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum About<'a> {
    /// A member's line, or a notice about no one's presence.
    Line,
    /// Member `id` joined, called by this name.
    Joined(MemberId, &'a str),
    /// Member `id`, called by this name, left or was dropped.
    Left(MemberId, &'a str),
}

/// How a room's lines travel between server nodes.
pub trait Broker: Send + Sync + 'static {
    /// Takes a line for everyone on every node, or gives it back for this
    /// node to deliver now. Must not block: it is called with the room
    /// locked, which is what keeps one order.
    fn publish(&self, line: Bytes, about: About<'_>) -> Option<Bytes>;
}

/// A room on this node alone: every line is delivered here at once.
#[derive(Debug, Default)]
pub struct Solo;

impl Broker for Solo {
    fn publish(&self, line: Bytes, _about: About<'_>) -> Option<Bytes> {
        Some(line)
    }
}

/// A shared handle on one room; cheap to clone.
#[derive(Clone)]
pub struct Hub {
    inner: Arc<Inner>,
}

struct Inner {
    room: Mutex<Room>,
    /// Wakes every writer waiting for lines, once some were appended.
    published: Notify,
    broker: Box<dyn Broker>,
    max_queue: usize,
}

impl Inner {
    fn room(&self) -> MutexGuard<'_, Room> {
        // A panic while holding the lock cannot leave the room half-updated in
        // a way later calls trip over (each update is a few map and queue
        // operations), so a poisoned lock is still usable.
        self.room
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

struct Room {
    members: Members,
    /// The lines, read by everyone still taking lines: the members, and
    /// those who left but whose writer is sending its last ones.
    log: Log<Entry, Reader>,
}

impl Hub {
    /// A room on this node alone, no member more than `max_queue` bytes
    /// behind.
    pub fn new(max_queue: usize) -> Self {
        Self::with_broker(max_queue, Solo)
    }

    /// A room shared with other nodes through `broker`.
    pub fn with_broker(max_queue: usize, broker: impl Broker) -> Self {
        let room = Room {
            members: Members::default(),
            log: Log::default(),
        };
        Self {
            inner: Arc::new(Inner {
                room: Mutex::new(room),
                published: Notify::new(),
                broker: Box::new(broker),
                max_queue,
            }),
        }
    }

    /// Changes the room, then wakes the writers if lines were appended.
    fn update<R>(&self, change: impl FnOnce(&mut Room) -> R) -> R {
        let mut room = self.inner.room();
        let end = room.log.end();
        let result = change(&mut room);
        let appended = room.log.end() != end;
        // Woken writers lock the room themselves: wake them once it is free.
        drop(room);
        if appended {
            self.inner.published.notify_waiters();
        }
        result
    }

    /// Adds a member connected from `addr` and announces it to everyone.
    pub fn join(&self, addr: SocketAddr) -> (MemberId, Outbox) {
        let kicked = CancellationToken::new();
        let id = self.update(|room| {
            let (id, member) = room.members.add(addr);
            let notice = notice(&format!("{} joined", member.name()));
            // From the end of the log: its own join notice comes first.
            let reader = Reader {
                closed: false,
                last: None,
                kicked: kicked.clone(),
            };
            room.log.add_reader(id, reader);
            let name = member.name();
            self.broadcast(room, notice, About::Joined(id, &name));
            id
        });
        (id, Outbox::new(self.inner.clone(), id, kicked))
    }

    /// Removes a member; the others see `* NAME left`, on this node unless
    /// `quietly` (everyone here is leaving). Its outbox still gives the
    /// lines said before, then what [`Outbox::close_with`] adds.
    pub fn leave(&self, id: MemberId, quietly: bool) {
        self.update(|room| {
            let Some(member) = room.members.remove(id) else {
                return;
            };
            let end = room.log.end();
            if let Some(reader) = room.log.reader_mut(id) {
                reader.until.get_or_insert(end);
            }
            let name = member.name();
            let line = notice(&format!("{name} left"));
            if let Some(line) = self.inner.broker.publish(line, About::Left(id, &name))
                && !quietly
            {
                let dropped = room.append(line, None, self.inner.max_queue);
                self.announce_dropped(room, dropped);
            }
        });
    }

    /// Relays what a member said, to everyone including the member.
    pub fn say(&self, id: MemberId, text: &str) {
        self.update(|room| {
            let Some(member) = room.members.get(id) else {
                return;
            };
            let line = message(&member.name(), text);
            self.broadcast(room, line, About::Line);
        });
    }

    /// Gives a member a nickname, announcing the change to everyone.
    pub fn rename(&self, id: MemberId, nick: &str) -> Result<(), NickError> {
        self.update(|room| {
            if let Some(old) = room.members.rename(id, nick)? {
                let line = notice(&format!("{old} is now {nick}"));
                self.broadcast(room, line, About::Line);
            }
            Ok(())
        })
    }

    /// Tells one member who is here.
    pub fn who(&self, id: MemberId) {
        self.update(|room| {
            let line = notice(&here(&room.members.names()));
            self.tell_locked(room, id, line);
        });
    }

    /// Sends a notice to one member only.
    pub fn tell(&self, id: MemberId, text: &str) {
        self.update(|room| self.tell_locked(room, id, notice(text)));
    }

    /// Sends an encoded line to every member on every node.
    pub fn publish(&self, line: Bytes) {
        self.update(|room| self.broadcast(room, line, About::Line));
    }

    /// Delivers lines the broker put in the room's order to this node's
    /// members.
    pub fn deliver(&self, lines: impl IntoIterator<Item = Bytes>) {
        self.update(|room| {
            for line in lines {
                let dropped = room.append(line, None, self.inner.max_queue);
                self.announce_dropped(room, dropped);
            }
        });
    }

    /// Tells this node's members something about the room itself (that it
    /// is split, say), without the broker.
    pub fn announce_here(&self, text: &str) {
        self.deliver([notice(text)]);
    }

    /// What the room calls member `id`, while it is in the room.
    pub fn name(&self, id: MemberId) -> Option<String> {
        self.inner
            .room()
            .members
            .get(id)
            .map(|member| member.name())
    }

    /// Checks that member `id` may take `nick` here, without taking it;
    /// returns the name it has now (`None`: not in the room).
    pub fn check_nick(&self, id: MemberId, nick: &str) -> Result<Option<String>, NickError> {
        self.inner.room().members.check(id, nick)
    }

    /// Gives member `id` the nickname `nick` without announcing it (the
    /// broker announced it to everyone); `None` takes its nickname away.
    pub fn set_nick(&self, id: MemberId, nick: Option<&str>) -> Result<(), NickError> {
        let mut room = self.inner.room();
        match nick {
            Some(nick) => room.members.rename(id, nick).map(drop),
            None => {
                room.members.forget_nick(id);
                Ok(())
            }
        }
    }

    /// Everyone on this node: id, name, and name without a nickname, taken
    /// after `then` ran with the room locked: a broker coming back uses it
    /// to know exactly who joined before and who after it took lines again.
    pub fn roster_after(&self, then: impl FnOnce()) -> Vec<(MemberId, String, String)> {
        let room = self.inner.room();
        then();
        room.members.roster()
    }

    /// Bytes a member may fall behind by before it is dropped.
    pub fn max_queue(&self) -> usize {
        self.inner.max_queue
    }

    /// How many members this node has.
    pub fn len(&self) -> usize {
        self.inner.room().members.len()
    }

    /// Whether this node has no members.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn broadcast(&self, room: &mut Room, line: Bytes, about: About<'_>) {
        if let Some(line) = self.inner.broker.publish(line, about) {
            let dropped = room.append(line, None, self.inner.max_queue);
            self.announce_dropped(room, dropped);
        }
    }

    fn tell_locked(&self, room: &mut Room, id: MemberId, line: Bytes) {
        if room.members.get(id).is_none() {
            return;
        }
        let dropped = room.append(line, Some(id), self.inner.max_queue);
        self.announce_dropped(room, dropped);
    }

    /// Tells the room about members dropped for falling behind; telling it
    /// may put others too far behind, so this goes on until a notice fits.
    fn announce_dropped(&self, room: &mut Room, dropped: Vec<Member>) {
        let mut pending = VecDeque::from(dropped);
        while let Some(member) = pending.pop_front() {
            let name = member.name();
            warn!(
                "disconnecting {}: more than {} bytes queued",
                member.addr, self.inner.max_queue
            );
            let line = notice(&format!(
                "{name} was disconnected (too slow: more than {} bytes queued)",
                self.inner.max_queue
            ));
            if let Some(line) = self
                .inner
                .broker
                .publish(line, About::Left(member.id, &name))
            {
                pending.extend(room.append(line, None, self.inner.max_queue));
            }
        }
    }
}

impl Room {
    /// Logs `line` (for `to` alone, or everyone), then drops the readers it
    /// puts more than `max` bytes behind; returns the dropped members still
    /// in the room, for the room to be told.
    fn append(&mut self, line: Bytes, to: Option<MemberId>, max: usize) -> Vec<Member> {
        self.log.push(Entry { line, to });
        let mut dropped = Vec::new();
        // The log starts at the slowest cursor, so that reader is behind by
        // all of it; dropping it trims the log to the next slowest.
        while let Some((id, reader)) = self.log.evict_over(max) {
            reader.state.kicked.cancel();
            match self.members.remove(id) {
                Some(member) => dropped.push(member),
                None => debug!("member {id} dropped while sending its last lines"),
            }
        }
        dropped
    }
}

/// The answer to `/who`, without its `* `: `here (N): A, B, ...`.
pub fn here(names: &[String]) -> String {
    format!("here ({}): {}", names.len(), names.join(", "))
}

/// A line the server says itself: `* TEXT\n`.
pub fn notice(text: &str) -> Bytes {
    Bytes::from(format!("* {text}\n"))
}

/// A relayed line: `YYYY/mm/dd HH:MM:SS NAME\nTEXT\n`, local time.
pub fn message(name: &str, text: &str) -> Bytes {
    let now = chrono::Local::now().format("%Y/%m/%d %H:%M:%S");
    Bytes::from(format!("{now} {name}\n{text}\n"))
}

#[cfg(test)]
mod tests;
