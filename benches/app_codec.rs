//! Encode and decode speed of the app protocol's codec (SPEC §7), for a
//! search request (small) and a binary message with 64 KiB of content.
//!
//! ```text
//! cargo bench --bench app_codec     # measures
//! cargo test --all-targets          # runs each benchmark once, as a test
//! ```

use std::hint::black_box;

use bytes::BytesMut;
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use socklab::app::{Message, MessageCodec};
use tokio_util::codec::{Decoder, Encoder};

fn messages() -> [(&'static str, Message); 2] {
    [
        ("small", Message::search("\u{1f436}").with_keep_alive(true)),
        ("64KiB", Message::binary(vec![0xa5u8; 64 * 1024])),
    ]
}

fn encode(c: &mut Criterion) {
    let mut group = c.benchmark_group("encode");
    for (name, message) in messages() {
        let mut codec = MessageCodec::default();
        let mut out = BytesMut::new();
        codec.encode(&message, &mut out).expect("encodes");
        group.throughput(Throughput::Bytes(out.len() as u64));
        group.bench_function(name, |b| {
            b.iter(|| {
                out.clear();
                codec
                    .encode(black_box(&message), &mut out)
                    .expect("encodes");
                black_box(out.len())
            })
        });
    }
    group.finish();
}

fn decode(c: &mut Criterion) {
    let mut group = c.benchmark_group("decode");
    for (name, message) in messages() {
        let mut codec = MessageCodec::default();
        let mut wire = BytesMut::new();
        codec.encode(&message, &mut wire).expect("encodes");
        group.throughput(Throughput::Bytes(wire.len() as u64));
        group.bench_function(name, |b| {
            b.iter_batched_ref(
                || wire.clone(),
                |input| codec.decode(input).expect("decodes").expect("whole"),
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, encode, decode);
criterion_main!(benches);
