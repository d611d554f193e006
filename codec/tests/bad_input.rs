//! The bad-input corpus of WIRE.md §4: every malformed input yields a typed error naming
//! what was wrong and where, without panicking and without allocating what it claims.

mod support;

use ringrpc_codec::frame::{self, Dialect, FrameDecoder, Framing, decode_frame, frame_len};
use ringrpc_codec::{
    Binary, Blob, BytesMut, Compact, Decode, DecodeError, DecodeErrorKind, DecodeLimits, Protocol,
    ProtocolId, ProtocolReader, ProtocolWriter, TType, from_bytes, from_bytes_with_limits,
    to_bytes,
};
use support::types::*;

fn message<P: Protocol>(bytes: &'static [u8]) -> DecodeError {
    let bytes = Blob::from_static(bytes);
    P::reader(&bytes, DecodeLimits::default())
        .read_message_begin()
        .unwrap_err()
}

fn kind(e: &DecodeError) -> &DecodeErrorKind {
    e.kind()
}

#[test]
fn binary_message_headers() {
    // Name length -1.
    let e = message::<Binary>(b"\x80\x01\x00\x01\xff\xff\xff\xff");
    assert_eq!(
        kind(&e),
        &DecodeErrorKind::NegativeLength {
            what: "message name",
            len: -1
        }
    );
    assert_eq!(e.offset(), 4);
    // A 2 GiB name in a 20-byte input.
    let e = message::<Binary>(b"\x80\x01\x00\x01\x7f\xff\xff\xffnamenamenamename");
    assert_eq!(
        kind(&e),
        &DecodeErrorKind::LimitExceeded {
            what: "message name",
            len: 0x7fff_ffff,
            limit: 16 << 20
        }
    );
    // Version 2.
    let e = message::<Binary>(b"\x80\x02\x00\x01\x00\x00\x00\x00");
    assert_eq!(
        kind(&e),
        &DecodeErrorKind::BadVersion {
            protocol: "binary",
            version: 0x8002
        }
    );
    // Message types 0 and 5, and a set high byte.
    for header in [
        b"\x80\x01\x00\x00",
        b"\x80\x01\x00\x05",
        b"\x80\x01\x01\x01",
    ] {
        let mut bytes = header.to_vec();
        bytes.extend_from_slice(b"\0\0\0\0\0\0\0\0");
        let bytes = Blob::from(bytes);
        let e = Binary::reader(&bytes, DecodeLimits::default())
            .read_message_begin()
            .unwrap_err();
        assert!(
            matches!(kind(&e), DecodeErrorKind::BadMessageType { .. }),
            "{e}"
        );
    }
}

#[test]
fn compact_message_headers() {
    let e = message::<Compact>(b"\x81\x21\x00\x00");
    assert_eq!(kind(&e), &DecodeErrorKind::BadProtocolId { found: 0x81 });
    let e = message::<Compact>(b"\x82\x22\x00\x00");
    assert_eq!(
        kind(&e),
        &DecodeErrorKind::BadVersion {
            protocol: "compact",
            version: 2
        }
    );
    let e = message::<Compact>(b"\x82\xa1\x00\x00");
    assert_eq!(kind(&e), &DecodeErrorKind::BadMessageType { found: 5 });
    // A seq id varint of 6 bytes.
    let e = message::<Compact>(b"\x82\x21\xff\xff\xff\xff\xff\x01");
    assert_eq!(kind(&e), &DecodeErrorKind::VarintTooLong { max_bytes: 5 });
}

#[test]
fn framed_lengths() {
    let binary = Dialect::new(Framing::Framed, ProtocolId::Binary);
    let e = frame_len(binary, b"\xff\xff\xff\xff\x80\x01", DecodeLimits::default()).unwrap_err();
    assert_eq!(
        kind(&e),
        &DecodeErrorKind::NegativeLength {
            what: "frame",
            len: -1
        }
    );
    let e = frame_len(binary, b"\x7f\xff\xff\xff\x80\x01", DecodeLimits::default()).unwrap_err();
    assert_eq!(
        kind(&e),
        &DecodeErrorKind::FrameTooLarge {
            len: 0x7fff_ffff,
            limit: 16 << 20
        }
    );
    // A frame of exactly the limit is fine; one byte more is not.
    let limits = DecodeLimits::default().with_max_frame_len(100);
    assert_eq!(
        frame_len(binary, b"\x00\x00\x00\x64", limits).unwrap(),
        None
    );
    assert!(frame_len(binary, b"\x00\x00\x00\x65", limits).is_err());
    // The decoder refuses the frame before buffering it.
    let mut buf = BytesMut::from(&b"\x00\x00\x00\x65\x80\x01\x00\x01"[..]);
    let e = FrameDecoder::new(limits).decode(&mut buf).unwrap_err();
    assert!(matches!(
        kind(&e),
        DecodeErrorKind::FrameTooLarge {
            len: 101,
            limit: 100
        }
    ));
}

fn struct_bytes<P: Protocol>(write: impl FnOnce(&mut P::Writer<&mut Vec<u8>>)) -> Blob {
    let mut out = Vec::new();
    {
        let mut w = P::writer(&mut out);
        write(&mut w);
    }
    Blob::from(out)
}

#[test]
fn compact_varints() {
    // An i32 field whose varint encodes 2^32.
    let bytes = Blob::from_static(b"\x15\x80\x80\x80\x80\x10\x00");
    let e = from_bytes::<Compact, Inner>(&bytes).unwrap_err();
    assert_eq!(kind(&e), &DecodeErrorKind::VarintOverflow { bits: 32 });
    assert_eq!(e.offset(), 1);
    assert!(e.to_string().contains("in Inner.id(#1)"), "{e}");
    // An i64 varint of 11 bytes.
    let mut raw = vec![0x16];
    raw.extend_from_slice(&[0xff; 10]);
    raw.extend_from_slice(&[0x01, 0x00]);
    let e = from_bytes::<Compact, Primitives>(&Blob::from(raw)).unwrap_err();
    assert!(
        matches!(kind(&e), DecodeErrorKind::VarintTooLong { max_bytes: 10 }),
        "{e}"
    );
    // An i16 that does not fit.
    let bytes = Blob::from_static(b"\x44\x80\x80\x04\x00");
    let e = from_bytes::<Compact, Primitives>(&bytes).unwrap_err();
    assert_eq!(
        kind(&e),
        &DecodeErrorKind::IntegerOverflow {
            value: 32768,
            target: "i16"
        }
    );
}

#[test]
fn compact_container_headers() {
    // list header f5 + size varint 0xffffffff: over i32, read as a negative length.
    let bytes = Blob::from_static(b"\x19\xf5\xff\xff\xff\xff\x0f");
    let e = from_bytes::<Compact, Containers>(&bytes).unwrap_err();
    assert_eq!(
        kind(&e),
        &DecodeErrorKind::NegativeLength {
            what: "list",
            len: -1
        }
    );
    // A list claiming i32::MAX structs is over the container limit; one claiming a million
    // (under the limit) in a few bytes fails on the bytes present, before allocating.
    let bytes = Blob::from_static(b"\x69\xfc\xff\xff\xff\xff\x07\x00\x00");
    let e = from_bytes::<Compact, Containers>(&bytes).unwrap_err();
    assert_eq!(
        kind(&e),
        &DecodeErrorKind::LimitExceeded {
            what: "list",
            len: i32::MAX as u64,
            limit: 16 << 20
        }
    );
    let bytes = Blob::from_static(b"\x69\xfc\xc0\x84\x3d\x00\x00");
    let e = from_bytes::<Compact, Containers>(&bytes).unwrap_err();
    assert_eq!(
        kind(&e),
        &DecodeErrorKind::LengthPastEnd {
            what: "list",
            len: 1_000_000,
            remaining: 2
        }
    );
    assert!(e.to_string().contains("Containers.inners(#6)"), "{e}");
    // A map of size 1 with its type byte missing.
    let bytes = Blob::from_static(b"\x4b\x01");
    let e = from_bytes::<Compact, Containers>(&bytes).unwrap_err();
    assert!(e.is_truncation(), "{e}");
    // A long-form field header whose id is cut off.
    let bytes = Blob::from_static(b"\x05\x80");
    let e = from_bytes::<Compact, Inner>(&bytes).unwrap_err();
    assert!(
        matches!(kind(&e), DecodeErrorKind::UnexpectedEof { .. }),
        "{e}"
    );
    // Type nibbles 0 (as an element type), 14 and 15 are not types.
    for raw in [&b"\x10\x00"[..], b"\x1e", b"\x1f"] {
        let e = from_bytes::<Compact, Inner>(&Blob::copy_from_slice(raw)).unwrap_err();
        assert!(
            matches!(
                kind(&e),
                DecodeErrorKind::InvalidType {
                    protocol: "compact",
                    ..
                }
            ),
            "{e}"
        );
    }
    // A bool list element byte of 3.
    let bytes = Blob::from_static(b"\x59\x11\x03\x00");
    let e = from_bytes::<Compact, Containers>(&bytes).unwrap_err();
    assert_eq!(kind(&e), &DecodeErrorKind::InvalidBool { found: 3 });
    assert!(e.to_string().contains("Containers.flags(#5)[0]"), "{e}");
}

#[test]
fn binary_lengths() {
    // A string length of -1 and one past the end.
    let e = from_bytes::<Binary, Inner>(&Blob::from_static(b"\x0b\x00\x02\xff\xff\xff\xff"))
        .unwrap_err();
    assert_eq!(
        kind(&e),
        &DecodeErrorKind::NegativeLength {
            what: "string",
            len: -1
        }
    );
    let e = from_bytes::<Binary, Inner>(&Blob::from_static(b"\x0b\x00\x02\x00\x00\x00\x09abc"))
        .unwrap_err();
    assert_eq!(
        kind(&e),
        &DecodeErrorKind::LengthPastEnd {
            what: "string",
            len: 9,
            remaining: 3
        }
    );
    assert_eq!(e.offset(), 7);
    // Maps claiming 2^31-1 entries (over the limit) and a million (past the end).
    let e = from_bytes::<Binary, Containers>(&Blob::from_static(
        b"\x0d\x00\x04\x0b\x08\x7f\xff\xff\xff\x00",
    ))
    .unwrap_err();
    assert!(
        matches!(kind(&e), DecodeErrorKind::LimitExceeded { what: "map", .. }),
        "{e}"
    );
    let e = from_bytes::<Binary, Containers>(&Blob::from_static(
        b"\x0d\x00\x04\x0b\x08\x00\x0f\x42\x40\x00",
    ))
    .unwrap_err();
    assert_eq!(
        kind(&e),
        &DecodeErrorKind::LengthPastEnd {
            what: "map",
            len: 1_000_000,
            remaining: 1
        }
    );
    assert!(e.to_string().contains("in Containers.counts(#4)"), "{e}");
    // Unknown type codes.
    let e = from_bytes::<Binary, Inner>(&Blob::from_static(b"\x05\x00\x01")).unwrap_err();
    assert_eq!(
        kind(&e),
        &DecodeErrorKind::InvalidType {
            protocol: "binary",
            code: 5
        }
    );
}

#[test]
fn string_and_container_limits_are_inclusive() {
    // Apache's limit_string_length / limit_container_length: limit passes, limit+1 fails.
    let limits = DecodeLimits::default()
        .with_max_string_len(50)
        .with_max_container_len(50);
    fn with<P: Protocol>(limits: DecodeLimits) {
        let ok = Inner {
            id: 1,
            name: "x".repeat(50).into(),
        };
        from_bytes_with_limits::<P, Inner>(&to_bytes::<P, _>(&ok).unwrap(), limits).unwrap();
        let long = Inner {
            id: 1,
            name: "x".repeat(51).into(),
        };
        let e = from_bytes_with_limits::<P, Inner>(&to_bytes::<P, _>(&long).unwrap(), limits)
            .unwrap_err();
        assert_eq!(
            kind(&e),
            &DecodeErrorKind::LimitExceeded {
                what: "string",
                len: 51,
                limit: 50
            }
        );
        let ok = Containers {
            ints: vec![0; 50],
            ..Containers::default()
        };
        from_bytes_with_limits::<P, Containers>(&to_bytes::<P, _>(&ok).unwrap(), limits).unwrap();
        let long = Containers {
            ints: vec![0; 51],
            ..Containers::default()
        };
        let e = from_bytes_with_limits::<P, Containers>(&to_bytes::<P, _>(&long).unwrap(), limits)
            .unwrap_err();
        assert_eq!(
            kind(&e),
            &DecodeErrorKind::LimitExceeded {
                what: "list",
                len: 51,
                limit: 50
            }
        );
    }
    with::<Binary>(limits);
    with::<Compact>(limits);
}

fn nested_lists<P: Protocol>(depth: usize) -> Blob {
    // A struct whose field 99 is list<list<...<i32>>> nested `depth` deep.
    struct_bytes::<P>(|w| {
        let scope = w.write_struct_begin();
        w.write_field_begin(TType::List, 99);
        for _ in 1..depth {
            w.write_list_begin(TType::List, 1).unwrap();
        }
        w.write_list_begin(TType::I32, 0).unwrap();
        w.write_struct_end(scope);
    })
}

fn nested_structs<P: Protocol>(depth: usize) -> Blob {
    let mut node = Node {
        child: None,
        value: 0,
    };
    for i in 1..depth {
        node = Node {
            child: Some(Box::new(node)),
            value: i as i32,
        };
    }
    to_bytes::<P, _>(&node).unwrap().into()
}

#[test]
fn nesting_depth_is_bounded_in_decode_and_skip() {
    fn with<P: Protocol>() {
        // 64 levels (the outer struct plus 63 lists) are fine; 65 are not — even though the
        // field is unknown to `Inner` and only skipped.
        from_bytes::<P, Inner>(&nested_lists::<P>(63)).unwrap();
        let e = from_bytes::<P, Inner>(&nested_lists::<P>(64)).unwrap_err();
        assert_eq!(kind(&e), &DecodeErrorKind::DepthExceeded { limit: 64 });
        let deep = nested_lists::<P>(64);
        let mut r = P::reader(&deep, DecodeLimits::default());
        assert!(matches!(
            kind(&r.skip(TType::Struct).unwrap_err()),
            DecodeErrorKind::DepthExceeded { .. }
        ));

        from_bytes::<P, Node>(&nested_structs::<P>(64)).unwrap();
        let e = from_bytes::<P, Node>(&nested_structs::<P>(65)).unwrap_err();
        assert_eq!(kind(&e), &DecodeErrorKind::DepthExceeded { limit: 64 });
        assert!(e.to_string().contains("Node.child(#1).child(#1)"), "{e}");
        // A deep input with a huge depth limit still cannot exceed the ceiling.
        let limits = DecodeLimits::default().with_max_depth(u32::MAX);
        assert_eq!(limits.max_depth, DecodeLimits::MAX_DEPTH_CEILING);
    }
    with::<Binary>();
    with::<Compact>();
}

#[test]
fn utf8_in_string_but_not_binary() {
    fn with<P: Protocol>() {
        let p = Primitives {
            s: "ok".into(),
            bin: Blob::from_static(&[0xff, 0xfe, 0x00]),
            ..Primitives::default()
        };
        let good = to_bytes::<P, _>(&p).unwrap();
        assert_eq!(
            from_bytes::<P, Primitives>(&good).unwrap().bin[..],
            [0xff, 0xfe, 0x00]
        );
        let mut raw = good.to_vec();
        let at = raw.windows(2).position(|w| w == b"ok").unwrap();
        raw[at + 1] = 0xc3; // a truncated two-byte sequence
        let e = from_bytes::<P, Primitives>(&Blob::from(raw)).unwrap_err();
        assert_eq!(kind(&e), &DecodeErrorKind::InvalidUtf8 { valid_up_to: 1 });
        assert!(e.to_string().contains("Primitives.s(#8)"), "{e}");
    }
    with::<Binary>();
    with::<Compact>();
}

#[test]
fn truncated_inputs_fail_cleanly() {
    let p = to_bytes::<Compact, _>(&PrimitivesArgs::default()).unwrap();
    for n in 0..p.len() {
        let e = from_bytes::<Compact, PrimitivesArgs>(&p.slice(..n)).unwrap_err();
        assert!(e.is_truncation(), "prefix {n}: {e}");
    }
    let p = to_bytes::<Binary, _>(&PrimitivesArgs::default()).unwrap();
    for n in 0..p.len() {
        assert!(
            from_bytes::<Binary, PrimitivesArgs>(&p.slice(..n))
                .unwrap_err()
                .is_truncation()
        );
    }
    // Trailing bytes after a complete value are reported.
    let mut raw = p.to_vec();
    raw.push(0);
    let e = from_bytes::<Binary, PrimitivesArgs>(&Blob::from(raw)).unwrap_err();
    assert_eq!(kind(&e), &DecodeErrorKind::TrailingBytes { count: 1 });
}

fn ttheader(header: &[u8], payload: &[u8]) -> Blob {
    let mut raw = Vec::new();
    let words = header.len().div_ceil(4);
    raw.extend_from_slice(&((10 + words * 4 + payload.len()) as u32).to_be_bytes());
    raw.extend_from_slice(&[0x10, 0x00, 0x00, 0x00, 0, 0, 0, 1]);
    raw.extend_from_slice(&(words as u16).to_be_bytes());
    raw.extend_from_slice(header);
    raw.resize(14 + words * 4, 0);
    raw.extend_from_slice(payload);
    Blob::from(raw)
}

fn ttheader_error(header: &[u8]) -> DecodeError {
    decode_frame(
        Dialect::new(Framing::TTHeader, ProtocolId::Binary),
        ttheader(header, b"\x80\x01\x00\x01\0\0\0\0\0\0\0\x01\x00"),
        DecodeLimits::default(),
    )
    .unwrap_err()
}

#[test]
fn ttheader_corruptions() {
    // Protocol id 2 (compact): Kitex rejects it, so do we.
    let e = ttheader_error(b"\x02\x00");
    assert_eq!(
        kind(&e),
        &DecodeErrorKind::UnsupportedProtocol {
            format: "TTHeader",
            id: 2
        }
    );
    // A transform count pointing past the header.
    let e = ttheader_error(b"\x00\x05\x01\x02");
    assert_eq!(
        kind(&e),
        &DecodeErrorKind::UnsupportedTransform {
            format: "TTHeader",
            id: 1
        }
    );
    // A u16 string length past the header.
    let e = ttheader_error(b"\x00\x00\x01\x00\x01\x00\x09k");
    assert!(
        matches!(
            kind(&e),
            DecodeErrorKind::LengthPastEnd {
                what: "TTHeader key",
                len: 9,
                ..
            }
        ),
        "{e}"
    );
    // Unknown info id.
    let e = ttheader_error(b"\x00\x00\x07\x00");
    assert_eq!(
        kind(&e),
        &DecodeErrorKind::UnknownInfoId {
            format: "TTHeader",
            id: 7
        }
    );
    assert_eq!(e.offset(), 16);
    // Header size 0, and larger than the frame.
    let mut raw = ttheader(b"\x00\x00", b"").to_vec();
    raw[12..14].copy_from_slice(&[0, 0]);
    let e = decode_frame(
        Dialect::new(Framing::TTHeader, ProtocolId::Binary),
        Blob::from(raw.clone()),
        DecodeLimits::default(),
    )
    .unwrap_err();
    assert!(
        matches!(
            kind(&e),
            DecodeErrorKind::BadHeader {
                format: "TTHeader",
                ..
            }
        ),
        "{e}"
    );
    raw[12..14].copy_from_slice(&[0xff, 0xff]);
    let e = decode_frame(
        Dialect::new(Framing::TTHeader, ProtocolId::Binary),
        Blob::from(raw),
        DecodeLimits::default(),
    )
    .unwrap_err();
    assert!(
        matches!(
            kind(&e),
            DecodeErrorKind::LengthPastEnd {
                what: "TTHeader header",
                ..
            }
        ),
        "{e}"
    );
    // Key/values with invalid UTF-8.
    let e = ttheader_error(b"\x00\x00\x01\x00\x01\x00\x01\xff\x00\x00");
    assert!(
        matches!(kind(&e), DecodeErrorKind::InvalidUtf8 { .. }),
        "{e}"
    );
}

fn theader(header: &[u8]) -> Blob {
    let mut raw = ttheader(header, b"\x80\x01\x00\x01\0\0\0\0\0\0\0\x01\x00").to_vec();
    raw[4..6].copy_from_slice(&[0x0f, 0xff]);
    Blob::from(raw)
}

fn theader_error(header: &[u8]) -> DecodeError {
    decode_frame(
        Dialect::new(Framing::THeader, ProtocolId::Binary),
        theader(header),
        DecodeLimits::default(),
    )
    .unwrap_err()
}

#[test]
fn theader_corruptions() {
    // An unknown transform (Apache Python: INVALID_TRANSFORM).
    let e = theader_error(b"\x00\x01\x05");
    assert_eq!(
        kind(&e),
        &DecodeErrorKind::UnsupportedTransform {
            format: "THeader",
            id: 5
        }
    );
    // zlib (1) is recognised but not applied: still a clear error.
    let e = theader_error(b"\x00\x01\x01");
    assert_eq!(
        kind(&e),
        &DecodeErrorKind::UnsupportedTransform {
            format: "THeader",
            id: 1
        }
    );
    // A KV count larger than the header.
    let e = theader_error(b"\x00\x00\x01\x7f\x01k\x01v");
    assert!(
        matches!(
            kind(&e),
            DecodeErrorKind::LengthPastEnd {
                what: "THeader key/value",
                ..
            }
        ),
        "{e}"
    );
    // A varint key length past the end of the header.
    let e = theader_error(b"\x00\x00\x01\x01\x20k");
    assert!(
        matches!(
            kind(&e),
            DecodeErrorKind::LengthPastEnd {
                what: "THeader key",
                len: 32,
                ..
            }
        ),
        "{e}"
    );
    // An unsupported payload protocol (1 = JSON in fbthrift).
    let e = theader_error(b"\x01\x00");
    assert_eq!(
        kind(&e),
        &DecodeErrorKind::UnsupportedProtocol {
            format: "THeader",
            id: 1
        }
    );
    // A header size larger than the frame.
    let mut raw = theader(b"\x00\x00").to_vec();
    raw[12..14].copy_from_slice(&[0x40, 0x00]);
    let e = decode_frame(
        Dialect::new(Framing::THeader, ProtocolId::Binary),
        Blob::from(raw),
        DecodeLimits::default(),
    )
    .unwrap_err();
    assert!(
        matches!(
            kind(&e),
            DecodeErrorKind::LengthPastEnd {
                what: "THeader header",
                ..
            }
        ),
        "{e}"
    );
    // A length field that disagrees with the frame.
    let mut raw = theader(b"\x00\x00").to_vec();
    raw[3] += 1;
    let e = decode_frame(
        Dialect::new(Framing::THeader, ProtocolId::Binary),
        Blob::from(raw),
        DecodeLimits::default(),
    )
    .unwrap_err();
    assert!(
        matches!(
            kind(&e),
            DecodeErrorKind::BadHeader {
                format: "THeader",
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn garbage_is_not_a_dialect() {
    let mut buf = BytesMut::from(&b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"[..]);
    let e = FrameDecoder::default().decode(&mut buf).unwrap_err();
    assert!(matches!(kind(&e), DecodeErrorKind::UnknownDialect { .. }));
    assert!(
        e.to_string()
            .starts_with("unrecognised transport: first bytes [47, 45, 54, 20"),
        "{e}"
    );
    assert!(frame::detect(b"\x00\x00\x00\x05\x00\x00\x00\x00\x00").is_err());
}

#[test]
fn unframed_scanning_waits_then_rejects_oversized_messages() {
    let dialect = Dialect::new(Framing::Unframed, ProtocolId::Binary);
    let whole = {
        let mut out = Vec::new();
        Binary::writer(&mut out)
            .write_message_begin("m", ringrpc_codec::MessageType::Call, 1)
            .unwrap();
        out.extend_from_slice(
            &to_bytes::<Binary, _>(&Inner {
                id: 1,
                name: "n".into(),
            })
            .unwrap(),
        );
        out
    };
    for n in 0..whole.len() {
        assert_eq!(
            frame_len(dialect, &whole[..n], DecodeLimits::default()).unwrap(),
            None,
            "prefix {n}"
        );
    }
    assert_eq!(
        frame_len(dialect, &whole, DecodeLimits::default()).unwrap(),
        Some(whole.len())
    );
    // A message that keeps growing past the frame limit is refused.
    let limits = DecodeLimits::default().with_max_frame_len(16);
    let e = frame_len(dialect, &whole, limits).unwrap_err();
    assert!(
        matches!(kind(&e), DecodeErrorKind::FrameTooLarge { .. }),
        "{e}"
    );
}

#[test]
fn a_struct_of_the_wrong_type_at_the_top_is_an_error() {
    // Decoding a bare i32 as a struct reads garbage field headers: a clean error, no panic.
    let bytes = to_bytes::<Binary, _>(&0x7f7f7f7fi32).unwrap();
    assert!(Inner::decode(&mut Binary::reader(&bytes, DecodeLimits::default())).is_err());
}
