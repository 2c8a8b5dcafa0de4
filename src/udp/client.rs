//! The retransmitting client (RetransmissionUDPClient.py) with the
//! promiscuous-client hole closed, and the broadcast client (UDPBroadcast.py).
//!
//! ```text
//! t = 0          send request, wait up to start
//! t = start      send again,   wait up to 2*start
//! t = 3*start    send again,   wait up to 4*start   … until the next wait > max
//! reply          the first datagram FROM THE SERVER'S ADDRESS ends it
//! ```
//!
//! The socket is connected, so the kernel itself discards datagrams from any
//! other address or port: nobody who learns the client's port can answer for
//! the server (the texts' "You are hacked!").

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::time::{Instant, timeout_at};
use tracing::debug;

use super::{MAX_DATAGRAM, ephemeral_for, trace_datagram};
use crate::net::describe;

/// The retransmission schedule: wait `start`, then double, while the wait
/// stays within `max_wait`.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    /// The first wait; must be longer than zero.
    pub start: Duration,
    /// No wait is longer than this; the first try happens regardless.
    pub max_wait: Duration,
}

impl Backoff {
    /// The waits, one per try: start, 2*start, 4*start … up to max_wait.
    pub fn waits(self) -> impl Iterator<Item = Duration> {
        let first = Some(self.start).filter(|d| !d.is_zero());
        std::iter::successors(first, |d| d.checked_mul(2))
            .enumerate()
            .take_while(move |&(i, d)| i == 0 || d <= self.max_wait)
            .map(|(_, d)| d)
    }
}

/// The server's answer and how many sends it took.
#[derive(Debug, Clone)]
pub struct Reply {
    /// The datagram the server sent.
    pub data: Vec<u8>,
    /// Requests sent, the last one included.
    pub tries: usize,
}

/// Why a request got no answer.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    /// Every try went unanswered.
    #[error("no reply from {server} after {tries} tries{}", if *refused {
        " (connection refused: is a server listening?)"
    } else {
        ""
    })]
    NoReply {
        /// The address the requests went to.
        server: SocketAddr,
        /// Requests sent.
        tries: usize,
        /// Whether ICMP port unreachable came back (a closed port, not loss).
        refused: bool,
    },
    /// Sending or receiving failed for a local reason.
    #[error("cannot talk to {server}: {}", describe(source))]
    Io {
        /// The address the requests went to.
        server: SocketAddr,
        /// What the OS said.
        source: io::Error,
    },
}

/// Sends `message` on a connected `socket` and waits for the reply, sending
/// again on the `backoff` schedule; `on_wait` hears each wait before it starts.
///
/// Tries start at 0, start, 3*start, 7*start … measured from the first send,
/// not from whenever the previous wait noticed it was over, so a slow machine
/// does not stretch the schedule. ICMP port unreachable (ECONNREFUSED) counts
/// as an unanswered try: the server may be restarting; the final error says so.
pub async fn request(
    socket: &UdpSocket,
    server: SocketAddr,
    message: &[u8],
    backoff: Backoff,
    mut on_wait: impl FnMut(Duration),
) -> Result<Reply, RequestError> {
    let fail = |source| RequestError::Io { server, source };
    let mut buf = vec![0u8; MAX_DATAGRAM];
    let mut tries = 0;
    let mut refused = false;
    let mut send_at = Instant::now();
    for wait in backoff.waits() {
        tries += 1;
        on_wait(wait);
        match socket.send(message).await {
            Ok(_) => trace_datagram("sent", "to", server, message),
            Err(err) if err.kind() == io::ErrorKind::ConnectionRefused => refused = true,
            Err(err) => return Err(fail(err)),
        }
        let deadline = send_at + wait;
        // Anything received here comes from the server: the kernel filters a
        // connected socket's datagrams by source address and port.
        while let Ok(received) = timeout_at(deadline, socket.recv(&mut buf)).await {
            match received {
                Ok(len) => {
                    trace_datagram("received", "from", server, &buf[..len]);
                    let data = buf[..len].to_vec();
                    return Ok(Reply { data, tries });
                }
                Err(err) if err.kind() == io::ErrorKind::ConnectionRefused => {
                    // This recv consumed the error; wait out the rest of the try.
                    debug!("ICMP port unreachable from {server}");
                    refused = true;
                }
                Err(err) => return Err(fail(err)),
            }
        }
        send_at = deadline;
    }
    Err(RequestError::NoReply {
        server,
        tries,
        refused,
    })
}

/// A connected UDP socket on an ephemeral port: the kernel will only hand it
/// datagrams whose source is `server`.
pub async fn connect(server: SocketAddr) -> io::Result<UdpSocket> {
    let socket = ephemeral_for(server).await?;
    socket.connect(server).await?;
    Ok(socket)
}

/// Sends `message` once to a broadcast `target` (SO_BROADCAST) and hands every
/// reply that arrives within `wait` to `on_reply`; returns how many came.
pub async fn broadcast(
    target: SocketAddr,
    message: &[u8],
    wait: Duration,
    mut on_reply: impl FnMut(SocketAddr, &[u8]),
) -> io::Result<usize> {
    if target.is_ipv6() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "IPv6 has no broadcast (use an IPv4 broadcast address such as 192.168.1.255)",
        ));
    }
    let socket = ephemeral_for(target).await?;
    socket.set_broadcast(true)?;
    let deadline = Instant::now() + wait;
    socket.send_to(message, target).await?;
    trace_datagram("sent", "to", target, message);
    let mut buf = vec![0u8; MAX_DATAGRAM];
    let mut count = 0;
    // An unconnected socket: replies may come from anyone on the segment,
    // which is the point; each is shown with its sender.
    while let Ok(received) = timeout_at(deadline, socket.recv_from(&mut buf)).await {
        let (len, sender) = received?;
        trace_datagram("received", "from", sender, &buf[..len]);
        count += 1;
        on_reply(sender, &buf[..len]);
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn waits(start_ms: u64, max_ms: u64) -> Vec<u64> {
        let backoff = Backoff {
            start: Duration::from_millis(start_ms),
            max_wait: Duration::from_millis(max_ms),
        };
        backoff.waits().map(|d| d.as_millis() as u64).collect()
    }

    #[test]
    fn the_texts_schedule_has_six_tries() {
        assert_eq!(waits(100, 5000), [100, 200, 400, 800, 1600, 3200]);
        assert_eq!(waits(100, 6400), [100, 200, 400, 800, 1600, 3200, 6400]);
        assert_eq!(waits(10, 200), [10, 20, 40, 80, 160]);
    }

    #[test]
    fn the_first_try_always_happens() {
        assert_eq!(waits(500, 100), [500]);
        assert_eq!(waits(0, 100), Vec::<u64>::new());
    }

    #[tokio::test(start_paused = true)]
    async fn a_silent_server_gets_every_try_on_schedule() {
        let silent = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
        let server = silent.local_addr().expect("addr");
        let socket = connect(server).await.expect("connect");
        let backoff = Backoff {
            start: Duration::from_millis(100),
            max_wait: Duration::from_secs(5),
        };
        let begin = Instant::now();
        let mut seen = Vec::new();
        let err = request(&socket, server, b"hi", backoff, |_| {
            seen.push(begin.elapsed().as_millis())
        })
        .await
        .expect_err("nobody answers");
        assert_eq!(seen, [0, 100, 300, 700, 1500, 3100]);
        assert_eq!(
            err.to_string(),
            format!("no reply from {server} after 6 tries")
        );
    }
}
