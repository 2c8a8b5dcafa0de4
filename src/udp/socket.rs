//! A UDP socket that moves datagrams in batches (recvmmsg/sendmmsg) and wakes
//! its task only when something arrives.
//!
//! ```text
//! one wake-up   recvmmsg: up to BATCH datagrams that are already queued
//!               sendmmsg: every reply to them, in one system call
//! ```
//!
//! tokio's `UdpSocket` registers for read AND write readiness. Linux signals
//! write readiness again each time a sent datagram's buffer is freed, so a
//! server answering N datagrams gets N extra wake-ups of the reactor for
//! nothing. This socket registers for reads only; in the rare case that the
//! send buffer is full it waits on a short-lived write registration of a
//! duplicate descriptor.

use std::io;
use std::mem::{MaybeUninit, size_of};
use std::net::SocketAddr;
use std::os::fd::AsRawFd;

use socket2::{SockAddr, SockAddrStorage};
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

/// Datagrams taken from the kernel per system call at most.
pub const BATCH: usize = 16;

/// Receive buffers for one batch: a number of slots of one size each. A
/// datagram longer than its slot is cut (a server uses [`MAX_DATAGRAM`](super::MAX_DATAGRAM)-byte
/// slots so that nothing ever is). The memory is only touched as far as
/// datagrams fill it.
#[derive(Debug)]
pub struct RecvBatch {
    data: Vec<u8>,
    slot: usize,
    got: Vec<(usize, SocketAddr)>,
}

impl RecvBatch {
    /// Room for `slots` datagrams (at most [`BATCH`]) of up to `slot` bytes.
    pub fn new(slots: usize, slot: usize) -> Self {
        let (slots, slot) = (slots.clamp(1, BATCH), slot.max(1));
        Self {
            data: vec![0u8; slots * slot],
            slot,
            got: Vec::with_capacity(slots),
        }
    }

    fn slots(&self) -> usize {
        self.data.len() / self.slot
    }

    /// The datagrams of the last receive, in arrival order, with their senders.
    pub fn datagrams(&self) -> impl Iterator<Item = (SocketAddr, &[u8])> {
        self.got
            .iter()
            .enumerate()
            .map(|(i, &(len, peer))| (peer, &self.data[i * self.slot..][..len]))
    }

    /// How many datagrams the last receive took.
    pub fn len(&self) -> usize {
        self.got.len()
    }

    /// Whether the last receive took nothing.
    pub fn is_empty(&self) -> bool {
        self.got.is_empty()
    }
}

/// A UDP socket registered with the runtime for read readiness only.
#[derive(Debug)]
pub struct QuietSocket {
    fd: AsyncFd<std::net::UdpSocket>,
}

impl QuietSocket {
    /// Takes over `socket` (it leaves tokio's reactor and joins again with
    /// read interest only).
    pub fn new(socket: tokio::net::UdpSocket) -> io::Result<Self> {
        let socket = socket.into_std()?;
        Ok(Self {
            fd: register(socket, Interest::READABLE)?,
        })
    }

    /// The address the socket is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.fd.get_ref().local_addr()
    }

    /// Waits for datagrams and takes every one already queued, as many as
    /// `batch` has slots, into it.
    pub async fn recv_batch(&self, batch: &mut RecvBatch) -> io::Result<()> {
        loop {
            let mut guard = self.fd.readable().await?;
            match recv_mmsg(self.fd.get_ref(), batch) {
                Ok(n) => {
                    // Fewer than asked means the queue is empty now: the next
                    // arrival will signal readiness again, so skip the
                    // EAGAIN-returning call that would otherwise find out.
                    // (clear_ready keeps readiness that arrived meanwhile.)
                    if n < batch.slots() {
                        guard.clear_ready();
                    }
                    return Ok(());
                }
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => guard.clear_ready(),
                Err(err) => return Err(err),
            }
        }
    }

    /// Sends every `(peer, datagram)` of `out` in order, in as few system
    /// calls as the kernel allows; `done(i, result)` hears how datagram `i`
    /// fared. A datagram that fails is reported and skipped, as one lost
    /// datagram should be.
    pub async fn send_batch(
        &self,
        out: &[(SocketAddr, &[u8])],
        mut done: impl FnMut(usize, io::Result<()>),
    ) {
        let mut next = 0;
        while next < out.len() {
            match send_mmsg(self.fd.get_ref(), &out[next..]) {
                // sendmmsg sends at least one datagram or fails.
                Ok(0) => {
                    done(next, Err(io::ErrorKind::WriteZero.into()));
                    next += 1;
                }
                Ok(sent) => {
                    for i in next..next + sent {
                        done(i, Ok(()));
                    }
                    next += sent;
                }
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => {
                    if let Err(err) = self.writable().await {
                        done(next, Err(err));
                        next += 1;
                    }
                }
                Err(err) => {
                    done(next, Err(err));
                    next += 1;
                }
            }
        }
    }

    /// Sends one datagram on a connected socket.
    pub async fn send(&self, data: &[u8]) -> io::Result<usize> {
        loop {
            match self.fd.get_ref().send(data) {
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => self.writable().await?,
                other => return other,
            }
        }
    }

    /// Waits until the send buffer has room, through a second registration
    /// (of a duplicate descriptor) that lives only while waiting.
    async fn writable(&self) -> io::Result<()> {
        let dup = self.fd.get_ref().try_clone()?;
        let waiter = register(dup, Interest::WRITABLE)?;
        let _ready = waiter.writable().await?;
        Ok(())
    }
}

fn register(
    socket: std::net::UdpSocket,
    interest: Interest,
) -> io::Result<AsyncFd<std::net::UdpSocket>> {
    // SAFETY: a std UdpSocket owns its descriptor, keeps it open until it is
    // dropped (inside the AsyncFd) and always returns that same descriptor.
    Ok(unsafe { AsyncFd::register_with_interest(socket, interest) }?)
}

/// One recvmmsg(2) without waiting; fills `batch` and returns the count.
fn recv_mmsg(socket: &std::net::UdpSocket, batch: &mut RecvBatch) -> io::Result<usize> {
    batch.got.clear();
    let mut iovecs: [MaybeUninit<libc::iovec>; BATCH] = [MaybeUninit::uninit(); BATCH];
    // SAFETY: all-zero is a valid sockaddr_storage and a valid (empty) mmsghdr.
    let mut addrs: [libc::sockaddr_storage; BATCH] = unsafe { std::mem::zeroed() };
    let mut headers: [libc::mmsghdr; BATCH] = unsafe { std::mem::zeroed() };
    let slots = batch.slots();
    for (slot, chunk) in batch.data.chunks_exact_mut(batch.slot).enumerate() {
        let iov = iovecs[slot].write(libc::iovec {
            iov_base: chunk.as_mut_ptr().cast(),
            iov_len: chunk.len(),
        });
        let header = &mut headers[slot].msg_hdr;
        header.msg_name = (&raw mut addrs[slot]).cast();
        header.msg_namelen = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
        header.msg_iov = iov;
        header.msg_iovlen = 1;
    }
    // SAFETY: every header points at a live iovec, a live address slot and a
    // live slot of batch.data, all outliving the call.
    let n = unsafe {
        libc::recvmmsg(
            socket.as_raw_fd(),
            headers.as_mut_ptr(),
            slots as libc::c_uint,
            libc::MSG_DONTWAIT,
            std::ptr::null_mut(),
        )
    };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    let n = n as usize;
    for (header, addr) in headers.iter().zip(&addrs).take(n) {
        let mut storage = SockAddrStorage::zeroed();
        // SAFETY: the kernel wrote a socket address of msg_namelen bytes; the
        // storage types are the same size and layout.
        let peer = unsafe {
            *storage.view_as::<libc::sockaddr_storage>() = *addr;
            SockAddr::new(storage, header.msg_hdr.msg_namelen).as_socket()
        };
        // A UDP socket only ever receives from IPv4 or IPv6 peers.
        let peer = peer.ok_or_else(|| io::Error::other("datagram from a non-IP address"))?;
        batch.got.push((header.msg_len as usize, peer));
    }
    Ok(n)
}

/// One sendmmsg(2) without waiting; returns how many of `out` were sent.
fn send_mmsg(socket: &std::net::UdpSocket, out: &[(SocketAddr, &[u8])]) -> io::Result<usize> {
    let out = &out[..out.len().min(BATCH)];
    let addrs: [Option<SockAddr>; BATCH] =
        std::array::from_fn(|i| out.get(i).map(|(peer, _)| SockAddr::from(*peer)));
    let mut iovecs: [MaybeUninit<libc::iovec>; BATCH] = [MaybeUninit::uninit(); BATCH];
    // SAFETY: all-zero is a valid (empty) mmsghdr.
    let mut headers: [libc::mmsghdr; BATCH] = unsafe { std::mem::zeroed() };
    for (i, ((_, data), addr)) in out.iter().zip(addrs.iter().flatten()).enumerate() {
        let iov = iovecs[i].write(libc::iovec {
            // sendmmsg only reads through this pointer.
            iov_base: data.as_ptr().cast_mut().cast(),
            iov_len: data.len(),
        });
        let header = &mut headers[i].msg_hdr;
        header.msg_name = addr.as_ptr().cast_mut().cast();
        header.msg_namelen = addr.len();
        header.msg_iov = iov;
        header.msg_iovlen = 1;
    }
    // SAFETY: the first out.len() headers point at live iovecs, addresses and
    // datagrams that outlive the call.
    let n = unsafe {
        libc::sendmmsg(
            socket.as_raw_fd(),
            headers.as_mut_ptr(),
            out.len() as libc::c_uint,
            libc::MSG_DONTWAIT,
        )
    };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(n as usize)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    async fn quiet() -> QuietSocket {
        let socket = tokio::net::UdpSocket::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        QuietSocket::new(socket).expect("register")
    }

    #[tokio::test]
    async fn one_receive_takes_every_queued_datagram_up_to_the_slots() {
        let server = quiet().await;
        let to = server.local_addr().expect("addr");
        let client = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
        let from = client.local_addr().expect("addr");
        for i in 0..BATCH + 3 {
            client
                .send_to(format!("n{i}").as_bytes(), to)
                .expect("send");
        }
        let mut batch = RecvBatch::new(BATCH, 64);
        let limit = Duration::from_secs(5);
        tokio::time::timeout(limit, server.recv_batch(&mut batch))
            .await
            .expect("in time")
            .expect("received");
        assert_eq!(batch.len(), BATCH);
        let first: Vec<_> = batch.datagrams().map(|(_, d)| d.to_vec()).collect();
        assert_eq!(first[0], b"n0");
        assert_eq!(first[BATCH - 1], format!("n{}", BATCH - 1).into_bytes());
        assert!(batch.datagrams().all(|(peer, _)| peer == from));
        tokio::time::timeout(limit, server.recv_batch(&mut batch))
            .await
            .expect("in time")
            .expect("received");
        let rest: Vec<_> = batch.datagrams().map(|(_, d)| d.to_vec()).collect();
        assert_eq!(rest, [b"n16", b"n17", b"n18"]);
    }

    #[tokio::test]
    async fn a_failed_datagram_is_reported_and_the_rest_still_go() {
        let sender = quiet().await;
        let receivers: Vec<_> = (0..3)
            .map(|_| std::net::UdpSocket::bind("127.0.0.1:0").expect("bind"))
            .collect();
        let to = |i: usize| receivers[i].local_addr().expect("addr");
        // Port 0 is no destination: sendmmsg stops there with EINVAL.
        let nowhere: SocketAddr = "127.0.0.1:0".parse().expect("literal");
        let out: [(SocketAddr, &[u8]); 4] =
            [(to(0), b"a"), (nowhere, b"x"), (to(1), b"b"), (to(2), b"c")];
        let mut results = Vec::new();
        sender
            .send_batch(&out, |i, result| results.push((i, result.is_ok())))
            .await;
        assert_eq!(results, [(0, true), (1, false), (2, true), (3, true)]);
        let mut buf = [0u8; 8];
        for (i, want) in [b"a", b"b", b"c"].iter().enumerate() {
            receivers[i]
                .set_read_timeout(Some(Duration::from_secs(5)))
                .expect("timeout");
            let n = receivers[i].recv(&mut buf).expect("a datagram");
            assert_eq!(&buf[..n], *want);
        }
    }

    #[tokio::test]
    async fn a_long_datagram_is_cut_to_its_slot() {
        let server = quiet().await;
        let client = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
        let to = server.local_addr().expect("addr");
        client.send_to(&[b'y'; 100], to).expect("send");
        let mut batch = RecvBatch::new(2, 10);
        tokio::time::timeout(Duration::from_secs(5), server.recv_batch(&mut batch))
            .await
            .expect("in time")
            .expect("received");
        let got: Vec<_> = batch.datagrams().map(|(_, d)| d.len()).collect();
        assert_eq!(got, [10]);
    }

    #[tokio::test]
    async fn waiting_for_room_to_send_returns_on_a_writable_socket() {
        let socket = quiet().await;
        tokio::time::timeout(Duration::from_secs(5), socket.writable())
            .await
            .expect("in time")
            .expect("writable");
    }
}
