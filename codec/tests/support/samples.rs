//! The sample values of `idl/golden.thrift`'s messages: the exact values the golden-vector
//! generator (`golden/gen_golden.py`) writes, also used by the round-trip tests.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};

use super::types::*;
use super::{Blob, BytesStr};

pub fn primitives() -> Primitives {
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

pub fn containers() -> Containers {
    Containers {
        ints: (-7..8).collect(),
        strs: (0..14).map(|i| BytesStr::from(format!("s{i}"))).collect(),
        longs: BTreeSet::from([-1, 0, 1, 1 << 40]),
        counts: BTreeMap::from([("a".into(), 1), ("b".into(), 2), ("c".into(), 3)]),
        flags: vec![true, false, true],
        inners: vec![
            Inner {
                id: 1,
                name: "one".into(),
            },
            Inner {
                id: 2,
                name: "two".into(),
            },
        ],
        nested: BTreeMap::from([
            (1, vec!["x".into()]),
            (2, vec![]),
            (3, vec!["y".into(), "z".into()]),
        ]),
        empty_list: vec![],
        empty_map: BTreeMap::new(),
        empty_set: BTreeSet::new(),
        doubles: vec![0.0, -0.0, 1.5, f64::INFINITY, -1e300],
    }
}

pub fn holder() -> Holder {
    Holder {
        inner: Inner {
            id: 42,
            name: BytesStr::new(),
        },
        opt_absent: None,
        opt_present: Some(0),
        fifteen: 15,
        forty: -40,
        far: "far away".into(),
        far_bool: true,
    }
}
