//! Golden vectors written by independent implementations (thriftpy2 for Binary/Compact,
//! Apache's Python library for THeader; see `golden/README.md`): each is detected, decoded
//! into typed values equal to the ones the generator wrote, and re-encoded byte-identically.

mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use ringrpc_codec::frame::{self, Dialect, Frame, FrameDecoder, Framing, encode_frame};
use ringrpc_codec::{
    ApplicationErrorKind, ApplicationException, Binary, Blob, BytesMut, BytesStr, Compact, Decode,
    DecodeLimits, Encode, MessageHeader, MessageType, Protocol, ProtocolId, ProtocolReader,
};
use support::samples::{containers, holder, primitives};
use support::types::*;

fn vectors_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/vectors")
}

/// Decodes the body named by `message` and checks it against the generator's value, then
/// re-encodes the whole frame and compares bytes.
fn check_body<P: Protocol>(name: &str, frame: &Frame, wire: &Blob) {
    let mut r = P::reader(&frame.payload, DecodeLimits::default());
    let header = r.read_message_begin().unwrap();
    let expected_seq = match name {
        "choice_number_call" => 8,
        "choice_inner_call" => 9,
        _ => 7,
    };
    assert_eq!(header.seq_id, expected_seq, "{name}");
    fn body<T: Decode + PartialEq + std::fmt::Debug, R: ProtocolReader>(
        r: &mut R,
        expected: T,
        name: &str,
    ) -> T {
        let v = T::decode(r).unwrap_or_else(|e| panic!("{name}: {e}"));
        r.finish().unwrap();
        assert_eq!(v, expected, "{name}");
        v
    }
    let (method, kind) = match name {
        "primitives_call" => ("primitives", MessageType::Call),
        "containers_call" => ("containers", MessageType::Call),
        "holder_call" => ("holder", MessageType::Call),
        n if n.starts_with("choice_") => ("choice", MessageType::Call),
        "primitives_reply" => ("primitives", MessageType::Reply),
        "fail_reply_oops" => ("fail", MessageType::Reply),
        "fail_exception" => ("fail", MessageType::Exception),
        other => panic!("unknown golden message {other}"),
    };
    assert_eq!(
        (header.name.as_str(), header.kind),
        (method, kind),
        "{name}"
    );
    let reencoded = match name {
        "primitives_call" => reencode::<P, _>(
            frame,
            &header,
            &body(&mut r, PrimitivesArgs { p: primitives() }, name),
        ),
        "containers_call" => reencode::<P, _>(
            frame,
            &header,
            &body(&mut r, ContainersArgs { c: containers() }, name),
        ),
        "holder_call" => reencode::<P, _>(
            frame,
            &header,
            &body(&mut r, HolderArgs { h: holder() }, name),
        ),
        "choice_text_call" => reencode::<P, _>(
            frame,
            &header,
            &body(
                &mut r,
                ChoiceArgs {
                    c: Choice::Text("t".into()),
                },
                name,
            ),
        ),
        "choice_number_call" => reencode::<P, _>(
            frame,
            &header,
            &body(
                &mut r,
                ChoiceArgs {
                    c: Choice::Number(-1),
                },
                name,
            ),
        ),
        "choice_inner_call" => reencode::<P, _>(
            frame,
            &header,
            &body(
                &mut r,
                ChoiceArgs {
                    c: Choice::Inner(Inner {
                        id: 7,
                        name: "seven".into(),
                    }),
                },
                name,
            ),
        ),
        "primitives_reply" => reencode::<P, _>(
            frame,
            &header,
            &body(
                &mut r,
                PrimitivesResult {
                    success: Some(primitives()),
                },
                name,
            ),
        ),
        "fail_reply_oops" => reencode::<P, _>(
            frame,
            &header,
            &body(
                &mut r,
                FailResult {
                    oops: Some(Oops {
                        code: 1001,
                        message: "bad".into(),
                    }),
                },
                name,
            ),
        ),
        "fail_exception" => reencode::<P, _>(
            frame,
            &header,
            &body(
                &mut r,
                ApplicationException::new(ApplicationErrorKind::INTERNAL_ERROR, "boom"),
                name,
            ),
        ),
        _ => unreachable!(),
    };
    assert_eq!(
        &reencoded[..],
        &wire[..],
        "{name}: re-encoding is byte-identical"
    );
}

fn reencode<P: Protocol, T: Encode>(frame: &Frame, header: &MessageHeader, body: &T) -> Blob {
    let mut out = BytesMut::new();
    encode_frame::<P, _, _>(
        frame.dialect.framing,
        frame.header.as_ref(),
        header,
        body,
        &mut out,
    )
    .unwrap();
    out.freeze().into()
}

#[test]
fn golden_vectors_decode_and_reencode_identically() {
    let dir = vectors_dir();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("golden vectors missing at {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "bin"))
        .collect();
    files.sort();
    let mut checked = 0;
    let mut seen_framings = BTreeSet::new();
    for path in &files {
        let file = path.file_name().unwrap().to_str().unwrap();
        let mut parts = file.trim_end_matches(".bin").split('.');
        let (name, protocol, framing) = (
            parts.next().unwrap(),
            parts.next().unwrap(),
            parts.next().unwrap(),
        );
        let wire = Blob::from(std::fs::read(path).unwrap());
        let expected = Dialect::new(
            match framing {
                "unframed" => Framing::Unframed,
                "framed" => Framing::Framed,
                "theader" | "theader_kv" => Framing::THeader,
                other => panic!("{file}: unknown framing {other}"),
            },
            match protocol {
                "binary" => ProtocolId::Binary,
                "compact" => ProtocolId::Compact,
                other => panic!("{file}: unknown protocol {other}"),
            },
        );
        assert_eq!(
            frame::detect(&wire).unwrap(),
            Some(expected),
            "{file}: detection"
        );
        let mut buf = BytesMut::from(&wire[..]);
        let frame = FrameDecoder::default()
            .decode(&mut buf)
            .unwrap_or_else(|e| panic!("{file}: {e}"))
            .unwrap_or_else(|| panic!("{file}: incomplete frame"));
        assert!(buf.is_empty(), "{file}: one frame exactly");
        assert_eq!(frame.dialect, expected, "{file}");
        if framing == "theader_kv" {
            let md = &frame.header.as_ref().unwrap().metadata;
            assert_eq!(md.get("k").unwrap(), "v", "{file}");
            assert_eq!(
                md.persistent().next().unwrap(),
                ("trace", &BytesStr::from("abc")),
                "{file}"
            );
        }
        if name.starts_with("uuid_") {
            check_uuid(protocol, &frame, &wire);
        } else {
            match expected.protocol {
                ProtocolId::Binary => check_body::<Binary>(name, &frame, &wire),
                ProtocolId::Compact => check_body::<Compact>(name, &frame, &wire),
            }
        }
        seen_framings.insert(format!("{protocol}.{framing}"));
        checked += 1;
    }
    assert!(
        checked >= 50,
        "expected the full golden set, found {checked} vectors"
    );
    for combo in [
        "binary.unframed",
        "binary.framed",
        "binary.theader",
        "compact.unframed",
        "compact.framed",
        "compact.theader",
        "binary.theader_kv",
        "compact.theader_kv",
    ] {
        assert!(
            seen_framings.contains(combo),
            "no golden vector for {combo}"
        );
    }
}

thrift_struct! {
    #[derive(Debug, Clone, PartialEq, Default)]
    pub struct UuidArgs { def 1: u: uuid::Uuid }
}

fn check_uuid(protocol: &str, frame: &Frame, wire: &Blob) {
    let expected = UuidArgs {
        u: uuid::Uuid::from_u128(0x00112233_4455_6677_8899_aabbccddeeff),
    };
    fn go<P: Protocol>(frame: &Frame, wire: &Blob, expected: &UuidArgs) {
        let mut r = P::reader(&frame.payload, DecodeLimits::default());
        let header = r.read_message_begin().unwrap();
        let v = UuidArgs::decode(&mut r).unwrap();
        r.finish().unwrap();
        assert_eq!(&v, expected);
        assert_eq!(reencode::<P, _>(frame, &header, &v), *wire);
    }
    match protocol {
        "binary" => go::<Binary>(frame, wire, &expected),
        _ => go::<Compact>(frame, wire, &expected),
    }
}
