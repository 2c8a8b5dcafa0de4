//! What a node asks of Redis: the room's keys, the ops of `room.lua`, and
//! how a batch of them is sent and its results handed back.

use std::sync::LazyLock;

use bytes::Bytes;
use redis::{Script, ScriptInvocation};
use tokio::sync::oneshot;

use super::super::hub::{LINE_OVERHEAD, MemberId};
use super::Options;

/// The one script every change goes through.
static ROOM: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("room.lua")));

/// The room's keys: all under one hash tag, `{ROOM}`.
pub(super) struct Keys {
    pub(super) prefix: String,
    pub(super) stream: String,
    pub(super) counter: String,
    pub(super) epoch: String,
    nodes: String,
    nicks: String,
    applied: String,
    results: String,
    reaped: String,
}

impl Keys {
    pub(super) fn new(options: &Options) -> Self {
        let prefix = format!("socklab:chat:{{{}}}:", options.room);
        let key = |name: &str| format!("{prefix}{name}");
        Self {
            stream: key("lines"),
            counter: key("count"),
            epoch: key("epoch"),
            nodes: key("nodes"),
            nicks: key("nicks"),
            applied: key("applied"),
            results: key("results"),
            reaped: key("reaped"),
            prefix,
        }
    }
}

/// The answer to a rename.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Renamed {
    Yes,
    Taken,
    /// Redis was lost before the rename was sent.
    Unknown,
}

/// One change, in the order the node made it.
pub(super) enum Op {
    /// A line for everyone.
    Line(Bytes),
    /// A member joined: listed, then announced with `line`.
    Join {
        id: MemberId,
        name: String,
        line: Bytes,
    },
    /// A member left: unlisted, its nickname freed, announced with `line`.
    Leave {
        id: MemberId,
        name: String,
        line: Bytes,
    },
    /// Claims `new` for member `id`, frees `old`, announces with `line`.
    Rename {
        id: MemberId,
        old: String,
        new: String,
        line: Bytes,
        reply: oneshot::Sender<Renamed>,
    },
    /// Everyone's names on every live node.
    Who {
        reply: oneshot::Sender<Option<Vec<String>>>,
    },
    /// The node's deadline moves on; dead nodes are reaped.
    Beat,
    /// This node's members are exactly these (id, name, name without
    /// nickname); the difference is announced.
    Sync(Vec<(MemberId, String, String)>),
    /// The node leaves the room.
    Bye,
}

/// What the publisher does with an op's result.
pub(super) enum Outcome {
    Done,
    /// The node had been declared dead: it must list its members again.
    Reaped,
    /// After a sync: members whose nickname someone else took meanwhile.
    Lost(Vec<MemberId>),
}

impl Op {
    /// Bytes it counts against the node's pending bound.
    pub(super) fn cost(&self) -> usize {
        match self {
            Op::Line(line) | Op::Join { line, .. } | Op::Leave { line, .. } => {
                line.len() + LINE_OVERHEAD
            }
            _ => 0,
        }
    }

    /// The line it carries for everyone, for delivering it here instead.
    pub(super) fn into_line(self) -> Option<Bytes> {
        match self {
            Op::Line(line) | Op::Join { line, .. } | Op::Leave { line, .. } => Some(line),
            _ => None,
        }
    }

    /// Tells whoever waits for this op's answer that there will be none.
    pub(super) fn abandon(self) {
        match self {
            Op::Rename { reply, .. } => drop(reply.send(Renamed::Unknown)),
            Op::Who { reply } => drop(reply.send(None)),
            _ => {}
        }
    }

    /// Whether the op waits for an answer the member is blocked on.
    pub(super) fn is_question(&self) -> bool {
        matches!(self, Op::Rename { .. } | Op::Who { .. })
    }

    /// Adds the op's words to the script's arguments (each written once,
    /// straight into the command).
    fn push_args(&self, call: &mut ScriptInvocation<'_>) {
        match self {
            Op::Line(line) => {
                call.arg("L").arg(line.as_ref());
            }
            Op::Join { id, name, line } => {
                call.arg("J").arg(*id).arg(name).arg(line.as_ref());
            }
            Op::Leave { id, name, line } => {
                call.arg("Q").arg(*id).arg(name).arg(line.as_ref());
            }
            Op::Rename {
                id, old, new, line, ..
            } => {
                call.arg("N").arg(*id).arg(old).arg(new).arg(line.as_ref());
            }
            Op::Who { .. } => {
                call.arg("W");
            }
            Op::Beat => {
                call.arg("H");
            }
            Op::Sync(members) => {
                call.arg("S").arg(members.len());
                for (id, name, fallback) in members {
                    call.arg(*id).arg(name).arg(fallback);
                }
            }
            Op::Bye => {
                call.arg("X");
            }
        }
    }

    /// Hands the op's result to whoever waits for it.
    fn answer(self, result: &str) -> Outcome {
        match self {
            Op::Rename { reply, .. } => {
                let renamed = if result == "1" {
                    Renamed::Yes
                } else {
                    Renamed::Taken
                };
                // The member may have gone meanwhile.
                let _ = reply.send(renamed);
                Outcome::Done
            }
            Op::Who { reply } => {
                let names = result
                    .split('\n')
                    .filter(|name| !name.is_empty())
                    .map(str::to_string)
                    .collect();
                let _ = reply.send(Some(names));
                Outcome::Done
            }
            Op::Beat if result == "1" => Outcome::Reaped,
            Op::Sync(_) => {
                Outcome::Lost(result.split(',').filter_map(|id| id.parse().ok()).collect())
            }
            _ => Outcome::Done,
        }
    }
}

/// A batch of ops with the number that makes sending it again harmless.
pub(super) struct Batch {
    pub(super) number: u64,
    pub(super) ops: Vec<Op>,
}

impl Batch {
    /// Applies the batch; on success, answers each op and returns what the
    /// publisher must do next. On failure the batch is kept, to be sent again.
    pub(super) async fn apply(
        &self,
        conn: &mut impl redis::aio::ConnectionLike,
        keys: &Keys,
        node: &Node,
    ) -> redis::RedisResult<Vec<String>> {
        let mut call = ROOM.prepare_invoke();
        call.key(&keys.stream)
            .key(&keys.counter)
            .key(&keys.nodes)
            .key(&keys.nicks)
            .key(&keys.applied)
            .key(&keys.results)
            .key(&keys.reaped)
            .arg(&keys.prefix)
            .arg(&node.id)
            .arg(&node.incarnation)
            .arg(self.number)
            .arg(node.history)
            .arg(node.ttl_ms);
        for op in &self.ops {
            op.push_args(&mut call);
        }
        call.invoke_async(conn).await
    }

    /// Hands each op its result (they come in order, one per op).
    pub(super) fn answer(self, results: Vec<String>) -> Vec<Outcome> {
        let mut results = results.into_iter();
        self.ops
            .into_iter()
            .map(|op| {
                let result = results.next().unwrap_or_default();
                op.answer(&result)
            })
            .collect()
    }
}

/// Who this node is, as the script needs it.
pub(super) struct Node {
    pub(super) id: String,
    /// Tells this run of the node from an earlier one with the same id, so
    /// its batch numbers start afresh (no `:` in it: the script splits on
    /// the last one).
    pub(super) incarnation: String,
    pub(super) history: usize,
    pub(super) ttl_ms: u64,
}
