//! The analysis over hand-made segments, following the texts' tshark run.

use std::net::{IpAddr, Ipv4Addr};

use super::*;
use crate::capture::decode::Flags;

const HOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const CLIENT: u16 = 53942;
const SERVER: u16 = 65432;
const CLIENT_ISN: u32 = 1_000;
const SERVER_ISN: u32 = u32::MAX - 10; // wraps, as real ISNs may

struct Run {
    analyzer: Analyzer,
    frame: u64,
}

impl Run {
    fn new() -> Self {
        Self {
            analyzer: Analyzer::new(8),
            frame: 0,
        }
    }

    /// A segment from the client (`up`) or the server, relative numbers in.
    #[allow(clippy::too_many_arguments)] // a segment's fields, in tshark's order
    fn send(
        &mut self,
        up: bool,
        flags: u16,
        seq: u32,
        ack: u32,
        window: u16,
        len: u32,
        options: Vec<TcpOption>,
    ) -> TcpAnalysis {
        self.frame += 1;
        let (src_port, dst_port, isn, peer_isn) = if up {
            (CLIENT, SERVER, CLIENT_ISN, SERVER_ISN)
        } else {
            (SERVER, CLIENT, SERVER_ISN, CLIENT_ISN)
        };
        let tcp = Tcp {
            src_port,
            dst_port,
            seq: isn.wrapping_add(seq),
            ack: if flags & Flags::ACK != 0 {
                peer_isn.wrapping_add(ack)
            } else {
                0
            },
            flags: Flags(flags),
            window,
            len,
            options,
        };
        self.analyzer.analyse(self.frame, HOST, HOST, &tcp)
    }

    fn handshake(&mut self) {
        let syn = self.send(
            true,
            Flags::SYN,
            0,
            0,
            65535,
            0,
            vec![TcpOption::Mss(16344), TcpOption::WindowScale(5)],
        );
        assert_eq!((syn.seq, syn.ack, syn.window), (0, None, 65535));
        let syn_ack = self.send(
            false,
            Flags::SYN | Flags::ACK,
            0,
            1,
            65535,
            0,
            vec![TcpOption::WindowScale(5)],
        );
        assert_eq!(
            (syn_ack.seq, syn_ack.ack, syn_ack.window),
            (0, Some(1), 65535)
        );
        let ack = self.send(true, Flags::ACK, 1, 1, 12759, 0, vec![]);
        assert_eq!((ack.seq, ack.ack, ack.window), (1, Some(1), 408_288));
        assert!(ack.marks.is_empty());
    }
}

const ACK: u16 = Flags::ACK;
const PSH_ACK: u16 = Flags::PSH | Flags::ACK;
const FIN_ACK: u16 = Flags::FIN | Flags::ACK;

#[test]
fn the_texts_exchange_reads_as_tshark_read_it() {
    let mut run = Run::new();
    run.handshake();
    // 4: the server's first ACK widens its window: a window update.
    let update = run.send(false, ACK, 1, 1, 12759, 0, vec![]);
    assert_eq!(update.marks, vec![Mark::WindowUpdate]);
    assert_eq!(update.window, 408_288);
    let request = run.send(true, PSH_ACK, 1, 1, 12759, 146, vec![]);
    assert!(request.marks.is_empty());
    let acked = run.send(false, ACK, 1, 147, 12754, 0, vec![]);
    assert_eq!((acked.seq, acked.ack), (1, Some(147)));
    assert!(acked.marks.is_empty());
    let reply = run.send(false, PSH_ACK, 1, 147, 12754, 148, vec![]);
    assert!(reply.marks.is_empty());
    run.send(true, ACK, 147, 149, 12754, 0, vec![]);
    let fin = run.send(false, FIN_ACK, 149, 147, 12754, 0, vec![]);
    assert_eq!((fin.seq, fin.ack), (149, Some(147)));
    run.send(true, ACK, 147, 150, 12754, 0, vec![]);
    // 11: the server acknowledges 147 once more, as frame 6 first did.
    let dup = run.send(false, ACK, 150, 147, 12754, 0, vec![]);
    assert_eq!(dup.marks, vec![Mark::DupAck { frame: 6, count: 1 }]);
    let client_fin = run.send(true, FIN_ACK, 147, 150, 12754, 0, vec![]);
    assert!(client_fin.marks.is_empty());
    let last = run.send(false, ACK, 150, 148, 12754, 0, vec![]);
    assert_eq!((last.seq, last.ack), (150, Some(148)));
    assert!(last.marks.is_empty());
}

#[test]
fn a_full_receiver_shows_a_zero_window() {
    let mut run = Run::new();
    run.handshake();
    run.send(true, PSH_ACK, 1, 1, 12759, 1000, vec![]);
    let full = run.send(false, ACK, 1, 1001, 0, 0, vec![]);
    assert_eq!(full.marks, vec![Mark::ZeroWindow]);
    assert_eq!(full.window, 0);
    // Linux probes a zero window one below the next byte: a keep-alive.
    let probe = run.send(true, ACK, 1000, 1, 12759, 0, vec![]);
    assert_eq!(probe.marks, vec![Mark::KeepAlive]);
    let probe = run.send(true, ACK, 1001, 1, 12759, 1, vec![]);
    assert_eq!(probe.marks, vec![Mark::ZeroWindowProbe]);
    // Reading resumes: the window opens again.
    let open = run.send(false, ACK, 1, 1001, 100, 0, vec![]);
    assert_eq!(open.marks, vec![Mark::WindowUpdate]);
}

#[test]
fn data_sent_again_is_a_retransmission() {
    let mut run = Run::new();
    run.handshake();
    let first = run.send(true, PSH_ACK, 1, 1, 12759, 10, vec![]);
    assert!(first.marks.is_empty());
    let again = run.send(true, PSH_ACK, 1, 1, 12759, 10, vec![]);
    assert_eq!(again.marks, vec![Mark::Retransmission]);
    let next = run.send(true, PSH_ACK, 11, 1, 12759, 10, vec![]);
    assert!(next.marks.is_empty());
    let syn_again = run.send(true, Flags::SYN, 0, 0, 65535, 0, vec![]);
    assert_eq!(syn_again.marks, vec![Mark::Retransmission]);
}

#[test]
fn mid_stream_numbers_start_at_one_and_windows_stay_raw() {
    let mut run = Run::new();
    let first = run.send(true, PSH_ACK, 500, 700, 300, 5, vec![]);
    assert_eq!((first.seq, first.ack, first.window), (1, Some(1), 300));
    let reply = run.send(false, ACK, 700, 505, 300, 0, vec![]);
    assert_eq!((reply.seq, reply.ack), (1, Some(6)));
}

#[test]
fn sack_blocks_are_relative_to_the_receiver() {
    let mut run = Run::new();
    run.handshake();
    let blocks = vec![(CLIENT_ISN + 101, CLIENT_ISN + 201)];
    let sack = run.send(false, ACK, 1, 1, 12759, 0, vec![TcpOption::Sack(blocks)]);
    assert_eq!(sack.sack, vec![(101, 201)]);
}

#[test]
fn the_flow_table_is_bounded() {
    let mut analyzer = Analyzer::new(2);
    for port in 1..=5u16 {
        let tcp = Tcp {
            src_port: port,
            dst_port: 80,
            seq: 1,
            ack: 0,
            flags: Flags(Flags::SYN),
            window: 1,
            len: 0,
            options: vec![],
        };
        analyzer.analyse(u64::from(port), HOST, HOST, &tcp);
        assert!(analyzer.flows() <= 2);
    }
    assert_eq!(analyzer.flows(), 2);
}
