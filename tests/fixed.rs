//! fixed: the 16-octet exchange, and the texts' `recvall` error both ways.

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;

use common::{Server, TIMEOUT, run_socklab, text};

#[test]
fn sixteen_octets_each_way() {
    let server = Server::start(&["fixed", "server", "127.0.0.1", "0"]);
    let out = run_socklab(&["fixed", "client", "127.0.0.1", &server.port()], TIMEOUT);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.starts_with("Client has been assigned socket name 127.0.0.1:"));
    assert!(
        stdout.ends_with("The server said b'Farewell, client'\n"),
        "{stdout}"
    );
    server.wait_for_log(
        "Incoming sixteen-octet message: b'Hi there, server'",
        TIMEOUT,
    );
    server.wait_for_log("Reply sent, socket closed", TIMEOUT);
}

#[test]
fn client_reports_a_server_that_closes_after_five_bytes() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port().to_string();
    let peer = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().expect("accept");
        let mut greeting = [0u8; 16];
        conn.read_exact(&mut greeting).expect("greeting");
        conn.write_all(b"Farew").expect("five bytes");
    });
    let out = run_socklab(&["fixed", "client", "127.0.0.1", &port], TIMEOUT);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr.trim_end(),
        "error: was expecting 16 bytes but only received 5 bytes before the socket closed"
    );
    // Joined only once the client's message shows it connected: a client
    // that never did would leave the peer blocked in accept() for ever.
    peer.join().expect("peer thread");
}

#[test]
fn server_reports_a_client_that_closes_after_five_bytes_and_goes_on() {
    let server = Server::start(&["fixed", "server", "127.0.0.1", "0"]);
    let mut conn = std::net::TcpStream::connect(server.addr).expect("connect");
    conn.write_all(b"Hi th").expect("five bytes");
    conn.shutdown(std::net::Shutdown::Write)
        .expect("half-close");
    server.wait_for_log(
        "was expecting 16 bytes but only received 5 bytes before the socket closed",
        TIMEOUT,
    );
    let out = run_socklab(&["fixed", "client", "127.0.0.1", &server.port()], TIMEOUT);
    assert!(out.status.success(), "{:?}", text(&out));
}
