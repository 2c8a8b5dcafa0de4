//! The binary as a user meets it: the tour, one-line errors, exit codes.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::{Server, TIMEOUT, run_socklab, socklab, text};

#[test]
fn tour_shows_every_pair_quickly() {
    let started = Instant::now();
    let out = run_socklab(&["tour"], Duration::from_secs(10));
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(started.elapsed() < Duration::from_secs(10));
    for expected in [
        "== echo:",
        "Received b'Hello, world'",
        "received b'Message 1 from client.Message 2 from client.' from connection 2",
        "== fixed:",
        "The server said b'Farewell, client'",
        "== upper:",
        "1048576 bytes received and verified",
        "== hello:",
        "Welcome!\nHello, Michael!\nHello, Tracy!\nHello, Sarah!\n",
    ] {
        assert!(
            stdout.contains(expected),
            "tour lacks {expected:?}:\n{stdout}"
        );
    }
}

// Must show 1 of the TLS issue: every TCP pair of the tour over TLS, the
// servers with a development certificate made on the spot and the clients
// verifying it (nothing disables verification).
#[test]
fn tour_runs_every_tcp_pair_over_tls() {
    let data = tempfile::tempdir().expect("tempdir");
    let out = common::run(
        socklab()
            .args(["tour", "--tls"])
            .env("SOCKLAB_DATA_DIR", data.path()),
        Duration::from_secs(60),
    );
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    for expected in [
        " --tls\nReceived b'Hello, world'\n",
        "received b'Message 1 from client.Message 2 from client.' from connection 2",
        " --tls\nClient has been assigned socket name",
        "The server said b'Farewell, client'",
        "1048576 bytes received and verified",
        " --tls\nWelcome!\nHello, Michael!\nHello, Tracy!\nHello, Sarah!\n",
        "search morpheus --tls\ngot result: Follow the white rabbit. 🐰",
        "--tls --nick alice",
        "* alice left",
        "stall client 127.0.0.1",
        "every byte written waits in a kernel queue",
        "https://127.0.0.1:",
        "Hello World",
    ] {
        assert!(
            stdout.contains(expected),
            "tour --tls lacks {expected:?}:\n{stdout}"
        );
    }
    assert!(!stderr.contains("insecure"), "{stderr}");
    assert!(data.path().join("ca.pem").exists());
}

#[test]
fn refused_connection_is_one_line_and_exit_1() {
    let (_held, port) = common::refused_tcp_port();
    let out = run_socklab(&["echo", "client", "127.0.0.1", &port.to_string()], TIMEOUT);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout.is_empty());
    assert_eq!(
        stderr,
        format!(
            "error: cannot connect to 127.0.0.1:{port}: connection refused (is a server listening?)\n"
        )
    );
}

#[test]
fn address_in_use_is_one_line_and_exit_1() {
    let server = Server::start(&["echo", "server", "127.0.0.1", "0"]);
    let out = run_socklab(&["fixed", "server", "127.0.0.1", &server.port()], TIMEOUT);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr,
        format!(
            "error: cannot listen on 127.0.0.1:{}: address already in use\n",
            server.port()
        )
    );
}

#[test]
fn usage_errors_exit_2() {
    let out = run_socklab(&["echo", "client", "127.0.0.1", "not-a-port"], TIMEOUT);
    assert_eq!(out.status.code(), Some(2));
    let out = run_socklab(&["nosuch"], TIMEOUT);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn unresolvable_name_is_one_line_and_exit_1() {
    let args = ["echo", "client", "no-such-host.invalid", "7"];
    // In a network namespace of its own (where allowed) the resolver fails at
    // once: no query leaves the machine, and a slow or unreachable DNS
    // server (seconds per try) cannot stall the test past its limit.
    let isolated = common::run(Command::new("unshare").args(["-rn", "true"]), TIMEOUT)
        .status
        .success();
    let out = if isolated {
        let mut cmd = Command::new("unshare");
        cmd.args(["-rn", env!("CARGO_BIN_EXE_socklab")])
            .args(args)
            .env_remove("RUST_LOG");
        common::run(&mut cmd, TIMEOUT)
    } else {
        run_socklab(&args, TIMEOUT)
    };
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr.starts_with("error: cannot resolve no-such-host.invalid: "),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}

#[test]
fn sigterm_on_an_idle_server_exits_0() {
    let mut server = Server::start(&["hello", "server", "127.0.0.1", "0"]);
    let status = server.terminate(TIMEOUT);
    assert_eq!(status.code(), Some(0));
}

#[test]
fn a_closed_stdout_ends_quietly() {
    let script = format!("{} tour | head -c 1", env!("CARGO_BIN_EXE_socklab"));
    let out = common::run(
        std::process::Command::new("sh").args(["-c", &script]),
        TIMEOUT,
    );
    let (stdout, stderr) = text(&out);
    assert_eq!(stdout, "\n");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn trust_flags_without_tls_are_one_line_and_exit_1() {
    let pin = "sha256//QfcbGI3yZHI0+jMrRsZbygjsYnUsgi7kwXgToqhOsgQ=";
    let out = run_socklab(&["echo", "client", "127.0.0.1", "9", "--pin", pin], TIMEOUT);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout.is_empty());
    assert_eq!(
        stderr,
        "error: --cacert, --pin, --insecure, --cert and --key need --tls\n"
    );
}

/// The `Threads:` count of a running process.
fn threads_of(pid: u32) -> usize {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("Threads:"))
        .and_then(|n| n.trim().parse().ok())
        .expect("a Threads line")
}

/// One line's round trip through an echo server at `addr`.
fn echoes(addr: std::net::SocketAddr) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(TIMEOUT)).expect("timeout");
    stream.write_all(b"ping\n").expect("write");
    let mut buf = [0u8; 5];
    stream.read_exact(&mut buf).expect("echoed");
    assert_eq!(&buf, b"ping\n");
}

// --threads 1 runs every task on the main thread (a current-thread
// runtime, as redis runs on one); --threads 3 has three workers.
#[test]
fn threads_sets_how_many_threads_serve() {
    let one = Server::start(&["--threads", "1", "echo", "server", "127.0.0.1", "0"]);
    echoes(one.addr);
    assert_eq!(threads_of(one.child.id()), 1, "--threads 1");
    let three = Server::start(&["--threads", "3", "echo", "server", "127.0.0.1", "0"]);
    echoes(three.addr);
    assert!(
        threads_of(three.child.id()) >= 4,
        "--threads 3: main and three workers"
    );
    let out = run_socklab(&["--threads", "0", "echo", "server"], TIMEOUT);
    assert!(!out.status.success());
    assert!(text(&out).1.contains("--threads"), "{:?}", text(&out).1);
}
