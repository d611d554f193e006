//! Typed round trips through both protocols, exact encoded lengths, byte layouts from the
//! Apache specs, and schema evolution (unknown fields, changed types).

mod support;

use std::collections::{BTreeMap, BTreeSet};

use ringrpc_codec::{
    Binary, Blob, BytesMut, BytesStr, Compact, Decode, DecodeErrorKind, Encode, MessageHeader,
    MessageType, Protocol, ProtocolReader, ProtocolWriter, from_bytes, to_bytes,
};
use support::samples;
use support::types::*;

fn round_trip<P: Protocol, T: Encode + Decode + PartialEq + std::fmt::Debug>(value: &T) -> Blob {
    let bytes = to_bytes::<P, _>(value).unwrap();
    assert_eq!(
        bytes.len(),
        value.encoded_len::<P>(),
        "encoded_len is exact"
    );
    let back: T = from_bytes::<P, _>(&bytes).unwrap();
    assert_eq!(&back, value);
    assert_eq!(
        to_bytes::<P, _>(&back).unwrap(),
        bytes,
        "re-encoding is identical"
    );
    bytes.into()
}

fn both<T: Encode + Decode + PartialEq + std::fmt::Debug>(value: &T) {
    round_trip::<Binary, T>(value);
    round_trip::<Compact, T>(value);
}

#[test]
fn every_shape_round_trips() {
    both(&samples::primitives());
    both(&samples::containers());
    both(&samples::holder());
    both(&Choice::Text("t".into()));
    both(&Choice::Number(-1));
    both(&Choice::Inner(Inner {
        id: 7,
        name: "seven".into(),
    }));
    both(&NegativeIds {
        minus_one: -1,
        minus_thirty: "neg".into(),
        five: true,
    });
    both(&Node {
        child: Some(Box::new(Node {
            child: Some(Box::new(Node::default())),
            value: 2,
        })),
        value: 1,
    });
    both(&WithUuid {
        id: uuid::Uuid::from_u128(0x00112233_4455_6677_8899_aabbccddeeff),
        ids: vec![uuid::Uuid::nil(), uuid::Uuid::max()],
    });
    both(&Required {
        id: i64::MAX,
        note: None,
    });
    both(&());
}

#[test]
fn from_bytes_reads_borrowed_and_owned_inputs_alike() {
    let value = samples::primitives();
    let bytes = to_bytes::<Compact, _>(&value).unwrap();
    let blob = Blob::from(bytes.clone());
    let decode =
        |what: &str, back: Result<Primitives, _>| assert_eq!(back.unwrap(), value, "{what}");
    decode("&Bytes", from_bytes::<Compact, _>(&bytes));
    decode("&Blob", from_bytes::<Compact, _>(&blob));
    decode("Bytes", from_bytes::<Compact, _>(bytes.clone()));
    decode("Blob", from_bytes::<Compact, _>(blob.clone()));
    decode("Vec<u8>", from_bytes::<Compact, _>(bytes.to_vec()));
    decode(
        "Box<[u8]>",
        from_bytes::<Compact, _>(bytes.to_vec().into_boxed_slice()),
    );
    decode(
        "BytesMut",
        from_bytes::<Compact, _>(BytesMut::from(&bytes[..])),
    );
    // Borrowed inputs are read in place: the strings are views into them.
    let back: Primitives = from_bytes::<Compact, _>(&bytes).unwrap();
    assert!(bytes.as_ptr_range().contains(&back.s.as_ptr()));
    let back: Primitives = from_bytes::<Compact, _>(&blob).unwrap();
    assert!(blob.as_ptr_range().contains(&back.s.as_ptr()));
    // Static inputs, and a trailing byte still refused whatever the input.
    let s: BytesStr = from_bytes::<Binary, _>(b"\0\0\0\x02hi").unwrap();
    assert_eq!(s, "hi");
    let e = from_bytes::<Binary, BytesStr>(&b"\0\0\0\x02hi!"[..]).unwrap_err();
    assert_eq!(e.kind(), &DecodeErrorKind::TrailingBytes { count: 1 });
}

#[test]
fn strings_of_every_length_are_checked_for_utf8_at_every_byte() {
    // ASCII settles most strings in the fast check; a multi-byte character or a broken one
    // at any position goes to the full validation, which accepts the one and names the other.
    for len in 0..40 {
        for at in 0..len {
            let mut text = vec![b'a'; len];
            text[at] = 0xc3;
            let mut wire = (len as i32).to_be_bytes().to_vec();
            wire.extend_from_slice(&text);
            let e = from_bytes::<Binary, BytesStr>(wire.clone()).unwrap_err();
            let valid_up_to = at;
            assert_eq!(
                e.kind(),
                &DecodeErrorKind::InvalidUtf8 { valid_up_to },
                "{len} {at}"
            );
            if at + 1 < len {
                wire[4 + at + 1] = 0xa9; // "é"
                let s: BytesStr = from_bytes::<Binary, _>(wire).unwrap();
                assert_eq!(s.chars().filter(|&c| c == 'é').count(), 1);
            }
        }
    }
}

#[test]
fn doubles_keep_their_bits() {
    for v in [
        f64::NAN,
        -0.0,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::MIN_POSITIVE,
        5e-324,
    ] {
        let bin: f64 = from_bytes::<Binary, _>(&to_bytes::<Binary, _>(&v).unwrap()).unwrap();
        let com: f64 = from_bytes::<Compact, _>(&to_bytes::<Compact, _>(&v).unwrap()).unwrap();
        assert_eq!(bin.to_bits(), v.to_bits());
        assert_eq!(com.to_bits(), v.to_bits());
    }
    // Binary doubles are big-endian, compact doubles little-endian.
    assert_eq!(
        to_bytes::<Binary, _>(&1.0f64).unwrap()[..],
        [0x3f, 0xf0, 0, 0, 0, 0, 0, 0]
    );
    assert_eq!(
        to_bytes::<Compact, _>(&1.0f64).unwrap()[..],
        [0, 0, 0, 0, 0, 0, 0xf0, 0x3f]
    );
}

thrift_struct! {
    #[derive(Debug, Clone, PartialEq, Default)]
    pub struct BoolList { def 1: flags: Vec<bool> }
}

#[test]
fn compact_layouts_match_the_spec() {
    // list<bool> [true, false] as field 1: header 0x19, list header 0x21 (bool written as 1),
    // elements 1 and 2, stop.
    let v = BoolList {
        flags: vec![true, false],
    };
    assert_eq!(
        to_bytes::<Compact, _>(&v).unwrap()[..],
        [0x19, 0x21, 0x01, 0x02, 0x00]
    );
    // Element type 2 for bool is accepted too, and element byte 0 reads as false.
    let alt = Blob::from_static(&[0x19, 0x22, 0x01, 0x00, 0x00]);
    assert_eq!(from_bytes::<Compact, BoolList>(&alt).unwrap(), v);

    // Bool fields fold their value into the field header.
    let h = Holder {
        far_bool: false,
        ..samples::holder()
    };
    let bytes = to_bytes::<Compact, _>(&h).unwrap();
    // Field 301 follows field 300: delta 1, type 2 (false).
    assert_eq!(bytes[bytes.len() - 2..], [0x12, 0x00]);

    // Field 40 after 15 is a delta of 25: long form, zigzag varint id.
    let mut w = Compact::writer(Vec::new());
    let scope = w.write_struct_begin();
    w.write_field_begin(ringrpc_codec::TType::I16, 15);
    w.write_i16(1);
    w.write_field_begin(ringrpc_codec::TType::I16, 40);
    w.write_i16(1);
    w.write_field_begin(ringrpc_codec::TType::I16, 39);
    w.write_i16(1);
    w.write_struct_end(scope);
    assert_eq!(
        Compact::into_sink(w),
        [0xf4, 0x02, 0x04, 80, 0x02, 0x04, 78, 0x02, 0x00]
    );

    // Lists: 14 elements use the short header, 15 the long one.
    let short: Vec<i8> = vec![0; 14];
    assert_eq!(to_bytes::<Compact, _>(&short).unwrap()[0], 0xe3);
    let long: Vec<i8> = vec![0; 15];
    assert_eq!(to_bytes::<Compact, _>(&long).unwrap()[..2], [0xf3, 15]);

    // An empty map is a single zero byte; a non-empty one has size then types.
    let empty: BTreeMap<i32, i32> = BTreeMap::new();
    assert_eq!(to_bytes::<Compact, _>(&empty).unwrap()[..], [0x00]);
    let one = BTreeMap::from([(1i32, 2i32)]);
    assert_eq!(
        to_bytes::<Compact, _>(&one).unwrap()[..],
        [0x01, 0x55, 0x02, 0x04]
    );
}

fn encode_message<P: Protocol>(name: &'static str, kind: MessageType, seq_id: i32) -> Blob {
    let mut out = BytesMut::new();
    let mut w = P::writer(&mut out);
    w.write_message_begin(name, kind, seq_id).unwrap();
    drop(w);
    out.freeze().into()
}

#[test]
fn message_headers() {
    // Compact seq ids are varints of the u32 bit pattern: -5 takes five bytes.
    let bytes = encode_message::<Compact>("m", MessageType::Call, -5);
    assert_eq!(
        bytes[..],
        [0x82, 0x21, 0xfb, 0xff, 0xff, 0xff, 0x0f, 0x01, b'm']
    );
    let bin = encode_message::<Binary>("testVoid", MessageType::Call, 7);
    assert_eq!(bin[..4], [0x80, 0x01, 0x00, 0x01]);

    for (bytes, seq) in [(bytes, -5), (bin, 7)] {
        let header = if bytes[0] == 0x82 {
            Compact::reader(&bytes, Default::default()).read_message_begin()
        } else {
            Binary::reader(&bytes, Default::default()).read_message_begin()
        }
        .unwrap();
        assert_eq!(header.seq_id, seq);
        assert_eq!(header.kind, MessageType::Call);
    }

    // Old non-strict binary: name length, name, type byte, seq id.
    let old = Blob::from_static(b"\0\0\0\x04ping\x04\0\0\0\x09");
    let h: MessageHeader = Binary::reader(&old, Default::default())
        .read_message_begin()
        .unwrap();
    assert_eq!(
        (h.name.as_str(), h.kind, h.seq_id),
        ("ping", MessageType::Oneway, 9)
    );
}

#[test]
fn unknown_fields_are_skipped() {
    let v2 = VersioningV2 {
        begin_in_both: 1,
        newint: 2,
        newbyte: 3,
        newshort: 4,
        newlong: 5,
        newdouble: 6.0,
        newstruct: Inner {
            id: 7,
            name: "seven".into(),
        },
        newlist: vec![8, 9],
        newset: BTreeSet::from([10]),
        newmap: BTreeMap::from([(11, 12)]),
        newstring: "thirteen".into(),
        end_in_both: 14,
    };
    fn check<P: Protocol>(v2: &VersioningV2) {
        let bytes = to_bytes::<P, _>(v2).unwrap();
        let v1: VersioningV1 = from_bytes::<P, _>(&bytes).unwrap();
        // Field 3 is a string in V1 but a byte in V2: wrong wire type, skipped.
        assert_eq!(
            v1,
            VersioningV1 {
                begin_in_both: 1,
                old_string: BytesStr::new(),
                end_in_both: 14
            }
        );
    }
    check::<Binary>(&v2);
    check::<Compact>(&v2);
}

#[test]
fn changed_element_types_are_skipped() {
    fn check<P: Protocol>() {
        let v1 = ListTypeV1 {
            myints: vec![1, 2, 3],
            hello: "hello".into(),
        };
        let bytes = to_bytes::<P, _>(&v1).unwrap();
        let v2: ListTypeV2 = from_bytes::<P, _>(&bytes).unwrap();
        assert_eq!(
            v2,
            ListTypeV2 {
                strings: vec![],
                hello: "hello".into()
            }
        );
    }
    check::<Binary>();
    check::<Compact>();
}

#[test]
fn missing_required_field_names_struct_and_field() {
    fn check<P: Protocol>() {
        let bytes = to_bytes::<P, _>(&Inner::default()).unwrap();
        let err = from_bytes::<P, Required>(&bytes).unwrap_err();
        assert_eq!(
            err.kind(),
            &DecodeErrorKind::MissingRequiredField {
                strukt: "Required",
                field: "id"
            }
        );
        assert!(
            err.to_string()
                .contains("required field `id` of `Required` is missing"),
            "{err}"
        );
    }
    check::<Binary>();
    check::<Compact>();
}

#[test]
fn union_with_two_fields_is_rejected() {
    let mut w = Binary::writer(Vec::new());
    let scope = w.write_struct_begin();
    w.write_field_begin(ringrpc_codec::TType::String, 1);
    w.write_string("a").unwrap();
    w.write_field_begin(ringrpc_codec::TType::I32, 2);
    w.write_i32(1);
    w.write_struct_end(scope);
    let bytes = Blob::from(Binary::into_sink(w));
    let err = from_bytes::<Binary, Choice>(&bytes).unwrap_err();
    assert_eq!(
        err.kind(),
        &DecodeErrorKind::UnionFieldCount {
            strukt: "Choice",
            count: 2
        }
    );
    let empty = to_bytes::<Binary, _>(&()).unwrap();
    let err = from_bytes::<Binary, Choice>(&empty).unwrap_err();
    assert_eq!(
        err.kind(),
        &DecodeErrorKind::UnionFieldCount {
            strukt: "Choice",
            count: 0
        }
    );
}

#[test]
fn error_path_names_the_failing_field() {
    let mut c = samples::containers();
    c.inners[1].name = "bad".into();
    let bytes = to_bytes::<Binary, _>(&ContainersArgs { c }).unwrap();
    // Corrupt the 'b' of "bad" into an invalid UTF-8 byte.
    let mut raw = bytes.to_vec();
    let at = raw.windows(3).position(|w| w == b"bad").unwrap();
    raw[at] = 0xff;
    let err = from_bytes::<Binary, ContainersArgs>(&Blob::from(raw)).unwrap_err();
    assert!(matches!(
        err.kind(),
        DecodeErrorKind::InvalidUtf8 { valid_up_to: 0 }
    ));
    assert_eq!(
        err.offset(),
        at - 4 + 4,
        "offset points at the string's bytes"
    );
    assert_eq!(
        err.to_string(),
        format!(
            "string is not valid UTF-8 (valid up to byte 0 of the string) at byte {at} in \
             ContainersArgs.c(#1).inners(#6)[1].name(#2)"
        )
    );
}

#[test]
fn string_fields_are_views_into_the_input() {
    let bytes = to_bytes::<Compact, _>(&samples::primitives()).unwrap();
    let p: Primitives = from_bytes::<Compact, _>(&bytes).unwrap();
    let range = bytes.as_ptr_range();
    assert!(range.contains(&p.s.as_ptr()));
    assert!(range.contains(&p.bin.as_ptr()));
}

#[test]
fn vec_sets_and_maps_hold_unhashable_elements_in_wire_order() {
    use ringrpc_codec::{VecMap, VecSet};
    let set = VecSet(vec![2.5f64, -0.0, 1.0]);
    let map = VecMap(vec![(VecSet(vec![1i32, 2]), 1.5f64), (VecSet(vec![]), 0.0)]);
    both(&set);
    both(&map);
    // Same bytes as the hashed/ordered types for the same order.
    let ordered = BTreeSet::from([1i32, 2, 3]);
    assert_eq!(
        to_bytes::<Compact, _>(&VecSet(vec![1i32, 2, 3])).unwrap(),
        to_bytes::<Compact, _>(&ordered).unwrap()
    );
}
