//! TLS against real peers (issue 13, Must show 2 and 3): `openssl s_client`,
//! curl and `ncat --ssl` against our servers; `openssl s_server`, socat and
//! `ncat --ssl -l` against our clients; and every mistake named in one line,
//! exit 1 on our clients, with the server still serving a good client after.
//!
//! Every test keeps its development certificate in its own temporary
//! SOCKLAB_DATA_DIR.

mod common;

use std::collections::HashSet;
use std::io::Read;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use common::{Program, Server, TIMEOUT, require, run, run_with_input, socklab, text};
use rcgen::{CertificateParams, Issuer, KeyPair};
use socklab::app::{Message, MessageCodec, Reply};
use socklab::tls::{DATA_DIR_ENV, DevStore, Pin, read_certs};
use tokio_util::codec::{Decoder, Encoder};

/// What our echo client prints for its default message.
const ECHOED: &str = "Received b'Hello, world'\n";

/// A temporary SOCKLAB_DATA_DIR with its development CA and leaf made.
fn data_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = run(
        socklab()
            .env(DATA_DIR_ENV, dir.path())
            .args(["cert", "show"]),
        TIMEOUT,
    );
    assert!(out.status.success(), "cert show: {:?}", text(&out));
    dir
}

/// Starts `socklab ARGS` with the development certificate of `dir`.
fn server(dir: &Path, args: &[&str]) -> Server {
    let mut cmd = socklab();
    cmd.env(DATA_DIR_ENV, dir).args(args);
    Server::start_command(cmd)
}

/// Runs `socklab ARGS` as a client with the development CA of `dir`.
fn client(dir: &Path, args: &[&str]) -> Output {
    run(socklab().env(DATA_DIR_ENV, dir).args(args), TIMEOUT)
}

/// Like [`client`], in a thread, for a peer that must act meanwhile.
fn client_in_background(dir: &Path, args: &[&str]) -> std::thread::JoinHandle<Output> {
    let (dir, args): (PathBuf, Vec<String>) = (
        dir.to_path_buf(),
        args.iter().map(|a| a.to_string()).collect(),
    );
    std::thread::spawn(move || client(&dir, &args.iter().map(String::as_str).collect::<Vec<_>>()))
}

/// Asserts that a client failed with exit code 1 and exactly `line` on stderr.
fn assert_fails(out: &Output, line: &str) {
    let (stdout, stderr) = text(out);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert_eq!(stderr, format!("{line}\n"), "stdout: {stdout}");
}

/// Asserts that our echo client (with `extra` TLS flags, trusting the
/// development CA of `dir`) is served by the echo server on `port`.
fn assert_serves(dir: &Path, port: &str, extra: &[&str]) {
    let mut args = vec!["echo", "client", "127.0.0.1", port];
    args.extend_from_slice(extra);
    let out = client(dir, &args);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{args:?}: {stderr}");
    assert_eq!(stdout, ECHOED, "{stderr}");
}

/// The pin of the certificate in `path`.
fn pin_of(path: &Path) -> Pin {
    Pin::of_cert(&read_certs(path).expect("certificate")[0]).expect("pin")
}

/// A leaf for `names`, valid from `not_before` to `not_after` (as
/// `(year, month, day)`), signed by the development CA of `dir`; returns the
/// certificate and key files.
fn leaf(
    dir: &Path,
    label: &str,
    names: &[&str],
    not_before: (i32, u8, u8),
    not_after: (i32, u8, u8),
) -> (PathBuf, PathBuf) {
    let store = DevStore::new(dir);
    let read = |path: PathBuf| std::fs::read_to_string(path).expect("stored PEM");
    let ca_key = KeyPair::from_pem(&read(dir.join("ca-key.pem"))).expect("CA key");
    let ca = Issuer::from_ca_cert_pem(&read(store.ca_path()), ca_key).expect("CA");
    let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    let mut params = CertificateParams::new(names).expect("params");
    params.not_before = rcgen::date_time_ymd(not_before.0, not_before.1, not_before.2);
    params.not_after = rcgen::date_time_ymd(not_after.0, not_after.1, not_after.2);
    let key = KeyPair::generate().expect("key");
    let cert = params.signed_by(&key, &ca).expect("leaf");
    let (cert_path, key_path) = (
        dir.join(format!("{label}.pem")),
        dir.join(format!("{label}-key.pem")),
    );
    std::fs::write(&cert_path, cert.pem()).expect("write cert");
    std::fs::write(&key_path, key.serialize_pem()).expect("write key");
    (cert_path, key_path)
}

/// The loopback TCP port process `pid` listens on, read from /proc once it
/// listens (openssl s_server and ncat bind port 0 without saying the port).
fn listening_port(pid: u32) -> u16 {
    let until = Instant::now() + TIMEOUT;
    loop {
        let sockets: HashSet<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
            .map(|fds| {
                fds.filter_map(Result::ok)
                    .filter_map(|fd| std::fs::read_link(fd.path()).ok())
                    .filter_map(|link| {
                        let link = link.to_string_lossy().into_owned();
                        Some(
                            link.strip_prefix("socket:[")?
                                .strip_suffix(']')?
                                .to_string(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        let table = std::fs::read_to_string("/proc/net/tcp").expect("/proc/net/tcp");
        for line in table.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            // local_address is HEXIP:HEXPORT; state 0A is LISTEN.
            if let [_, local, _, "0A", _, _, _, _, _, inode, ..] = fields[..]
                && sockets.contains(inode)
                && let Some((_, port)) = local.split_once(':')
            {
                return u16::from_str_radix(port, 16).expect("hex port");
            }
        }
        assert!(Instant::now() < until, "process {pid} never listened");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// `openssl s_client` to `port`, verifying against `ca`, that sends its
/// input as it comes and exits at the end of it.
fn s_client(port: &str, ca: &Path) -> Program {
    require("openssl");
    Program::spawn(
        "s_client",
        Command::new("openssl")
            .args([
                "s_client",
                "-connect",
                &format!("127.0.0.1:{port}"),
                "-CAfile",
            ])
            .arg(ca)
            .args(["-verify_return_error", "-quiet", "-no_ign_eof"]),
    )
}

/// `openssl s_server` on a free loopback port with the development leaf of
/// `dir`, for one connection: what it receives comes out on its stdout,
/// what it is given on stdin goes to the client. Returns it and its port.
fn s_server(dir: &Path) -> (Program, String) {
    require("openssl");
    let store = DevStore::new(dir);
    let program = Program::spawn(
        "s_server",
        Command::new("openssl")
            .args([
                "s_server",
                "-accept",
                "127.0.0.1:0",
                "-naccept",
                "1",
                "-quiet",
            ])
            .arg("-cert")
            .arg(store.cert_path())
            .arg("-key")
            .arg(store.key_path()),
    );
    let port = listening_port(program.id()).to_string();
    (program, port)
}

/// `ncat --ssl` to `port` as `localhost` (ncat 7.93 checks DNS names only,
/// not IP addresses), verifying against `ca`.
fn ncat_client(port: &str, ca: &Path) -> Program {
    require("ncat");
    Program::spawn(
        "ncat",
        Command::new("ncat")
            .args(["-4", "--ssl", "--ssl-verify", "--ssl-trustfile"])
            .arg(ca)
            .args(["localhost", port]),
    )
}

/// `ncat --ssl -l` on a free loopback port with the development leaf of
/// `dir` and `mode` (`--exec /bin/cat`, `--chat`). Returns it and its port.
fn ncat_listener(dir: &Path, mode: &[&str]) -> (Program, String) {
    require("ncat");
    let store = DevStore::new(dir);
    let program = Program::spawn(
        "ncat -l",
        Command::new("ncat")
            .args(["--ssl", "-l", "127.0.0.1", "0", "--ssl-cert"])
            .arg(store.cert_path())
            .arg("--ssl-key")
            .arg(store.key_path())
            .args(mode),
    );
    let port = listening_port(program.id()).to_string();
    (program, port)
}

// ------------------------------------------------ real clients, our servers

#[test]
fn openssl_s_client_against_our_echo_server() {
    let dir = data_dir();
    let echo = server(dir.path(), &["echo", "server", "127.0.0.1", "0", "--tls"]);
    let ca = DevStore::new(dir.path()).ca_path();
    let mut peer = s_client(&echo.port(), &ca);
    peer.send("hello over tls");
    peer.wait_for("hello over tls\n");
    peer.send("and again");
    peer.wait_for("hello over tls\nand again\n");
    peer.close_stdin();
    assert!(peer.wait().success());
    assert_eq!(peer.output(), "hello over tls\nand again\n");
}

#[test]
fn openssl_s_client_against_our_chat_server() {
    let dir = data_dir();
    let chat = server(dir.path(), &["chat", "server", "127.0.0.1", "0", "--tls"]);
    let ca = DevStore::new(dir.path()).ca_path();
    let mut first = s_client(&chat.port(), &ca);
    first.wait_for(" joined\n");
    let second = s_client(&chat.port(), &ca);
    second.wait_for(" joined\n");
    first.wait_for_n(" joined\n", 2);
    first.send("hello over tls");
    second.wait_for("\nhello over tls\n");
    first.close_stdin();
    assert!(first.wait().success());
    second.wait_for(" left\n");
}

#[test]
fn openssl_s_client_against_our_app_server() {
    let dir = data_dir();
    let app = server(dir.path(), &["app", "server", "127.0.0.1", "0", "--tls"]);
    let mut request = BytesMut::new();
    MessageCodec::default()
        .encode(&Message::search("morpheus"), &mut request)
        .expect("encodes");
    require("openssl");
    let ca = DevStore::new(dir.path()).ca_path();
    let mut cmd = Command::new("openssl");
    cmd.args([
        "s_client",
        "-connect",
        &format!("127.0.0.1:{}", app.port()),
        "-CAfile",
    ])
    .arg(&ca)
    .args(["-verify_return_error", "-quiet"]);
    // The server answers and closes (no keep-alive), which ends s_client.
    let out = run_with_input(&mut cmd, &request, TIMEOUT);
    assert!(out.status.success(), "{}", text(&out).1);
    let mut answer = BytesMut::from(&out.stdout[..]);
    let mut codec = MessageCodec::default();
    let message = codec
        .decode_eof(&mut answer)
        .expect("well framed")
        .expect("an answer");
    assert_eq!(
        message.reply().expect("a reply"),
        Reply::Result("Follow the white rabbit. 🐰".into())
    );
    assert!(answer.is_empty(), "one answer only");
}

#[test]
fn curl_keeps_one_https_connection_alive_for_two_requests() {
    require("curl");
    let dir = data_dir();
    let http = server(dir.path(), &["http", "server", "127.0.0.1", "0", "--tls"]);
    let ca = DevStore::new(dir.path()).ca_path();
    let url = format!("https://127.0.0.1:{}/", http.port());
    let curl = |urls: &[&str]| {
        let mut cmd = Command::new("curl");
        cmd.args(["--silent", "--show-error", "--verbose", "--max-time", "20"])
            .arg("--cacert")
            .arg(&ca)
            .args([
                "--write-out",
                " HTTP/%{http_version} connects=%{num_connects}\n",
            ])
            .args(urls);
        run(&mut cmd, TIMEOUT)
    };
    let out = curl(&[&url, &url]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(
        stdout,
        "Hello World HTTP/1.1 connects=1\nHello World HTTP/1.1 connects=0\n"
    );
    assert!(
        stderr.contains("* Re-using existing connection"),
        "{stderr}"
    );
    assert!(
        stderr.contains("* ALPN: server accepted http/1.1"),
        "{stderr}"
    );
    http.wait_for_log("closing connection to", TIMEOUT);
    let accepted = http
        .logs()
        .iter()
        .filter(|l| l.contains("accepted connection"))
        .count();
    assert_eq!(accepted, 1, "{:?}", http.logs());

    // By name: the development certificate names localhost too.
    let by_name = format!("https://localhost:{}/", http.port());
    let out = curl(&[&by_name]);
    assert!(out.status.success(), "{}", text(&out).1);
    assert_eq!(text(&out).0, "Hello World HTTP/1.1 connects=1\n");
}

#[test]
fn ncat_ssl_against_our_echo_and_chat_servers() {
    let dir = data_dir();
    let ca = DevStore::new(dir.path()).ca_path();
    let echo = server(dir.path(), &["echo", "server", "127.0.0.1", "0", "--tls"]);
    let mut peer = ncat_client(&echo.port(), &ca);
    peer.send("over ncat");
    peer.wait_for("over ncat\n");
    peer.close_stdin();
    assert!(peer.wait().success());
    assert_eq!(peer.output(), "over ncat\n");

    let chat = server(dir.path(), &["chat", "server", "127.0.0.1", "0", "--tls"]);
    let mut ncat = ncat_client(&chat.port(), &ca);
    ncat.wait_for(" joined\n");
    let mut ours = Program::spawn(
        "chat client",
        socklab().env(DATA_DIR_ENV, dir.path()).args([
            "chat",
            "client",
            "127.0.0.1",
            &chat.port(),
            "--tls",
            "--nick",
            "rusty",
        ]),
    );
    ncat.wait_for("is now rusty");
    ncat.send("hello from ncat");
    ours.wait_for("\nhello from ncat\n");
    ours.send("hello from rust");
    ncat.wait_for("\nhello from rust\n");
    ours.close_stdin();
    assert!(ours.wait().success(), "{}", ours.output());
    ncat.wait_for("* rusty left\n");
    ncat.close_stdin();
    assert!(ncat.wait().success());
}

// ------------------------------------------------ real servers, our clients

#[test]
fn openssl_s_server_answers_our_echo_client() {
    let dir = data_dir();
    let (mut peer, port) = s_server(dir.path());
    let ca = DevStore::new(dir.path()).ca_path();
    let ca = ca.to_string_lossy();
    let ours = client_in_background(
        dir.path(),
        &[
            "echo",
            "client",
            "127.0.0.1",
            &port,
            "--tls",
            "--cacert",
            &ca,
        ],
    );
    // s_server has no echo mode: the test echoes through its stdin.
    peer.wait_for("Hello, world");
    peer.send_bytes(b"Hello, world");
    let out = ours.join().expect("client thread");
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(stdout, ECHOED);
    assert!(peer.wait().success());
}

/// upper half-closes after sending (SPEC §5); `openssl s_server` ends the
/// connection at the client's close_notify, so it can only show that our
/// client verified it and sent every byte, and that the short answer is
/// named. socat, which keeps the other direction open, serves the whole
/// exchange.
#[test]
fn openssl_s_server_hears_our_upper_client_and_socat_answers_it() {
    let dir = data_dir();
    let ca = DevStore::new(dir.path()).ca_path();
    let ca_arg = ca.to_string_lossy();
    let (mut peer, port) = s_server(dir.path());
    let ours = client_in_background(
        dir.path(),
        &[
            "upper",
            "client",
            "127.0.0.1",
            &port,
            "32",
            "--tls",
            "--cacert",
            &ca_arg,
        ],
    );
    peer.wait_for("capitalize this!capitalize this!");
    assert_fails(
        &ours.join().expect("client thread"),
        "error: the server closed after 0 of 32 bytes",
    );
    assert!(peer.wait().success());
    assert_eq!(peer.output(), "capitalize this!capitalize this!");

    require("socat");
    let store = DevStore::new(dir.path());
    let listen = format!(
        "OPENSSL-LISTEN:0,bind=127.0.0.1,cert={},key={},verify=0",
        store.cert_path().display(),
        store.key_path().display()
    );
    let socat = Program::spawn(
        "socat",
        Command::new("socat").args(["-t", "10", &listen, "EXEC:tr a-z A-Z"]),
    );
    let port = listening_port(socat.id()).to_string();
    let out = client(
        dir.path(),
        &[
            "upper",
            "client",
            "127.0.0.1",
            &port,
            "65536",
            "--tls",
            "--cacert",
            &ca_arg,
        ],
    );
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stdout.contains("  65536 bytes received and verified in "),
        "{stdout}"
    );
}

#[test]
fn ncat_ssl_listener_serves_our_echo_and_chat_clients() {
    let dir = data_dir();
    let (mut cat, port) = ncat_listener(dir.path(), &["--exec", "/bin/cat"]);
    assert_serves(dir.path(), &port, &["--tls"]);
    assert!(cat.wait().success());

    // ncat's chat broker: our client's lines reach an ncat peer and back.
    let ca = DevStore::new(dir.path()).ca_path();
    let (_broker, port) = ncat_listener(dir.path(), &["--chat"]);
    let mut peer = ncat_client(&port, &ca);
    peer.wait_for("<announce> already connected: nobody.\n");
    let mut ours = Program::spawn(
        "chat client",
        socklab().env(DATA_DIR_ENV, dir.path()).args([
            "chat",
            "client",
            "127.0.0.1",
            &port,
            "--tls",
        ]),
    );
    ours.wait_for("<announce> already connected: ");
    peer.wait_for_n(" is connected as <user", 2);
    ours.send("hello from rust");
    peer.wait_for("> hello from rust\n");
    peer.send("hello from ncat");
    ours.wait_for("> hello from ncat\n");
    ours.close_stdin();
    assert!(ours.wait().success(), "{}", ours.output());
    peer.wait_for(" is disconnected.\n");
}

// ---------------------------------------------- mistakes, each in one line

#[test]
fn plain_client_to_tls_server_and_tls_client_to_plain_server() {
    let dir = data_dir();
    let tls = server(dir.path(), &["echo", "server", "127.0.0.1", "0", "--tls"]);
    let out = client(dir.path(), &["echo", "client", "127.0.0.1", &tls.port()]);
    assert_fails(
        &out,
        "error: receiving: the server answered in TLS, not plain text (is it a TLS server? use --tls)",
    );
    tls.wait_for_log(
        ": TLS handshake failed: the client sent plain text, not TLS (is it a TLS client? use --tls)",
        TIMEOUT,
    );
    assert_serves(dir.path(), &tls.port(), &["--tls"]);

    // Where the server speaks first, a plain client sends nothing: it hears
    // of TLS when the handshake times out.
    let hello = server(
        dir.path(),
        &[
            "hello",
            "server",
            "127.0.0.1",
            "0",
            "--tls",
            "--handshake-timeout",
            "300ms",
        ],
    );
    let out = client(dir.path(), &["hello", "client", "127.0.0.1", &hello.port()]);
    assert_fails(
        &out,
        "error: receiving: the server answered in TLS, not plain text (is it a TLS server? use --tls)",
    );
    hello.wait_for_log(
        ": TLS handshake failed: the client did not finish a TLS handshake within 300ms",
        TIMEOUT,
    );
    let out = client(
        dir.path(),
        &["hello", "client", "127.0.0.1", &hello.port(), "--tls"],
    );
    assert!(out.status.success(), "{}", text(&out).1);

    let plain = server(dir.path(), &["echo", "server", "127.0.0.1", "0"]);
    let out = client(
        dir.path(),
        &["echo", "client", "127.0.0.1", &plain.port(), "--tls"],
    );
    assert_fails(
        &out,
        "error: the server answered in plain text, not TLS (is it a TLS server?)",
    );
    assert_serves(dir.path(), &plain.port(), &[]);
}

#[test]
fn wrong_pin_is_refused_and_the_right_one_accepted() {
    let dir = data_dir();
    let echo = server(dir.path(), &["echo", "server", "127.0.0.1", "0", "--tls"]);
    let pin = pin_of(&DevStore::new(dir.path()).cert_path()).to_string();
    let wrong = "sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
    let out = client(
        dir.path(),
        &[
            "echo",
            "client",
            "127.0.0.1",
            &echo.port(),
            "--tls",
            "--pin",
            wrong,
        ],
    );
    assert_fails(
        &out,
        &format!(
            "error: certificate verify failed for 127.0.0.1: pin mismatch: expected {wrong}, got {pin}"
        ),
    );
    echo.wait_for_log(
        ": TLS handshake failed: the client refused the TLS handshake (certificate unknown)",
        TIMEOUT,
    );
    assert_serves(dir.path(), &echo.port(), &["--tls", "--pin", &pin]);
}

/// Serves a leaf for `names`, valid `from` to `until`, on an echo server:
/// our client fails with `error`, the server logs the client's `alert`, and
/// a client that pins the key (so asks about neither names nor dates) is
/// still served.
fn refused_leaf(
    names: &[&str],
    from: (i32, u8, u8),
    until: (i32, u8, u8),
    error: &str,
    alert: &str,
) {
    let dir = data_dir();
    let (cert, key) = leaf(dir.path(), "leaf", names, from, until);
    let (cert_arg, key_arg) = (cert.to_string_lossy(), key.to_string_lossy());
    let tls = ["--tls", "--cert", &cert_arg, "--key", &key_arg];
    let echo = server(
        dir.path(),
        &[&["echo", "server", "127.0.0.1", "0"][..], &tls].concat(),
    );
    let out = client(
        dir.path(),
        &["echo", "client", "127.0.0.1", &echo.port(), "--tls"],
    );
    assert_fails(&out, error);
    echo.wait_for_log(
        &format!(": TLS handshake failed: the client refused the TLS handshake ({alert})"),
        TIMEOUT,
    );
    let pin = pin_of(&cert).to_string();
    assert_serves(dir.path(), &echo.port(), &["--tls", "--pin", &pin]);
}

#[test]
fn expired_certificate_is_refused() {
    refused_leaf(
        &["127.0.0.1"],
        (2020, 1, 1),
        (2021, 1, 1),
        "error: certificate verify failed for 127.0.0.1: expired on 2021-01-01 00:00:00 UTC",
        "certificate expired",
    );
}

#[test]
fn certificate_for_another_name_is_refused() {
    refused_leaf(
        &["example.test"],
        (2020, 1, 1),
        (2099, 1, 1),
        "error: certificate verify failed for 127.0.0.1: not valid for 127.0.0.1 (it is for: example.test)",
        "bad certificate",
    );
}

#[test]
fn certificate_from_an_unknown_ca_is_refused() {
    let (ours, theirs) = (data_dir(), data_dir());
    let echo = server(
        theirs.path(),
        &["echo", "server", "127.0.0.1", "0", "--tls"],
    );
    let out = client(
        ours.path(),
        &["echo", "client", "127.0.0.1", &echo.port(), "--tls"],
    );
    assert_fails(
        &out,
        "error: certificate verify failed for 127.0.0.1: unknown issuer (no trusted CA signed it; trust one with --cacert FILE)",
    );
    echo.wait_for_log(
        ": TLS handshake failed: the client refused the TLS handshake (unknown CA; does it trust our CA? see `socklab cert ca`)",
        TIMEOUT,
    );
    assert_serves(theirs.path(), &echo.port(), &["--tls"]);
}

// --insecure trusts a server nothing vouches for, and says so on every
// connection: two connections, two warnings.
#[test]
fn insecure_is_served_and_warned_on_every_connection() {
    let (ours, theirs) = (data_dir(), data_dir());
    let echo = server(
        theirs.path(),
        &["echo", "server", "127.0.0.1", "0", "--tls"],
    );
    let args = [
        "echo",
        "client",
        "127.0.0.1",
        &echo.port(),
        "--tls",
        "--insecure",
    ];
    let out = client(ours.path(), &[&args[..], &["--conns", "2"]].concat());
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("from connection 2"), "{stdout}");
    let warned = stderr.matches("is not checked (--insecure)").count();
    assert_eq!(warned, 2, "{stderr}");
}

/// A client leaf made by openssl from a request, signed with the
/// development CA's key: returns its certificate and key files.
fn openssl_client_leaf(dir: &Path) -> (PathBuf, PathBuf) {
    require("openssl");
    let ext = dir.join("client.ext");
    std::fs::write(
        &ext,
        "basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n",
    )
    .expect("write ext");
    let steps: [&[&str]; 2] = [
        &[
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "client-key.pem",
            "-subj",
            "/CN=test client",
            "-out",
            "client.csr",
        ],
        &[
            "x509",
            "-req",
            "-in",
            "client.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca-key.pem",
            "-CAcreateserial",
            "-days",
            "30",
            "-sha256",
            "-extfile",
            "client.ext",
            "-out",
            "client.pem",
        ],
    ];
    for args in steps {
        let out = run(Command::new("openssl").current_dir(dir).args(args), TIMEOUT);
        assert!(out.status.success(), "openssl {args:?}: {}", text(&out).1);
    }
    (dir.join("client.pem"), dir.join("client-key.pem"))
}

#[test]
fn missing_client_certificate_is_refused_and_a_signed_one_accepted() {
    let dir = data_dir();
    let ca = DevStore::new(dir.path()).ca_path();
    let ca_arg = ca.to_string_lossy();
    let echo = server(
        dir.path(),
        &[
            "echo",
            "server",
            "127.0.0.1",
            "0",
            "--tls",
            "--client-ca",
            &ca_arg,
        ],
    );
    let out = client(
        dir.path(),
        &["echo", "client", "127.0.0.1", &echo.port(), "--tls"],
    );
    assert_fails(
        &out,
        "error: receiving: the server requires a client certificate (give one with --cert FILE --key FILE)",
    );
    echo.wait_for_log(
        ": TLS handshake failed: the client sent no certificate (this server requires one signed by its --client-ca)",
        TIMEOUT,
    );
    let (cert, key) = openssl_client_leaf(dir.path());
    let (cert, key) = (cert.to_string_lossy(), key.to_string_lossy());
    assert_serves(
        dir.path(),
        &echo.port(),
        &["--tls", "--cert", &cert, "--key", &key],
    );
}

#[test]
fn a_peer_that_stalls_in_the_handshake_is_dropped_after_the_timeout() {
    let dir = data_dir();
    let timeout = Duration::from_secs(1);
    let echo = server(
        dir.path(),
        &[
            "echo",
            "server",
            "127.0.0.1",
            "0",
            "--tls",
            "--handshake-timeout",
            "1s",
        ],
    );
    let started = Instant::now();
    let stalled: Vec<TcpStream> = [&b""[..], b"\x16\x03\x01"]
        .iter()
        .map(|sent| {
            let mut stream = TcpStream::connect_timeout(&echo.addr, TIMEOUT).expect("connect");
            stream.set_read_timeout(Some(TIMEOUT)).expect("timeout");
            std::io::Write::write_all(&mut stream, sent).expect("send");
            stream
        })
        .collect();
    // Meanwhile a good client is served.
    assert_serves(dir.path(), &echo.port(), &["--tls"]);
    for mut stream in stalled {
        let mut rest = Vec::new();
        // The server tells it with an alert and closes it, in bounded time.
        stream.read_to_end(&mut rest).expect("closed in time");
        assert_eq!(
            rest, b"\x15\x03\x03\x00\x02\x02\x28",
            "a handshake_failure alert"
        );
        let waited = started.elapsed();
        assert!(waited >= timeout, "dropped after {waited:?}");
        assert!(waited < timeout + TIMEOUT, "dropped after {waited:?}");
    }
    let line = ": TLS handshake failed: the client did not finish a TLS handshake within 1s (a stalled peer, or a plain-text client waiting for an answer)";
    let until = Instant::now() + TIMEOUT;
    while echo.logs().iter().filter(|l| l.ends_with(line)).count() < 2 {
        assert!(Instant::now() < until, "{:?}", echo.logs());
        std::thread::sleep(Duration::from_millis(10));
    }
}

// The proxy's side towards its upstream (issue 16): a plain client through
// `proxy --upstream-tls` reaches a TLS echo server, verified by the
// development CA or by its pin; a wrong pin closes that client's connection
// and the proxy says why; with `--tls` as well, both sides are TLS.
#[test]
fn proxy_speaks_tls_to_its_upstream() {
    let dir = data_dir();
    let echo = server(dir.path(), &["echo", "server", "127.0.0.1", "0", "--tls"]);
    let up = format!("127.0.0.1:{}", echo.port());
    let pin = pin_of(&DevStore::new(dir.path()).cert_path()).to_string();
    let proxy = |extra: &[&str]| {
        server(
            dir.path(),
            &[&["proxy", "127.0.0.1:0", &up, "--upstream-tls"][..], extra].concat(),
        )
    };
    assert_serves(dir.path(), &proxy(&[]).port(), &[]);
    assert_serves(dir.path(), &proxy(&["--upstream-pin", &pin]).port(), &[]);
    let wrong = "sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
    let refused = proxy(&["--upstream-pin", wrong]);
    let out = client(
        dir.path(),
        &["echo", "client", "127.0.0.1", &refused.port()],
    );
    assert!(!out.status.success(), "{:?}", text(&out));
    refused.wait_for_log(
        &format!(
            "certificate verify failed for 127.0.0.1: pin mismatch: expected {wrong}, got {pin}"
        ),
        TIMEOUT,
    );
    assert_serves(dir.path(), &proxy(&["--tls"]).port(), &["--tls"]);
    let plain = server(dir.path(), &["echo", "server", "127.0.0.1", "0"]);
    let to_plain = server(
        dir.path(),
        &[
            "proxy",
            "127.0.0.1:0",
            &format!("127.0.0.1:{}", plain.port()),
            "--upstream-tls",
        ],
    );
    let out = client(
        dir.path(),
        &["echo", "client", "127.0.0.1", &to_plain.port()],
    );
    assert!(!out.status.success(), "{:?}", text(&out));
    to_plain.wait_for_log("the server answered in plain text, not TLS", TIMEOUT);
}
