//! `socklab ping`: ICMP echo with round-trip statistics, worded as iputils
//! `ping` words them (the texts' `ping -c 3 127.0.0.1`).
//!
//! ```text
//! PING 127.0.0.1 (127.0.0.1) 56(84) bytes of data.
//! 64 bytes from 127.0.0.1: icmp_seq=1 ttl=64 time=0.045 ms
//!
//! --- 127.0.0.1 ping statistics ---
//! 1 packets transmitted, 1 received, 0% packet loss, time 0ms
//! rtt min/avg/max/mdev = 0.045/0.045/0.045/0.000 ms
//! ```
//! It uses an unprivileged ICMP datagram socket where
//! `net.ipv4.ping_group_range` allows one (the kernel then picks the
//! identifier and filters replies), else a raw socket (root or CAP_NET_RAW),
//! which sees every ICMP message on the host: ours are told apart by
//! identifier, and errors about our requests are named by type and code.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::os::fd::AsRawFd;
use std::time::Duration;

use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use tokio::io::unix::AsyncFd;
use tokio::time::Instant;

use super::icmp::{self, Message};
use crate::net::{self, NetError, describe};

/// ping's default payload: 56 bytes, 64 with the ICMP header.
pub const PAYLOAD_LEN: usize = 56;
/// An echo request with its ICMP and IPv4 headers.
pub const PACKET_LEN: usize = PAYLOAD_LEN + icmp::HEADER_LEN + 20;
/// The shortest interval between requests, so a typo cannot flood a host.
const MIN_INTERVAL: Duration = Duration::from_millis(10);
/// Room for any ICMP message with its IP header.
const RECV_BUFFER: usize = 4096;

/// How often and how long to ping.
#[derive(Debug, Clone)]
pub struct Options {
    /// Stop after this many echo requests [default: until shutdown].
    pub count: Option<u64>,
    /// Time between echo requests (at least 10 ms).
    pub interval: Duration,
    /// After the last request, how long to wait for replies on their way.
    pub timeout: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            count: None,
            interval: Duration::from_secs(1),
            timeout: Duration::from_secs(2),
        }
    }
}

/// Why a ping could not run.
#[derive(Debug, thiserror::Error)]
pub enum PingError {
    /// The host does not resolve.
    #[error(transparent)]
    Net(#[from] NetError),
    /// The host has only IPv6 addresses.
    #[error("{0} has no IPv4 address (ping speaks ICMP over IPv4 only)")]
    NoIpv4(String),
    /// Neither kind of ICMP socket may be opened.
    #[error(
        "cannot open an ICMP socket: {} (datagram), {} (raw); allow unprivileged ping \
         with sysctl net.ipv4.ping_group_range=\"0 2147483647\" or run as root",
        describe(.datagram),
        describe(.raw)
    )]
    NoSocket {
        /// Why a datagram socket was refused.
        datagram: io::Error,
        /// Why a raw socket was refused.
        raw: io::Error,
    },
    /// Setting the socket up failed.
    #[error(transparent)]
    Setup(io::Error),
    /// Receiving failed.
    #[error("receiving ICMP: {0}")]
    Receive(io::Error),
}

/// What came back for one request, as it came.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// An echo reply.
    Echo {
        /// Bytes of the ICMP message.
        bytes: usize,
        /// Who answered.
        source: Ipv4Addr,
        /// The request's sequence number.
        seq: u16,
        /// The reply's TTL, where the socket reports it.
        ttl: Option<u8>,
        /// Round-trip time.
        rtt: Duration,
        /// The payload came back altered.
        wrong_data: bool,
    },
    /// An ICMP error about the request.
    Error {
        /// Who reported it.
        source: Ipv4Addr,
        /// The request's sequence number.
        seq: u16,
        /// The error's type and code, in words.
        description: String,
    },
    /// The request could not be sent.
    SendFailed {
        /// The request's sequence number.
        seq: u16,
        /// Where it was going.
        target: Ipv4Addr,
        /// Why, in words.
        error: String,
    },
}

/// A pinger with its host resolved and its ICMP socket open.
pub struct Pinger {
    socket: IcmpSocket,
    target: Ipv4Addr,
}

impl Pinger {
    /// Resolves `host` to an IPv4 address and opens an ICMP socket.
    pub async fn open(host: &str) -> Result<Self, PingError> {
        let target = resolve_v4(host).await?;
        let socket = IcmpSocket::open()?;
        Ok(Self { socket, target })
    }

    /// The address pinged.
    pub fn target(&self) -> Ipv4Addr {
        self.target
    }

    /// Pings until `options.count` requests are answered or lost, or
    /// `shutdown` resolves; each reply goes to `on_reply` as it comes.
    pub async fn run(
        self,
        options: &Options,
        shutdown: impl Future<Output = ()>,
        on_reply: impl FnMut(&Reply),
    ) -> Result<Stats, PingError> {
        Run::new(self.socket, self.target, options, on_reply)
            .run(shutdown)
            .await
    }
}

async fn resolve_v4(host: &str) -> Result<Ipv4Addr, PingError> {
    let addrs = net::resolve(host, 0).await?;
    addrs
        .iter()
        .find_map(|a| match a.ip() {
            IpAddr::V4(ip) => Some(ip),
            IpAddr::V6(_) => None,
        })
        .ok_or_else(|| PingError::NoIpv4(host.to_owned()))
}

/// How the socket was opened, which decides what a received packet holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// SOCK_DGRAM: ICMP only; the kernel owns the identifier and filters.
    Datagram,
    /// SOCK_RAW: the whole IPv4 datagram, everybody's ICMP.
    Raw,
}

/// A non-blocking ICMP socket registered with tokio.
struct IcmpSocket {
    fd: AsyncFd<Socket>,
    kind: Kind,
}

/// One datagram as it came off the socket.
struct Received {
    len: usize,
    source: Ipv4Addr,
    /// The TTL control message (datagram sockets; raw ones read the header).
    ttl: Option<u8>,
}

impl IcmpSocket {
    /// Opens a datagram ICMP socket, or a raw one where those are not allowed.
    fn open() -> Result<Self, PingError> {
        let (socket, kind) = match Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::ICMPV4)) {
            Ok(socket) => (socket, Kind::Datagram),
            Err(dgram_err) => match Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::ICMPV4)) {
                Ok(socket) => (socket, Kind::Raw),
                Err(raw_err) => {
                    return Err(PingError::NoSocket {
                        datagram: dgram_err,
                        raw: raw_err,
                    });
                }
            },
        };
        tracing::debug!("ICMP socket: {kind:?}");
        socket.set_nonblocking(true).map_err(PingError::Setup)?;
        if kind == Kind::Datagram {
            set_recv_ttl(&socket).map_err(PingError::Setup)?;
        }
        // SAFETY: socket2's Socket owns its descriptor and keeps returning
        // it until dropped, which happens only when the AsyncFd is.
        let fd = unsafe { AsyncFd::register(socket) }
            .map_err(|err| PingError::Setup(err.into_parts().1))?;
        Ok(Self { fd, kind })
    }

    async fn send_to(&self, packet: &[u8], to: Ipv4Addr) -> io::Result<()> {
        let addr = SockAddr::from(SocketAddr::new(to.into(), 0));
        loop {
            let mut guard = self.fd.writable().await?;
            if let Ok(result) = guard.try_io(|s| s.get_ref().send_to(packet, &addr)) {
                return result.map(drop);
            }
        }
    }

    async fn recv(&self, buf: &mut [u8]) -> io::Result<Received> {
        loop {
            let mut guard = self.fd.readable().await?;
            if let Ok(result) = guard.try_io(|s| recv_with_ttl(s.get_ref(), buf)) {
                return result;
            }
        }
    }
}

/// Asks for each datagram's TTL as a control message (IP_RECVTTL).
fn set_recv_ttl(socket: &Socket) -> io::Result<()> {
    let on: libc::c_int = 1;
    // SAFETY: a live socket, and the option value is one int we pass by
    // pointer with its exact size.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::IPPROTO_IP,
            libc::IP_RECVTTL,
            (&raw const on).cast(),
            std::mem::size_of_val(&on) as libc::socklen_t,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// recvmsg(2) into `buf`, returning the sender and any IP_TTL control message.
fn recv_with_ttl(socket: &Socket, buf: &mut [u8]) -> io::Result<Received> {
    // SAFETY: all-zero is a valid sockaddr_in and msghdr (plain C structs).
    let mut name: libc::sockaddr_in = unsafe { std::mem::zeroed() };
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // u64 elements keep the control buffer aligned for cmsghdr.
    let mut control = [0u64; 8];
    msg.msg_name = (&raw mut name).cast();
    msg.msg_namelen = std::mem::size_of_val(&name) as libc::socklen_t;
    msg.msg_iov = &raw mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(&control) as _;
    // SAFETY: every pointer in `msg` points at a live local of the stated size.
    let n = unsafe { libc::recvmsg(socket.as_raw_fd(), &raw mut msg, 0) };
    let Ok(len) = usize::try_from(n) else {
        return Err(io::Error::last_os_error());
    };
    let mut ttl = None;
    // SAFETY: the CMSG_* macros walk the control buffer the kernel just
    // filled, within msg_controllen; IP_TTL's payload is one int.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(&raw const msg);
        while !cmsg.is_null() {
            if (*cmsg).cmsg_level == libc::IPPROTO_IP && (*cmsg).cmsg_type == libc::IP_TTL {
                let value = std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast::<libc::c_int>());
                ttl = u8::try_from(value).ok();
            }
            cmsg = libc::CMSG_NXTHDR(&raw const msg, cmsg);
        }
    }
    Ok(Received {
        len: len.min(buf.len()),
        source: Ipv4Addr::from(u32::from_be(name.sin_addr.s_addr)),
        ttl,
    })
}

/// The counts and round-trip times of one run.
#[derive(Debug, Default, Clone)]
pub struct Stats {
    /// Echo requests sent (or attempted).
    pub transmitted: u64,
    /// Echo replies received.
    pub received: u64,
    /// Send failures and ICMP errors about our requests.
    pub errors: u64,
    /// From the first request to the last.
    pub elapsed: Duration,
    min_ms: f64,
    max_ms: f64,
    sum_ms: f64,
    sum_sq_ms: f64,
}

impl Stats {
    fn record_rtt(&mut self, rtt: Duration) {
        let ms = rtt.as_secs_f64() * 1000.0;
        if self.received == 0 || ms < self.min_ms {
            self.min_ms = ms;
        }
        self.max_ms = self.max_ms.max(ms);
        self.sum_ms += ms;
        self.sum_sq_ms += ms * ms;
        self.received += 1;
    }

    /// The two summary lines, in ping's words.
    pub fn summary(&self) -> String {
        let loss = if self.transmitted == 0 {
            0.0
        } else {
            (self.transmitted - self.received.min(self.transmitted)) as f64 * 100.0
                / self.transmitted as f64
        };
        let errors = match self.errors {
            0 => String::new(),
            n => format!(", +{n} errors"),
        };
        let mut out = format!(
            "{} packets transmitted, {} received{errors}, {} packet loss, time {}ms\n",
            self.transmitted,
            self.received,
            percent(loss),
            self.elapsed.as_millis()
        );
        if self.received > 0 {
            let n = self.received as f64;
            let avg = self.sum_ms / n;
            // mdev as ping computes it: sqrt(E[x^2] - E[x]^2).
            let mdev = (self.sum_sq_ms / n - avg * avg).max(0.0).sqrt();
            out.push_str(&format!(
                "rtt min/avg/max/mdev = {:.3}/{avg:.3}/{:.3}/{mdev:.3} ms\n",
                self.min_ms, self.max_ms
            ));
        }
        out
    }
}

/// A percentage as ping's `%g` prints it: `0%`, `100%`, `33.3333%`.
fn percent(value: f64) -> String {
    let text = format!("{value:.4}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    format!("{text}%")
}

/// One run: send on a ticker, match replies by identifier and sequence.
struct Run<F> {
    socket: IcmpSocket,
    target: Ipv4Addr,
    /// Our identifier on a raw socket; the kernel's on a datagram one.
    id: u16,
    count: Option<u64>,
    interval: Duration,
    linger: Duration,
    /// Send times of requests still unanswered, by sequence number.
    in_flight: HashMap<u16, Instant>,
    stats: Stats,
    on_reply: F,
}

impl<F: FnMut(&Reply)> Run<F> {
    fn new(socket: IcmpSocket, target: Ipv4Addr, options: &Options, on_reply: F) -> Self {
        Self {
            socket,
            target,
            id: rand::random(),
            count: options.count,
            interval: options.interval.max(MIN_INTERVAL),
            linger: options.timeout,
            in_flight: HashMap::new(),
            stats: Stats::default(),
            on_reply,
        }
    }

    async fn run(mut self, shutdown: impl Future<Output = ()>) -> Result<Stats, PingError> {
        let started = Instant::now();
        let mut ticker = tokio::time::interval(self.interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut next: u64 = 1;
        let mut last_sent = started;
        let mut buf = vec![0u8; RECV_BUFFER];
        tokio::pin!(shutdown);
        loop {
            let done_sending = self.count.is_some_and(|count| next > count);
            if done_sending && self.in_flight.is_empty() {
                break;
            }
            let linger = tokio::time::sleep_until(last_sent + self.linger);
            tokio::select! {
                () = &mut shutdown => break,
                () = linger, if done_sending => break,
                _ = ticker.tick(), if !done_sending => {
                    // Sequence numbers are 16 bits on the wire and wrap, as ping's do.
                    self.send((next & 0xffff) as u16).await;
                    next += 1;
                    last_sent = Instant::now();
                    self.stats.elapsed = last_sent - started;
                }
                received = self.socket.recv(&mut buf) => {
                    let received = received.map_err(PingError::Receive)?;
                    self.handle(&buf[..received.len], received.source, received.ttl);
                }
            }
        }
        Ok(self.stats)
    }

    async fn send(&mut self, seq: u16) {
        let packet = icmp::echo_request(self.id, seq, &payload(seq));
        self.stats.transmitted += 1;
        // Requests older than the linger time are lost; forget them so an
        // endless run keeps a bounded table.
        let linger = self.linger.max(self.interval);
        self.in_flight.retain(|_, sent| sent.elapsed() < linger);
        match self.socket.send_to(&packet, self.target).await {
            Ok(()) => {
                net::trace_sent(self.target, &packet);
                self.in_flight.insert(seq, Instant::now());
            }
            Err(err) => {
                self.stats.errors += 1;
                (self.on_reply)(&Reply::SendFailed {
                    seq,
                    target: self.target,
                    error: describe(&err),
                });
            }
        }
    }

    fn handle(&mut self, data: &[u8], source: Ipv4Addr, ttl: Option<u8>) {
        let (source, ttl, message) = match self.socket.kind {
            Kind::Datagram => (source, ttl, data),
            Kind::Raw => match icmp::split_ipv4(data) {
                Some((header, rest)) => (header.source, Some(header.ttl), rest),
                None => return,
            },
        };
        net::trace_received(source, message);
        // On a datagram socket the kernel rewrote the identifier and only
        // hands us our own replies; on a raw one we filter.
        let ours = |id: u16| self.socket.kind == Kind::Datagram || id == self.id;
        match icmp::parse(message) {
            Some(Message::EchoReply {
                id,
                seq,
                payload: echoed,
            }) if ours(id) => {
                let Some(sent) = self.in_flight.remove(&seq) else {
                    return; // a duplicate, or one we gave up on
                };
                let rtt = sent.elapsed();
                self.stats.record_rtt(rtt);
                (self.on_reply)(&Reply::Echo {
                    bytes: message.len(),
                    source,
                    seq,
                    ttl,
                    rtt,
                    wrong_data: echoed != payload(seq),
                });
            }
            Some(Message::Error {
                kind,
                code,
                id,
                seq,
            }) if ours(id) && self.in_flight.remove(&seq).is_some() => {
                self.stats.errors += 1;
                (self.on_reply)(&Reply::Error {
                    source,
                    seq,
                    description: icmp::describe(kind, code),
                });
            }
            _ => {}
        }
    }
}

/// The payload of request `seq`: a pattern the reply must carry back intact.
fn payload(seq: u16) -> [u8; PAYLOAD_LEN] {
    let mut data = [0u8; PAYLOAD_LEN];
    for (i, byte) in data.iter_mut().enumerate() {
        *byte = (i as u8).wrapping_add(seq as u8);
    }
    data
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_in_pings_words() {
        let mut stats = Stats {
            transmitted: 3,
            elapsed: Duration::from_millis(2003),
            ..Stats::default()
        };
        for us in [58, 165, 164] {
            stats.record_rtt(Duration::from_micros(us));
        }
        assert_eq!(
            stats.summary(),
            "3 packets transmitted, 3 received, 0% packet loss, time 2003ms\n\
             rtt min/avg/max/mdev = 0.058/0.129/0.165/0.050 ms\n"
        );
    }

    #[test]
    fn loss_and_errors() {
        let stats = Stats {
            transmitted: 2,
            errors: 2,
            ..Stats::default()
        };
        assert_eq!(
            stats.summary(),
            "2 packets transmitted, 0 received, +2 errors, 100% packet loss, time 0ms\n"
        );
        assert_eq!(percent(100.0 / 3.0), "33.3333%");
    }
}
