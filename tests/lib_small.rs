//! echo, fixed, upper, hello, udp and lookup through the library API, in
//! process: servers on 127.0.0.1:0 or handlers over a duplex pair, every
//! await under a timeout, assertions on returned values.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use socklab::net::{ConnInfo, Endpoint};
use socklab::{echo, fixed, hello, lookup, udp, upper};
use tokio::io::{AsyncReadExt, AsyncWriteExt, duplex};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::time::timeout;
use tokio_util::sync::CancellationToken;

const LIMIT: Duration = Duration::from_secs(30);

/// Awaits `future`, failing the test if it takes longer than [`LIMIT`].
async fn within<F: Future>(future: F) -> F::Output {
    timeout(LIMIT, future).await.expect("in time")
}

/// A server running on its own task until the value is dropped.
struct Running {
    addr: SocketAddr,
    _stop: oneshot::Sender<()>,
}

/// Binds 127.0.0.1:0 and runs `serve(listener, shutdown)` on a task.
async fn start<F, Fut>(serve: F) -> Running
where
    F: FnOnce(TcpListener, Box<dyn Future<Output = ()> + Send + Unpin>) -> Fut,
    Fut: Future<Output = std::io::Result<()>> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    let (stop, stopped) = oneshot::channel::<()>();
    let shutdown = Box::new(Box::pin(async move { drop(stopped.await) }));
    tokio::spawn(serve(listener, shutdown));
    Running { addr, _stop: stop }
}

/// What a handler run over a duplex pair gets besides the stream.
fn conn_info() -> ConnInfo {
    let addr: SocketAddr = "127.0.0.1:1".parse().expect("address");
    ConnInfo {
        peer: addr,
        local: addr,
        shutdown: CancellationToken::new(),
    }
}

#[tokio::test]
async fn echo_client_gets_its_message_back() {
    let server = start(|l, s| echo::serve(l, echo::Options::default(), s)).await;
    let port = server.addr.port();
    let echoed = within(echo::client(
        &Endpoint::new("127.0.0.1", port),
        b"Hello, world",
    ))
    .await
    .expect("echo");
    assert_eq!(echoed, b"Hello, world");
}

#[tokio::test]
async fn echo_multiconn_returns_every_connections_echo_and_reports_each_step() {
    let server = start(|l, s| echo::serve(l, echo::Options::default(), s)).await;
    let messages: Vec<String> = echo::MULTICONN_MESSAGES.map(String::from).to_vec();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let results = within(echo::multiconn(
        &Endpoint::new("127.0.0.1", server.addr.port()),
        3,
        &messages,
        move |event| {
            let step = match event {
                echo::Event::Starting(id) => (id, "starting"),
                echo::Event::Sending(id, _) => (id, "sending"),
                echo::Event::Received(id, _) => (id, "received"),
                echo::Event::Closing(id) => (id, "closing"),
                echo::Event::Failed(id, _) => (id, "failed"),
            };
            log.lock().expect("lock").push(step);
        },
    ))
    .await;
    assert_eq!(results.len(), 3);
    for result in results {
        assert_eq!(
            result.expect("connection"),
            b"Message 1 from client.Message 2 from client."
        );
    }
    let seen = seen.lock().expect("lock");
    for id in 1..=3 {
        let steps: Vec<&str> = seen.iter().filter(|s| s.0 == id).map(|s| s.1).collect();
        assert_eq!(
            steps,
            ["starting", "sending", "sending", "received", "closing"]
        );
    }
}

#[tokio::test]
async fn echo_multiconn_reports_a_refused_connection() {
    // A port just freed has nobody listening on it.
    let port = {
        let socket = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        socket.local_addr().expect("addr").port()
    };
    let failures = Arc::new(Mutex::new(0));
    let count = failures.clone();
    let results = within(echo::multiconn(
        &Endpoint::new("127.0.0.1", port),
        2,
        &["x".to_string()],
        move |event| {
            if let echo::Event::Failed(_, err) = event {
                assert!(err.to_string().starts_with("cannot connect to"), "{err}");
                *count.lock().expect("lock") += 1;
            }
        },
    ))
    .await;
    assert!(results.iter().all(Result::is_err));
    assert_eq!(*failures.lock().expect("lock"), 2);
}

#[tokio::test]
async fn echo_handler_over_a_duplex_honours_the_half_close() {
    let (mut peer, ours) = duplex(1024);
    let server = tokio::spawn(echo::handle(ours, conn_info()));
    peer.write_all(b"any \x00 bytes").await.expect("write");
    peer.shutdown().await.expect("half-close");
    let mut back = Vec::new();
    within(peer.read_to_end(&mut back)).await.expect("read");
    assert_eq!(back, b"any \x00 bytes");
    within(server).await.expect("task").expect("handler");
}

#[tokio::test]
async fn echo_handler_closes_an_idle_peer_on_shutdown() {
    let (mut peer, ours) = duplex(1024);
    let conn = conn_info();
    let token = conn.shutdown.clone();
    let server = tokio::spawn(echo::handle(ours, conn));
    token.cancel();
    let mut back = Vec::new();
    within(peer.read_to_end(&mut back)).await.expect("read");
    assert!(back.is_empty());
    within(server).await.expect("task").expect("handler");
}

#[tokio::test]
async fn echo_exchange_reports_a_short_echo() {
    let (mut peer, mut ours) = duplex(1024);
    let liar = tokio::spawn(async move {
        let mut buf = [0u8; 5];
        peer.read_exact(&mut buf).await.expect("read");
        peer.write_all(b"hel").await.expect("write");
    });
    let err = within(echo::exchange(&mut ours, &[b"hello"]))
        .await
        .expect_err("short");
    assert!(
        matches!(err, echo::Error::Short { got: 3, sent: 5 }),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        "the server closed after echoing 3 of 5 bytes"
    );
    liar.await.expect("peer");
}

#[tokio::test]
async fn upper_handler_over_a_duplex_uppercases_ascii_only() {
    let (mut peer, ours) = duplex(1024);
    let server = tokio::spawn(upper::handle(ours, conn_info()));
    peer.write_all("mixed Case é 1!".as_bytes())
        .await
        .expect("write");
    peer.shutdown().await.expect("half-close");
    let mut back = Vec::new();
    within(peer.read_to_end(&mut back)).await.expect("read");
    assert_eq!(back, "MIXED CASE é 1!".as_bytes());
    within(server).await.expect("task").expect("handler");
}

#[tokio::test]
async fn upper_client_returns_the_verified_counts() {
    let server = start(|l, s| upper::serve(l, upper::Options::default(), s)).await;
    let transfer = upper::Transfer {
        bytes: 1_000_001,
        ..Default::default()
    };
    assert_eq!(transfer.total(), 1_000_016);
    let report = within(upper::client(
        &Endpoint::new("127.0.0.1", server.addr.port()),
        &transfer,
        |_, _| {},
    ))
    .await
    .expect("transfer");
    assert_eq!(report.sent, 1_000_016);
    assert_eq!(report.received, 1_000_016);
    assert!(report.first.starts_with(b"CAPITALIZE THIS!"));
}

#[tokio::test]
async fn upper_lockstep_returns_the_deadlock_with_its_numbers() {
    let server = start(|l, s| upper::serve(l, upper::Options::default(), s)).await;
    let transfer = upper::Transfer {
        bytes: 64 << 20,
        lockstep: true,
        stall_timeout: Duration::from_millis(500),
    };
    let err = within(upper::client(
        &Endpoint::new("127.0.0.1", server.addr.port()),
        &transfer,
        |_, _| {},
    ))
    .await
    .expect_err("deadlock");
    let upper::Error::Stalled {
        lockstep,
        sent,
        total,
        received,
        queues,
        ..
    } = err
    else {
        panic!("not a stall: {err}");
    };
    assert!(lockstep);
    assert_eq!(total, 64 << 20);
    assert!(sent > 0 && sent < total);
    assert_eq!(received, 0);
    assert!(queues.send_q > 0 && queues.recv_q > 0, "{queues:?}");
}

#[tokio::test]
async fn fixed_client_returns_the_farewell_and_its_socket_name() {
    let server = start(|l, s| fixed::serve(l, fixed::Options::default(), s)).await;
    let reply = within(fixed::client(&Endpoint::new(
        "127.0.0.1",
        server.addr.port(),
    )))
    .await
    .expect("exchange");
    assert_eq!(&reply.message[..], fixed::FAREWELL);
    assert!(reply.local.ip().is_loopback());
    assert_ne!(reply.local.port(), server.addr.port());
}

#[tokio::test]
async fn fixed_exchange_reports_a_server_that_sends_five_bytes() {
    let (mut peer, ours) = duplex(1024);
    let server = tokio::spawn(async move {
        let mut greeting = [0u8; 16];
        peer.read_exact(&mut greeting).await.expect("greeting");
        peer.write_all(b"Farew").await.expect("five bytes");
        greeting
    });
    let err = within(fixed::exchange(ours)).await.expect_err("short");
    assert!(matches!(err, fixed::Error::Short { got: 5 }), "{err}");
    assert_eq!(
        err.to_string(),
        "was expecting 16 bytes but only received 5 bytes before the socket closed"
    );
    assert_eq!(&server.await.expect("peer"), fixed::GREETING);
}

#[tokio::test]
async fn fixed_handler_answers_sixteen_bytes_sent_in_pieces() {
    let (mut peer, ours) = duplex(1024);
    let server = tokio::spawn(fixed::handle(ours, conn_info()));
    peer.write_all(b"Hi there").await.expect("half");
    tokio::task::yield_now().await;
    peer.write_all(b", server").await.expect("rest");
    let mut reply = Vec::new();
    within(peer.read_to_end(&mut reply)).await.expect("reply");
    assert_eq!(reply, fixed::FAREWELL);
    within(server).await.expect("task").expect("handler");
}

#[tokio::test]
async fn fixed_handler_reports_a_client_that_closes_early() {
    for sent in [&b"Hi th"[..], b""] {
        let (mut peer, ours) = duplex(1024);
        let server = tokio::spawn(fixed::handle(ours, conn_info()));
        peer.write_all(sent).await.expect("write");
        drop(peer);
        let err = within(server).await.expect("task").expect_err("short");
        assert!(
            matches!(err, fixed::Error::Short { got } if got == sent.len()),
            "{err}"
        );
    }
}

#[tokio::test]
async fn hello_client_gets_the_welcome_and_each_answer() {
    let server = start(|l, s| hello::serve(l, hello::Options::default(), s)).await;
    let conversation = async {
        let mut client =
            hello::Client::connect(&Endpoint::new("127.0.0.1", server.addr.port())).await?;
        let welcome = client.welcome().await?;
        let mut answers = Vec::new();
        for name in ["Ada", "Grace"] {
            answers.push(client.greet(name).await?);
        }
        client.exit().await?;
        Ok::<_, hello::Error>((welcome, answers))
    };
    let (welcome, answers) = within(conversation).await.expect("conversation");
    assert_eq!(welcome, "Welcome!");
    assert_eq!(answers, ["Hello, Ada!", "Hello, Grace!"]);
}

/// Runs the hello handler over a duplex pair, sends `input` and closes,
/// and returns everything the server sent and how the handler ended.
async fn hello_transcript(input: &[u8]) -> (Vec<u8>, Result<(), hello::Error>) {
    let (mut peer, ours) = duplex(64 * 1024);
    let server = tokio::spawn(hello::handle(ours, conn_info()));
    peer.write_all(input).await.expect("write");
    peer.shutdown().await.expect("half-close");
    let mut out = Vec::new();
    within(peer.read_to_end(&mut out)).await.expect("read");
    let ended = within(server).await.expect("task");
    (out, ended)
}

#[tokio::test]
async fn hello_handler_answers_lines_in_one_write_and_stops_at_exit() {
    let (out, ended) = hello_transcript(b"Michael\nTracy\r\n\nSarah\nexit\nNobody\n").await;
    ended.expect("handler");
    assert_eq!(
        out,
        b"Welcome!Hello, Michael!\nHello, Tracy!\nHello, Sarah!\n"
    );
}

#[tokio::test]
async fn hello_handler_answers_a_last_message_without_its_newline() {
    let (out, ended) = hello_transcript(b"Ada\nGrace").await;
    ended.expect("handler");
    assert_eq!(out, b"Welcome!Hello, Ada!\nHello, Grace!");
}

#[tokio::test]
async fn hello_handler_answers_a_bare_name_after_a_pause() {
    let (mut peer, ours) = duplex(1024);
    let server = tokio::spawn(hello::handle(ours, conn_info()));
    let mut welcome = [0u8; 8];
    within(peer.read_exact(&mut welcome))
        .await
        .expect("welcome");
    assert_eq!(&welcome, b"Welcome!");
    peer.write_all(b"Mich").await.expect("write");
    tokio::task::yield_now().await;
    peer.write_all(b"ael").await.expect("write");
    let mut answer = [0u8; 15];
    within(peer.read_exact(&mut answer)).await.expect("answer");
    assert_eq!(&answer, b"Hello, Michael!");
    peer.write_all(b"exit").await.expect("exit");
    let mut rest = Vec::new();
    within(peer.read_to_end(&mut rest)).await.expect("close");
    assert!(rest.is_empty());
    within(server).await.expect("task").expect("handler");
}

#[tokio::test]
async fn hello_handler_refuses_a_message_past_the_limit() {
    let (out, ended) = hello_transcript(&[b'x'; hello::MAX_MESSAGE + 1]).await;
    assert!(matches!(ended, Err(hello::Error::TooLong)), "{ended:?}");
    assert_eq!(out, b"Welcome!error: message longer than 4096 bytes\n");
}

#[tokio::test]
async fn hello_handler_closes_an_idle_peer_on_shutdown() {
    let (mut peer, ours) = duplex(1024);
    let conn = conn_info();
    let token = conn.shutdown.clone();
    let server = tokio::spawn(hello::handle(ours, conn));
    let mut welcome = [0u8; 8];
    within(peer.read_exact(&mut welcome))
        .await
        .expect("welcome");
    token.cancel();
    let mut rest = Vec::new();
    within(peer.read_to_end(&mut rest)).await.expect("close");
    assert!(rest.is_empty());
    within(server).await.expect("task").expect("handler");
}

/// A lucky-number server on its own runtime, as `udp server` runs it.
async fn start_udp(options: udp::Options) -> Running {
    let socket = udp::bind("127.0.0.1", 0).await.expect("bind");
    let addr = socket.local_addr().expect("address");
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(udp::serve(
        socket,
        options,
        async move { drop(stopped.await) },
    ));
    Running { addr, _stop: stop }
}

const LUCKY: &str = "Here's your lucky number:";

#[tokio::test]
async fn udp_request_returns_the_reply_and_the_tries_it_took() {
    let server = start_udp(udp::Options::default()).await;
    let socket = udp::connect(server.addr).await.expect("socket");
    let backoff = udp::Backoff {
        start: Duration::from_millis(100),
        max_wait: Duration::from_secs(5),
    };
    let mut waits = Vec::new();
    let reply = within(udp::request(&socket, server.addr, b"hi", backoff, |wait| {
        waits.push(wait)
    }))
    .await
    .expect("reply");
    assert_eq!(reply.tries, 1);
    assert_eq!(waits, [Duration::from_millis(100)]);
    let text = String::from_utf8(reply.data).expect("utf-8");
    let number: f64 = text
        .strip_prefix(LUCKY)
        .expect("the lucky prefix")
        .parse()
        .expect("a number");
    assert!((0.0..1.0).contains(&number), "{text}");
}

#[tokio::test]
async fn udp_request_to_a_server_that_drops_everything_reports_every_try() {
    let server = start_udp(udp::Options {
        drop_rate: 1.0,
        seed: Some(7),
        ..udp::Options::default()
    })
    .await;
    let socket = udp::connect(server.addr).await.expect("socket");
    let backoff = udp::Backoff {
        start: Duration::from_millis(10),
        max_wait: Duration::from_millis(40),
    };
    let mut waits = Vec::new();
    let err = within(udp::request(&socket, server.addr, b"hi", backoff, |wait| {
        waits.push(wait)
    }))
    .await
    .expect_err("no reply");
    assert!(
        matches!(
            err,
            udp::RequestError::NoReply {
                tries: 3,
                refused: false,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(waits.len(), 3);
}

#[tokio::test]
async fn udp_seeded_servers_answer_the_same_numbers() {
    let mut replies = Vec::new();
    for _ in 0..2 {
        let server = start_udp(udp::Options {
            drop_rate: 0.0,
            seed: Some(42),
            ..udp::Options::default()
        })
        .await;
        let socket = udp::connect(server.addr).await.expect("socket");
        let backoff = udp::Backoff {
            start: Duration::from_secs(1),
            max_wait: Duration::from_secs(5),
        };
        let reply = within(udp::request(&socket, server.addr, b"x", backoff, |_| {}))
            .await
            .expect("reply");
        replies.push(reply.data);
    }
    assert_eq!(replies[0], replies[1]);
}

#[tokio::test]
async fn udp_broadcast_hands_over_each_reply_with_its_sender() {
    let server = start_udp(udp::Options::default()).await;
    let mut seen = Vec::new();
    let count = within(udp::broadcast(
        server.addr,
        b"anyone?",
        Duration::from_millis(300),
        |sender, data| seen.push((sender, data.to_vec())),
    ))
    .await
    .expect("broadcast");
    assert_eq!(count, 1);
    assert_eq!(seen[0].0, server.addr);
    assert!(seen[0].1.starts_with(LUCKY.as_bytes()));
}

#[tokio::test]
async fn udp_mtu_probe_reports_the_loopback_path() {
    let peer: SocketAddr = "127.0.0.1:9".parse().expect("address");
    let report = within(udp::probe(peer)).await.expect("probe");
    assert_eq!(report.peer, peer);
    assert!(report.mtu > 28, "{report:?}");
    assert_eq!(
        report.max_payload,
        (report.mtu - 28).min(udp::mtu::MAX_UDP_PAYLOAD_V4)
    );
    let err = report.oversized.expect_err("too large to send");
    if report.max_payload < udp::mtu::MAX_UDP_PAYLOAD_V4 {
        assert_eq!(err.raw_os_error(), Some(libc::EMSGSIZE));
    }
}

#[tokio::test]
async fn lookup_addresses_returns_typed_entries() {
    let entries = within(lookup::addresses(
        "127.0.0.1",
        Some("80"),
        Some(lookup::Transport::Tcp),
    ))
    .await
    .expect("resolves");
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].family, libc::AF_INET);
    assert_eq!(entries[0].socktype, libc::SOCK_STREAM);
    assert_eq!(entries[0].protocol, libc::IPPROTO_TCP);
    assert_eq!(entries[0].addr, "127.0.0.1:80".parse().expect("literal"));
    // '' is the texts' all-interfaces address.
    let all = within(lookup::addresses("", None, Some(lookup::Transport::Udp)))
        .await
        .expect("resolves");
    assert!(
        all.iter().all(|e| e.socktype == libc::SOCK_DGRAM),
        "{all:?}"
    );
}

#[tokio::test]
async fn lookup_an_unknown_host_is_a_resolve_error() {
    let err = within(lookup::addresses("no-such-host.invalid", None, None))
        .await
        .expect_err("unknown");
    assert!(matches!(err, lookup::Error::Resolve(_)), "{err}");
    assert!(
        err.to_string()
            .starts_with("cannot resolve no-such-host.invalid: "),
        "{err}"
    );
}

#[test]
fn lookup_services_by_name_and_port() {
    if !std::path::Path::new("/etc/services").exists() {
        return;
    }
    let ssh = lookup::services_named("ssh", Some(lookup::Transport::Tcp)).expect("ssh");
    assert_eq!(ssh.len(), 1);
    assert_eq!(
        (ssh[0].name.as_str(), ssh[0].port, ssh[0].proto.as_str()),
        ("ssh", 22, "tcp")
    );
    let on_22 = lookup::services_on_port(22, None).expect("port 22");
    assert!(
        on_22.iter().all(|s| s.name == "ssh" && s.port == 22),
        "{on_22:?}"
    );
    let err = lookup::services_named("no-such-service-x", None).expect_err("unknown");
    assert_eq!(
        err.to_string(),
        "unknown service \"no-such-service-x\" (not in the services database, /etc/services)"
    );
    let err = lookup::services_named("a\0b", None).expect_err("NUL");
    assert!(
        matches!(
            err,
            lookup::Error::Nul {
                what: "service name",
                ..
            }
        ),
        "{err}"
    );
}
