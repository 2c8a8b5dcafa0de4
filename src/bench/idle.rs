//! `bench idle`: how much memory a server spends per connection it holds.
//! Opens `--conns` connections that never send, `--step` at a time; after
//! each step waits until the server holds them all (its open descriptors,
//! from /proc) and samples its RSS.
//!
//! ```text
//! source address   127.0.0.1, then 127.0.0.2, ... 127.0.0.254 (loopback
//!                  targets): a source moves on when the kernel has no
//!                  ephemeral port left for it (EADDRNOTAVAIL), so a run is
//!                  bounded by the open-files limit, not by
//!                  ip_local_port_range. IP_BIND_ADDRESS_NO_PORT lets the
//!                  kernel pick the port at connect time, per destination.
//! step line        conns sources server_fds rss_bytes rss_per_conn_bytes
//! ```

use std::fmt::Write as _;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde::Serialize;
use serde_json::json;
use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::{Instant, sleep, timeout};

use super::server::Sample;
use super::{BenchError, Load, target};
use crate::echo::DEFAULT_PORT;

/// Source addresses 127.0.0.1 ..= 127.0.0.254.
const SOURCES: usize = 254;
/// How often the server's descriptors are counted while waiting for it.
const POLL: Duration = Duration::from_millis(20);

/// What `bench idle` opens.
#[derive(Debug, Clone)]
pub struct IdleOptions {
    /// The target, connect timeout, ramp, `--server-pid` and `--allow-remote`
    /// (the rest of the load is unused).
    pub load: Load,
    /// Connections opened per step, before each sample.
    pub step: usize,
    /// How long to wait for the server to hold a step's connections.
    pub settle: Duration,
}

impl Default for IdleOptions {
    fn default() -> Self {
        Self {
            load: Load {
                conns: 1000,
                ..Load::default()
            },
            step: 1000,
            settle: Duration::from_secs(10),
        }
    }
}

/// One step: the connections open, and what the server held then.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct IdleStep {
    /// Connections open.
    pub conns: usize,
    /// Source addresses used so far.
    pub sources: usize,
    /// The server's open descriptors (`--server-pid`).
    pub server_fds: Option<usize>,
    /// The server's RSS, bytes (`--server-pid`).
    pub rss_bytes: Option<u64>,
    /// (RSS - RSS before the first connection) / connections, bytes.
    pub rss_per_conn_bytes: Option<f64>,
}

/// A finished `bench idle`.
#[derive(Debug, Clone)]
pub struct IdleReport {
    /// The address loaded.
    pub target: SocketAddr,
    /// Connections asked for.
    pub requested: usize,
    /// The server's RSS before the first connection (`--server-pid`).
    pub baseline_rss_bytes: Option<u64>,
    /// Every step taken.
    pub steps: Vec<IdleStep>,
    /// Why it stopped short of `requested`, if it did.
    pub stopped: Option<String>,
}

impl IdleReport {
    /// Connections open at the end.
    pub fn opened(&self) -> usize {
        self.steps.last().map_or(0, |s| s.conns)
    }

    /// The report as one JSON object.
    pub fn to_json(&self) -> serde_json::Value {
        json!({
            "target": self.target.to_string(),
            "requested": self.requested,
            "opened": self.opened(),
            "baseline_rss_bytes": self.baseline_rss_bytes,
            "steps": self.steps,
            "stopped": self.stopped,
        })
    }

    /// The human table.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let kib = |b: f64| format!("{:.2} KiB", b / 1024.0);
        let mib = |b: u64| format!("{:.1} MiB", b as f64 / (1024.0 * 1024.0));
        let dash = || "-".to_string();
        // Writing to a String cannot fail.
        let _ = writeln!(out, "====== idle {} ======", self.target);
        let _ = writeln!(
            out,
            "  {} of {} idle connections open; server RSS before them: {}",
            self.opened(),
            self.requested,
            self.baseline_rss_bytes.map_or_else(dash, mib)
        );
        let _ = writeln!(
            out,
            "  {:>11} {:>8} {:>10} {:>12} {:>14}",
            "connections", "sources", "server fds", "server RSS", "per connection"
        );
        for s in &self.steps {
            let _ = writeln!(
                out,
                "  {:>11} {:>8} {:>10} {:>12} {:>14}",
                s.conns,
                s.sources,
                s.server_fds.map_or_else(dash, |n| n.to_string()),
                s.rss_bytes.map_or_else(dash, mib),
                s.rss_per_conn_bytes.map_or_else(dash, kib)
            );
        }
        if let Some(why) = &self.stopped {
            let _ = writeln!(out, "Stopped: {why}");
        }
        out
    }
}

/// Where the connections come from: one source address until the kernel
/// runs out of ports for it, then the next.
struct Sources {
    /// Spread over 127.0.0.0/8 (the target is IPv4 loopback).
    spread: bool,
    current: AtomicUsize,
}

impl Sources {
    fn address(index: usize) -> Ipv4Addr {
        Ipv4Addr::new(127, 0, 0, (index + 1) as u8)
    }

    /// Connects from the current source, moving on while sources run out
    /// of ports.
    async fn connect(&self, to: SocketAddr, limit: Duration) -> Result<TcpStream, String> {
        loop {
            let index = self.current.load(Ordering::Acquire);
            let from = self.spread.then(|| Self::address(index));
            match timeout(limit, connect_from(from, to)).await {
                Err(_) => return Err(format!("connecting to {to} took longer than {limit:?}")),
                Ok(Ok(stream)) => return Ok(stream),
                Ok(Err(err)) if self.spread && err.raw_os_error() == Some(libc::EADDRNOTAVAIL) => {
                    if index + 1 >= SOURCES {
                        return Err(
                            "every source address 127.0.0.1-127.0.0.254 is out of ports".into()
                        );
                    }
                    // Several connects may find it out at once: one moves it.
                    let _ = self.current.compare_exchange(
                        index,
                        index + 1,
                        Ordering::AcqRel,
                        Ordering::Acquire,
                    );
                }
                Ok(Err(err)) => {
                    let hint = match err.raw_os_error() {
                        Some(libc::EMFILE | libc::ENFILE) => " (the open-files limit, ulimit -n)",
                        _ => "",
                    };
                    return Err(format!(
                        "connecting to {to}: {}{hint}",
                        crate::net::describe(&err)
                    ));
                }
            }
        }
    }

    fn used(&self) -> usize {
        self.current.load(Ordering::Acquire) + 1
    }
}

/// A TCP connection from `from` (any port) to `to`.
async fn connect_from(from: Option<Ipv4Addr>, to: SocketAddr) -> io::Result<TcpStream> {
    let socket = Socket::new(Domain::for_address(to), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_nonblocking(true)?;
    if let Some(ip) = from {
        no_port_at_bind(&socket)?;
        socket.bind(&SocketAddr::from((ip, 0)).into())?;
    }
    let stream = TcpSocket::from_std_stream(socket.into())
        .connect(to)
        .await?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// Lets the kernel choose the source port at connect time, so a port is
/// shared by connections to different destinations instead of being held
/// from bind on.
fn no_port_at_bind(socket: &Socket) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let on: libc::c_int = 1;
    // SAFETY: a valid socket, an int option, its size.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::IPPROTO_IP,
            libc::IP_BIND_ADDRESS_NO_PORT,
            (&on as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Process `pid`'s open descriptors.
fn fds(pid: u32) -> Result<usize, BenchError> {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(Iterator::count)
        .map_err(|err| {
            BenchError::Server(super::server::SampleError {
                pid,
                why: format!("listing /proc/{pid}/fd: {err}"),
            })
        })
}

/// Runs `bench idle`.
pub async fn run(options: &IdleOptions) -> Result<IdleReport, BenchError> {
    let load = &options.load;
    let to = target(load, DEFAULT_PORT).await?.addr;
    let pid = load.server_pid;
    let baseline = match pid {
        Some(pid) => Some((fds(pid)?, Sample::of(pid)?.rss_bytes)),
        None => None,
    };
    let sources = Arc::new(Sources {
        spread: matches!(to.ip(), IpAddr::V4(ip) if ip.is_loopback()),
        current: AtomicUsize::new(0),
    });
    let ramp = Arc::new(Semaphore::new(load.ramp.max(1)));
    let mut open: Vec<TcpStream> = Vec::with_capacity(load.conns);
    let mut report = IdleReport {
        target: to,
        requested: load.conns,
        baseline_rss_bytes: baseline.map(|b| b.1),
        steps: Vec::new(),
        stopped: None,
    };
    while open.len() < load.conns && report.stopped.is_none() {
        let want = options.step.max(1).min(load.conns - open.len());
        let mut connecting = JoinSet::new();
        for _ in 0..want {
            let (sources, ramp, limit) = (sources.clone(), ramp.clone(), load.connect_timeout);
            connecting.spawn(async move {
                // The semaphore is never closed, so acquiring only waits.
                let _permit = ramp
                    .acquire_owned()
                    .await
                    .expect("ramp semaphore stays open");
                sources.connect(to, limit).await
            });
        }
        while let Some(done) = connecting.join_next().await {
            match done {
                Ok(Ok(stream)) => open.push(stream),
                Ok(Err(why)) => {
                    report.stopped.get_or_insert(why);
                }
                Err(err) => {
                    report
                        .stopped
                        .get_or_insert(format!("a connect task failed: {err}"));
                }
            }
        }
        let mut step = IdleStep {
            conns: open.len(),
            sources: if sources.spread { sources.used() } else { 1 },
            server_fds: None,
            rss_bytes: None,
            rss_per_conn_bytes: None,
        };
        if let (Some(pid), Some((base_fds, base_rss))) = (pid, baseline) {
            let held = settle(pid, base_fds + open.len(), options.settle).await?;
            let rss = Sample::of(pid)?.rss_bytes;
            step.server_fds = Some(held);
            step.rss_bytes = Some(rss);
            step.rss_per_conn_bytes =
                (step.conns > 0).then(|| (rss as f64 - base_rss as f64) / step.conns as f64);
            if held < base_fds + open.len() {
                report.stopped.get_or_insert(format!(
                    "the server holds {} descriptors, not the {} expected, after {:?}",
                    held,
                    base_fds + open.len(),
                    options.settle
                ));
            }
        }
        report.steps.push(step);
    }
    Ok(report)
}

/// Waits until process `pid` has `expected` descriptors open (it has
/// accepted every connection), or `limit`; returns how many it has.
async fn settle(pid: u32, expected: usize, limit: Duration) -> Result<usize, BenchError> {
    let give_up = Instant::now() + limit;
    loop {
        let held = fds(pid)?;
        if held >= expected || Instant::now() >= give_up {
            return Ok(held);
        }
        sleep(POLL).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_walk_up_127_0_0_x() {
        assert_eq!(Sources::address(0), Ipv4Addr::new(127, 0, 0, 1));
        assert_eq!(Sources::address(SOURCES - 1), Ipv4Addr::new(127, 0, 0, 254));
    }
}
