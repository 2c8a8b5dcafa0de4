//! One chat room across many server nodes, through a real Redis (SPEC §8a).
//!
//! Each node keeps serving its own clients from its [`Hub`]; what changes is
//! where the room's lines are put in order. A node hands every line for the
//! whole room to Redis, which appends it to the room's stream with the next
//! number of the room's counter; every node, the sender's included, reads the
//! stream from the last entry it delivered and hands the entries to its hub.
//! So every client everywhere sees one order, each line once.
//!
//! ```text
//!  node A: Hub ──ops──▶ publisher ──EVALSHA room.lua──▶ Redis stream {room}:lines
//!                                                        │ (n: 1, 2, 3, …)
//!  node A: Hub ◀──────── reader ◀──XREAD BLOCK from last id─┤
//!  node B: Hub ◀──────── reader ◀───────────────────────────┘
//! ```
//!
//! - Resume: a reader that loses Redis reconnects with back-off and reads on
//!   from the last entry it delivered; a jump in the counter (lines trimmed
//!   or lost) is told to the node's clients with the count, and a Redis that
//!   lost the room's history altogether (a new epoch key) as an unknown
//!   number of lines.
//! - Outage: while Redis cannot be reached the node's lines are delivered
//!   here only, with a notice when that starts and one when it ends.
//! - Presence: each node lists its members in Redis and beats a deadline;
//!   a live node announces a dead node's members as left, atomically, once.
//!   Nicknames are claimed in Redis, so they are unique across the room.
//!
//! Every change a node makes goes through one Lua script (`ops.rs`), in
//! order, in batches, each applied once however often it is sent. All keys
//! share the room's hash tag, so a Redis Cluster keeps a room on one slot.

mod credit;
mod link;
mod ops;
mod publisher;
mod reader;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::warn;

use super::hub::{About, Broker, Hub, MemberId, NickError, notice};
use credit::Credit;
use link::Link;
use ops::Op;

/// How long members stay listed after their node stops beating.
pub const DEFAULT_PRESENCE_TTL: Duration = Duration::from_secs(10);
/// Lines Redis keeps per room, about: how far behind a node may fall and
/// still resume without a gap.
pub const DEFAULT_HISTORY: usize = 100_000;
/// Bytes of lines a node may have on their way to Redis before its senders
/// wait.
pub const DEFAULT_MAX_PENDING: usize = 1024 * 1024;
/// How long a node starting waits for Redis before it serves its room
/// local-only.
pub const STARTUP_WAIT: Duration = Duration::from_secs(5);
/// The room's name when none is given.
pub const DEFAULT_ROOM: &str = "lobby";

/// What the members of a node hear when it loses Redis.
pub const LOCAL_ONLY: &str =
    "the room is local-only: Redis is unreachable (what is said now stays on this node)";
/// What they hear when it is back.
pub const WHOLE_AGAIN: &str = "the room is whole again";

/// Where and how a node joins the room.
#[derive(Debug, Clone)]
pub struct Options {
    /// `redis://[:PASSWORD@]HOST:PORT[/DB]` or `redis+unix:///PATH`.
    pub url: String,
    /// The room: nodes with the same room and Redis share it.
    pub room: String,
    /// This node's name in the room; unique among its nodes.
    pub node_id: String,
    /// How long a silent node's members stay listed; it beats a third of it.
    pub presence_ttl: Duration,
    /// Lines Redis keeps for the room.
    pub history: usize,
    /// Bytes of lines on their way to Redis before senders wait.
    pub max_pending: usize,
}

impl Options {
    /// Checks the names, the TTL and the URL, as [`Shared::start`] will.
    pub fn check(&self) -> Result<(), Error> {
        self.client().map(drop)
    }

    fn client(&self) -> Result<redis::Client, Error> {
        check_name("room", &self.room)?;
        check_name("node id", &self.node_id)?;
        if self.presence_ttl < Duration::from_secs(1) {
            return Err(Error::Ttl(self.presence_ttl));
        }
        redis::Client::open(self.url.as_str()).map_err(|source| Error::Url {
            url: self.url.clone(),
            source,
        })
    }

    /// A node of room `room` on the Redis at `url`, with a random node id.
    pub fn new(url: &str, room: &str) -> Self {
        Self {
            url: url.to_string(),
            room: room.to_string(),
            node_id: format!("node-{:08x}", rand::random::<u32>()),
            presence_ttl: DEFAULT_PRESENCE_TTL,
            history: DEFAULT_HISTORY,
            max_pending: DEFAULT_MAX_PENDING,
        }
    }
}

/// Why a node could not join the room.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The URL is not one the Redis client takes.
    #[error("bad Redis URL {url}: {source}")]
    Url {
        /// The URL given.
        url: String,
        /// What the client said.
        source: redis::RedisError,
    },
    /// A TTL so short a node could not beat in time.
    #[error("presence TTL {0:?} is too short: at least 1s")]
    Ttl(Duration),
    /// An empty room name or node id, or one with a space or brace.
    #[error("invalid {what} {value:?}: 1 to 64 characters, no spaces or braces")]
    Name {
        /// `room` or `node id`.
        what: &'static str,
        /// The value given.
        value: String,
    },
}

/// This node's handle on the shared room; cheap to clone.
#[derive(Clone)]
pub struct Shared {
    inner: Arc<Inner>,
}

struct Inner {
    link: Arc<Link>,
    ops: mpsc::UnboundedSender<Op>,
    credit: Arc<Credit>,
    stop: CancellationToken,
    tasks: std::sync::Mutex<Vec<JoinHandle<()>>>,
}

/// What the broker of a shared room does with the hub's lines.
struct RedisBroker {
    link: Arc<Link>,
    ops: mpsc::UnboundedSender<Op>,
    credit: Arc<Credit>,
}

impl Broker for RedisBroker {
    fn publish(&self, line: Bytes, about: About<'_>) -> Option<Bytes> {
        if !self.link.is_up() {
            return Some(line);
        }
        let op = match about {
            About::Line => Op::Line(line),
            About::Joined(id, name) => Op::Join {
                id,
                name: name.to_string(),
                line,
            },
            About::Left(id, name) => Op::Leave {
                id,
                name: name.to_string(),
                line,
            },
        };
        self.credit.take(op.cost());
        match self.ops.send(op) {
            Ok(()) => None,
            // The node is stopping: deliver here what can still be.
            Err(mpsc::error::SendError(op)) => {
                self.credit.give(op.cost());
                op.into_line()
            }
        }
    }
}

impl Shared {
    /// Joins this node to the room: returns the node's hub, whose lines now
    /// go through Redis, and the handle the server asks for presence. The
    /// connection is made in the background: until Redis answers the room
    /// is local-only.
    pub fn start(max_queue: usize, options: Options) -> Result<(Hub, Shared), Error> {
        let client = options.client()?;
        let link = Arc::new(Link::default());
        let credit = Arc::new(Credit::new(options.max_pending));
        let (tx, rx) = mpsc::unbounded_channel();
        let hub = Hub::with_broker(
            max_queue,
            RedisBroker {
                link: link.clone(),
                ops: tx.clone(),
                credit: credit.clone(),
            },
        );
        let stop = CancellationToken::new();
        let keys = Arc::new(ops::Keys::new(&options));
        let (reading, read_state) = watch::channel(false);
        let reader = reader::Reader {
            client: client.clone(),
            keys: keys.clone(),
            hub: hub.clone(),
            link: link.clone(),
            reading,
            stop: stop.clone(),
        };
        let publisher = publisher::Publisher::new(
            client,
            keys,
            &options,
            publisher::Parts {
                hub: hub.clone(),
                link: link.clone(),
                credit: credit.clone(),
                ops: rx,
                reading: read_state,
                stop: stop.clone(),
            },
        );
        let tasks = vec![tokio::spawn(reader.run()), tokio::spawn(publisher.run())];
        let shared = Shared {
            inner: Arc::new(Inner {
                link,
                ops: tx,
                credit,
                stop,
                tasks: std::sync::Mutex::new(tasks),
            }),
        };
        Ok((hub, shared))
    }

    /// Whether the room is whole: lines reach every node.
    pub fn is_up(&self) -> bool {
        self.inner.link.is_up()
    }

    /// Waits up to `within` for the room to be whole (Redis reached, this
    /// node's members listed); whether it is.
    pub async fn wait_whole(&self, within: Duration) -> bool {
        self.inner.link.wait_up(within).await
    }

    /// Waits until this node has room for another line on its way to Redis.
    pub async fn ready_to_send(&self) {
        self.inner.credit.wait().await;
    }

    /// Renames member `id` across the room: the nickname is claimed in
    /// Redis, so no one on any node has it twice.
    pub async fn rename(&self, hub: &Hub, id: MemberId, nick: &str) -> Result<(), RenameError> {
        if !self.is_up() {
            return Err(RenameError::Split);
        }
        let Some(old) = hub.check_nick(id, nick)? else {
            return Ok(());
        };
        let (reply, answer) = oneshot::channel();
        let op = Op::Rename {
            id,
            old: old.clone(),
            new: nick.to_string(),
            line: notice(&format!("{old} is now {nick}")),
            reply,
        };
        self.inner.ops.send(op).map_err(|_| RenameError::Split)?;
        match answer.await {
            Ok(ops::Renamed::Yes) => Ok(hub.set_nick(id, Some(nick))?),
            Ok(ops::Renamed::Taken) => Err(NickError::Taken(nick.to_string()).into()),
            Ok(ops::Renamed::Unknown) | Err(_) => Err(RenameError::Split),
        }
    }

    /// Everyone in the room on every live node, sorted; `None` while Redis
    /// cannot be asked.
    pub async fn who(&self) -> Option<Vec<String>> {
        if !self.is_up() {
            return None;
        }
        let (reply, answer) = oneshot::channel();
        self.inner.ops.send(Op::Who { reply }).ok()?;
        let mut names = answer.await.ok().flatten()?;
        names.sort();
        Some(names)
    }

    /// Leaves the room: sends what is still on its way (for up to
    /// `within`), takes the node off the list, and stops.
    pub async fn close(&self, within: Duration) {
        self.inner.stop.cancel();
        let tasks = std::mem::take(
            &mut *self
                .inner
                .tasks
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        );
        let all = wait_all(tasks);
        if tokio::time::timeout(within, all).await.is_err() {
            warn!("the room's last lines did not reach Redis within {within:?}");
        }
    }
}

async fn wait_all(tasks: Vec<JoinHandle<()>>) {
    for task in tasks {
        if let Err(err) = task.await {
            warn!("a task of the shared room failed: {err}");
        }
    }
}

/// Why a rename across the room did not happen.
#[derive(Debug, thiserror::Error)]
pub enum RenameError {
    /// Taken here or invalid.
    #[error(transparent)]
    Nick(#[from] NickError),
    /// Redis could not be asked whether the name is free.
    #[error("nicknames cannot change while the room is split (Redis is unreachable)")]
    Split,
}

fn check_name(what: &'static str, value: &str) -> Result<(), Error> {
    let fine = !value.is_empty()
        && value.len() <= 64
        && !value
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '{' || c == '}');
    if fine {
        Ok(())
    } else {
        Err(Error::Name {
            what,
            value: value.to_string(),
        })
    }
}
