//! `bench udp`: N connected UDP sockets, one request in flight on each; every
//! reply must be a lucky number, and a request with no reply in time is a loss.
//!
//! ```text
//! request   --size bytes of ASCII
//! reply     Here's your lucky number:X       (X a float in [0, 1), written as
//!                                             Python writes it: udp/lucky.rs)
//! ```

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

use tokio::net::UdpSocket;
use tokio::time::{Instant, sleep_until};

use super::report::{Failure, Report, Tally};
use super::{BenchError, Load};
use super::{Pacer, Plan, micros, run_workers, setup, target};
use crate::net::single_threaded;
use crate::udp::{QuietSocket, RecvBatch, lucky};

/// The port of `socklab udp server`.
const DEFAULT_PORT: u16 = 60000;

/// Runs `bench udp`.
pub async fn run(load: &Load) -> Result<Report, BenchError> {
    let addr = target(load, DEFAULT_PORT).await?.addr;
    if load.pipeline != 1 {
        return Err(BenchError::UdpPipeline);
    }
    let shared = load.clone();
    // Every socket is driven from one thread: see net::single_threaded.
    let tally = single_threaded(move || async move {
        let work = shared.clone();
        run_workers(
            &shared,
            move |_| open(addr),
            move |_, socket, plan, pacer| {
                let load = work.clone();
                async move { requests(socket, &load, pacer, plan).await }
            },
        )
        .await
    })
    .await?;
    Ok(Report::new(setup(load, "udp", addr, "replies"), tally))
}

/// A UDP socket connected to the server, so only its replies are accepted.
async fn open(addr: SocketAddr) -> Result<QuietSocket, BenchError> {
    let local = if addr.is_ipv4() {
        SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0))
    } else {
        SocketAddr::from((Ipv6Addr::UNSPECIFIED, 0))
    };
    let socket = UdpSocket::bind(local).await?;
    socket.connect(addr).await?;
    Ok(QuietSocket::new(socket)?)
}

async fn requests(socket: QuietSocket, load: &Load, mut pacer: Pacer, plan: Plan) -> Tally {
    let mut tally = Tally::default();
    let request = vec![b'x'; load.size];
    // Room for two: a reply that came after its request timed out may be
    // queued before the current one, and only the newest is the answer.
    let mut replies = RecvBatch::new(2, 2048);
    // One timer per socket, moved only when it goes off: arming and
    // disarming a timer per request would cost more than the request. Its
    // deadline is an earlier request's, so never later than the current one.
    let alarm = sleep_until(plan.start + load.timeout);
    tokio::pin!(alarm);
    while let Some(due) = pacer.next_before(plan.end).await {
        let now = Instant::now();
        if plan.counts(now) && pacer.bell().is_some() {
            tally.record_send_lag(micros(due, now));
        }
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
        let give_up = sent + load.timeout;
        let received = loop {
            tokio::select! {
                biased;
                received = socket.recv_batch(&mut replies) => break Some(received),
                () = &mut alarm => {
                    if Instant::now() >= give_up {
                        break None;
                    }
                    alarm.as_mut().reset(give_up);
                }
            }
        };
        match received {
            None => tally.lost += u64::from(counted),
            // ECONNREFUSED: the kernel saw an ICMP port unreachable.
            Some(Err(err)) => {
                tally.fail(
                    Failure::Io,
                    format!("receiving: {}", crate::net::describe(&err)),
                );
                return tally;
            }
            Some(Ok(())) => {
                let Some((_, reply)) = replies.datagrams().last() else {
                    continue;
                };
                let n = reply.len();
                if let Err(why) = check(reply) {
                    tally.fail(Failure::Verify, why);
                    return tally;
                }
                let at = Instant::now();
                if plan.counts(at) {
                    tally.bytes_received += n as u64;
                    tally.record(micros(due, at), plan.slot(at));
                }
            }
        }
    }
    tally
}

/// Checks one reply: exactly what TestServer.py would send.
fn check(reply: &[u8]) -> Result<(), String> {
    match lucky::parse_reply(reply) {
        Some(_) => Ok(()),
        None => Err(format!(
            "not a lucky number: {}",
            crate::net::escape_bytes(reply, 64)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lucky_numbers_are_the_texts_bytes() {
        assert!(check(b"Here's your lucky number:0.25").is_ok());
        assert!(check(b"Here's your lucky number:0.3872235270764811").is_ok());
        assert!(check(b"Here's your lucky number: 0.25").is_err());
        assert!(check(b"Here's your lucky number: 1.5").is_err());
        assert!(check(b"Here's your lucky number: soon").is_err());
        assert!(check(b"hello").is_err());
    }
}
