//! Property tests: every type shape round-trips through both protocols with an exact
//! `encoded_len`, and arbitrary bytes — whole, truncated or chunked — give an error or a
//! value, never a panic.

mod support;

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use ringrpc_codec::{
    Binary, Blob, BytesStr, Compact, Decode, Encode, Protocol, from_bytes, to_bytes,
};
use support::fuzz_checks;
use support::types::*;

fn text() -> impl Strategy<Value = BytesStr> {
    ".{0,24}".prop_map(BytesStr::from)
}

fn blob() -> impl Strategy<Value = Blob> {
    prop::collection::vec(any::<u8>(), 0..40).prop_map(Blob::from)
}

fn double() -> impl Strategy<Value = f64> {
    use prop::num::f64::*;
    NORMAL | SUBNORMAL | ZERO | INFINITE | NEGATIVE | POSITIVE
}

fn inner() -> impl Strategy<Value = Inner> {
    (any::<i32>(), text()).prop_map(|(id, name)| Inner { id, name })
}

fn primitives() -> impl Strategy<Value = Primitives> {
    (
        (
            any::<bool>(),
            any::<bool>(),
            any::<i8>(),
            any::<i16>(),
            any::<i32>(),
        ),
        (any::<i64>(), double(), text(), blob(), any::<i32>()),
    )
        .prop_map(
            |((b_true, b_false, i8v, i16v, i32v), (i64v, dv, s, bin, color))| Primitives {
                b_true,
                b_false,
                i8v,
                i16v,
                i32v,
                i64v,
                dv,
                s,
                bin,
                color: Color(color),
            },
        )
}

fn containers() -> impl Strategy<Value = Containers> {
    let small = 0..20usize;
    (
        (
            prop::collection::vec(any::<i32>(), small.clone()),
            prop::collection::vec(text(), small.clone()),
            prop::collection::btree_set(any::<i64>(), small.clone()),
            prop::collection::btree_map(text(), any::<i32>(), small.clone()),
            prop::collection::vec(any::<bool>(), small.clone()),
            prop::collection::vec(inner(), 0..4),
        ),
        (
            prop::collection::btree_map(any::<i32>(), prop::collection::vec(text(), 0..4), 0..4),
            prop::collection::vec(double(), small.clone()),
            prop::collection::btree_set(text(), 0..3),
        ),
    )
        .prop_map(
            |((ints, strs, longs, counts, flags, inners), (nested, doubles, empty_set))| {
                Containers {
                    ints,
                    strs,
                    longs,
                    counts,
                    flags,
                    inners,
                    nested,
                    empty_list: vec![],
                    empty_map: BTreeMap::new(),
                    empty_set,
                    doubles,
                }
            },
        )
}

fn holder() -> impl Strategy<Value = Holder> {
    (
        inner(),
        prop::option::of(text()),
        prop::option::of(any::<i32>()),
        any::<i16>(),
        any::<i16>(),
        text(),
        any::<bool>(),
    )
        .prop_map(
            |(inner, opt_absent, opt_present, fifteen, forty, far, far_bool)| Holder {
                inner,
                opt_absent,
                opt_present,
                fifteen,
                forty,
                far,
                far_bool,
            },
        )
}

fn choice() -> impl Strategy<Value = Choice> {
    prop_oneof![
        text().prop_map(Choice::Text),
        any::<i32>().prop_map(Choice::Number),
        inner().prop_map(Choice::Inner),
    ]
}

fn node() -> impl Strategy<Value = Node> {
    let leaf = any::<i32>().prop_map(|value| Node { child: None, value });
    leaf.prop_recursive(10, 10, 1, |child| {
        (child, any::<i32>()).prop_map(|(c, value)| Node {
            child: Some(Box::new(c)),
            value,
        })
    })
}

fn negative_ids() -> impl Strategy<Value = NegativeIds> {
    (any::<i32>(), text(), any::<bool>()).prop_map(|(minus_one, minus_thirty, five)| NegativeIds {
        minus_one,
        minus_thirty,
        five,
    })
}

fn check<P: Protocol, T: Encode + Decode + PartialEq + std::fmt::Debug>(
    v: &T,
) -> Result<(), TestCaseError> {
    let bytes = to_bytes::<P, _>(v).unwrap();
    prop_assert_eq!(bytes.len(), v.encoded_len::<P>());
    let back: T = from_bytes::<P, _>(&bytes).unwrap();
    prop_assert_eq!(&back, v);
    prop_assert_eq!(to_bytes::<P, _>(&back).unwrap(), bytes.clone());
    // Every strict prefix fails cleanly.
    for n in [
        0,
        bytes.len() / 3,
        bytes.len() / 2,
        bytes.len().saturating_sub(1),
    ] {
        if n < bytes.len() {
            prop_assert!(from_bytes::<P, T>(&bytes.slice(..n)).is_err());
        }
    }
    Ok(())
}

fn both<T: Encode + Decode + PartialEq + std::fmt::Debug>(v: &T) -> Result<(), TestCaseError> {
    check::<Binary, T>(v)?;
    check::<Compact, T>(v)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn primitives_round_trip(v in primitives()) { both(&v)?; }

    #[test]
    fn containers_round_trip(v in containers()) { both(&v)?; }

    #[test]
    fn holders_round_trip(v in holder()) { both(&v)?; }

    #[test]
    fn unions_round_trip(v in choice()) { both(&ChoiceArgs { c: v })?; }

    #[test]
    fn recursive_structs_round_trip(v in node()) { both(&v)?; }

    #[test]
    fn negative_field_ids_round_trip(v in negative_ids()) { both(&v)?; }

    #[test]
    fn sets_and_uuids_round_trip(ids in prop::collection::vec(any::<u128>(), 0..5), set in prop::collection::btree_set(any::<i16>(), 0..30)) {
        both(&WithUuid { id: uuid::Uuid::from_u128(ids.first().copied().unwrap_or(1)), ids: ids.into_iter().map(uuid::Uuid::from_u128).collect() })?;
        both(&set)?;
        both(&set.into_iter().collect::<BTreeSet<_>>())?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(data in prop::collection::vec(any::<u8>(), 0..256)) {
        fuzz_checks::binary(&data);
        fuzz_checks::compact(&data);
        fuzz_checks::frames(&data);
        fuzz_checks::detect(&data);
    }

    #[test]
    fn corrupted_encodings_never_panic(v in containers(), at in any::<prop::sample::Index>(), byte in any::<u8>()) {
        for mut raw in [to_bytes::<Binary, _>(&v).unwrap().to_vec(), to_bytes::<Compact, _>(&v).unwrap().to_vec()] {
            let i = at.index(raw.len());
            raw[i] = byte;
            fuzz_checks::binary(&raw);
            fuzz_checks::compact(&raw);
        }
    }
}
