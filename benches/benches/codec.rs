//! ringrpc-codec micro-benchmarks: encode and decode of the bench messages in both
//! protocols. The same messages against pilota and the Apache `thrift` crate are in
//! `benches/peers` (see `benches/README.md`).

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use ringrpc_bench::messages::{self, Complex, Echo};
use ringrpc_codec::{Binary, BytesMut, Compact, Decode, Encode, Protocol, from_bytes, to_bytes};

fn encode<P: Protocol, T: Encode>(value: &T) -> BytesMut {
    let mut buf = BytesMut::with_capacity(value.encoded_len::<P>());
    let mut w = P::writer(&mut buf);
    value.encode(&mut w).expect("encodable");
    drop(w);
    buf
}

fn bench_message<T: Encode + Decode>(c: &mut Criterion, name: &str, value: &T) {
    let mut group = c.benchmark_group(name);
    fn one<P: Protocol, T: Encode + Decode>(
        group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
        proto: &str,
        value: &T,
    ) {
        let bytes = to_bytes::<P, _>(value).expect("encodable");
        group.bench_function(format!("{proto}/encode/ringrpc"), |b| {
            b.iter(|| encode::<P, T>(black_box(value)))
        });
        group.bench_function(format!("{proto}/decode/ringrpc"), |b| {
            b.iter(|| from_bytes::<P, T>(black_box(&bytes)).expect("decodable"))
        });
    }
    one::<Binary, T>(&mut group, "binary", value);
    one::<Compact, T>(&mut group, "compact", value);
    group.finish();
}

fn codec(c: &mut Criterion) {
    bench_message::<Echo>(c, "echo_64b", &messages::echo_64b());
    bench_message::<Echo>(c, "string_1k", &messages::string_1k());
    bench_message::<Complex>(c, "complex", &messages::complex());
}

criterion_group!(benches, codec);
criterion_main!(benches);
