//! What a bench run measured: per-worker tallies merged into one report, shown
//! as a summary in the manner of redis-benchmark and tcpkali or as one JSON
//! object (`--json`).
//!
//! ```text
//! JSON keys: protocol target targets[{addr clients}] unit connections
//! pipeline size rate duration_s warmup_s completed per_second bytes_sent bytes_received mb_per_s
//! latency_ms{avg min p50 p95 p99 p99_9 max} errors{connect io verify timeout
//! total} lost first_error server{pid cpu_us cpu_us_per_request rss_bytes
//! rss_start_bytes} (--server-pid; else null) timeline{slot_s completed[]} send_lag_us{p50 p99 max} (open loop; else null) order (chat: "same for all N clients", ...; else null)
//! ```

use std::fmt::Write as _;

use hdrhistogram::Histogram;
use serde::Serialize;
use serde_json::json;

pub use super::order::Order;
use super::server::ServerUsage;

/// Latencies are recorded in microseconds up to this (one minute).
const MAX_LATENCY_US: u64 = 60_000_000;
/// The measured window is cut into this many slots for the throughput
/// timeline (per worker: a bounded 800 bytes whatever the duration).
pub const TIMELINE_SLOTS: usize = 100;
const MIB: f64 = 1024.0 * 1024.0;

/// What one worker (a connection, a socket, a chat client) counted.
#[derive(Debug, Clone)]
pub struct Tally {
    /// Latency of every answer completed in the measured window, in µs.
    pub latency: Histogram<u64>,
    /// Open loop: how late each request of the window went out after its
    /// intended time, in µs (the pacer's error, part of every latency).
    pub send_lag: Histogram<u64>,
    /// Answers (round trips, responses, deliveries) completed in the window.
    pub completed: u64,
    /// Answers completed in each of the window's [`TIMELINE_SLOTS`] slots
    /// (shorter when the last slots had none).
    pub timeline: Vec<u64>,
    /// Bytes written during the window.
    pub bytes_sent: u64,
    /// Bytes read during the window.
    pub bytes_received: u64,
    /// Failures, by kind.
    pub errors: Errors,
    /// UDP requests that got no reply in time.
    pub lost: u64,
    /// The first failure's description, for the user.
    pub first_error: Option<String>,
    /// What the server process used over the window (`--server-pid`).
    pub server: Option<ServerUsage>,
}

/// Failures by kind; any of them makes the bench exit 1.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Errors {
    /// Connections that could not be opened.
    pub connect: u64,
    /// Connections that failed or closed early.
    pub io: u64,
    /// Answers that were not what the protocol requires.
    pub verify: u64,
    /// Answers that did not come in time.
    pub timeout: u64,
}

impl Errors {
    /// All failures.
    pub fn total(&self) -> u64 {
        self.connect + self.io + self.verify + self.timeout
    }
}

/// A kind of failure, for [`Tally::fail`].
#[derive(Debug, Clone, Copy)]
pub enum Failure {
    /// Connecting failed.
    Connect,
    /// Reading or writing failed, or the peer closed early.
    Io,
    /// An answer was wrong.
    Verify,
    /// An answer was late.
    Timeout,
}

impl Default for Tally {
    fn default() -> Self {
        Self {
            latency: Histogram::new_with_max(MAX_LATENCY_US, 3).expect("constant bounds are valid"),
            send_lag: Histogram::new_with_max(MAX_LATENCY_US, 3)
                .expect("constant bounds are valid"),
            completed: 0,
            timeline: Vec::new(),
            bytes_sent: 0,
            bytes_received: 0,
            errors: Errors::default(),
            lost: 0,
            first_error: None,
            server: None,
        }
    }
}

impl Tally {
    /// Records one answer that took `micros`, completed in timeline `slot`.
    pub fn record(&mut self, micros: u64, slot: usize) {
        self.latency.saturating_record(micros.max(1));
        self.complete(slot);
    }

    /// Counts one answer completed in timeline `slot`, without a latency.
    pub fn complete(&mut self, slot: usize) {
        self.completed += 1;
        let slot = slot.min(TIMELINE_SLOTS - 1);
        if self.timeline.len() <= slot {
            self.timeline.resize(slot + 1, 0);
        }
        self.timeline[slot] += 1;
    }

    /// Records that a request went out `micros` after its intended time.
    pub fn record_send_lag(&mut self, micros: u64) {
        self.send_lag.saturating_record(micros);
    }

    /// Counts a failure, keeping the first description.
    pub fn fail(&mut self, kind: Failure, why: impl Into<String>) {
        let counter = match kind {
            Failure::Connect => &mut self.errors.connect,
            Failure::Io => &mut self.errors.io,
            Failure::Verify => &mut self.errors.verify,
            Failure::Timeout => &mut self.errors.timeout,
        };
        *counter += 1;
        self.first_error.get_or_insert_with(|| why.into());
    }

    /// Adds another worker's tally into this one.
    pub fn merge(&mut self, other: &Tally) {
        // Both histograms have the same bounds, so adding cannot fail.
        self.latency
            .add(&other.latency)
            .expect("histograms share their bounds");
        self.send_lag
            .add(&other.send_lag)
            .expect("histograms share their bounds");
        self.completed += other.completed;
        if self.timeline.len() < other.timeline.len() {
            self.timeline.resize(other.timeline.len(), 0);
        }
        for (mine, theirs) in self.timeline.iter_mut().zip(&other.timeline) {
            *mine += theirs;
        }
        self.bytes_sent += other.bytes_sent;
        self.bytes_received += other.bytes_received;
        self.errors.connect += other.errors.connect;
        self.errors.io += other.errors.io;
        self.errors.verify += other.errors.verify;
        self.errors.timeout += other.errors.timeout;
        self.lost += other.lost;
        if self.first_error.is_none() {
            self.first_error.clone_from(&other.first_error);
        }
        self.server = self.server.or(other.server);
    }
}

/// The settings a report repeats so that it stands on its own.
#[derive(Debug, Clone)]
pub struct Setup {
    /// `echo`, `http`, `udp`, `chat`, `app` (with a mode suffix such as `echo-bulk`).
    pub protocol: String,
    /// The address benchmarked (comma-separated when several).
    pub target: String,
    /// Each address and how many of the connections went to it.
    pub spread: Vec<(String, usize)>,
    /// What one completed answer is called: `round trips`, `requests`, …
    pub unit: &'static str,
    /// Connections (sockets, clients).
    pub connections: usize,
    /// Requests in flight per connection.
    pub pipeline: usize,
    /// Payload bytes per message.
    pub size: usize,
    /// Open-loop rate, if any.
    pub rate: Option<f64>,
    /// Measured seconds.
    pub duration_s: f64,
    /// Warm-up seconds, left out.
    pub warmup_s: f64,
}

/// A finished run: the setup and everything counted.
#[derive(Debug)]
pub struct Report {
    /// How the run was set up.
    pub setup: Setup,
    /// Everything counted, merged over the workers.
    pub tally: Tally,
    /// Whether every client saw the same order of lines (chat only).
    pub order: Option<Order>,
}

impl Report {
    /// The report of a run that checks no order across connections.
    pub fn new(setup: Setup, tally: Tally) -> Self {
        Self {
            setup,
            tally,
            order: None,
        }
    }

    /// Answers per second over the measured window.
    pub fn per_second(&self) -> f64 {
        self.tally.completed as f64 / self.setup.duration_s.max(1e-9)
    }

    /// Received megabytes (10^6 bytes) per second over the window.
    pub fn mb_per_s(&self) -> f64 {
        self.tally.bytes_received as f64 / 1e6 / self.setup.duration_s.max(1e-9)
    }

    fn latency_ms(&self) -> Option<[f64; 7]> {
        let h = &self.tally.latency;
        if h.is_empty() {
            return None;
        }
        let ms = |us: u64| us as f64 / 1000.0;
        Some([
            h.mean() / 1000.0,
            ms(h.min()),
            ms(h.value_at_quantile(0.50)),
            ms(h.value_at_quantile(0.95)),
            ms(h.value_at_quantile(0.99)),
            ms(h.value_at_quantile(0.999)),
            ms(h.max()),
        ])
    }

    /// Open loop: p50, p99 and max of how late requests went out, in µs.
    fn send_lag_us(&self) -> Option<[u64; 3]> {
        let h = &self.tally.send_lag;
        if h.is_empty() {
            return None;
        }
        Some([h.value_at_quantile(0.5), h.value_at_quantile(0.99), h.max()])
    }

    /// The report as one JSON object (keys in the module doc).
    pub fn to_json(&self) -> serde_json::Value {
        let s = &self.setup;
        let t = &self.tally;
        let latency = self.latency_ms().map(|l| {
            json!({"avg": l[0], "min": l[1], "p50": l[2], "p95": l[3], "p99": l[4], "p99_9": l[5], "max": l[6]})
        });
        let mut errors = serde_json::to_value(t.errors).expect("plain struct serializes");
        errors["total"] = json!(t.errors.total());
        json!({
            "protocol": s.protocol,
            "target": s.target,
            "targets": s.spread.iter().map(|(addr, n)| json!({"addr": addr, "clients": n})).collect::<Vec<_>>(),
            "unit": s.unit,
            "connections": s.connections,
            "pipeline": s.pipeline,
            "size": s.size,
            "rate": s.rate,
            "duration_s": s.duration_s,
            "warmup_s": s.warmup_s,
            "completed": t.completed,
            "per_second": self.per_second(),
            "bytes_sent": t.bytes_sent,
            "bytes_received": t.bytes_received,
            "mb_per_s": self.mb_per_s(),
            "latency_ms": latency,
            "errors": errors,
            "lost": t.lost,
            "first_error": t.first_error,
            "send_lag_us": self.send_lag_us().map(|l| json!({"p50": l[0], "p99": l[1], "max": l[2]})),
            "order": self.order.map(|o| o.to_string()),
            "server": t.server.map(|u| json!({
                "pid": u.pid,
                "cpu_us": u.cpu_us,
                "cpu_us_per_request": u.cpu_us_per(t.completed),
                "rss_bytes": u.rss_bytes,
                "rss_start_bytes": u.rss_start_bytes,
            })),
            "timeline": {
                "slot_s": s.duration_s / TIMELINE_SLOTS as f64,
                "completed": t.timeline,
            },
        })
    }

    /// The human summary.
    pub fn to_text(&self) -> String {
        let s = &self.setup;
        let t = &self.tally;
        let mut out = String::new();
        let loop_kind = match s.rate {
            Some(rate) => format!("open loop at {rate} per second"),
            None => "closed loop".to_string(),
        };
        // Writing to a String cannot fail.
        let _ = writeln!(out, "====== {} {} ======", s.protocol, s.target);
        let _ = writeln!(
            out,
            "  {} {} completed in {:.2} seconds (after {:.2} s of warm-up)",
            t.completed, s.unit, s.duration_s, s.warmup_s
        );
        let _ = writeln!(
            out,
            "  {} parallel connections, {} bytes payload, pipeline {}, {loop_kind}",
            s.connections, s.size, s.pipeline
        );
        if s.spread.len() > 1 {
            let each: Vec<String> = s
                .spread
                .iter()
                .map(|(addr, n)| format!("{n} on {addr}"))
                .collect();
            let _ = writeln!(out, "  connections per address: {}", each.join(", "));
        }
        let _ = writeln!(out, "\nSummary:");
        let _ = writeln!(
            out,
            "  throughput summary: {:.2} {} per second",
            self.per_second(),
            s.unit
        );
        match self.latency_ms() {
            Some(l) => {
                let _ = writeln!(out, "  latency summary (msec):");
                let _ = writeln!(
                    out,
                    "    {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
                    "avg", "min", "p50", "p95", "p99", "p99.9", "max"
                );
                let _ = writeln!(
                    out,
                    "    {:>9.3} {:>9.3} {:>9.3} {:>9.3} {:>9.3} {:>9.3} {:>9.3}",
                    l[0], l[1], l[2], l[3], l[4], l[5], l[6]
                );
            }
            None => {
                let _ = writeln!(out, "  latency summary: none recorded");
            }
        }
        if let Some([p50, p99, max]) = self.send_lag_us() {
            let _ = writeln!(
                out,
                "  sent after the intended time (usec): p50 {p50}, p99 {p99}, max {max}"
            );
        }
        let _ = writeln!(out);
        let _ = writeln!(out, "Total data sent:     {}", bytes(t.bytes_sent));
        let _ = writeln!(out, "Total data received: {}", bytes(t.bytes_received));
        let _ = writeln!(
            out,
            "Aggregate bandwidth: {:.3} MB/s received",
            self.mb_per_s()
        );
        if t.lost > 0 || s.protocol == "udp" {
            let _ = writeln!(out, "Lost (no reply in time): {}", t.lost);
        }
        let e = &t.errors;
        let _ = writeln!(
            out,
            "Errors: {} (connect {}, io {}, verify {}, timeout {})",
            e.total(),
            e.connect,
            e.io,
            e.verify,
            e.timeout
        );
        if let Some(u) = &t.server {
            let per = u
                .cpu_us_per(t.completed)
                .map_or("no".to_string(), |us| format!("{us:.3} µs of CPU"));
            let _ = writeln!(
                out,
                "Server (pid {}): {:.3} s of CPU in the window, {per} per {}; RSS {:.1} MiB ({:.1} MiB at the start)",
                u.pid,
                u.cpu_us as f64 / 1e6,
                singular(s.unit),
                u.rss_bytes as f64 / MIB,
                u.rss_start_bytes as f64 / MIB
            );
        }
        if let Some(order) = &self.order {
            let _ = writeln!(out, "Order: {order}");
        }
        if let Some(first) = &t.first_error {
            let _ = writeln!(out, "First error: {first}");
        }
        out
    }
}

/// `round trip` for `round trips`, `delivery` for `deliveries`.
pub fn singular(unit: &str) -> String {
    match unit.strip_suffix("ies") {
        Some(stem) => format!("{stem}y"),
        None => unit.strip_suffix('s').unwrap_or(unit).to_string(),
    }
}

/// `123.4 MiB (129367040 bytes)`, as tcpkali shows data totals.
fn bytes(n: u64) -> String {
    let units = ["bytes", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < units.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} bytes")
    } else {
        format!("{value:.1} {} ({n} bytes)", units[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(tally: Tally) -> Report {
        Report {
            setup: Setup {
                protocol: "echo".into(),
                target: "127.0.0.1:1".into(),
                spread: vec![("127.0.0.1:1".into(), 2)],
                unit: "round trips",
                connections: 2,
                pipeline: 1,
                size: 64,
                rate: None,
                duration_s: 2.0,
                warmup_s: 0.0,
            },
            tally,
            order: None,
        }
    }

    #[test]
    fn merges_and_summarises() {
        let mut a = Tally::default();
        a.record(1000, 0);
        a.bytes_received = 3 * 1024 * 1024;
        let mut b = Tally::default();
        b.record(3000, 2);
        b.fail(Failure::Verify, "byte 3 differs");
        b.fail(Failure::Io, "reset");
        a.merge(&b);
        let r = report(a);
        assert_eq!(r.per_second(), 1.0);
        assert_eq!(r.tally.timeline, [1, 0, 1]);
        let j = r.to_json();
        assert_eq!(j["completed"], 2);
        assert_eq!(j["errors"]["total"], 2);
        assert_eq!(j["errors"]["verify"], 1);
        assert_eq!(j["latency_ms"]["max"].as_f64().map(f64::round), Some(3.0));
        let text = r.to_text();
        assert!(text.contains("3.0 MiB (3145728 bytes)"), "{text}");
        assert!(text.contains("First error: byte 3 differs"), "{text}");
    }

    #[test]
    fn empty_latency_is_null() {
        let j = report(Tally::default()).to_json();
        assert!(j["latency_ms"].is_null());
        assert_eq!(bytes(12), "12 bytes");
        assert_eq!(singular("deliveries"), "delivery");
        assert_eq!(singular("round trips"), "round trip");
    }
}
