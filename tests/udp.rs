//! udp: the lucky-number server, the retransmitting client's schedule, the
//! closed promiscuous-client hole, seeded drops and their statistics,
//! broadcast across network namespaces, and the path MTU.

mod common;

use std::net::UdpSocket;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use common::{Server, TIMEOUT, run, run_socklab, socklab, text, wait_child};
use socklab::udp::{self, Backoff, Options, RequestError};

const LUCKY: &str = "Here's your lucky number:";

/// A test-owned UDP socket on loopback that waits at most [`TIMEOUT`].
fn loopback_socket() -> UdpSocket {
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind loopback");
    socket.set_read_timeout(Some(TIMEOUT)).expect("timeout");
    socket
}

/// Waits until the server has logged `needle` at least `count` times.
fn wait_for_count(server: &Server, needle: &str, count: usize) -> Vec<String> {
    let until = Instant::now() + TIMEOUT;
    loop {
        let lines: Vec<String> = server
            .logs()
            .into_iter()
            .filter(|l| l.contains(needle))
            .collect();
        if lines.len() >= count {
            return lines;
        }
        assert!(
            Instant::now() < until,
            "{needle:?} logged {} times, wanted {count}: {:?}",
            lines.len(),
            server.logs()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Starts `udp client 127.0.0.1 PORT EXTRA...` in the background, output piped.
fn spawn_client(port: &str, extra: &[&str]) -> std::process::Child {
    socklab()
        .args(["udp", "client", "127.0.0.1", port])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn client")
}

fn waiting_lines(stdout: &str) -> Vec<&str> {
    stdout
        .lines()
        .filter(|l| l.starts_with("Waiting up to"))
        .collect()
}

#[test]
fn server_answers_empty_and_largest_datagrams_and_stops_on_sigterm() {
    let mut server = Server::start(&["udp", "server", "127.0.0.1", "0"]);
    let socket = loopback_socket();
    let mut buf = vec![0u8; 65_536];
    for size in [0, 65_507] {
        socket
            .send_to(&vec![b'x'; size], server.addr)
            .expect("send");
        let (len, from) = socket.recv_from(&mut buf).expect("a reply");
        assert_eq!(from, server.addr);
        let reply = std::str::from_utf8(&buf[..len]).expect("ascii reply");
        let number: f64 = reply
            .strip_prefix(LUCKY)
            .unwrap_or_else(|| panic!("unexpected reply {reply:?}"))
            .parse()
            .expect("a number");
        assert!((0.0..1.0).contains(&number), "{number}");
    }
    let client = socket.local_addr().expect("addr");
    server.wait_for_log(&format!("The client at {client} says ''"), TIMEOUT);
    // The log shows a bounded preview of the big one, not 64 KiB of x.
    let big = server.wait_for_log("bytes)", TIMEOUT);
    assert!(big.contains("(+65307 bytes)"), "{big}");
    assert!(server.terminate(TIMEOUT).success());
    // Worded for datagrams, not for the TCP servers' connections.
    server.wait_for_log("shutting down: no more datagrams", TIMEOUT);
}

/// SIOCGSTAMP from <asm-generic/sockios.h> (the libc crate does not name
/// it): a socket's last datagram's kernel receive time, as a `timeval`.
const SIOCGSTAMP: libc::Ioctl = 0x8906;

/// When the kernel received the datagram last read from `socket` (wall
/// clock): when the client sent it, however late a loaded machine wakes the
/// test to read it. The first call, before any datagram, turns the stamps on.
fn kernel_stamp(socket: &UdpSocket) -> Option<Duration> {
    use std::os::fd::AsRawFd;
    let mut stamp = libc::timeval {
        tv_sec: 0,
        tv_usec: 0,
    };
    // SAFETY: ioctl on a socket we own, with a pointer to a local timeval
    // for the kernel to fill in.
    let rc = unsafe { libc::ioctl(socket.as_raw_fd(), SIOCGSTAMP, &mut stamp) };
    (rc == 0).then(|| {
        let secs = u64::try_from(stamp.tv_sec).expect("after 1970");
        let micros = u32::try_from(stamp.tv_usec).expect("microseconds");
        Duration::new(secs, micros * 1000)
    })
}

#[test]
fn a_silent_server_sees_the_tries_at_0_start_3start_7start() {
    let silent = loopback_socket();
    let _ = kernel_stamp(&silent); // turns the stamps on
    let port = silent.local_addr().expect("addr").port().to_string();
    let mut child = spawn_client(&port, &["--start", "50ms", "--max-wait", "400ms"]);
    let mut buf = [0u8; 64];
    let mut arrivals = Vec::new();
    let mut sender = None;
    for _ in 0..4 {
        let (_, from) = silent.recv_from(&mut buf).expect("a try");
        arrivals.push(kernel_stamp(&silent).expect("a receive time"));
        // Every try comes from the same (connected) socket.
        assert_eq!(*sender.get_or_insert(from), from);
    }
    assert!(wait_child(&mut child, TIMEOUT).code() == Some(1));
    // Waits of 50, 100, 200, 400 ms: tries at 0, 50, 150, 350 ms.
    let offsets: Vec<u128> = arrivals
        .iter()
        .map(|t| t.saturating_sub(arrivals[0]).as_millis())
        .collect();
    for (got, want) in offsets.iter().zip([0u128, 50, 150, 350]) {
        assert!(
            *got + 10 >= want && *got <= want + 60,
            "tries at {offsets:?} ms, wanted 0, 50, 150, 350 (-10 ms, +60 ms slack)"
        );
    }
    // No fifth try: the next wait (800 ms) would pass --max-wait.
    silent
        .set_read_timeout(Some(Duration::from_millis(300)))
        .expect("timeout");
    assert!(silent.recv_from(&mut buf).is_err(), "a fifth try came");
}

#[test]
fn a_server_that_drops_everything_makes_the_client_give_up() {
    let server = Server::start(&["udp", "server", "127.0.0.1", "0", "--drop", "1"]);
    let out = run_socklab(
        &[
            "udp",
            "client",
            "127.0.0.1",
            &server.port(),
            "--start",
            "10ms",
            "--max-wait",
            "200ms",
        ],
        TIMEOUT,
    );
    let (stdout, stderr) = text(&out);
    assert_eq!(
        waiting_lines(&stdout),
        [
            "Waiting up to 0.01 seconds for a reply",
            "Waiting up to 0.02 seconds for a reply",
            "Waiting up to 0.04 seconds for a reply",
            "Waiting up to 0.08 seconds for a reply",
            "Waiting up to 0.16 seconds for a reply",
        ],
        "{stdout}"
    );
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "error: no reply from {} after 5 tries\n",
            server.addr
        )),
        "{stderr}"
    );
    let drops = wait_for_count(&server, "pretending to drop packet from 127.0.0.1:", 5);
    assert_eq!(drops.len(), 5, "{drops:?}");
}

#[test]
fn seeded_drops_are_survived_by_retrying_and_repeat_exactly() {
    // Seed 6 drops the first two requests and answers the third.
    let run_once = || {
        let server = Server::start(&[
            "udp",
            "server",
            "127.0.0.1",
            "0",
            "--drop",
            "0.7",
            "--seed",
            "6",
        ]);
        let out = run_socklab(
            &[
                "udp",
                "client",
                "127.0.0.1",
                &server.port(),
                "--start",
                "50ms",
            ],
            TIMEOUT,
        );
        let (stdout, stderr) = text(&out);
        assert!(out.status.success(), "{stdout}{stderr}");
        assert_eq!(waiting_lines(&stdout).len(), 3, "{stdout}");
        assert!(
            stdout.contains(&format!("The server replied \"{LUCKY}0.")),
            "{stdout}"
        );
        assert_eq!(wait_for_count(&server, "pretending to drop", 2).len(), 2);
        stdout
    };
    // The same seed gives the same drops and the same lucky number.
    assert_eq!(run_once(), run_once());
}

/// Ten waves of one request from each of 100 sockets, sent back to back so
/// that they queue and the server takes them in batches: every request not
/// dropped is answered, and a seeded server drops and answers exactly as one
/// datagram at a time would (a draw for the drop, then one for the number).
#[test]
fn bursts_from_many_sockets_are_answered_or_dropped_as_the_seed_says() {
    const SOCKETS: usize = 100;
    const P: f64 = 0.3;
    const SEED: u64 = 11;
    let mut rng = StdRng::seed_from_u64(SEED);
    let fate: Vec<Option<f64>> = (0..SOCKETS * 10)
        .map(|_| (rng.random::<f64>() >= P).then(|| rng.random::<f64>()))
        .collect();
    let server = Server::start(&[
        "udp",
        "server",
        "127.0.0.1",
        "0",
        "--drop",
        &P.to_string(),
        "--seed",
        &SEED.to_string(),
    ]);
    let sockets: Vec<UdpSocket> = (0..SOCKETS)
        .map(|_| {
            let socket = loopback_socket();
            socket.set_nonblocking(true).expect("non-blocking");
            socket
        })
        .collect();
    let mut replies = Vec::new();
    let mut buf = [0u8; 128];
    for wave in fate.chunks(SOCKETS) {
        for socket in &sockets {
            socket.send_to(b"burst", server.addr).expect("send");
        }
        // The datagrams are processed in arrival order, so this wave gets
        // exactly the answers its share of the draws says.
        let expected = replies.len() + wave.iter().flatten().count();
        let until = Instant::now() + TIMEOUT;
        while replies.len() < expected {
            assert!(
                Instant::now() < until,
                "{} replies of {expected}",
                replies.len()
            );
            for socket in &sockets {
                match socket.recv(&mut buf) {
                    Ok(n) => replies.push(String::from_utf8_lossy(&buf[..n]).into_owned()),
                    Err(err) if err.kind() == std::io::ErrorKind::WouldBlock => {}
                    Err(err) => panic!("receiving: {err}"),
                }
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    let mut want: Vec<String> = fate
        .iter()
        .flatten()
        .map(|n| format!("{LUCKY}{}", udp::lucky::python_repr(*n)))
        .collect();
    replies.sort();
    want.sort();
    assert_eq!(replies, want);
    let drops = fate.iter().filter(|f| f.is_none()).count();
    assert_eq!(
        wait_for_count(&server, "pretending to drop", drops).len(),
        drops
    );
    let sent = wait_for_count(&server, "Packet sent successfully!", want.len());
    assert_eq!(sent.len(), want.len());
}

/// 200 requests against a server dropping with P = 0.7 and six tries each:
/// success should be 1 - 0.7^6 = 0.882 and mean tries (1 - 0.7^6) / 0.3 = 2.94.
#[tokio::test]
async fn two_hundred_requests_match_what_the_drop_rate_predicts() {
    const P: f64 = 0.7;
    const RUNS: usize = 200;
    let socket = udp::bind("127.0.0.1", 0).await.expect("bind");
    let server = socket.local_addr().expect("addr");
    let stop = tokio_util::sync::CancellationToken::new();
    let options = Options {
        drop_rate: P,
        seed: Some(2024),
        ..Options::default()
    };
    let task = tokio::spawn(udp::run(socket, options, stop.clone().cancelled_owned()));
    // Waits of 2, 4 … 64 ms: the texts' six tries, 50 times faster.
    let backoff = Backoff {
        start: Duration::from_millis(2),
        max_wait: Duration::from_millis(64),
    };
    assert_eq!(backoff.waits().count(), 6);
    let (mut answered, mut tries) = (0, 0);
    for _ in 0..RUNS {
        let client = udp::client::connect(server).await.expect("socket");
        match udp::request(&client, server, b"hi", backoff, |_| {}).await {
            Ok(reply) => {
                answered += 1;
                tries += reply.tries;
            }
            Err(RequestError::NoReply { tries: n, .. }) => tries += n,
            Err(err) => panic!("{err}"),
        }
    }
    stop.cancel();
    task.await.expect("server task").expect("server");
    let success = answered as f64 / RUNS as f64;
    let mean_tries = tries as f64 / RUNS as f64;
    let want_success = 1.0 - P.powi(6);
    let want_tries = (1.0 - P.powi(6)) / (1.0 - P);
    println!(
        "{RUNS} runs: success {success:.3} (predicted {want_success:.3}), \
         mean tries {mean_tries:.2} (predicted {want_tries:.2})"
    );
    // About 3.5 standard deviations of a 200-run sample (0.023 and 0.129).
    assert!(
        (success - want_success).abs() < 0.08,
        "success rate {success}"
    );
    assert!(
        (mean_tries - want_tries).abs() < 0.45,
        "mean tries {mean_tries}"
    );
}

#[test]
fn a_datagram_from_another_port_is_never_taken_as_the_reply() {
    let fake_server = loopback_socket();
    let spoofer = loopback_socket();
    let port = fake_server.local_addr().expect("addr").port().to_string();
    let mut child = spawn_client(&port, &["--start", "300ms", "--max-wait", "1s"]);
    let mut buf = [0u8; 64];
    let (_, client) = fake_server.recv_from(&mut buf).expect("first request");
    // Same host, other port: the texts' "You are hacked!" attack.
    spoofer.send_to(b"You are hacked!", client).expect("spoof");
    // Had the client taken the spoof, it would not send a second request.
    let (_, again) = fake_server.recv_from(&mut buf).expect("second request");
    assert_eq!(again, client);
    spoofer.send_to(b"You are hacked!", client).expect("spoof");
    fake_server
        .send_to(b"Here's your lucky number:0.5", client)
        .expect("answer");
    wait_child(&mut child, TIMEOUT);
    let out = child.wait_with_output().expect("output");
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert_eq!(waiting_lines(&stdout).len(), 2, "{stdout}");
    assert!(!stdout.contains("hacked"), "{stdout}");
    assert!(
        stdout.ends_with("The server replied \"Here's your lucky number:0.5\"\n"),
        "{stdout}"
    );
}

#[test]
fn a_closed_port_is_retried_and_reported_as_refused() {
    // Each request draws ICMP port unreachable.
    let (_held, port) = common::refused_udp_port();
    let out = run_socklab(
        &[
            "udp",
            "client",
            "127.0.0.1",
            &port.to_string(),
            "--start",
            "10ms",
            "--max-wait",
            "40ms",
        ],
        TIMEOUT,
    );
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(waiting_lines(&stdout).len(), 3, "{stdout}");
    assert!(
        stderr.contains(&format!(
            "error: no reply from 127.0.0.1:{port} after 3 tries (connection refused: is a server listening?)"
        )),
        "{stderr}"
    );
}

#[test]
fn broadcast_mode_shows_each_reply_with_its_sender_and_fails_without_one() {
    let server = Server::start(&["udp", "server", "127.0.0.1", "0"]);
    let out = run_socklab(
        &[
            "udp",
            "client",
            "--broadcast",
            "127.0.0.1",
            &server.port(),
            "--wait",
            "300ms",
        ],
        TIMEOUT,
    );
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stdout.starts_with(&format!("{} replied \"{LUCKY}", server.addr)),
        "{stdout}"
    );
    let silent = Server::start(&["udp", "server", "127.0.0.1", "0", "--drop", "1"]);
    let out = run_socklab(
        &[
            "udp",
            "client",
            "--broadcast",
            "127.0.0.1",
            &silent.port(),
            "--wait",
            "200ms",
        ],
        TIMEOUT,
    );
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr.contains("error: no reply to the broadcast"),
        "{stderr}"
    );
}

/// Network namespaces made for one test: a client namespace with a bridge,
/// and one namespace per server joined to it by a veth pair. Removed on drop,
/// whatever happened, which also removes every interface inside them.
struct Namespaces {
    names: Vec<String>,
}

impl Namespaces {
    fn ip(args: &[&str]) {
        let out = run(Command::new("ip").args(args), TIMEOUT);
        let (_, stderr) = text(&out);
        assert!(out.status.success(), "ip {args:?} failed: {stderr}");
    }

    /// Builds `client` (bridge br0 at 10.200.0.1/24) and one namespace per
    /// server at 10.200.0.2, .3 …; returns the namespaces and server addresses.
    fn bridge(servers: usize) -> (Namespaces, Vec<String>) {
        let tag = format!("socklab-udp-{}", std::process::id());
        let client = format!("{tag}-c");
        let mut ns = Namespaces { names: vec![] };
        Self::ip(&["netns", "add", &client]);
        ns.names.push(client.clone());
        let c = |args: &[&str]| Self::ip(&[&["-n", &client], args].concat());
        c(&["link", "add", "br0", "type", "bridge"]);
        c(&["addr", "add", "10.200.0.1/24", "brd", "+", "dev", "br0"]);
        c(&["link", "set", "br0", "up"]);
        let mut addrs = Vec::new();
        for i in 0..servers {
            let server = format!("{tag}-s{i}");
            Self::ip(&["netns", "add", &server]);
            ns.names.push(server.clone());
            let (near, far) = (format!("v{i}"), format!("p{i}"));
            c(&["link", "add", &near, "type", "veth", "peer", "name", &far]);
            c(&["link", "set", &far, "netns", &server]);
            c(&["link", "set", &near, "master", "br0"]);
            c(&["link", "set", &near, "up"]);
            let addr = format!("10.200.0.{}", i + 2);
            let s = |args: &[&str]| Self::ip(&[&["-n", &server], args].concat());
            s(&[
                "addr",
                "add",
                &format!("{addr}/24"),
                "brd",
                "+",
                "dev",
                &far,
            ]);
            s(&["link", "set", &far, "up"]);
            s(&["link", "set", "lo", "up"]);
            addrs.push(addr);
        }
        (ns, addrs)
    }

    fn client(&self) -> &str {
        &self.names[0]
    }

    fn server(&self, i: usize) -> &str {
        &self.names[i + 1]
    }

    /// `socklab ARGS` inside namespace `ns`.
    fn socklab(ns: &str, args: &[&str]) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", ns, env!("CARGO_BIN_EXE_socklab")])
            .args(args)
            .env_remove("RUST_LOG");
        cmd
    }

    /// Waits until `addr` answers a ping from the client namespace: the bridge
    /// port forwards only a moment after the link comes up.
    fn wait_reachable(&self, addr: &str) {
        let until = Instant::now() + TIMEOUT;
        loop {
            let mut ping = Command::new("ip");
            ping.args(["netns", "exec", self.client(), "ping", "-c1", "-W1", addr]);
            if run(&mut ping, TIMEOUT).status.success() {
                return;
            }
            assert!(Instant::now() < until, "{addr} never became reachable");
        }
    }
}

impl Drop for Namespaces {
    fn drop(&mut self) {
        for name in &self.names {
            let _ = Command::new("ip")
                .args(["netns", "del", name])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}

#[test]
fn two_servers_answer_one_broadcast_in_private_namespaces() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!(
            "not root: cannot create network namespaces, so the broadcast test \
             cannot run here (CI runs it as root)"
        );
        return;
    }
    common::require("ip");
    common::require("ping");
    let (ns, addrs) = Namespaces::bridge(2);
    // Declared after `ns`, so the servers are killed before the namespaces go.
    let servers: Vec<Server> = (0..addrs.len())
        .map(|i| {
            Server::start_command(Namespaces::socklab(
                ns.server(i),
                &["udp", "server", "0.0.0.0", "60000"],
            ))
        })
        .collect();
    for addr in &addrs {
        ns.wait_reachable(addr);
    }
    let out = run(
        &mut Namespaces::socklab(
            ns.client(),
            &[
                "udp",
                "client",
                "--broadcast",
                "10.200.0.255",
                "60000",
                "--wait",
                "1s",
            ],
        ),
        TIMEOUT,
    );
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}{stderr}");
    for addr in &addrs {
        assert!(
            stdout.contains(&format!("{addr}:60000 replied \"{LUCKY}")),
            "no reply from {addr}: {stdout}"
        );
    }
    assert_eq!(stdout.lines().count(), 2, "{stdout}");
    for server in &servers {
        server.wait_for_log("The client at 10.200.0.1:", TIMEOUT);
    }
}

#[test]
fn mtu_of_loopback_and_the_emsgsize_of_a_larger_datagram() {
    let out = run_socklab(&["udp", "mtu", "127.0.0.1"], TIMEOUT);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    // The kernel caps an IPv4 route's MTU at 65,535 (IP_MAX_MTU), the value
    // the texts print, though lo itself says 65,536.
    let lo: usize = std::fs::read_to_string("/sys/class/net/lo/mtu")
        .expect("lo mtu")
        .trim()
        .parse()
        .expect("a number");
    let want = lo.min(65_535);
    assert!(
        stdout.contains(&format!("path MTU to 127.0.0.1:60000: {want} bytes")),
        "{stdout}"
    );
    assert!(stdout.contains("message too long (EMSGSIZE)"), "{stdout}");
    let has_v6_loopback = std::fs::read_to_string("/proc/net/if_inet6")
        .map(|t| t.contains("00000000000000000000000000000001"))
        .unwrap_or(false);
    if has_v6_loopback {
        let out = run_socklab(&["udp", "mtu", "::1", "9"], TIMEOUT);
        let (stdout, stderr) = text(&out);
        assert!(out.status.success(), "{stderr}");
        assert!(
            stdout.contains(&format!("path MTU to [::1]:9: {lo} bytes (IPV6_MTU")),
            "{stdout}"
        );
        assert!(stdout.contains("message too long (EMSGSIZE)"), "{stdout}");
    }
}

#[test]
fn the_address_is_one_server_s_alone() {
    let server = Server::start(&["udp", "server", "127.0.0.1", "0"]);
    let out = run_socklab(&["udp", "server", "127.0.0.1", &server.port()], TIMEOUT);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr.contains(&format!(
            "error: cannot listen on {}: address already in use",
            server.addr
        )),
        "{stderr}"
    );
}

#[test]
fn the_tour_shows_the_udp_exchanges() {
    let out = run_socklab(&["tour"], TIMEOUT);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    for expected in [
        "== udp:",
        "== udp, lossy server:",
        "Waiting up to 0.4 seconds for a reply\nThe server replied \"Here's your lucky number:0.",
        "== udp mtu:",
        "message too long (EMSGSIZE)",
    ] {
        assert!(
            stdout.contains(expected),
            "tour lacks {expected:?}:\n{stdout}"
        );
    }
}

/// Whether `reply` is `Here's your lucky number:X` with X a float in [0, 1)
/// as Python writes it: `0.` and digits, or below 1e-4 `D[.DDD]e-NN`.
fn is_texts_reply(reply: &str) -> bool {
    let Some(number) = reply.strip_prefix(LUCKY) else {
        return false;
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if let Some(fraction) = number.strip_prefix("0.") {
        return digits(fraction);
    }
    let Some((mantissa, exponent)) = number.split_once("e-") else {
        return false;
    };
    let mut chars = mantissa.chars();
    let lead = chars.next();
    let rest = chars.as_str();
    let rest_ok = rest.is_empty() || rest.strip_prefix('.').is_some_and(digits);
    matches!(lead, Some('1'..='9')) && rest_ok && exponent.len() >= 2 && digits(exponent)
}

/// A `--seed` whose first lucky number is below 1e-4, where Python writes
/// an exponent (`1.5e-05`) and Rust's `{}` would not.
fn seed_of_a_tiny_number() -> (u64, f64) {
    (0..5_000_000u64)
        .find_map(|seed| {
            let mut rng = StdRng::seed_from_u64(seed);
            let _drop_draw = rng.random::<f64>();
            let number = rng.random::<f64>();
            (number < 1e-4).then_some((seed, number))
        })
        .expect("one seed in five million draws a number below 1e-4")
}

#[test]
fn the_texts_retransmission_client_gets_the_texts_bytes_from_our_server() {
    common::require("python3");
    let (tiny_seed, tiny) = seed_of_a_tiny_number();
    for seed in [None, Some(tiny_seed)] {
        let mut args = vec!["udp", "server", "127.0.0.1", "0"];
        let seed_text = seed.map(|s| s.to_string());
        if let Some(seed) = &seed_text {
            args.extend(["--seed", seed]);
        }
        let server = Server::start(&args);
        let out = run(
            Command::new("python3")
                .arg("tests/udp/retransmission_client.py")
                .args(["127.0.0.1", &server.port()]),
            TIMEOUT,
        );
        let (stdout, stderr) = text(&out);
        assert!(out.status.success(), "{stdout}{stderr}");
        let replied = stdout
            .lines()
            .find_map(|l| l.strip_prefix("The server replied \""))
            .and_then(|l| l.strip_suffix('"'))
            .unwrap_or_else(|| panic!("no reply line in {stdout}"));
        assert!(is_texts_reply(replied), "{replied:?}");
        assert!(stdout.contains("repr checked: "), "{stdout}");
        if seed.is_some() {
            let want = format!("{LUCKY}{}", udp::lucky::python_repr(tiny));
            assert_eq!(replied, want);
            assert!(replied.contains("e-0"), "{replied}");
        }
    }
}

#[test]
fn our_client_prints_the_texts_line_against_the_texts_server() {
    common::require("python3");
    let mut python = Command::new("python3");
    // The bench's anchor is the texts' TestServer.py; --log shows each reply.
    python.args(["bench/anchors/udp_server.py", "127.0.0.1", "0", "--log"]);
    let server = Server::start_command(python);
    let out = run_socklab(&["udp", "client", "127.0.0.1", &server.port()], TIMEOUT);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}{stderr}");
    let sent = server.wait_for_log("sent \"", TIMEOUT);
    let sent = sent
        .strip_prefix("sent \"")
        .and_then(|s| s.strip_suffix('"'))
        .unwrap_or_else(|| panic!("unexpected server line {sent:?}"));
    assert!(is_texts_reply(sent), "{sent:?}");
    assert_eq!(
        stdout,
        format!("Waiting up to 0.1 seconds for a reply\nThe server replied \"{sent}\"\n")
    );
}

#[test]
fn the_reply_check_follows_python() {
    for good in [
        "Here's your lucky number:0.3872235270764811",
        "Here's your lucky number:0.0",
        "Here's your lucky number:1.52587890625e-05",
        "Here's your lucky number:5e-324",
    ] {
        assert!(is_texts_reply(good), "{good}");
    }
    for bad in [
        "Here's your lucky number: 0.38",
        "Here's your lucky number:0.",
        "Here's your lucky number:1.5",
        "Here's your lucky number:0.5e-05",
        "Here's your lucky number:1.5e-5",
    ] {
        assert!(!is_texts_reply(bad), "{bad}");
    }
}
