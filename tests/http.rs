//! http: the server against curl, wrk and raw sockets; the client against our
//! server, python3's http.server, a chunking peer and a local TLS server.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{Server, TIMEOUT, require, run, run_socklab, text};

fn url(server: &Server) -> String {
    format!("http://{}/", server.addr)
}

fn http_server(extra: &[&str]) -> Server {
    let mut args = vec!["http", "server", "127.0.0.1", "0"];
    args.extend_from_slice(extra);
    Server::start(&args)
}

/// Sends `request` on a fresh connection, half-closes, and reads everything
/// the server answers until it closes.
fn exchange(addr: SocketAddr, request: &[u8]) -> String {
    let mut stream = TcpStream::connect_timeout(&addr, TIMEOUT).expect("connect");
    stream.set_read_timeout(Some(TIMEOUT)).expect("timeout");
    stream.set_write_timeout(Some(TIMEOUT)).expect("timeout");
    stream.write_all(request).expect("send");
    stream.shutdown(Shutdown::Write).expect("half-close");
    let mut answer = Vec::new();
    stream
        .read_to_end(&mut answer)
        .expect("read until the server closes");
    String::from_utf8(answer).expect("ascii answer")
}

/// Status lines of every response in `answer`, in order.
fn statuses(answer: &str) -> Vec<&str> {
    // A body has no line end of its own: the next status line follows it directly.
    answer
        .match_indices("HTTP/1.1 ")
        .map(|(at, _)| {
            let rest = &answer[at..];
            &rest[..rest.find("\r\n").unwrap_or(rest.len())]
        })
        .collect()
}

// ---- 1. curl against the server -------------------------------------------

#[test]
fn curl_get_and_head() {
    require("curl");
    let server = http_server(&[]);
    let out = run(
        Command::new("curl").args(["-sS", "-i", &url(&server)]),
        TIMEOUT,
    );
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.starts_with("HTTP/1.1 200 OK\r\n"), "{stdout}");
    assert!(stdout.contains("\r\nContent-Type: text/plain; charset=utf-8\r\n"));
    assert!(stdout.contains("\r\nContent-Length: 11\r\n"));
    assert!(stdout.contains("\r\nDate: ") && stdout.contains(" GMT\r\n"));
    assert!(stdout.ends_with("\r\n\r\nHello World"), "{stdout:?}");

    let out = run(
        Command::new("curl").args(["-sS", "-I", &url(&server)]),
        TIMEOUT,
    );
    let (stdout, _) = text(&out);
    assert!(stdout.starts_with("HTTP/1.1 200 OK\r\n"), "{stdout}");
    assert!(stdout.contains("Content-Length: 11\r\n"));
    assert!(stdout.ends_with("\r\n\r\n"), "HEAD has no body: {stdout:?}");
}

#[test]
fn curl_reuses_one_connection_for_two_requests() {
    require("curl");
    let server = http_server(&["--body", "again"]);
    let out = run(
        Command::new("curl").args([
            "-sS",
            "-w",
            " connects=%{num_connects}\n",
            &url(&server),
            &url(&server),
        ]),
        TIMEOUT,
    );
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(stdout, "again connects=1\nagain connects=0\n");
    server.wait_for_log("closing connection", TIMEOUT);
    let accepted = server
        .logs()
        .iter()
        .filter(|line| line.contains("accepted connection"))
        .count();
    assert_eq!(accepted, 1, "{:?}", server.logs());
}

#[test]
fn curl_connection_close_is_honoured() {
    require("curl");
    let server = http_server(&[]);
    let out = run(
        Command::new("curl").args(["-sS", "-i", "-H", "Connection: close", &url(&server)]),
        TIMEOUT,
    );
    let (stdout, _) = text(&out);
    assert!(stdout.contains("\r\nConnection: close\r\n"), "{stdout}");
    assert!(stdout.ends_with("Hello World"));
    // The server closed its side without waiting for the idle timeout.
    server.wait_for_log("closing connection to", TIMEOUT);
}

// ---- 2. raw sockets --------------------------------------------------------

#[test]
fn pipelined_requests_are_answered_in_order() {
    let server = http_server(&[]);
    let answer = exchange(
        server.addr,
        b"GET /1 HTTP/1.1\r\nHost: x\r\n\r\n\
          HEAD /2 HTTP/1.1\r\nHost: x\r\n\r\n\
          GET /3 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(statuses(&answer), ["HTTP/1.1 200 OK"; 3], "{answer}");
    let parts: Vec<&str> = answer.split("HTTP/1.1 200 OK\r\n").skip(1).collect();
    assert!(
        parts[0].ends_with("\r\n\r\nHello World"),
        "GET: {:?}",
        parts[0]
    );
    assert!(parts[1].ends_with("\r\n\r\n"), "HEAD: {:?}", parts[1]);
    assert!(!parts[1].contains("Connection"), "HEAD keeps alive");
    assert!(
        parts[2].contains("Connection: close\r\n\r\nHello World"),
        "{:?}",
        parts[2]
    );
}

#[test]
fn pipelined_answers_leave_in_one_write() {
    let server = http_server(&["--trace"]);
    exchange(
        server.addr,
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    server.wait_for_log("closing connection", TIMEOUT);
    let writes: Vec<String> = server
        .logs()
        .into_iter()
        .filter(|line| line.contains("sent ") && line.contains(" bytes to "))
        .collect();
    assert_eq!(writes.len(), 1, "one write for three answers: {writes:?}");
}

#[test]
fn malformed_request_line_gets_400() {
    let server = http_server(&[]);
    let answer = exchange(server.addr, b"HELLO THERE\r\n\r\n");
    assert!(
        answer.starts_with("HTTP/1.1 400 Bad Request\r\n"),
        "{answer}"
    );
    assert!(answer.contains("Connection: close\r\n"));
    let answer = exchange(server.addr, b"GET / HTTP/1.1\r\n\r\n");
    assert!(
        answer.starts_with("HTTP/1.1 400 "),
        "HTTP/1.1 without Host: {answer}"
    );
    server.wait_for_log("answered 400 Bad Request", TIMEOUT);
}

#[test]
fn oversized_headers_get_431() {
    let server = http_server(&[]);
    let answer = exchange(server.addr, &request_with_fields(200, &"a".repeat(1000)));
    assert!(
        answer.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"),
        "{answer}"
    );
    // Too many small fields is the same status, under its own limit.
    let server = http_server(&["--max-headers", "10"]);
    let answer = exchange(server.addr, &request_with_fields(20, "y"));
    assert!(answer.starts_with("HTTP/1.1 431 "), "{answer}");
}

/// A GET with `count` extra fields of `value` each.
fn request_with_fields(count: usize, value: &str) -> Vec<u8> {
    let mut request = b"GET / HTTP/1.1\r\nHost: x\r\n".to_vec();
    for i in 0..count {
        request.extend_from_slice(format!("X-Fill-{i:03}: {value}\r\n").as_bytes());
    }
    request.extend_from_slice(b"\r\n");
    request
}

#[test]
fn unknown_version_gets_505() {
    let server = http_server(&[]);
    let answer = exchange(server.addr, b"GET / HTTP/3.0\r\nHost: x\r\n\r\n");
    assert!(
        answer.starts_with("HTTP/1.1 505 HTTP Version Not Supported\r\n"),
        "{answer}"
    );
    let answer = exchange(server.addr, b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
    assert!(answer.starts_with("HTTP/1.1 505 "), "{answer}");
}

#[test]
fn chunked_request_body_gets_411_and_content_length_body_is_skipped() {
    let server = http_server(&[]);
    let answer = exchange(
        server.addr,
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    );
    assert!(
        answer.starts_with("HTTP/1.1 411 Length Required\r\n"),
        "{answer}"
    );
    let answer = exchange(
        server.addr,
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nGET / HTTP\
          GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(
        statuses(&answer).len(),
        2,
        "the body is not a request: {answer}"
    );
}

/// Connects, sends half a request head, and measures how long the server
/// takes to give up; `dribble` keeps sending a byte every 200 ms meanwhile,
/// which an idle timeout alone would never cut off.
fn slow_head(dribble: bool) -> (String, Duration) {
    let server = http_server(&["--header-timeout", "1s", "--idle-timeout", "30s"]);
    // Timed from before the connect: the server's clock may start as soon as
    // it accepts, which a loaded machine can run before we get to our send.
    let started = Instant::now();
    let mut stream = TcpStream::connect_timeout(&server.addr, TIMEOUT).expect("connect");
    stream.set_read_timeout(Some(TIMEOUT)).expect("timeout");
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n")
        .expect("send");
    let (stop_tx, stop_rx) = mpsc::channel::<()>();
    let writer = dribble.then(|| {
        let mut stream = stream.try_clone().expect("clone");
        std::thread::spawn(move || {
            while stop_rx.recv_timeout(Duration::from_millis(200)).is_err() {
                if stream.write_all(b"X").is_err() {
                    break;
                }
            }
        })
    });
    let mut answer = Vec::new();
    stream
        .read_to_end(&mut answer)
        .expect("the server answers and closes");
    let elapsed = started.elapsed();
    drop(stop_tx);
    if let Some(writer) = writer {
        writer.join().expect("writer");
    }
    server.wait_for_log("408", TIMEOUT);
    (String::from_utf8_lossy(&answer).into_owned(), elapsed)
}

#[test]
fn stalled_head_is_dropped_after_the_header_timeout() {
    let (answer, elapsed) = slow_head(false);
    assert!(
        answer.starts_with("HTTP/1.1 408 Request Timeout\r\n"),
        "{answer}"
    );
    assert!(elapsed >= Duration::from_millis(900), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
}

#[test]
fn dribbled_head_is_dropped_despite_activity() {
    let (answer, elapsed) = slow_head(true);
    assert!(answer.starts_with("HTTP/1.1 408 "), "{answer}");
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
}

// ---- 3. wrk ----------------------------------------------------------------

#[test]
fn wrk_sees_no_errors() {
    require("wrk");
    let server = http_server(&["-q"]);
    let out = run(
        Command::new("wrk").args(["-t2", "-c100", "-d3s", &url(&server)]),
        TIMEOUT,
    );
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(!stdout.contains("Socket errors"), "{stdout}");
    assert!(!stdout.contains("Non-2xx"), "{stdout}");
    let rate: f64 = stdout
        .lines()
        .find_map(|line| line.strip_prefix("Requests/sec:"))
        .expect("a Requests/sec line")
        .trim()
        .parse()
        .expect("a number");
    assert!(rate > 100.0, "{stdout}");
    eprintln!("wrk against the test build: {rate:.0} requests/s");
}

// ---- 4. http get -----------------------------------------------------------

#[test]
fn get_from_our_server() {
    let server = http_server(&[]);
    let out = run_socklab(&["http", "get", &url(&server)], TIMEOUT);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(stdout, "Hello World", "stdout holds exactly the body");
    assert!(stderr.starts_with("HTTP/1.1 200 OK\n"), "{stderr}");
    assert!(stderr.contains("Content-Length: 11\n"));

    let out = run_socklab(&["http", "get", "--raw", &url(&server)], TIMEOUT);
    let (stdout, stderr) = text(&out);
    assert!(stderr.starts_with(&format!("GET / HTTP/1.1\r\nHost: {}\r\n", server.addr)));
    assert!(stderr.contains("\r\nUser-Agent: socklab/"));
    assert!(stderr.ends_with("Connection: close\r\n\r\n"), "{stderr:?}");
    assert!(stdout.starts_with("HTTP/1.1 200 OK\r\n"), "{stdout}");
    assert!(
        stdout.ends_with("Connection: close\r\n\r\nHello World"),
        "{stdout:?}"
    );
}

/// A child process killed on drop, whose first stdout line was read.
struct Peer(Child);

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `cmd` and returns it with its first stdout line.
fn start_peer(cmd: &mut Command) -> (Peer, String) {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn peer");
    let stdout = child.stdout.take().expect("piped");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        if let Some(Ok(line)) = lines.next() {
            let _ = tx.send(line);
        }
        for _ in lines {}
    });
    let peer = Peer(child);
    let line = rx.recv_timeout(TIMEOUT).expect("the peer's first line");
    (peer, line)
}

fn python_peer(mode: &str) -> (Peer, String) {
    require("python3");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/http/peer_server.py");
    let (peer, line) = start_peer(Command::new("python3").arg(script).arg(mode));
    let addr = line.strip_prefix("listening on ").expect("listening line");
    let url = format!("http://{addr}/");
    (peer, url)
}

#[test]
fn get_a_binary_file_from_python_http_server() {
    require("python3");
    let dir = tempfile::tempdir().expect("tempdir");
    let data: Vec<u8> = (0..300_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(dir.path().join("blob.bin"), &data).expect("write");
    let (_peer, line) = start_peer(Command::new("python3").args([
        "-u",
        "-m",
        "http.server",
        "0",
        "--bind",
        "127.0.0.1",
        "--directory",
        dir.path().to_str().expect("utf-8 path"),
    ]));
    // "Serving HTTP on 127.0.0.1 port 41234 (http://127.0.0.1:41234/) ..."
    let base = line
        .split(['(', ')'])
        .nth(1)
        .unwrap_or_else(|| panic!("unexpected banner {line:?}"));
    let url = format!("{base}blob.bin");

    let saved = dir.path().join("saved.bin");
    let out = run_socklab(
        &["http", "get", &url, "-o", saved.to_str().expect("utf-8")],
        TIMEOUT,
    );
    let (_, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("200 OK") && stderr.contains("Content-Length: 300000"));
    assert!(
        std::fs::read(&saved).expect("saved") == data,
        "file differs"
    );

    let out = run_socklab(&["http", "get", &url], TIMEOUT);
    assert!(out.stdout == data, "stdout differs from the file");
}

#[test]
fn get_decodes_a_chunked_body() {
    let (_peer, url) = python_peer("chunked");
    let expected = "chunked bodies arrive in pieces, ".repeat(40);
    let out = run_socklab(&["http", "get", &url], TIMEOUT);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("Transfer-Encoding: chunked"));
    assert_eq!(stdout, expected);

    let out = run_socklab(&["http", "get", "--raw", &url], TIMEOUT);
    let (stdout, _) = text(&out);
    assert!(
        stdout.contains("\r\n\r\n64;piece=0\r\nchunked"),
        "raw shows the framing"
    );
    assert!(stdout.ends_with("0\r\nX-Checksum: none\r\n\r\n"));
}

#[test]
fn get_reads_a_close_delimited_body() {
    let (_peer, url) = python_peer("close");
    let out = run_socklab(&["http", "get", &url], TIMEOUT);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(stdout, "chunked bodies arrive in pieces, ".repeat(40));
}

#[test]
fn get_fails_on_404_after_writing_the_body() {
    let (_peer, url) = python_peer("404");
    let out = run_socklab(&["http", "get", &url], TIMEOUT);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stdout, "no such page\n");
    assert!(
        stderr.contains("error: the server answered 404 Not Found"),
        "{stderr}"
    );
}

#[test]
fn get_reports_a_refused_connection() {
    let (_held, port) = common::refused_tcp_port();
    let out = run_socklab(
        &["http", "get", &format!("http://127.0.0.1:{port}/")],
        TIMEOUT,
    );
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr.starts_with("error: cannot connect to 127.0.0.1:"),
        "{stderr}"
    );
}

#[test]
fn the_tour_shows_http_and_lookup() {
    let out = run_socklab(&["tour"], TIMEOUT);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stdout.contains("== http:") && stdout.contains("\nHello World\n"),
        "{stdout}"
    );
    assert!(stderr.contains("HTTP/1.1 200 OK\n"), "{stderr}");
    assert!(
        stdout.contains("== lookup:") && stdout.contains("127.0.0.1:80"),
        "{stdout}"
    );
}

// ---- https -----------------------------------------------------------------

mod tls {
    use super::*;
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A CA's PEM and the issuer that signs with it.
    fn new_ca(name: &str) -> CertifiedIssuer<'static, KeyPair> {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        CertifiedIssuer::self_signed(params, KeyPair::generate().expect("key")).expect("CA")
    }

    /// Starts a TLS server on loopback whose certificate `ca` signed; it
    /// answers every request with `hello over tls` and closes.
    fn tls_server(ca: &CertifiedIssuer<'static, KeyPair>) -> SocketAddr {
        let key = KeyPair::generate().expect("key");
        let params =
            CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into()]).expect("params");
        let cert = params.signed_by(&key, &**ca).expect("leaf");
        let chain: Vec<CertificateDer<'static>> = vec![cert.der().clone()];
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .expect("server config");
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("addr");
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                while let Ok((tcp, _)) = listener.accept().await {
                    let acceptor = acceptor.clone();
                    tokio::spawn(async move {
                        let Ok(mut tls) = acceptor.accept(tcp).await else {
                            return;
                        };
                        let mut request = Vec::new();
                        let mut buf = [0u8; 1024];
                        while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                            match tls.read(&mut buf).await {
                                Ok(n) if n > 0 => request.extend_from_slice(&buf[..n]),
                                _ => return,
                            }
                        }
                        let answer =
                            b"HTTP/1.1 200 OK\r\nContent-Length: 14\r\nConnection: close\r\n\r\nhello over tls";
                        let _ = tls.write_all(answer).await;
                        let _ = tls.shutdown().await;
                    });
                }
            });
        });
        addr
    }

    #[test]
    fn get_over_https_with_cacert() {
        let ca = new_ca("socklab test CA");
        let addr = tls_server(&ca);
        let dir = tempfile::tempdir().expect("tempdir");
        let ca_file = dir.path().join("ca.pem");
        std::fs::write(&ca_file, ca.pem()).expect("write CA");
        let url = format!("https://127.0.0.1:{}/", addr.port());
        let out = run_socklab(
            &[
                "http",
                "get",
                &url,
                "--cacert",
                ca_file.to_str().expect("utf-8"),
            ],
            TIMEOUT,
        );
        let (stdout, stderr) = text(&out);
        assert!(out.status.success(), "{stderr}");
        assert_eq!(stdout, "hello over tls");
        assert!(stderr.starts_with("HTTP/1.1 200 OK\n"), "{stderr}");
    }

    #[test]
    fn wrong_ca_is_a_certificate_error() {
        let addr = tls_server(&new_ca("the real CA"));
        let dir = tempfile::tempdir().expect("tempdir");
        let ca_file = dir.path().join("other.pem");
        std::fs::write(&ca_file, new_ca("some other CA").pem()).expect("write CA");
        let url = format!("https://127.0.0.1:{}/", addr.port());
        for extra in [&["--cacert", ca_file.to_str().expect("utf-8")][..], &[]] {
            let mut args = vec!["http", "get", url.as_str()];
            args.extend_from_slice(extra);
            let out = run_socklab(&args, TIMEOUT);
            let (stdout, stderr) = text(&out);
            assert_eq!(out.status.code(), Some(1), "{stderr}");
            assert!(stdout.is_empty());
            assert_eq!(
                stderr.trim_end(),
                "error: certificate verify failed for 127.0.0.1: unknown issuer \
                 (no trusted CA signed it; trust one with --cacert FILE)"
            );
        }
    }
}
