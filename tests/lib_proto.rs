//! app and chat through the library API, in-process: servers on a loopback
//! listener or handlers on a duplex pair, assertions on returned values.

use std::time::Duration;

use serde_json::Value;
use socklab::app::{self, Client, Message, Reply};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::timeout;
use tokio_util::sync::CancellationToken;

const TIMEOUT: Duration = Duration::from_secs(10);

/// An app server on 127.0.0.1:0 until the token is cancelled.
async fn app_server(options: app::Options) -> (std::net::SocketAddr, CancellationToken) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let stop = CancellationToken::new();
    tokio::spawn(app::serve(
        listener,
        options,
        stop.clone().cancelled_owned(),
    ));
    (addr, stop)
}

async fn connect(addr: std::net::SocketAddr) -> TcpStream {
    timeout(TIMEOUT, TcpStream::connect(addr))
        .await
        .expect("in time")
        .expect("connect")
}

fn result(reply: Reply) -> String {
    match reply {
        Reply::Result(Value::String(text)) => text,
        other => panic!("not a text result: {other:?}"),
    }
}

#[tokio::test]
async fn app_client_makes_many_keep_alive_requests_on_one_connection() {
    let (addr, stop) = app_server(app::Options::default()).await;
    let mut client = Client::new(connect(addr).await);
    for (query, expected) in [
        ("morpheus", "Follow the white rabbit. 🐰"),
        ("🐶", "🐾 Playing ball! 🏐"),
        ("nothing", "No match for \"nothing\"."),
    ] {
        let reply = timeout(TIMEOUT, client.search(query))
            .await
            .expect("in time");
        assert_eq!(result(reply.expect("answer")), expected);
    }
    let reply = timeout(TIMEOUT, client.binary(&b"binary\xf0\x9f\x98\x83"[..]))
        .await
        .expect("in time")
        .expect("answer");
    assert!(
        matches!(&reply, Reply::Binary(content) if content[..] == b"First 10 bytes of request: binary\xf0\x9f\x98\x83"[..]),
        "{reply:?}"
    );
    stop.cancel();
}

#[tokio::test]
async fn app_client_keeps_bytes_buffered_past_an_answer() {
    // Two answers arrive in one segment: the second must not be lost.
    let (addr, _stop) = app_server(app::Options::default()).await;
    let mut raw = connect(addr).await;
    let mut codec = app::MessageCodec::default();
    let mut bytes = bytes::BytesMut::new();
    for query in ["morpheus", "ring"] {
        let request = Message::search(query).with_keep_alive(true);
        tokio_util::codec::Encoder::encode(&mut codec, &request, &mut bytes).expect("encode");
    }
    raw.write_all(&bytes).await.expect("pipelined");
    let mut client = Client::new(raw);
    // The client sends a third request, then reads three answers.
    let third = Message::search("🐶").with_keep_alive(true);
    let first = timeout(TIMEOUT, client.request(&third))
        .await
        .expect("in time");
    assert_eq!(
        result(first.expect("answer").reply().expect("reply")),
        "Follow the white rabbit. 🐰"
    );
    let second = timeout(TIMEOUT, client.search("x")).await.expect("in time");
    assert_eq!(
        result(second.expect("answer")),
        "In the caves beneath the Misty Mountains. 💍"
    );
}

#[tokio::test]
async fn app_one_shot_request_returns_the_answer_and_the_server_closes() {
    let (addr, _stop) = app_server(app::Options::default()).await;
    let answer = app::request(
        "127.0.0.1",
        addr.port(),
        TIMEOUT,
        TIMEOUT,
        &Message::request("search", "ring"),
    )
    .await
    .expect("answer");
    assert!(!answer.header.keep_alive);
    assert_eq!(
        result(answer.reply().expect("reply")),
        "In the caves beneath the Misty Mountains. 💍"
    );
}

#[tokio::test]
async fn app_error_answer_then_close_on_a_bad_header() {
    let (addr, _stop) = app_server(app::Options::default()).await;
    let mut raw = connect(addr).await;
    raw.write_all(b"\x00\x02[]").await.expect("write");
    let mut answer = Vec::new();
    timeout(TIMEOUT, raw.read_to_end(&mut answer))
        .await
        .expect("in time")
        .expect("answer then EOF");
    let mut buf = bytes::BytesMut::from(&answer[..]);
    let decoded = tokio_util::codec::Decoder::decode(&mut app::MessageCodec::default(), &mut buf)
        .expect("a valid answer")
        .expect("a whole answer");
    match decoded.reply().expect("reply") {
        Reply::Error(error) => assert_eq!(error, "JSON header must be an object, not an array"),
        other => panic!("not an error answer: {other:?}"),
    }
    assert!(buf.is_empty(), "nothing after the error answer");
}

#[tokio::test]
async fn app_content_limit_is_an_option() {
    let options = app::Options {
        max_content: 4,
        ..app::Options::default()
    };
    let (addr, _stop) = app_server(options).await;
    let mut client = Client::new(connect(addr).await);
    let reply = timeout(TIMEOUT, client.binary(&b"12345"[..]))
        .await
        .expect("in time")
        .expect("answer");
    assert!(
        matches!(&reply, Reply::Error(e) if e.contains("above the limit of 4 bytes")),
        "{reply:?}"
    );
}

#[tokio::test]
async fn app_shutdown_between_requests_closes_a_keep_alive_connection() {
    let (addr, stop) = app_server(app::Options::default()).await;
    let mut client = Client::new(connect(addr).await);
    let reply = timeout(TIMEOUT, client.search("ring"))
        .await
        .expect("in time");
    assert_eq!(
        result(reply.expect("answer")),
        "In the caves beneath the Misty Mountains. 💍"
    );
    stop.cancel();
    let after = timeout(TIMEOUT, client.search("ring"))
        .await
        .expect("in time");
    assert!(
        matches!(
            after,
            Err(app::Error::Closed | app::Error::Send(_) | app::Error::Receive(_))
        ),
        "{after:?}"
    );
}
