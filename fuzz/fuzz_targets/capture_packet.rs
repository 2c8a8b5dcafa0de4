//! Feeds arbitrary frames to the capture decoder under every link type, then
//! to the TCP analysis and the line (with state kept across inputs and a
//! tiny flow table, so eviction and odd sequences meet), and the same bytes
//! to the pcap reader: none may panic, and a line always names its number.
#![no_main]

use std::sync::{LazyLock, Mutex};
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use socklab::capture::{Dissector, Filter, LinkType, PcapSource, Proto, decode};

static DISSECTOR: LazyLock<Mutex<Dissector>> = LazyLock::new(|| Mutex::new(Dissector::new(4)));

fuzz_target!(|data: &[u8]| {
    let mut dissector = DISSECTOR
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let filter = Filter {
        port: Some(65432),
        host: None,
        proto: Some(Proto::Tcp),
    };
    for link in [
        LinkType::Ethernet,
        LinkType::Null,
        LinkType::Raw,
        LinkType::LinuxSll,
    ] {
        let packet = decode(
            link,
            data,
            Duration::from_nanos(data.len() as u64),
            data.len() as u32,
        );
        let _ = filter.matches(&packet);
        let line = dissector.line(&packet);
        assert!(
            line.to_string()
                .trim_start()
                .starts_with(&line.number.to_string())
        );
    }
    // Only inputs that open like pcap: the reader allocates its 8 MB buffer
    // up front, which would otherwise dominate every run.
    let pcap = matches!(
        data.get(..4),
        Some(
            [0xa1, 0xb2, 0xc3, 0xd4]
                | [0xd4, 0xc3, 0xb2, 0xa1]
                | [0xa1, 0xb2, 0x3c, 0x4d]
                | [0x4d, 0x3c, 0xb2, 0xa1]
        )
    );
    if let Some(source) = pcap.then(|| PcapSource::new(data).ok()).flatten() {
        for packet in source.take(64) {
            match packet {
                Ok(packet) => {
                    let _ = dissector.line(&packet).to_string();
                }
                Err(_) => break,
            }
        }
    }
});
