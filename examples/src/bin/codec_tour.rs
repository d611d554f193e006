//! A tour of the wire layer: a client encodes an `Echo` call in every dialect a
//! ringrpc server accepts; the "server" detects each connection's dialect from its first
//! bytes, decodes the call without copying its strings, and answers in the same dialect.
//! Then a short encode/decode loop reports throughput.
//!
//! Run: `cargo run --release -p ringrpc-examples --bin codec_tour`.

use std::time::{Duration, Instant};

use ringrpc::codec::frame::{Dialect, FrameDecoder, Framing, HeaderInfo, encode_frame};
use ringrpc::codec::{
    Binary, Blob, BytesMut, BytesStr, Compact, Decode, DecodeLimits, MessageHeader, MessageType,
    Protocol, ProtocolId, ProtocolReader, from_bytes, to_bytes,
};
use ringrpc_examples::Echo;

const DIALECTS: [Dialect; 7] = [
    Dialect::new(Framing::Unframed, ProtocolId::Binary),
    Dialect::new(Framing::Unframed, ProtocolId::Compact),
    Dialect::new(Framing::Framed, ProtocolId::Binary),
    Dialect::new(Framing::Framed, ProtocolId::Compact),
    Dialect::new(Framing::TTHeader, ProtocolId::Binary),
    Dialect::new(Framing::THeader, ProtocolId::Binary),
    Dialect::new(Framing::THeader, ProtocolId::Compact),
];

fn encode_in(
    dialect: Dialect,
    header: Option<&HeaderInfo>,
    message: &MessageHeader,
    body: &Echo,
) -> BytesMut {
    let mut out = BytesMut::new();
    let result = match dialect.protocol {
        ProtocolId::Binary => {
            encode_frame::<Binary, _, _>(dialect.framing, header, message, body, &mut out)
        }
        ProtocolId::Compact => {
            encode_frame::<Compact, _, _>(dialect.framing, header, message, body, &mut out)
        }
    };
    result.expect("the demo's messages are encodable");
    out
}

fn decode_call<P: Protocol>(payload: &Blob) -> (MessageHeader, Echo) {
    let mut r = P::reader(payload, DecodeLimits::default());
    let header = r.read_message_begin().expect("a valid message header");
    let body = Echo::decode(&mut r).expect("a valid Echo");
    (header, body)
}

/// What a ringrpc server does with one connection's bytes: detect, split, decode, answer.
fn serve(mut wire: BytesMut) -> (Dialect, BytesMut, bool) {
    let mut decoder = FrameDecoder::default();
    let frame = decoder
        .decode(&mut wire)
        .expect("a well-formed frame")
        .expect("a whole frame");
    let (call, echo) = match frame.dialect.protocol {
        ProtocolId::Binary => decode_call::<Binary>(&frame.payload),
        ProtocolId::Compact => decode_call::<Compact>(&frame.payload),
    };
    let zero_copy = frame.payload.as_ptr_range().contains(&echo.msg.as_ptr());
    let reply = MessageHeader {
        kind: MessageType::Reply,
        ..call
    };
    let mut header = frame.header.clone();
    if let Some(h) = header.as_mut() {
        h.metadata = h.metadata.to_forward();
        h.metadata.insert_backward("served-by", "ringrpc-demo");
    }
    (
        frame.dialect,
        encode_in(frame.dialect, header.as_ref(), &reply, &echo),
        zero_copy,
    )
}

fn hex_prefix(bytes: &[u8], n: usize) -> String {
    let mut s: String = bytes.iter().take(n).map(|b| format!("{b:02x} ")).collect();
    if bytes.len() > n {
        s.push('…');
    }
    s
}

fn throughput<P: Protocol>(body: &Echo) -> (f64, f64) {
    let budget = Duration::from_millis(150);
    let encoded = to_bytes::<P, _>(body).expect("encodable");
    let (mut n, start) = (0u64, Instant::now());
    while start.elapsed() < budget {
        for _ in 0..1000 {
            std::hint::black_box(to_bytes::<P, _>(std::hint::black_box(body)).ok());
        }
        n += 1000;
    }
    let enc = start.elapsed().as_nanos() as f64 / n as f64;
    let (mut n, start) = (0u64, Instant::now());
    while start.elapsed() < budget {
        for _ in 0..1000 {
            std::hint::black_box(from_bytes::<P, Echo>(std::hint::black_box(&encoded)).ok());
        }
        n += 1000;
    }
    let dec = start.elapsed().as_nanos() as f64 / n as f64;
    (enc, dec)
}

fn main() {
    let echo = Echo {
        action: BytesStr::from_static("echo"),
        msg: BytesStr::from("hello from ringrpc, ".repeat(3)),
    };
    let call = MessageHeader {
        name: BytesStr::from_static("echo"),
        kind: MessageType::Call,
        seq_id: 1,
    };
    let mut header = HeaderInfo::default();
    header
        .metadata
        .insert_persistent("trace-id", "4bf92f3577b34da6");
    header.metadata.insert_transit("caller", "demo-client");

    println!("ringrpc demo: one server port, every client dialect (answers in kind)\n");
    println!(
        "{:<10} {:<8} {:>6} {:>6}  {:<9} request bytes",
        "framing", "protocol", "req B", "rep B", "zero-copy"
    );
    for dialect in DIALECTS {
        let header =
            matches!(dialect.framing, Framing::TTHeader | Framing::THeader).then_some(&header);
        let request = encode_in(dialect, header, &call, &echo);
        let request_hex = hex_prefix(&request, 16);
        let request_len = request.len();
        let (detected, reply, zero_copy) = serve(request);
        assert_eq!(
            detected, dialect,
            "the server detects what the client speaks"
        );
        let mut client = FrameDecoder::with_dialect(dialect, DecodeLimits::default());
        let mut reply_buf = reply.clone();
        let frame = client
            .decode(&mut reply_buf)
            .expect("a valid reply")
            .expect("a whole reply");
        let (reply_header, reply_body) = match dialect.protocol {
            ProtocolId::Binary => decode_call::<Binary>(&frame.payload),
            ProtocolId::Compact => decode_call::<Compact>(&frame.payload),
        };
        assert_eq!(reply_header.kind, MessageType::Reply);
        assert_eq!(reply_body, echo);
        if let Some(info) = &frame.header {
            assert_eq!(
                info.metadata.backward().next().map(|(k, _)| k),
                Some("served-by")
            );
        }
        println!(
            "{:<10} {:<8} {:>6} {:>6}  {:<9} {}",
            format!("{:?}", dialect.framing),
            dialect.protocol,
            request_len,
            reply.len(),
            if zero_copy { "yes" } else { "NO" },
            request_hex
        );
    }

    println!(
        "\nEcho ({} B message) encode / decode, one core:",
        echo.msg.len()
    );
    for (name, (enc, dec)) in [
        ("binary", throughput::<Binary>(&echo)),
        ("compact", throughput::<Compact>(&echo)),
    ] {
        println!("  {name:<8} encode {enc:>7.1} ns   decode {dec:>7.1} ns");
    }
    println!("\nok: 7 dialects served and answered");
}
