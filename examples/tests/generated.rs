//! Code generated from `idl/golden.thrift` (by the build script, through ringrpc-codegen)
//! decodes the golden vectors written by thriftpy2 and Apache's Python library, holds the
//! expected values, and re-encodes them: byte-identically where field order is fixed.

use std::path::Path;

use ringrpc::codec::{
    Binary, Blob, BytesMut, BytesStr, Compact, Decode, DecodeLimits, Encode, MessageType, Protocol,
    ProtocolReader, ProtocolWriter, TType,
};
use ringrpc_examples::golden::golden::*;

fn vector(name: &str) -> Blob {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../codec/tests/golden/vectors")
        .join(name);
    Blob::from(std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
}

/// Decodes an unframed CALL/REPLY whose body is `{id: T}`; returns the value and re-encodes
/// the same message with the generated type.
fn decode_single<P: Protocol, T: Decode + Encode>(bytes: &Blob, id: i16) -> (T, Blob) {
    let mut r = P::reader(bytes, DecodeLimits::default());
    let header = r.read_message_begin().unwrap();
    let scope = r.read_struct_begin().unwrap();
    let field = r.read_field_begin().unwrap();
    assert_eq!((field.id, field.ttype), (id, <T as Decode>::TTYPE));
    let value = T::decode(&mut r).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.read_field_begin().unwrap().ttype, TType::Stop);
    r.read_struct_end(scope);
    r.finish().unwrap();

    let mut out = BytesMut::new();
    {
        let mut w = P::writer(&mut out);
        w.write_message_begin(&header.name, header.kind, header.seq_id)
            .unwrap();
        let scope = w.write_struct_begin();
        w.write_field_begin(<T as Encode>::TTYPE, id);
        value.encode(&mut w).unwrap();
        w.write_struct_end(scope);
    }
    assert!(matches!(
        header.kind,
        MessageType::Call | MessageType::Reply
    ));
    (value, out.freeze().into())
}

fn primitives() -> Primitives {
    Primitives {
        b_true: true,
        b_false: false,
        i8v: -128,
        i16v: -12345,
        i32v: i32::MIN,
        i64v: -34359738368,
        dv: -5.235098235,
        s: BytesStr::from("Hello, 世界 ✓"),
        bin: Blob::from((0..=255u8).collect::<Vec<_>>()),
        color: Color::BLUE,
    }
}

#[test]
fn generated_types_decode_and_reencode_the_golden_vectors() {
    fn check<P: Protocol>(proto: &str) {
        let file = |m: &str| vector(&format!("{m}.{proto}.unframed.bin"));

        let bytes = file("primitives_call");
        let (p, again) = decode_single::<P, Primitives>(&bytes, 1);
        assert_eq!(p, primitives());
        assert_eq!(
            again, bytes,
            "{proto}: primitives re-encode byte-identically"
        );

        let bytes = file("holder_call");
        let (h, again) = decode_single::<P, Holder>(&bytes, 1);
        assert_eq!(
            h,
            Holder {
                inner: Inner {
                    id: 42,
                    name: BytesStr::new()
                },
                opt_absent: None,
                opt_present: Some(0),
                fifteen: 15,
                forty: -40,
                far: "far away".into(),
                far_bool: true,
            }
        );
        assert_eq!(again, bytes);

        for (m, expected) in [
            ("choice_text_call", Choice::Text("t".into())),
            ("choice_number_call", Choice::Number(-1)),
            (
                "choice_inner_call",
                Choice::Inner(Inner {
                    id: 7,
                    name: "seven".into(),
                }),
            ),
        ] {
            let bytes = file(m);
            let (c, again) = decode_single::<P, Choice>(&bytes, 1);
            assert_eq!(c, expected);
            assert_eq!(again, bytes, "{m}");
        }

        let bytes = file("fail_reply_oops");
        let (oops, again) = decode_single::<P, Oops>(&bytes, 1);
        assert_eq!(
            oops,
            Oops {
                code: 1001,
                message: "bad".into()
            }
        );
        assert_eq!(again, bytes);
        assert!(
            oops.to_string().starts_with("Oops "),
            "exceptions implement Display"
        );

        // Hash containers iterate in their own order: compare values after a round trip.
        let bytes = file("containers_call");
        let (c, again) = decode_single::<P, Containers>(&bytes, 1);
        assert_eq!(c.ints, (-7..8).collect::<Vec<_>>());
        assert_eq!(c.longs.len(), 4);
        assert!(c.longs.contains(&(1 << 40)));
        assert_eq!(c.counts.get("b"), Some(&2));
        assert_eq!(c.nested.get(&3).map(Vec::len), Some(2));
        // list<double> keeps every bit pattern, infinities included.
        assert_eq!(c.doubles[3], f64::INFINITY);
        assert_eq!(again.len(), bytes.len());
        let (c2, _) = decode_single::<P, Containers>(&again, 1);
        assert_eq!(c2, c);
    }
    check::<Binary>("binary");
    check::<Compact>("compact");
}

#[test]
fn generated_enums_keep_unknown_values_and_defaults_apply() {
    let unknown = Color(42);
    assert_eq!(format!("{unknown:?}"), "Color(42)");
    assert_eq!(format!("{:?}", Color::GREEN), "GREEN");
    let bytes = ringrpc::codec::to_bytes::<Compact, _>(&unknown).unwrap();
    assert_eq!(
        ringrpc::codec::from_bytes::<Compact, Color>(&bytes).unwrap(),
        unknown
    );
    assert_eq!(Color::default(), Color::RED);
}

#[test]
fn thrift_test_idl_generates_working_types() {
    use ringrpc::codec::{from_bytes, to_bytes};
    use ringrpc_examples::thrift_test::thrift_test as tt;
    // Defaults from the IDL, including optional fields with defaults.
    let b = tt::BoolTest::default();
    assert_eq!((b.b, b.s.as_deref()), (Some(true), Some("true")));
    // Field-id gaps and nesting.
    let x = tt::Xtruct2 {
        byte_thing: 1,
        struct_thing: tt::Xtruct {
            string_thing: "Zero".into(),
            byte_thing: 1,
            i32_thing: -3,
            i64_thing: -5,
        },
        i32_thing: 5,
    };
    let bytes = to_bytes::<Compact, _>(&x).unwrap();
    assert_eq!(from_bytes::<Compact, tt::Xtruct2>(&bytes).unwrap(), x);
    // Unhashable keys (map<set<i32>, …>, set<Insanity>) still round-trip.
    let crazy = tt::CrazyNesting {
        string_field: "s".into(),
        set_field: Some(ringrpc::codec::VecSet(vec![tt::Insanity::default()])),
        list_field: vec![ringrpc::codec::VecMap(vec![(
            [1, 2].into_iter().collect(),
            [(3, ringrpc::codec::VecSet(vec![vec![]]))]
                .into_iter()
                .collect(),
        )])],
        ..Default::default()
    };
    let bytes = to_bytes::<Binary, _>(&crazy).unwrap();
    assert_eq!(
        from_bytes::<Binary, tt::CrazyNesting>(&bytes).unwrap(),
        crazy
    );
    // A required field missing on the wire is a typed error naming struct and field.
    let empty = to_bytes::<Binary, _>(&()).unwrap();
    let err = from_bytes::<Binary, tt::CrazyNesting>(&empty).unwrap_err();
    assert_eq!(
        err.to_string(),
        "required field `list_field` of `CrazyNesting` is missing at byte 1"
    );
    assert_eq!(tt::MY_NUMBERZ, tt::Numberz::ONE);
}

#[test]
fn the_proc_macro_generates_the_same_types_as_the_build_script() {
    use ringrpc::codec::{from_bytes, to_bytes};
    use ringrpc_examples::golden_by_macro::golden as by_macro;
    // The same golden vector decodes through the macro's types to the same value (same
    // field names, order and Debug output) and re-encodes to the same bytes.
    let bytes = vector("primitives_call.compact.unframed.bin");
    let (p, _) = decode_single::<Compact, Primitives>(&bytes, 1);
    let (q, again) = decode_single::<Compact, by_macro::Primitives>(&bytes, 1);
    assert_eq!(format!("{p:?}"), format!("{q:?}"));
    assert_eq!(again, bytes);
    let h = Holder {
        far: "x".into(),
        ..Holder::default()
    };
    let via_macro: by_macro::Holder =
        from_bytes::<Binary, _>(&to_bytes::<Binary, _>(&h).unwrap()).unwrap();
    assert_eq!(format!("{h:?}"), format!("{via_macro:?}"));
}

#[test]
fn every_thrift_test_type_round_trips_through_both_protocols() {
    use ringrpc::codec::{from_bytes, to_bytes};
    use ringrpc_examples::thrift_test::thrift_test as tt;
    fn check<T: Encode + Decode + PartialEq + std::fmt::Debug>(value: T) {
        for compact in [false, true] {
            let back: T = if compact {
                from_bytes::<Compact, T>(&to_bytes::<Compact, _>(&value).unwrap()).unwrap()
            } else {
                from_bytes::<Binary, T>(&to_bytes::<Binary, _>(&value).unwrap()).unwrap()
            };
            assert_eq!(back, value, "compact: {compact}");
        }
    }
    macro_rules! every {
        ($($ty:ident),* $(,)?) => { $( check(tt::$ty::default()); )* };
    }
    every!(
        Numberz,
        UserId,
        Bonk,
        MapType,
        Bools,
        Xtruct,
        Xtruct2,
        Xtruct3,
        Insanity,
        SomeUnion,
        Xception,
        Xception2,
        EmptyStruct,
        OneField,
        VersioningTestV1,
        VersioningTestV2,
        ListTypeVersioningV1,
        ListTypeVersioningV2,
        GuessProtocolStruct,
        LargeDeltas,
        NestedListsI32x2,
        NestedListsI32x3,
        NestedMixedx2,
        ListBonks,
        NestedListsBonk,
        BoolTest,
        StructA,
        StructB,
        OptionalSetDefaultTest,
        OptionalBinary,
    );
    check(tt::CrazyNesting {
        list_field: vec![ringrpc::codec::VecMap(vec![])],
        ..Default::default()
    });
    // Service args and result structs too.
    use tt::thrift_test as svc;
    check(svc::TestInsanityArgs::default());
    check(svc::TestMultiExceptionResult::Err2(tt::Xception2::default()));
    check(ringrpc::__codegen::Reply(tt::Xtruct::default()));
}
