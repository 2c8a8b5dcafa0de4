//! The capture filter compiled to a classic BPF program (SO_ATTACH_FILTER),
//! over Ethernet frames (what Linux `lo` hands a packet socket, with zero
//! MACs, and what an Ethernet interface does).
//!
//! ```text
//! [lo]  ld pkttype; jeq OUTGOING -> drop     each loopback packet passes twice;
//!                                            keep the incoming copy, as libpcap
//! ldh [12]; jeq 0x0800 -> v4; jeq 0x86dd -> v6; drop
//! v4:   host: ld [26] / ld [30]      proto: ldb [23]
//!       port: ldh [20] jset 0x1fff -> drop (a fragment has no ports);
//!             ldxb 4*([14]&0xf); ldh [x+14] / ldh [x+16]
//! v6:   host: 4 words at 22 / at 38  proto: ldb [20]   port: ldh [54] / [56]
//! accept: ret 0xffffffff (all of it)  drop: ret 0
//! ```
//! IPv6 extension headers are not walked (tcpdump's `ip6 proto` does not
//! either): a TCP segment behind one does not match `--port`.

use std::net::{IpAddr, Ipv6Addr};

use super::filter::{Filter, Proto};

/// One classic BPF instruction, laid out as the kernel's `struct sock_filter`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(C)]
pub struct Insn {
    /// Opcode.
    pub code: u16,
    /// Jump offset when the test holds.
    pub jt: u8,
    /// Jump offset when it does not.
    pub jf: u8,
    /// Operand.
    pub k: u32,
}

// Opcodes (linux/filter.h, linux/bpf_common.h).
const LD_W_ABS: u16 = 0x20;
const LD_H_ABS: u16 = 0x28;
const LD_B_ABS: u16 = 0x30;
const LD_H_IND: u16 = 0x48;
const LDX_B_MSH: u16 = 0xb1;
const JEQ_K: u16 = 0x15;
const JSET_K: u16 = 0x45;
const RET_K: u16 = 0x06;
/// Ancillary load of the packet type (SKF_AD_OFF + SKF_AD_PKTTYPE).
const PKTTYPE: u32 = (-0x1000i32 + 4) as u32;
/// `PACKET_OUTGOING`: a copy of a packet this host sent.
const PACKET_OUTGOING: u32 = 4;

const ETH_HEADER: u32 = 14;
const ETHERTYPE_IPV4: u32 = 0x0800;
const ETHERTYPE_IPV6: u32 = 0x86dd;

/// What an accepting program returns: keep the whole frame. The snap length
/// is applied when reading it, so the kernel still reports the full length
/// (and trimming here would not shrink the buffer space a frame takes).
const ACCEPT: u32 = u32::MAX;

/// Compiles `filter`; `skip_outgoing` (for loopback) keeps one copy of each packet.
pub fn compile(filter: &Filter, skip_outgoing: bool) -> Vec<Insn> {
    let mut asm = Asm::default();
    let accept = asm.new_label();
    let drop = asm.new_label();
    if skip_outgoing {
        asm.op(LD_W_ABS, PKTTYPE);
        asm.jump(JEQ_K, PACKET_OUTGOING, Jump::To(drop), Jump::Next);
    }
    // An empty filter falls through to `accept`.
    if !filter.is_empty() {
        let v4 = asm.new_label();
        let v6 = asm.new_label();
        asm.op(LD_H_ABS, 12);
        asm.jump(JEQ_K, ETHERTYPE_IPV4, Jump::To(v4), Jump::Next);
        asm.jump(JEQ_K, ETHERTYPE_IPV6, Jump::To(v6), Jump::To(drop));
        asm.place(v4);
        ip_section(&mut asm, filter, &V4, [accept, drop]);
        asm.place(v6);
        ip_section(&mut asm, filter, &V6, [accept, drop]);
    }
    asm.place(accept);
    asm.op(RET_K, ACCEPT);
    asm.place(drop);
    asm.op(RET_K, 0);
    asm.finish()
}

/// Where one IP version keeps what the filter looks at.
struct Layout {
    /// Offsets of the source and destination addresses.
    addrs: [u32; 2],
    /// Offset of the protocol (IPv4) or next-header (IPv6) byte.
    proto: u32,
    /// ICMP's protocol number in this version.
    icmp: u32,
    /// Whether the header length varies (IPv4's IHL) and fragments matter.
    variable: bool,
    /// Offset of the transport header when fixed (IPv6).
    transport: u32,
}

const V4: Layout = Layout {
    addrs: [ETH_HEADER + 12, ETH_HEADER + 16],
    proto: ETH_HEADER + 9,
    icmp: 1,
    variable: true,
    transport: 0,
};

const V6: Layout = Layout {
    addrs: [ETH_HEADER + 8, ETH_HEADER + 24],
    proto: ETH_HEADER + 6,
    icmp: 58,
    variable: false,
    transport: ETH_HEADER + 40,
};

/// The tests for one IP version; falls through to nothing (every path jumps).
fn ip_section(asm: &mut Asm, filter: &Filter, layout: &Layout, [accept, drop]: [usize; 2]) {
    if let Some(host) = filter.host {
        let words = match (host, layout.variable) {
            (IpAddr::V4(addr), true) => vec![u32::from(addr)],
            (IpAddr::V6(addr), false) => v6_words(addr),
            // The host is of the other version: nothing of this one matches.
            _ => {
                asm.op(RET_K, 0);
                return;
            }
        };
        let matched = asm.new_label();
        for (side, &base) in layout.addrs.iter().enumerate() {
            let miss = if side == 0 { asm.new_label() } else { drop };
            for (i, &word) in words.iter().enumerate() {
                asm.op(LD_W_ABS, base + 4 * i as u32);
                let hit = if i + 1 == words.len() {
                    Jump::To(matched)
                } else {
                    Jump::Next
                };
                asm.jump(JEQ_K, word, hit, Jump::To(miss));
            }
            if side == 0 {
                asm.place(miss);
            }
        }
        asm.place(matched);
    }
    let ports = asm.new_label();
    match (filter.proto, filter.port) {
        (None, None) => asm.op(RET_K, ACCEPT),
        (Some(Proto::Icmp), Some(_)) => asm.op(RET_K, 0),
        (Some(proto), port) => {
            let number = match proto {
                Proto::Tcp => 6,
                Proto::Udp => 17,
                Proto::Icmp => layout.icmp,
            };
            asm.op(LD_B_ABS, layout.proto);
            let then = if port.is_some() { ports } else { accept };
            asm.jump(JEQ_K, number, Jump::To(then), Jump::To(drop));
        }
        (None, Some(_)) => {
            asm.op(LD_B_ABS, layout.proto);
            asm.jump(JEQ_K, 6, Jump::To(ports), Jump::Next);
            asm.jump(JEQ_K, 17, Jump::To(ports), Jump::To(drop));
        }
    }
    asm.place(ports);
    if let Some(port) = filter.port {
        let (src, dst) = if layout.variable {
            asm.op(LD_H_ABS, ETH_HEADER + 6);
            asm.jump(JSET_K, 0x1fff, Jump::To(drop), Jump::Next);
            asm.op(LDX_B_MSH, ETH_HEADER);
            ((LD_H_IND, ETH_HEADER), (LD_H_IND, ETH_HEADER + 2))
        } else {
            (
                (LD_H_ABS, layout.transport),
                (LD_H_ABS, layout.transport + 2),
            )
        };
        asm.op(src.0, src.1);
        asm.jump(JEQ_K, u32::from(port), Jump::To(accept), Jump::Next);
        asm.op(dst.0, dst.1);
        asm.jump(JEQ_K, u32::from(port), Jump::To(accept), Jump::To(drop));
    }
}

fn v6_words(addr: Ipv6Addr) -> Vec<u32> {
    addr.octets()
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

/// Where a conditional jump goes.
#[derive(Debug, Clone, Copy)]
enum Jump {
    /// The next instruction.
    Next,
    /// A label's instruction.
    To(usize),
}

/// A tiny assembler: instructions with symbolic forward jumps, resolved at
/// the end (classic BPF jumps only forward, by at most 255).
#[derive(Default)]
struct Asm {
    code: Vec<(u16, Jump, Jump, u32)>,
    labels: Vec<Option<usize>>,
}

impl Asm {
    fn new_label(&mut self) -> usize {
        self.labels.push(None);
        self.labels.len() - 1
    }

    fn place(&mut self, label: usize) {
        self.labels[label] = Some(self.code.len());
    }

    fn op(&mut self, code: u16, k: u32) {
        self.code.push((code, Jump::Next, Jump::Next, k));
    }

    fn jump(&mut self, code: u16, k: u32, jt: Jump, jf: Jump) {
        self.code.push((code, jt, jf, k));
    }

    fn finish(self) -> Vec<Insn> {
        let offset = |at: usize, jump: Jump| match jump {
            Jump::Next => 0,
            Jump::To(label) => {
                // Every label is placed after every jump to it, and the
                // programs are a few dozen instructions: both by construction.
                let target = self.labels[label].expect("label placed");
                u8::try_from(target - at - 1).expect("short forward jump")
            }
        };
        self.code
            .iter()
            .enumerate()
            .map(|(at, &(code, jt, jf, k))| Insn {
                code,
                jt: offset(at, jt),
                jf: offset(at, jf),
                k,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests;
