//! Decoding `string` and `binary` fields allocates nothing: they are views into the input.
//! A counting global allocator proves it (this test binary has only this test, so no
//! other thread allocates while it counts).

mod support;

use ringrpc_codec::{
    Binary, Blob, BytesStr, Compact, Decode, DecodeLimits, Protocol, ProtocolReader,
};
use support::counting_alloc::{Counting, allocations_during};
use support::types::*;

#[global_allocator]
static GLOBAL: Counting = Counting;

fn check<P: Protocol>() {
    let value = PrimitivesArgs {
        p: Primitives {
            s: BytesStr::from("a string field of some length, 世界"),
            bin: Blob::from(vec![7u8; 300]),
            i64v: 1 << 40,
            ..Primitives::default()
        },
    };
    let encoded = ringrpc_codec::to_bytes::<P, _>(&value).unwrap();
    // A buffer as the runtime hands it over: already shared (a pool slot or a clone of a
    // read buffer), so views are reference-count bumps.
    let shared = Blob::from(encoded.clone());
    let (count, decoded) = allocations_during(|| {
        let mut r = P::reader(&shared, DecodeLimits::default());
        let v = PrimitivesArgs::decode(&mut r).unwrap();
        r.finish().unwrap();
        v
    });
    assert_eq!(
        count,
        0,
        "{:?}: decoding string/binary fields allocated",
        P::ID
    );
    assert_eq!(decoded, value);
    assert!(shared.as_ptr_range().contains(&decoded.p.s.as_ptr()));

    // From `Bytes`, read in place (no clone of the input, no conversion): views too.
    let (count, decoded) =
        allocations_during(|| ringrpc_codec::from_bytes::<P, PrimitivesArgs>(&encoded).unwrap());
    assert_eq!(count, 0, "{:?}: decoding from &Bytes allocated", P::ID);
    assert_eq!(decoded, value);
    assert!(encoded.as_ptr_range().contains(&decoded.p.bin.as_ptr()));

    // Message headers too: the method name is a view.
    let mut framed = Vec::new();
    {
        use ringrpc_codec::ProtocolWriter;
        let mut w = P::writer(&mut framed);
        w.write_message_begin("echo", ringrpc_codec::MessageType::Call, 1)
            .unwrap();
    }
    let framed = Blob::from(framed);
    let shared = framed.clone();
    let (count, _) = allocations_during(|| {
        P::reader(&shared, DecodeLimits::default())
            .read_message_begin()
            .unwrap()
    });
    assert_eq!(count, 0, "{:?}: decoding a message header allocated", P::ID);
}

#[test]
fn string_and_binary_fields_decode_without_allocating() {
    check::<Binary>();
    check::<Compact>();
}
