//! The reader: follows the room's stream from the last entry this node
//! delivered and hands the lines to the hub, telling the members when the
//! line numbers show that some are missing.

use std::sync::Arc;

use bytes::Bytes;
use redis::AsyncCommands;
use redis::aio::MultiplexedConnection;
use redis::streams::{StreamId, StreamReadOptions, StreamReadReply};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tracing::debug;

use super::super::hub::{Hub, LINE_OVERHEAD, notice};
use super::link::{Backoff, Link, connection_config};
use super::ops::Keys;

/// How long one XREAD waits for lines before asking again.
const BLOCK_MS: usize = 1000;
/// Most entries one XREAD takes.
const READ_COUNT: usize = 1024;

/// What the members hear when Redis lost the room's history.
pub(super) const HISTORY_LOST: &str =
    "an unknown number of lines may be missing here: Redis lost the room's history";

pub(super) struct Reader {
    pub(super) client: redis::Client,
    pub(super) keys: Arc<Keys>,
    pub(super) hub: Hub,
    pub(super) link: Arc<Link>,
    /// Tells the publisher whether this reader follows the stream.
    pub(super) reading: watch::Sender<bool>,
    pub(super) stop: CancellationToken,
}

/// The last entry delivered, and which history of the room it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Position {
    id: String,
    number: u64,
    epoch: String,
}

impl Reader {
    pub(super) async fn run(self) {
        let mut at = None;
        let mut backoff = Backoff::default();
        loop {
            let config = connection_config();
            let attempt = self
                .client
                .get_multiplexed_async_connection_with_config(&config);
            let result = tokio::select! {
                () = self.stop.cancelled() => return,
                conn = attempt => match conn {
                    Ok(mut conn) => {
                        backoff.reset();
                        self.follow(&mut conn, &mut at).await
                    }
                    Err(err) => Err(err),
                },
            };
            let Err(err) = result else { return };
            self.reading.send_replace(false);
            self.link.reader_lost(&self.hub, &err);
            tokio::select! {
                () = self.stop.cancelled() => return,
                () = tokio::time::sleep(backoff.next()) => {}
            }
        }
    }

    /// Reads the stream until stopped (`Ok`) or Redis fails.
    async fn follow(
        &self,
        conn: &mut MultiplexedConnection,
        at: &mut Option<Position>,
    ) -> redis::RedisResult<()> {
        let epoch = self.epoch(conn).await?;
        match at {
            None => *at = Some(self.tail(conn, epoch).await?),
            Some(position) if position.epoch != epoch => {
                self.hub.announce_here(HISTORY_LOST);
                *position = Position {
                    id: "0-0".to_string(),
                    number: 0,
                    epoch,
                };
            }
            Some(_) => {}
        }
        let Some(position) = at.as_mut() else {
            return Ok(());
        };
        self.reading.send_replace(true);
        let options = StreamReadOptions::default()
            .block(BLOCK_MS)
            .count(READ_COUNT);
        loop {
            let (keys, ids) = ([&self.keys.stream], [&position.id]);
            let read = conn.xread_options(&keys, &ids, &options);
            let reply: Option<StreamReadReply> = tokio::select! {
                () = self.stop.cancelled() => return Ok(()),
                reply = read => reply?,
            };
            let entries = reply
                .into_iter()
                .flat_map(|reply| reply.keys)
                .flat_map(|key| key.ids);
            self.deliver(take(position, entries)).await;
        }
    }

    /// Hands lines to the hub a slice at a time, letting the writers run in
    /// between: a thousand lines at once would put every member, fast or
    /// not, over its queue limit before any writer could take a line.
    async fn deliver(&self, lines: Vec<Bytes>) {
        let slice = (self.hub.max_queue() / 8).max(1);
        let (mut chunk, mut bytes) = (Vec::new(), 0);
        for line in lines {
            bytes += line.len() + LINE_OVERHEAD;
            chunk.push(line);
            if bytes >= slice {
                self.hub.deliver(std::mem::take(&mut chunk));
                bytes = 0;
                tokio::task::yield_now().await;
            }
        }
        if !chunk.is_empty() {
            self.hub.deliver(chunk);
        }
    }

    /// The room's history marker, made now if Redis has none (a new Redis,
    /// or one that lost its data).
    async fn epoch(&self, conn: &mut MultiplexedConnection) -> redis::RedisResult<String> {
        let fresh = format!("{:016x}", rand::random::<u64>());
        let old: Option<String> = redis::cmd("SET")
            .arg(&self.keys.epoch)
            .arg(&fresh)
            .arg("NX")
            .arg("GET")
            .query_async(conn)
            .await?;
        Ok(old.unwrap_or(fresh))
    }

    /// Where a node starting now begins: after the stream's last entry.
    async fn tail(
        &self,
        conn: &mut MultiplexedConnection,
        epoch: String,
    ) -> redis::RedisResult<Position> {
        let last: redis::streams::StreamRangeReply =
            conn.xrevrange_count(&self.keys.stream, "+", "-", 1).await?;
        let position = match last.ids.into_iter().next() {
            Some(entry) => Position {
                number: number(&entry).unwrap_or(0),
                id: entry.id,
                epoch,
            },
            None => Position {
                id: "0-0".to_string(),
                number: 0,
                epoch,
            },
        };
        debug!("following the room's stream from {}", position.id);
        Ok(position)
    }
}

/// The lines of `entries` in order, with a notice wherever the numbers
/// show lines missing; moves `position` past them.
fn take(position: &mut Position, entries: impl Iterator<Item = StreamId>) -> Vec<Bytes> {
    let mut lines = Vec::new();
    for mut entry in entries {
        let Some(n) = number(&entry) else {
            debug!("stream entry {} without a line number skipped", entry.id);
            position.id = entry.id;
            continue;
        };
        if n <= position.number && position.number > 0 {
            lines.push(notice(HISTORY_LOST));
        } else if n > position.number + 1 && position.number > 0 {
            let missing = n - position.number - 1;
            let what = if missing == 1 { "line" } else { "lines" };
            lines.push(notice(&format!(
                "{missing} {what} of the room may be missing here: Redis no longer had them"
            )));
        }
        position.number = n;
        // Taken, not copied: the reply's buffer becomes the line.
        if let Some(line) = entry.map.remove("l").and_then(bytes_of) {
            lines.push(line);
        }
        position.id = entry.id;
    }
    lines
}

fn number(entry: &StreamId) -> Option<u64> {
    let value = entry.map.get("n")?;
    redis::from_redis_value_ref::<u64>(value).ok()
}

fn bytes_of(value: redis::Value) -> Option<Bytes> {
    redis::from_redis_value::<Vec<u8>>(value)
        .ok()
        .map(Bytes::from)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn entry(id: &str, n: u64, line: &str) -> StreamId {
        let map = HashMap::from([
            (
                "n".to_string(),
                redis::Value::BulkString(n.to_string().into_bytes()),
            ),
            (
                "l".to_string(),
                redis::Value::BulkString(line.as_bytes().to_vec()),
            ),
        ]);
        StreamId {
            id: id.to_string(),
            map,
            ..StreamId::default()
        }
    }

    fn at(id: &str, number: u64) -> Position {
        Position {
            id: id.to_string(),
            number,
            epoch: "e".to_string(),
        }
    }

    fn text(lines: Vec<Bytes>) -> String {
        lines
            .iter()
            .map(|line| String::from_utf8_lossy(line))
            .collect()
    }

    #[test]
    fn consecutive_numbers_are_delivered_as_they_are() {
        let mut position = at("1-0", 1);
        let got = take(
            &mut position,
            [entry("2-0", 2, "b\n"), entry("3-0", 3, "c\n")].into_iter(),
        );
        assert_eq!(text(got), "b\nc\n");
        assert_eq!(position, at("3-0", 3));
    }

    #[test]
    fn a_jump_in_the_numbers_is_told_with_its_size() {
        let mut position = at("1-0", 1);
        let got = take(&mut position, [entry("9-0", 5, "e\n")].into_iter());
        assert_eq!(
            text(got),
            "* 3 lines of the room may be missing here: Redis no longer had them\ne\n"
        );
        let got = take(&mut position, [entry("9-1", 7, "g\n")].into_iter());
        assert!(text(got).starts_with("* 1 line of the room may"));
    }

    #[test]
    fn numbers_going_back_mean_a_history_lost() {
        let mut position = at("5-0", 40);
        let got = take(&mut position, [entry("6-0", 1, "a\n")].into_iter());
        assert_eq!(text(got), format!("* {HISTORY_LOST}\na\n"));
        assert_eq!(position, at("6-0", 1));
    }

    proptest::proptest! {
        /// Whatever numbers Redis hands back, every entry's line is
        /// delivered once, and the gaps told add up to the numbers skipped.
        #[test]
        fn every_line_once_and_every_gap_counted(steps in proptest::collection::vec(1u64..5, 1..60)) {
            let mut position = at("0-1", 1);
            let mut n = 1;
            let entries: Vec<StreamId> = steps
                .iter()
                .enumerate()
                .map(|(i, step)| {
                    n += step;
                    entry(&format!("{i}-9"), n, &format!("line {i}\n"))
                })
                .collect();
            let got = text(take(&mut position, entries.into_iter()));
            let lines = got.lines().filter(|line| line.starts_with("line ")).count();
            proptest::prop_assert_eq!(lines, steps.len());
            let told: u64 = got
                .lines()
                .filter_map(|line| line.strip_prefix("* ")?.split(' ').next()?.parse::<u64>().ok())
                .sum();
            proptest::prop_assert_eq!(told, n - 1 - steps.len() as u64);
            proptest::prop_assert_eq!(position.number, n);
        }
    }

    #[test]
    fn a_node_starting_on_an_empty_stream_reports_no_gap() {
        let mut position = at("0-0", 0);
        let got = take(&mut position, [entry("6-0", 1, "a\n")].into_iter());
        assert_eq!(text(got), "a\n");
    }
}
