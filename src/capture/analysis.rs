//! TCP sequence analysis, as Wireshark's (its user guide, "TCP Analysis"):
//! per-flow state that turns absolute numbers into relative ones, scales
//! windows once the handshake shows the shift counts, and marks what a
//! learner should notice.
//!
//! ```text
//! Retransmission    data, SYN or FIN whose sequence number is below the next expected
//! Keep-Alive        0 or 1 byte at one below the next expected, no SYN/FIN/RST
//! ZeroWindowProbe   1 byte at the next expected while the peer's window is 0
//! ZeroWindow        window 0, no SYN/FIN/RST
//! Window Update     no data, window changed, seq and ack as before
//! Dup ACK F#N       no data, window unchanged and non-zero, seq and ack as before
//! ```
//! The flow table is bounded ([`Analyzer::new`]'s `max_flows`): a new flow
//! past it evicts the oldest, whose later segments are then numbered afresh,
//! as for a capture that started mid-stream.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;

use super::decode::{Flags, Tcp, TcpOption};

/// Flows tracked by default: far more than a loopback exercise opens, small
/// enough (about 200 bytes each, 3 MiB at the cap) to stay put under a port scan.
pub const DEFAULT_MAX_FLOWS: usize = 16 * 1024;

/// Something the analysis noticed about a segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    /// Data, SYN or FIN sent again.
    Retransmission,
    /// A keep-alive probe.
    KeepAlive,
    /// One byte sent into a zero window.
    ZeroWindowProbe,
    /// The receiver's buffer is full.
    ZeroWindow,
    /// The window changed and nothing else did.
    WindowUpdate,
    /// The same acknowledgment again: first seen in `frame`, repeated `count` times.
    DupAck {
        /// The frame that first carried this acknowledgment.
        frame: u64,
        /// How many duplicates so far.
        count: u32,
    },
}

/// What the analysis says about one segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpAnalysis {
    /// Sequence number relative to the sender's initial one.
    pub seq: u32,
    /// Acknowledgment number relative to the receiver's, when ACK is set.
    pub ack: Option<u32>,
    /// The window in bytes: scaled when the handshake was seen, else as sent.
    pub window: u32,
    /// SACK blocks, relative to the receiver's initial sequence number.
    pub sack: Vec<(u32, u32)>,
    /// What to point out, in the order tshark shows it.
    pub marks: Vec<Mark>,
}

/// A flow's two endpoints, lower first, so both directions share one entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct FlowKey {
    low: (IpAddr, u16),
    high: (IpAddr, u16),
}

/// One direction of a flow.
#[derive(Debug, Clone, Copy, Default)]
struct Half {
    /// The sequence number that reads as 0 (the SYN's, or one below the first seen).
    base: Option<u32>,
    /// The next sequence number expected from this side.
    next_seq: Option<u32>,
    /// The last acknowledgment this side sent.
    last_ack: Option<u32>,
    /// The frame that first carried `last_ack`, and how often it came again.
    ack_frame: u64,
    dups: u32,
    /// The last window this side advertised, in bytes.
    window: Option<u32>,
    /// This side's SYN was seen, with its window scale option if any.
    syn: Option<Option<u8>>,
}

/// Per-flow TCP state for a capture, bounded in size.
#[derive(Debug)]
pub struct Analyzer {
    flows: HashMap<FlowKey, [Half; 2]>,
    order: VecDeque<FlowKey>,
    max_flows: usize,
}

impl Default for Analyzer {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_FLOWS)
    }
}

impl Analyzer {
    /// An empty table that tracks at most `max_flows` flows (at least one).
    pub fn new(max_flows: usize) -> Self {
        Self {
            flows: HashMap::new(),
            order: VecDeque::new(),
            max_flows: max_flows.max(1),
        }
    }

    /// Flows tracked now.
    pub fn flows(&self) -> usize {
        self.flows.len()
    }

    /// Analyses segment `frame` (its number in the capture) from `src` to `dst`.
    pub fn analyse(&mut self, frame: u64, src: IpAddr, dst: IpAddr, tcp: &Tcp) -> TcpAnalysis {
        let from = (src, tcp.src_port);
        let to = (dst, tcp.dst_port);
        let (key, side) = if from <= to {
            (
                FlowKey {
                    low: from,
                    high: to,
                },
                0,
            )
        } else {
            (
                FlowKey {
                    low: to,
                    high: from,
                },
                1,
            )
        };
        let halves = self.entry(key);
        let (me, peer) = split(halves, side);
        segment(frame, me, peer, tcp)
    }

    fn entry(&mut self, key: FlowKey) -> &mut [Half; 2] {
        if !self.flows.contains_key(&key) {
            if self.flows.len() >= self.max_flows
                && let Some(oldest) = self.order.pop_front()
            {
                self.flows.remove(&oldest);
            }
            self.order.push_back(key);
        }
        self.flows.entry(key).or_default()
    }
}

fn split(halves: &mut [Half; 2], side: usize) -> (&mut Half, &mut Half) {
    let [low, high] = halves;
    if side == 0 { (low, high) } else { (high, low) }
}

/// `a` comes before `b` in sequence space (RFC 1982 arithmetic).
fn before(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) < 0
}

fn segment(frame: u64, me: &mut Half, peer: &mut Half, tcp: &Tcp) -> TcpAnalysis {
    let flags = tcp.flags;
    let syn = flags.has(Flags::SYN);
    let control = flags.any(Flags::SYN | Flags::FIN | Flags::RST);
    let has_ack = flags.has(Flags::ACK);
    if syn && !has_ack && me.base.is_some_and(|base| base != tcp.seq) {
        // A new connection on the same ports: forget the old one.
        *me = Half::default();
        *peer = Half::default();
    }
    if syn {
        let scale = tcp.options.iter().find_map(|option| match option {
            TcpOption::WindowScale(shift) => Some(*shift),
            _ => None,
        });
        me.syn = Some(scale);
        me.base = Some(tcp.seq);
    }
    let base = *me.base.get_or_insert(tcp.seq.wrapping_sub(1));
    if has_ack && peer.base.is_none() {
        peer.base = Some(tcp.ack.wrapping_sub(1));
    }
    let peer_base = peer.base.unwrap_or(0);
    let window = scaled_window(me, peer, tcp.window, syn);

    let mut marks = Vec::new();
    let mut advances = true;
    if let Some(next) = me.next_seq {
        if tcp.len <= 1 && !control && tcp.seq == next.wrapping_sub(1) {
            marks.push(Mark::KeepAlive);
            advances = false;
        } else if tcp.len == 1 && !control && tcp.seq == next && peer.window == Some(0) {
            marks.push(Mark::ZeroWindowProbe);
        } else if (tcp.len > 0 || flags.any(Flags::SYN | Flags::FIN)) && before(tcp.seq, next) {
            marks.push(Mark::Retransmission);
            advances = false;
        }
    }
    let unchanged = tcp.len == 0
        && !control
        && me.next_seq == Some(tcp.seq)
        && has_ack
        && me.last_ack == Some(tcp.ack);
    if window == 0 && !control {
        marks.push(Mark::ZeroWindow);
    } else if unchanged && me.window.is_some_and(|last| last != window) {
        marks.push(Mark::WindowUpdate);
    } else if unchanged && me.window == Some(window) && marks.is_empty() {
        me.dups += 1;
        marks.push(Mark::DupAck {
            frame: me.ack_frame,
            count: me.dups,
        });
    }

    if advances {
        let end = tcp
            .seq
            .wrapping_add(tcp.len)
            .wrapping_add(u32::from(syn))
            .wrapping_add(u32::from(flags.has(Flags::FIN)));
        if me.next_seq.is_none_or(|next| before(next, end)) {
            me.next_seq = Some(end);
        }
    }
    if has_ack && me.last_ack != Some(tcp.ack) {
        me.last_ack = Some(tcp.ack);
        me.ack_frame = frame;
        me.dups = 0;
    }
    me.window = Some(window);

    let sack = tcp
        .options
        .iter()
        .filter_map(|option| match option {
            TcpOption::Sack(blocks) => Some(blocks),
            _ => None,
        })
        .flatten()
        .map(|(left, right)| (left.wrapping_sub(peer_base), right.wrapping_sub(peer_base)))
        .collect();
    TcpAnalysis {
        seq: tcp.seq.wrapping_sub(base),
        ack: has_ack.then(|| tcp.ack.wrapping_sub(peer_base)),
        window,
        sack,
        marks,
    }
}

/// RFC 7323: a SYN's window is never scaled; after both SYNs, each side's
/// window is shifted by its own count if both offered the option, else not
/// at all. Without the handshake the shift is unknown: the raw value.
fn scaled_window(me: &Half, peer: &Half, raw: u16, syn: bool) -> u32 {
    let raw = u32::from(raw);
    match (syn, me.syn, peer.syn) {
        (false, Some(Some(shift)), Some(Some(_))) => raw << shift.min(14),
        _ => raw,
    }
}

#[cfg(test)]
mod tests;
