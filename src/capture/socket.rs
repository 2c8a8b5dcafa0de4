//! The packet socket: AF_PACKET on one interface, with the filter attached
//! in the kernel, read without blocking through tokio's `AsyncFd`.
//!
//! Opened as libpcap opens one: with protocol 0 (so nothing is queued yet),
//! then the receive ring (`ring.rs`), then the filter, then `bind` with
//! ETH_P_ALL, so no unfiltered frame slips in first. Memory is the ring,
//! fixed in size: when the reader falls behind, the kernel drops, and
//! PACKET_STATISTICS counts it.

use std::ffi::CString;
use std::io;
use std::mem::{size_of, zeroed};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

use tokio::io::unix::AsyncFd;

use super::CaptureError;
use super::bpf::{self, Insn};
use super::decode::LinkType;
use super::filter::Filter;
use super::ring::Ring;

/// ARPHRD_ETHER: an Ethernet interface.
const ARPHRD_ETHER: u16 = 1;
/// ARPHRD_LOOPBACK: `lo`, whose frames carry an Ethernet header with zero MACs.
const ARPHRD_LOOPBACK: u16 = 772;
/// getsockopt(SOL_PACKET) for `struct tpacket_stats_v3`, reset by each read.
const PACKET_STATISTICS: libc::c_int = 6;

/// `struct tpacket_stats_v3` (linux/if_packet.h).
#[repr(C)]
#[derive(Default)]
struct TpacketStats {
    packets: u32,
    drops: u32,
    /// Read only by the kernel's copy: it sizes the struct the kernel fills.
    freeze_q_cnt: u32,
}

/// What the kernel counted since the socket was opened.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Frames that passed the filter.
    pub received: u64,
    /// Of those, frames dropped because the receive ring was full.
    pub dropped: u64,
}

/// One received frame, borrowed from the socket's receive ring.
#[derive(Debug)]
pub struct Frame<'a> {
    /// Kernel receive time, since the Unix epoch.
    pub timestamp: Duration,
    /// Length on the wire.
    pub len: u32,
    /// The bytes kept: at most the snap length.
    pub data: &'a [u8],
}

/// A packet socket bound to one interface, filter attached.
pub struct PacketSocket {
    // Declared first so the mapping goes before the socket that backs it.
    ring: Ring,
    fd: AsyncFd<OwnedFd>,
    link: LinkType,
    snaplen: usize,
    totals: Stats,
}

/// How to open the socket.
#[derive(Debug, Clone)]
pub struct SocketOptions {
    /// Interface name.
    pub interface: String,
    /// What to keep.
    pub filter: Filter,
    /// Bytes kept of each frame.
    pub snaplen: u32,
    /// The receive ring's size in bytes (what absorbs a burst).
    pub buffer_size: usize,
}

impl PacketSocket {
    /// Opens, filters and binds; needs root or CAP_NET_RAW. Call from a
    /// tokio runtime (the socket registers with its reactor).
    pub fn open(options: &SocketOptions) -> Result<Self, CaptureError> {
        let name = CString::new(options.interface.as_str())
            .map_err(|_| CaptureError::NoInterface(options.interface.clone()))?;
        // SAFETY: a NUL-terminated name; the call only reads it.
        let index = unsafe { libc::if_nametoindex(name.as_ptr()) };
        if index == 0 {
            return Err(CaptureError::NoInterface(options.interface.clone()));
        }
        let kind = link_kind(&options.interface)?;
        let loopback = kind == ARPHRD_LOOPBACK;
        if kind != ARPHRD_ETHER && !loopback {
            return Err(CaptureError::UnsupportedLink {
                interface: options.interface.clone(),
                kind,
            });
        }
        // SAFETY: plain socket(2); the result is checked before use.
        let raw = unsafe {
            libc::socket(
                libc::AF_PACKET,
                libc::SOCK_RAW | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                0,
            )
        };
        if raw < 0 {
            let err = io::Error::last_os_error();
            return Err(match err.raw_os_error() {
                Some(libc::EPERM | libc::EACCES) => CaptureError::NotPermitted(err),
                _ => CaptureError::Io("socket(AF_PACKET)", err),
            });
        }
        // SAFETY: `raw` is a fresh descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let ring = Ring::new(&fd, options.buffer_size)
            .map_err(|err| CaptureError::Io("mapping the receive ring", err))?;
        attach(&fd, &bpf::compile(&options.filter, loopback))?;
        bind(&fd, index)?;
        // SAFETY: the OwnedFd keeps its descriptor open until dropped, which
        // happens only when the AsyncFd is.
        let fd = unsafe { AsyncFd::register(fd) }
            .map_err(|err| CaptureError::Io("registering the socket", err.into_parts().1))?;
        let mut socket = Self {
            ring,
            fd,
            link: LinkType::Ethernet,
            snaplen: options.snaplen as usize,
            totals: Stats::default(),
        };
        // Start the counters at zero: reading them resets them.
        socket.stats();
        socket.totals = Stats::default();
        Ok(socket)
    }

    /// The link type of the frames (Ethernet, for every interface we open).
    pub fn link(&self) -> LinkType {
        self.link
    }

    /// The next frame that passed the filter.
    pub async fn recv(&mut self) -> Result<Frame<'_>, CaptureError> {
        // A full ring never makes us wait: yield now and then all the same,
        // so a busy capture leaves room for the runtime's other tasks.
        tokio::task::consume_budget().await;
        while !self.ring.ready() {
            let mut guard = self
                .fd
                .readable()
                .await
                .map_err(|err| CaptureError::Io("waiting for packets", err))?;
            // Cleared before the next look at the ring: a block handed over
            // in between raised readiness already and is seen by that look.
            guard.clear_ready();
        }
        let frame = self.ring.take().ok_or_else(|| {
            CaptureError::Io("reading the receive ring", io::Error::other("no frame"))
        })?;
        Ok(Frame {
            timestamp: frame.timestamp,
            len: frame.len,
            data: &frame.data[..frame.data.len().min(self.snaplen)],
        })
    }

    /// Frames received and dropped by the kernel so far.
    pub fn stats(&mut self) -> Stats {
        let mut stats = TpacketStats::default();
        let mut size = size_of::<TpacketStats>() as libc::socklen_t;
        // SAFETY: the kernel writes at most `size` bytes into `stats`.
        let rc = unsafe {
            libc::getsockopt(
                self.fd.get_ref().as_raw_fd(),
                libc::SOL_PACKET,
                PACKET_STATISTICS,
                (&raw mut stats).cast(),
                &mut size,
            )
        };
        if rc == 0 {
            self.totals.received += u64::from(stats.packets);
            self.totals.dropped += u64::from(stats.drops);
        }
        self.totals
    }
}

/// The interface's ARPHRD type, from sysfs (the name was checked to exist).
fn link_kind(interface: &str) -> Result<u16, CaptureError> {
    let path = format!("/sys/class/net/{interface}/type");
    let text = std::fs::read_to_string(&path)
        .map_err(|err| CaptureError::Io("reading the interface type", err))?;
    text.trim().parse().map_err(|_| {
        CaptureError::Io(
            "reading the interface type",
            io::Error::other(format!("{path}: {text:?}")),
        )
    })
}

/// setsockopt(2) with a `T` value.
pub(super) fn setsockopt<T>(
    fd: &OwnedFd,
    level: libc::c_int,
    name: libc::c_int,
    value: &T,
) -> io::Result<()> {
    // SAFETY: `value` is a live `T` of the size passed.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (value as *const T).cast(),
            size_of::<T>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

fn attach(fd: &OwnedFd, program: &[Insn]) -> Result<(), CaptureError> {
    let program = libc::sock_fprog {
        len: u16::try_from(program.len()).unwrap_or(u16::MAX),
        // `Insn` is `#[repr(C)]` with `sock_filter`'s layout; the kernel copies it.
        filter: program.as_ptr().cast_mut().cast(),
    };
    setsockopt(fd, libc::SOL_SOCKET, libc::SO_ATTACH_FILTER, &program)
        .map_err(|err| CaptureError::Io("attaching the filter", err))
}

fn bind(fd: &OwnedFd, index: libc::c_uint) -> Result<(), CaptureError> {
    // SAFETY: sockaddr_ll is plain data; zero is a valid value for every field.
    let mut addr: libc::sockaddr_ll = unsafe { zeroed() };
    addr.sll_family = libc::AF_PACKET as u16;
    addr.sll_protocol = (libc::ETH_P_ALL as u16).to_be();
    addr.sll_ifindex = libc::c_int::try_from(index).unwrap_or(0);
    // SAFETY: `addr` is a sockaddr_ll of the size passed.
    let rc = unsafe {
        libc::bind(
            fd.as_raw_fd(),
            (&raw const addr).cast(),
            size_of::<libc::sockaddr_ll>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(CaptureError::Io(
            "binding to the interface",
            io::Error::last_os_error(),
        ))
    }
}
