//! `bench udp`: N connected UDP sockets, one request in flight on each; every
//! reply must be a lucky number, and a request with no reply in time is a loss.
//!
//! ```text
//! request   --size bytes of ASCII
//! reply     Here's your lucky number: X      (X a float in [0, 1); the texts'
//!                                             server leaves out the space)
//! ```

use std::net::SocketAddr;

use anyhow::{Result, bail};
use tokio::net::UdpSocket;
use tokio::time::{Instant, sleep_until, timeout};

use super::report::{Failure, Report, Tally};
use super::{Pacer, Plan, micros, run_workers, setup, target};
use crate::cli::LoadArgs;

/// The port of `socklab udp server`.
const DEFAULT_PORT: u16 = 60000;
const PREFIX: &[u8] = b"Here's your lucky number:";

/// Runs `bench udp`.
pub async fn run(load: &LoadArgs) -> Result<Report> {
    let addr = target(load, DEFAULT_PORT).await?;
    if load.pipeline != 1 {
        bail!("bench udp keeps one request in flight per socket: use --conns, not --pipeline");
    }
    let shared = load.clone();
    let tally = run_workers(
        load,
        move |_| open(addr),
        move |index, socket, plan| {
            let load = shared.clone();
            async move { requests(socket, &load, index, plan).await }
        },
    )
    .await;
    Ok(Report {
        setup: setup(load, "udp", addr, "replies"),
        tally,
    })
}

/// A UDP socket connected to the server, so only its replies are accepted.
async fn open(addr: SocketAddr) -> Result<UdpSocket> {
    let local: SocketAddr = if addr.is_ipv4() {
        "0.0.0.0:0".parse()?
    } else {
        "[::]:0".parse()?
    };
    let socket = UdpSocket::bind(local).await?;
    socket.connect(addr).await?;
    Ok(socket)
}

async fn requests(socket: UdpSocket, load: &LoadArgs, index: usize, plan: Plan) -> Tally {
    let mut tally = Tally::default();
    let mut pacer = Pacer::new(load, index, plan.start);
    let request = vec![b'x'; load.size];
    let mut buf = vec![0u8; 2048];
    loop {
        let now = Instant::now();
        if now >= plan.end {
            return tally;
        }
        let Some(due) = pacer.take(now) else {
            if let Some(due) = pacer.due() {
                sleep_until(due.min(plan.end)).await;
            }
            continue;
        };
        if let Err(err) = socket.send(&request).await {
            tally.fail(
                Failure::Io,
                format!("sending: {}", crate::net::describe(&err)),
            );
            return tally;
        }
        let sent = Instant::now();
        let counted = plan.counts(sent);
        if counted {
            tally.bytes_sent += request.len() as u64;
        }
        match timeout(load.timeout, socket.recv(&mut buf)).await {
            Err(_) => tally.lost += u64::from(counted),
            // ECONNREFUSED: the kernel saw an ICMP port unreachable.
            Ok(Err(err)) => {
                tally.fail(
                    Failure::Io,
                    format!("receiving: {}", crate::net::describe(&err)),
                );
                return tally;
            }
            Ok(Ok(n)) => {
                if let Err(why) = check(&buf[..n]) {
                    tally.fail(Failure::Verify, why);
                    return tally;
                }
                let at = Instant::now();
                if plan.counts(at) {
                    tally.bytes_received += n as u64;
                    tally.record(micros(due, at));
                }
            }
        }
    }
}

/// Checks one reply: the prefix, then a number in [0, 1).
fn check(reply: &[u8]) -> Result<(), String> {
    let bad = || {
        format!(
            "not a lucky number: {}",
            crate::net::escape_bytes(reply, 64)
        )
    };
    let rest = reply.strip_prefix(PREFIX).ok_or_else(bad)?;
    let number: f64 = std::str::from_utf8(rest)
        .map_err(|_| bad())?
        .trim()
        .parse()
        .map_err(|_| bad())?;
    if (0.0..1.0).contains(&number) {
        Ok(())
    } else {
        Err(bad())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lucky_numbers_with_and_without_the_space() {
        assert!(check(b"Here's your lucky number: 0.25").is_ok());
        assert!(check(b"Here's your lucky number:0.3872235270764811").is_ok());
        assert!(check(b"Here's your lucky number: 1.5").is_err());
        assert!(check(b"Here's your lucky number: soon").is_err());
        assert!(check(b"hello").is_err());
    }
}
