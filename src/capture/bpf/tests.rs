//! The compiled programs, run by a small classic-BPF interpreter over frames
//! built with etherparse, must agree with `Filter::matches` on the decoded
//! packets: the kernel and `-r` then keep the same packets.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use etherparse::PacketBuilder;

use super::*;
use crate::capture::decode::{LinkType, decode};

/// Runs `program` over `frame` as the kernel would (an out-of-range load
/// rejects the frame); returns the number of bytes kept.
fn run(program: &[Insn], frame: &[u8], pkttype: u32) -> u32 {
    let load = |at: u32, n: usize| {
        frame
            .get(at as usize..at as usize + n)
            .map(|bytes| bytes.iter().fold(0u32, |acc, &b| (acc << 8) | u32::from(b)))
    };
    let (mut a, mut x, mut pc) = (0u32, 0u32, 0usize);
    loop {
        let insn = program[pc];
        pc += 1;
        let loaded = match insn.code {
            LD_W_ABS if insn.k == PKTTYPE => Some(pkttype),
            LD_W_ABS => load(insn.k, 4),
            LD_H_ABS => load(insn.k, 2),
            LD_B_ABS => load(insn.k, 1),
            LD_H_IND => load(x + insn.k, 2),
            LDX_B_MSH => {
                let Some(byte) = load(insn.k, 1) else {
                    return 0;
                };
                x = 4 * (byte & 0xf);
                continue;
            }
            JEQ_K | JSET_K => {
                let holds = if insn.code == JEQ_K {
                    a == insn.k
                } else {
                    a & insn.k != 0
                };
                pc += usize::from(if holds { insn.jt } else { insn.jf });
                continue;
            }
            RET_K => return insn.k,
            other => panic!("unexpected opcode {other:#x}"),
        };
        match loaded {
            Some(value) => a = value,
            None => return 0,
        }
    }
}

const V4_A: [u8; 4] = [127, 0, 0, 1];
const V4_B: [u8; 4] = [127, 0, 0, 2];
const V6_A: [u8; 16] = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
const V6_B: [u8; 16] = [0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];

fn frame(builder: PacketBuilder_, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    builder(payload, &mut out);
    out
}

type PacketBuilder_ = Box<dyn Fn(&[u8], &mut Vec<u8>)>;

fn eth() -> etherparse::PacketBuilderStep<etherparse::Ethernet2Header> {
    PacketBuilder::ethernet2([0; 6], [0; 6])
}

fn frames() -> Vec<Vec<u8>> {
    let builders: Vec<PacketBuilder_> = vec![
        Box::new(|p, o| {
            eth()
                .ipv4(V4_A, V4_B, 64)
                .tcp(5000, 65432, 1, 100)
                .write(o, p)
                .unwrap()
        }),
        Box::new(|p, o| {
            eth()
                .ipv4(V4_B, V4_A, 64)
                .tcp(65432, 5000, 1, 100)
                .write(o, p)
                .unwrap()
        }),
        Box::new(|p, o| {
            eth()
                .ipv4(V4_A, V4_A, 64)
                .tcp(7, 8, 1, 100)
                .write(o, p)
                .unwrap()
        }),
        Box::new(|p, o| {
            eth()
                .ipv4(V4_A, V4_B, 64)
                .udp(5000, 65432)
                .write(o, p)
                .unwrap()
        }),
        Box::new(|p, o| eth().ipv4(V4_B, V4_B, 64).udp(53, 53).write(o, p).unwrap()),
        Box::new(|p, o| {
            eth()
                .ipv4(V4_A, V4_B, 64)
                .icmpv4_echo_request(1, 2)
                .write(o, p)
                .unwrap()
        }),
        Box::new(|p, o| {
            eth()
                .ipv6(V6_A, V6_B, 64)
                .tcp(5000, 65432, 1, 100)
                .write(o, p)
                .unwrap()
        }),
        Box::new(|p, o| {
            eth()
                .ipv6(V6_B, V6_A, 64)
                .udp(65432, 9)
                .write(o, p)
                .unwrap()
        }),
        Box::new(|p, o| {
            eth()
                .ipv6(V6_A, V6_A, 64)
                .tcp(1, 2, 1, 100)
                .write(o, p)
                .unwrap()
        }),
        Box::new(|p, o| {
            eth()
                .ipv6(V6_A, V6_B, 64)
                .icmpv6_echo_request(1, 2)
                .write(o, p)
                .unwrap()
        }),
    ];
    builders.into_iter().map(|b| frame(b, b"payload")).collect()
}

fn filters() -> Vec<Filter> {
    let hosts = [
        None,
        Some(IpAddr::V4(Ipv4Addr::from(V4_A))),
        Some(IpAddr::V4(Ipv4Addr::from(V4_B))),
        Some(IpAddr::V6(Ipv6Addr::from(V6_A))),
        Some(IpAddr::V6(Ipv6Addr::from(V6_B))),
    ];
    let protos = [None, Some(Proto::Tcp), Some(Proto::Udp), Some(Proto::Icmp)];
    let ports = [None, Some(65432), Some(5000), Some(53), Some(1)];
    let mut all = Vec::new();
    for host in hosts {
        for proto in protos {
            for port in ports {
                all.push(Filter { port, host, proto });
            }
        }
    }
    all
}

#[test]
fn programs_agree_with_matches() {
    let frames = frames();
    let mut kept = 0;
    for filter in filters() {
        let program = compile(&filter, true);
        for frame in &frames {
            let packet = decode(
                LinkType::Ethernet,
                frame,
                Duration::ZERO,
                frame.len() as u32,
            );
            let expected = filter.matches(&packet);
            assert_eq!(
                run(&program, frame, 0) != 0,
                expected,
                "{filter:?} on {packet:?}"
            );
            kept += usize::from(expected);
        }
    }
    // The table is not trivially all-yes or all-no.
    assert!(kept > 100 && kept < 1000, "kept {kept}");
}

#[test]
fn loopback_keeps_one_copy_whole() {
    let frame = &frames()[0];
    let program = compile(&Filter::default(), true);
    assert_eq!(run(&program, frame, 0), ACCEPT);
    assert_eq!(run(&program, frame, PACKET_OUTGOING), 0);
    let ethernet = compile(&Filter::default(), false);
    assert_eq!(run(&ethernet, frame, PACKET_OUTGOING), ACCEPT);
}

#[test]
fn a_later_fragment_has_no_ports() {
    let mut frame = frames()[0].clone();
    frame[20] = 0x00;
    frame[21] = 0x10; // fragment offset 16 (x8 bytes): no TCP header here
    let port = Filter {
        port: Some(65432),
        ..Filter::default()
    };
    assert_eq!(run(&compile(&port, true), &frame, 0), 0);
}

#[test]
fn short_frames_are_rejected_not_read_past() {
    let filter = Filter {
        port: Some(65432),
        ..Filter::default()
    };
    let program = compile(&filter, true);
    let frame = &frames()[0];
    // Ethernet 14 + IPv4 20 + the two ports 4: from 38 bytes on it matches.
    for len in 0..38 {
        assert_eq!(run(&program, &frame[..len], 0), 0, "{len} bytes");
    }
}
