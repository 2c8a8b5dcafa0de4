//! The room: its members, their names, and the fan-out of every line to every
//! member's bounded outbox.
//!
//! Connections see the room through two calls: [`Hub::publish`] a line, and
//! take the lines meant for them from their [`Outbox`]. Lines are encoded once
//! into [`Bytes`] and every outbox holds one pointer to them (8 bytes a
//! recipient: a room of thousands can queue millions of join notices); fan-out
//! happens under one `std::sync::Mutex` and
//! never waits for a peer: a member whose outbox would pass its byte limit is
//! removed on the spot and the room told why. Because every line is queued to
//! every member under that lock, all members see all lines in one order.
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
use tracing::warn;

/// Longest nickname, in characters.
pub const MAX_NICK: usize = 32;
/// What a queued line costs besides its bytes: its queue slot, with room for
/// the queue's growth, so the limit bounds memory and not only payload.
pub const LINE_OVERHEAD: usize = 16;
/// Queue slots an empty outbox may keep allocated.
const SHRINK_ABOVE: usize = 64;

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
    broker: Box<dyn Broker>,
    max_queue: usize,
}

#[derive(Default)]
struct Room {
    members: HashMap<MemberId, Member>,
    nicks: HashSet<String>,
    next_id: MemberId,
}

struct Member {
    addr: SocketAddr,
    nick: Option<String>,
    outbox: Arc<Outbox>,
}

impl Member {
    fn name(&self) -> String {
        match &self.nick {
            Some(nick) => nick.clone(),
            None => format!("{} {}", self.addr.ip(), self.addr.port()),
        }
    }
}

impl Hub {
    /// A room on this node alone, each member's outbox holding at most
    /// `max_queue` bytes.
    pub fn new(max_queue: usize) -> Self {
        Self::with_broker(max_queue, Solo)
    }

    /// A room shared with other nodes through `broker`.
    pub fn with_broker(max_queue: usize, broker: impl Broker) -> Self {
        Self {
            inner: Arc::new(Inner {
                room: Mutex::new(Room::default()),
                broker: Box::new(broker),
                max_queue,
            }),
        }
    }

    fn room(&self) -> MutexGuard<'_, Room> {
        // A panic while holding the lock cannot leave the room half-updated in
        // a way later calls trip over (each update is a few map operations),
        // so a poisoned lock is still usable.
        self.inner
            .room
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Adds a member connected from `addr` and announces it to everyone.
    pub fn join(&self, addr: SocketAddr) -> (MemberId, Arc<Outbox>) {
        let outbox = Arc::new(Outbox::new(self.inner.max_queue));
        let mut room = self.room();
        let id = room.next_id;
        room.next_id += 1;
        let member = Member {
            addr,
            nick: None,
            outbox: outbox.clone(),
        };
        let notice = notice(&format!("{} joined", member.name()));
        room.members.insert(id, member);
        self.broadcast(&mut room, notice);
        (id, outbox)
    }

    /// Removes a member; the others see `* NAME left` unless `quietly`.
    pub fn leave(&self, id: MemberId, quietly: bool) {
        let mut room = self.room();
        let Some(member) = room.remove(id) else {
            return;
        };
        if !quietly {
            self.broadcast(&mut room, notice(&format!("{} left", member.name())));
        }
    }

    /// Relays what a member said, to everyone including the member.
    pub fn say(&self, id: MemberId, text: &str) {
        let mut room = self.room();
        let Some(member) = room.members.get(&id) else {
            return;
        };
        let line = message(&member.name(), text);
        self.broadcast(&mut room, line);
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
        let mut room = self.room();
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
        self.broadcast(&mut room, notice(&format!("{old} is now {nick}")));
        Ok(())
    }

    /// Tells one member who is here.
    pub fn who(&self, id: MemberId) {
        let mut room = self.room();
        let mut names: Vec<String> = room.members.values().map(Member::name).collect();
        names.sort();
        let line = notice(&format!("here ({}): {}", names.len(), names.join(", ")));
        self.tell_locked(&mut room, id, line);
    }

    /// Sends a notice to one member only.
    pub fn tell(&self, id: MemberId, text: &str) {
        let mut room = self.room();
        self.tell_locked(&mut room, id, notice(text));
    }

    /// Sends an encoded line to every member on every node.
    pub fn publish(&self, line: Bytes) {
        let mut room = self.room();
        self.broadcast(&mut room, line);
    }

    /// Delivers a line another node published to this node's members.
    pub fn deliver(&self, line: Bytes) {
        let mut room = self.room();
        let dropped = room.fan_out(&Arc::new(line));
        self.announce_dropped(&mut room, dropped);
    }

    /// How many members this node has.
    pub fn len(&self) -> usize {
        self.room().members.len()
    }

    /// Whether this node has no members.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn broadcast(&self, room: &mut Room, line: Bytes) {
        self.inner.broker.publish(&line);
        let dropped = room.fan_out(&Arc::new(line));
        self.announce_dropped(room, dropped);
    }

    fn tell_locked(&self, room: &mut Room, id: MemberId, line: Bytes) {
        let Some(member) = room.members.get(&id) else {
            return;
        };
        if !member.outbox.push(Arc::new(line)) {
            let dropped = room.remove(id).into_iter().collect();
            self.announce_dropped(room, dropped);
        }
    }

    /// Tells the room about members dropped for overflowing; telling it may
    /// overflow others, so this goes on until a notice fits everywhere.
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
            pending.extend(room.fan_out(&Arc::new(line)));
        }
    }
}

impl Room {
    /// Queues `line` for every member; removes and returns those whose
    /// outbox overflowed.
    fn fan_out(&mut self, line: &Arc<Bytes>) -> Vec<Member> {
        let full: Vec<MemberId> = self
            .members
            .iter()
            .filter(|(_, member)| !member.outbox.push(line.clone()))
            .map(|(&id, _)| id)
            .collect();
        full.into_iter().filter_map(|id| self.remove(id)).collect()
    }

    fn remove(&mut self, id: MemberId) -> Option<Member> {
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

/// One member's pending lines, bounded in bytes; filled by the room, drained
/// by the member's writer.
#[derive(Debug)]
pub struct Outbox {
    queue: Mutex<Queue>,
    ready: Notify,
    kicked: CancellationToken,
    max: usize,
}

#[derive(Debug, Default)]
struct Queue {
    lines: VecDeque<Arc<Bytes>>,
    bytes: usize,
    closed: bool,
}

/// What [`Outbox::next_batch`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Batch {
    /// Queued lines, joined into one buffer when there were several.
    Lines(Bytes),
    /// Closed and drained: nothing more will come.
    Closed,
    /// Dropped from the room for overflowing.
    Kicked,
}

impl Outbox {
    /// An empty outbox holding at most `max` bytes.
    pub fn new(max: usize) -> Self {
        Self {
            queue: Mutex::new(Queue::default()),
            ready: Notify::new(),
            kicked: CancellationToken::new(),
            max,
        }
    }

    fn queue(&self) -> MutexGuard<'_, Queue> {
        // Same reasoning as `Hub::room`: the queue is consistent between calls.
        self.queue
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Queues a line; false (and the outbox is emptied and marked kicked)
    /// when it would pass the limit.
    fn push(&self, line: Arc<Bytes>) -> bool {
        let mut queue = self.queue();
        if queue.closed {
            return true;
        }
        let cost = line.len() + LINE_OVERHEAD;
        if queue.bytes + cost > self.max {
            queue.lines = VecDeque::new();
            queue.bytes = 0;
            queue.closed = true;
            drop(queue);
            self.kicked.cancel();
            return false;
        }
        queue.bytes += cost;
        queue.lines.push_back(line);
        drop(queue);
        self.ready.notify_one();
        true
    }

    /// Queues a last line and closes: the writer sends what is queued, then stops.
    pub fn close_with(&self, last: Option<Bytes>) {
        let mut queue = self.queue();
        if queue.closed {
            return;
        }
        if let Some(line) = last {
            queue.bytes += line.len() + LINE_OVERHEAD;
            queue.lines.push_back(Arc::new(line));
        }
        queue.closed = true;
        drop(queue);
        self.ready.notify_one();
    }

    /// Resolves once the member has been dropped for overflowing.
    pub async fn kicked(&self) {
        self.kicked.cancelled().await;
    }

    /// Waits for lines and takes up to about `max_bytes` of them, or
    /// reports that nothing more will come.
    pub async fn next_batch(&self, max_bytes: usize) -> Batch {
        loop {
            {
                let mut queue = self.queue();
                if self.kicked.is_cancelled() {
                    return Batch::Kicked;
                }
                if let Some(first) = queue.lines.pop_front() {
                    queue.bytes -= first.len() + LINE_OVERHEAD;
                    return Batch::Lines(queue.join_after(first, max_bytes));
                }
                if queue.closed {
                    return Batch::Closed;
                }
            }
            self.ready.notified().await;
        }
    }
}

impl Queue {
    /// `first` and the lines after it up to `max_bytes`, as one buffer:
    /// copying a few KiB costs less than a system call per line. The copy
    /// is made under the lock so the writer keeps no per-line list of its own.
    fn join_after(&mut self, first: Arc<Bytes>, max_bytes: usize) -> Bytes {
        let mut taken = first.len();
        let more = self
            .lines
            .iter()
            .take_while(|line| {
                taken += line.len();
                taken <= max_bytes
            })
            .count();
        let batch = if more == 0 {
            Bytes::clone(&first)
        } else {
            let mut joined = BytesMut::with_capacity(taken);
            joined.extend_from_slice(&first);
            for line in self.lines.drain(..more) {
                self.bytes -= line.len() + LINE_OVERHEAD;
                joined.extend_from_slice(&line);
            }
            joined.freeze()
        };
        // A burst (thousands of join notices) grows the ring; give it back
        // once drained so thousands of idle members do not keep it.
        if self.lines.is_empty() && self.lines.capacity() > SHRINK_ABOVE {
            self.lines = VecDeque::new();
        }
        batch
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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
        let hub = Hub::new(200);
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
            seen.contains("* 127.0.0.1 1 was disconnected (too slow: more than 200 bytes queued)")
        );
        assert_eq!(seen.matches("\nline ").count(), 10, "{seen}");
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
