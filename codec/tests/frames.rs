//! Framing: byte-exact TTHeader/THeader frames (WIRE.md §3 captures), every dialect through
//! detection and the frame decoder, pipelining, partial reads and header metadata.

mod support;

use ringrpc_codec::frame::{
    self, Dialect, FrameDecoder, Framing, HeaderInfo, decode_frame, encode_frame, encoded_frame_len,
};
use ringrpc_codec::metadata::int_key;
use ringrpc_codec::{
    Binary, Blob, BytesMut, BytesStr, Compact, DecodeLimits, EncodeError, MessageHeader,
    MessageType, Metadata, Protocol, ProtocolId, ProtocolReader, from_bytes,
};
use support::types::*;

fn call(name: &'static str, seq_id: i32) -> MessageHeader {
    MessageHeader {
        name: BytesStr::from_static(name),
        kind: MessageType::Call,
        seq_id,
    }
}

fn encode<P: Protocol>(
    framing: Framing,
    header: Option<&HeaderInfo>,
    seq_id: i32,
    body: &impl ringrpc_codec::Encode,
) -> Blob {
    let message = call("testVoid", seq_id);
    let mut out = BytesMut::new();
    encode_frame::<P, _, _>(framing, header, &message, body, &mut out).unwrap();
    assert_eq!(
        out.len(),
        encoded_frame_len::<P, _>(framing, header, &message, body).unwrap(),
        "encoded_frame_len is exact"
    );
    out.freeze().into()
}

const TEST_VOID_BINARY: &[u8] = b"\x80\x01\x00\x01\x00\x00\x00\x08testVoid\x00\x00\x00\x07\x00";

#[test]
fn theader_matches_apache_python_capture() {
    // WIRE.md §3.1: PyPI thrift 0.25.0, testVoid, seqid 7, one header k=v.
    let mut expected = vec![
        0x00, 0x00, 0x00, 0x27, 0x0f, 0xff, 0x00, 0x00, 0x00, 0x00, 0x00, 0x07, 0x00, 0x02, 0x00,
        0x00, 0x01, 0x01, 0x01, b'k', 0x01, b'v',
    ];
    expected.extend_from_slice(TEST_VOID_BINARY);
    let mut header = HeaderInfo::default();
    header.metadata.insert("k", "v");
    let bytes = encode::<Binary>(Framing::THeader, Some(&header), 7, &());
    assert_eq!(bytes[..], expected[..]);

    let dialect = frame::detect(&bytes).unwrap().unwrap();
    assert_eq!(dialect, Dialect::new(Framing::THeader, ProtocolId::Binary));
    let frame = decode_frame(dialect, bytes, DecodeLimits::default()).unwrap();
    let info = frame.header.unwrap();
    assert_eq!(info.seq_id, 7);
    assert_eq!(info.metadata.get("k").unwrap(), "v");
    assert_eq!(frame.payload[..], TEST_VOID_BINARY[..]);
}

#[test]
fn ttheader_matches_kitex_layout() {
    // WIRE.md §3.2: str KV k=v, int KV ToMethod(9)="testVoid".
    let mut expected = vec![
        0x00, 0x00, 0x00, 0x3b, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x07, 0x00, 0x07, 0x00,
        0x00, 0x01, 0x00, 0x01, 0x00, 0x01, b'k', 0x00, 0x01, b'v', 0x10, 0x00, 0x01, 0x00, 0x09,
        0x00, 0x08,
    ];
    expected.extend_from_slice(b"testVoid");
    expected.extend_from_slice(&[0x00, 0x00]);
    expected.extend_from_slice(TEST_VOID_BINARY);
    let mut header = HeaderInfo::default();
    header.metadata.insert("k", "v");
    header.metadata.insert_int(int_key::TO_METHOD, "testVoid");
    let bytes = encode::<Binary>(Framing::TTHeader, Some(&header), 7, &());
    assert_eq!(bytes[..], expected[..]);

    let dialect = frame::detect(&bytes).unwrap().unwrap();
    assert_eq!(dialect, Dialect::new(Framing::TTHeader, ProtocolId::Binary));
    let frame = decode_frame(dialect, bytes, DecodeLimits::default()).unwrap();
    let info = frame.header.unwrap();
    assert_eq!(info.metadata.get("k").unwrap(), "v");
    assert_eq!(
        info.metadata.get_int(int_key::TO_METHOD).unwrap(),
        "testVoid"
    );
    assert!(!info.payload_framed);
    assert_eq!(frame.payload[..], TEST_VOID_BINARY[..]);
}

#[test]
fn ttheader_acl_token_flags_and_framed_payload() {
    let mut header = HeaderInfo {
        flags: 0x01,
        payload_framed: true,
        ..HeaderInfo::default()
    };
    header.metadata.set_acl_token(Some("secret".into()));
    header.metadata.insert_persistent("trace", "t-1");
    header.metadata.insert_transit("user", "alice");
    let bytes = encode::<Binary>(Framing::TTHeader, Some(&header), 42, &());
    // The ACL token block is written first.
    assert_eq!(bytes[16..19], [0x11, 0x00, 0x06]);
    let frame = decode_frame(
        Dialect::new(Framing::TTHeader, ProtocolId::Binary),
        bytes,
        DecodeLimits::default(),
    )
    .unwrap();
    let info = frame.header.unwrap();
    assert_eq!(info.flags, 0x01);
    assert_eq!(info.seq_id, 42);
    assert!(info.payload_framed, "the inner frame length is recognised");
    assert_eq!(info.metadata.acl_token().unwrap(), "secret");
    assert_eq!(
        info.metadata.persistent().collect::<Vec<_>>(),
        [("trace", &BytesStr::from("t-1"))]
    );
    assert_eq!(info.metadata.transit().count(), 1);
    // The payload starts at the message, after the inner length.
    assert_eq!(frame.payload[..2], [0x80, 0x01]);
    assert_eq!(info.metadata, header.metadata);
}

#[test]
fn ttheader_refuses_compact_payloads() {
    let mut out = BytesMut::new();
    let err = encode_frame::<Compact, _, _>(Framing::TTHeader, None, &call("m", 1), &(), &mut out)
        .unwrap_err();
    assert!(
        matches!(
            err,
            EncodeError::Unsupported {
                format: "TTHeader",
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn theader_persistent_headers_and_unknown_info_blocks() {
    let mut header = HeaderInfo::default();
    header.metadata.insert("a", "1");
    header.metadata.insert_persistent_header("p", "2");
    let bytes = encode::<Compact>(Framing::THeader, Some(&header), 3, &());
    let dialect = frame::detect(&bytes).unwrap().unwrap();
    let frame = decode_frame(dialect, bytes.clone(), DecodeLimits::default()).unwrap();
    assert_eq!(
        frame.dialect.protocol,
        ProtocolId::Compact,
        "protocol id read from the header"
    );
    let info = frame.header.unwrap();
    assert_eq!(info.metadata.get("a").unwrap(), "1");
    assert_eq!(info.metadata.iter_persistent_header().count(), 1);

    // An unknown info id ends the info blocks; the rest of the header is skipped (Apache).
    let mut raw = bytes.to_vec();
    raw[16] = 0x7f; // the KEYVALUE block id
    let frame = decode_frame(dialect, Blob::from(raw), DecodeLimits::default()).unwrap();
    assert!(frame.header.unwrap().metadata.is_empty());
    assert_eq!(frame.payload[0], 0x82);
}

fn every_dialect() -> Vec<Dialect> {
    use Framing::*;
    use ProtocolId::*;
    vec![
        Dialect::new(Unframed, Binary),
        Dialect::new(Unframed, Compact),
        Dialect::new(Framed, Binary),
        Dialect::new(Framed, Compact),
        Dialect::new(TTHeader, Binary),
        Dialect::new(THeader, Binary),
        Dialect::new(THeader, Compact),
    ]
}

fn encode_in(dialect: Dialect, seq_id: i32, body: &PrimitivesArgs) -> Blob {
    let mut header = HeaderInfo::default();
    header.metadata.insert_transit("seq", format!("{seq_id}"));
    let header = matches!(dialect.framing, Framing::TTHeader | Framing::THeader).then_some(&header);
    match dialect.protocol {
        ProtocolId::Binary => encode::<Binary>(dialect.framing, header, seq_id, body),
        ProtocolId::Compact => encode::<Compact>(dialect.framing, header, seq_id, body),
    }
}

fn decode_body(frame: &frame::Frame) -> (MessageHeader, PrimitivesArgs) {
    fn go<P: Protocol>(payload: &Blob) -> (MessageHeader, PrimitivesArgs) {
        let mut r = P::reader(payload, DecodeLimits::default());
        let header = r.read_message_begin().unwrap();
        let body = <PrimitivesArgs as ringrpc_codec::Decode>::decode(&mut r).unwrap();
        r.finish().unwrap();
        (header, body)
    }
    match frame.dialect.protocol {
        ProtocolId::Binary => go::<Binary>(&frame.payload),
        ProtocolId::Compact => go::<Compact>(&frame.payload),
    }
}

#[test]
fn every_dialect_is_detected_and_split_byte_by_byte() {
    let body = PrimitivesArgs {
        p: Primitives {
            s: "pipelined".into(),
            bin: Blob::from_static(&[0, 1, 2]),
            i64v: -1,
            ..Primitives::default()
        },
    };
    for dialect in every_dialect() {
        // Three pipelined frames, fed one byte at a time.
        let wire: Vec<u8> = (1..=3)
            .flat_map(|seq| encode_in(dialect, seq, &body).to_vec())
            .collect();
        let mut decoder = FrameDecoder::default();
        let mut buf = BytesMut::new();
        let mut frames = Vec::new();
        for &b in &wire {
            buf.extend_from_slice(&[b]);
            while let Some(frame) = decoder.decode(&mut buf).unwrap() {
                frames.push(frame);
            }
        }
        assert!(buf.is_empty(), "{dialect:?}: nothing left over");
        assert_eq!(decoder.dialect(), Some(dialect));
        assert_eq!(frames.len(), 3, "{dialect:?}");
        for (i, frame) in frames.iter().enumerate() {
            assert_eq!(frame.dialect, dialect);
            let (header, decoded) = decode_body(frame);
            assert_eq!(header.seq_id, i as i32 + 1);
            assert_eq!(header.name, "testVoid");
            assert_eq!(decoded, body, "{dialect:?}");
            if let Some(info) = &frame.header {
                assert_eq!(
                    info.metadata.get("RPC_TRANSIT_seq").unwrap(),
                    &*format!("{}", i + 1)
                );
            }
        }
    }
}

#[test]
fn framed_payload_round_trips_through_from_bytes() {
    let body = HolderArgs {
        h: Holder {
            far: "x".into(),
            ..Holder::default()
        },
    };
    let bytes = encode::<Compact>(Framing::Framed, None, 9, &body);
    let frame = decode_frame(
        Dialect::new(Framing::Framed, ProtocolId::Compact),
        bytes,
        DecodeLimits::default(),
    )
    .unwrap();
    let mut r = Compact::reader(&frame.payload, DecodeLimits::default());
    r.read_message_begin().unwrap();
    let rest = frame.payload.slice(r.position()..);
    let decoded: HolderArgs = from_bytes::<Compact, _>(&rest).unwrap();
    assert_eq!(decoded, body);
}

#[test]
fn metadata_is_a_view_into_the_frame() {
    let mut header = HeaderInfo::default();
    header.metadata.insert("key", "value");
    let bytes = encode::<Binary>(Framing::TTHeader, Some(&header), 1, &());
    let frame = decode_frame(
        Dialect::new(Framing::TTHeader, ProtocolId::Binary),
        bytes.clone(),
        DecodeLimits::default(),
    )
    .unwrap();
    let md: Metadata = frame.header.unwrap().metadata;
    let value = md.get("key").unwrap();
    assert!(bytes.as_ptr_range().contains(&value.as_ptr()));
}

/// A frame source that records what the decoder tells it.
#[derive(Default)]
struct Recording {
    bytes: BytesMut,
    expected: Vec<usize>,
}

impl frame::FrameSource for Recording {
    fn received(&self) -> &[u8] {
        &self.bytes
    }

    fn take_front(&mut self, len: usize) -> Blob {
        self.bytes.split_to(len).freeze().into()
    }

    fn expect(&mut self, total: usize) {
        self.expected.push(total);
    }
}

#[test]
fn an_unfinished_frame_tells_the_source_its_whole_length() {
    let body = PrimitivesArgs::default();
    for dialect in every_dialect() {
        let whole = encode_in(dialect, 7, &body);
        let mut source = Recording::default();
        let mut decoder = FrameDecoder::new(DecodeLimits::default());
        source.bytes.extend_from_slice(&whole[..whole.len() - 1]);
        assert!(decoder.decode(&mut source).unwrap().is_none());
        let expected = match dialect.framing {
            // Unframed messages declare no length.
            Framing::Unframed => vec![],
            _ => vec![whole.len()],
        };
        assert_eq!(source.expected, expected, "{dialect:?}");
        source.bytes.extend_from_slice(&whole[whole.len() - 1..]);
        assert!(decoder.decode(&mut source).unwrap().is_some());
        assert_eq!(
            source.expected, expected,
            "told again once whole: {dialect:?}"
        );
    }
}

#[test]
fn a_length_over_the_limit_is_refused_before_any_room_is_made() {
    let mut source = Recording::default();
    source.bytes.extend_from_slice(&(64u32 << 20).to_be_bytes());
    source.bytes.extend_from_slice(&[0x80, 0x01, 0, 1]);
    let mut decoder = FrameDecoder::new(DecodeLimits::default().with_max_frame_len(1 << 20));
    let err = decoder.decode(&mut source).unwrap_err();
    assert!(err.to_string().contains("limit"), "{err}");
    assert!(source.expected.is_empty());
}
