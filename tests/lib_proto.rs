//! app and chat through the library API, in-process: servers on a loopback
//! listener or handlers on a duplex pair, assertions on returned values.

use std::time::Duration;

use serde_json::Value;
use socklab::app::{self, Client, Message, Reply};
use socklab::net::Endpoint;
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
        &Endpoint::new("127.0.0.1", addr.port()),
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
            Err(app::ClientError::Closed
                | app::ClientError::Send(_)
                | app::ClientError::Receive(_))
        ),
        "{after:?}"
    );
}

// ------------------------------------------------------------ chat

use socklab::chat::{self, Event, Room};

/// A chat room on 127.0.0.1:0 until the token is cancelled.
async fn chat_room(options: chat::Options) -> (std::net::SocketAddr, Room, CancellationToken) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let room = Room::new(options);
    let stop = CancellationToken::new();
    let (serving, shutdown) = (room.clone(), stop.clone().cancelled_owned());
    tokio::spawn(async move { serving.serve(listener, shutdown).await });
    (addr, room, stop)
}

async fn next_event(client: &mut chat::Client<TcpStream>) -> Event {
    timeout(TIMEOUT, client.recv())
        .await
        .expect("in time")
        .expect("readable")
        .expect("an event")
}

async fn chat_client(addr: std::net::SocketAddr) -> (chat::Client<TcpStream>, String) {
    let stream = connect(addr).await;
    let name = {
        let local = stream.local_addr().expect("local");
        format!("{} {}", local.ip(), local.port())
    };
    let mut client = chat::Client::new(stream);
    assert_eq!(
        next_event(&mut client).await,
        Event::Notice(format!("{name} joined"))
    );
    (client, name)
}

#[tokio::test]
async fn chat_lines_are_relayed_to_everyone_with_time_and_sender() {
    let (addr, room, _stop) = chat_room(chat::Options::default()).await;
    let (mut alice, alice_name) = chat_client(addr).await;
    let (mut bob, bob_name) = chat_client(addr).await;
    assert_eq!(
        next_event(&mut alice).await,
        Event::Notice(format!("{bob_name} joined"))
    );
    assert_eq!(room.len(), 2);
    alice.send("hi, bob").await.expect("send");
    for client in [&mut alice, &mut bob] {
        match next_event(client).await {
            Event::Message { time, sender, text } => {
                assert_eq!(sender, alice_name);
                assert_eq!(text, "hi, bob");
                assert_eq!(time.len(), 19, "{time}");
                assert_eq!(&time[4..5], "/", "{time}");
            }
            other => panic!("not a message: {other:?}"),
        }
    }
    alice.quit().await.expect("quit");
    assert!(
        timeout(TIMEOUT, alice.recv())
            .await
            .expect("in time")
            .expect("clean")
            .is_none(),
        "the server closes after quit"
    );
    assert_eq!(
        next_event(&mut bob).await,
        Event::Notice(format!("{alice_name} left"))
    );
}

#[tokio::test]
async fn chat_nicknames_are_unique_and_who_answers_the_asker() {
    let (addr, _room, _stop) = chat_room(chat::Options::default()).await;
    let (mut alice, alice_name) = chat_client(addr).await;
    alice.send("/nick alice").await.expect("send");
    assert_eq!(
        next_event(&mut alice).await,
        Event::Notice(format!("{alice_name} is now alice"))
    );
    let (mut bob, bob_name) = chat_client(addr).await;
    bob.send("/nick alice").await.expect("send");
    assert_eq!(
        next_event(&mut bob).await,
        Event::Notice("nickname alice is taken".into())
    );
    bob.send("/who").await.expect("send");
    match next_event(&mut bob).await {
        Event::Notice(who) => {
            assert!(who.starts_with("here (2): "), "{who}");
            assert!(who.contains("alice") && who.contains(&bob_name), "{who}");
        }
        other => panic!("not a notice: {other:?}"),
    }
    // alice saw bob join, and nothing of bob's refusal or /who.
    assert_eq!(
        next_event(&mut alice).await,
        Event::Notice(format!("{bob_name} joined"))
    );
    let nothing = tokio::time::timeout(Duration::from_millis(100), alice.recv()).await;
    assert!(nothing.is_err(), "alice got {nothing:?}");
}

#[tokio::test]
async fn chat_over_long_lines_are_refused_to_the_sender_and_it_stays() {
    let options = chat::Options {
        max_line: 8,
        ..chat::Options::default()
    };
    let (addr, _room, _stop) = chat_room(options).await;
    let (mut alice, alice_name) = chat_client(addr).await;
    alice.send("far too long a line").await.expect("send");
    assert_eq!(
        next_event(&mut alice).await,
        Event::Notice("line longer than 8 bytes refused".into())
    );
    alice.send("short").await.expect("send");
    assert!(
        matches!(next_event(&mut alice).await, Event::Message { sender, text, .. } if sender == alice_name && text == "short")
    );
}

#[tokio::test]
async fn chat_room_shutdown_tells_members_and_ends_serve() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let stop = CancellationToken::new();
    let serving = tokio::spawn(chat::serve(
        listener,
        chat::Options::default(),
        stop.clone().cancelled_owned(),
    ));
    let (mut alice, _) = chat_client(addr).await;
    stop.cancel();
    assert_eq!(
        next_event(&mut alice).await,
        Event::Notice("server shutting down".into())
    );
    assert!(
        timeout(TIMEOUT, alice.recv())
            .await
            .expect("in time")
            .expect("clean")
            .is_none()
    );
    timeout(TIMEOUT, serving)
        .await
        .expect("serve ends")
        .expect("task")
        .expect("served");
}

#[tokio::test]
async fn chat_client_reads_typed_events_over_any_stream() {
    // A scripted server on the other end of a duplex pair.
    let (ours, theirs) = tokio::io::duplex(4096);
    let (mut from_client, mut to_client) = tokio::io::split(theirs);
    let server = tokio::spawn(async move {
        to_client
            .write_all(b"* 1.2.3.4 5 joined\n2024/05/01 12:00:00 x\nhello\n")
            .await
            .expect("write");
        to_client.shutdown().await.expect("FIN");
        let mut sent = Vec::new();
        from_client.read_to_end(&mut sent).await.expect("read");
        sent
    });
    let mut client = chat::Client::new(ours);
    assert_eq!(
        next_event_any(&mut client).await,
        Some(Event::Notice("1.2.3.4 5 joined".into()))
    );
    assert_eq!(
        next_event_any(&mut client).await,
        Some(Event::Message {
            time: "2024/05/01 12:00:00".into(),
            sender: "x".into(),
            text: "hello".into()
        })
    );
    assert_eq!(next_event_any(&mut client).await, None);
    client.quit().await.expect("quit");
    let sent = timeout(TIMEOUT, server)
        .await
        .expect("in time")
        .expect("task");
    assert_eq!(sent, b"quit\n");
}

async fn next_event_any<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(
    client: &mut chat::Client<S>,
) -> Option<Event> {
    timeout(TIMEOUT, client.recv())
        .await
        .expect("in time")
        .expect("readable")
}

#[tokio::test]
async fn chat_client_names_what_is_not_the_chat_protocol() {
    let (ours, mut theirs) = tokio::io::duplex(4096);
    let mut client = chat::Client::new(ours);
    theirs.write_all(b"garbage\n").await.expect("write");
    let err = timeout(TIMEOUT, client.recv())
        .await
        .expect("in time")
        .expect_err("not a chat line");
    assert!(
        matches!(&err, chat::ClientError::Malformed(line) if line == "garbage"),
        "{err}"
    );
    // A server that stops in the middle of a line is an I/O error, not a line.
    theirs.write_all(b"* half a notice").await.expect("write");
    drop(theirs);
    let err = timeout(TIMEOUT, client.recv())
        .await
        .expect("in time")
        .expect_err("truncated");
    assert!(matches!(err, chat::ClientError::Io(_)), "{err}");
}
