//! chat: one ordered room for three clients, real peers (nc, ncat, the texts'
//! python ChatClient, our client), a reader that never reads among 200
//! chatters, hostile input, and 5,000 clients at once.

mod common;

use std::net::SocketAddr;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{Program, Server, TIMEOUT, require, socklab};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::task::JoinSet;

/// A raw line client speaking to the server directly.
struct Peer {
    reader: BufReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
    /// The server's name for us until a /nick: `IP PORT`.
    name: String,
}

impl Peer {
    async fn connect(addr: SocketAddr) -> Peer {
        let stream = tokio::time::timeout(TIMEOUT, TcpStream::connect(addr))
            .await
            .expect("connect in time")
            .expect("connect");
        Peer::from_stream(stream)
    }

    fn from_stream(stream: TcpStream) -> Peer {
        let local = stream.local_addr().expect("local address");
        let (reader, writer) = stream.into_split();
        Peer {
            reader: BufReader::new(reader),
            writer,
            name: format!("{} {}", local.ip(), local.port()),
        }
    }

    /// Connects and waits for our own join notice, so joins happen in order.
    async fn join(addr: SocketAddr) -> Peer {
        let mut peer = Peer::connect(addr).await;
        let joined = format!("* {} joined", peer.name);
        peer.expect(&joined).await;
        peer
    }

    async fn send(&mut self, line: &str) {
        self.send_raw(format!("{line}\n").as_bytes()).await;
    }

    async fn send_raw(&mut self, bytes: &[u8]) {
        tokio::time::timeout(TIMEOUT, self.writer.write_all(bytes))
            .await
            .expect("send in time")
            .expect("send");
    }

    /// The next line without its newline; None at EOF.
    async fn line(&mut self) -> Option<String> {
        let mut buf = Vec::new();
        let n = tokio::time::timeout(TIMEOUT, self.reader.read_until(b'\n', &mut buf))
            .await
            .unwrap_or_else(|_| panic!("{}: no line within {TIMEOUT:?}", self.name))
            .expect("read");
        if n == 0 {
            return None;
        }
        assert_eq!(buf.pop(), Some(b'\n'), "{}: unterminated line", self.name);
        Some(String::from_utf8(buf).expect("the server sends UTF-8"))
    }

    async fn expect(&mut self, want: &str) {
        assert_eq!(self.line().await.as_deref(), Some(want), "at {}", self.name);
    }

    /// The next relayed message as (sender, text), its timestamp checked.
    async fn message(&mut self) -> (String, String) {
        let header = self.line().await.expect("a message header");
        let sender = check_header(&header);
        let text = self.line().await.expect("a message text");
        (sender, text)
    }

    async fn expect_eof(&mut self) {
        assert_eq!(
            self.line().await,
            None,
            "{}: expected the server to close",
            self.name
        );
    }
}

/// Checks `YYYY/mm/dd HH:MM:SS NAME` (local time, about now) and returns NAME.
fn check_header(header: &str) -> String {
    assert!(header.len() > 20, "not a message header: {header:?}");
    let (stamp, name) = header.split_at(19);
    let when = chrono::NaiveDateTime::parse_from_str(stamp, "%Y/%m/%d %H:%M:%S")
        .unwrap_or_else(|err| panic!("bad timestamp in {header:?}: {err}"));
    let skew = chrono::Local::now().naive_local() - when;
    assert!(
        skew.num_seconds().abs() < 120,
        "timestamp {stamp} is not local now"
    );
    name.strip_prefix(' ')
        .expect("a space after the time")
        .to_string()
}

fn chat_server(extra: &[&str]) -> Server {
    let mut args = vec!["chat", "server", "127.0.0.1", "0"];
    args.extend_from_slice(extra);
    Server::start(&args)
}

// Must show 1: one order for everyone, notices, /nick, /who, quit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_clients_share_one_ordered_room() {
    let server = chat_server(&[]);
    let mut a = Peer::join(server.addr).await;
    let mut b = Peer::join(server.addr).await;
    a.expect(&format!("* {} joined", b.name)).await;
    let c = Peer::join(server.addr).await;
    a.expect(&format!("* {} joined", c.name)).await;
    b.expect(&format!("* {} joined", c.name)).await;

    // Everyone talks at once; everyone must see every line once, in one order.
    const LINES: usize = 50;
    let mut talk = JoinSet::new();
    for (tag, mut peer) in [("a", a), ("b", b), ("c", c)] {
        talk.spawn(async move {
            for i in 0..LINES {
                peer.send(&format!("{tag} says {i}")).await;
            }
            let mut seen = Vec::new();
            for _ in 0..3 * LINES {
                seen.push(peer.message().await);
            }
            (tag, peer, seen)
        });
    }
    let mut results = talk.join_all().await;
    results.sort_by_key(|(tag, ..)| *tag);
    let orders: Vec<&Vec<(String, String)>> = results.iter().map(|(_, _, seen)| seen).collect();
    assert_eq!(orders[0], orders[1], "a and b saw different orders");
    assert_eq!(orders[0], orders[2], "a and c saw different orders");
    for (tag, peer, _) in &results {
        let from_peer: Vec<&str> = orders[0]
            .iter()
            .filter(|(sender, _)| *sender == peer.name)
            .map(|(_, text)| text.as_str())
            .collect();
        let sent: Vec<String> = (0..LINES).map(|i| format!("{tag} says {i}")).collect();
        assert_eq!(
            from_peer, sent,
            "{tag}'s lines missing, doubled or reordered"
        );
    }
    let mut peers = results.into_iter().map(|(_, peer, _)| peer);
    let (mut a, mut b, mut c) = (
        peers.next().expect("a"),
        peers.next().expect("b"),
        peers.next().expect("c"),
    );

    a.send("/nick alice").await;
    let renamed = format!("* {} is now alice", a.name);
    for peer in [&mut a, &mut b, &mut c] {
        peer.expect(&renamed).await;
    }
    b.send("/nick alice").await;
    b.expect("* nickname alice is taken").await;
    b.send("/nick two words").await;
    let refused = b.line().await.expect("a refusal");
    assert!(refused.starts_with("* invalid nickname"), "{refused:?}");
    c.send("/who").await;
    let mut names = ["alice".to_string(), b.name.clone(), c.name.clone()];
    names.sort();
    c.expect(&format!("* here (3): {}", names.join(", "))).await;

    // The refusals and the list went to the asker alone: everyone's next line
    // is alice's message.
    a.send("hello from alice").await;
    for peer in [&mut a, &mut b, &mut c] {
        assert_eq!(
            peer.message().await,
            ("alice".to_string(), "hello from alice".to_string())
        );
    }

    b.send("quit").await;
    b.expect_eof().await;
    let left = format!("* {} left", b.name);
    a.expect(&left).await;
    c.expect(&left).await;

    // A half-close leaves too, and the leaver still gets a clean close.
    c.writer.shutdown().await.expect("half-close");
    c.expect_eof().await;
    a.expect(&format!("* {} left", c.name)).await;
}

// Must show 2: nc, ncat (CRLF lines), the texts' ChatClient and ours in one room.
#[test]
fn real_peers_chat_with_our_client() {
    require("nc");
    require("ncat");
    require("python3");
    let server = chat_server(&[]);
    let port = server.port();
    let mut nc = Program::spawn("nc", Command::new("nc").args(["127.0.0.1", &port]));
    nc.wait_for(" joined");
    let mut ours = Program::spawn(
        "socklab",
        socklab().args(["chat", "client", "127.0.0.1", &port, "--nick", "rusty"]),
    );
    ours.wait_for("is now rusty");
    let mut ncat = Program::spawn(
        "ncat",
        Command::new("ncat").args(["-C", "127.0.0.1", &port]),
    );
    ncat.wait_for(" joined");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/chat/chat_client.py");
    let mut python = Program::spawn(
        "python",
        Command::new("python3").args([script, "127.0.0.1", &port]),
    );
    for peer in [&nc, &ours, &ncat, &python] {
        peer.wait_for("\nI'm ready.\n");
    }

    nc.send("/nick netcat");
    ncat.send("/nick ncat");
    for peer in [&nc, &ours, &ncat, &python] {
        peer.wait_for("is now netcat");
        peer.wait_for("is now ncat");
    }
    nc.send("hello from nc");
    ours.send("hello from rust");
    ncat.send("hello from ncat");
    python.send("hello from python");
    for peer in [&nc, &ours, &ncat, &python] {
        peer.wait_for(" netcat\nhello from nc\n");
        peer.wait_for(" rusty\nhello from rust\n");
        // ncat -C ends lines with \r\n; the room gets them without the \r.
        peer.wait_for(" ncat\nhello from ncat\n");
        peer.wait_for("\nhello from python\n");
    }
    let seen = ours.output();
    let header = seen
        .lines()
        .take_while(|line| *line != "hello from rust")
        .last()
        .expect("a header before our line");
    assert_eq!(check_header(header), "rusty");

    // The texts' client leaves by closing its socket.
    python.send("quit");
    assert!(python.wait().success(), "python client failed");
    nc.wait_for_n(" left", 1);
    // Ours leaves at the end of its input, exiting 0.
    ours.close_stdin();
    assert!(ours.wait().success(), "our client did not leave cleanly");
    nc.wait_for("* rusty left\n");
    // ncat and nc leave at `quit`, and exit once their input ends too.
    ncat.send("quit");
    nc.wait_for("* ncat left\n");
    ncat.close_stdin();
    ncat.wait();
    nc.send("quit");
    nc.close_stdin();
    nc.wait();
    assert_eq!(nc.output().matches(" left\n").count(), 3, "{}", nc.output());
    assert!(!server.logs().iter().any(|l| l.contains("panicked")));
}

/// Resident memory of a process, in KiB, from /proc/PID/status.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS line")
}

/// Reads lines until one equals `want`, returning how many came before it.
async fn read_until_line(reader: &mut BufReader<OwnedReadHalf>, want: &str) -> usize {
    let mut buf = Vec::new();
    let mut before = 0;
    loop {
        buf.clear();
        let n = reader.read_until(b'\n', &mut buf).await.expect("read");
        assert!(n > 0, "closed before {want:?}");
        if buf.strip_suffix(b"\n") == Some(want.as_bytes()) {
            return before;
        }
        before += 1;
    }
}

/// Connects and drops with SO_LINGER 0: the server gets a reset, not a FIN.
async fn reset_after(addr: SocketAddr, bytes: &[u8]) -> String {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let local = stream.local_addr().expect("local address");
    stream.write_all(bytes).await.expect("send");
    socket2::SockRef::from(&stream)
        .set_linger(Some(Duration::ZERO))
        .expect("SO_LINGER 0");
    drop(stream);
    format!("{} {}", local.ip(), local.port())
}

// Must show 4: a line over the limit, invalid UTF-8, resets mid-line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_input_leaves_the_room_unharmed() {
    let mut server = chat_server(&["--max-line", "1024"]);
    let mut watcher = Peer::join(server.addr).await;
    let mut rude = Peer::join(server.addr).await;
    watcher.expect(&format!("* {} joined", rude.name)).await;

    // Too long: refused to the sender alone, and the next line goes through.
    let mut long = vec![b'x'; 5000];
    long.extend_from_slice(b"\nstill here\n");
    rude.send_raw(&long).await;
    rude.expect("* line longer than 1024 bytes refused").await;
    let still = (rude.name.clone(), "still here".to_string());
    assert_eq!(rude.message().await, still);
    assert_eq!(watcher.message().await, still);

    // Invalid UTF-8 is relayed with U+FFFD in place of the bad bytes.
    rude.send_raw(b"caf\xc3(\xff!\n").await;
    let lossy = (rude.name.clone(), "caf\u{FFFD}(\u{FFFD}!".to_string());
    assert_eq!(watcher.message().await, lossy);
    assert_eq!(rude.message().await, lossy);

    // Resets in the middle of a line, of a too-long line, and right away.
    let partials: [&[u8]; 3] = [b"half a li", &[b'y'; 3000], b""];
    for partial in partials {
        let name = reset_after(server.addr, partial).await;
        watcher.expect(&format!("* {name} joined")).await;
        watcher.expect(&format!("* {name} left")).await;
    }
    // And the one that sent a long line leaves by resetting mid-line too.
    let rude_name = rude.name.clone();
    rude.send_raw(b"never finish").await;
    socket2::SockRef::from(rude.writer.as_ref())
        .set_linger(Some(Duration::ZERO))
        .expect("SO_LINGER 0");
    drop(rude);
    watcher.expect(&format!("* {rude_name} left")).await;

    // The room is unaffected: a newcomer and the watcher talk as before.
    let mut newcomer = Peer::join(server.addr).await;
    watcher.expect(&format!("* {} joined", newcomer.name)).await;
    newcomer.send("all good").await;
    let good = (newcomer.name.clone(), "all good".to_string());
    assert_eq!(watcher.message().await, good);
    assert_eq!(newcomer.message().await, good);
    assert!(
        server.child.try_wait().expect("try_wait").is_none(),
        "server died"
    );
    assert!(!server.logs().iter().any(|l| l.contains("panicked")));
}

/// Samples a process's RSS every 20 ms until dropped; returns the peak.
struct RssSampler {
    stop: Arc<std::sync::atomic::AtomicBool>,
    thread: std::thread::JoinHandle<u64>,
}

impl RssSampler {
    fn start(pid: u32) -> RssSampler {
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut peak = 0;
            while !flag.load(std::sync::atomic::Ordering::Relaxed) {
                peak = peak.max(rss_kib(pid));
                std::thread::sleep(Duration::from_millis(20));
            }
            peak.max(rss_kib(pid))
        });
        RssSampler { stop, thread }
    }

    fn peak_kib(self) -> u64 {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.thread.join().expect("sampler")
    }
}

/// What one chatter saw of the room.
struct Heard {
    messages: usize,
    max_latency: Duration,
    saw_kick: bool,
}

/// Reads until `expected` chat messages have arrived, checking that each
/// sender's lines come once and in order and timing each from its send.
async fn hear(
    reader: &mut BufReader<OwnedReadHalf>,
    senders: usize,
    expected: usize,
    base: Instant,
    kicked: &str,
) -> Heard {
    let mut next_seq = vec![0usize; senders];
    let mut heard = Heard {
        messages: 0,
        max_latency: Duration::ZERO,
        saw_kick: false,
    };
    let mut line = Vec::new();
    while heard.messages < expected {
        line.clear();
        assert!(
            reader.read_until(b'\n', &mut line).await.expect("read") > 0,
            "room closed"
        );
        if line.starts_with(b"* ") {
            heard.saw_kick |= line.starts_with(kicked.as_bytes());
            continue;
        }
        line.clear();
        reader.read_until(b'\n', &mut line).await.expect("read");
        let text = std::str::from_utf8(&line).expect("UTF-8");
        let mut fields = text.split(' ').map(|f| f.parse::<u128>().expect("number"));
        let (sender, seq, micros) = (
            fields.next().expect("sender") as usize,
            fields.next().expect("seq") as usize,
            fields.next().expect("time"),
        );
        assert_eq!(
            seq, next_seq[sender],
            "sender {sender}: line lost, doubled or reordered"
        );
        next_seq[sender] += 1;
        let latency = base
            .elapsed()
            .saturating_sub(Duration::from_micros(micros as u64));
        heard.max_latency = heard.max_latency.max(latency);
        heard.messages += 1;
    }
    heard
}

// Must show 3: one client never reads while 200 others chat.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_reads_is_dropped_and_the_room_goes_on() {
    const CHATTERS: usize = 200;
    const LINES: usize = 25;
    const GAP: Duration = Duration::from_millis(120);
    // ~360 bytes a message: 200 x 25 of them are 1.8 MB for every reader,
    // past the default 1 MiB queue plus what the kernel buffers.
    const PAD: usize = 320;
    let server = chat_server(&[]);
    let pid = server.child.id();

    // One join at a time: the server runs each connection's join on
    // whichever worker picks it up, so connections made back to back may
    // join out of order. Once the last join is seen, everyone is in the room
    // and hears every chat line.
    let mut peers = vec![Peer::join(server.addr).await];

    // A small receive buffer keeps the kernel from soaking up megabytes for
    // the sleeper, so its own queue on the server is what fills.
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket.set_recv_buffer_size(4096).expect("SO_RCVBUF");
    let stream = tokio::time::timeout(TIMEOUT, socket.connect(server.addr))
        .await
        .expect("connect in time")
        .expect("connect");
    let sleeper = Peer::from_stream(stream);
    let kicked = format!("* {} was disconnected (too slow", sleeper.name);
    // The sleeper never reads, so the first chatter sees it join.
    peers[0].expect(&format!("* {} joined", sleeper.name)).await;

    for _ in 1..CHATTERS {
        peers.push(Peer::join(server.addr).await);
    }
    let baseline = rss_kib(pid);
    let sampler = RssSampler::start(pid);
    let base = Instant::now();
    let mut chat = JoinSet::new();
    for (id, peer) in peers.into_iter().enumerate() {
        let kicked = kicked.clone();
        chat.spawn(async move {
            let Peer {
                mut reader,
                mut writer,
                ..
            } = peer;
            let talk = async {
                for seq in 0..LINES {
                    let sent = base.elapsed().as_micros();
                    let line = format!("{id} {seq} {sent} {}\n", "x".repeat(PAD));
                    writer.write_all(line.as_bytes()).await.expect("send");
                    tokio::time::sleep(GAP).await;
                }
            };
            let listen = hear(&mut reader, CHATTERS, CHATTERS * LINES, base, &kicked);
            let ((), heard) = tokio::join!(talk, listen);
            (heard, reader, writer)
        });
    }
    let results = tokio::time::timeout(TIMEOUT, chat.join_all())
        .await
        .expect("the room stalled");
    let elapsed = base.elapsed();
    let peak = sampler.peak_kib();

    let worst = results
        .iter()
        .map(|(heard, ..)| heard.max_latency)
        .max()
        .expect("chatters");
    eprintln!(
        "{CHATTERS} chatters x {LINES} lines in {elapsed:?}; worst delivery latency {worst:?}; \
         server RSS {baseline} KiB after joining, peak {peak} KiB while chatting"
    );
    for (heard, ..) in &results {
        assert_eq!(heard.messages, CHATTERS * LINES);
    }
    // No stall: the chatters sent for 25 x 120 ms = 3 s; a line held up
    // behind the sleeper would wait until it was dropped, seconds.
    assert!(
        worst < Duration::from_millis(1500),
        "delivery stalled: {worst:?}"
    );
    server.wait_for_log("disconnecting 127.0.0.1:", TIMEOUT);
    let saw_kick = results.iter().filter(|(heard, ..)| heard.saw_kick).count();
    assert_eq!(
        saw_kick, CHATTERS,
        "the room was not told about the sleeper"
    );

    // The sleeper finds its connection closed once it finally reads.
    let Peer { mut reader, .. } = sleeper;
    let mut sink = Vec::new();
    let end = tokio::time::timeout(TIMEOUT, reader.read_to_end(&mut sink))
        .await
        .expect("the sleeper's connection was closed");
    assert!(
        sink.len() < 1024 * 1024,
        "the sleeper got {} bytes",
        sink.len()
    );
    drop(end);

    // Memory: the room's one log is capped at 1 MiB (the sleeper holds it
    // back until it is dropped; the chatters' cursors follow its end), and a
    // batch being written is at most 64 KiB, so 200 x 64 KiB = 12.5 MiB of
    // batches in the worst case on top of what the server held once
    // everyone had joined. 24 MiB leaves room for the
    // allocator keeping freed pages. Copying each line per recipient, or
    // keeping what was sent (1.8 MB a reader, 360 MB in all), would not fit.
    let limit = baseline + 24 * 1024;
    assert!(
        peak < limit,
        "server RSS peaked at {peak} KiB (limit {limit} KiB)"
    );
}

/// Raises this process's open-file limit to its hard limit; returns the new one.
fn raise_fd_limit() -> u64 {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit with a valid pointer to a local rlimit.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit), 0);
        limit.rlim_cur = limit.rlim_max;
        assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &limit), 0);
    }
    limit.rlim_cur
}

/// Waits for `count` reports on `rx` and returns when the last one came.
async fn last_of(rx: &mut tokio::sync::mpsc::UnboundedReceiver<Instant>, count: usize) -> Instant {
    let mut last = None;
    for _ in 0..count {
        let at = tokio::time::timeout(TIMEOUT, rx.recv())
            .await
            .expect("every client reports in time")
            .expect("a report");
        last = Some(last.map_or(at, |l: Instant| l.max(at)));
    }
    last.expect("at least one client")
}

// Must show 5: 5,000 clients at once, one message reaches all of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_thousand_clients_hear_one_message() {
    const CLIENTS: usize = 5000;
    // Connects in waves below the SYN backlog (2048 here), so none waits
    // out a 1 s SYN retransmission.
    const WAVE: usize = 500;
    let fds = raise_fd_limit();
    assert!(
        fds > 2 * CLIENTS as u64,
        "need {} descriptors, have {fds}",
        2 * CLIENTS
    );
    let server = chat_server(&[]);
    let pid = server.child.id();
    let addr = server.addr;
    let rss_idle = rss_kib(pid);

    let started = Instant::now();
    let mut streams = Vec::with_capacity(CLIENTS);
    while streams.len() < CLIENTS {
        let mut wave = JoinSet::new();
        for _ in 0..WAVE.min(CLIENTS - streams.len()) {
            wave.spawn(async move { TcpStream::connect(addr).await.expect("connect") });
        }
        let connected = tokio::time::timeout(TIMEOUT, wave.join_all())
            .await
            .expect("a wave connects in time");
        streams.extend(connected);
    }
    let (joined_tx, mut joined) = tokio::sync::mpsc::unbounded_channel();
    let (heard_tx, mut heard) = tokio::sync::mpsc::unbounded_channel();
    let mut writers = Vec::with_capacity(CLIENTS);
    for stream in streams {
        let peer = Peer::from_stream(stream);
        let Peer {
            mut reader,
            writer,
            name,
        } = peer;
        writers.push(writer);
        let (joined_tx, heard_tx) = (joined_tx.clone(), heard_tx.clone());
        tokio::spawn(async move {
            read_until_line(&mut reader, &format!("* {name} joined")).await;
            let _ = joined_tx.send(Instant::now());
            for round in ["ping 1", "ping 2"] {
                read_until_line(&mut reader, round).await;
                let _ = heard_tx.send(Instant::now());
            }
        });
    }
    let all_joined = last_of(&mut joined, CLIENTS).await - started;
    let rss_joined = rss_kib(pid);

    // The first message queues behind the join notices of later clients;
    // the second finds every queue empty.
    let mut rounds = Vec::new();
    for round in ["ping 1", "ping 2"] {
        let sent = Instant::now();
        writers[0]
            .write_all(format!("{round}\n").as_bytes())
            .await
            .expect("send");
        rounds.push(last_of(&mut heard, CLIENTS).await - sent);
    }
    let rss_after = rss_kib(pid);
    eprintln!(
        "{CLIENTS} clients connected and joined in {all_joined:?}; one message reached all \
         of them in {:?} (behind the join notices) and {:?} (queues empty); server RSS \
         {rss_idle} KiB idle, {rss_joined} KiB joined, {rss_after} KiB after",
        rounds[0], rounds[1]
    );
    assert!(!server.logs().iter().any(|l| l.contains("too slow")));
    // Memory: the room keeps each join notice once, in its one log, until
    // every member has read it; the log never holds more than --max-queue
    // (1 MiB counted). What 5,000 members cost is then their connections'
    // own state: about 7.5 KiB each here (the task, a 4 KiB read buffer,
    // socket and room entries), 37 MiB in all. 10 KiB each leaves room for
    // the log and the allocator. A queue per member held every join notice
    // once per member, 12.5 million entries: 118-140 MiB above idle.
    let limit = rss_idle + CLIENTS as u64 * 10;
    assert!(
        rss_joined.max(rss_after) < limit,
        "server RSS reached {} KiB (limit {limit} KiB)",
        rss_joined.max(rss_after)
    );
    // Generous for a loaded CI machine; here it takes tens of milliseconds.
    assert!(
        rounds[1] < Duration::from_secs(5),
        "delivery took {:?}",
        rounds[1]
    );
}

// Limits every server has: --max-conns, the optional idle timeout, and a
// graceful shutdown that tells clients before closing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_and_shutdown_notice() {
    let mut server = chat_server(&["--max-conns", "2"]);
    let mut a = Peer::join(server.addr).await;
    let b = Peer::join(server.addr).await;
    a.expect(&format!("* {} joined", b.name)).await;
    let mut extra = Peer::connect(server.addr).await;
    extra.expect_eof().await;
    server.wait_for_log("connection limit of 2 reached", TIMEOUT);

    common::signal(&server.child, libc::SIGTERM);
    a.expect("* server shutting down").await;
    a.expect_eof().await;
    let status = common::wait_child(&mut server.child, TIMEOUT);
    assert!(status.success(), "{status:?}");

    // Idle means nothing moving either way: a quiet room drops its members.
    let quiet = chat_server(&["--idle-timeout", "300ms"]);
    // Timed from before the connect: the server's clock starts at accept, and
    // on a loaded machine we may see our join notice well after it was sent.
    let started = Instant::now();
    let mut lurker = Peer::join(quiet.addr).await;
    lurker.expect_eof().await;
    assert!(started.elapsed() >= Duration::from_millis(250));
    quiet.wait_for_log("idle for 0.3s", TIMEOUT);
}
