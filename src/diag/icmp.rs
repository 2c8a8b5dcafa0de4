//! ICMP (RFC 792) echo packets: building requests, parsing replies and the
//! errors that name a failed echo by type and code.
//!
//! ```text
//! 0        8        16                31
//! +--------+--------+-----------------+
//! |  type  |  code  |    checksum     |   echo request 8/0, echo reply 0/0
//! +--------+--------+-----------------+
//! |   identifier    |    sequence     |
//! +-----------------+-----------------+
//! |  payload ...                      |   an error (3/x, 11/x) carries the
//! +-----------------------------------+   offending IP header + 8 bytes instead
//! ```

use std::net::Ipv4Addr;

/// Echo reply type.
pub const ECHO_REPLY: u8 = 0;
/// Echo request type.
pub const ECHO_REQUEST: u8 = 8;
/// Destination unreachable type.
pub const DEST_UNREACHABLE: u8 = 3;
/// Time exceeded type.
pub const TIME_EXCEEDED: u8 = 11;
/// Size of the ICMP header.
pub const HEADER_LEN: usize = 8;

/// The Internet checksum: one's complement of the one's complement sum of
/// 16-bit big-endian words, an odd last byte padded with zero.
pub fn checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = data
        .chunks(2)
        .map(|pair| u32::from(u16::from_be_bytes([pair[0], *pair.get(1).unwrap_or(&0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    // The fold above leaves at most 16 bits.
    !(sum as u16)
}

/// An echo request with its checksum filled in.
pub fn echo_request(id: u16, seq: u16, payload: &[u8]) -> Vec<u8> {
    let mut packet = Vec::with_capacity(HEADER_LEN + payload.len());
    packet.extend_from_slice(&[ECHO_REQUEST, 0, 0, 0]);
    packet.extend_from_slice(&id.to_be_bytes());
    packet.extend_from_slice(&seq.to_be_bytes());
    packet.extend_from_slice(payload);
    let sum = checksum(&packet);
    packet[2..4].copy_from_slice(&sum.to_be_bytes());
    packet
}

/// What an incoming ICMP message means to a pinger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message<'a> {
    /// An answer to one of our echo requests.
    EchoReply {
        /// The identifier it echoes.
        id: u16,
        /// The sequence number it echoes.
        seq: u16,
        /// The payload it echoes.
        payload: &'a [u8],
    },
    /// An error about an echo request (its identifier and sequence inside).
    Error {
        /// ICMP type (3 destination unreachable, 11 time exceeded, …).
        kind: u8,
        /// ICMP code within the type.
        code: u8,
        /// Identifier of the request that failed.
        id: u16,
        /// Sequence of the request that failed.
        seq: u16,
    },
    /// Anything else: other people's traffic, our own requests on a raw socket.
    Other,
}

/// Parses an ICMP message (starting at the ICMP header); `None` when it is
/// truncated or its checksum is wrong.
pub fn parse(packet: &[u8]) -> Option<Message<'_>> {
    if packet.len() < HEADER_LEN || checksum(packet) != 0 {
        return None;
    }
    let (kind, code) = (packet[0], packet[1]);
    let id = u16::from_be_bytes([packet[4], packet[5]]);
    let seq = u16::from_be_bytes([packet[6], packet[7]]);
    match kind {
        ECHO_REPLY => Some(Message::EchoReply {
            id,
            seq,
            payload: &packet[HEADER_LEN..],
        }),
        DEST_UNREACHABLE | TIME_EXCEEDED => {
            // The quoted datagram: the original IPv4 header, then the first
            // eight bytes of what it carried (our echo request's header).
            let (_, quoted) = split_ipv4(&packet[HEADER_LEN..])?;
            if quoted.len() < HEADER_LEN || quoted[0] != ECHO_REQUEST {
                return Some(Message::Other);
            }
            Some(Message::Error {
                kind,
                code,
                id: u16::from_be_bytes([quoted[4], quoted[5]]),
                seq: u16::from_be_bytes([quoted[6], quoted[7]]),
            })
        }
        _ => Some(Message::Other),
    }
}

/// The fields of an IPv4 header a pinger reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Header {
    /// Time to live on arrival.
    pub ttl: u8,
    /// Who sent the datagram.
    pub source: Ipv4Addr,
}

/// Splits an IPv4 datagram (as a raw socket delivers it) into header fields
/// and payload; `None` when it is not a whole IPv4 header.
pub fn split_ipv4(datagram: &[u8]) -> Option<(Ipv4Header, &[u8])> {
    let first = *datagram.first()?;
    let header_len = usize::from(first & 0x0f) * 4;
    if first >> 4 != 4 || header_len < 20 || datagram.len() < header_len {
        return None;
    }
    let header = Ipv4Header {
        ttl: datagram[8],
        source: Ipv4Addr::new(datagram[12], datagram[13], datagram[14], datagram[15]),
    };
    Some((header, &datagram[header_len..]))
}

/// Names an ICMP type and code as the texts' table does, e.g.
/// `Destination Unreachable: Port Unreachable (type 3, code 3)`.
pub fn describe(kind: u8, code: u8) -> String {
    let name = match (kind, code) {
        (ECHO_REPLY, _) => "Echo Reply",
        (ECHO_REQUEST, _) => "Echo Request",
        (DEST_UNREACHABLE, 0) => "Destination Unreachable: Network Unreachable",
        (DEST_UNREACHABLE, 1) => "Destination Unreachable: Host Unreachable",
        (DEST_UNREACHABLE, 2) => "Destination Unreachable: Protocol Unreachable",
        (DEST_UNREACHABLE, 3) => "Destination Unreachable: Port Unreachable",
        (DEST_UNREACHABLE, 4) => {
            "Destination Unreachable: Fragmentation Needed and Don't Fragment was Set"
        }
        (DEST_UNREACHABLE, 6) => "Destination Unreachable: Destination Network Unknown",
        (DEST_UNREACHABLE, 7) => "Destination Unreachable: Destination Host Unknown",
        (DEST_UNREACHABLE, 13) => {
            "Destination Unreachable: Communication Administratively Prohibited"
        }
        (DEST_UNREACHABLE, _) => "Destination Unreachable",
        (TIME_EXCEEDED, 0) => "Time Exceeded: Time to Live exceeded in Transit",
        (TIME_EXCEEDED, 1) => "Time Exceeded: Fragment Reassembly Time Exceeded",
        (TIME_EXCEEDED, _) => "Time Exceeded",
        _ => "ICMP message",
    };
    format!("{name} (type {kind}, code {code})")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal IPv4 header (no options) carrying `payload`.
    fn ipv4(ttl: u8, source: [u8; 4], payload: &[u8]) -> Vec<u8> {
        let mut d = vec![0x45, 0, 0, 0, 0, 0, 0, 0, ttl, 1, 0, 0];
        d.extend_from_slice(&source);
        d.extend_from_slice(&[127, 0, 0, 1]);
        d.extend_from_slice(payload);
        d
    }

    #[test]
    fn checksum_matches_rfc1071_example() {
        // RFC 1071 §3: the words 0001 f203 f4f5 f6f7 sum to ddf2, whose
        // complement is 220d.
        assert_eq!(
            checksum(&[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]),
            0x220d
        );
        assert_eq!(checksum(&[0xff]), 0x00ff);
    }

    #[test]
    fn a_request_verifies_and_a_reply_parses() {
        let mut packet = echo_request(0x1234, 7, b"abc");
        assert_eq!(
            checksum(&packet),
            0,
            "a packet with its checksum sums to zero"
        );
        // Turn it into the reply a host would send: type 0, checksum redone.
        packet[0] = ECHO_REPLY;
        packet[2..4].copy_from_slice(&[0, 0]);
        let sum = checksum(&packet);
        packet[2..4].copy_from_slice(&sum.to_be_bytes());
        assert_eq!(
            parse(&packet),
            Some(Message::EchoReply {
                id: 0x1234,
                seq: 7,
                payload: b"abc"
            })
        );
        packet[9] ^= 1;
        assert_eq!(parse(&packet), None, "a corrupted packet is dropped");
    }

    #[test]
    fn an_error_names_the_request_it_quotes() {
        let request = echo_request(0x1234, 9, b"payload!");
        let quoted = ipv4(64, [127, 0, 0, 1], &request[..8]);
        let mut error = vec![DEST_UNREACHABLE, 3, 0, 0, 0, 0, 0, 0];
        error.extend_from_slice(&quoted);
        let sum = checksum(&error);
        error[2..4].copy_from_slice(&sum.to_be_bytes());
        assert_eq!(
            parse(&error),
            Some(Message::Error {
                kind: 3,
                code: 3,
                id: 0x1234,
                seq: 9
            })
        );
        assert_eq!(
            describe(3, 3),
            "Destination Unreachable: Port Unreachable (type 3, code 3)"
        );
        assert_eq!(
            describe(11, 0),
            "Time Exceeded: Time to Live exceeded in Transit (type 11, code 0)"
        );
    }

    #[test]
    fn ipv4_header_fields() {
        let d = ipv4(63, [10, 0, 0, 1], b"x");
        let (header, rest) = split_ipv4(&d).expect("valid header");
        assert_eq!(
            header,
            Ipv4Header {
                ttl: 63,
                source: Ipv4Addr::new(10, 0, 0, 1)
            }
        );
        assert_eq!(rest, b"x");
        assert_eq!(split_ipv4(&d[..10]), None);
    }
}
