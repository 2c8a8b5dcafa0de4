//! Frames to typed packets, through `etherparse`: the link layer of the
//! interface or file (Ethernet, BSD loopback "null", raw IP, Linux cooked),
//! IPv4 or IPv6, then TCP (with its options), UDP or ICMP.
//!
//! Nothing a frame holds can panic the decoder: what does not parse is a
//! [`Net::Malformed`] packet, shown as such, never an error that stops a
//! capture.

use std::net::IpAddr;
use std::time::Duration;

use etherparse::{EtherType, LaxNetSlice, LaxSlicedPacket, TcpOptionElement, TransportSlice};

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

/// Linux cooked capture v1: 16 bytes, the EtherType in the last two.
const SLL_HEADER: usize = 16;

fn decode_net(link: LinkType, data: &[u8]) -> Net {
    // Lax slicing: a frame cut to the snap length still shows its headers,
    // with lengths taken from what the headers declare.
    let sliced = match link {
        LinkType::Ethernet => LaxSlicedPacket::from_ethernet(data).map_err(|e| e.to_string()),
        LinkType::LinuxSll => match data.get(SLL_HEADER - 2..) {
            Some([high, low, rest @ ..]) => Ok(LaxSlicedPacket::from_ether_type(
                EtherType(u16::from_be_bytes([*high, *low])),
                rest,
            )),
            _ => Err("Linux cooked header cut short".into()),
        },
        LinkType::Raw => LaxSlicedPacket::from_ip(data).map_err(|e| e.to_string()),
        LinkType::Null => match data.get(4..) {
            Some(ip) if matches!(ip.first().map(|b| b >> 4), Some(4 | 6)) => {
                LaxSlicedPacket::from_ip(ip).map_err(|e| e.to_string())
            }
            Some(_) => {
                let family = u32::from_ne_bytes([data[0], data[1], data[2], data[3]]);
                return Net::Other {
                    ethertype: u16::try_from(family).unwrap_or(u16::MAX),
                };
            }
            None => Err("null link header cut short".into()),
        },
    };
    let sliced = match sliced {
        Ok(sliced) => sliced,
        Err(why) => return Net::Malformed(why),
    };
    let (src, dst, ttl, payload, declared) = match &sliced.net {
        Some(LaxNetSlice::Ipv4(ip)) => {
            let header = ip.header();
            let declared =
                usize::from(header.total_len()).saturating_sub(usize::from(header.ihl()) * 4);
            (
                IpAddr::V4(header.source_addr()),
                IpAddr::V4(header.destination_addr()),
                header.ttl(),
                ip.payload(),
                declared,
            )
        }
        Some(LaxNetSlice::Ipv6(ip)) => {
            let header = ip.header();
            let declared =
                usize::from(header.payload_length()).saturating_sub(ip.extensions().slice().len());
            (
                IpAddr::V6(header.source_addr()),
                IpAddr::V6(header.destination_addr()),
                header.hop_limit(),
                ip.payload(),
                declared,
            )
        }
        Some(LaxNetSlice::Arp(_)) => return Net::Arp,
        None => {
            return match (&sliced.stop_err, sliced.ether_payload()) {
                (Some((err, _)), _) => Net::Malformed(err.to_string()),
                (None, Some(payload)) => Net::Other {
                    ethertype: payload.ether_type.0,
                },
                (None, None) => Net::Malformed("no network layer".into()),
            };
        }
    };
    // What the IP header says follows it: more than the frame holds when
    // the frame was cut short.
    let declared = if payload.incomplete {
        declared
    } else {
        payload.payload.len()
    };
    let proto = payload.ip_number.0;
    let transport = match sliced.transport {
        Some(TransportSlice::Tcp(tcp)) => {
            let header_len = usize::from(tcp.data_offset()) * 4;
            Transport::Tcp(Tcp {
                src_port: tcp.source_port(),
                dst_port: tcp.destination_port(),
                seq: tcp.sequence_number(),
                ack: tcp.acknowledgment_number(),
                flags: flags(&tcp),
                window: tcp.window_size(),
                len: u32::try_from(declared.saturating_sub(header_len)).unwrap_or(u32::MAX),
                options: tcp_options(&tcp),
            })
        }
        Some(TransportSlice::Udp(udp)) => Transport::Udp {
            src_port: udp.source_port(),
            dst_port: udp.destination_port(),
            len: u32::try_from(declared.saturating_sub(8)).unwrap_or(u32::MAX),
        },
        Some(TransportSlice::Icmpv4(icmp)) => {
            icmp_message(false, icmp.type_u8(), icmp.code_u8(), icmp.bytes5to8())
        }
        Some(TransportSlice::Icmpv6(icmp)) => {
            icmp_message(true, icmp.type_u8(), icmp.code_u8(), icmp.bytes5to8())
        }
        Some(TransportSlice::Igmp(_)) => Transport::Other { proto },
        None => match &sliced.stop_err {
            // A transport header cut short or broken (a later fragment has none).
            Some((err, _)) if !payload.fragmented => return Net::Malformed(err.to_string()),
            _ => Transport::Other { proto },
        },
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

#[cfg(test)]
mod tests {
    use etherparse::PacketBuilder;

    use super::*;

    fn tcp_frame(payload: &[u8]) -> Vec<u8> {
        let mut frame = Vec::new();
        PacketBuilder::ethernet2([0; 6], [0; 6])
            .ipv4([127, 0, 0, 1], [127, 0, 0, 1], 64)
            .tcp(5000, 65432, 7, 512)
            .syn()
            .options(&[
                TcpOptionElement::MaximumSegmentSize(65495),
                TcpOptionElement::SelectiveAcknowledgementPermitted,
                TcpOptionElement::Noop,
                TcpOptionElement::WindowScale(7),
            ])
            .expect("options fit")
            .write(&mut frame, payload)
            .expect("build");
        frame
    }

    fn tcp(net: &Net) -> &Tcp {
        match net {
            Net::Ip {
                transport: Transport::Tcp(tcp),
                ..
            } => tcp,
            other => panic!("not TCP: {other:?}"),
        }
    }

    #[test]
    fn a_segment_decodes_with_its_options_in_order() {
        let frame = tcp_frame(&[7; 100]);
        let packet = decode(
            LinkType::Ethernet,
            &frame,
            Duration::ZERO,
            frame.len() as u32,
        );
        let segment = tcp(&packet.net);
        assert_eq!(
            (segment.src_port, segment.dst_port, segment.seq),
            (5000, 65432, 7)
        );
        assert_eq!(segment.flags, Flags(Flags::SYN));
        assert_eq!(segment.len, 100);
        assert_eq!(
            segment.options,
            [
                TcpOption::Mss(65495),
                TcpOption::SackPerm,
                TcpOption::WindowScale(7)
            ]
        );
    }

    #[test]
    fn a_frame_cut_to_the_snap_length_keeps_its_declared_lengths() {
        let frame = tcp_frame(&[7; 100]);
        let cut = &frame[..80];
        let packet = decode(LinkType::Ethernet, cut, Duration::ZERO, frame.len() as u32);
        assert_eq!(packet.len as usize, frame.len());
        assert_eq!(tcp(&packet.net).len, 100);
        // Cut inside the TCP header: there is no segment to show.
        let packet = decode(LinkType::Ethernet, &frame[..40], Duration::ZERO, 40);
        assert!(matches!(packet.net, Net::Malformed(_)), "{:?}", packet.net);
    }

    #[test]
    fn linux_cooked_and_null_links_carry_ip() {
        let mut ip = Vec::new();
        PacketBuilder::ipv6([0; 16], [0; 16], 64)
            .udp(1, 2)
            .write(&mut ip, b"abc")
            .expect("build");
        let mut sll = vec![0u8; SLL_HEADER];
        sll[14..].copy_from_slice(&0x86ddu16.to_be_bytes());
        sll.extend_from_slice(&ip);
        let mut null = 24u32.to_ne_bytes().to_vec(); // AF_INET6 on some BSDs
        null.extend_from_slice(&ip);
        for (link, frame) in [(LinkType::LinuxSll, sll), (LinkType::Null, null)] {
            let packet = decode(link, &frame, Duration::ZERO, frame.len() as u32);
            let Net::Ip { transport, .. } = packet.net else {
                panic!("{link:?}: {:?}", packet.net)
            };
            assert_eq!(transport.ports(), Some((1, 2)), "{link:?}");
        }
    }

    #[test]
    fn garbage_is_malformed_or_other_never_a_panic() {
        for link in [
            LinkType::Ethernet,
            LinkType::Null,
            LinkType::Raw,
            LinkType::LinuxSll,
        ] {
            for len in 0..64 {
                let bytes: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
                let packet = decode(link, &bytes, Duration::ZERO, len);
                assert!(
                    !matches!(packet.net, Net::Ip { .. }) || len >= 20,
                    "{link:?} {len}"
                );
            }
        }
    }
}
