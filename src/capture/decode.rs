//! Frames to typed packets, through `etherparse`: the link layer of the
//! interface or file (Ethernet, BSD loopback "null", raw IP, Linux cooked),
//! IPv4 or IPv6, then TCP (with its options), UDP or ICMP.
//!
//! Nothing a frame holds can panic the decoder: what does not parse is a
//! [`Net::Malformed`] packet, shown as such, never an error that stops a
//! capture.

use std::net::IpAddr;
use std::time::Duration;

use etherparse::{NetSlice, SlicedPacket, TcpOptionElement, TransportSlice};

/// How a frame begins: a pcap LINKTYPE, or what a packet socket delivers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkType {
    /// Ethernet II (LINKTYPE_ETHERNET, 1), also Linux `lo` with zero MACs.
    Ethernet,
    /// BSD loopback: a 4-byte host-order address family (LINKTYPE_NULL, 0).
    Null,
    /// A bare IPv4 or IPv6 packet (LINKTYPE_RAW, 101; 228; 229).
    Raw,
    /// Linux cooked capture v1, as `tcpdump -i any` writes (LINKTYPE_LINUX_SLL, 113).
    LinuxSll,
}

impl LinkType {
    /// The type for a pcap header's LINKTYPE number, if we read it.
    pub fn from_pcap(linktype: u32) -> Option<Self> {
        match linktype {
            1 => Some(Self::Ethernet),
            0 => Some(Self::Null),
            101 | 228 | 229 => Some(Self::Raw),
            113 => Some(Self::LinuxSll),
            _ => None,
        }
    }

    /// The LINKTYPE number a pcap file of this type carries.
    pub fn pcap_number(self) -> u32 {
        match self {
            Self::Ethernet => 1,
            Self::Null => 0,
            Self::Raw => 101,
            Self::LinuxSll => 113,
        }
    }
}

/// One captured packet, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    /// When it was captured, since the Unix epoch.
    pub timestamp: Duration,
    /// Its length on the wire, link header included (tshark's frame length).
    pub len: u32,
    /// What it carries.
    pub net: Net,
}

/// The network layer of a packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Net {
    /// IPv4 or IPv6.
    Ip {
        /// Source address.
        src: IpAddr,
        /// Destination address.
        dst: IpAddr,
        /// TTL or hop limit.
        ttl: u8,
        /// The transport layer.
        transport: Transport,
    },
    /// ARP.
    Arp,
    /// Some other EtherType.
    Other {
        /// The EtherType (or address family for a null link).
        ethertype: u16,
    },
    /// A frame whose headers do not parse; the reason, in one line.
    Malformed(String),
}

/// The transport layer of an IP packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transport {
    /// A TCP segment.
    Tcp(Tcp),
    /// A UDP datagram.
    Udp {
        /// Source port.
        src_port: u16,
        /// Destination port.
        dst_port: u16,
        /// Payload bytes.
        len: u32,
    },
    /// An ICMP (IPv4) or ICMPv6 message.
    Icmp {
        /// ICMPv6 rather than ICMP.
        v6: bool,
        /// Message type.
        kind: u8,
        /// Message code.
        code: u8,
        /// Identifier and sequence number of an echo request or reply.
        echo: Option<(u16, u16)>,
    },
    /// Another IP protocol, or a fragment past the first.
    Other {
        /// The IP protocol number.
        proto: u8,
    },
}

impl Transport {
    /// Source and destination ports, for TCP and UDP.
    pub fn ports(&self) -> Option<(u16, u16)> {
        match self {
            Self::Tcp(tcp) => Some((tcp.src_port, tcp.dst_port)),
            Self::Udp {
                src_port, dst_port, ..
            } => Some((*src_port, *dst_port)),
            _ => None,
        }
    }
}

/// A TCP segment's header, as the analysis and the line need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tcp {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// Absolute sequence number.
    pub seq: u32,
    /// Absolute acknowledgment number.
    pub ack: u32,
    /// The flag bits.
    pub flags: Flags,
    /// The window field, unscaled.
    pub window: u16,
    /// Payload bytes.
    pub len: u32,
    /// The options, in the order the segment carries them.
    pub options: Vec<TcpOption>,
}

/// TCP flag bits, as in the header (NS in bit 8).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Flags(pub u16);

impl Flags {
    /// FIN.
    pub const FIN: u16 = 0x001;
    /// SYN.
    pub const SYN: u16 = 0x002;
    /// RST.
    pub const RST: u16 = 0x004;
    /// PSH.
    pub const PSH: u16 = 0x008;
    /// ACK.
    pub const ACK: u16 = 0x010;
    /// URG.
    pub const URG: u16 = 0x020;
    /// ECE.
    pub const ECE: u16 = 0x040;
    /// CWR.
    pub const CWR: u16 = 0x080;
    /// NS.
    pub const NS: u16 = 0x100;

    /// Whether every bit of `bits` is set.
    pub fn has(self, bits: u16) -> bool {
        self.0 & bits == bits
    }

    /// Whether any of `bits` is set.
    pub fn any(self, bits: u16) -> bool {
        self.0 & bits != 0
    }
}

/// A TCP option that tshark shows in its Info column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TcpOption {
    /// Maximum segment size.
    Mss(u16),
    /// Window scale shift count.
    WindowScale(u8),
    /// SACK permitted.
    SackPerm,
    /// SACK blocks (absolute left and right edges).
    Sack(Vec<(u32, u32)>),
    /// Timestamp value and echo reply.
    Timestamp(u32, u32),
}

/// Decodes one frame of `link` type captured at `timestamp`, `len` bytes
/// long on the wire (`data` may be shorter when cut to a snap length).
pub fn decode(link: LinkType, data: &[u8], timestamp: Duration, len: u32) -> Packet {
    Packet {
        timestamp,
        len,
        net: decode_net(link, data),
    }
}

fn decode_net(link: LinkType, data: &[u8]) -> Net {
    let sliced = match link {
        LinkType::Ethernet => SlicedPacket::from_ethernet(data),
        LinkType::LinuxSll => SlicedPacket::from_linux_sll(data),
        LinkType::Raw => SlicedPacket::from_ip(data),
        LinkType::Null => match data.get(4..) {
            Some(ip) if matches!(ip.first().map(|b| b >> 4), Some(4 | 6)) => {
                SlicedPacket::from_ip(ip)
            }
            Some(_) => {
                let family = data
                    .get(..4)
                    .map_or(0, |f| u32::from_ne_bytes([f[0], f[1], f[2], f[3]]) as u16);
                return Net::Other { ethertype: family };
            }
            None => return Net::Malformed("null link header cut short".into()),
        },
    };
    let sliced = match sliced {
        Ok(sliced) => sliced,
        Err(err) => return Net::Malformed(err.to_string()),
    };
    let (src, dst, ttl, proto) = match &sliced.net {
        Some(NetSlice::Ipv4(ip)) => {
            let header = ip.header();
            (
                IpAddr::V4(header.source_addr()),
                IpAddr::V4(header.destination_addr()),
                header.ttl(),
                ip.payload().ip_number.0,
            )
        }
        Some(NetSlice::Ipv6(ip)) => {
            let header = ip.header();
            (
                IpAddr::V6(header.source_addr()),
                IpAddr::V6(header.destination_addr()),
                header.hop_limit(),
                ip.payload().ip_number.0,
            )
        }
        Some(NetSlice::Arp(_)) => return Net::Arp,
        None => {
            let ethertype = sliced.payload_ether_type().map_or(0, |t| t.0);
            return Net::Other { ethertype };
        }
    };
    let transport = match sliced.transport {
        Some(TransportSlice::Tcp(tcp)) => Transport::Tcp(Tcp {
            src_port: tcp.source_port(),
            dst_port: tcp.destination_port(),
            seq: tcp.sequence_number(),
            ack: tcp.acknowledgment_number(),
            flags: flags(&tcp),
            window: tcp.window_size(),
            len: tcp.payload().len() as u32,
            options: tcp_options(&tcp),
        }),
        Some(TransportSlice::Udp(udp)) => Transport::Udp {
            src_port: udp.source_port(),
            dst_port: udp.destination_port(),
            len: udp.payload().len() as u32,
        },
        Some(TransportSlice::Icmpv4(icmp)) => {
            icmp_message(false, icmp.type_u8(), icmp.code_u8(), icmp.bytes5to8())
        }
        Some(TransportSlice::Icmpv6(icmp)) => {
            icmp_message(true, icmp.type_u8(), icmp.code_u8(), icmp.bytes5to8())
        }
        Some(TransportSlice::Igmp(_)) | None => Transport::Other { proto },
    };
    Net::Ip {
        src,
        dst,
        ttl,
        transport,
    }
}

fn flags(tcp: &etherparse::TcpSlice<'_>) -> Flags {
    let bits = [
        (tcp.fin(), Flags::FIN),
        (tcp.syn(), Flags::SYN),
        (tcp.rst(), Flags::RST),
        (tcp.psh(), Flags::PSH),
        (tcp.ack(), Flags::ACK),
        (tcp.urg(), Flags::URG),
        (tcp.ece(), Flags::ECE),
        (tcp.cwr(), Flags::CWR),
        (tcp.ns(), Flags::NS),
    ];
    Flags(
        bits.iter()
            .filter(|(set, _)| *set)
            .fold(0, |acc, (_, bit)| acc | bit),
    )
}

/// The options tshark names; a malformed option ends the list, as it ends
/// the kernel's parse.
fn tcp_options(tcp: &etherparse::TcpSlice<'_>) -> Vec<TcpOption> {
    let mut options = Vec::new();
    for option in tcp.options_iterator() {
        let Ok(option) = option else { break };
        options.push(match option {
            TcpOptionElement::MaximumSegmentSize(mss) => TcpOption::Mss(mss),
            TcpOptionElement::WindowScale(shift) => TcpOption::WindowScale(shift),
            TcpOptionElement::SelectiveAcknowledgementPermitted => TcpOption::SackPerm,
            TcpOptionElement::SelectiveAcknowledgement(first, rest) => TcpOption::Sack(
                std::iter::once(first)
                    .chain(rest.into_iter().flatten())
                    .collect(),
            ),
            TcpOptionElement::Timestamp(value, echo) => TcpOption::Timestamp(value, echo),
            TcpOptionElement::Noop => continue,
        });
    }
    options
}

fn icmp_message(v6: bool, kind: u8, code: u8, rest: [u8; 4]) -> Transport {
    let is_echo = if v6 {
        matches!(kind, 128 | 129)
    } else {
        matches!(kind, 0 | 8)
    };
    let echo = is_echo.then(|| {
        (
            u16::from_be_bytes([rest[0], rest[1]]),
            u16::from_be_bytes([rest[2], rest[3]]),
        )
    });
    Transport::Icmp {
        v6,
        kind,
        code,
        echo,
    }
}
