//! The proxy API's request head finder and its toxic JSON must never panic,
//! and a head it finds must lie within the input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use socklab::proxy::{Toxic, api};

fuzz_target!(|data: &[u8]| {
    if let Ok(Some(head)) = api::parse_head(data) {
        assert!(head.head_len <= data.len());
        assert!(head.body_len <= api::MAX_BODY);
    }
    if let Ok(value) = serde_json::from_slice(data) {
        if let Ok(toxic) = Toxic::from_json(value) {
            assert!((0.0..=1.0).contains(&toxic.toxicity));
            let _ = toxic.updated(serde_json::json!({"attributes": {}}));
        }
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = Toxic::parse(text);
        let _ = socklab::proxy::netem::DirectedFault::parse(text);
    }
});
