//! The publisher: takes the hub's ops in order, sends them to Redis in
//! batches through `room.lua`, and brings the room back after an outage
//! (what was in flight again, under its number; then who is here now).

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use redis::aio::MultiplexedConnection;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use super::super::hub::Hub;
use super::Options;
use super::credit::Credit;
use super::link::{Backoff, Link, connection_config};
use super::ops::{Batch, Keys, Node, Op, Outcome};

/// Most ops in one batch: one script call holds Redis for its length.
const BATCH_OPS: usize = 256;
/// Most bytes of lines in one batch.
const BATCH_BYTES: usize = 256 * 1024;

/// What the publisher shares with the rest of the node.
pub(super) struct Parts {
    pub(super) hub: Hub,
    pub(super) link: Arc<Link>,
    pub(super) credit: Arc<Credit>,
    pub(super) ops: mpsc::UnboundedReceiver<Op>,
    /// Whether the reader follows the stream: lines go through Redis only
    /// once it does, or this node would not see its own.
    pub(super) reading: watch::Receiver<bool>,
    pub(super) stop: CancellationToken,
}

/// Why a session with Redis ended.
enum End {
    Stopped,
    Lost(redis::RedisError),
}

pub(super) struct Publisher {
    client: redis::Client,
    keys: Arc<Keys>,
    node: Node,
    beat_every: Duration,
    parts: Parts,
    /// Sent, but not known to be applied: sent again first, same number.
    inflight: Option<Batch>,
    /// Taken from the queue while Redis was lost, in order.
    backlog: VecDeque<Op>,
    next: u64,
}

impl Publisher {
    pub(super) fn new(
        client: redis::Client,
        keys: Arc<Keys>,
        options: &Options,
        parts: Parts,
    ) -> Self {
        let ttl = options.presence_ttl;
        Self {
            client,
            keys,
            node: Node {
                id: options.node_id.clone(),
                incarnation: format!("{}/{:016x}", options.node_id, rand::random::<u64>()),
                history: options.history.max(1),
                ttl_ms: u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX),
            },
            beat_every: ttl / 3,
            parts,
            inflight: None,
            backlog: VecDeque::new(),
            next: 1,
        }
    }

    pub(super) async fn run(mut self) {
        let mut backoff = Backoff::default();
        loop {
            let Some(mut conn) = self.connect(&mut backoff).await else {
                self.abandon_all();
                return;
            };
            match self.session(&mut conn).await {
                End::Stopped => return,
                End::Lost(err) => {
                    self.parts.link.lost(&self.parts.hub, &err);
                    self.keep_backlog();
                }
            }
        }
    }

    /// A connection, retried with back-off; `None` once stopped.
    async fn connect(&mut self, backoff: &mut Backoff) -> Option<MultiplexedConnection> {
        loop {
            let config = connection_config();
            let attempt = self
                .client
                .get_multiplexed_async_connection_with_config(&config);
            let failed = tokio::select! {
                () = self.parts.stop.cancelled() => return None,
                conn = attempt => match conn {
                    Ok(conn) => {
                        backoff.reset();
                        return Some(conn);
                    }
                    Err(err) => err,
                },
            };
            self.parts.link.lost(&self.parts.hub, &failed);
            self.keep_backlog();
            tokio::select! {
                () = self.parts.stop.cancelled() => return None,
                () = tokio::time::sleep(backoff.next()) => {}
            }
        }
    }

    async fn session(&mut self, conn: &mut MultiplexedConnection) -> End {
        match self.resume(conn).await {
            Ok(true) => {}
            Ok(false) => return End::Stopped,
            Err(err) => return End::Lost(err),
        }
        let mut beat = tokio::time::interval(self.beat_every);
        beat.tick().await;
        loop {
            let first = tokio::select! {
                biased;
                () = self.parts.stop.cancelled() => return self.finish(conn).await,
                () = self.parts.link.wait_lost() => {
                    return End::Lost(redis::RedisError::from(std::io::Error::other(
                        "the stream reader lost Redis",
                    )));
                }
                _ = beat.tick() => Op::Beat,
                op = self.parts.ops.recv() => match op {
                    Some(op) => op,
                    None => return self.finish(conn).await,
                },
            };
            let batch = self.batch(first);
            if let Err(err) = self.send(conn, batch).await {
                return End::Lost(err);
            }
        }
    }

    /// Brings the room back: what was in flight, what queued meanwhile,
    /// then who is here now. `false` when stopped meanwhile.
    async fn resume(&mut self, conn: &mut MultiplexedConnection) -> redis::RedisResult<bool> {
        if let Some(batch) = self.inflight.take() {
            self.send(conn, batch).await?;
        }
        let mut reading = self.parts.reading.clone();
        tokio::select! {
            () = self.parts.stop.cancelled() => return Ok(false),
            ready = reading.wait_for(|reading| *reading) => {
                if ready.is_err() {
                    return Ok(false);
                }
            }
        }
        while let Some(first) = self.backlog.pop_front() {
            let batch = self.batch(first);
            self.send(conn, batch).await?;
        }
        self.sync(conn).await?;
        self.parts.link.whole(&self.parts.hub);
        Ok(true)
    }

    /// Lists exactly this node's members in Redis, and from the same instant
    /// sends its lines there.
    async fn sync(&mut self, conn: &mut MultiplexedConnection) -> redis::RedisResult<()> {
        let link = self.parts.link.clone();
        let roster = self.parts.hub.roster_after(|| link.set_up());
        let number = self.number();
        self.send(
            conn,
            Batch {
                number,
                ops: vec![Op::Sync(roster)],
            },
        )
        .await
    }

    /// `first` and what else waits, up to a batch's bounds.
    fn batch(&mut self, first: Op) -> Batch {
        let mut bytes = first.cost();
        let mut ops = vec![first];
        while ops.len() < BATCH_OPS && bytes < BATCH_BYTES {
            let next = match self.backlog.pop_front() {
                Some(op) => op,
                None => match self.parts.ops.try_recv() {
                    Ok(op) => op,
                    Err(_) => break,
                },
            };
            bytes += next.cost();
            ops.push(next);
        }
        Batch {
            number: self.number(),
            ops,
        }
    }

    fn number(&mut self) -> u64 {
        let number = self.next;
        self.next += 1;
        number
    }

    /// Sends a batch; once applied, answers its ops. On failure it stays in
    /// flight, to be sent again when Redis is back.
    async fn send(
        &mut self,
        conn: &mut MultiplexedConnection,
        batch: Batch,
    ) -> redis::RedisResult<()> {
        let batch = self.inflight.insert(batch);
        let results = batch.apply(conn, &self.keys, &self.node).await?;
        let Some(batch) = self.inflight.take() else {
            return Ok(());
        };
        let cost = batch.ops.iter().map(Op::cost).sum();
        self.parts.credit.give(cost);
        let mut reaped = false;
        for outcome in batch.answer(results) {
            match outcome {
                Outcome::Done => {}
                Outcome::Reaped => reaped = true,
                Outcome::Lost(ids) => self.nicknames_lost(&ids),
            }
        }
        if reaped {
            warn!("this node had been declared dead; listing its members again");
            Box::pin(self.sync(conn)).await?;
        }
        Ok(())
    }

    fn nicknames_lost(&self, ids: &[u64]) {
        let hub = &self.parts.hub;
        for &id in ids {
            let Some(nick) = hub.name(id) else { continue };
            if hub.set_nick(id, None).is_ok() {
                hub.tell(
                    id,
                    &format!("someone took the nickname {nick} while the room was split"),
                );
            }
        }
    }

    /// Sends what is still queued, then leaves the room.
    async fn finish(&mut self, conn: &mut MultiplexedConnection) -> End {
        while let Ok(first) = self.parts.ops.try_recv() {
            let batch = self.batch(first);
            if let Err(err) = self.send(conn, batch).await {
                debug!("Redis lost while leaving: {err}");
                return End::Stopped;
            }
        }
        let number = self.number();
        let bye = Batch {
            number,
            ops: vec![Op::Bye],
        };
        if let Err(err) = self.send(conn, bye).await {
            debug!("Redis lost while leaving: {err}");
        }
        End::Stopped
    }

    /// Redis is lost: questions queued behind it get no answer now (the
    /// member is told the room is split); everything else waits, in order.
    fn keep_backlog(&mut self) {
        while let Ok(op) = self.parts.ops.try_recv() {
            if op.is_question() {
                op.abandon();
            } else {
                self.backlog.push_back(op);
            }
        }
    }

    fn abandon_all(&mut self) {
        self.keep_backlog();
        if let Some(batch) = self.inflight.take() {
            batch.ops.into_iter().for_each(Op::abandon);
        }
    }
}
