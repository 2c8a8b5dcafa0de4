//! Packet capture, as the texts' `tshark -i lo0 'tcp port 65432'`: a packet
//! socket on an interface with the filter in the kernel ([`PacketSocket`]),
//! frames decoded into typed packets ([`decode`]), TCP analysis
//! ([`Analyzer`]) and tshark-style lines ([`Dissector`], [`Line`]), and pcap
//! files written and read ([`PcapSink`], [`PcapSource`]).
//!
//! ```text
//!   1  0.000000    127.0.0.1 → 127.0.0.1    TCP 74 53942 → 65432 [SYN] Seq=0 Win=65495 Len=0 MSS=65495 SACK_PERM TSval=1 TSecr=0 WS=128
//! ```
//! Nothing here prints: a caller gets frames, packets and lines, and shows
//! them. Memory is bounded whatever the packet rate: the fixed receive ring
//! shared with the kernel (what overflows it is counted as dropped), and a
//! flow table with a cap.

mod analysis;
mod bpf;
mod decode;
mod filter;
mod line;
mod pcap;
mod ring;
mod socket;

use std::io;

pub use analysis::{Analyzer, DEFAULT_MAX_FLOWS, Mark, TcpAnalysis};
pub use bpf::{Insn, compile};
pub use decode::{Flags, LinkType, Net, Packet, Tcp, TcpOption, Transport, decode};
pub use filter::{Filter, Proto};
pub use line::{Dissector, Line};
pub use pcap::{PcapFileError, PcapSink, PcapSource};
pub use socket::{Frame, PacketSocket, SocketOptions, Stats};

use crate::net::describe;

/// The interface captured when none is named.
pub const DEFAULT_INTERFACE: &str = "lo";
/// Bytes kept of each frame: all of any loopback frame (MTU 65536), as
/// tcpdump's default of 262144.
pub const DEFAULT_SNAPLEN: u32 = 262_144;
/// The receive ring: four 1 MiB blocks, tens of thousands of small frames
/// before the kernel drops (and counts) what a slow reader misses.
pub const DEFAULT_BUFFER_SIZE: usize = 4 * 1024 * 1024;

/// Why a live capture could not start or go on.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    /// Packet sockets need privileges.
    #[error("capture needs root or CAP_NET_RAW (socket(AF_PACKET): {})", describe(.0))]
    NotPermitted(io::Error),
    /// No such interface.
    #[error("no interface named {0:?} (see `ip link`)")]
    NoInterface(String),
    /// The interface's frames are not Ethernet.
    #[error("{interface} has link type {kind}; capture reads Ethernet and loopback interfaces")]
    UnsupportedLink {
        /// The interface.
        interface: String,
        /// Its ARPHRD type.
        kind: u16,
    },
    /// A socket call failed; the string says which.
    #[error("{0}: {cause}", cause = describe(.1))]
    Io(&'static str, io::Error),
}
