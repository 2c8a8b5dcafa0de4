//! lookup: getaddrinfo and the services database through the binary.

mod common;

use std::process::Command;

use common::{TIMEOUT, run, run_socklab, text};

#[test]
fn localhost_lists_its_addresses() {
    let out = run_socklab(&["lookup", "localhost", "80"], TIMEOUT);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    let mut lines = stdout.lines();
    assert_eq!(
        lines
            .next()
            .map(str::split_whitespace)
            .map(Iterator::collect::<Vec<_>>),
        Some(vec!["family", "type", "protocol", "address"])
    );
    let rows: Vec<&str> = lines.collect();
    assert!(
        rows.iter().any(|row| row.starts_with("AF_INET ")
            && row.contains("SOCK_STREAM")
            && row.contains("6 (tcp)")
            && row.ends_with("127.0.0.1:80")),
        "{stdout}"
    );
    assert!(
        rows.iter()
            .any(|row| row.contains("SOCK_DGRAM") && row.contains("17 (udp)"))
    );
    // Every row is an address getaddrinfo gave, and loopback at that.
    assert!(
        rows.iter()
            .all(|row| row.ends_with("127.0.0.1:80") || row.ends_with("[::1]:80")),
        "{stdout}"
    );
}

#[test]
fn proto_filters_the_socket_type() {
    let out = run_socklab(&["lookup", "127.0.0.1", "--proto", "udp"], TIMEOUT);
    let (stdout, _) = text(&out);
    let rows: Vec<&str> = stdout.lines().skip(1).collect();
    assert_eq!(rows.len(), 1, "{stdout}");
    assert!(rows[0].contains("SOCK_DGRAM") && rows[0].ends_with("127.0.0.1"));
}

#[test]
fn ssh_is_22_tcp_and_back() {
    let out = run_socklab(&["lookup", "--service", "ssh"], TIMEOUT);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    let first: Vec<&str> = stdout
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    assert_eq!(first, ["ssh", "22/tcp"], "{stdout}");

    let out = run_socklab(&["lookup", "--port", "22", "--proto", "tcp"], TIMEOUT);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(
        stdout.split_whitespace().collect::<Vec<_>>(),
        ["ssh", "22/tcp"]
    );
}

#[test]
fn unknown_names_exit_1_with_one_clear_line() {
    let out = run_socklab(&["lookup", "--service", "no-such-service"], TIMEOUT);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr.trim_end(),
        "error: unknown service \"no-such-service\" (not in the services database, /etc/services)"
    );
    let out = run_socklab(&["lookup", "--port", "1", "--proto", "udp"], TIMEOUT);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).1.starts_with("error: no service on port 1"));
}

/// An unknown host name would ask the real DNS servers; the lookup runs in a
/// fresh network namespace with no route anywhere, so nothing leaves the
/// machine and the resolver fails at once.
#[test]
fn unknown_host_exits_1() {
    let probe = run(Command::new("unshare").args(["-rn", "true"]), TIMEOUT);
    if !probe.status.success() {
        eprintln!("skipped: unshare -rn is not permitted here");
        return;
    }
    let out = run(
        Command::new("unshare").args([
            "-rn",
            env!("CARGO_BIN_EXE_socklab"),
            "lookup",
            "no-such-host.invalid",
        ]),
        TIMEOUT,
    );
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.is_empty());
    assert!(
        stderr.starts_with("error: cannot resolve no-such-host.invalid: "),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}

#[test]
fn a_host_or_a_service_is_required() {
    let out = run_socklab(&["lookup"], TIMEOUT);
    assert_eq!(out.status.code(), Some(2));
    let out = run_socklab(&["lookup", "localhost", "--service", "ssh"], TIMEOUT);
    assert_eq!(out.status.code(), Some(2));
}
