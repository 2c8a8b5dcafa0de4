//! One chat room over several `socklab chat server --redis` nodes, on a
//! redis-server of the test's own: one order for every client on every
//! node, presence that survives a `kill -9`, and a Redis outage told to the
//! members and recovered from without repeats (SPEC §8a).

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::redis::{Persistence, Redis};
use common::{Program, Server, TIMEOUT, require, socklab};

const LOCAL_ONLY: &str =
    "* the room is local-only: Redis is unreachable (what is said now stays on this node)";
const WHOLE_AGAIN: &str = "* the room is whole again";
const HISTORY_LOST: &str =
    "* an unknown number of lines may be missing here: Redis lost the room's history";

/// A chat node of `room` on `redis`.
fn node(redis: &Redis, room: &str, id: &str, extra: &[&str]) -> Server {
    let url = redis.url();
    let mut args = vec![
        "chat",
        "server",
        "127.0.0.1",
        "0",
        "--redis",
        &url,
        "--room",
        room,
        "--node-id",
        id,
    ];
    args.extend_from_slice(extra);
    Server::start(&args)
}

/// A raw line client: what it receives is collected by a thread.
struct Peer {
    stream: TcpStream,
    got: Arc<Mutex<String>>,
    label: String,
}

impl Peer {
    /// Connects and waits until it is in the room: its own join comes first.
    fn connect(addr: SocketAddr, label: &str) -> Peer {
        let peer = Peer::connect_only(addr, label);
        peer.wait_for(&format!("* {} joined\n", name_of(&peer)));
        peer
    }

    fn connect_only(addr: SocketAddr, label: &str) -> Peer {
        let stream = TcpStream::connect(addr).expect("connect to a node");
        let mut reading = stream.try_clone().expect("clone stream");
        let got = Arc::new(Mutex::new(String::new()));
        let sink = got.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 16 * 1024];
            while let Ok(n @ 1..) = reading.read(&mut buf) {
                sink.lock()
                    .expect("transcript lock")
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        Peer {
            stream,
            got,
            label: label.to_string(),
        }
    }

    fn send(&mut self, line: &str) {
        self.stream
            .write_all(format!("{line}\n").as_bytes())
            .expect("send a line");
    }

    fn transcript(&self) -> String {
        self.got.lock().expect("transcript lock").clone()
    }

    fn wait_for_n(&self, needle: &str, times: usize) {
        wait_until(&self.label, || self.transcript(), needle, times);
    }

    fn wait_for(&self, needle: &str) {
        self.wait_for_n(needle, 1);
    }
}

fn wait_until(label: &str, text: impl Fn() -> String, needle: &str, times: usize) {
    let until = Instant::now() + TIMEOUT;
    while text().matches(needle).count() < times {
        if Instant::now() > until {
            let text = text();
            let tail: String = text
                .chars()
                .rev()
                .take(1500)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            panic!(
                "{label}: {needle:?} {} times, not {times}, in ...{tail:?}",
                text.matches(needle).count()
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The test lines (`tag-sender-index`) of a transcript, in order.
fn said(transcript: &str, tag: &str) -> Vec<String> {
    transcript
        .lines()
        .filter(|line| line.starts_with(tag))
        .map(str::to_string)
        .collect()
}

fn name_of(peer: &Peer) -> String {
    let local = peer.stream.local_addr().expect("local address");
    format!("{} {}", local.ip(), local.port())
}

#[test]
fn three_nodes_and_three_kinds_of_client_see_one_order() {
    require("nc");
    require("python3");
    let redis = Redis::start(Persistence::None);
    let nodes: Vec<Server> = (1..=3)
        .map(|n| node(&redis, "order", &format!("n{n}"), &[]))
        .collect();
    // Ours, nc and the texts' python ChatClient, one on each node, and a
    // raw sender on every node.
    let ours = Program::spawn(
        "socklab chat client",
        socklab().args(["chat", "client", "127.0.0.1", &nodes[0].port()]),
    );
    let nc = Program::spawn(
        "nc",
        std::process::Command::new("nc").args(["127.0.0.1", &nodes[1].port()]),
    );
    let python = Program::spawn(
        "python ChatClient",
        std::process::Command::new("python3").args([
            concat!(env!("CARGO_MANIFEST_DIR"), "/tests/chat/chat_client.py"),
            "127.0.0.1",
            &nodes[2].port(),
        ]),
    );
    // Each is in the room once it heard its own join.
    for program in [&ours, &nc, &python] {
        program.wait_for(" joined\n");
    }
    let mut senders: Vec<Peer> = nodes
        .iter()
        .enumerate()
        .map(|(i, node)| Peer::connect(node.addr, &format!("sender {i}")))
        .collect();
    // Everyone is in once the last sender's join reached every client.
    let last = format!("* {} joined", name_of(&senders[2]));
    for sender in &senders {
        sender.wait_for(&last);
    }
    for program in [&nc, &python, &ours] {
        program.wait_for(&last);
    }
    const LINES: usize = 150;
    std::thread::scope(|scope| {
        for (s, sender) in senders.iter_mut().enumerate() {
            scope.spawn(move || {
                for i in 0..LINES {
                    sender.send(&format!("order-{s}-{i}"));
                }
            });
        }
    });
    let total = 3 * LINES;
    let transcripts: Vec<(String, String)> = [&ours, &nc, &python]
        .into_iter()
        .map(|program| {
            program.wait_for_n("order-", total);
            ("client".to_string(), program.output())
        })
        .chain(senders.iter().map(|sender| {
            sender.wait_for_n("\norder-", total);
            (sender.label.clone(), sender.transcript())
        }))
        .collect();
    let reference = said(&transcripts[0].1, "order-");
    assert_eq!(reference.len(), total, "each line once: {reference:?}");
    let mut unique = reference.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), total, "no line twice");
    for (label, transcript) in &transcripts[1..] {
        assert_eq!(
            said(transcript, "order-"),
            reference,
            "{label} saw another order"
        );
    }
    // Each sender's own lines keep their order inside the one order.
    for s in 0..3 {
        let mine: Vec<&String> = reference
            .iter()
            .filter(|line| line.starts_with(&format!("order-{s}-")))
            .collect();
        let expected: Vec<String> = (0..LINES).map(|i| format!("order-{s}-{i}")).collect();
        assert_eq!(mine, expected.iter().collect::<Vec<_>>());
    }
}

#[test]
fn a_killed_node_s_members_are_announced_as_left_within_the_ttl() {
    let redis = Redis::start(Persistence::None);
    let ttl = ["--presence-ttl", "2s"];
    let a = node(&redis, "presence", "a", &ttl);
    let mut b = node(&redis, "presence", "b", &ttl);
    let c = node(&redis, "presence", "c", &ttl);
    let mut on_a = Peer::connect(a.addr, "on a");
    let mut on_b = Peer::connect(b.addr, "on b");
    let on_c = Peer::connect(c.addr, "on c");
    on_b.send("/nick bob");
    on_a.send("/nick alice");
    for peer in [&on_a, &on_b, &on_c] {
        peer.wait_for("is now bob");
        peer.wait_for("is now alice");
    }
    // Nicknames are unique across nodes.
    on_b.send("/nick alice");
    on_b.wait_for("* nickname alice is taken");
    on_a.send("/who");
    let everyone = format!("* here (3): {}, alice, bob", name_of(&on_c));
    on_a.wait_for(&everyone);

    let killed = Instant::now();
    b.child.kill().expect("kill -9 node b");
    let _ = b.child.wait();
    on_a.wait_for("* bob left");
    on_c.wait_for("* bob left");
    let took = killed.elapsed();
    assert!(
        took < Duration::from_secs(2) + Duration::from_millis(1500),
        "announced after {took:?}, TTL 2s"
    );
    on_a.send("/who");
    on_a.wait_for(&format!("* here (2): {}, alice", name_of(&on_c)));
    on_a.send("still here");
    on_c.wait_for("\nstill here\n");
    // Freed with its holder: the name can be taken again.
    let mut on_c = on_c;
    on_c.send("/nick bob");
    on_a.wait_for(&format!("* {} is now bob", name_of(&on_c)));
}

/// Redis stops for 3 s mid-chat and comes back on the same port.
fn outage(persistence: Persistence) -> (Peer, Peer) {
    let mut redis = Redis::start(persistence);
    let a = node(&redis, "outage", "a", &[]);
    let b = node(&redis, "outage", "b", &[]);
    let mut on_a = Peer::connect(a.addr, "on a");
    let mut on_b = Peer::connect(b.addr, "on b");
    let both = format!("* {} joined", name_of(&on_b));
    on_a.wait_for(&both);
    on_b.wait_for(&both);
    on_a.send("out-before");
    on_b.wait_for("\nout-before\n");

    redis.stop();
    on_a.wait_for(LOCAL_ONLY);
    on_b.wait_for(LOCAL_ONLY);
    on_a.send("out-during-a");
    on_b.send("out-during-b");
    on_a.wait_for("\nout-during-a\n");
    on_b.wait_for("\nout-during-b\n");
    std::thread::sleep(Duration::from_secs(3));
    redis.restart();
    on_a.wait_for(WHOLE_AGAIN);
    on_b.wait_for(WHOLE_AGAIN);
    on_a.send("out-after-a");
    on_b.send("out-after-b");
    for peer in [&on_a, &on_b] {
        peer.wait_for("\nout-after-a\n");
        peer.wait_for("\nout-after-b\n");
    }
    // What was said during the outage stayed on its node, and nothing came
    // twice.
    assert!(!on_a.transcript().contains("out-during-b"));
    assert!(!on_b.transcript().contains("out-during-a"));
    for peer in [&on_a, &on_b] {
        let lines = said(&peer.transcript(), "out-");
        let mut unique = lines.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(
            lines.len(),
            unique.len(),
            "{}: a line twice: {lines:?}",
            peer.label
        );
        assert_eq!(
            lines.iter().filter(|l| l.starts_with("out-after")).count(),
            2,
            "{}: {lines:?}",
            peer.label
        );
        assert_eq!(peer.transcript().matches(LOCAL_ONLY).count(), 1);
        assert_eq!(peer.transcript().matches(WHOLE_AGAIN).count(), 1);
    }
    (on_a, on_b)
}

#[test]
fn with_aof_a_redis_restart_loses_nothing_and_repeats_nothing() {
    let (on_a, on_b) = outage(Persistence::Aof);
    for peer in [&on_a, &on_b] {
        assert!(
            !peer.transcript().contains("may be missing"),
            "{}: {}",
            peer.label,
            peer.transcript()
        );
    }
}

#[test]
fn without_persistence_a_redis_restart_is_reported_as_a_gap() {
    let (on_a, on_b) = outage(Persistence::None);
    for peer in [&on_a, &on_b] {
        assert_eq!(
            peer.transcript().matches(HISTORY_LOST).count(),
            1,
            "{}: {}",
            peer.label,
            peer.transcript()
        );
    }
}

#[test]
fn a_client_that_stops_reading_is_dropped_on_its_node_only() {
    let redis = Redis::start(Persistence::None);
    let small = ["--max-queue", "262144"];
    let a = node(&redis, "slow", "a", &small);
    let b = node(&redis, "slow", "b", &small);
    // Connected and never read from, with a small receive buffer.
    let stalled = {
        let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)
            .expect("socket");
        socket.set_recv_buffer_size(4096).expect("SO_RCVBUF");
        socket.connect(&a.addr.into()).expect("connect");
        TcpStream::from(socket)
    };
    let stalled_name = {
        let local = stalled.local_addr().expect("local address");
        format!("{} {}", local.ip(), local.port())
    };
    let mut sender = Peer::connect(b.addr, "sender on b");
    let reader_a = Peer::connect(a.addr, "reader on a");
    let reader_b = Peer::connect(b.addr, "reader on b");
    let last = format!("* {} joined", name_of(&reader_b));
    reader_a.wait_for(&last);
    sender.wait_for(&last);
    // In steps the readers keep up with, so only the one that does not read
    // falls behind.
    let filler = "x".repeat(200);
    const LINES: usize = 2000;
    for step in 0..LINES / 100 {
        for i in step * 100..(step + 1) * 100 {
            sender.send(&format!("slow-{i} {filler}"));
        }
        reader_a.wait_for_n("\nslow-", (step + 1) * 100);
    }
    let dropped =
        format!("* {stalled_name} was disconnected (too slow: more than 262144 bytes queued)");
    for peer in [&reader_a, &reader_b] {
        peer.wait_for_n("\nslow-", LINES);
        peer.wait_for(&dropped);
        assert_eq!(
            said(&peer.transcript(), "slow-").len(),
            LINES,
            "{}",
            peer.label
        );
    }
    drop(stalled);
}

#[test]
fn a_node_that_falls_behind_the_history_is_told_how_many_lines_it_missed() {
    let redis = Redis::start(Persistence::None);
    let short = ["--history", "100"];
    let a = node(&redis, "history", "a", &short);
    let b = node(&redis, "history", "b", &short);
    let mut on_a = Peer::connect(a.addr, "on a");
    let on_b = Peer::connect(b.addr, "on b");
    on_a.wait_for(&format!("* {} joined", name_of(&on_b)));
    common::signal(&b.child, libc::SIGSTOP);
    // In steps node a keeps up with: only the stopped node falls behind.
    const LINES: usize = 600;
    for step in 0..LINES / 50 {
        for i in step * 50..(step + 1) * 50 {
            on_a.send(&format!("gap-{i}"));
        }
        on_a.wait_for_n("\ngap-", (step + 1) * 50);
    }
    assert!(!on_a.transcript().contains("may be missing"));
    common::signal(&b.child, libc::SIGCONT);
    on_b.wait_for(&format!("\ngap-{}\n", LINES - 1));
    let transcript = on_b.transcript();
    let missing: usize = transcript
        .lines()
        .filter_map(|line| {
            let rest = line.strip_prefix("* ")?;
            let (count, tail) = rest.split_once(' ')?;
            tail.contains("of the room may be missing here: Redis no longer had them")
                .then(|| count.parse::<usize>().ok())?
        })
        .sum();
    let got = said(&transcript, "gap-").len();
    assert!(missing > 0, "no gap told: {transcript}");
    assert_eq!(
        got + missing,
        LINES,
        "{got} lines and {missing} told missing"
    );
}

#[test]
fn a_node_stopped_gracefully_says_goodbye_for_its_members() {
    let redis = Redis::start(Persistence::None);
    let a = node(&redis, "goodbye", "a", &[]);
    let mut b = node(&redis, "goodbye", "b", &[]);
    let on_a = Peer::connect(a.addr, "on a");
    let mut on_b = Peer::connect(b.addr, "on b");
    on_b.send("/nick leaving");
    on_a.wait_for("is now leaving");
    assert!(b.terminate(TIMEOUT).success());
    on_a.wait_for("* leaving left\n");
    // Its nickname is free again at once, not after the TTL.
    let mut on_a = on_a;
    on_a.send("/nick leaving");
    on_a.wait_for(&format!("* {} is now leaving", name_of(&on_a)));
}

/// `room.lua` run by hand, as a node whose reply was lost would run it again.
fn room_script(redis: &Redis, incarnation: &str, batch: &str, ops: &[&str]) -> String {
    let script = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/src/chat/shared/room.lua"
    ))
    .expect("room.lua");
    let keys = [
        "lines", "count", "nodes", "nicks", "applied", "results", "reaped",
    ]
    .map(|key| format!("socklab:chat:{{t}}:{key}"));
    let port = redis.port.to_string();
    let mut cmd = std::process::Command::new("redis-cli");
    cmd.args(["-p", &port, "EVAL", &script, "7"])
        .args(&keys)
        .args([
            "socklab:chat:{t}:",
            "n1",
            incarnation,
            batch,
            "1000",
            "10000",
        ])
        .args(ops);
    let out = common::run(&mut cmd, TIMEOUT);
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// How many entries the hand-run script's stream holds.
fn lines_in_stream(redis: &Redis) -> usize {
    let port = redis.port.to_string();
    let xlen = common::run(
        std::process::Command::new("redis-cli").args([
            "-p",
            &port,
            "XLEN",
            "socklab:chat:{t}:lines",
        ]),
        TIMEOUT,
    );
    let count = String::from_utf8_lossy(&xlen.stdout).trim().to_string();
    count
        .parse()
        .unwrap_or_else(|_| panic!("XLEN said {count:?}"))
}

#[test]
fn a_batch_sent_twice_is_applied_once_with_the_same_answers() {
    require("redis-cli");
    let redis = Redis::start(Persistence::None);
    let first = room_script(
        &redis,
        "run1",
        "1",
        &["L", "hello\n", "N", "0", "127.0.0.1 1", "ann", "x"],
    );
    let again = room_script(
        &redis,
        "run1",
        "1",
        &["L", "hello\n", "N", "0", "127.0.0.1 1", "ann", "x"],
    );
    assert_eq!(first, again);
    assert!(first.contains('1'), "the rename was granted: {first:?}");
    assert_eq!(lines_in_stream(&redis), 2);
    // The same number from a new run of the node is a new batch.
    room_script(&redis, "run2", "1", &["L", "again\n"]);
    assert_eq!(lines_in_stream(&redis), 3);
}
