//! `udp mtu`: the path MTU the kernel knows for a destination, and what
//! happens to a datagram that does not fit (the texts' IP_MTU example).
//!
//! ```text
//! setsockopt(IPPROTO_IP, IP_MTU_DISCOVER, IP_PMTUDISC_DO)   never fragment locally
//! connect(HOST:PORT)                                        pick the route
//! getsockopt(IPPROTO_IP, IP_MTU)                            that route's MTU
//! send(MTU - 28 + 1 bytes)                                  -> EMSGSIZE
//! ```
//!
//! IPv6 uses IPV6_MTU_DISCOVER / IPV6_PMTUDISC_DO / IPV6_MTU and 48 header
//! bytes. Nothing is delivered: the kernel refuses the datagram before it
//! leaves, which is the point.

use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, RawFd};

use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::UdpSocket;

/// Largest UDP payload of any IPv4 datagram: 65,535 - 20 (IP) - 8 (UDP).
pub const MAX_UDP_PAYLOAD_V4: usize = 65_507;
/// Largest UDP payload of a non-jumbo IPv6 datagram: 65,535 - 8 (UDP).
pub const MAX_UDP_PAYLOAD_V6: usize = 65_527;

/// What the kernel said about one destination.
#[derive(Debug)]
pub struct PathMtu {
    /// The destination.
    pub peer: SocketAddr,
    /// IP_MTU / IPV6_MTU: the path MTU in bytes, IP header included.
    pub mtu: usize,
    /// The largest UDP payload that fits in one unfragmented datagram.
    pub max_payload: usize,
    /// What sending `max_payload + 1` bytes did: normally EMSGSIZE.
    pub oversized: io::Result<usize>,
}

/// Measures the path MTU to `peer` and tries one datagram a byte too large.
pub async fn probe(peer: SocketAddr) -> io::Result<PathMtu> {
    let v6 = peer.is_ipv6();
    let socket = Socket::new(Domain::for_address(peer), Type::DGRAM, Some(Protocol::UDP))?;
    // (option level, discover option, its DO value, MTU option, IP + UDP header bytes, payload cap)
    let (level, discover, dont_fragment, mtu_opt, headers, cap) = if v6 {
        let ipv6 = libc::IPPROTO_IPV6;
        (
            ipv6,
            libc::IPV6_MTU_DISCOVER,
            libc::IPV6_PMTUDISC_DO,
            libc::IPV6_MTU,
            48,
            MAX_UDP_PAYLOAD_V6,
        )
    } else {
        let ipv4 = libc::IPPROTO_IP;
        (
            ipv4,
            libc::IP_MTU_DISCOVER,
            libc::IP_PMTUDISC_DO,
            libc::IP_MTU,
            28,
            MAX_UDP_PAYLOAD_V4,
        )
    };
    set_int(socket.as_raw_fd(), level, discover, dont_fragment)?;
    // IP_MTU is only defined on a connected socket: connect picks the route.
    socket.connect(&peer.into())?;
    let mtu = usize::try_from(get_int(socket.as_raw_fd(), level, mtu_opt)?)
        .map_err(|_| io::Error::other("the kernel reported a negative MTU"))?;
    let max_payload = mtu.saturating_sub(headers).min(cap);
    socket.set_nonblocking(true)?;
    let socket = UdpSocket::from_std(socket.into())?;
    let oversized = socket.send(&vec![0u8; max_payload + 1]).await;
    Ok(PathMtu {
        peer,
        mtu,
        max_payload,
        oversized,
    })
}

fn set_int(fd: RawFd, level: i32, name: i32, value: i32) -> io::Result<()> {
    // SAFETY: fd is an open socket we own; the option value is a live c_int
    // and the length passed is its size.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            (&raw const value).cast(),
            size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

fn get_int(fd: RawFd, level: i32, name: i32) -> io::Result<i32> {
    let mut value: libc::c_int = 0;
    let mut len = size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: fd is an open socket we own; value and len are live locals
    // and len holds value's size, which the kernel will not exceed.
    let rc = unsafe { libc::getsockopt(fd, level, name, (&raw mut value).cast(), &mut len) };
    if rc == 0 {
        Ok(value)
    } else {
        Err(io::Error::last_os_error())
    }
}
