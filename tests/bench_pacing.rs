//! Open loop measures the server, not the pacer: against our echo server
//! (its own process), the open-loop p50 at 1,000/s and 20,000/s stays near
//! the closed-loop one-connection p50, and requests leave close to their
//! intended times. The bounds are generous (a debug build on a shared
//! machine); tokio's 1 ms timer alone put the p50 near 1 ms.

mod common;

use std::time::Duration;

use common::{Server, TIMEOUT};
use socklab::bench::{self, EchoOptions, Load, Report};
use tokio::time::timeout;

/// A short echo load of `conns` connections against `addr`.
async fn echo(addr: &str, conns: usize, rate: Option<f64>) -> Report {
    let options = EchoOptions {
        load: Load {
            addr: addr.to_string(),
            conns,
            rate,
            duration: Duration::from_secs(1),
            warmup: Duration::from_millis(300),
            ..Load::default()
        },
        bulk: false,
    };
    let report = timeout(TIMEOUT, bench::echo(&options))
        .await
        .expect("in time")
        .expect("the bench runs");
    assert_eq!(
        report.tally.errors.total(),
        0,
        "{:?}",
        report.tally.first_error
    );
    report
}

fn p50_us(report: &Report) -> u64 {
    report.tally.latency.value_at_quantile(0.5)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_loop_p50_stays_near_the_closed_loop_p50() {
    let server = Server::start(&["-q", "echo", "server", "127.0.0.1", "0"]);
    let addr = server.addr.to_string();
    let closed = p50_us(&echo(&addr, 1, None).await);
    assert!(echo(&addr, 1, None).await.tally.send_lag.is_empty());
    for rate in [1_000.0, 20_000.0] {
        // Other work on the machine comes in bursts: the best of three runs.
        let mut best = None;
        for _ in 0..3 {
            let report = echo(&addr, 20, Some(rate)).await;
            // Every scheduled request of the window was sent and answered,
            // and no more than were scheduled, give or take 10 %: the
            // window also counts answers to requests scheduled just before
            // it and still in flight when it opened (a CI run under load
            // counted 20,044 at 20,000/s).
            let expected = rate as u64;
            assert!(
                report.tally.completed >= expected * 9 / 10
                    && report.tally.completed <= expected * 11 / 10,
                "{} answers at {rate}/s for 1 s",
                report.tally.completed
            );
            let (open, lag) = (
                p50_us(&report),
                report.tally.send_lag.value_at_quantile(0.5),
            );
            best = Some(best.map_or((open, lag), |(o, l): (u64, u64)| (o.min(open), l.min(lag))));
        }
        let (open, lag) = best.expect("three runs");
        // The bar is 3x or +100 µs on a release build; 400 µs of
        // slack still fails the 1 ms timer this replaced.
        assert!(
            open <= (3 * closed).max(closed + 400),
            "open loop at {rate}/s: p50 {open} µs against {closed} µs closed"
        );
        assert!(
            lag < 300,
            "requests went out {lag} µs late (p50) at {rate}/s"
        );
    }
}
