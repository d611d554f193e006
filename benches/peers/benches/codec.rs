//! The codec side by side: ringrpc, pilota and the Apache `thrift` crate on the same
//! messages (64-byte echo, 1 KiB string, nested complex), Binary and Compact, encode and
//! decode. Run: `scripts/codec-bench.sh` (rounds, ratios and verdicts; table: benches/README.md).

use std::hint::black_box;

use bytes::{Bytes, BytesMut};
use criterion::{
    BenchmarkGroup, Criterion, criterion_group, criterion_main, measurement::WallTime,
};
use ringrpc_bench::messages;
use ringrpc_bench_peers::codecs::*;
use ringrpc_bench_peers::{apache, pilota_types as p, to_apache, to_pilota};
use ringrpc_codec::{Binary, Compact, Decode, Encode, Protocol};

struct Case<'a, T, PT, AT> {
    /// pilota 0.13's compact reader fails on the complex message (tests/cross_check.rs).
    pilota_compact_decodes: bool,
    ours: &'a T,
    pilota: &'a PT,
    apache: &'a AT,
}

fn run<P, T, PT, AT>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    wire: Wire,
    case: &Case<'_, T, PT, AT>,
) where
    P: Protocol,
    T: Encode + Decode,
    PT: pilota::thrift::Message,
    AT: thrift::protocol::TSerializable,
{
    let name = match wire {
        Wire::Binary => "binary",
        Wire::Compact => "compact",
    };
    let encoded: Bytes = ringrpc_encode::<P, T>(case.ours);
    let size = encoded.len();
    // Encode: size, then write into a buffer reused across iterations — the steady state
    // of a server writing into pooled buffers, so the numbers measure the codec, not malloc.
    let mut buf = BytesMut::with_capacity(size);
    group.bench_function(format!("{name}/encode/ringrpc"), |b| {
        b.iter(|| ringrpc_encode_into::<P, T>(black_box(case.ours), &mut buf))
    });
    group.bench_function(format!("{name}/encode/pilota"), |b| {
        b.iter(|| pilota_encode_into(black_box(case.pilota), wire, &mut buf))
    });
    let mut vec = Vec::with_capacity(size);
    group.bench_function(format!("{name}/encode/thrift"), |b| {
        b.iter(|| apache_encode_into(black_box(case.apache), wire, &mut vec))
    });
    group.bench_function(format!("{name}/decode/ringrpc"), |b| {
        b.iter(|| ringrpc_decode::<P, T>(black_box(&encoded)))
    });
    if wire == Wire::Binary || case.pilota_compact_decodes {
        group.bench_function(format!("{name}/decode/pilota"), |b| {
            b.iter(|| pilota_decode::<PT>(black_box(&encoded), wire))
        });
    }
    group.bench_function(format!("{name}/decode/thrift"), |b| {
        b.iter(|| apache_decode::<AT>(black_box(&encoded), wire))
    });
}

fn message<T, PT, AT>(c: &mut Criterion, name: &str, case: Case<'_, T, PT, AT>)
where
    T: Encode + Decode,
    PT: pilota::thrift::Message,
    AT: thrift::protocol::TSerializable,
{
    let mut group = c.benchmark_group(name);
    run::<Binary, _, _, _>(&mut group, Wire::Binary, &case);
    run::<Compact, _, _, _>(&mut group, Wire::Compact, &case);
    group.finish();
}

fn codec(c: &mut Criterion) {
    for (name, echo) in [
        ("echo_64b", messages::echo_64b()),
        ("string_1k", messages::string_1k()),
    ] {
        let (pilota, apache): (p::Echo, apache::Echo) =
            (to_pilota::echo(&echo), to_apache::echo(&echo));
        message(
            c,
            name,
            Case {
                pilota_compact_decodes: true,
                ours: &echo,
                pilota: &pilota,
                apache: &apache,
            },
        );
    }
    let complex = messages::complex();
    let (pilota, apache) = (to_pilota::complex(&complex), to_apache::complex(&complex));
    message(
        c,
        "complex",
        Case {
            pilota_compact_decodes: false,
            ours: &complex,
            pilota: &pilota,
            apache: &apache,
        },
    );
}

criterion_group!(benches, codec);
criterion_main!(benches);
