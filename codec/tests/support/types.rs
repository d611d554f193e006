//! Typed messages used across the codec tests: the golden IDL (`idl/golden.thrift`),
//! ThriftTest-like versioning structs, and the benchmark messages (`idl/bench.thrift`).
#![allow(dead_code, missing_docs, unreachable_pub)]

use std::collections::{BTreeMap, BTreeSet};

use crate::support::{Blob, BytesStr};
use crate::{thrift_enum, thrift_struct, thrift_union};

thrift_enum! {
    pub enum Color { RED = 1, GREEN = 2, BLUE = 5 }
}

thrift_struct! {
    #[derive(Debug, Clone, PartialEq, Default)]
    pub struct Inner {
        def 1: id: i32,
        def 2: name: BytesStr,
    }
}

thrift_struct! {
    #[derive(Debug, Clone, PartialEq, Default)]
    pub struct Primitives {
        def 1: b_true: bool,
        def 2: b_false: bool,
        def 3: i8v: i8,
        def 4: i16v: i16,
        def 5: i32v: i32,
        def 6: i64v: i64,
        def 7: dv: f64,
        def 8: s: BytesStr,
        def 9: bin: Blob,
        def 10: color: Color,
    }
}

// `f64` has no `Ord`, so `list<double>` is a `Vec` and the sets/maps use ordered types
// to re-encode in the same order as the peers that wrote them.
thrift_struct! {
    #[derive(Debug, Clone, PartialEq, Default)]
    pub struct Containers {
        def 1: ints: Vec<i32>,
        def 2: strs: Vec<BytesStr>,
        def 3: longs: BTreeSet<i64>,
        def 4: counts: BTreeMap<BytesStr, i32>,
        def 5: flags: Vec<bool>,
        def 6: inners: Vec<Inner>,
        def 7: nested: BTreeMap<i32, Vec<BytesStr>>,
        def 8: empty_list: Vec<i32>,
        def 9: empty_map: BTreeMap<BytesStr, BytesStr>,
        def 10: empty_set: BTreeSet<BytesStr>,
        def 11: doubles: Vec<f64>,
    }
}

thrift_struct! {
    #[derive(Debug, Clone, PartialEq, Default)]
    pub struct Holder {
        def 1: inner: Inner,
        opt 2: opt_absent: BytesStr,
        opt 3: opt_present: i32,
        def 15: fifteen: i16,
        def 40: forty: i16,
        def 300: far: BytesStr,
        def 301: far_bool: bool,
    }
}

thrift_union! {
    #[derive(Debug, Clone, PartialEq)]
    pub enum Choice {
        1: Text(BytesStr),
        2: Number(i32),
        3: Inner(Inner),
    }
}

thrift_struct! {
    #[derive(Debug, Clone, PartialEq, Default)]
    pub struct Oops {
        def 1: code: i32,
        def 2: message: BytesStr,
    }
}

// `{1: T}`: the argument struct of a one-parameter method.
thrift_struct! {
    #[derive(Debug, Clone, PartialEq, Default)]
    pub struct PrimitivesArgs { def 1: p: Primitives }
}
thrift_struct! {
    #[derive(Debug, Clone, PartialEq, Default)]
    pub struct ContainersArgs { def 1: c: Containers }
}
thrift_struct! {
    #[derive(Debug, Clone, PartialEq, Default)]
    pub struct HolderArgs { def 1: h: Holder }
}
thrift_struct! {
    #[derive(Debug, Clone, PartialEq)]
    pub struct ChoiceArgs { req 1: c: Choice }
}
thrift_struct! {
    #[derive(Debug, Clone, PartialEq, Default)]
    pub struct PrimitivesResult { opt 0: success: Primitives }
}
thrift_struct! {
    #[derive(Debug, Clone, PartialEq, Default)]
    pub struct FailResult { opt 1: oops: Oops }
}

// ThriftTest's versioning fixtures: the same ids with other types, extra fields.
thrift_struct! {
    #[derive(Debug, Clone, PartialEq, Default)]
    pub struct VersioningV1 {
        def 1: begin_in_both: i32,
        def 3: old_string: BytesStr,
        def 12: end_in_both: i32,
    }
}
thrift_struct! {
    #[derive(Debug, Clone, PartialEq, Default)]
    pub struct VersioningV2 {
        def 1: begin_in_both: i32,
        def 2: newint: i32,
        def 3: newbyte: i8,
        def 4: newshort: i16,
        def 5: newlong: i64,
        def 6: newdouble: f64,
        def 7: newstruct: Inner,
        def 8: newlist: Vec<i32>,
        def 9: newset: BTreeSet<i32>,
        def 10: newmap: BTreeMap<i32, i32>,
        def 11: newstring: BytesStr,
        def 12: end_in_both: i32,
    }
}
thrift_struct! {
    #[derive(Debug, Clone, PartialEq, Default)]
    pub struct ListTypeV1 { def 1: myints: Vec<i32>, def 2: hello: BytesStr }
}
thrift_struct! {
    #[derive(Debug, Clone, PartialEq, Default)]
    pub struct ListTypeV2 { def 1: strings: Vec<BytesStr>, def 2: hello: BytesStr }
}
thrift_struct! {
    #[derive(Debug, Clone, PartialEq, Default)]
    pub struct Required { req 1: id: i64, opt 2: note: BytesStr }
}
thrift_struct! {
    #[derive(Debug, Clone, PartialEq, Default)]
    pub struct NegativeIds { def -1: minus_one: i32, def -30: minus_thirty: BytesStr, def 5: five: bool }
}
thrift_struct! {
    #[derive(Debug, Clone, PartialEq, Default)]
    pub struct WithUuid { def 1: id: uuid_type::Uuid, def 2: ids: Vec<uuid_type::Uuid> }
}
pub mod uuid_type {
    pub use uuid::Uuid;
}

// Recursive list nesting for depth tests: `list<list<...>>` built at run time is not
// expressible as one Rust type, so depth tests write bytes directly.
thrift_struct! {
    #[derive(Debug, Clone, PartialEq, Default)]
    pub struct Node { opt 1: child: Box<Node>, def 2: value: i32 }
}
