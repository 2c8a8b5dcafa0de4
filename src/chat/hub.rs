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
//! its entries; this file holds the membership and what the lines mean.
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
//! Several server nodes can share one room through a [`Broker`] (Redis pub/sub,
//! say): `publish` hands each line to the broker as well, and the broker's
//! subscriber calls [`Hub::deliver`] with the lines other nodes published.
//! Nicknames are unique per node.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::{Bytes, BytesMut};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use super::log::{self, Log};

/// Longest nickname, in characters.
pub const MAX_NICK: usize = 32;
/// What a logged line costs besides its bytes: its 48-byte slot in the log
/// and the allocator's header on its buffer, so the limit bounds memory and
/// not only payload.
pub const LINE_OVERHEAD: usize = 64;

/// How a room's lines travel between server nodes.
pub trait Broker: Send + Sync + 'static {
    /// Hands a line published on this node to the other nodes; must not block
    /// (it is called with the room locked, which keeps one order everywhere).
    fn publish(&self, line: &Bytes);
}

/// A room on this node alone: nothing to tell anyone else.
#[derive(Debug, Default)]
pub struct Solo;

impl Broker for Solo {
    fn publish(&self, _line: &Bytes) {}
}

/// A member's handle on the room, returned by [`Hub::join`].
pub type MemberId = u64;

/// Why a nickname was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NickError {
    /// Someone else has it.
    #[error("nickname {0} is taken")]
    Taken(String),
    /// Empty, too long, or with spaces or control characters.
    #[error(
        "invalid nickname {0:?}: 1 to {MAX_NICK} characters, no spaces, not starting with * or /"
    )]
    Invalid(String),
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
    members: HashMap<MemberId, Member>,
    nicks: HashSet<String>,
    next_id: MemberId,
    /// The lines, read by everyone still taking lines: the members, and
    /// those who left but whose writer is sending its last ones.
    log: Log<Entry, Reader>,
}

struct Member {
    addr: SocketAddr,
    nick: Option<String>,
}

impl Member {
    fn name(&self) -> String {
        match &self.nick {
            Some(nick) => nick.clone(),
            None => format!("{} {}", self.addr.ip(), self.addr.port()),
        }
    }
}

/// What a writer's place in the log carries besides its cursor and end.
struct Reader {
    /// Set by [`Outbox::close_with`]: once at `until`, send `last` and stop.
    closed: bool,
    last: Option<Bytes>,
    /// Cancelled when the reader is dropped for falling behind.
    kicked: CancellationToken,
}

/// One line of the room's log.
struct Entry {
    line: Bytes,
    /// The one member the line is for; everyone when `None`.
    to: Option<MemberId>,
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

impl Hub {
    /// A room on this node alone, no member more than `max_queue` bytes
    /// behind.
    pub fn new(max_queue: usize) -> Self {
        Self::with_broker(max_queue, Solo)
    }

    /// A room shared with other nodes through `broker`.
    pub fn with_broker(max_queue: usize, broker: impl Broker) -> Self {
        let room = Room {
            members: HashMap::new(),
            nicks: HashSet::new(),
            next_id: 0,
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
            let id = room.next_id;
            room.next_id += 1;
            let member = Member { addr, nick: None };
            let notice = notice(&format!("{} joined", member.name()));
            room.members.insert(id, member);
            // From the end of the log: its own join notice comes first.
            let reader = Reader {
                closed: false,
                last: None,
                kicked: kicked.clone(),
            };
            room.log.add_reader(id, reader);
            self.broadcast(room, notice);
            id
        });
        let outbox = Outbox {
            hub: self.inner.clone(),
            id,
            kicked,
            closed: Notify::new(),
        };
        (id, outbox)
    }

    /// Removes a member; the others see `* NAME left` unless `quietly`.
    /// Its outbox still gives the lines said before, then what
    /// [`Outbox::close_with`] adds.
    pub fn leave(&self, id: MemberId, quietly: bool) {
        self.update(|room| {
            let Some(member) = room.remove_member(id) else {
                return;
            };
            let end = room.log.end();
            if let Some(reader) = room.log.reader_mut(id) {
                reader.until.get_or_insert(end);
            }
            if !quietly {
                self.broadcast(room, notice(&format!("{} left", member.name())));
            }
        });
    }

    /// Relays what a member said, to everyone including the member.
    pub fn say(&self, id: MemberId, text: &str) {
        self.update(|room| {
            let Some(member) = room.members.get(&id) else {
                return;
            };
            let line = message(&member.name(), text);
            self.broadcast(room, line);
        });
    }

    /// Gives a member a nickname, announcing the change to everyone.
    pub fn rename(&self, id: MemberId, nick: &str) -> Result<(), NickError> {
        let valid = !nick.is_empty()
            && nick.chars().count() <= MAX_NICK
            && !nick.starts_with(['*', '/'])
            && !nick.chars().any(|c| c.is_whitespace() || c.is_control());
        if !valid {
            return Err(NickError::Invalid(nick.to_string()));
        }
        self.update(|room| {
            if room.nicks.contains(nick) {
                return Err(NickError::Taken(nick.to_string()));
            }
            let Some(member) = room.members.get_mut(&id) else {
                return Ok(());
            };
            let old = member.name();
            let previous = member.nick.replace(nick.to_string());
            if let Some(previous) = previous {
                room.nicks.remove(&previous);
            }
            room.nicks.insert(nick.to_string());
            self.broadcast(room, notice(&format!("{old} is now {nick}")));
            Ok(())
        })
    }

    /// Tells one member who is here.
    pub fn who(&self, id: MemberId) {
        self.update(|room| {
            let mut names: Vec<String> = room.members.values().map(Member::name).collect();
            names.sort();
            let line = notice(&format!("here ({}): {}", names.len(), names.join(", ")));
            self.tell_locked(room, id, line);
        });
    }

    /// Sends a notice to one member only.
    pub fn tell(&self, id: MemberId, text: &str) {
        self.update(|room| self.tell_locked(room, id, notice(text)));
    }

    /// Sends an encoded line to every member on every node.
    pub fn publish(&self, line: Bytes) {
        self.update(|room| self.broadcast(room, line));
    }

    /// Delivers a line another node published to this node's members.
    pub fn deliver(&self, line: Bytes) {
        self.update(|room| {
            let dropped = room.append(line, None, self.inner.max_queue);
            self.announce_dropped(room, dropped);
        });
    }

    /// How many members this node has.
    pub fn len(&self) -> usize {
        self.inner.room().members.len()
    }

    /// Whether this node has no members.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn broadcast(&self, room: &mut Room, line: Bytes) {
        self.inner.broker.publish(&line);
        let dropped = room.append(line, None, self.inner.max_queue);
        self.announce_dropped(room, dropped);
    }

    fn tell_locked(&self, room: &mut Room, id: MemberId, line: Bytes) {
        if !room.members.contains_key(&id) {
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
            self.inner.broker.publish(&line);
            pending.extend(room.append(line, None, self.inner.max_queue));
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
            match self.remove_member(id) {
                Some(member) => dropped.push(member),
                None => debug!("member {id} dropped while sending its last lines"),
            }
        }
        dropped
    }

    /// Takes up to about `max_bytes` of the lines after `id`'s cursor; `None`
    /// when there is nothing for it yet.
    fn take(&mut self, id: MemberId, max_bytes: usize) -> Option<Batch> {
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

    fn remove_member(&mut self, id: MemberId) -> Option<Member> {
        let member = self.members.remove(&id)?;
        if let Some(nick) = &member.nick {
            self.nicks.remove(nick);
        }
        Some(member)
    }
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

/// One member's view of the room's log: its writer takes the lines meant
/// for it from here. Dropping it lets the log forget what it had not taken.
pub struct Outbox {
    hub: Arc<Inner>,
    id: MemberId,
    kicked: CancellationToken,
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::collection::vec;
    use proptest::prelude::*;
    use proptest::test_runner::TestCaseError;
    use std::time::Duration;

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    /// Everything queued for a member right now, as text.
    async fn drain(outbox: &Outbox) -> String {
        let mut text = String::new();
        outbox.close_with(None);
        while let Batch::Lines(batch) = outbox.next_batch(usize::MAX).await {
            text.push_str(&String::from_utf8_lossy(&batch));
        }
        text
    }

    /// What a member can take right now, without waiting.
    fn take_any(outbox: &Outbox, max_bytes: usize) -> Option<Batch> {
        outbox.hub.room().take(outbox.id, max_bytes)
    }

    /// The lines a member can take right now, without waiting, as text.
    fn take(outbox: &Outbox, max_bytes: usize) -> Option<String> {
        match take_any(outbox, max_bytes) {
            Some(Batch::Lines(batch)) => Some(String::from_utf8_lossy(&batch).into_owned()),
            None => None,
            Some(other) => panic!("member {} got {other:?}", outbox.id),
        }
    }

    /// The log's length in lines and its counted size, checked against
    /// its entries.
    fn log_size(hub: &Hub) -> (usize, usize) {
        let room = hub.inner.room();
        let counted: usize = room.log.entries().map(log::Entry::cost).sum();
        assert_eq!(room.log.bytes(), counted, "the log's byte count drifted");
        (room.log.entries().count(), room.log.bytes())
    }

    #[test]
    fn a_log_entry_fits_its_overhead() {
        // The slot, plus a malloc header for the line's own allocation.
        assert!(std::mem::size_of::<Entry>() + 16 <= LINE_OVERHEAD);
    }

    #[tokio::test]
    async fn notices_names_and_private_lines() {
        let hub = Hub::new(1 << 20);
        let (a, a_box) = hub.join(addr(1));
        let (b, b_box) = hub.join(addr(2));
        hub.rename(a, "alice").expect("free name");
        assert_eq!(
            hub.rename(b, "alice"),
            Err(NickError::Taken("alice".into()))
        );
        assert!(matches!(hub.rename(b, "*x"), Err(NickError::Invalid(_))));
        hub.who(b);
        hub.leave(a, false);
        assert_eq!(
            drain(&a_box).await,
            "* 127.0.0.1 1 joined\n* 127.0.0.1 2 joined\n* 127.0.0.1 1 is now alice\n"
        );
        assert_eq!(
            drain(&b_box).await,
            "* 127.0.0.1 2 joined\n* 127.0.0.1 1 is now alice\n\
             * here (2): 127.0.0.1 2, alice\n* alice left\n"
        );
        // alice's name is free again once she has left.
        hub.rename(b, "alice").expect("freed");
    }

    #[tokio::test]
    async fn an_overflowing_member_is_dropped_and_the_room_told() {
        let hub = Hub::new(300);
        let (_, slow_box) = hub.join(addr(1));
        let (fast, fast_box) = hub.join(addr(2));
        // The fast member keeps up: its queue is drained after every line.
        let mut seen = String::new();
        for i in 0..10 {
            hub.say(fast, &format!("line {i}"));
            let next = fast_box.next_batch(usize::MAX);
            match tokio::time::timeout(Duration::from_secs(1), next).await {
                Ok(Batch::Lines(batch)) => seen.push_str(&String::from_utf8_lossy(&batch)),
                other => panic!("fast member got {other:?}"),
            }
        }
        assert_eq!(hub.len(), 1, "the slow member is still in the room");
        assert_eq!(slow_box.next_batch(usize::MAX).await, Batch::Kicked);
        tokio::time::timeout(Duration::from_secs(1), slow_box.kicked())
            .await
            .expect("kicked resolves");
        assert!(
            seen.contains("* 127.0.0.1 1 was disconnected (too slow: more than 300 bytes queued)")
        );
        assert_eq!(seen.matches("\nline ").count(), 10, "{seen}");
    }

    #[test]
    fn the_log_forgets_a_line_once_everyone_has_passed_it() {
        let hub = Hub::new(1 << 20);
        let (a, a_box) = hub.join(addr(1));
        let (_, b_box) = hub.join(addr(2));
        assert!(take(&a_box, usize::MAX).is_some());
        assert!(take(&b_box, usize::MAX).is_some());
        assert_eq!(log_size(&hub), (0, 0), "both joins were taken by everyone");

        hub.say(a, "hello");
        let one = log_size(&hub);
        assert_eq!(one.0, 1);
        assert!(
            take(&a_box, usize::MAX)
                .expect("a's line")
                .ends_with("\nhello\n")
        );
        assert_eq!(log_size(&hub), one, "b has not taken it yet");
        assert!(
            take(&b_box, usize::MAX)
                .expect("b's line")
                .ends_with("\nhello\n")
        );
        assert_eq!(log_size(&hub), (0, 0));
        assert_eq!(take(&a_box, usize::MAX), None, "nothing new");

        // A member that goes away stops holding lines back.
        hub.say(a, "again");
        assert!(take(&a_box, usize::MAX).is_some());
        assert_eq!(log_size(&hub).0, 1);
        drop(b_box);
        assert_eq!(log_size(&hub), (0, 0));
    }

    #[test]
    fn a_batch_stops_at_the_byte_limit_and_takes_one_line_at_least() {
        let hub = Hub::new(1 << 20);
        let (a, a_box) = hub.join(addr(1));
        take(&a_box, usize::MAX);
        for i in 0..3 {
            hub.tell(a, &format!("note {i}"));
        }
        // Each is 9 bytes: a 1-byte limit still takes one, 18 takes two.
        assert_eq!(take(&a_box, 1).as_deref(), Some("* note 0\n"));
        assert_eq!(take(&a_box, 18).as_deref(), Some("* note 1\n* note 2\n"));
        assert_eq!(log_size(&hub), (0, 0));
    }

    #[test]
    fn a_private_line_reaches_its_recipient_alone_and_in_order() {
        let hub = Hub::new(1 << 20);
        let (a, a_box) = hub.join(addr(1));
        let (b, b_box) = hub.join(addr(2));
        hub.say(a, "one");
        hub.tell(b, "for b only");
        hub.say(a, "two");
        let a_saw = take(&a_box, usize::MAX).expect("a's lines");
        let b_saw = take(&b_box, usize::MAX).expect("b's lines");
        assert!(!a_saw.contains("for b only"), "{a_saw}");
        let b_order: Vec<&str> = b_saw
            .lines()
            .filter(|line| ["one", "* for b only", "two"].contains(line))
            .collect();
        assert_eq!(b_order, ["one", "* for b only", "two"], "{b_saw}");
        assert_eq!(log_size(&hub), (0, 0), "a stepped over b's line");

        // A private line for someone who is gone is not logged at all.
        hub.leave(b, true);
        hub.tell(b, "too late");
        assert_eq!(log_size(&hub), (0, 0));
    }

    #[tokio::test]
    async fn a_leaving_member_gets_what_was_said_before_then_its_last_line() {
        let hub = Hub::new(1 << 20);
        let (a, a_box) = hub.join(addr(1));
        let (b, _b_box) = hub.join(addr(2));
        hub.say(b, "before");
        hub.leave(a, true);
        hub.say(b, "after");
        a_box.close_with(Some(notice("bye")));
        let got = drain(&a_box).await;
        assert!(got.contains("\nbefore\n"), "{got}");
        assert!(!got.contains("after"), "{got}");
        assert!(got.ends_with("* bye\n"), "{got}");
        assert_eq!(a_box.next_batch(usize::MAX).await, Batch::Closed);
    }

    #[test]
    fn a_slow_member_is_dropped_while_the_others_read_on() {
        const MAX: usize = 4096;
        let hub = Hub::new(MAX);
        let (_, slow_box) = hub.join(addr(1));
        let fast: Vec<(MemberId, Outbox)> = (2..5).map(|port| hub.join(addr(port))).collect();
        let mut heard = vec![String::new(); fast.len()];
        for i in 0..100 {
            let (speaker, _) = fast[i % fast.len()];
            hub.say(speaker, &format!("line {i} {}", "x".repeat(i)));
            for ((_, outbox), heard) in fast.iter().zip(&mut heard) {
                heard.push_str(&take(outbox, usize::MAX).expect("a line each time"));
            }
            let (_, bytes) = log_size(&hub);
            assert!(bytes <= MAX, "the log holds {bytes} bytes");
        }
        assert!(slow_box.kicked.is_cancelled());
        assert_eq!(hub.len(), fast.len());
        let kicked = "* 127.0.0.1 1 was disconnected (too slow: more than 4096 bytes queued)\n";
        for heard in &heard {
            assert_eq!(heard.matches(kicked).count(), 1, "{heard}");
            for i in 0..100 {
                assert!(heard.contains(&format!("\nline {i} ")), "line {i} missing");
            }
        }
        // With the slow member gone, the readers have passed everything.
        assert_eq!(log_size(&hub), (0, 0));
    }

    /// A step of a random conversation: who acts, how, and a size.
    #[derive(Debug, Clone)]
    enum Step {
        Say(usize, usize),
        Read(usize, usize),
        Who(usize),
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            (0..4usize, 0..600usize).prop_map(|(who, len)| Step::Say(who, len)),
            (0..4usize, 1..4000usize).prop_map(|(who, max)| Step::Read(who, max)),
            (0..4usize).prop_map(Step::Who),
        ]
    }

    /// Plays `steps` in a room of four limited to `max` bytes, checking
    /// after each one that the log stays within the limit and that every
    /// member gets the numbered lines in the order they were said.
    fn converse(steps: Vec<Step>, max: usize) -> Result<(), TestCaseError> {
        let hub = Hub::new(max);
        let members: Vec<(MemberId, Outbox)> = (1..5).map(|port| hub.join(addr(port))).collect();
        let mut said = 0;
        let mut last_heard = vec![None; members.len()];
        for step in steps {
            match step {
                Step::Say(who, len) => {
                    hub.say(members[who].0, &format!("#{said} {}", "x".repeat(len)));
                    said += 1;
                }
                Step::Read(who, max_bytes) => match take_any(&members[who].1, max_bytes) {
                    Some(Batch::Lines(batch)) => {
                        for line in String::from_utf8_lossy(&batch).lines() {
                            let Some((n, _)) =
                                line.strip_prefix('#').and_then(|l| l.split_once(' '))
                            else {
                                continue;
                            };
                            let n: usize = n.parse().expect("numbered");
                            prop_assert!(last_heard[who].is_none_or(|last| n > last));
                            last_heard[who] = Some(n);
                        }
                    }
                    Some(Batch::Kicked) => prop_assert!(members[who].1.kicked.is_cancelled()),
                    Some(Batch::Closed) => prop_assert!(false, "nobody closed"),
                    None => {}
                },
                Step::Who(who) => hub.who(members[who].0),
            }
            let (_, bytes) = log_size(&hub);
            prop_assert!(bytes <= max, "the log holds {} bytes", bytes);
        }
        Ok(())
    }

    proptest! {
        /// Whatever members say and however fast they read, the log never
        /// holds more than `max_queue` bytes (so not even one line more),
        /// and each member gets the lines in the order they were said.
        #[test]
        fn the_log_never_holds_more_than_max_queue(steps in vec(step(), 1..200)) {
            converse(steps, 2048)?;
        }
    }

    /// A broker that hands every line to another hub, as Redis would.
    struct Relay(Arc<Mutex<Vec<Bytes>>>);

    impl Broker for Relay {
        fn publish(&self, line: &Bytes) {
            self.0.lock().expect("relay lock").push(line.clone());
        }
    }

    #[tokio::test]
    async fn a_broker_carries_lines_to_another_node() {
        let wire = Arc::new(Mutex::new(Vec::new()));
        let here = Hub::with_broker(1 << 20, Relay(wire.clone()));
        let there = Hub::new(1 << 20);
        let (_, remote_box) = there.join(addr(9));
        let (a, _) = here.join(addr(1));
        here.say(a, "hello, other node");
        for line in wire.lock().expect("relay lock").drain(..) {
            there.deliver(line);
        }
        let got = drain(&remote_box).await;
        assert!(
            got.starts_with("* 127.0.0.1 9 joined\n* 127.0.0.1 1 joined\n"),
            "{got}"
        );
        assert!(got.ends_with(" 127.0.0.1 1\nhello, other node\n"), "{got}");
    }
}
