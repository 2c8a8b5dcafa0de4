//! `socklab capture` on loopback (root or CAP_NET_RAW, as in CI): exchanges
//! captured while their lines print, checked one for one against `tcpdump
//! -r` of the file we wrote; handshake, data and FIN in order with another
//! port's traffic filtered out; the stall pair's zero window; UDP with `-c`;
//! and the one-line error without privileges.
//!
//! Every capture is started before its traffic and waited for (`capturing
//! on lo`), and ended by `-c` or by SIGINT after its last expected line.

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver};
use std::time::Instant;

use common::{Server, TIMEOUT, require, run, run_socklab, signal, socklab, text, wait_child};

/// A running `socklab capture`, its stdout lines arriving on a channel.
struct Capture {
    child: Child,
    lines: Receiver<String>,
    seen: Vec<String>,
}

impl Capture {
    /// Starts `socklab capture ARGS...` and waits for `capturing on lo`.
    fn start(args: &[&str]) -> Capture {
        let mut child = socklab()
            .arg("capture")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn socklab capture");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut capture = Capture {
            child,
            lines,
            seen: Vec::new(),
        };
        capture.wait_for(|line| line == "capturing on lo");
        capture.seen.clear();
        capture
    }

    /// Waits for a line that satisfies `done`, keeping every line seen.
    fn wait_for(&mut self, mut done: impl FnMut(&str) -> bool) -> String {
        let until = Instant::now() + TIMEOUT;
        loop {
            let left = until.saturating_duration_since(Instant::now());
            let line = self.lines.recv_timeout(left).unwrap_or_else(|_| {
                let _ = self.child.kill();
                panic!("capture: no awaited line; saw {:#?}", self.seen)
            });
            self.seen.push(line.clone());
            if done(&line) {
                return line;
            }
        }
    }

    /// Sends SIGINT, waits for exit 0, and returns every line after
    /// `capturing on`: the packets, then the summary.
    fn interrupt(self) -> Vec<String> {
        signal(&self.child, libc::SIGINT);
        self.finish()
    }

    /// Waits for exit 0 and returns every line after `capturing on`.
    fn finish(mut self) -> Vec<String> {
        let status = wait_child(&mut self.child, TIMEOUT);
        assert!(
            status.success(),
            "capture exited {status}: {:#?}",
            self.seen
        );
        let until = Instant::now() + TIMEOUT;
        while let Ok(line) = self
            .lines
            .recv_timeout(until.saturating_duration_since(Instant::now()))
        {
            self.seen.push(line);
        }
        std::mem::take(&mut self.seen)
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A packet line's fields, parsed back from our output.
#[derive(Debug, Clone, PartialEq)]
struct Ours {
    ports: (u16, u16),
    flags: String,
    seq: u32,
    ack: Option<u32>,
    len: u32,
    marks: Vec<String>,
}

/// Parses `  4  0.000075    127.0.0.1 → 127.0.0.1    TCP 66 [TCP Window Update] 1 → 2 [ACK] Seq=1 Ack=1 Win=9 Len=0 ...`.
fn parse_ours(line: &str) -> Option<Ours> {
    let (_, info) = line.split_once(" TCP ")?;
    let (_frame_len, mut info) = info.split_once(' ')?;
    let mut marks = Vec::new();
    while let Some(rest) = info.strip_prefix("[TCP ") {
        let (mark, rest) = rest.split_once("] ")?;
        marks.push(mark.to_owned());
        info = rest;
    }
    let (ports, rest) = info.split_once(" [")?;
    let (src, dst) = ports.split_once(" → ")?;
    let (flags, fields) = rest.split_once("] ")?;
    let field = |name: &str| {
        fields
            .split(' ')
            .find_map(|f| f.strip_prefix(name))
            .and_then(|v| v.parse::<u32>().ok())
    };
    Some(Ours {
        ports: (src.parse().ok()?, dst.parse().ok()?),
        flags: flags.to_owned(),
        seq: field("Seq=")?,
        ack: field("Ack="),
        len: field("Len=")?,
        marks,
    })
}

/// A `tcpdump -nn -S -r` line's fields (absolute numbers; seq only where
/// tcpdump prints it: SYN, FIN, RST or data).
#[derive(Debug)]
struct Theirs {
    ports: (u16, u16),
    flags: String,
    seq: Option<u32>,
    ack: Option<u32>,
    len: u32,
}

/// Parses `IP 127.0.0.1.45620 > 127.0.0.1.33009: Flags [P.], seq 29:41, ack 18, win 64, options [...], length 12`.
fn parse_theirs(line: &str) -> Theirs {
    let port = |endpoint: &str| -> u16 {
        endpoint
            .rsplit('.')
            .next()
            .and_then(|p| p.trim_end_matches(':').parse().ok())
            .unwrap_or_else(|| panic!("port in {line:?}"))
    };
    let words: Vec<&str> = line.split(' ').collect();
    let arrow = words.iter().position(|w| *w == ">").expect("src > dst");
    let flags = line
        .split_once("Flags [")
        .and_then(|(_, rest)| rest.split_once(']'))
        .map(|(flags, _)| flags)
        .expect("flags");
    let after = |name: &str| {
        line.split_once(name)
            .map(|(_, rest)| rest.split([',', ':', ' ']).next().unwrap_or(""))
            .and_then(|v| v.parse::<u32>().ok())
    };
    Theirs {
        ports: (port(words[arrow - 1]), port(words[arrow + 1])),
        flags: tcpdump_flags(flags),
        seq: after(", seq "),
        ack: after(", ack "),
        len: after(", length ").expect("length"),
    }
}

/// tcpdump's `S.` as tshark's `SYN, ACK`.
fn tcpdump_flags(flags: &str) -> String {
    let names = [
        ('F', "FIN"),
        ('S', "SYN"),
        ('R', "RST"),
        ('P', "PSH"),
        ('.', "ACK"),
        ('U', "URG"),
        ('E', "ECE"),
        ('W', "CWR"),
    ];
    let picked: Vec<&str> = names
        .iter()
        .filter(|(c, _)| flags.contains(*c))
        .map(|(_, name)| *name)
        .collect();
    picked.join(", ")
}

fn packet_lines(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .filter(|l| l.contains(" → "))
        .cloned()
        .collect()
}

/// Captures one client run against a fresh server with `-w` and `--print`;
/// returns the printed packet lines, the summary and the file.
fn capture_exchange(
    server: &[&str],
    client: impl FnOnce(&str),
    dir: &Path,
    extra: &[&str],
) -> (Vec<String>, Vec<String>, std::path::PathBuf) {
    let server = Server::start(server);
    let port = server.port();
    let file = dir.join("exchange.pcap");
    let file_arg = file.to_str().expect("utf-8 path");
    let mut capture =
        Capture::start(&[&["--port", &port, "-w", file_arg, "--print"], extra].concat());
    client(&port);
    // The exchange ends with both FINs and the ACK of the second one.
    let mut fins = 0;
    capture.wait_for(|line| {
        if line.contains("[FIN") {
            fins += 1;
        }
        fins == 2 && line.contains("[ACK]") && !line.contains("[FIN")
    });
    let lines = capture.interrupt();
    let packets = packet_lines(&lines);
    let summary = lines.into_iter().filter(|l| !l.contains(" → ")).collect();
    (packets, summary, file)
}

/// Our lines and tcpdump's reading of our file agree packet for packet:
/// ports, flags, lengths, and seq/ack up to one offset per direction (our
/// relative numbers plus that direction's initial sequence number are
/// tcpdump's absolute ones).
fn assert_agrees_with_tcpdump(ours: &[String], file: &Path) {
    require("tcpdump");
    let output = run(
        Command::new("tcpdump").args(["-nn", "-S", "-r"]).arg(file),
        TIMEOUT,
    );
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "tcpdump: {stderr}");
    let theirs: Vec<Theirs> = stdout.lines().map(parse_theirs).collect();
    assert_eq!(theirs.len(), ours.len(), "ours {ours:#?}\ntcpdump {stdout}");
    let mut isn: HashMap<(u16, u16), u32> = HashMap::new();
    for (line, theirs) in ours.iter().zip(&theirs) {
        let ours = parse_ours(line).unwrap_or_else(|| panic!("unparsed line {line:?}"));
        assert_eq!(ours.ports, theirs.ports, "{line}");
        assert_eq!(ours.flags, theirs.flags, "{line}");
        assert_eq!(ours.len, theirs.len, "{line}");
        let mut offset = |ports: (u16, u16), rel: u32, abs: u32| {
            let base = *isn.entry(ports).or_insert(abs.wrapping_sub(rel));
            assert_eq!(base.wrapping_add(rel), abs, "{line}");
        };
        if let Some(abs) = theirs.seq {
            offset(ours.ports, ours.seq, abs);
        }
        match (ours.ack, theirs.ack) {
            (Some(rel), Some(abs)) => offset((ours.ports.1, ours.ports.0), rel, abs),
            (None, None) => {}
            other => panic!("ack differs {other:?} in {line}"),
        }
    }
    // Both directions' numbers were tied to tcpdump's.
    assert_eq!(isn.len(), 2, "{isn:?}");
}

/// `-r` of our file shows exactly what the live capture printed.
fn assert_read_back_matches(ours: &[String], file: &Path) {
    let output = run_socklab(
        &["capture", "-r", file.to_str().expect("utf-8 path")],
        TIMEOUT,
    );
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "capture -r: {stderr}");
    assert_eq!(stdout.lines().collect::<Vec<_>>(), ours);
}

fn assert_summary(summary: &[String], packets: usize) {
    assert_eq!(summary[0], format!("{packets} packets captured"));
    assert_eq!(summary[1], format!("{packets} packets received by filter"));
    assert_eq!(summary[2], "0 packets dropped by kernel");
}

/// Captures `socklab CLIENT...` (its args given the server's port) against
/// `socklab SERVER...` with `extra` capture options, and checks the lines
/// against tcpdump and `-r`.
fn exchange_agrees(server: &[&str], client: impl FnOnce(&str) -> Vec<String>, extra: &[&str]) {
    let dir = tempfile::tempdir().expect("tempdir");
    let (packets, summary, file) = capture_exchange(
        server,
        |port| {
            let args = client(port);
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let out = run_socklab(&args, TIMEOUT);
            assert!(out.status.success(), "{:?}", text(&out));
        },
        dir.path(),
        extra,
    );
    assert_agrees_with_tcpdump(&packets, &file);
    assert_read_back_matches(&packets, &file);
    assert_summary(&summary, packets.len());
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|arg| (*arg).to_owned()).collect()
}

#[test]
fn an_echo_exchange_agrees_with_tcpdump_reading_our_file() {
    exchange_agrees(
        &["echo", "server", "127.0.0.1", "0"],
        |port| args(&["echo", "client", "127.0.0.1", port]),
        &[],
    );
}

/// With a snap length shorter than the request and the answer: the file
/// holds their headers only, and both readers still see their full lengths.
#[test]
fn an_app_exchange_agrees_with_tcpdump_reading_our_file() {
    exchange_agrees(
        &["app", "server", "127.0.0.1", "0"],
        |port| args(&["app", "client", "127.0.0.1", port, "search", "morpheus"]),
        &["--snaplen", "96"],
    );
}

#[test]
fn one_echo_client_in_order_and_nothing_from_another_port() {
    let ours = Server::start(&["echo", "server", "127.0.0.1", "0"]);
    let other = Server::start(&["echo", "server", "127.0.0.1", "0"]);
    let port = ours.port();
    let mut capture = Capture::start(&["--port", &port]);
    // Traffic on the other port all along, before and after ours.
    let stop = Arc::new(AtomicBool::new(false));
    let noise = {
        let (stop, port) = (stop.clone(), other.port());
        std::thread::spawn(move || {
            let mut runs = 0;
            while !stop.load(Ordering::Relaxed) || runs == 0 {
                let out = run_socklab(&["echo", "client", "127.0.0.1", &port], TIMEOUT);
                assert!(out.status.success());
                runs += 1;
            }
            runs
        })
    };
    let out = run_socklab(&["echo", "client", "127.0.0.1", &port], TIMEOUT);
    assert!(out.status.success(), "{:?}", text(&out));
    let mut fins = 0;
    capture.wait_for(|line| {
        fins += usize::from(line.contains("[FIN"));
        fins == 2 && line.contains("[ACK]") && !line.contains("[FIN")
    });
    stop.store(true, Ordering::Relaxed);
    assert!(noise.join().expect("noise thread") > 0);
    let lines = packet_lines(&capture.interrupt());
    let parsed: Vec<Ours> = lines
        .iter()
        .map(|l| parse_ours(l).unwrap_or_else(|| panic!("unparsed {l:?}")))
        .collect();
    let server: u16 = port.parse().expect("port");
    for p in &parsed {
        assert!(p.ports.0 == server || p.ports.1 == server, "{p:?}");
    }
    let flags: Vec<&str> = parsed.iter().map(|p| p.flags.as_str()).collect();
    assert_eq!(flags[..3], ["SYN", "SYN, ACK", "ACK"], "{lines:#?}");
    let (seq0, ack1) = (parsed[0].seq, parsed[1].ack);
    assert_eq!(
        (seq0, ack1, parsed[2].seq, parsed[2].ack),
        (0, Some(1), 1, Some(1))
    );
    // Then "Hello, world" both ways (12 bytes), then the FINs, then the last ACK.
    let data: Vec<usize> = (0..parsed.len()).filter(|&i| parsed[i].len > 0).collect();
    let fins: Vec<usize> = (0..parsed.len())
        .filter(|&i| parsed[i].flags.contains("FIN"))
        .collect();
    assert_eq!(data.len(), 2, "{lines:#?}");
    assert!(data.iter().all(|&i| parsed[i].len == 12 && i > 2));
    assert_eq!(
        parsed[data[0]].ports.1, server,
        "the request goes to the server"
    );
    assert_eq!(parsed[data[1]].ports.0, server, "the echo comes back");
    assert_eq!(fins.len(), 2);
    assert!(fins[0] > data[1], "FINs after the data: {lines:#?}");
    assert_eq!(parsed.last().map(|p| p.flags.as_str()), Some("ACK"));
    // Sequence numbers tell the same story: 12 bytes, then the FIN, each way.
    assert_eq!((parsed[fins[0]].seq, parsed[fins[1]].seq), (13, 13));
    assert_eq!(parsed.last().map(|p| (p.seq, p.ack)), Some((14, Some(14))));
}

#[test]
fn the_stall_pair_shows_the_servers_zero_window() {
    let server = Server::start(&["stall", "server", "127.0.0.1", "0"]);
    let port = server.port();
    let mut capture = Capture::start(&["--port", &port, "--tcp"]);
    let out = run_socklab(&["stall", "client", "127.0.0.1", &port], TIMEOUT);
    assert!(out.status.success(), "{:?}", text(&out));
    let zero = capture.wait_for(|line| line.contains("[TCP ZeroWindow]"));
    let parsed = parse_ours(&zero).expect("a TCP line");
    assert_eq!(
        parsed.ports.0.to_string(),
        port,
        "the server advertises it: {zero}"
    );
    assert!(zero.contains(" Win=0 "), "{zero}");
    let lines = capture.interrupt();
    assert!(
        lines
            .iter()
            .any(|l| l.ends_with(" packets dropped by kernel"))
    );
}

#[test]
fn udp_datagrams_and_a_count() {
    let receiver = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
    let port = receiver.local_addr().expect("addr").port().to_string();
    let capture = Capture::start(&["--udp", "--port", &port, "-c", "2"]);
    let sender = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
    let from = sender.local_addr().expect("addr").port();
    for payload in [&b"hello"[..], b"lucky 7"] {
        sender
            .send_to(payload, receiver.local_addr().expect("addr"))
            .expect("send");
    }
    let lines = capture.finish();
    let packets = packet_lines(&lines);
    assert_eq!(packets.len(), 2, "{lines:#?}");
    assert!(
        packets[0].ends_with(&format!("UDP 47 {from} → {port} Len=5")),
        "{}",
        packets[0]
    );
    assert!(
        packets[1].ends_with(&format!("UDP 49 {from} → {port} Len=7")),
        "{}",
        packets[1]
    );
    assert!(packets[0].starts_with("  1  0.000000    127.0.0.1 → 127.0.0.1    UDP"));
    assert_eq!(lines[2], "2 packets captured");
}

#[test]
fn without_privileges_one_line_and_exit_1() {
    // Another user must be able to run the binary: copy it somewhere they can.
    let dir = tempfile::tempdir().expect("tempdir");
    let binary = dir.path().join("socklab");
    std::fs::copy(env!("CARGO_BIN_EXE_socklab"), &binary).expect("copy binary");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    require("setpriv");
    let output = run(
        Command::new("setpriv")
            .args([
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                "--inh-caps=-all",
            ])
            .arg(&binary)
            .args(["capture", "--port", "1"]),
        TIMEOUT,
    );
    let (stdout, stderr) = text(&output);
    assert_eq!(output.status.code(), Some(1), "{stdout} {stderr}");
    assert_eq!(stdout, "");
    assert_eq!(
        stderr,
        "error: capture needs root or CAP_NET_RAW (socket(AF_PACKET): operation not permitted)\n"
    );
}

#[test]
fn reading_a_file_that_is_not_pcap_is_one_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("not.pcap");
    std::fs::write(
        &file,
        b"GET / HTTP/1.0\r\n\r\n and more than a pcap header's 24 bytes",
    )
    .expect("write");
    let output = run_socklab(&["capture", "-r", file.to_str().expect("utf-8")], TIMEOUT);
    let (_, stderr) = text(&output);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("error: ") && stderr.contains("not a readable pcap file"),
        "{stderr}"
    );
}

#[test]
fn the_tour_shows_each_exchanges_packets() {
    let output = run_socklab(&["tour", "--capture"], TIMEOUT);
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "{stderr}");
    let section = |title: &str| {
        let start = stdout
            .find(&format!("\n== {title}: "))
            .unwrap_or_else(|| panic!("no {title} section"));
        let rest = &stdout[start + 1..];
        let end = rest.find("\n== ").unwrap_or(rest.len());
        rest[..end].to_owned()
    };
    let echo = section("echo");
    let packets: Vec<&str> = echo.lines().filter(|l| l.contains(" → ")).collect();
    assert!(packets[0].contains("[SYN] Seq=0 "), "{echo}");
    assert!(packets[1].contains("[SYN, ACK] Seq=0 Ack=1 "), "{echo}");
    assert!(packets.iter().any(|l| l.contains("[FIN, ACK]")), "{echo}");
    assert!(
        section("stall").contains("[TCP ZeroWindow]"),
        "{}",
        section("stall")
    );
    assert!(section("udp").contains(" UDP "), "{}", section("udp"));
    // No server of its own: nothing is captured for it.
    assert!(!section("lookup").contains("-- its packets"));
}

/// The number before `suffix` in the summary lines (`5 packets captured`).
fn summary_number<S: AsRef<str>>(lines: &[S], suffix: &str) -> u64 {
    lines
        .iter()
        .find_map(|l| l.as_ref().strip_suffix(suffix))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| {
            let tail: Vec<&str> = lines.iter().rev().take(5).map(AsRef::as_ref).collect();
            panic!("no {suffix:?} in the summary (last lines, newest first: {tail:?})")
        })
}

/// Peak resident memory of a process, in KiB (VmHWM).
fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
        .expect("VmHWM")
}

#[test]
fn a_stdout_that_is_not_read_skips_lines_and_stays_small() {
    let server = Server::start(&["echo", "server", "127.0.0.1", "0"]);
    let port = server.port();
    let mut child = socklab()
        .args(["capture", "--port", &port, "--backlog", "16"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn capture");
    let mut stdout = BufReader::new(child.stdout.take().expect("piped"));
    let mut first = String::new();
    stdout.read_line(&mut first).expect("first line");
    assert_eq!(first, "capturing on lo\n");
    // Thousands of packets while nobody reads: the pipe (64 KiB) fills,
    // then the printer's queue of 16, then lines are skipped.
    let target = format!("127.0.0.1:{port}");
    let bench = run_socklab(
        &[
            "bench", "echo", &target, "-c", "4", "-d", "1s", "--warmup", "0s",
        ],
        TIMEOUT,
    );
    assert!(bench.status.success(), "{:?}", text(&bench));
    let peak = peak_rss_kib(child.id());
    signal(&child, libc::SIGINT);
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).expect("the rest");
    assert!(wait_child(&mut child, TIMEOUT).success());
    let lines: Vec<&str> = rest.lines().collect();
    let shown = lines.iter().filter(|l| l.contains(" → ")).count() as u64;
    let number = |suffix: &str| summary_number(&lines, suffix);
    let captured = number(" packets captured");
    let skipped = number(" lines not shown (stdout too slow)");
    assert!(skipped > 0);
    assert_eq!(shown + skipped, captured);
    assert!(peak < 64 * 1024, "peak RSS {peak} KiB");
}

#[test]
fn the_host_filter_runs_in_the_kernel() {
    let receiver = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
    let to = receiver.local_addr().expect("addr");
    let port = to.port().to_string();
    let capture = Capture::start(&["--host", "127.0.0.2", "--udp", "--port", &port, "-c", "1"]);
    // First a datagram the filter must refuse, then one it must keep: the
    // one line shown is the second.
    let plain = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
    plain.send_to(b"refused", to).expect("send");
    let other = std::net::UdpSocket::bind("127.0.0.2:0").expect("bind 127.0.0.2");
    other.send_to(b"kept", to).expect("send");
    let packets = packet_lines(&capture.finish());
    assert_eq!(packets.len(), 1);
    assert!(
        packets[0].contains(&format!(
            "127.0.0.2 → 127.0.0.1    UDP 46 {} → {} Len=4",
            other.local_addr().expect("addr").port(),
            to.port()
        )),
        "{}",
        packets[0]
    );
}

#[test]
fn a_duration_ends_the_capture() {
    let (_keep, port) = common::refused_udp_port();
    let output = run_socklab(
        &[
            "capture",
            "--port",
            &port.to_string(),
            "--duration",
            "200ms",
        ],
        TIMEOUT,
    );
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "{stderr}");
    assert_eq!(
        stdout,
        "capturing on lo\n0 packets captured\n0 packets received by filter\n0 packets dropped by kernel\n"
    );
}

#[test]
fn a_stopped_reader_makes_the_kernel_drop_and_count() {
    let receiver = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
    let to = receiver.local_addr().expect("addr");
    let port = to.port().to_string();
    // The smallest ring: two 1 MiB blocks, about 1,900 of these datagrams.
    let capture = Capture::start(&[
        "--udp",
        "--port",
        &port,
        "--buffer-size",
        "1",
        "-w",
        "/dev/null",
    ]);
    signal(&capture.child, libc::SIGSTOP);
    let sender = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
    let sent = 5000u64;
    for _ in 0..sent {
        // Loopback delivers to the packet socket inside send: once these
        // return, the ring is as full as it gets.
        sender.send_to(&[0u8; 1000], to).expect("send");
    }
    signal(&capture.child, libc::SIGCONT);
    let lines = capture.interrupt();
    let number = |suffix: &str| summary_number(&lines, suffix);
    let (captured, received, dropped) = (
        number(" packets captured"),
        number(" packets received by filter"),
        number(" packets dropped by kernel"),
    );
    assert_eq!(received, sent, "{lines:?}");
    assert!(dropped >= sent - 2500, "{lines:?}");
    assert!(captured + dropped <= received, "{lines:?}");
}
