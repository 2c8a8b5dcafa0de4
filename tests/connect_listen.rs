//! `socklab connect` and `socklab listen` against nc, ncat and socat: binary
//! transfers checked by SHA-256 both ways, half-close, UDP, Unix sockets,
//! and `--exec` serving two connections at once.

mod common;
mod relay_common;

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{require, socklab};
use relay_common::*;

const BIG: usize = 100 * 1024 * 1024;

/// A 100 MiB file in a temporary directory.
fn big_file() -> (tempfile::TempDir, std::path::PathBuf, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = file(&dir, "big");
    binary_file(&path, BIG);
    let digest = sha256(&path);
    (dir, path, digest)
}

/// `socklab listen 0 > out`, fed by `peer PORT < big` (the peer sends).
fn listen_receives(dir: &tempfile::TempDir, big: &std::path::Path, peer: &str) -> String {
    let out = file(dir, &format!("from-{peer}"));
    let mut cmd = socklab();
    cmd.args(["listen", "0"])
        .stdin(Stdio::null())
        .stdout(File::create(&out).expect("create"));
    let mut listen = Running::start(cmd, false);
    let port = listen.port().to_string();
    let status = match peer {
        "nc" => Command::new("nc")
            .args(["-N", "127.0.0.1", &port])
            .stdin(File::open(big).expect("open"))
            .status(),
        "ncat" => Command::new("ncat")
            .args(["--send-only", "127.0.0.1", &port])
            .stdin(File::open(big).expect("open"))
            .status(),
        _ => Command::new("socat")
            .args([
                "-u",
                &format!("OPEN:{}", big.display()),
                &format!("TCP:127.0.0.1:{port}"),
            ])
            .status(),
    };
    assert!(status.expect("run peer").success(), "{peer} failed");
    assert!(listen.wait().success(), "listen: {}", listen.stderr());
    sha256(&out)
}

/// `peer -l PORT > out`, fed by `socklab connect 127.0.0.1 PORT < big`.
fn connect_sends(dir: &tempfile::TempDir, big: &std::path::Path, peer: &str) -> String {
    let out = file(dir, &format!("to-{peer}"));
    let port = free_port().to_string();
    let mut server = match peer {
        "nc" => Command::new("nc")
            .args(["-l", "127.0.0.1", &port])
            .stdin(Stdio::null())
            .stdout(File::create(&out).expect("create"))
            .spawn(),
        "ncat" => Command::new("ncat")
            .args(["-l", "--recv-only", "127.0.0.1", &port])
            .stdin(Stdio::null())
            .stdout(File::create(&out).expect("create"))
            .spawn(),
        _ => Command::new("socat")
            .args([
                "-u",
                &format!("TCP-LISTEN:{port},bind=127.0.0.1,reuseaddr"),
                &format!("CREATE:{}", out.display()),
            ])
            .spawn(),
    }
    .expect("spawn peer");
    let data = std::fs::read(big).expect("read");
    let sent = until_it_connects(
        || {
            let mut cmd = socklab();
            cmd.args(["connect", "127.0.0.1", &port]);
            cmd
        },
        &data,
    );
    assert!(
        sent.status.success(),
        "connect: {}",
        String::from_utf8_lossy(&sent.stderr)
    );
    assert!(wait(&mut server).success(), "{peer} failed");
    sha256(&out)
}

#[test]
fn a_100_mib_binary_crosses_both_ways_with_nc_ncat_and_socat() {
    for peer in ["nc", "ncat", "socat"] {
        require(peer);
    }
    let (dir, big, digest) = big_file();
    for peer in ["nc", "ncat", "socat"] {
        assert_eq!(
            listen_receives(&dir, &big, peer),
            digest,
            "{peer} -> socklab listen"
        );
        assert_eq!(
            connect_sends(&dir, &big, peer),
            digest,
            "socklab connect -> {peer}"
        );
    }
}

// The texts' half-close: our EOF reaches the peer, whose reply written
// after it still comes back to us.
#[test]
fn the_reply_after_our_eof_arrives_both_ways() {
    require("socat");
    require("nc");
    let port = free_port().to_string();
    let mut server = Command::new("socat")
        .args([
            &format!("TCP-LISTEN:{port},bind=127.0.0.1,reuseaddr"),
            "SYSTEM:cat; echo reply after your EOF",
        ])
        .spawn()
        .expect("socat");
    let got = until_it_connects(
        || {
            let mut cmd = socklab();
            cmd.args(["connect", "127.0.0.1", &port]);
            cmd
        },
        b"question\n",
    );
    // socat's cat ends only on our EOF; the reply is written after it.
    assert!(
        got.status.success(),
        "{}",
        String::from_utf8_lossy(&got.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&got.stdout),
        "question\nreply after your EOF\n"
    );
    wait(&mut server);

    let mut cmd = socklab();
    cmd.args(["listen", "0", "--exec", "cat; echo after"]);
    let listen = Running::start(cmd, true);
    let mut nc = Command::new("nc")
        .args(["-N", "127.0.0.1", &listen.port().to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("nc");
    nc.stdin
        .take()
        .expect("stdin")
        .write_all(b"question\n")
        .expect("write");
    let mut answer = String::new();
    nc.stdout
        .take()
        .expect("stdout")
        .read_to_string(&mut answer)
        .expect("read");
    assert_eq!(answer, "question\nafter\n");
    wait(&mut nc);
}

#[test]
fn udp_datagrams_go_both_ways() {
    require("socat");
    // listen --udp with socat as the client: its datagram printed, our
    // stdin sent back to it.
    let mut cmd = socklab();
    cmd.args(["listen", "--udp", "0"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped());
    let mut listen = Running::start(cmd, false);
    let mut listen_in = listen.child.stdin.take().expect("stdin");
    let mut listen_out = BufReader::new(listen.child.stdout.take().expect("stdout"));
    let mut socat = Command::new("socat")
        .args(["-", &format!("UDP:127.0.0.1:{}", listen.port())])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("socat");
    let mut socat_in = socat.stdin.take().expect("stdin");
    let mut socat_out = BufReader::new(socat.stdout.take().expect("stdout"));
    socat_in.write_all(b"ping\n").expect("write");
    let mut line = String::new();
    listen_out.read_line(&mut line).expect("read");
    assert_eq!(line, "ping\n");
    listen_in.write_all(b"pong\n").expect("write");
    line.clear();
    socat_out.read_line(&mut line).expect("read");
    assert_eq!(line, "pong\n");
    drop(socat_in);
    wait(&mut socat);

    // connect --udp to socat answering each datagram in capitals.
    let port = free_udp_port().to_string();
    let _server = KillOnDrop(
        Command::new("socat")
            .args([
                &format!("UDP-RECVFROM:{port},bind=127.0.0.1,fork"),
                "SYSTEM:tr a-z A-Z",
            ])
            .spawn()
            .expect("socat"),
    );
    let got = until_it_connects(
        || {
            let mut cmd = socklab();
            cmd.args([
                "connect",
                "--udp",
                "127.0.0.1",
                &port,
                "--idle-timeout",
                "3s",
            ]);
            cmd
        },
        b"hello\n",
    );
    assert!(
        got.status.success(),
        "{}",
        String::from_utf8_lossy(&got.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&got.stdout), "HELLO\n");
}

/// A child killed when the test ends, whatever happens.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn unix_sockets_both_ways() {
    require("socat");
    let dir = tempfile::tempdir().expect("tempdir");
    let ours = file(&dir, "ours.sock");
    let mut cmd = socklab();
    cmd.args(["listen", "--unix"])
        .arg(&ours)
        .args(["--exec", "tr a-z A-Z"]);
    let listen = Running::start(cmd, true);
    assert_eq!(listen.addr, ours.display().to_string());
    let mut socat = Command::new("socat")
        .args(["-".to_string(), format!("UNIX-CONNECT:{}", ours.display())])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("socat");
    socat
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"hello\n")
        .expect("write");
    let mut answer = String::new();
    socat
        .stdout
        .take()
        .expect("stdout")
        .read_to_string(&mut answer)
        .expect("read");
    assert_eq!(answer, "HELLO\n");
    wait(&mut socat);

    let theirs = file(&dir, "theirs.sock");
    let _server = KillOnDrop(
        Command::new("socat")
            .args([
                format!("UNIX-LISTEN:{}", theirs.display()),
                "SYSTEM:tr a-z A-Z".into(),
            ])
            .spawn()
            .expect("socat"),
    );
    let got = until_it_connects(
        || {
            let mut cmd = socklab();
            cmd.args(["connect", "--unix"]).arg(&theirs);
            cmd
        },
        b"quiet\n",
    );
    assert!(
        got.status.success(),
        "{}",
        String::from_utf8_lossy(&got.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&got.stdout), "QUIET\n");
}

// Both connections are answered while both are open: each has its program.
#[test]
fn exec_serves_two_connections_at_once() {
    let mut cmd = socklab();
    cmd.args(["listen", "-k", "0", "--exec", "cat"]);
    let listen = Running::start(cmd, true);
    let open = || {
        let stream = TcpStream::connect(("127.0.0.1", listen.port())).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        stream
    };
    let (mut first, mut second) = (open(), open());
    for (stream, text) in [(&mut second, b"second\n"), (&mut first, b"first!\n")] {
        stream.write_all(text).expect("write");
        let mut echoed = [0u8; 7];
        stream
            .read_exact(&mut echoed)
            .expect("echoed while the other is open");
        assert_eq!(&echoed, text);
    }
}

#[test]
fn hex_dumps_both_directions_on_stderr() {
    let mut cmd = socklab();
    cmd.args(["listen", "0", "--exec", "read line; echo HI"]);
    let listen = Running::start(cmd, true);
    let mut connect = socklab();
    connect.args(["connect", "--hex", "127.0.0.1", &listen.port().to_string()]);
    let out = common::run_with_input(&mut connect, b"hello\n", LIMIT);
    assert!(out.status.success());
    assert_eq!(out.stdout, b"HI\n");
    let dump = String::from_utf8_lossy(&out.stderr);
    assert!(dump.contains("> 00000000  68 65 6c 6c 6f 0a"), "{dump}");
    assert!(dump.contains("< 00000000  48 49 0a"), "{dump}");
}

// TLS on both: listen's development certificate, verified by connect
// through the development CA in the same data directory.
#[test]
fn tls_connect_to_tls_listen() {
    let data = tempfile::tempdir().expect("tempdir");
    let mut cmd = socklab();
    cmd.env("SOCKLAB_DATA_DIR", data.path()).args([
        "listen",
        "-k",
        "0",
        "--tls",
        "--exec",
        "tr a-z A-Z",
    ]);
    let listen = Running::start(cmd, true);
    let mut connect = socklab();
    connect.env("SOCKLAB_DATA_DIR", data.path()).args([
        "connect",
        "--tls",
        "localhost",
        &listen.port().to_string(),
    ]);
    let out = common::run_with_input(&mut connect, b"secret\n", LIMIT);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.stdout, b"SECRET\n");
    // Plain text to the TLS listener is named, not taken as data.
    let mut plain = socklab();
    plain.args(["connect", "127.0.0.1", &listen.port().to_string()]);
    let out = common::run_with_input(&mut plain, b"secret\n", LIMIT);
    assert!(!String::from_utf8_lossy(&out.stdout).contains("SECRET"));
}

// A bare number where a HOST goes is a usage error (exit 2), never an address.
#[test]
fn bare_numbers_are_usage_errors() {
    for args in [
        &["listen", "127.1", "9000"][..],
        &["proxy", "1000000:80", "127.0.0.1:9"],
        &["proxy", "127.0.0.1", "0", "0x7f000001", "9"],
        &["connect", "1000000", "80"],
    ] {
        let out = common::run(socklab().args(args), LIMIT);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("is not a host"), "{args:?}: {err}");
    }
}
