//! The tshark-style line of a packet, as the texts show `tshark -i lo0 'tcp
//! port 65432'` printing them:
//!
//! ```text
//!   1  0.000000    127.0.0.1 → 127.0.0.1    TCP 74 53942 → 65432 [SYN] Seq=0 Win=65495 Len=0 MSS=65495 SACK_PERM TSval=940533635 TSecr=0 WS=128
//!   4  0.000075    127.0.0.1 → 127.0.0.1    TCP 66 [TCP Window Update] 65432 → 53942 [ACK] Seq=1 Ack=1 Win=408288 Len=0 TSval=940533635 TSecr=940533635
//!   7  0.000627    127.0.0.1 → 127.0.0.1    UDP 60 54321 → 60000 Len=14
//! ```
//! number, seconds since the first packet, source → destination, protocol,
//! frame length, then the Info column: analysis marks, ports, flags,
//! relative Seq/Ack, the (scaled) window, payload length and options.

use std::fmt::{self, Write as _};
use std::time::Duration;

use super::analysis::{Analyzer, Mark, TcpAnalysis};
use super::decode::{Flags, Net, Packet, Tcp, TcpOption, Transport};

/// One packet as a line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// Its number in the capture, from 1.
    pub number: u64,
    /// Time since the capture's first packet.
    pub time: Duration,
    /// Source address (`-` when not IP).
    pub src: String,
    /// Destination address (`-` when not IP).
    pub dst: String,
    /// Protocol column: TCP, UDP, ICMP, ICMPv6, ARP...
    pub protocol: String,
    /// Frame length on the wire.
    pub len: u32,
    /// The Info column.
    pub info: String,
    /// The analysis of a TCP segment, for callers that want the numbers.
    pub tcp: Option<TcpAnalysis>,
}

impl fmt::Display for Line {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:>3} {:>9.6} {:>12} → {:<12} {} {} {}",
            self.number,
            self.time.as_secs_f64(),
            self.src,
            self.dst,
            self.protocol,
            self.len,
            self.info
        )
    }
}

/// Numbers packets, keeps the capture's start time and the TCP analysis:
/// what turns a stream of [`Packet`]s into [`Line`]s.
#[derive(Debug, Default)]
pub struct Dissector {
    analyzer: Analyzer,
    first: Option<Duration>,
    number: u64,
}

impl Dissector {
    /// A dissector whose TCP analysis tracks at most `max_flows` flows.
    pub fn new(max_flows: usize) -> Self {
        Self {
            analyzer: Analyzer::new(max_flows),
            ..Self::default()
        }
    }

    /// The next packet's line.
    pub fn line(&mut self, packet: &Packet) -> Line {
        self.number += 1;
        let first = *self.first.get_or_insert(packet.timestamp);
        let mut line = Line {
            number: self.number,
            time: packet.timestamp.saturating_sub(first),
            src: "-".into(),
            dst: "-".into(),
            protocol: String::new(),
            len: packet.len,
            info: String::new(),
            tcp: None,
        };
        let (src, dst, ttl, transport) = match &packet.net {
            Net::Ip {
                src,
                dst,
                ttl,
                transport,
            } => (*src, *dst, *ttl, transport),
            Net::Arp => {
                line.protocol = "ARP".into();
                return line;
            }
            Net::Other { ethertype } => {
                line.protocol = format!("0x{ethertype:04x}");
                return line;
            }
            Net::Malformed(why) => {
                line.protocol = "Malformed".into();
                line.info = format!("[Malformed Packet: {why}]");
                return line;
            }
        };
        line.src = src.to_string();
        line.dst = dst.to_string();
        match transport {
            Transport::Tcp(tcp) => {
                let analysis = self.analyzer.analyse(self.number, src, dst, tcp);
                line.protocol = "TCP".into();
                line.info = tcp_info(tcp, &analysis);
                line.tcp = Some(analysis);
            }
            Transport::Udp {
                src_port,
                dst_port,
                len,
            } => {
                line.protocol = "UDP".into();
                line.info = format!("{src_port} → {dst_port} Len={len}");
            }
            &Transport::Icmp {
                v6,
                kind,
                code,
                echo,
            } => {
                line.protocol = if v6 { "ICMPv6" } else { "ICMP" }.into();
                line.info = icmp_info(v6, kind, code, echo, ttl);
            }
            Transport::Other { proto } => {
                line.protocol = if src.is_ipv4() { "IPv4" } else { "IPv6" }.into();
                line.info = format!("protocol {proto}");
            }
        }
        line
    }
}

fn tcp_info(tcp: &Tcp, analysis: &TcpAnalysis) -> String {
    let mut info = String::new();
    for mark in &analysis.marks {
        let _ = match mark {
            Mark::Retransmission => info.write_str("[TCP Retransmission] "),
            Mark::KeepAlive => info.write_str("[TCP Keep-Alive] "),
            Mark::ZeroWindowProbe => info.write_str("[TCP ZeroWindowProbe] "),
            Mark::ZeroWindow => info.write_str("[TCP ZeroWindow] "),
            Mark::WindowUpdate => info.write_str("[TCP Window Update] "),
            Mark::DupAck { frame, count } => write!(info, "[TCP Dup ACK {frame}#{count}] "),
        };
    }
    let _ = write!(
        info,
        "{} → {} [{}] Seq={}",
        tcp.src_port,
        tcp.dst_port,
        flag_names(tcp.flags),
        analysis.seq
    );
    if let Some(ack) = analysis.ack {
        let _ = write!(info, " Ack={ack}");
    }
    let _ = write!(info, " Win={} Len={}", analysis.window, tcp.len);
    let mut sack = analysis.sack.iter();
    for option in &tcp.options {
        let _ = match option {
            TcpOption::Mss(mss) => write!(info, " MSS={mss}"),
            TcpOption::WindowScale(shift) => write!(info, " WS={}", 1u32 << shift.min(&14)),
            TcpOption::SackPerm => info.write_str(" SACK_PERM"),
            TcpOption::Timestamp(value, echo) => write!(info, " TSval={value} TSecr={echo}"),
            TcpOption::Sack(blocks) => {
                for (left, right) in sack.by_ref().take(blocks.len()) {
                    let _ = write!(info, " SLE={left} SRE={right}");
                }
                Ok(())
            }
        };
    }
    info
}

/// tshark's flag list: `SYN, ACK`, in header bit order; `<None>` for none.
fn flag_names(flags: Flags) -> String {
    const NAMES: [(u16, &str); 9] = [
        (Flags::FIN, "FIN"),
        (Flags::SYN, "SYN"),
        (Flags::RST, "RST"),
        (Flags::PSH, "PSH"),
        (Flags::ACK, "ACK"),
        (Flags::URG, "URG"),
        (Flags::ECE, "ECE"),
        (Flags::CWR, "CWR"),
        (Flags::NS, "NS"),
    ];
    let names: Vec<&str> = NAMES
        .iter()
        .filter(|(bit, _)| flags.has(*bit))
        .map(|(_, name)| *name)
        .collect();
    if names.is_empty() {
        "<None>".into()
    } else {
        names.join(", ")
    }
}

fn icmp_info(v6: bool, kind: u8, code: u8, echo: Option<(u16, u16)>, ttl: u8) -> String {
    let name = match (v6, kind, code) {
        (false, 0, _) | (true, 129, _) => "Echo (ping) reply",
        (false, 8, _) | (true, 128, _) => "Echo (ping) request",
        (false, 3, 0) => "Destination unreachable (Network unreachable)",
        (false, 3, 1) => "Destination unreachable (Host unreachable)",
        (false, 3, 3) => "Destination unreachable (Port unreachable)",
        (false, 3, 4) => "Destination unreachable (Fragmentation needed)",
        (false, 3, _) => "Destination unreachable",
        (false, 11, _) => "Time-to-live exceeded",
        (true, 1, 4) => "Destination Unreachable (Port unreachable)",
        (true, 1, _) => "Destination Unreachable",
        (true, 2, _) => "Packet Too Big",
        (true, 3, _) => "Time Exceeded",
        (true, 133, _) => "Router Solicitation",
        (true, 134, _) => "Router Advertisement",
        (true, 135, _) => "Neighbor Solicitation",
        (true, 136, _) => "Neighbor Advertisement",
        _ => return format!("Type {kind} Code {code}"),
    };
    match echo {
        Some((id, seq)) if v6 => format!("{name} id=0x{id:04x}, seq={seq}, hop limit={ttl}"),
        Some((id, seq)) => format!(
            "{name}  id=0x{id:04x}, seq={seq}/{}, ttl={ttl}",
            seq.swap_bytes()
        ),
        None => name.into(),
    }
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr};

    use super::*;

    fn tcp_packet(micros: u64, flags: u16, seq: u32, ack: u32, options: Vec<TcpOption>) -> Packet {
        Packet {
            timestamp: Duration::from_micros(micros),
            len: 74,
            net: Net::Ip {
                src: IpAddr::V4(Ipv4Addr::LOCALHOST),
                dst: IpAddr::V4(Ipv4Addr::LOCALHOST),
                ttl: 64,
                transport: Transport::Tcp(Tcp {
                    src_port: 53942,
                    dst_port: 65432,
                    seq,
                    ack,
                    flags: Flags(flags),
                    window: 65495,
                    len: 0,
                    options,
                }),
            },
        }
    }

    #[test]
    fn a_syn_reads_as_tshark_prints_it() {
        let mut dissector = Dissector::default();
        let syn = tcp_packet(
            1_000_000,
            Flags::SYN,
            4242,
            0,
            vec![
                TcpOption::Mss(65495),
                TcpOption::SackPerm,
                TcpOption::Timestamp(940533635, 0),
                TcpOption::WindowScale(7),
            ],
        );
        assert_eq!(
            dissector.line(&syn).to_string(),
            "  1  0.000000    127.0.0.1 → 127.0.0.1    TCP 74 53942 → 65432 [SYN] Seq=0 \
             Win=65495 Len=0 MSS=65495 SACK_PERM TSval=940533635 TSecr=0 WS=128"
        );
        let odd = tcp_packet(1_000_057, 0, 4243, 0, vec![]);
        let line = dissector.line(&odd);
        assert_eq!(line.number, 2);
        assert_eq!(line.time, Duration::from_micros(57));
        assert!(line.to_string().starts_with("  2  0.000057 "), "{line}");
        assert!(
            line.info.contains("[<None>] Seq=1 Win=65495"),
            "{}",
            line.info
        );
    }

    #[test]
    fn udp_icmp_and_the_rest() {
        let mut dissector = Dissector::default();
        let ip = |transport| Packet {
            timestamp: Duration::ZERO,
            len: 98,
            net: Net::Ip {
                src: "::1".parse().expect("literal"),
                dst: "::1".parse().expect("literal"),
                ttl: 64,
                transport,
            },
        };
        let udp = dissector.line(&ip(Transport::Udp {
            src_port: 5,
            dst_port: 60000,
            len: 14,
        }));
        assert_eq!(
            (udp.protocol.as_str(), udp.info.as_str()),
            ("UDP", "5 → 60000 Len=14")
        );
        assert_eq!(udp.src, "::1");
        let ping = dissector.line(&ip(Transport::Icmp {
            v6: true,
            kind: 128,
            code: 0,
            echo: Some((42, 1)),
        }));
        assert_eq!(
            ping.info,
            "Echo (ping) request id=0x002a, seq=1, hop limit=64"
        );
        assert_eq!(
            icmp_info(false, 8, 0, Some((1, 1)), 64),
            "Echo (ping) request  id=0x0001, seq=1/256, ttl=64"
        );
        assert_eq!(
            icmp_info(false, 3, 3, None, 64),
            "Destination unreachable (Port unreachable)"
        );
        let bad = dissector.line(&Packet {
            timestamp: Duration::ZERO,
            len: 3,
            net: Net::Malformed("cut short".into()),
        });
        assert_eq!(
            (bad.src.as_str(), bad.info.as_str()),
            ("-", "[Malformed Packet: cut short]")
        );
    }
}
