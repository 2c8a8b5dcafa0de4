//! `socklab bench`: load generators that verify every answer.
//!
//! A run has three phases on one clock:
//!
//! ```text
//! ramp-up   connections opened, at most --ramp handshakes in flight
//! warm-up   full load, nothing counted                      (--warmup)
//! measured  answers, bytes and latencies counted            (--duration)
//! drain     no new requests; answers still due must arrive  (--timeout)
//! ```
//!
//! Closed loop (the default) keeps `--pipeline` requests in flight per
//! connection. Open loop (`--rate R`) schedules requests R per second over all
//! connections and measures latency from when each request should have been
//! sent, so a stalled server cannot hide its stall (wrk2's correction for
//! coordinated omission).

mod app;
mod chat;
mod driver;
mod echo;
mod http;
mod idle;
mod load;
mod order;
mod pacing;
pub mod plot;
pub mod report;
pub mod server;
pub mod spectrum;
mod udp;
pub mod versus;

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use tokio::sync::{Notify, Semaphore, mpsc, watch};
use tokio::time::Instant;

pub use self::app::{AppOptions, run as app};
pub use self::chat::{ChatOptions, run as chat};
pub use self::echo::{EchoOptions, run as echo};
pub use self::http::{HttpOptions, run as http};
pub use self::idle::{IdleOptions, IdleReport, IdleStep, run as idle};
pub use self::udp::run as udp;
pub use driver::Dialer;
pub use load::{BenchError, Load};
pub use pacing::{Metronome, Schedule};
pub use report::{Failure, Order, Report, Setup, TIMELINE_SLOTS, Tally};
pub use server::{Sample, ServerUsage};

use crate::net;

/// The measured window and the end of the drain, fixed once every worker is
/// connected.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    /// When the load starts (after the ramp).
    pub start: Instant,
    /// Counting starts here.
    pub measure: Instant,
    /// Counting and new requests stop here.
    pub end: Instant,
    /// Answers still missing now are late.
    pub drain_end: Instant,
}

impl Plan {
    fn new(load: &Load) -> Self {
        let start = Instant::now();
        let measure = start + load.warmup;
        let end = measure + load.duration;
        Self {
            start,
            measure,
            end,
            drain_end: end + load.timeout,
        }
    }

    /// Whether something that happened at `at` counts.
    pub fn counts(&self, at: Instant) -> bool {
        at >= self.measure && at < self.end
    }

    /// Which of the window's [`TIMELINE_SLOTS`] equal slots `at` falls in.
    pub fn slot(&self, at: Instant) -> usize {
        let window = (self.end - self.measure).as_nanos().max(1);
        let into = at.saturating_duration_since(self.measure).as_nanos();
        let slot = into * TIMELINE_SLOTS as u128 / window;
        usize::try_from(slot).map_or(TIMELINE_SLOTS - 1, |s| s.min(TIMELINE_SLOTS - 1))
    }
}

/// Microseconds from `from` to `to` (0 if `to` is earlier).
pub fn micros(from: Instant, to: Instant) -> u64 {
    u64::try_from(to.saturating_duration_since(from).as_micros()).unwrap_or(u64::MAX)
}

/// When a worker may send its next request.
#[derive(Debug, Clone)]
pub enum Pacer {
    /// As soon as a pipeline slot is free.
    Closed,
    /// At the schedule's times, whatever the answers do; the metronome rings
    /// the bell at each of them.
    Open {
        /// The intended send times.
        schedule: Schedule,
        /// How many have been taken.
        taken: u64,
        /// Rung at each intended time.
        bell: Arc<Notify>,
    },
}

impl Pacer {
    /// Takes the next send time if one is due at `now`: the scheduled time in
    /// open loop (latency is measured from it), `now` in closed loop.
    pub fn take(&mut self, now: Instant) -> Option<Instant> {
        match self {
            Pacer::Closed => Some(now),
            Pacer::Open {
                schedule, taken, ..
            } => {
                let at = schedule.at(*taken);
                if at > now {
                    return None;
                }
                *taken += 1;
                Some(at)
            }
        }
    }

    /// Waits until a send is due and takes it; `None` once `end` has come.
    pub async fn next_before(&mut self, end: Instant) -> Option<Instant> {
        loop {
            let now = Instant::now();
            if now >= end {
                return None;
            }
            if let Some(due) = self.take(now) {
                return Some(due);
            }
            if let Some(bell) = self.bell() {
                tokio::select! {
                    () = bell.notified() => {}
                    () = tokio::time::sleep_until(end) => {}
                }
            }
        }
    }

    /// The bell rung when a request is due, in open loop.
    pub fn bell(&self) -> Option<Arc<Notify>> {
        match self {
            Pacer::Closed => None,
            Pacer::Open { bell, .. } => Some(bell.clone()),
        }
    }
}

/// The resolved target, checked against `--allow-remote`, and how to reach it
/// (a bench of one server: a list of addresses is refused).
pub async fn target(load: &Load, default_port: u16) -> Result<Dialer, BenchError> {
    let mut all = targets(load, default_port).await?;
    if all.len() > 1 {
        return Err(BenchError::OneAddress(load.addr.clone()));
    }
    // `targets` returns at least one dialer or an error.
    Ok(all.remove(0))
}

/// Every target of a comma-separated `load.addr` (`HOST:PORT,HOST,...`, each
/// item with its own port or `load.addr_port` or `default_port`), resolved
/// and checked against `--allow-remote`, in the order given.
pub async fn targets(load: &Load, default_port: u16) -> Result<Vec<Dialer>, BenchError> {
    if load.conns == 0 || load.pipeline == 0 {
        return Err(BenchError::NoLoad);
    }
    if load.rate.is_some_and(|r| !(r > 0.0 && r.is_finite())) {
        return Err(BenchError::Rate);
    }
    if let Some(pid) = load.server_pid {
        Sample::of(pid)?;
    }
    let mut dialers = Vec::new();
    for item in load.addr.split(',') {
        let (host, port) = net::split_host_port(item.trim()).map_err(BenchError::Address)?;
        let port = match (port, load.addr_port) {
            (Some(_), Some(_)) => return Err(BenchError::PortTwice(item.to_string())),
            (port, second) => port.or(second).unwrap_or(default_port),
        };
        let addrs = net::resolve(&host, port).await?;
        let addr = addrs[0];
        if !load.allow_remote && !is_local(addr.ip()) {
            return Err(BenchError::Remote(addr));
        }
        dialers.push(Dialer::new(addr, host, load));
    }
    Ok(dialers)
}

/// Loopback, private (RFC 1918, ULA), link-local or unspecified (which
/// connects to this machine).
fn is_local(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            v4.is_loopback() || v4.is_private() || v4.is_link_local() || v4.is_unspecified()
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_local(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || first & 0xfe00 == 0xfc00
                || first & 0xffc0 == 0xfe80
        }
    }
}

/// Opens `load.conns` workers' connections with at most `load.ramp`
/// handshakes in flight, then starts every worker on the same [`Plan`] (and,
/// in open loop, the metronome that paces them) and merges their tallies.
///
/// `open(i)` connects worker `i`; `work(i, conn, plan, pacer)` runs it.
pub async fn run_workers<C, O, OF, W, WF>(load: &Load, open: O, work: W) -> Tally
where
    C: Send + 'static,
    O: Fn(usize) -> OF,
    OF: Future<Output = Result<C, BenchError>> + Send + 'static,
    W: Fn(usize, C, Plan, Pacer) -> WF + Send + Sync + 'static,
    WF: Future<Output = Tally> + Send + 'static,
{
    let work = Arc::new(work);
    let ramp = Arc::new(Semaphore::new(load.ramp.max(1)));
    let (ready_tx, mut ready_rx) = mpsc::channel::<()>(load.conns);
    let (plan_tx, plan_rx) = watch::channel::<Option<(Plan, Option<Arc<Metronome>>)>>(None);
    let mut tasks = tokio::task::JoinSet::new();
    for index in 0..load.conns {
        let connecting = open(index);
        let ramp = ramp.clone();
        let ready = ready_tx.clone();
        let mut plan_rx = plan_rx.clone();
        let work = work.clone();
        tasks.spawn(async move {
            let conn = {
                // The semaphore is never closed, so acquiring only waits.
                let _permit = ramp.acquire().await.expect("ramp semaphore stays open");
                connecting.await
            };
            let _ = ready.send(()).await;
            let Ok(started) = plan_rx.wait_for(Option::is_some).await.map(|p| p.clone()) else {
                return Tally::default();
            };
            let (plan, metronome) = started.expect("waited for a plan");
            let pacer = metronome.map_or(Pacer::Closed, |m| m.pacer(index));
            match conn {
                Ok(conn) => work(index, conn, plan, pacer).await,
                Err(err) => {
                    let mut tally = Tally::default();
                    tally.fail(Failure::Connect, err.to_string());
                    tally
                }
            }
        });
    }
    drop(ready_tx);
    let mut connected = 0;
    while connected < load.conns && ready_rx.recv().await.is_some() {
        connected += 1;
    }
    let plan = Plan::new(load);
    let mut total = Tally::default();
    let metronome = if load.rate.is_some() {
        let schedules = (0..load.conns)
            .filter_map(|i| Schedule::of(load, i, plan.start))
            .collect();
        match Metronome::start(schedules, plan.end) {
            Ok(metronome) => Some(Arc::new(metronome)),
            Err(err) => {
                total.fail(Failure::Io, format!("starting the pacing thread: {err}"));
                None
            }
        }
    } else {
        None
    };
    let _ = plan_tx.send(Some((plan, metronome)));
    drop(plan_tx);
    let probe = load
        .server_pid
        .map(|pid| tokio::spawn(server_usage(pid, plan)));
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(tally) => total.merge(&tally),
            Err(err) => total.fail(Failure::Io, format!("worker failed: {err}")),
        }
    }
    if let Some(probe) = probe {
        match probe.await {
            Ok(Ok(usage)) => total.server = Some(usage),
            Ok(Err(err)) => total.fail(Failure::Io, err.to_string()),
            Err(err) => total.fail(Failure::Io, format!("sampling the server failed: {err}")),
        }
    }
    total
}

/// Samples process `pid` when the measured window opens and when it closes.
async fn server_usage(pid: u32, plan: Plan) -> Result<ServerUsage, server::SampleError> {
    tokio::time::sleep_until(plan.measure).await;
    let start = Sample::of(pid)?;
    tokio::time::sleep_until(plan.end).await;
    Ok(ServerUsage::between(pid, start, Sample::of(pid)?))
}

/// The setup block of a report for `load` (its protocol marked `--tls`
/// when the load ran over TLS).
pub fn setup(load: &Load, protocol: &str, target: SocketAddr, unit: &'static str) -> Setup {
    Setup {
        protocol: match load.tls {
            Some(_) => format!("{protocol} --tls"),
            None => protocol.to_string(),
        },
        target: target.to_string(),
        spread: vec![(target.to_string(), load.conns)],
        unit,
        connections: load.conns,
        pipeline: load.pipeline,
        size: load.size,
        rate: load.rate,
        duration_s: load.duration.as_secs_f64(),
        warmup_s: load.warmup.as_secs_f64(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_targets_by_default() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "192.168.1.1",
            "172.16.0.1",
            "::1",
            "fd00::1",
        ] {
            assert!(is_local(ip.parse().expect("literal")), "{ip}");
        }
        for ip in ["192.0.2.1", "8.8.8.8", "2001:db8::1", "172.32.0.1"] {
            assert!(!is_local(ip.parse().expect("literal")), "{ip}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn open_loop_keeps_its_schedule() {
        use std::time::Duration;
        let start = Instant::now();
        let load = Load {
            conns: 1,
            rate: Some(100.0),
            ..Load::default()
        };
        let mut pacer = Pacer::Open {
            schedule: Schedule::of(&load, 0, start).expect("open loop"),
            taken: 0,
            bell: Arc::new(Notify::new()),
        };
        assert_eq!(pacer.take(start), Some(start));
        assert_eq!(pacer.take(start), None);
        // Late by 35 ms: the missed slots are still owed, at their own times.
        let late = start + Duration::from_millis(35);
        assert_eq!(pacer.take(late), Some(start + Duration::from_millis(10)));
        assert_eq!(pacer.take(late), Some(start + Duration::from_millis(20)));
        assert_eq!(pacer.take(late), Some(start + Duration::from_millis(30)));
        assert_eq!(pacer.take(late), None);
    }
}
