//! The bodies of the fuzz targets (`codec/fuzz`), shared with `tests/fuzz_seeds.rs` so CI
//! replays the seed corpora through exactly the code the fuzzers ran. Each must never
//! panic, whatever the input; where decoding succeeds, re-encoding must be stable.
#![allow(dead_code, missing_docs, unreachable_pub)]

use ringrpc_codec::frame::{self, FrameDecoder};
use ringrpc_codec::{
    Binary, Blob, BytesMut, Compact, Decode, DecodeLimits, Encode, Protocol, ProtocolId,
    ProtocolReader, TType, from_bytes, to_bytes,
};

use super::types::*;

/// Decode as `T`; if that works, encode → decode → encode must give the same bytes.
fn stable<P: Protocol, T: Encode + Decode>(bytes: &Blob) {
    if let Ok(v) = from_bytes::<P, T>(bytes) {
        let once = to_bytes::<P, _>(&v).expect("a decoded value re-encodes");
        assert_eq!(once.len(), v.encoded_len::<P>(), "encoded_len is exact");
        let again: T = from_bytes::<P, _>(&once).expect("re-encoded bytes decode");
        assert_eq!(
            to_bytes::<P, _>(&again).expect("re-encodes"),
            once,
            "stable re-encoding"
        );
    }
}

/// A server's view of one payload: message header, then the arguments by method name.
fn message<P: Protocol>(bytes: &Blob, limits: DecodeLimits) {
    let mut r = P::reader(bytes, limits);
    let Ok(header) = r.read_message_begin() else {
        return;
    };
    let body = bytes.slice(r.position()..);
    match header.name.as_str() {
        "primitives" => stable::<P, PrimitivesArgs>(&body),
        "containers" => stable::<P, ContainersArgs>(&body),
        "holder" => stable::<P, HolderArgs>(&body),
        "choice" => stable::<P, ChoiceArgs>(&body),
        _ => {
            let _ = r.skip(TType::Struct);
        }
    }
}

/// Every typed decode path of protocol `P` over `data`.
pub fn protocol<P: Protocol>(data: &[u8]) {
    let bytes = Blob::copy_from_slice(data);
    message::<P>(&bytes, DecodeLimits::default());
    message::<P>(
        &bytes,
        DecodeLimits::default()
            .with_max_depth(4)
            .with_max_string_len(8),
    );
    stable::<P, Primitives>(&bytes);
    stable::<P, Containers>(&bytes);
    stable::<P, Holder>(&bytes);
    stable::<P, Choice>(&bytes);
    stable::<P, VersioningV2>(&bytes);
    stable::<P, ListTypeV2>(&bytes);
    stable::<P, NegativeIds>(&bytes);
    stable::<P, WithUuid>(&bytes);
    stable::<P, Node>(&bytes);
    let mut r = P::reader(&bytes, DecodeLimits::default());
    let _ = r.skip(TType::Struct);
}

/// Binary protocol target.
pub fn binary(data: &[u8]) {
    protocol::<Binary>(data);
}

/// Compact protocol target.
pub fn compact(data: &[u8]) {
    protocol::<Compact>(data);
}

/// A server connection: dialect detection, frame splitting (whole and in two chunks), then
/// each payload's message through the detected protocol.
pub fn frames(data: &[u8]) {
    let limits = DecodeLimits::default().with_max_frame_len(1 << 16);
    let split = data.first().map_or(0, |&b| b as usize % (data.len() + 1));
    let mut decoder = FrameDecoder::new(limits);
    let mut buf = BytesMut::new();
    for chunk in [&data[..split], &data[split..]] {
        buf.extend_from_slice(chunk);
        for _ in 0..64 {
            match decoder.decode(&mut buf) {
                Ok(Some(frame)) => match frame.dialect.protocol {
                    ProtocolId::Binary => message::<Binary>(&frame.payload, limits),
                    ProtocolId::Compact => message::<Compact>(&frame.payload, limits),
                },
                Ok(None) | Err(_) => break,
            }
        }
    }
}

/// Dialect detection and frame length over arbitrary bytes.
pub fn detect(data: &[u8]) {
    if let Ok(Some(dialect)) = frame::detect(data)
        && let Ok(Some(len)) = frame::frame_len(dialect, data, DecodeLimits::default())
    {
        assert!(len <= data.len(), "a frame length never exceeds the input");
        let _ = frame::decode_frame(
            dialect,
            Blob::copy_from_slice(&data[..len]),
            DecodeLimits::default(),
        );
    }
}

/// THeader and TTHeader (and plain framed/unframed) frames with the dialect fixed by the
/// first byte, so the fuzzer works on header parsing without getting past detection. A
/// header that decodes must encode again and decode to the same header.
pub fn headers(data: &[u8]) {
    use ringrpc_codec::MessageHeader;
    use ringrpc_codec::frame::{Dialect, Framing, decode_frame, encode_frame, frame_len};

    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let framing = match pick % 4 {
        0 => Framing::THeader,
        1 => Framing::TTHeader,
        2 => Framing::Framed,
        _ => Framing::Unframed,
    };
    let protocol = if pick & 4 == 0 {
        ProtocolId::Binary
    } else {
        ProtocolId::Compact
    };
    let dialect = Dialect::new(framing, protocol);
    let limits = DecodeLimits::default().with_max_frame_len(1 << 16);
    let Ok(Some(len)) = frame_len(dialect, rest, limits) else {
        return;
    };
    assert!(len <= rest.len(), "a frame length never exceeds the input");
    let Ok(frame) = decode_frame(dialect, Blob::copy_from_slice(&rest[..len]), limits) else {
        return;
    };
    assert!(
        frame.payload.len() <= len,
        "the payload lies inside the frame"
    );
    let Some(header) = frame.header else {
        return;
    };
    let message = MessageHeader {
        name: "m".into(),
        kind: ringrpc_codec::MessageType::Call,
        seq_id: header.seq_id,
    };
    let mut out = BytesMut::new();
    let encoded = match frame.dialect.protocol {
        ProtocolId::Binary => {
            encode_frame::<Binary, _, _>(framing, Some(&header), &message, &(), &mut out)
        }
        ProtocolId::Compact => {
            encode_frame::<Compact, _, _>(framing, Some(&header), &message, &(), &mut out)
        }
    };
    if encoded.is_err() {
        return;
    }
    let again = decode_frame(frame.dialect, out.freeze(), DecodeLimits::default())
        .expect("a re-encoded header decodes");
    assert_eq!(again.header.as_ref(), Some(&header), "headers round-trip");
}
