//! Feeds arbitrary bytes to the ping reply parser, as a datagram socket
//! delivers them (the ICMP message) and as a raw one does (an IPv4 datagram
//! first): it must never panic, an echo reply's payload must be what follows
//! its header, and whatever parses has a valid checksum.
#![no_main]

use libfuzzer_sys::fuzz_target;
use socklab::diag::icmp::{self, Message};

fn check(message: &[u8]) {
    let Some(parsed) = icmp::parse(message) else {
        return;
    };
    assert_eq!(icmp::checksum(message), 0, "parsed despite a bad checksum");
    match parsed {
        Message::EchoReply { id, seq, payload } => {
            assert_eq!(payload, &message[icmp::HEADER_LEN..]);
            assert_eq!(message[0], icmp::ECHO_REPLY);
            assert_eq!([id.to_be_bytes(), seq.to_be_bytes()].concat(), message[4..8]);
        }
        Message::Error { kind, code, .. } => {
            assert!(matches!(kind, icmp::DEST_UNREACHABLE | icmp::TIME_EXCEEDED));
            assert!(!icmp::describe(kind, code).is_empty());
        }
        Message::Other => {}
    }
}

fuzz_target!(|data: &[u8]| {
    check(data);
    if let Some((_, message)) = icmp::split_ipv4(data) {
        assert!(message.len() + 20 <= data.len());
        check(message);
    }
});
