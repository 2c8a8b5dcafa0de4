//! `bench --tls`: every load generator over TLS against our TLS servers, in
//! process through the library (a development certificate in a temporary
//! store, the client pinning it), every answer verified; a TLS bench against
//! a plain server and a plain bench against a TLS one fail with the mistake
//! named; and once through the binary, trusting the development CA.

mod common;

use std::future::Future;
use std::time::Duration;

use socklab::bench::{self, AppOptions, ChatOptions, EchoOptions, HttpOptions, Load, Report};
use socklab::net::ServerOptions;
use socklab::tls::{ClientOptions, ClientTls, DevStore, ServerTls};
use socklab::{app, chat, echo, http};
use tokio::net::TcpListener;
use tokio::time::timeout;
use tokio_util::sync::CancellationToken;

use common::{Server, TIMEOUT, run_socklab, text};

/// A development certificate in its own store, and a client pinning it.
struct Pki {
    _dir: tempfile::TempDir,
    server: ServerTls,
    client: ClientTls,
}

fn pki() -> Pki {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = ServerTls::development(&DevStore::new(dir.path()), &[], None).expect("dev cert");
    let client = ClientTls::new(&ClientOptions {
        pin: Some(*server.pin()),
        ..ClientOptions::default()
    })
    .expect("client");
    Pki {
        _dir: dir,
        server,
        client,
    }
}

/// A short load on `addr`, over `tls`.
fn load(addr: &str, conns: usize, tls: Option<ClientTls>) -> Load {
    Load {
        addr: addr.to_string(),
        conns,
        duration: Duration::from_millis(500),
        warmup: Duration::from_millis(200),
        tls,
        ..Load::default()
    }
}

/// Server options with `tls`.
fn tls_options(tls: &ServerTls) -> ServerOptions {
    ServerOptions {
        tls: Some(tls.clone()),
        ..ServerOptions::default()
    }
}

/// Runs `serve(listener, stop, server TLS)` on 127.0.0.1:0 while
/// `run(addr, client TLS)` benches it.
async fn against<S, SF, R, RF>(pki: &Pki, serve: S, run: R) -> Report
where
    S: FnOnce(TcpListener, CancellationToken, ServerTls) -> SF,
    SF: Future<Output = std::io::Result<()>> + Send + 'static,
    R: FnOnce(String, ClientTls) -> RF,
    RF: Future<Output = Result<Report, bench::BenchError>>,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    let stop = CancellationToken::new();
    let server = tokio::spawn(serve(listener, stop.clone(), pki.server.clone()));
    let report = timeout(TIMEOUT, run(addr, pki.client.clone()))
        .await
        .expect("bench in time")
        .expect("bench runs");
    stop.cancel();
    let _ = timeout(TIMEOUT, server).await;
    report
}

/// Asserts a clean TLS run with answers counted, and returns how many.
fn clean(report: &Report) -> u64 {
    assert!(
        report.setup.protocol.ends_with(" --tls"),
        "{}",
        report.setup.protocol
    );
    let tally = &report.tally;
    assert_eq!(
        tally.errors.total(),
        0,
        "first error: {:?}",
        tally.first_error
    );
    assert!(tally.completed > 5, "{}", report.to_json());
    tally.completed
}

async fn serve_echo(
    listener: TcpListener,
    stop: CancellationToken,
    tls: ServerTls,
) -> std::io::Result<()> {
    let options = echo::Options {
        server: tls_options(&tls),
    };
    echo::serve(listener, options, stop.cancelled_owned()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echo_round_trips_over_tls_verify_every_byte() {
    let pki = pki();
    let report = against(&pki, serve_echo, |addr, client| async move {
        let mut load = load(&addr, 4, Some(client));
        load.size = 1000;
        load.pipeline = 4;
        bench::echo(&EchoOptions { load, bulk: false }).await
    })
    .await;
    let completed = clean(&report);
    // Every counted round trip moved 1000 bytes back, give or take the
    // requests in flight at the window's edges.
    let received = report.tally.bytes_received;
    assert!(
        received.abs_diff(completed * 1000) <= 4 * 4 * 1000 * 2,
        "{}",
        report.to_json()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echo_bulk_over_tls_streams_both_ways_to_the_close() {
    let pki = pki();
    let report = against(&pki, serve_echo, |addr, client| async move {
        let load = load(&addr, 1, Some(client));
        bench::echo(&EchoOptions { load, bulk: true }).await
    })
    .await;
    clean(&report);
    assert!(
        report.tally.bytes_received > 1_000_000,
        "{}",
        report.to_json()
    );
}

async fn serve_app(
    listener: TcpListener,
    stop: CancellationToken,
    tls: ServerTls,
) -> std::io::Result<()> {
    let options = app::server::Options {
        server: tls_options(&tls),
        ..app::server::Options::default()
    };
    app::server::serve(listener, options, stop.cancelled_owned()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn app_over_tls_in_both_modes() {
    let pki = pki();
    for keep_alive in [false, true] {
        let report = against(&pki, serve_app, |addr, client| async move {
            let mut load = load(&addr, 4, Some(client));
            load.pipeline = if keep_alive { 8 } else { 1 };
            bench::app(&AppOptions {
                load,
                keep_alive,
                value: None,
            })
            .await
        })
        .await;
        clean(&report);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_and_chat_over_tls() {
    let pki = pki();
    let report = against(
        &pki,
        |l, stop, tls| async move {
            let options = http::Options {
                server: tls_options(&tls),
                ..http::Options::default()
            };
            http::serve(l, options, stop.cancelled_owned()).await
        },
        |addr, client| async move {
            let mut load = load(&addr, 4, Some(client));
            load.pipeline = 4;
            bench::http(&HttpOptions {
                load,
                ..HttpOptions::default()
            })
            .await
        },
    )
    .await;
    clean(&report);
    let report = against(
        &pki,
        |l, stop, tls| async move {
            let options = chat::Options {
                server: ServerOptions {
                    tls: Some(tls),
                    ..chat::Options::default().server
                },
                ..chat::Options::default()
            };
            chat::serve(l, options, stop.cancelled_owned()).await
        },
        |addr, client| async move {
            let mut load = load(&addr, 6, Some(client));
            load.ramp = 1;
            bench::chat(&ChatOptions { load, senders: 2 }).await
        },
    )
    .await;
    clean(&report);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wrong_side_of_tls_is_named() {
    let pki = pki();
    // A TLS bench against a plain server: every connection fails to connect.
    let report = against(
        &pki,
        |l, stop, _| async move {
            echo::serve(l, echo::Options::default(), stop.cancelled_owned()).await
        },
        |addr, client| async move {
            bench::echo(&EchoOptions {
                load: load(&addr, 2, Some(client)),
                bulk: false,
            })
            .await
        },
    )
    .await;
    assert_eq!(report.tally.errors.connect, 2, "{}", report.to_json());
    let why = report.tally.first_error.clone().unwrap_or_default();
    assert!(why.contains("TLS"), "{why}");
    // A plain bench against a TLS server: the alert is named, not garbage.
    let report = against(&pki, serve_echo, |addr, _| async move {
        bench::echo(&EchoOptions {
            load: load(&addr, 2, None),
            bulk: false,
        })
        .await
    })
    .await;
    assert_eq!(report.tally.errors.io, 2, "{}", report.to_json());
    let why = report.tally.first_error.clone().unwrap_or_default();
    assert!(why.contains("answered in TLS"), "{why}");
}

#[test]
fn bench_tls_through_the_binary_trusts_the_dev_ca() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().to_str().expect("utf-8 path");
    let mut cmd = common::socklab();
    cmd.env("SOCKLAB_DATA_DIR", data)
        .args(["-q", "echo", "server", "127.0.0.1", "0", "--tls"]);
    let server = Server::start_command(cmd);
    let addr = server.addr.to_string();
    let bench = |tls: &[&str]| {
        let mut args = vec!["bench", "echo", &addr, "-c", "2", "--duration", "0.3"];
        args.extend_from_slice(&["--warmup", "0.1", "--json"]);
        args.extend_from_slice(tls);
        let mut cmd = common::socklab();
        cmd.env("SOCKLAB_DATA_DIR", data).args(&args);
        common::run(&mut cmd, TIMEOUT)
    };
    let output = bench(&["--tls"]);
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "{stderr}");
    let report: serde_json::Value = serde_json::from_str(stdout.trim()).expect("JSON report");
    assert_eq!(report["errors"]["total"], 0, "{report}");
    assert_eq!(report["protocol"], "echo --tls", "{report}");
    assert!(report["completed"].as_u64().expect("count") > 0, "{report}");
    // --insecure is warned once for the run, not once per connection.
    let output = bench(&["--tls", "--insecure"]);
    let (_, stderr) = text(&output);
    assert!(output.status.success(), "{stderr}");
    assert_eq!(stderr.matches("not checked").count(), 1, "{stderr}");
    // udp has no --tls.
    let output = run_socklab(&["bench", "udp", "127.0.0.1:9", "--tls"], TIMEOUT);
    assert_eq!(output.status.code(), Some(2));
}
