use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt, duplex};
use tokio::time::{Instant, timeout};

use super::*;

const LIMIT: Duration = Duration::from_secs(10);

// The texts' half-close: the client sends, shuts its write side down, and
// the reply written after that EOF still reaches it through the relay.
#[tokio::test]
async fn the_reply_after_a_half_close_arrives() {
    let (client, a) = duplex(1024);
    let (b, server) = duplex(1024);
    let relaying = tokio::spawn(async move {
        let (ar, aw) = tokio::io::split(a);
        let (br, bw) = tokio::io::split(b);
        plain((ar, aw), (br, bw)).await
    });
    let (mut client_read, mut client_write) = tokio::io::split(client);
    let (mut server_read, mut server_write) = tokio::io::split(server);
    client_write.write_all(b"question").await.expect("write");
    client_write.shutdown().await.expect("half-close");
    let mut asked = Vec::new();
    timeout(LIMIT, server_read.read_to_end(&mut asked))
        .await
        .expect("EOF reaches the server")
        .expect("read");
    assert_eq!(asked, b"question");
    server_write.write_all(b"answer").await.expect("reply");
    server_write.shutdown().await.expect("close");
    let mut answer = Vec::new();
    timeout(LIMIT, client_read.read_to_end(&mut answer))
        .await
        .expect("the reply arrives")
        .expect("read");
    assert_eq!(answer, b"answer");
    let outcome = relaying.await.expect("task").expect("relay");
    assert_eq!(
        outcome,
        Outcome {
            upstream: 8,
            downstream: 6,
            end: End::Eof
        }
    );
}

/// Holds every chunk for a while before writing it.
struct Slow(Duration);

impl Stage for Slow {
    fn chunk(&mut self, data: Bytes, _arrived: Instant, steps: &mut Vec<Step>) {
        steps.push(Step::Until(Instant::now() + self.0));
        steps.push(Step::Write(data));
    }
}

// A stage that stalls must stop its reader once the queue is full: the
// sender then finds its own buffer full, instead of the relay taking it all.
#[tokio::test]
async fn a_slow_stage_pushes_back_on_the_sender() {
    let (mut client, a) = duplex(4096);
    let (b, _server) = duplex(4096);
    let options = Options {
        read_size: 1024,
        queue: 2,
    };
    tokio::spawn(async move {
        let a = tokio::io::split(a);
        let b = tokio::io::split(b);
        relay(a, b, Slow(Duration::from_secs(3600)), Pass, &options).await
    });
    let mut sent = 0usize;
    let block = [7u8; 1024];
    // Our duplex holds 4 KiB, the relay at most 1 chunk in the stage, 2
    // queued and 1 being read: anything beyond ~8 KiB cannot be taken.
    while timeout(Duration::from_millis(200), client.write_all(&block))
        .await
        .is_ok()
    {
        sent += block.len();
        assert!(
            sent <= 16 * 1024,
            "the relay keeps taking input: {sent} bytes"
        );
    }
    assert!(sent >= 4 * 1024, "only {sent} bytes went in");
}

/// Closes the connection on the first chunk.
struct CloseAtOnce;

impl Stage for CloseAtOnce {
    fn chunk(&mut self, _data: Bytes, _arrived: Instant, steps: &mut Vec<Step>) {
        steps.push(Step::Close);
    }
}

#[tokio::test]
async fn a_stage_can_close_the_connection() {
    let (mut client, a) = duplex(1024);
    let (b, _server) = duplex(1024);
    let relaying = tokio::spawn(async move {
        let a = tokio::io::split(a);
        let b = tokio::io::split(b);
        relay(a, b, CloseAtOnce, Pass, &Options::default()).await
    });
    client.write_all(b"x").await.expect("write");
    let outcome = timeout(LIMIT, relaying)
        .await
        .expect("ends")
        .expect("task")
        .expect("relay");
    assert_eq!(outcome.end, End::Closed);
    assert_eq!(outcome.upstream, 0);
}
