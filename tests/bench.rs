//! `socklab bench`: every answer verified, against our servers, foreign ones
//! (ncat) and deliberately wrong ones owned by the tests; the report's JSON
//! keys; the refusal of non-local targets. Runs are short (under a second of
//! load each) and bounded by the harness timeouts.

mod common;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{Server, TIMEOUT, require, run, run_socklab, run_with_input, text};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};

const SHORT: [&str; 4] = ["--duration", "0.5", "--warmup", "0.2"];

/// Runs `socklab bench ARGS... --json` plus a short load; returns the exit
/// success, the parsed report and stderr.
fn bench(args: &[&str]) -> (bool, serde_json::Value, String) {
    let mut all = vec!["bench"];
    all.extend_from_slice(args);
    all.extend_from_slice(&SHORT);
    all.push("--json");
    let output = run_socklab(&all, TIMEOUT);
    let (stdout, stderr) = text(&output);
    let report = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|err| panic!("no JSON report ({err}): {stdout:?} {stderr:?}"));
    (output.status.success(), report, stderr)
}

/// Runs blocking `f` (which runs the binary) while the test's servers keep
/// serving on the runtime.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f)
        .await
        .expect("blocking part ran")
}

/// A TCP server on 127.0.0.1:0 that answers every read with `reply(bytes)`.
async fn tcp_server(reply: fn(&mut Vec<u8>)) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = vec![0u8; 64 * 1024];
                while let Ok(n) = stream.read(&mut buf).await {
                    if n == 0 {
                        return;
                    }
                    let mut data = buf[..n].to_vec();
                    reply(&mut data);
                    if stream.write_all(&data).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    addr
}

fn assert_documented_keys(report: &serde_json::Value) {
    for key in [
        "protocol",
        "target",
        "unit",
        "connections",
        "pipeline",
        "size",
        "rate",
        "duration_s",
        "warmup_s",
        "completed",
        "per_second",
        "bytes_sent",
        "bytes_received",
        "mb_per_s",
        "latency_ms",
        "errors",
        "lost",
        "first_error",
    ] {
        assert!(report.get(key).is_some(), "key {key} missing in {report}");
    }
    for key in ["connect", "io", "verify", "timeout", "total"] {
        assert!(report["errors"].get(key).is_some(), "errors.{key} missing");
    }
}

#[test]
fn echo_against_our_server_verifies_everything() {
    let server = Server::start(&["echo", "server", "127.0.0.1", "0"]);
    let addr = server.addr.to_string();
    let (ok, report, stderr) = bench(&["echo", &addr, "-c", "4", "-s", "100", "-P", "2"]);
    assert!(ok, "{stderr}");
    assert_documented_keys(&report);
    assert_eq!(report["errors"]["total"], 0);
    let completed = report["completed"].as_u64().expect("count");
    assert!(completed > 0, "{report}");
    // Exact byte counts: every counted round trip moved 100 bytes each way,
    // give or take the requests in flight at the window's edges.
    let received = report["bytes_received"].as_u64().expect("bytes");
    assert!(
        received.abs_diff(completed * 100) <= 4 * 2 * 100 * 2,
        "{report}"
    );
    for key in ["avg", "min", "p50", "p95", "p99", "p99_9", "max"] {
        assert!(
            report["latency_ms"][key].as_f64().is_some(),
            "latency {key}"
        );
    }
}

#[test]
fn echo_bulk_streams_both_ways() {
    let server = Server::start(&["echo", "server", "127.0.0.1", "0"]);
    let addr = server.addr.to_string();
    let (ok, report, stderr) = bench(&["echo", &addr, "-c", "1", "--bulk"]);
    assert!(ok, "{stderr}");
    assert_eq!(report["errors"]["total"], 0);
    assert!(report["mb_per_s"].as_f64().expect("rate") > 1.0, "{report}");
}

#[test]
fn open_loop_keeps_the_rate() {
    let server = Server::start(&["echo", "server", "127.0.0.1", "0"]);
    let addr = server.addr.to_string();
    let (ok, report, stderr) = bench(&["echo", &addr, "-c", "2", "--rate", "400"]);
    assert!(ok, "{stderr}");
    // 400/s for 0.5 s: 200 requests, whatever the server's speed.
    let completed = report["completed"].as_u64().expect("count");
    assert!((150..=250).contains(&completed), "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_echo_fails_the_bench() {
    let addr = tcp_server(|data| data[0] ^= 0x20).await.to_string();
    let (ok, report, stderr) = blocking(move || bench(&["echo", &addr, "-c", "3"])).await;
    assert!(!ok, "a flipped byte must fail the bench");
    assert_eq!(report["errors"]["verify"], 3, "{report}");
    assert!(stderr.contains("differs at byte 0"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_status_is_verified() {
    fn ok(data: &mut Vec<u8>) {
        let requests = data.windows(4).filter(|w| w == b"\r\n\r\n").count();
        *data = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".repeat(requests);
    }
    fn broken(data: &mut Vec<u8>) {
        *data = b"HTTP/1.1 500 Oops\r\nContent-Length: 0\r\n\r\n".to_vec();
    }
    let good = tcp_server(ok).await.to_string();
    let bad = tcp_server(broken).await.to_string();
    let (passed, report, stderr) =
        blocking(move || bench(&["http", &good, "-c", "4", "-P", "4"])).await;
    assert!(passed, "{stderr}");
    assert!(report["completed"].as_u64().expect("count") > 0);
    let (passed, report, stderr) = blocking(move || bench(&["http", &bad, "-c", "2"])).await;
    assert!(!passed);
    assert_eq!(report["errors"]["verify"], 2, "{report}");
    assert!(stderr.contains("status 500"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn udp_replies_are_verified() {
    async fn lucky(reply: &'static [u8]) -> String {
        let socket = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
        let addr = socket.local_addr().expect("addr").to_string();
        tokio::spawn(async move {
            let mut buf = [0u8; 2048];
            while let Ok((_, from)) = socket.recv_from(&mut buf).await {
                let _ = socket.send_to(reply, from).await;
            }
        });
        addr
    }
    let good = lucky(b"Here's your lucky number:0.5").await;
    let bad = lucky(b"Here's your lucky number: 7").await;
    let (ok, report, stderr) = blocking(move || bench(&["udp", &good, "-c", "2"])).await;
    assert!(ok, "{stderr}");
    assert_eq!(report["lost"], 0);
    let (ok, report, _) = blocking(move || bench(&["udp", &bad, "-c", "2"])).await;
    assert!(!ok);
    assert_eq!(report["errors"]["verify"], 2, "{report}");
}

/// Starts `ncat -l -k --chat` on loopback and waits for its `Listening on`
/// line. ncat does not say which port it got for port 0, so a port is picked
/// by binding and letting go; when a test running in parallel takes it
/// first, ncat exits at once and another port is tried.
fn ncat_chat_server() -> (Child, String) {
    for _ in 0..5 {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("free port");
        let addr = probe.local_addr().expect("addr").to_string();
        drop(probe);
        let (host, port) = addr.split_once(':').expect("IPv4 address");
        let mut ncat = Command::new("ncat")
            .args(["-v", "-l", "-k", "--chat", host, port])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("ncat runs");
        let stderr = ncat.stderr.take().expect("piped stderr");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            // Drains to the end so that ncat never blocks on its log.
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        // Ends at the line, or when ncat exits (its stderr closes).
        while let Ok(line) = rx.recv_timeout(TIMEOUT) {
            if line.contains("Listening on") {
                return (ncat, addr);
            }
        }
        let _ = ncat.kill();
        let _ = ncat.wait();
    }
    panic!("ncat did not start listening");
}

#[test]
fn chat_lines_reach_every_client_of_ncat() {
    require("ncat");
    let (mut ncat, addr) = ncat_chat_server();
    // ncat's listen backlog is small: one handshake at a time.
    let (ok, report, stderr) = bench(&["chat", &addr, "-c", "10", "--senders", "2", "--ramp", "1"]);
    let _ = ncat.kill();
    let _ = ncat.wait();
    assert!(ok, "{stderr}");
    assert!(report["completed"].as_u64().expect("count") > 0, "{report}");
    // ncat does not send a client its own lines: no order to compare.
    assert_eq!(
        report["order"],
        "not applicable (the server does not send clients their own lines)"
    );
}

#[test]
fn remote_targets_are_refused_before_connecting() {
    let started = Instant::now();
    // TEST-NET-1: documentation only, never routed; nothing is sent there.
    let output = run_socklab(&["bench", "echo", "192.0.2.1:7"], TIMEOUT);
    let (_, stderr) = text(&output);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr.contains("refusing to load 192.0.2.1:7"), "{stderr}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "it must not try to connect"
    );
}

#[test]
fn app_against_our_server_in_both_modes() {
    // -q: the server logs every request at info.
    let server = Server::start(&["-q", "app", "server", "127.0.0.1", "0"]);
    let addr = server.addr.to_string();
    let (ok, report, stderr) = bench(&["app", &addr, "-c", "4"]);
    assert!(ok, "{stderr}");
    assert_eq!(report["protocol"], "app", "{report}");
    assert_eq!(report["errors"]["total"], 0, "{report}");
    // More than one rotation: hits, the non-ASCII query, a miss, binary.
    assert!(report["completed"].as_u64().expect("count") > 5, "{report}");
    let (ok, report, stderr) = bench(&["app", &addr, "-c", "4", "--keep-alive", "-P", "8"]);
    assert!(ok, "{stderr}");
    assert_eq!(report["protocol"], "app --keep-alive", "{report}");
    assert_eq!(report["errors"]["total"], 0, "{report}");
    assert!(report["completed"].as_u64().expect("count") > 5, "{report}");
}

#[test]
fn app_against_the_python_selectors_server() {
    require("python3");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/bench/anchors/app_server.py");
    let mut cmd = Command::new("python3");
    cmd.args([script, "127.0.0.1", "0"]);
    let server = Server::start_command(cmd);
    let addr = server.addr.to_string();
    // The texts' server answers one request per connection, so no --keep-alive.
    let (ok, report, stderr) = bench(&["app", &addr, "-c", "4"]);
    assert!(ok, "{stderr}");
    assert_eq!(report["errors"]["total"], 0, "{report}");
    assert!(report["completed"].as_u64().expect("count") > 5, "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_app_answer_fails_the_bench() {
    use futures_util::{SinkExt, StreamExt};
    use socklab::app::{Message, MessageCodec};
    // Answers every request with the same wrong result, then closes.
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut framed = tokio_util::codec::Framed::new(stream, MessageCodec::default());
                if let Some(Ok(_request)) = framed.next().await {
                    let mut object = serde_json::Map::new();
                    object.insert("result".into(), "Follow the black cat.".into());
                    let _ = framed.send(Message::json(&object)).await;
                }
            });
        }
    });
    let (ok, report, stderr) = blocking(move || bench(&["app", &addr, "-c", "2"])).await;
    assert!(!ok, "a wrong result must fail the bench");
    assert_eq!(report["errors"]["verify"], 2, "{report}");
    assert!(stderr.contains("answer 0 is wrong"), "{stderr}");
    assert!(stderr.contains("black cat"), "{stderr}");
}

#[test]
fn the_spectrum_reads_as_hdrhistogram_reads_it() {
    let server = Server::start(&["-q", "echo", "server", "127.0.0.1", "0"]);
    let addr = server.addr.to_string();
    let (ok, report, stderr) = bench(&["echo", &addr, "-c", "2", "--latency-spectrum"]);
    assert!(ok, "{stderr}");
    let spectrum = report["latency_spectrum"].as_str().expect("spectrum text");
    assert!(spectrum.starts_with("       Value     Percentile TotalCount 1/(1-Percentile)\n\n"));
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/bench/spectrum_check.py");
    let output = run_with_input(
        Command::new("python3").arg(script),
        report.to_string().as_bytes(),
        TIMEOUT,
    );
    let (stdout, stderr) = text(&output);
    if output.status.code() == Some(3) {
        eprintln!("skipped: python3 has no hdrh module (pip install hdrhistogram)");
        return;
    }
    assert!(output.status.success(), "{stdout} {stderr}");
    assert!(stdout.starts_with("ok "), "{stdout}");
}

#[test]
fn the_plot_is_an_svg_that_renders() {
    let server = Server::start(&["-q", "echo", "server", "127.0.0.1", "0"]);
    let addr = server.addr.to_string();
    let dir = tempfile::tempdir().expect("tempdir");
    let svg = dir.path().join("run.svg");
    let path = svg.to_str().expect("utf-8 path");
    let (ok, _, stderr) = bench(&["echo", &addr, "-c", "2", "--plot", path]);
    assert!(ok, "{stderr}");
    let drawn = std::fs::read_to_string(&svg).expect("the plot was written");
    assert!(
        drawn.starts_with("<svg"),
        "{}",
        &drawn[..drawn.len().min(200)]
    );
    assert!(drawn.contains(&format!("latency by percentile: echo {addr}")));
    assert!(drawn.contains("round trips per second over time"));
    assert!(drawn.contains("99.9%"), "the percentile axis is labelled");
    if Command::new("rsvg-convert")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("skipped rendering: no rsvg-convert (Debian's librsvg2-bin)");
        return;
    }
    let png = dir.path().join("run.png");
    let output = run(
        Command::new("rsvg-convert").arg(&svg).arg("-o").arg(&png),
        TIMEOUT,
    );
    assert!(output.status.success(), "{:?}", text(&output));
    let bytes = std::fs::read(&png).expect("png written");
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
}

/// utime + stime of `pid` in µs, read straight from /proc/PID/stat.
fn proc_cpu_us(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("stat");
    // The command name may hold spaces: the fields after it are counted from its ')'.
    let after = &stat[stat.rfind(')').expect("comm") + 2..];
    let fields: Vec<&str> = after.split(' ').collect();
    // Fields 14 and 15 of the whole line are the 12th and 13th after the name.
    let ticks: u64 =
        fields[11].parse::<u64>().expect("utime") + fields[12].parse::<u64>().expect("stime");
    // SAFETY: sysconf only reads a system constant.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as u64;
    ticks * 1_000_000 / hz
}

#[test]
fn server_cpu_agrees_with_proc_stat() {
    let server = Server::start(&["-q", "echo", "server", "127.0.0.1", "0"]);
    let addr = server.addr.to_string();
    let pid = server.child.id();
    let pid_text = pid.to_string();
    let before = proc_cpu_us(pid);
    // No warm-up: the window is nearly the whole run, so the two agree.
    let output = run_socklab(
        &[
            "bench",
            "echo",
            &addr,
            "-c",
            "4",
            "--duration",
            "1",
            "--warmup",
            "0",
            "--server-pid",
            &pid_text,
            "--json",
        ],
        TIMEOUT,
    );
    let after = proc_cpu_us(pid);
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "{stderr}");
    let report: serde_json::Value = serde_json::from_str(stdout.trim()).expect("JSON");
    let usage = &report["server"];
    assert_eq!(usage["pid"], pid);
    let cpu = usage["cpu_us"].as_u64().expect("cpu_us");
    let whole = after - before;
    // The run's CPU outside the window (connecting, draining) is small;
    // a sample is good to one clock tick (10 ms).
    assert!(cpu <= whole + 10_000, "window {cpu} µs > run {whole} µs");
    assert!(
        cpu + 30_000 >= whole * 8 / 10,
        "window {cpu} µs, run {whole} µs"
    );
    assert!(cpu > 0, "a busy server used no CPU? {report}");
    let completed = report["completed"].as_f64().expect("count");
    let per = usage["cpu_us_per_request"].as_f64().expect("per request");
    assert!((per - cpu as f64 / completed).abs() < 1e-6, "{report}");
    assert!(usage["rss_bytes"].as_u64().expect("rss") > 1 << 20);
}

#[test]
fn server_pid_of_no_process_is_refused() {
    let output = run_socklab(
        &["bench", "echo", "127.0.0.1:9", "--server-pid", "4294967"],
        TIMEOUT,
    );
    let (_, stderr) = text(&output);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("reading /proc/4294967/stat"), "{stderr}");
}

#[test]
fn vs_interleaves_runs_and_gives_medians_and_ratios() {
    let a = Server::start(&["-q", "echo", "server", "127.0.0.1", "0"]);
    let b = Server::start(&["-q", "echo", "server", "127.0.0.1", "0"]);
    let (a_addr, b_addr) = (a.addr.to_string(), b.addr.to_string());
    let (a_pid, b_pid) = (a.child.id().to_string(), b.child.id().to_string());
    let output = run_socklab(
        &[
            "bench",
            "echo",
            &a_addr,
            "-c",
            "2",
            "--duration",
            "0.3",
            "--warmup",
            "0.1",
            "--server-pid",
            &a_pid,
            "--vs",
            &b_addr,
            "--vs-pid",
            &b_pid,
            "--runs",
            "3",
            "--json",
        ],
        TIMEOUT,
    );
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "{stderr}");
    let json: serde_json::Value = serde_json::from_str(stdout.trim()).expect("JSON");
    assert_eq!(json["runs"], 3);
    assert_eq!(json["a"]["target"], a_addr.as_str());
    assert_eq!(json["b"]["target"], b_addr.as_str());
    let median = |side: &str| {
        let mut v: Vec<f64> = json[side]["runs"]
            .as_array()
            .expect("runs")
            .iter()
            .map(|r| r["per_second"].as_f64().expect("rate"))
            .collect();
        assert_eq!(v.len(), 3);
        v.sort_by(f64::total_cmp);
        assert_eq!(json[side]["median"]["per_second"].as_f64(), Some(v[1]));
        assert!(
            json[side]["median"]["cpu_us_per_request"]
                .as_f64()
                .is_some()
        );
        v[1]
    };
    let ratio = median("a") / median("b");
    let reported = json["ratio"]["per_second"].as_f64().expect("ratio");
    assert!((reported - ratio).abs() < 1e-9, "{json}");
    assert!(
        json["ratio"]["cpu_us_per_request"].as_f64().is_some(),
        "{json}"
    );
    // The human table has the same rows.
    let output = run_socklab(
        &[
            "bench",
            "echo",
            &a_addr,
            "-c",
            "1",
            "--duration",
            "0.2",
            "--warmup",
            "0",
            "--vs",
            &b_addr,
            "--runs",
            "1",
        ],
        TIMEOUT,
    );
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stdout.contains(&format!(
            "A {a_addr} vs B {b_addr}, medians of 1 interleaved runs"
        )),
        "{stdout}"
    );
    assert!(stdout.contains("  round trips per second "), "{stdout}");
    assert!(
        stdout.contains("  server CPU µs per round trip "),
        "{stdout}"
    );
}

#[test]
fn idle_reports_the_servers_memory_per_connection() {
    let server = Server::start(&["-q", "echo", "server", "127.0.0.1", "0"]);
    let addr = server.addr.to_string();
    let pid = server.child.id().to_string();
    let dir = tempfile::tempdir().expect("tempdir");
    let svg = dir.path().join("idle.svg");
    let output = run_socklab(
        &[
            "bench",
            "idle",
            &addr,
            "--conns",
            "60",
            "--step",
            "20",
            "--server-pid",
            &pid,
            "--json",
            "--plot",
            svg.to_str().expect("utf-8 path"),
        ],
        TIMEOUT,
    );
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "{stderr}");
    let report: serde_json::Value = serde_json::from_str(stdout.trim()).expect("JSON");
    assert_eq!(report["opened"], 60);
    let steps = report["steps"].as_array().expect("steps");
    let conns: Vec<u64> = steps
        .iter()
        .map(|s| s["conns"].as_u64().expect("conns"))
        .collect();
    assert_eq!(conns, [20, 40, 60]);
    // The server holds one descriptor per connection on top of its own.
    let fds: Vec<u64> = steps
        .iter()
        .map(|s| s["server_fds"].as_u64().expect("fds"))
        .collect();
    assert_eq!(fds[1] - fds[0], 20, "{report}");
    assert_eq!(fds[2] - fds[1], 20, "{report}");
    assert!(steps[2]["rss_bytes"].as_u64().expect("rss") > 1 << 20);
    assert!(steps[2]["rss_per_conn_bytes"].as_f64().is_some());
    let drawn = std::fs::read_to_string(&svg).expect("the plot was written");
    assert!(drawn.starts_with("<svg"));
    assert!(drawn.contains("server RSS per connection"));
}

#[test]
fn idle_spreads_source_addresses_past_the_ephemeral_port_range() {
    // SAFETY: getuid cannot fail.
    if unsafe { libc::getuid() } != 0 {
        eprintln!("skipped: creating a network namespace needs root");
        return;
    }
    let ns = format!("socklab-idle-{}", std::process::id());
    let ip = |args: &[&str]| run(Command::new("ip").args(args), TIMEOUT);
    if !ip(&["netns", "add", &ns]).status.success() {
        eprintln!("skipped: `ip netns add` failed (no network namespaces here)");
        return;
    }
    /// Deletes the namespace however the test ends.
    struct Delete(String);
    impl Drop for Delete {
        fn drop(&mut self) {
            let _ = run(Command::new("ip").args(["netns", "del", &self.0]), TIMEOUT);
        }
    }
    let _delete = Delete(ns.clone());
    assert!(ip(&["-n", &ns, "link", "set", "lo", "up"]).status.success());
    // 50 ephemeral ports: 150 connections to one server need 3 source addresses.
    let sysctl = ip(&[
        "netns",
        "exec",
        &ns,
        "sysctl",
        "-w",
        "net.ipv4.ip_local_port_range=40000 40049",
    ]);
    assert!(sysctl.status.success(), "{:?}", text(&sysctl));
    let socklab = env!("CARGO_BIN_EXE_socklab");
    let mut cmd = Command::new("ip");
    cmd.args([
        "netns",
        "exec",
        &ns,
        socklab,
        "-q",
        "echo",
        "server",
        "127.0.0.1",
        "0",
    ]);
    let server = Server::start_command(cmd);
    // `ip netns exec` execs the program: the child is the server itself.
    let pid = server.child.id().to_string();
    let addr = server.addr.to_string();
    let output = ip(&[
        "netns",
        "exec",
        &ns,
        socklab,
        "bench",
        "idle",
        &addr,
        "--conns",
        "150",
        "--step",
        "50",
        "--server-pid",
        &pid,
        "--json",
    ]);
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "{stdout} {stderr}");
    let report: serde_json::Value = serde_json::from_str(stdout.trim()).expect("JSON");
    assert_eq!(report["opened"], 150, "{report}");
    let last = &report["steps"][2];
    let sources = last["sources"].as_u64().expect("sources");
    assert!((3..=5).contains(&sources), "{report}");
    let first = report["steps"][0]["server_fds"].as_u64().expect("fds");
    assert_eq!(last["server_fds"].as_u64(), Some(first + 100), "{report}");
}
