//! SPEC §1's HOST rule: a bare number where a HOST belongs is a usage error
//! on every command, never an address the resolver makes up.

mod common;

use std::process::{Command, Output};

use common::{Server, TIMEOUT, run_socklab, text};

/// Numbers glibc's resolver would turn into addresses, with the address.
const NUMBERS: [(&str, &str); 4] = [
    ("1000000", "0.15.66.64"),
    ("0x7f000001", "127.0.0.1"),
    ("127.1", "127.0.0.1"),
    ("017700000001", "127.0.0.1"),
];

/// Runs socklab in a network namespace of its own with no routes at all (not
/// even loopback is up): a connection attempt there fails with "network is
/// unreachable", so a usage error proves that nothing was tried.
fn isolated(args: &[&str]) -> Output {
    let probe = common::run(Command::new("unshare").args(["-rn", "true"]), TIMEOUT);
    assert!(
        probe.status.success(),
        "this test needs `unshare -rn` (user and network namespaces): {:?}",
        text(&probe)
    );
    let mut cmd = Command::new("unshare");
    cmd.args(["-rn", env!("CARGO_BIN_EXE_socklab")])
        .args(args)
        .env_remove("RUST_LOG");
    common::run(&mut cmd, TIMEOUT)
}

fn assert_usage_error(args: &[&str], number: &str, addr: &str, usage: &str) {
    let out = isolated(args);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {stdout}{stderr}");
    assert!(stdout.is_empty(), "{args:?}: {stdout}");
    assert_eq!(
        stderr,
        format!(
            "error: '{number}' is not a host (a bare number would be read as the address \
             {addr}); usage: {usage}\n"
        ),
        "{args:?}"
    );
}

#[test]
fn a_number_as_the_host_of_a_client_is_a_usage_error() {
    for (number, addr) in NUMBERS {
        assert_usage_error(
            &["upper", "client", number],
            number,
            addr,
            "socklab upper client [HOST] [PORT] [BYTES]",
        );
        assert_usage_error(
            &["app", "client", number, "65433", "search", "ring"],
            number,
            addr,
            "socklab app client <HOST> <PORT> <ACTION> <VALUE>",
        );
    }
}

#[test]
fn a_number_as_the_host_of_a_server_is_a_usage_error() {
    for (number, addr) in NUMBERS {
        assert_usage_error(
            &["echo", "server", number, "0"],
            number,
            addr,
            "socklab echo server [HOST] [PORT]",
        );
        assert_usage_error(
            &["udp", "server", number, "0"],
            number,
            addr,
            "socklab udp server [HOST] [PORT]",
        );
    }
}

#[test]
fn a_number_as_the_host_of_a_bench_is_a_usage_error() {
    for (number, addr) in NUMBERS {
        for target in [number.to_string(), format!("{number}:65432")] {
            assert_usage_error(
                &["bench", "echo", &target, "-d", "1s"],
                number,
                addr,
                "socklab bench echo <ADDR> [PORT]",
            );
        }
    }
}

#[test]
fn lookup_ping_mtu_and_broadcast_take_the_same_rule() {
    let (number, addr) = NUMBERS[0];
    for (args, usage) in [
        (vec!["lookup", number], "socklab lookup [HOST] [PORT]"),
        (vec!["ping", "-c", "1", number], "socklab ping <HOST>"),
        (vec!["udp", "mtu", number], "socklab udp mtu <HOST> [PORT]"),
        (
            vec!["udp", "client", "--broadcast", number, "60000"],
            "socklab udp client [HOST] [PORT]",
        ),
    ] {
        assert_usage_error(&args, number, addr, usage);
    }
}

#[test]
fn a_number_in_a_url_is_refused_before_connecting() {
    let out = isolated(&["http", "get", "http://1000000:8001/"]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(
        stderr,
        "error: '1000000' is not a host (a bare number would be read as the address \
         0.15.66.64)\n"
    );
}

#[test]
fn other_non_hosts_are_usage_errors_too() {
    let out = isolated(&["echo", "client", "1.2.3.4.5"]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.starts_with("error: '1.2.3.4.5' is not a host (a host is a dotted-quad"),
        "{stderr}"
    );
}

#[test]
fn every_spelling_of_a_real_host_keeps_working() {
    for (server_host, client_hosts) in [
        ("127.0.0.1", &["127.0.0.1", "localhost"][..]),
        ("::1", &["::1", "[::1]"]),
        ("[::1]", &["::1"]),
        ("", &["127.0.0.1"]),
        ("0.0.0.0", &["127.0.0.1"]),
        ("::", &["::1"]),
        ("localhost", &["localhost"]),
    ] {
        let server = Server::start(&["echo", "server", server_host, "0"]);
        for client_host in client_hosts {
            let out = run_socklab(&["echo", "client", client_host, &server.port()], TIMEOUT);
            let (stdout, stderr) = text(&out);
            assert!(
                out.status.success(),
                "server {server_host:?}, client {client_host:?}: {stderr}"
            );
            assert!(stdout.contains("Received b'Hello, world'"), "{stdout}");
        }
    }
}

#[test]
fn bench_takes_host_and_port_as_one_argument_or_two() {
    let server = Server::start(&["echo", "server", "127.0.0.1", "0"]);
    let port = server.port();
    let one = format!("127.0.0.1:{port}");
    let bench = ["-c", "2", "-d", "300ms", "--warmup", "0s", "--json"];
    let mut runs = Vec::new();
    for target in [vec![one.as_str()], vec!["127.0.0.1", port.as_str()]] {
        let mut args = vec!["bench", "echo"];
        args.extend(target);
        args.extend(bench);
        let out = run_socklab(&args, TIMEOUT);
        let (stdout, stderr) = text(&out);
        assert!(out.status.success(), "{args:?}: {stderr}");
        let report: serde_json::Value = serde_json::from_str(&stdout).expect("one JSON object");
        runs.push(report);
    }
    for report in &runs {
        assert_eq!(report["target"], one.as_str(), "{report}");
        assert!(
            report["completed"].as_u64().is_some_and(|n| n > 0),
            "{report}"
        );
    }
    let out = run_socklab(&["bench", "echo", &one, &port, "-d", "1s"], TIMEOUT);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).1.contains("give the port once"),
        "{:?}",
        text(&out)
    );
}
