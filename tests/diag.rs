//! The troubleshooting tools against real sockets: `sockets` compared with
//! `ss`, the stall pair's arithmetic, `sockets --json`, `ping` on loopback and
//! in a namespace without a network, and `--trace` transcripts.

mod common;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;

use common::{Server, TIMEOUT, require, run, run_socklab, socklab, text};

/// A `stall client --hold` process, stopped on drop, with its report.
struct StallClient {
    child: Child,
    report: Vec<String>,
}

impl StallClient {
    /// Runs the client against `port` and waits until it has printed its report.
    fn start(port: &str) -> StallClient {
        let child = socklab()
            .args(["stall", "client", "127.0.0.1", port, "--hold", "60s"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn stall client");
        // Owned by the guard from here on, so a failed wait still kills it.
        let mut client = StallClient {
            child,
            report: Vec::new(),
        };
        let stdout = client.child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        loop {
            let line = rx
                .recv_timeout(TIMEOUT)
                .unwrap_or_else(|_| panic!("stall client report incomplete: {:?}", client.report));
            let done = line.starts_with("holding the connection");
            client.report.push(line);
            if done {
                return client;
            }
        }
    }

    /// The number in the report line starting with `prefix`.
    fn number(&self, prefix: &str) -> u64 {
        let line = self
            .report
            .iter()
            .find_map(|l| l.strip_prefix(prefix))
            .unwrap_or_else(|| panic!("no {prefix:?} line in {:?}", self.report));
        line.split_whitespace()
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no number after {prefix:?}: {line:?}"))
    }
}

impl Drop for StallClient {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// (state, Recv-Q, Send-Q, local, peer), the columns both tools share.
type Row = (String, u64, u64, String, String);

fn socklab_rows(port: &str) -> BTreeSet<Row> {
    let output = run_socklab(&["sockets", "--tcp", "--port", port], TIMEOUT);
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "sockets failed: {stderr}");
    let mut lines = stdout.lines();
    assert!(
        lines.next().is_some_and(|h| h.starts_with("Proto State")),
        "{stdout}"
    );
    lines
        .map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            assert_eq!(f.len(), 7, "seven columns in {line:?}");
            assert_eq!(f[0], "tcp");
            row(&f[1..6])
        })
        .collect()
}

fn ss_rows(port: &str) -> BTreeSet<Row> {
    let filter = format!("( sport = :{port} or dport = :{port} )");
    let output = run(Command::new("ss").args(["-tan", &filter]), TIMEOUT);
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "ss failed: {stderr}");
    stdout
        .lines()
        .skip(1)
        .map(|line| row(&line.split_whitespace().collect::<Vec<_>>()[..5]))
        .collect()
}

fn row(f: &[&str]) -> Row {
    let number = |s: &str| s.parse().unwrap_or_else(|_| panic!("queue size {s:?}"));
    (
        f[0].to_string(),
        number(f[1]),
        number(f[2]),
        f[3].to_string(),
        f[4].to_string(),
    )
}

#[test]
fn sockets_shows_the_stall_pair_as_ss_does() {
    require("ss");
    let server = Server::start(&["stall", "server", "127.0.0.1", "0"]);
    let port = server.port();
    let client = StallClient::start(&port);
    let client_addr = client
        .report
        .first()
        .and_then(|l| l.rsplit(' ').next())
        .expect("`connected to X from Y` line")
        .to_string();

    // The two snapshots are taken one after the other; the kernel may still
    // move bytes between the queues in between, so compare a few times.
    let (mut ours, mut theirs) = (BTreeSet::new(), BTreeSet::new());
    for _ in 0..20 {
        ours = socklab_rows(&port);
        theirs = ss_rows(&port);
        if ours == theirs {
            break;
        }
    }
    assert_eq!(ours, theirs, "socklab sockets and ss -tan disagree");

    let server_addr = server.addr.to_string();
    let find = |state: &str, local: &str| {
        ours.iter()
            .find(|r| r.0 == state && r.3 == local)
            .unwrap_or_else(|| panic!("no {state} row for {local} in {ours:?}"))
            .clone()
    };
    let listener = find("LISTEN", &server_addr);
    assert_eq!(listener.4, "0.0.0.0:*");
    // We ask for 4096; the kernel caps it at net.core.somaxconn (128 before
    // Linux 5.4).
    let somaxconn: u64 = std::fs::read_to_string("/proc/sys/net/core/somaxconn")
        .expect("somaxconn")
        .trim()
        .parse()
        .expect("a number");
    assert_eq!(
        listener.2,
        somaxconn.min(4096),
        "a listener's Send-Q is its backlog"
    );
    let server_end = find("ESTAB", &server_addr);
    let client_end = find("ESTAB", &client_addr);
    assert_eq!(server_end.4, client_addr);
    assert_eq!(client_end.4, server_addr);
    assert!(
        server_end.1 > 0,
        "the server's Recv-Q holds what it never read"
    );
    assert!(
        client_end.2 > 0,
        "the client's Send-Q holds what did not fit"
    );
    // TIME-WAIT rows aside: bind(0) may hand out a port number an earlier
    // test's server had, and the clients that closed first still hold
    // TIME-WAIT sockets with it as their peer's port.
    let live = ours.iter().filter(|r| r.0 != "TIME-WAIT").count();
    assert_eq!(live, 3, "listener and both ends, nothing else: {ours:?}");
}

#[test]
fn stall_report_adds_up_exactly() {
    let server = Server::start(&["stall", "server", "127.0.0.1", "0"]);
    let client = StallClient::start(&server.port());
    let written = client.number("wrote ");
    let send_q = client.number("client Send-Q: ");
    let recv_q = client.number("server Recv-Q: ");
    assert!(
        written > 0 && send_q > 0 && recv_q > 0,
        "{:?}",
        client.report
    );
    assert_eq!(written, send_q + recv_q, "{:?}", client.report);
    assert!(
        client
            .report
            .iter()
            .any(|l| l.contains("every byte written waits in a kernel queue")),
        "{:?}",
        client.report
    );
}

#[test]
fn sockets_json_names_our_listener_and_its_pid() {
    let server = Server::start(&["echo", "server", "127.0.0.1", "0"]);
    let output = run_socklab(&["sockets", "--json"], TIMEOUT);
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "{stderr}");
    let rows: serde_json::Value = serde_json::from_str(&stdout).expect("valid JSON");
    let rows = rows.as_array().expect("one array");
    let keys = [
        "proto", "state", "recv_q", "send_q", "local", "remote", "pid", "program",
    ];
    for row in rows {
        let object = row.as_object().expect("one object per socket");
        let mut found: Vec<&str> = object.keys().map(String::as_str).collect();
        found.sort_unstable();
        let mut wanted = keys.to_vec();
        wanted.sort_unstable();
        assert_eq!(found, wanted, "{row}");
        assert!(row["recv_q"].is_u64() && row["send_q"].is_u64(), "{row}");
    }
    let ours = rows
        .iter()
        .find(|r| r["local"] == server.addr.to_string().as_str() && r["state"] == "LISTEN")
        .unwrap_or_else(|| panic!("our listener {} is missing", server.addr));
    assert_eq!(ours["proto"], "tcp");
    assert_eq!(ours["remote"], "0.0.0.0:0");
    assert_eq!(ours["pid"], u64::from(server.child.id()));
    assert_eq!(ours["program"], "socklab");

    // Filtered, the JSON and the table hold the same single socket, TIME-WAIT
    // leftovers of an earlier test's server on this port number aside.
    let port = server.port();
    let json = run_socklab(&["sockets", "--json", "--port", &port], TIMEOUT);
    let rows: serde_json::Value = serde_json::from_slice(&json.stdout).expect("valid JSON");
    let live: Vec<&serde_json::Value> = rows
        .as_array()
        .expect("one array")
        .iter()
        .filter(|r| r["state"] != "TIME-WAIT")
        .collect();
    assert_eq!(live.len(), 1, "{rows}");
    assert_eq!(live[0]["local"], server.addr.to_string().as_str(), "{rows}");
    let table = run_socklab(&["sockets", "--port", &port], TIMEOUT);
    let (stdout, _) = text(&table);
    let live = stdout
        .lines()
        .filter(|l| !l.contains(" TIME-WAIT "))
        .count();
    assert_eq!(live, 2, "header and one row: {stdout}");
}

/// Whether this process may open an ICMP socket: root (raw), or a group in
/// net.ipv4.ping_group_range (datagram).
fn can_ping() -> bool {
    // SAFETY: getuid/getgid cannot fail and touch no memory.
    let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
    let range = std::fs::read_to_string("/proc/sys/net/ipv4/ping_group_range").unwrap_or_default();
    let bounds: Vec<u32> = range
        .split_whitespace()
        .filter_map(|n| n.parse().ok())
        .collect();
    uid == 0 || matches!(bounds[..], [low, high] if (low..=high).contains(&gid))
}

#[test]
fn ping_loopback_three_times() {
    if !can_ping() {
        eprintln!("skipped: not root and net.ipv4.ping_group_range excludes our group");
        return;
    }
    let output = run_socklab(&["ping", "-c", "3", "-i", "0.2", "127.0.0.1"], TIMEOUT);
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "{stdout}{stderr}");
    for seq in 1..=3 {
        let prefix = format!("64 bytes from 127.0.0.1: icmp_seq={seq} ttl=");
        assert!(
            stdout
                .lines()
                .any(|l| l.starts_with(&prefix) && l.ends_with(" ms")),
            "no reply {seq} in {stdout}"
        );
    }
    assert!(
        stdout.contains("\n3 packets transmitted, 3 received, 0% packet loss, time "),
        "{stdout}"
    );
    let rtt = stdout
        .lines()
        .find_map(|l| l.strip_prefix("rtt min/avg/max/mdev = "))
        .and_then(|l| l.strip_suffix(" ms"))
        .unwrap_or_else(|| panic!("no rtt line in {stdout}"));
    let v: Vec<f64> = rtt
        .split('/')
        .map(|n| n.parse().expect("a number"))
        .collect();
    assert_eq!(v.len(), 4, "{rtt}");
    assert!(v[0] <= v[1] && v[1] <= v[2] && v[3] >= 0.0, "{rtt}");
}

/// A network namespace of our own, deleted on drop.
struct Netns(String);

impl Netns {
    fn create() -> Netns {
        // Tests run in parallel threads of one process: pid plus a counter.
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let name = format!("socklab-diag-{}-{n}", std::process::id());
        let output = run(Command::new("ip").args(["netns", "add", &name]), TIMEOUT);
        assert!(output.status.success(), "ip netns add: {}", text(&output).1);
        Netns(name)
    }
}

impl Netns {
    /// Runs `program ARGS...` inside the namespace.
    fn exec(&self, program: &str, args: &[&str]) -> std::process::Output {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.0, program]).args(args);
        run(&mut cmd, TIMEOUT)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = run(Command::new("ip").args(["netns", "del", &self.0]), TIMEOUT);
    }
}

#[test]
fn ping_without_a_network_fails() {
    // SAFETY: getuid cannot fail.
    if unsafe { libc::getuid() } != 0 {
        eprintln!("skipped: creating a network namespace needs root");
        return;
    }
    require("ip");
    // A fresh namespace has only a loopback interface, and it is down.
    let ns = Netns::create();
    let output = ns.exec(
        env!("CARGO_BIN_EXE_socklab"),
        &["ping", "-c", "2", "-i", "0.2", "127.0.0.1"],
    );
    let (stdout, stderr) = text(&output);
    assert_eq!(output.status.code(), Some(1), "{stdout}{stderr}");
    assert!(
        stdout.contains("2 packets transmitted, 0 received"),
        "{stdout}"
    );
    assert!(stdout.contains("100% packet loss"), "{stdout}");
    assert!(stderr.contains("network is unreachable"), "{stderr}");
    assert!(
        stderr.contains("error: no reply from 127.0.0.1"),
        "{stderr}"
    );
}

#[test]
fn ping_through_an_unprivileged_datagram_socket() {
    // SAFETY: getuid cannot fail.
    if unsafe { libc::getuid() } != 0 {
        eprintln!("skipped: creating a network namespace needs root");
        return;
    }
    require("ip");
    // ping_group_range is per namespace: allow our group in ours only, so the
    // datagram socket (kernel-chosen identifier, TTL as a control message)
    // is the one used.
    let ns = Netns::create();
    assert!(ns.exec("ip", &["link", "set", "lo", "up"]).status.success());
    let sysctl = ns.exec(
        "sh",
        &["-c", "echo '0 0' > /proc/sys/net/ipv4/ping_group_range"],
    );
    assert!(sysctl.status.success(), "{}", text(&sysctl).1);
    let output = ns.exec(
        env!("CARGO_BIN_EXE_socklab"),
        &["-v", "ping", "-c", "2", "-i", "0.1", "127.0.0.1"],
    );
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "{stdout}{stderr}");
    assert!(stderr.contains("ICMP socket: Datagram"), "{stderr}");
    assert!(
        stdout.contains("64 bytes from 127.0.0.1: icmp_seq=2 ttl=64 time="),
        "{stdout}"
    );
    assert!(
        stdout.contains("2 packets transmitted, 2 received, 0% packet loss"),
        "{stdout}"
    );
}

#[test]
fn trace_shows_every_read_and_write_of_echo_client() {
    let server = Server::start(&["echo", "server", "127.0.0.1", "0"]);
    let port = server.port();
    let peer = server.addr;

    let quiet = run_socklab(&["echo", "client", "127.0.0.1", &port], TIMEOUT);
    assert!(
        !text(&quiet).1.contains("sent 12 bytes"),
        "no transcript without --trace"
    );

    let output = run_socklab(&["echo", "client", "127.0.0.1", &port, "--trace"], TIMEOUT);
    let (_, stderr) = text(&output);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!("sent 12 bytes to {peer}: b'Hello, world'")),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("received 12 bytes from {peer}: b'Hello, world'")),
        "{stderr}"
    );

    // 102 bytes with non-ASCII ones: escaped, and cut after 64 bytes.
    let message = format!("é{}", "x".repeat(100));
    let output = run_socklab(
        &[
            "--trace",
            "echo",
            "client",
            "127.0.0.1",
            &port,
            "--message",
            &message,
        ],
        TIMEOUT,
    );
    let (_, stderr) = text(&output);
    assert!(output.status.success(), "{stderr}");
    let preview = format!("b'\\xc3\\xa9{}'... (+38 bytes)", "x".repeat(62));
    assert!(
        stderr.contains(&format!("sent 102 bytes to {peer}: {preview}")),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("received 102 bytes from {peer}: {preview}")),
        "{stderr}"
    );
}
