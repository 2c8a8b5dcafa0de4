//! `bench chat` over several server addresses, in-process through the
//! library: one room served on three listeners must give every client the
//! same order; three separate rooms must fail with a clear error. And the
//! comma-separated ADDR on the command line.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::{Server, TIMEOUT, run_socklab, text};
use socklab::bench::{self, ChatOptions, Load, Order};
use socklab::chat::{self, Room};
use tokio::net::TcpListener;
use tokio::time::timeout;
use tokio_util::sync::CancellationToken;

/// Serves `room` on a new listener on 127.0.0.1:0 until `stop`.
async fn serve_on_new_listener(room: &Room, stop: &CancellationToken) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (room, shutdown) = (room.clone(), stop.clone().cancelled_owned());
    tokio::spawn(async move { room.serve(listener, shutdown).await });
    addr
}

/// A short chat load of `conns` clients, 3 senders, over `addrs`.
fn options(addrs: &[SocketAddr], conns: usize) -> ChatOptions {
    let list: Vec<String> = addrs.iter().map(SocketAddr::to_string).collect();
    ChatOptions {
        load: Load {
            addr: list.join(","),
            conns,
            duration: Duration::from_millis(500),
            warmup: Duration::from_millis(200),
            // Also how long the sync phase waits for every client to see the line.
            timeout: Duration::from_secs(2),
            ..Load::default()
        },
        senders: 3,
    }
}

#[tokio::test]
async fn one_room_on_three_listeners_gives_everyone_one_order() {
    let stop = CancellationToken::new();
    let room = Room::new(chat::Options::default());
    let mut addrs = Vec::new();
    for _ in 0..3 {
        addrs.push(serve_on_new_listener(&room, &stop).await);
    }
    let report = timeout(TIMEOUT, bench::chat(&options(&addrs, 8)))
        .await
        .expect("in time")
        .expect("the bench runs");
    stop.cancel();
    assert_eq!(
        report.tally.errors.total(),
        0,
        "{:?}",
        report.tally.first_error
    );
    assert_eq!(report.order, Some(Order::Same { clients: 8 }));
    assert!(report.tally.completed > 0);
    let spread: Vec<(String, usize)> = addrs
        .iter()
        .map(SocketAddr::to_string)
        .zip([3, 3, 2])
        .collect();
    assert_eq!(report.setup.spread, spread);
    let text = report.to_text();
    assert!(text.contains("Order: same for all 8 clients"), "{text}");
    let json = report.to_json();
    assert_eq!(json["order"], "same for all 8 clients");
    assert_eq!(json["targets"][2]["clients"], 2);
}

#[tokio::test]
async fn three_separate_rooms_fail_and_say_so() {
    let stop = CancellationToken::new();
    let mut addrs = Vec::new();
    for _ in 0..3 {
        let room = Room::new(chat::Options::default());
        addrs.push(serve_on_new_listener(&room, &stop).await);
    }
    let report = timeout(TIMEOUT, bench::chat(&options(&addrs, 6)))
        .await
        .expect("in time")
        .expect("the bench runs");
    stop.cancel();
    assert!(report.tally.errors.total() > 0);
    let first = report.tally.first_error.clone().unwrap_or_default();
    let expected = format!(
        "only 1 of 5 clients saw the sync line: not all joined the room \
         (1 of 1 on {}, 0 of 2 on {}, 0 of 2 on {}; do these servers share one room?)",
        addrs[0], addrs[1], addrs[2]
    );
    assert_eq!(first, expected);
}

#[tokio::test]
async fn a_list_for_a_one_server_bench_is_refused() {
    let options = bench::EchoOptions {
        load: Load {
            addr: "127.0.0.1:1,127.0.0.1:2".into(),
            ..Load::default()
        },
        bulk: false,
    };
    let err = bench::echo(&options).await.expect_err("refused");
    assert_eq!(
        err.to_string(),
        "\"127.0.0.1:1,127.0.0.1:2\": this bench loads one server; only bench chat takes a list of addresses"
    );
}

#[test]
fn the_command_line_takes_a_comma_separated_list() {
    let server = Server::start(&["-q", "chat", "server", "127.0.0.1", "0"]);
    let addr = server.addr.to_string();
    // The same server twice and by HOST with the port after: one room, two addresses.
    let list = format!("{addr},{addr}");
    let output = run_socklab(
        &[
            "bench",
            "chat",
            &list,
            "-c",
            "6",
            "--senders",
            "2",
            "--duration",
            "0.5",
            "--warmup",
            "0.2",
        ],
        TIMEOUT,
    );
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "{stdout} {stderr}");
    assert!(
        stdout.contains(&format!(
            "  connections per address: 3 on {addr}, 3 on {addr}\n"
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains("Order: same for all 6 clients\n"),
        "{stdout}"
    );
}

#[test]
fn every_item_of_the_list_is_checked_by_the_host_rule() {
    let output = run_socklab(&["bench", "chat", "127.0.0.1:9001,1000000:9002"], TIMEOUT);
    let (_, stderr) = text(&output);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("'1000000' is not a host"), "{stderr}");
}
