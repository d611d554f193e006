//! The messages of `idl/bench.thrift`, hand-written in the shape `ringrpc-codegen` will
//! generate, and the sample values the codec benchmarks use: a 64-byte echo, a 1 KiB string
//! and a nested "complex" message like kitex-benchmark's echoComplex.
#![allow(missing_docs)]

use ringrpc_codec::{Blob, BytesStr, HashMap, HashSet};

use crate::thrift_struct;

thrift_struct! {
    #[derive(Debug, Clone, PartialEq, Default)]
    pub struct Echo {
        req 1: action: BytesStr,
        req 2: msg: BytesStr,
    }
}

thrift_struct! {
    #[derive(Debug, Clone, PartialEq, Default)]
    pub struct SubMessage {
        opt 1: id: i64,
        opt 2: value: BytesStr,
    }
}

thrift_struct! {
    #[derive(Debug, Clone, PartialEq, Default)]
    pub struct Message {
        opt 1: id: i64,
        opt 2: value: BytesStr,
        opt 3: sub_messages: Vec<SubMessage>,
    }
}

thrift_struct! {
    #[derive(Debug, Clone, PartialEq, Default)]
    pub struct Complex {
        req 1: action: BytesStr,
        req 2: msg: BytesStr,
        req 3: msg_map: HashMap<BytesStr, SubMessage>,
        req 4: sub_msgs: Vec<SubMessage>,
        req 5: msgs: Vec<Message>,
        req 6: ids: HashSet<i64>,
        req 7: tags: HashMap<i32, Vec<BytesStr>>,
        req 8: blob: Blob,
        req 9: score: f64,
        req 10: flag: bool,
    }
}

/// Deterministic text of `len` bytes.
pub fn text(seed: usize, len: usize) -> String {
    (0..len)
        .map(|i| (b'a' + ((seed * 7 + i * 13) % 26) as u8) as char)
        .collect()
}

/// The 64-byte echo request: `action` + `msg` strings totalling 64 bytes.
pub fn echo_64b() -> Echo {
    Echo {
        action: BytesStr::from_static("echo"),
        msg: BytesStr::from(text(1, 60)),
    }
}

/// An echo request carrying a 1 KiB string.
pub fn string_1k() -> Echo {
    Echo {
        action: BytesStr::from_static("echo"),
        msg: BytesStr::from(text(2, 1024)),
    }
}

fn sub(i: usize) -> SubMessage {
    SubMessage {
        id: Some(i as i64 * 1_000_003),
        value: Some(BytesStr::from(text(i, 16 + i % 48))),
    }
}

/// The nested message: maps, lists and sets of structs (like kitex-benchmark's
/// echoComplex): 10 map entries, 10 sub-messages, 5 messages of 3 sub-messages each,
/// 10 ids, 5 tag lists of 3 strings, a 256-byte blob.
pub fn complex() -> Complex {
    Complex {
        action: BytesStr::from_static("echoComplex"),
        msg: BytesStr::from(text(3, 64)),
        msg_map: (0..10)
            .map(|i| (BytesStr::from(format!("key-{i}")), sub(i)))
            .collect(),
        sub_msgs: (10..20).map(sub).collect(),
        msgs: (0..5)
            .map(|i| Message {
                id: Some(i),
                value: Some(BytesStr::from(text(i as usize, 32))),
                sub_messages: Some((0..3).map(|j| sub(20 + i as usize * 3 + j)).collect()),
            })
            .collect(),
        ids: (0..10).map(|i| i * 7919).collect(),
        tags: (0..5)
            .map(|i| {
                (
                    i,
                    (0..3)
                        .map(|j| BytesStr::from(text(i as usize + j, 12)))
                        .collect(),
                )
            })
            .collect(),
        blob: Blob::from((0..256).map(|i| i as u8).collect::<Vec<_>>()),
        score: 98.25,
        flag: true,
    }
}
