//! `--allow` / `--deny`: peers on 127.0.0.2 refused or served by our TCP
//! (echo) and UDP servers, as processes and in process through the library;
//! IPv4-mapped peers of a dual-stack socket meet IPv4 rules;
//! a refused peer takes no connection slot; a bad CIDR is a usage error.

mod common;

use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

use socklab::net::{self, AccessList, ConnInfo, Monitored, ServerOptions};
use socklab::udp;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::time::timeout;
use tokio_util::sync::CancellationToken;

use common::{Server, TIMEOUT, run_socklab, text};

const LUCKY: &[u8] = b"Here's your lucky number:";
/// How long a refused UDP peer waits for the reply that must not come, once
/// a datagram sent after its own has been answered.
const NO_REPLY: Duration = Duration::from_millis(200);

/// An access list from CIDR literals.
fn access(allow: &[&str], deny: &[&str]) -> AccessList {
    let parse = |list: &[&str]| list.iter().map(|c| c.parse().expect("a CIDR")).collect();
    AccessList {
        allow: parse(allow),
        deny: parse(deny),
    }
}

/// A TCP connection to `server` from `source` (port chosen by the kernel).
async fn connect_from(source: &str, server: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().expect("socket");
    let local: SocketAddr = format!("{source}:0").parse().expect("source address");
    socket.bind(local).expect("bind the source address");
    timeout(TIMEOUT, socket.connect(server))
        .await
        .expect("connect in time")
        .expect("the kernel accepts")
}

/// Connects from `source` and checks that an echo comes back; returns the
/// stream, still open.
async fn served(source: &str, server: SocketAddr) -> TcpStream {
    let mut stream = connect_from(source, server).await;
    stream.write_all(b"ping").await.expect("send");
    let mut echo = [0u8; 4];
    timeout(TIMEOUT, stream.read_exact(&mut echo))
        .await
        .expect("echo in time")
        .expect("echo");
    assert_eq!(&echo, b"ping", "{source} was not echoed");
    stream
}

/// Connects from `source` and checks that the server closes the connection
/// without a byte: EOF, or a reset when our bytes were there to discard.
/// Returns the stream, still open on our side.
async fn refused(source: &str, server: SocketAddr) -> TcpStream {
    let mut stream = connect_from(source, server).await;
    // The write may fail once the server has closed: that is a refusal too.
    let _ = stream.write_all(b"ping").await;
    let mut buf = [0u8; 4];
    let read = timeout(TIMEOUT, stream.read(&mut buf))
        .await
        .expect("closed in time");
    assert!(
        matches!(read, Ok(0) | Err(_)),
        "{source} was served: {read:?} {:?}",
        &buf
    );
    stream
}

/// Starts `socklab echo server 127.0.0.1 0 EXTRA...`.
fn echo_server(extra: &[&str]) -> Server {
    let mut args = vec!["echo", "server", "127.0.0.1", "0"];
    args.extend_from_slice(extra);
    Server::start(&args)
}

#[tokio::test]
async fn tcp_deny_refuses_that_peer_and_serves_others() {
    let server = echo_server(&["--deny", "127.0.0.2/32"]);
    refused("127.0.0.2", server.addr).await;
    let line = server.wait_for_log("refused connection from 127.0.0.2:", TIMEOUT);
    assert!(line.ends_with("not allowed by --allow/--deny"), "{line}");
    served("127.0.0.1", server.addr).await;
    // Refused before it was accepted as a connection of the protocol.
    let logs = server.logs();
    assert!(
        !logs
            .iter()
            .any(|l| l.contains("accepted connection from 127.0.0.2")),
        "{logs:?}"
    );
}

#[tokio::test]
async fn tcp_allow_of_a_network_serves_its_members() {
    let server = echo_server(&["--allow", "127.0.0.0/8"]);
    served("127.0.0.2", server.addr).await;
    served("127.0.0.1", server.addr).await;
}

#[tokio::test]
async fn tcp_allow_of_one_address_refuses_the_rest() {
    let server = echo_server(&["--allow", "127.0.0.1/32"]);
    refused("127.0.0.2", server.addr).await;
    served("127.0.0.1", server.addr).await;
}

#[tokio::test]
async fn tcp_deny_wins_over_allow() {
    let server = echo_server(&["--allow", "127.0.0.0/8", "--deny", "127.0.0.2"]);
    refused("127.0.0.2", server.addr).await;
    served("127.0.0.1", server.addr).await;
}

// With one slot: a refused peer still connected does not hold it, and one
// that comes while the slot is taken is refused for who it is, not for the
// limit (the access list is checked first).
#[tokio::test]
async fn a_refused_peer_takes_no_connection_slot() {
    let server = echo_server(&["--max-conns", "1", "--deny", "127.0.0.2"]);
    let _early = refused("127.0.0.2", server.addr).await;
    let _holder = served("127.0.0.1", server.addr).await;
    let _late = refused("127.0.0.2", server.addr).await;
    let refusals = || {
        server
            .logs()
            .iter()
            .filter(|l| l.contains("refused connection from 127.0.0.2:"))
            .count()
    };
    // The second refusal's line may follow its close by a moment.
    let until = std::time::Instant::now() + TIMEOUT;
    while refusals() < 2 {
        assert!(std::time::Instant::now() < until, "{:?}", server.logs());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let logs = server.logs();
    assert!(
        !logs.iter().any(|l| l.contains("connection limit")),
        "{logs:?}"
    );
}

/// A blocking UDP socket on `source`, waiting at most [`TIMEOUT`].
fn udp_from(source: &str) -> UdpSocket {
    let socket = UdpSocket::bind(format!("{source}:0")).expect("bind the source address");
    socket.set_read_timeout(Some(TIMEOUT)).expect("timeout");
    socket
}

/// Sends a request from `socket` and checks the lucky-number reply.
fn answered(socket: &UdpSocket, server: SocketAddr) {
    socket.send_to(b"hi", server).expect("send");
    let mut buf = [0u8; 128];
    let (len, from) = socket.recv_from(&mut buf).expect("a reply");
    assert_eq!(from, server);
    assert!(buf[..len].starts_with(LUCKY), "{:?}", &buf[..len]);
}

/// 127.0.0.2 sends first, then 127.0.0.1, which is answered: the server
/// takes datagrams in arrival order, so had 127.0.0.2 been answered, its
/// reply would be waiting already; a short wait covers its delivery.
fn refused_then_answered(server: SocketAddr) {
    let refused = udp_from("127.0.0.2");
    refused.send_to(b"hi", server).expect("send");
    answered(&udp_from("127.0.0.1"), server);
    refused.set_read_timeout(Some(NO_REPLY)).expect("timeout");
    let mut buf = [0u8; 128];
    let got = refused.recv_from(&mut buf);
    assert!(
        got.as_ref().is_err_and(|err| matches!(
            err.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        )),
        "127.0.0.2 got a reply: {got:?}"
    );
}

/// Starts `socklab udp server 127.0.0.1 0 EXTRA...`.
fn udp_server(extra: &[&str]) -> Server {
    let mut args = vec!["udp", "server", "127.0.0.1", "0"];
    args.extend_from_slice(extra);
    Server::start(&args)
}

#[test]
fn udp_deny_drops_that_peer_and_answers_others() {
    let server = udp_server(&["--deny", "127.0.0.2/32", "-v"]);
    refused_then_answered(server.addr);
    server.wait_for_log("dropped datagram from 127.0.0.2:", TIMEOUT);
    let logs = server.logs();
    assert!(
        !logs.iter().any(|l| l.contains("The client at 127.0.0.2")),
        "{logs:?}"
    );
}

#[test]
fn udp_allow_of_a_network_answers_its_members() {
    let server = udp_server(&["--allow", "127.0.0.0/8"]);
    answered(&udp_from("127.0.0.2"), server.addr);
    answered(&udp_from("127.0.0.1"), server.addr);
}

#[test]
fn udp_allow_of_one_address_drops_the_rest() {
    let server = udp_server(&["--allow", "127.0.0.1/32"]);
    refused_then_answered(server.addr);
}

#[test]
fn a_bad_cidr_is_a_usage_error() {
    for (args, why) in [
        (
            &["echo", "server", "--deny", "10.0.0.0/40"][..],
            "prefix /40 is longer than the 32 bits of an IPv4 address",
        ),
        (
            &["udp", "server", "--allow", "localhost"][..],
            "`localhost` is not an IP address",
        ),
        (
            &["http", "server", "--allow", "127.0.0.0/"][..],
            "`/` is not a prefix length",
        ),
    ] {
        let output = run_socklab(args, TIMEOUT);
        let (_, stderr) = text(&output);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(why), "{args:?}: {stderr}");
    }
}

/// `net::serve` in process with an access list: each connection's handler
/// reports its peer, then echoes one 4-byte message.
struct Reporting {
    peers: tokio::sync::mpsc::UnboundedReceiver<SocketAddr>,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Reporting {
    fn start(listener: TcpListener, access: AccessList) -> Self {
        let (tx, peers) = tokio::sync::mpsc::unbounded_channel();
        let options = ServerOptions {
            access,
            ..ServerOptions::default()
        };
        let stop = CancellationToken::new();
        let task = tokio::spawn(net::serve(
            listener,
            options,
            stop.clone().cancelled_owned(),
            move |mut io: Monitored<net::Stream<TcpStream>>, info: ConnInfo| {
                let tx = tx.clone();
                async move {
                    let _ = tx.send(info.peer);
                    let mut buf = [0u8; 4];
                    io.read_exact(&mut buf).await?;
                    io.write_all(&buf).await
                }
            },
        ));
        Self { peers, stop, task }
    }

    /// The peer of the next connection a handler saw.
    async fn next_peer(&mut self) -> SocketAddr {
        timeout(TIMEOUT, self.peers.recv())
            .await
            .expect("in time")
            .expect("a connection")
    }

    async fn stop(self) {
        stopped(self.stop, self.task).await;
    }
}

#[tokio::test]
async fn serve_hands_the_handler_only_permitted_peers() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    let mut server = Reporting::start(listener, access(&[], &["127.0.0.2"]));
    let refused_peer = refused("127.0.0.2", addr).await;
    let client = served("127.0.0.1", addr).await;
    // Connections are accepted in order: the first the handler saw is ours.
    let first = server.next_peer().await;
    assert_eq!(first, client.local_addr().expect("client address"));
    assert_ne!(first, refused_peer.local_addr().expect("refused address"));
    assert!(
        server.peers.try_recv().is_err(),
        "the handler saw another peer"
    );
    server.stop().await;
}

#[tokio::test]
async fn udp_serve_answers_only_permitted_sources() {
    let socket = udp::bind("127.0.0.1", 0).await.expect("bind");
    let addr = socket.local_addr().expect("address");
    let stop = CancellationToken::new();
    let options = udp::Options {
        access: access(&["127.0.0.1/32"], &[]),
        ..udp::Options::default()
    };
    let server = tokio::spawn(udp::serve(socket, options, stop.clone().cancelled_owned()));
    // Blocking sockets under their read timeouts, off the runtime's threads.
    tokio::task::spawn_blocking(move || refused_then_answered(addr))
        .await
        .expect("the exchange");
    stopped(stop, server).await;
}

/// Stops an in-process server and checks that it ended cleanly, in time.
async fn stopped(stop: CancellationToken, server: tokio::task::JoinHandle<std::io::Result<()>>) {
    stop.cancel();
    timeout(TIMEOUT, server)
        .await
        .expect("stops in time")
        .expect("serve task")
        .expect("serve");
}

// A dual-stack socket reports IPv4 peers as `::ffff:a.b.c.d`; bound to the
// mapped form of 127.0.0.1 (not `::`, so it stays on loopback) it accepts
// IPv4 connections the same way a `::` listener does.
#[tokio::test]
async fn ipv4_mapped_peers_meet_the_ipv4_rules() {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::IPV6, Type::STREAM, None).expect("socket");
    socket.set_only_v6(false).expect("dual stack");
    let mapped: SocketAddr = "[::ffff:127.0.0.1]:0".parse().expect("literal");
    socket.bind(&mapped.into()).expect("bind");
    socket.listen(16).expect("listen");
    socket.set_nonblocking(true).expect("non-blocking");
    let listener = TcpListener::from_std(socket.into()).expect("listener");
    let port = listener.local_addr().expect("address").port();
    let mut server = Reporting::start(listener, access(&["127.0.0.0/8"], &["127.0.0.2/32"]));
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("address");
    refused("127.0.0.2", addr).await;
    let client = served("127.0.0.1", addr).await;
    let peer = server.next_peer().await;
    let port = client.local_addr().expect("client address").port();
    assert_eq!(
        peer,
        format!("[::ffff:127.0.0.1]:{port}")
            .parse()
            .expect("literal")
    );
    server.stop().await;
}
