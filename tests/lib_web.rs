//! The http server and client, bench and diag through the library API, in
//! process: every await bounded, every assertion on a returned value.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use socklab::diag::{icmp, ping, sockets, stall};
use socklab::net::Endpoint;
use socklab::{bench, http};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

const STEP: Duration = Duration::from_secs(10);

async fn bounded<T>(future: impl Future<Output = T>) -> T {
    tokio::time::timeout(STEP, future)
        .await
        .expect("finished in time")
}

/// An http server with `options` on a free port, stopped by the token.
async fn http_server(options: http::Options) -> (SocketAddr, CancellationToken) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    let stop = CancellationToken::new();
    tokio::spawn(http::serve(
        listener,
        options,
        stop.clone().cancelled_owned(),
    ));
    (addr, stop)
}

/// Sends `request`, half-closes, and reads the whole answer.
async fn exchange(addr: SocketAddr, request: &[u8]) -> String {
    let mut stream = bounded(TcpStream::connect(addr)).await.expect("connect");
    bounded(stream.write_all(request)).await.expect("write");
    bounded(stream.shutdown()).await.expect("half-close");
    let mut answer = Vec::new();
    bounded(stream.read_to_end(&mut answer))
        .await
        .expect("read");
    String::from_utf8(answer).expect("ascii answers")
}

fn statuses(answer: &str) -> Vec<&str> {
    answer
        .split("HTTP/1.1 ")
        .skip(1)
        .filter_map(|part| part.get(..3))
        .collect()
}

#[tokio::test]
async fn get_fetches_from_the_server_with_its_body() {
    let options = http::Options {
        body: "Hi there".to_owned(),
        ..http::Options::default()
    };
    let (addr, stop) = http_server(options).await;
    let target = http::Target::parse(&format!("http://{addr}/x")).expect("url");
    let mut body = Vec::new();
    let mut heads = 0;
    let response = bounded(http::get(
        &target,
        &http::GetOptions::default(),
        &mut body,
        |event| {
            if let http::Event::Head(_) = event {
                heads += 1;
            }
        },
    ))
    .await
    .expect("fetched");
    assert_eq!(
        (response.head.code, response.head.reason.as_str()),
        (200, "OK")
    );
    assert_eq!(body, b"Hi there");
    assert_eq!(response.body_bytes, 8);
    assert_eq!(heads, 1);
    assert!(
        response
            .head
            .fields
            .iter()
            .any(|(name, value)| name == "Content-Length" && value == b"8")
    );
    assert!(
        response
            .head
            .fields
            .iter()
            .any(|(name, value)| name == "Connection" && value == b"close"),
        "the client asked to close"
    );
    stop.cancel();
}

#[tokio::test]
async fn pipelined_requests_get_answers_in_order_then_errors_close() {
    let (addr, stop) = http_server(http::Options::default()).await;
    let answer = exchange(
        addr,
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\nHEAD / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/9.9\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n",
    )
    .await;
    assert_eq!(statuses(&answer), ["200", "200", "505"], "{answer}");
    assert_eq!(answer.matches("Hello World").count(), 1, "HEAD has no body");
    assert!(answer.ends_with("Connection: close\r\n\r\n505 HTTP Version Not Supported\n"));
    for (request, status) in [
        (&b"garbage\r\n\r\n"[..], "400"),
        (
            b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
            "411",
        ),
        (
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 9999999\r\n\r\n",
            "413",
        ),
    ] {
        assert_eq!(statuses(&exchange(addr, request).await), [status]);
    }
    stop.cancel();
}

#[tokio::test]
async fn limits_are_the_options() {
    let options = http::Options {
        limits: http::Limits {
            max_headers: 2,
            header_timeout: Duration::from_millis(200),
            ..http::Limits::default()
        },
        ..http::Options::default()
    };
    let (addr, stop) = http_server(options).await;
    let answer = exchange(addr, b"GET / HTTP/1.1\r\nHost: x\r\nA: 1\r\nB: 2\r\n\r\n").await;
    assert_eq!(statuses(&answer), ["431"]);
    // A head that stops half-way gets 408 once the header timeout passes.
    let mut stream = bounded(TcpStream::connect(addr)).await.expect("connect");
    bounded(stream.write_all(b"GET / HTTP/1.1\r\nHo"))
        .await
        .expect("write");
    let mut answer = Vec::new();
    bounded(stream.read_to_end(&mut answer))
        .await
        .expect("read");
    let answer = String::from_utf8(answer).expect("ascii");
    assert_eq!(statuses(&answer), ["408"]);
    stop.cancel();
}

#[tokio::test]
async fn keep_alive_ends_cleanly_on_shutdown() {
    let (addr, stop) = http_server(http::Options::default()).await;
    let mut stream = bounded(TcpStream::connect(addr)).await.expect("connect");
    bounded(stream.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
        .await
        .expect("write");
    let mut first = vec![0u8; 1024];
    let n = bounded(stream.read(&mut first)).await.expect("read");
    assert!(first[..n].starts_with(b"HTTP/1.1 200 OK\r\n"));
    stop.cancel();
    let mut rest = Vec::new();
    bounded(stream.read_to_end(&mut rest))
        .await
        .expect("EOF after shutdown");
    assert!(rest.is_empty(), "nothing more: {rest:?}");
}

/// A server that answers any request with `answer` and closes.
async fn canned(answer: &'static [u8]) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(async move {
        if let Ok((mut stream, _)) = listener.accept().await {
            let mut request = vec![0u8; 4096];
            let _ = stream.read(&mut request).await;
            let _ = stream.write_all(answer).await;
        }
    });
    addr
}

async fn get_canned(
    answer: &'static [u8],
    raw: bool,
) -> (Result<http::Response, http::GetError>, Vec<u8>, Vec<u16>) {
    let addr = canned(answer).await;
    let target = http::Target::parse(&format!("http://{addr}/")).expect("url");
    let options = http::GetOptions {
        raw,
        ..http::GetOptions::default()
    };
    let mut sink = Vec::new();
    let mut codes = Vec::new();
    let result = bounded(http::get(&target, &options, &mut sink, |event| {
        if let http::Event::Head(head) = event {
            codes.push(head.code);
        }
    }))
    .await;
    (result, sink, codes)
}

const CHUNKED: &[u8] = b"HTTP/1.1 103 Early Hints\r\n\r\nHTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n";

#[tokio::test]
async fn get_decodes_chunked_bodies_or_passes_them_raw() {
    let (result, body, codes) = get_canned(CHUNKED, false).await;
    let response = result.expect("a response");
    assert_eq!((response.head.code, codes), (404, vec![103, 404]));
    assert_eq!(body, b"hello");
    let (result, wire, _) = get_canned(CHUNKED, true).await;
    assert_eq!(result.expect("a response").head.code, 404);
    assert_eq!(wire, CHUNKED, "raw is the response as received");
}

#[tokio::test]
async fn get_reports_broken_responses_as_typed_errors() {
    let (result, body, _) =
        get_canned(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhalf", false).await;
    assert_eq!(body, b"half", "what came is written before the error");
    assert!(
        matches!(
            result,
            Err(http::GetError::Response(http::ResponseError::Body(_)))
        ),
        "{result:?}"
    );
    let (result, _, _) = get_canned(b"HTTP/1.1 200 OK\r\nContent-Le", false).await;
    assert!(matches!(
        result,
        Err(http::GetError::Response(http::ResponseError::NoHead))
    ));
    let (result, _, _) = get_canned(b"nonsense\r\n\r\n", false).await;
    let err = result.expect_err("malformed");
    assert!(
        err.to_string().starts_with("malformed response head"),
        "{err}"
    );
}

fn short_load(addr: SocketAddr) -> bench::Load {
    bench::Load {
        addr: addr.to_string(),
        conns: 4,
        pipeline: 2,
        duration: Duration::from_millis(300),
        warmup: Duration::from_millis(100),
        ..bench::Load::default()
    }
}

#[tokio::test]
async fn bench_http_returns_a_clean_report() {
    let (addr, stop) = http_server(http::Options::default()).await;
    let options = bench::HttpOptions {
        load: short_load(addr),
        ..bench::HttpOptions::default()
    };
    let report = bounded(bench::http(&options)).await.expect("ran");
    assert_eq!(
        report.tally.errors.total(),
        0,
        "{:?}",
        report.tally.first_error
    );
    assert!(report.tally.completed > 0);
    assert_eq!(report.setup.connections, 4);
    assert_eq!(report.to_json()["connections"], 4);
    stop.cancel();
}

#[tokio::test]
async fn bench_refusals_are_typed() {
    let load = bench::Load {
        addr: "8.8.8.8:80".to_owned(),
        ..bench::Load::default()
    };
    let err = bounded(bench::udp(&load)).await.expect_err("public");
    assert!(matches!(err, bench::BenchError::Remote(_)), "{err}");
    let load = bench::Load {
        addr: "127.0.0.1:1".to_owned(),
        addr_port: Some(2),
        ..bench::Load::default()
    };
    let err = bounded(bench::udp(&load)).await.expect_err("two ports");
    assert_eq!(
        err.to_string(),
        "give the port once: in \"127.0.0.1:1\" or after it"
    );
    let options = bench::ChatOptions {
        load: bench::Load {
            conns: 1,
            ..short_load("127.0.0.1:1".parse().expect("address"))
        },
        senders: 1,
    };
    let err = bounded(bench::chat(&options)).await.expect_err("too few");
    assert!(matches!(err, bench::BenchError::ChatClients), "{err}");
}

#[tokio::test]
async fn bench_counts_refused_connections_as_errors() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    drop(listener);
    let options = bench::EchoOptions {
        load: bench::Load {
            conns: 2,
            ..short_load(addr)
        },
        bulk: false,
    };
    let report = bounded(bench::echo(&options)).await.expect("ran");
    assert_eq!(report.tally.errors.connect, 2);
    let first = report.tally.first_error.expect("an error");
    assert!(first.starts_with("cannot connect to"), "{first}");
}

#[tokio::test]
async fn stall_client_reports_where_the_bytes_wait() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    let stop = CancellationToken::new();
    tokio::spawn(stall::serve(
        listener,
        stall::Options::default(),
        stop.clone().cancelled_owned(),
    ));
    let target = Endpoint::new("127.0.0.1", addr.port());
    let mut events = Vec::new();
    let (report, stream) = bounded(stall::client(&target, |event| events.push(event)))
        .await
        .expect("a report");
    assert!(matches!(events[0], stall::Event::Connected { peer, .. } if peer == addr));
    assert_eq!(events[1], stall::Event::Filled(report.written));
    assert!(report.written > 0);
    let recv_q = report.server_recv_q.expect("the server is on this machine");
    assert_eq!(recv_q + report.client_send_q, report.written, "{report:?}");
    assert!(stall::explain(&report, addr).contains("every byte written"));
    // The table shows the same connection, its Recv-Q full.
    let filter = sockets::Filter {
        port: Some(addr.port()),
        tcp: Some(true),
        ..sockets::Filter::default()
    };
    let rows = sockets::read(&filter).expect("/proc/net");
    assert!(
        rows.iter()
            .any(|row| row.state == "LISTEN" && row.local == addr)
    );
    // The server never reads, so its Recv-Q only grows, as the kernel
    // moves what is left in the client's Send-Q across.
    assert!(
        rows.iter()
            .any(|row| row.local == addr && row.recv_q >= recv_q && row.recv_q <= report.written),
        "{rows:?}"
    );
    drop(stream);
    stop.cancel();
}

#[tokio::test]
async fn ping_returns_each_reply_and_the_summary() {
    let pinger = match bounded(ping::Pinger::open("127.0.0.1")).await {
        Ok(pinger) => pinger,
        Err(ping::PingError::NoSocket { .. }) => {
            eprintln!("skipped: no ICMP socket may be opened here");
            return;
        }
        Err(err) => panic!("{err}"),
    };
    let options = ping::Options {
        count: Some(2),
        interval: Duration::from_millis(20),
        ..ping::Options::default()
    };
    let mut seqs = Vec::new();
    let stats = bounded(pinger.run(&options, std::future::pending(), |reply| {
        if let ping::Reply::Echo {
            seq, wrong_data, ..
        } = reply
        {
            assert!(!wrong_data);
            seqs.push(*seq);
        }
    }))
    .await
    .expect("ran");
    assert_eq!(seqs, [1, 2]);
    assert_eq!((stats.transmitted, stats.received, stats.errors), (2, 2, 0));
    assert!(
        stats
            .summary()
            .starts_with("2 packets transmitted, 2 received, 0% packet loss")
    );
}

#[test]
fn icmp_replies_parse_as_pure_functions() {
    let mut packet = icmp::echo_request(7, 9, b"payload");
    packet[0] = icmp::ECHO_REPLY;
    packet[2..4].copy_from_slice(&[0, 0]);
    let sum = icmp::checksum(&packet);
    packet[2..4].copy_from_slice(&sum.to_be_bytes());
    assert_eq!(
        icmp::parse(&packet),
        Some(icmp::Message::EchoReply {
            id: 7,
            seq: 9,
            payload: b"payload"
        })
    );
    packet[10] ^= 1;
    assert_eq!(icmp::parse(&packet), None, "a bad checksum");
    assert_eq!(icmp::parse(&packet[..4]), None, "truncated");
}
