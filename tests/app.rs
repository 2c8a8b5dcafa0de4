//! app: interop with python3 peers written like the originals (byte for byte),
//! every malformed input of SPEC §7 next to a well-behaved client, pipelining,
//! concurrency, and property tests of the codec.

mod common;
#[path = "app/pieces.rs"]
mod pieces;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{BufMut, BytesMut};
use common::{Server, TIMEOUT, require, run, run_socklab, text};
use futures_util::StreamExt;
use pieces::decode_pieces;
use proptest::prelude::*;
use serde_json::{Map, Value, json};
use socklab::app::{
    ByteOrder, FrameError, Header, Message, MessageCodec, Reply, SearchTable, respond,
};
use tokio::io::AsyncWriteExt;
use tokio_util::codec::{Decoder, Encoder, FramedRead};

/// The interop cases: ACTION VALUE and the line both clients print.
const CASES: [(&str, &str, &str); 5] = [
    (
        "search",
        "morpheus",
        "got result: Follow the white rabbit. 🐰",
    ),
    ("search", "🐶", "got result: 🐾 Playing ball! 🏐"),
    ("search", "nothing", "got result: No match for \"nothing\"."),
    (
        "frobnicate",
        "x",
        "got response: b'First 10 bytes of request: frobnicate'",
    ),
    (
        "binary",
        "😃",
        "got response: b'First 10 bytes of request: binary\\xf0\\x9f\\x98\\x83'",
    ),
];

fn peer_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/app")
}

fn python(script: &str) -> Command {
    require("python3");
    let mut cmd = Command::new("python3");
    cmd.arg("-u")
        .arg(peer_dir().join(script))
        .env("PYTHONIOENCODING", "utf-8");
    cmd
}

/// tests/app/app-server.py as a process, killed on drop.
struct PyServer {
    child: Child,
    port: u16,
}

impl PyServer {
    fn start() -> PyServer {
        let mut child = python("app-server.py")
            .args(["127.0.0.1", "0"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn app-server.py");
        let stdout = child.stdout.take().expect("piped");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            if let Some(Ok(first)) = lines.next() {
                let _ = tx.send(first);
            }
            for _ in lines {}
        });
        let first = rx
            .recv_timeout(TIMEOUT)
            .expect("app-server.py listening line");
        // listening on ('127.0.0.1', 41234)
        let port = first
            .trim_end_matches(')')
            .rsplit(' ')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("unexpected line {first:?}"));
        PyServer { child, port }
    }
}

impl Drop for PyServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn app_server(extra: &[&str]) -> Server {
    let mut args = vec!["app", "server", "127.0.0.1", "0"];
    args.extend_from_slice(extra);
    Server::start(&args)
}

fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect_timeout(&addr, TIMEOUT).expect("connect");
    stream.set_read_timeout(Some(TIMEOUT)).expect("timeout");
    stream
}

fn encode(message: &Message) -> Vec<u8> {
    let mut buf = BytesMut::new();
    MessageCodec::default()
        .encode(message, &mut buf)
        .expect("encodes");
    buf.to_vec()
}

/// Reads until the peer closes; fails on a timeout.
fn read_to_eof(stream: &mut TcpStream) -> Vec<u8> {
    let mut out = Vec::new();
    stream
        .read_to_end(&mut out)
        .expect("the peer closes in time");
    out
}

/// Decodes a whole byte string into messages; fails on bad framing.
fn decode_all(bytes: &[u8]) -> Vec<Message> {
    let mut codec = MessageCodec::default();
    let mut buf = BytesMut::from(bytes);
    let mut messages = Vec::new();
    while let Some(message) = codec.decode_eof(&mut buf).expect("well framed") {
        messages.push(message);
    }
    messages
}

/// Reads until one whole message has arrived: it, and every byte read.
fn read_message(stream: &mut TcpStream) -> (Message, Vec<u8>) {
    let (mut codec, mut buf, mut raw) = (MessageCodec::default(), BytesMut::new(), Vec::new());
    loop {
        if let Some(message) = codec.decode(&mut buf).expect("valid message") {
            return (message, raw);
        }
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).expect("a message in time");
        assert!(n > 0, "closed before a whole message arrived");
        raw.extend_from_slice(&chunk[..n]);
        buf.extend_from_slice(&chunk[..n]);
    }
}

// ---------------------------------------------------------------- interop

#[test]
fn python_client_against_our_server() {
    let server = app_server(&[]);
    for (action, value, line) in CASES {
        let out = run(
            python("app-client.py").args(["127.0.0.1", &server.port(), action, value]),
            TIMEOUT,
        );
        let (stdout, stderr) = text(&out);
        assert!(out.status.success(), "{stdout}{stderr}");
        assert!(
            stdout.lines().any(|l| l == line),
            "{action} {value}: {stdout}"
        );
        assert!(!stdout.contains("error"), "{stdout}");
        assert!(stdout.contains("closing connection to"), "{stdout}");
    }
}

#[test]
fn our_client_against_python_server() {
    let server = PyServer::start();
    let port = server.port.to_string();
    for (action, value, line) in CASES {
        let out = run_socklab(
            &["app", "client", "127.0.0.1", &port, action, value],
            TIMEOUT,
        );
        let (stdout, stderr) = text(&out);
        assert!(out.status.success(), "{action} {value}: {stderr}");
        assert_eq!(stdout, format!("{line}\n"));
    }
}

/// The same request bytes to app-server.py and to us give the same answer
/// bytes (both run here, so both say "byteorder": "little" or both "big").
#[test]
fn our_answers_are_the_originals_bytes() {
    let python = PyServer::start();
    let ours = app_server(&[]);
    let python_addr: SocketAddr = ([127, 0, 0, 1], python.port).into();
    let mut requests: Vec<Message> = CASES
        .iter()
        .map(|(action, value, _)| Message::request(action, value))
        .collect();
    let mut frobnicate = Map::new();
    frobnicate.insert("action".into(), "frobnicate".into());
    frobnicate.insert("value".into(), "x".into());
    requests.push(Message::json(&frobnicate));
    requests.push(Message::binary(&b"\x00\xff'\"\\ short"[..]));
    for request in &requests {
        let bytes = encode(request);
        let answer = |addr| {
            let mut stream = connect(addr);
            stream.write_all(&bytes).expect("send");
            read_to_eof(&mut stream)
        };
        let theirs = answer(python_addr);
        assert!(!theirs.is_empty(), "app-server.py answered {request:?}");
        assert_eq!(
            socklab::net::escape_bytes(&answer(ours.addr), usize::MAX),
            socklab::net::escape_bytes(&theirs, usize::MAX)
        );
    }
}

/// Our client's request bytes equal app-client.py's for every case.
#[test]
fn our_requests_are_the_originals_bytes() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port().to_string();
    // Records one request per connection and answers it as the server would.
    let recorder = std::thread::spawn(move || {
        let mut recorded = Vec::new();
        for _ in 0..2 * CASES.len() {
            let (mut stream, _) = listener.accept().expect("accept");
            stream.set_read_timeout(Some(TIMEOUT)).expect("timeout");
            let (request, raw) = read_message(&mut stream);
            let answer = respond(&SearchTable::builtin(), &request).expect("answerable");
            stream.write_all(&encode(&answer)).expect("answer");
            recorded.push(raw);
        }
        recorded
    });
    for (action, value, line) in CASES {
        let py = run(
            python("app-client.py").args(["127.0.0.1", &port, action, value]),
            TIMEOUT,
        );
        assert!(text(&py).0.contains(line), "{}", text(&py).0);
        let ours = run_socklab(
            &["app", "client", "127.0.0.1", &port, action, value],
            TIMEOUT,
        );
        assert_eq!(text(&ours).0, format!("{line}\n"), "{}", text(&ours).1);
    }
    let recorded = recorder.join().expect("recorder");
    for pair in recorded.chunks(2) {
        assert_eq!(
            socklab::net::escape_bytes(&pair[1], usize::MAX),
            socklab::net::escape_bytes(&pair[0], usize::MAX)
        );
    }
}

// ---------------------------------------------------------- CLI behaviour

#[test]
fn client_json_output_and_data_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("table.json");
    std::fs::write(
        &data,
        r#"{"neo": "The One", "trinity": {"ship": "Nebuchadnezzar"}}"#,
    )
    .expect("write");
    let server = app_server(&["--data", data.to_str().expect("utf-8 path")]);
    let port = server.port();
    let client = |query: &str, extra: &[&str]| {
        let mut args = vec!["app", "client", "127.0.0.1", &port, "search", query];
        args.extend_from_slice(extra);
        run_socklab(&args, TIMEOUT)
    };
    assert_eq!(text(&client("neo", &[])).0, "got result: The One\n");
    let shown: Value =
        serde_json::from_slice(&client("trinity", &["--json"]).stdout).expect("--json prints JSON");
    assert_eq!(
        shown["content"],
        json!({"result": {"ship": "Nebuchadnezzar"}})
    );
    assert_eq!(shown["header"]["content-type"], "text/json");
    assert_eq!(
        text(&client("morpheus", &[])).0,
        "got result: No match for \"morpheus\".\n"
    );
}

#[test]
fn bad_data_file_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("table.json");
    std::fs::write(&data, "[1, 2]").expect("write");
    let out = run_socklab(
        &[
            "app",
            "server",
            "127.0.0.1",
            "0",
            "--data",
            data.to_str().expect("utf-8"),
        ],
        TIMEOUT,
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).1.contains("must hold a JSON object"),
        "{}",
        text(&out).1
    );
}

#[test]
fn keep_alive_keeps_the_connection_and_is_echoed() {
    let server = app_server(&[]);
    let mut stream = connect(server.addr);
    let first = Message::search("ring").with_keep_alive(true);
    stream.write_all(&encode(&first)).expect("send");
    let (answer, _) = read_message(&mut stream);
    assert!(answer.header.keep_alive);
    assert_eq!(
        answer.reply().expect("json"),
        Reply::Result("In the caves beneath the Misty Mountains. 💍".into())
    );
    // The last request has no keep-alive: its answer comes, then the close.
    stream
        .write_all(&encode(&Message::binary("0123456789abc")))
        .expect("send");
    let rest = decode_all(&read_to_eof(&mut stream));
    assert_eq!(rest.len(), 1);
    assert!(!rest[0].header.keep_alive);
    assert_eq!(
        &rest[0].content[..],
        b"First 10 bytes of request: 0123456789"
    );
}

/// SIGTERM: an idle keep-alive connection is closed at once, a request in
/// flight is still answered (as the last one), and the server exits 0.
#[test]
fn shutdown_finishes_the_exchange_in_flight() {
    let mut server = app_server(&[]);
    let mut idle = connect(server.addr);
    idle.write_all(&encode(&Message::search("ring").with_keep_alive(true)))
        .expect("send");
    assert!(read_message(&mut idle).0.header.keep_alive);
    let request = encode(&Message::search("morpheus").with_keep_alive(true));
    let (first_half, second_half) = request.split_at(10);
    let mut busy = connect(server.addr);
    busy.write_all(first_half).expect("send half");
    let busy_addr = busy.local_addr().expect("local address");
    server.wait_for_log(&format!("accepted connection from {busy_addr}"), TIMEOUT);
    common::signal(&server.child, libc::SIGTERM);
    assert!(
        read_to_eof(&mut idle).is_empty(),
        "the idle connection is closed"
    );
    server.wait_for_log("to finish", TIMEOUT);
    busy.write_all(second_half).expect("send the rest");
    let last = decode_all(&read_to_eof(&mut busy));
    assert_eq!(last.len(), 1);
    assert!(
        !last[0].header.keep_alive,
        "no keep-alive while shutting down"
    );
    assert!(common::wait_child(&mut server.child, TIMEOUT).success());
}

// ------------------------------------------------------ malformed input

/// How the server must treat one bad input.
enum Expect<'a> {
    /// A text/json `{"error": ...}` containing this text, then the close.
    Error(&'a str),
    /// The close, without a word, after about the idle timeout.
    IdleClose,
}

/// A header with the four required keys (values as raw JSON text), changed
/// by `changes`: `(key, Some(raw))` sets, `(key, None)` removes.
fn header(content_length: usize, changes: &[(&str, Option<&str>)]) -> Vec<u8> {
    let length = content_length.to_string();
    let mut pairs: Vec<(&str, Option<&str>)> = vec![
        ("byteorder", Some("\"little\"")),
        ("content-type", Some("\"text/json\"")),
        ("content-encoding", Some("\"utf-8\"")),
        ("content-length", Some(&length)),
    ];
    for (key, value) in changes {
        match pairs.iter_mut().find(|(k, _)| k == key) {
            Some(pair) => pair.1 = *value,
            None => pairs.push((key, *value)),
        }
    }
    let body: Vec<String> = pairs
        .iter()
        .filter_map(|(k, v)| v.map(|v| format!("\"{k}\": {v}")))
        .collect();
    format!("{{{}}}", body.join(", ")).into_bytes()
}

/// Prefix + raw header + content.
fn frame(header: &[u8], content: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    out.put_u16(u16::try_from(header.len()).expect("short header"));
    out.extend_from_slice(header);
    out.extend_from_slice(content);
    out
}

/// Sends `input` (then EOF if `then_eof`) on one connection while a good
/// client, already halfway through its request, finishes it on another;
/// checks the bad connection's fate and that the good client was served.
fn bad_input(input: &[u8], then_eof: bool, expect: Expect) {
    let server = app_server(&["--max-content", "1000", "--idle-timeout", "1s"]);
    let addr = server.addr;
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
    let good = std::thread::spawn(move || {
        let request = encode(&Message::search("morpheus"));
        let (first_half, second_half) = request.split_at(request.len() / 2);
        let mut good = connect(addr);
        good.write_all(first_half).expect("good client sends half");
        ready_tx.send(()).expect("test alive");
        go_rx.recv_timeout(TIMEOUT).expect("go");
        good.write_all(second_half).expect("good client finishes");
        decode_all(&read_to_eof(&mut good))
    });
    ready_rx.recv_timeout(TIMEOUT).expect("good client started");

    let started = Instant::now();
    let mut bad = connect(addr);
    bad.write_all(input).expect("send the bad input");
    if then_eof {
        bad.shutdown(Shutdown::Write).expect("half-close");
    }
    go_tx.send(()).expect("good client alive");
    let answer = read_to_eof(&mut bad);
    match expect {
        Expect::Error(wanted) => {
            let messages = decode_all(&answer);
            assert_eq!(messages.len(), 1, "one error answer, then the close");
            assert!(messages[0].is_json());
            match messages[0].reply().expect("a JSON answer") {
                Reply::Error(error) => {
                    assert!(error.contains(wanted), "{error:?} lacks {wanted:?}")
                }
                other => panic!("expected an error answer, got {other:?}"),
            }
        }
        Expect::IdleClose => {
            assert!(answer.is_empty(), "nothing is sent to a silent peer");
            let waited = started.elapsed();
            assert!(
                waited >= Duration::from_millis(900),
                "closed after {waited:?}"
            );
        }
    }

    let answers = good.join().expect("good client");
    assert_eq!(answers.len(), 1);
    assert_eq!(
        answers[0].reply().expect("json"),
        Reply::Result("Follow the white rabbit. 🐰".into())
    );
}

/// One test per bad input: `name: input, then_eof, expected fate;`.
macro_rules! bad_inputs {
    ($($(#[$doc:meta])* $name:ident: $input:expr, $eof:expr, $expect:expr;)*) => {$(
        $(#[$doc])*
        #[test]
        fn $name() {
            bad_input(&$input, $eof, $expect);
        }
    )*};
}

const SEARCH: &[u8] = br#"{"action": "search", "value": "morpheus"}"#;

bad_inputs! {
    bad_header_length_zero: *b"\x00\x00{}", false, Expect::Error("JSON header length is 0");
    bad_header_not_utf8:
        frame(b"{\"byteorder\": \"\xff\"}", b""), false, Expect::Error("not UTF-8");
    bad_header_not_json: frame(b"{\"byteorder\": ", b""), false, Expect::Error("not valid JSON");
    bad_header_json_array:
        frame(b"[\"byteorder\"]", b""), false, Expect::Error("must be an object, not an array");
    bad_content_length_negative:
        frame(&header(0, &[("content-length", Some("-1"))]), b"{}"), false,
        Expect::Error("\"content-length\" must be a non-negative integer, not -1");
    bad_content_length_string:
        frame(&header(0, &[("content-length", Some("\"12\""))]), b"{}"), false,
        Expect::Error("non-negative integer, not \"12\"");
    bad_content_length_fraction:
        frame(&header(0, &[("content-length", Some("1.5"))]), b"{}"), false,
        Expect::Error("non-negative integer, not 1.5");
    /// Refused on the header alone: none of the 1001 bytes is ever sent.
    bad_content_length_above_the_limit:
        frame(&header(1001, &[]), b""), false,
        Expect::Error("content-length 1001 is above the limit of 1000 bytes");
    /// Sent anyway, more than the socket buffers hold: the server drains it
    /// after answering, so the sender's write does not fail with a reset.
    bad_content_length_above_the_limit_content_sent_anyway:
        frame(&header(12_000_000, &[]), &vec![b'x'; 12_000_000]), false,
        Expect::Error("content-length 12000000 is above the limit of 1000 bytes");
    bad_byteorder:
        frame(&header(2, &[("byteorder", Some("\"middle\""))]), b"{}"), false,
        Expect::Error("\"byteorder\" must be \"little\" or \"big\"");
    bad_truncated_content_then_eof:
        frame(&header(SEARCH.len(), &[]), &SEARCH[..10]), true,
        Expect::Error("closed in the middle of a message");
    bad_truncated_header_then_eof:
        *b"\x00\x40{\"byteorder\"", true, Expect::Error("closed in the middle of a message");
    bad_content_not_valid_utf8:
        frame(&header(9, &[]), b"{\"\xff\xfe\": 1}"), false,
        Expect::Error("content is not valid utf-8");
    /// The usual search, its value not UTF-8: the quick path checks it too.
    bad_search_value_not_valid_utf8:
        frame(&header(34, &[]), b"{\"action\": \"search\", \"value\": \"\xff\"}"), false,
        Expect::Error("content is not valid utf-8");
    bad_content_unsupported_encoding:
        frame(&header(2, &[("content-encoding", Some("\"utf-16\""))]), b"{}"), false,
        Expect::Error("content-encoding \"utf-16\" is not supported");
    bad_content_json_not_an_object:
        frame(&header(22, &[]), br#"["search", "morpheus"]"#), false,
        Expect::Error("must be a JSON object, not an array");
    bad_content_not_json:
        frame(&header(16, &[]), b"{action: search}"), false,
        Expect::Error("content is not valid JSON");
    bad_peer_sends_nothing: *b"", false, Expect::IdleClose;
    bad_peer_stops_mid_header: *b"\x00\x40{\"byte", false, Expect::IdleClose;
}

#[test]
fn bad_header_missing_each_required_key() {
    for key in [
        "byteorder",
        "content-length",
        "content-type",
        "content-encoding",
    ] {
        let input = frame(&header(2, &[(key, None)]), b"{}");
        let wanted = format!("Missing required header \"{key}\".");
        bad_input(&input, false, Expect::Error(&wanted));
    }
}

// ------------------------------------------------------------ load

/// The requests of the load tests: searches (hits and misses) and binary.
fn request(i: usize) -> Message {
    match i % 4 {
        0 => Message::search("morpheus"),
        1 => Message::search("🐶"),
        2 => Message::search(&format!("query {i}")),
        _ => Message::binary(format!("binary {i}")),
    }
}

#[tokio::test]
async fn ten_thousand_pipelined_requests_on_one_connection() {
    const N: usize = 10_000;
    let server = app_server(&["-q"]);
    let table = SearchTable::builtin();
    let requests: Vec<Message> = (0..N)
        .map(|i| request(i).with_keep_alive(i + 1 < N))
        .collect();
    let mut wire = BytesMut::new();
    for message in &requests {
        MessageCodec::default()
            .encode(message, &mut wire)
            .expect("encodes");
    }
    let stream = tokio::net::TcpStream::connect(server.addr)
        .await
        .expect("connect");
    let (reader, mut writer) = stream.into_split();
    // Write everything at once while answers stream back.
    let sender = tokio::spawn(async move { writer.write_all(&wire).await.map(|()| writer) });
    let mut answers = FramedRead::new(reader, MessageCodec::default());
    let verify = async {
        for (i, request) in requests.iter().enumerate() {
            let answer = answers
                .next()
                .await
                .unwrap_or_else(|| panic!("closed after {i} answers"))
                .expect("well framed");
            let expected = respond(&table, request).expect("answerable");
            assert!(answer.equivalent(&expected), "answer {i}: {answer:?}");
        }
        assert!(
            answers.next().await.is_none(),
            "closed after the last request"
        );
    };
    tokio::time::timeout(TIMEOUT, verify)
        .await
        .expect("all answered in time");
    let _writer = sender.await.expect("sender").expect("sent all");
}

#[tokio::test]
async fn pipelined_answers_are_batched_into_few_writes() {
    const N: usize = 40;
    let server = app_server(&["--trace"]);
    let mut wire = BytesMut::new();
    for i in 0..N {
        let message = request(i).with_keep_alive(i + 1 < N);
        MessageCodec::default()
            .encode(&message, &mut wire)
            .expect("encodes");
    }
    let mut stream = tokio::net::TcpStream::connect(server.addr)
        .await
        .expect("connect");
    stream.write_all(&wire).await.expect("send");
    let mut answers = FramedRead::new(stream, MessageCodec::default());
    let count = tokio::time::timeout(TIMEOUT, async {
        let mut count = 0;
        while let Some(answer) = answers.next().await {
            answer.expect("well framed");
            count += 1;
        }
        count
    })
    .await
    .expect("answered in time");
    assert_eq!(count, N);
    server.wait_for_log("closing connection to", TIMEOUT);
    let writes = server
        .logs()
        .iter()
        .filter(|l| l.contains(" bytes to "))
        .count();
    assert!(
        (1..=4).contains(&writes),
        "{N} answers took {writes} writes"
    );
}

#[tokio::test]
async fn two_hundred_concurrent_clients() {
    const N: usize = 200;
    let server = app_server(&["-q"]);
    let table = Arc::new(SearchTable::builtin());
    // Everyone connects first, then all send at once.
    let barrier = Arc::new(tokio::sync::Barrier::new(N));
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..N {
        let (barrier, table, addr) = (barrier.clone(), table.clone(), server.addr);
        tasks.spawn(async move {
            let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
            barrier.wait().await;
            let request = request(i);
            let answer = socklab::app::Client::new(stream)
                .request(&request)
                .await
                .expect("answer");
            let expected = respond(&table, &request).expect("answerable");
            assert!(answer.equivalent(&expected), "client {i}: {answer:?}");
        });
    }
    let all = async {
        let mut done = 0;
        while let Some(result) = tasks.join_next().await {
            result.expect("client succeeded");
            done += 1;
        }
        done
    };
    assert_eq!(
        tokio::time::timeout(TIMEOUT, all).await.expect("in time"),
        N
    );
}

// ------------------------------------------------------------ proptest

fn arb_leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        ".{0,20}".prop_map(Value::from),
    ]
}

fn arb_value() -> impl Strategy<Value = Value> {
    arb_leaf().prop_recursive(2, 12, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map(".{0,8}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn arb_header() -> impl Strategy<Value = Header> {
    let known = [
        "byteorder",
        "content-length",
        "content-type",
        "content-encoding",
        "keep-alive",
    ];
    (
        any::<bool>(),
        ".{0,40}",
        ".{0,20}",
        any::<bool>(),
        prop::collection::btree_map(
            ".{1,16}".prop_filter("not a known key", move |k| !known.contains(&k.as_str())),
            arb_value(),
            0..5,
        ),
    )
        .prop_map(
            |(big, content_type, content_encoding, keep_alive, extra)| Header {
                byteorder: if big {
                    ByteOrder::Big
                } else {
                    ByteOrder::Little
                },
                content_type: content_type.into(),
                content_encoding: content_encoding.into(),
                keep_alive,
                extra: extra.into_iter().collect(),
            },
        )
}

fn arb_message(max_content: usize) -> impl Strategy<Value = Message> {
    (
        arb_header(),
        prop::collection::vec(any::<u8>(), 0..max_content),
    )
        .prop_map(|(header, content)| Message {
            header,
            content: content.into(),
        })
}

/// Valid messages, then maybe some bytes flipped or cut off.
fn arb_stream() -> impl Strategy<Value = Vec<u8>> {
    (
        prop::collection::vec(arb_message(200), 1..4),
        prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..3),
        any::<prop::sample::Index>(),
        any::<bool>(),
    )
        .prop_map(|(messages, flips, cut, truncate)| {
            let mut wire = BytesMut::new();
            for message in &messages {
                MessageCodec::default()
                    .encode(message, &mut wire)
                    .expect("fits");
            }
            let mut wire = wire.to_vec();
            for (at, byte) in flips {
                let at = at.index(wire.len());
                wire[at] = byte;
            }
            if truncate {
                wire.truncate(cut.index(wire.len() + 1));
            }
            wire
        })
}

proptest! {
    #[test]
    fn encode_then_decode_is_identity(messages in prop::collection::vec(arb_message(4096), 1..4)) {
        let mut wire = BytesMut::new();
        for message in &messages {
            MessageCodec::new(4096).encode(message, &mut wire).expect("fits");
        }
        let (decoded, error) = decode_pieces(&wire, &[], 4096);
        prop_assert_eq!(error, None);
        prop_assert_eq!(decoded, messages);
    }

    #[test]
    fn decoding_arbitrary_bytes_never_panics(input in prop::collection::vec(any::<u8>(), 0..2048)) {
        let _ = decode_pieces(&input, &[], 1024);
    }

    #[test]
    fn every_split_point_gives_the_same_messages(input in arb_stream()) {
        let whole = decode_pieces(&input, &[], 1000);
        for cut in 0..=input.len() {
            prop_assert_eq!(&decode_pieces(&input, &[cut], 1000), &whole, "split at {}", cut);
        }
        let bytewise: Vec<usize> = (1..input.len()).collect();
        prop_assert_eq!(&decode_pieces(&input, &bytewise, 1000), &whole);
    }
}

#[test]
fn oversized_header_is_refused_by_the_encoder() {
    let mut message = Message::binary("x");
    message
        .header
        .extra
        .insert("pad".into(), "a".repeat(70_000).into());
    let mut buf = BytesMut::new();
    let err = MessageCodec::default()
        .encode(&message, &mut buf)
        .expect_err("too long");
    assert!(matches!(err, FrameError::HeaderTooLong(_)));
    assert!(buf.is_empty(), "nothing half-written");
}
