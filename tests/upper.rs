//! upper: large verified transfers between separate processes, the texts'
//! deadlock reported instead of hanging, and SIGTERM mid-transfer.

mod common;

use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{Server, TIMEOUT, run_socklab, socklab, text, wait_child};

const MIB: u64 = 1024 * 1024;

#[test]
fn quarter_gigabyte_verified_between_processes() {
    let server = Server::start(&["upper", "server", "127.0.0.1", "0"]);
    let bytes = (256 * MIB).to_string();
    let out = run_socklab(
        &["upper", "client", "127.0.0.1", &server.port(), &bytes],
        Duration::from_secs(120),
    );
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stdout.contains(&format!("  {bytes} bytes sent\n")),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("  {bytes} bytes received and verified")),
        "{stdout}"
    );
    assert!(stdout.contains("The first data received says b'CAPITALIZE THIS!"));
    server.wait_for_log(&format!("{bytes} bytes processed"), TIMEOUT);
}

#[test]
fn byte_count_is_rounded_up_to_sixteen() {
    let server = Server::start(&["upper", "server", "127.0.0.1", "0"]);
    let out = run_socklab(
        &["upper", "client", "127.0.0.1", &server.port(), "33"],
        TIMEOUT,
    );
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stdout.contains("  48 bytes received and verified"),
        "{stdout}"
    );
    assert!(stdout.contains(
        "The first data received says b'CAPITALIZE THIS!CAPITALIZE THIS!CAPITALIZE THIS!'"
    ));
}

#[test]
fn lockstep_reports_the_deadlock_with_queue_sizes() {
    let server = Server::start(&["upper", "server", "127.0.0.1", "0"]);
    let started = Instant::now();
    let out = run_socklab(
        &[
            "upper",
            "client",
            "127.0.0.1",
            &server.port(),
            &(64 * MIB).to_string(),
            "--lockstep",
            "--stall-timeout",
            "2s",
        ],
        Duration::from_secs(15),
    );
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(started.elapsed() < Duration::from_secs(15));
    let line = stderr
        .lines()
        .find(|l| l.starts_with("error: deadlock: nothing moved for 2s; sent "))
        .unwrap_or_else(|| panic!("no deadlock report in {stderr}"));
    let numbers: Vec<u64> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|n| n.parse().ok())
        .collect();
    // [2, sent, total, received, send_q, recv_q]
    let (sent, total, received, send_q, recv_q) =
        (numbers[1], numbers[2], numbers[3], numbers[4], numbers[5]);
    assert_eq!(total, 64 * MIB);
    assert!(sent > 0 && sent < total, "{line}");
    assert_eq!(received, 0, "lockstep reads nothing while sending: {line}");
    assert!(send_q > 0, "unsent bytes must wait in Send-Q: {line}");
    assert!(
        recv_q > 0,
        "the server's replies must wait in Recv-Q: {line}"
    );
}

#[test]
fn sigterm_lets_the_transfer_in_flight_finish() {
    let mut server = Server::start(&["upper", "server", "127.0.0.1", "0", "--grace", "60s"]);
    let bytes = (256 * MIB).to_string();
    let mut client = socklab()
        .args(["upper", "client", "127.0.0.1", &server.port(), &bytes])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn client");
    server.wait_for_log("Processing up to", TIMEOUT);
    common::signal(&server.child, libc::SIGTERM);
    server.wait_for_log("shutting down", TIMEOUT);

    let status = wait_child(&mut client, Duration::from_secs(120));
    let mut stdout = String::new();
    std::io::Read::read_to_string(&mut client.stdout.take().expect("stdout"), &mut stdout)
        .expect("client output");
    assert!(status.success(), "client failed: {stdout}");
    assert!(stdout.contains(&format!("  {bytes} bytes received and verified")));
    let server_status = wait_child(&mut server.child, TIMEOUT);
    assert_eq!(server_status.code(), Some(0));
    assert!(
        server
            .logs()
            .iter()
            .any(|l| l.contains("waiting up to 60s for 1 connection")),
        "{:?}",
        server.logs()
    );
}
