//! The body of the `server_conn` fuzz target (`runtime/fuzz`), shared with
//! `tests/fuzz_replay.rs` so CI replays the seed corpus through exactly the code the fuzzer
//! ran: an arbitrary byte stream is written, in chunks the first byte chooses, into a live
//! server connection (ThriftTest over a Unix socket pair, on a monoio runtime), and the
//! server must answer with well-formed frames only, close when the stream ends, and never
//! panic. `seed_streams` makes the starting corpus: one call of every ThriftTest method in
//! every dialect.
#![allow(dead_code, unreachable_pub)]

use std::cell::RefCell;
use std::time::Duration;

use monoio::io::{AsyncReadRent, AsyncWriteRent, AsyncWriteRentExt, Splitable};
use ringrpc::Server;
use ringrpc::codec::frame::{Dialect, FrameDecoder};
use ringrpc::codec::{
    Binary, Blob, BytesMut, Compact, DecodeLimits, Encode, MessageType, Metadata, Protocol,
    ProtocolId, ProtocolReader, Uuid,
};
use ringrpc_examples::conformance::DIALECTS;
use ringrpc_examples::conformance::handler::ThriftTestHandler;
use ringrpc_examples::conformance::raw::encode_message;
use ringrpc_examples::thrift_test::thrift_test::thrift_test::{self as service, *};
use ringrpc_examples::thrift_test::thrift_test::{Insanity, Numberz, Xtruct, Xtruct2};

/// Frames the fuzzer may make the server answer at most (bounds the read side).
const MAX_REPLY_BYTES: usize = 64 << 20;

thread_local! {
    /// One runtime for every input: building a ring per input would dominate the run.
    static RUNTIME: RefCell<monoio::Runtime<monoio::time::TimeDriver<monoio::LegacyDriver>>> =
        RefCell::new(
            monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
                .enable_timer()
                .build()
                .expect("a runtime"),
        );
}

/// Feeds `data` (after its first byte, which picks the write chunk size) to a live server
/// connection and checks what comes back; returns how many replies came.
pub fn server_stream(data: &[u8]) -> usize {
    let Some((&pick, stream)) = data.split_first() else {
        return 0;
    };
    let chunk = if pick == 0 {
        stream.len().max(1)
    } else {
        usize::from(pick) * 7 % 512 + 1
    };
    let stream = stream.to_vec();
    RUNTIME.with(|rt| rt.borrow_mut().block_on(exchange(stream, chunk)))
}

async fn exchange(stream: Vec<u8>, chunk: usize) -> usize {
    let (server_end, client_end) = std::os::unix::net::UnixStream::pair().expect("a socket pair");
    for end in [&server_end, &client_end] {
        end.set_nonblocking(true).expect("non-blocking");
    }
    let server_end = monoio::net::UnixStream::from_std(server_end).expect("monoio stream");
    let client_end = monoio::net::UnixStream::from_std(client_end).expect("monoio stream");
    let handler = ThriftTestHandler {
        max_oneway_sleep: Duration::ZERO,
    };
    let limits = Server::builder().max_frame(1 << 20).max_in_flight(16);
    let server = monoio::spawn(async move {
        limits
            .serve_stream(server_end, service::Server::new(handler))
            .await
    });
    let (mut reader, mut writer) = client_end.into_split();
    let write = monoio::spawn(async move {
        for piece in stream.chunks(chunk) {
            let (written, _) = writer.write_all(piece.to_vec()).await;
            if written.is_err() {
                // The server closed on bad input: what it answered before is still checked.
                return;
            }
        }
        let _ = writer.shutdown().await;
    });
    let mut replies = Vec::new();
    let read = async {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let (n, back) = reader.read(buf).await;
            buf = back;
            match n {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    replies.extend_from_slice(&buf[..n]);
                    assert!(replies.len() <= MAX_REPLY_BYTES, "endless replies");
                }
            }
        }
    };
    monoio::time::timeout(Duration::from_secs(10), read)
        .await
        .expect("the server answers and closes within 10 s of the stream's end");
    write.await;
    server.await.expect("the default options combine");
    check_replies(replies)
}

/// Every byte the server sent must belong to a well-formed reply frame; returns how many.
fn check_replies(replies: Vec<u8>) -> usize {
    let mut input = BytesMut::from(&replies[..]);
    let mut decoder = FrameDecoder::new(DecodeLimits::default());
    let mut count = 0;
    while !input.is_empty() {
        let frame = decoder
            .decode(&mut input)
            .expect("the server's replies are valid frames")
            .expect("the server's replies end with a whole frame");
        let kind = match frame.dialect.protocol {
            ProtocolId::Binary => message_kind::<Binary>(&frame.payload),
            ProtocolId::Compact => message_kind::<Compact>(&frame.payload),
        };
        assert!(
            matches!(kind, MessageType::Reply | MessageType::Exception),
            "a server sends replies and exceptions only, not {kind:?}"
        );
        count += 1;
    }
    count
}

fn message_kind<P: Protocol>(payload: &Blob) -> MessageType {
    P::reader(payload, DecodeLimits::default())
        .read_message_begin()
        .expect("a reply's message header is valid")
        .kind
}

/// One call of `name` with `args`, framed in `dialect`, with a metainfo header where the
/// framing has one.
fn call<A: Encode>(dialect: Dialect, name: &'static str, args: &A, out: &mut BytesMut) {
    let kind = if name == "testOneway" {
        MessageType::Oneway
    } else {
        MessageType::Call
    };
    let mut metadata = Metadata::new();
    metadata.insert("RPC_PERSIST_trace", "t");
    encode_message(dialect, name, kind, 7, args, metadata, out).expect("a seed encodes");
}

/// The seed corpus: `(file name, input)` for one call of every ThriftTest method in every
/// dialect (the first byte 0 writes the stream whole).
pub fn seed_streams() -> Vec<(String, Vec<u8>)> {
    let xtruct = Xtruct {
        string_thing: "Zero".into(),
        byte_thing: 1,
        i32_thing: -3,
        i64_thing: -5,
    };
    let insanity = Insanity {
        user_map: [(Numberz::FIVE, 5)].into_iter().collect(),
        xtructs: vec![xtruct.clone()],
    };
    let mut seeds = Vec::new();
    for (dialect_name, dialect) in DIALECTS {
        let mut add = |method: &str, encode: &dyn Fn(&mut BytesMut)| {
            let mut stream = BytesMut::from(&[0u8][..]);
            encode(&mut stream);
            seeds.push((format!("{dialect_name}-{method}"), stream.to_vec()));
        };
        add("testVoid", &|o| {
            call(dialect, "testVoid", &TestVoidArgs {}, o)
        });
        add("testString", &|o| {
            call(
                dialect,
                "testString",
                &TestStringArgs {
                    thing: "Ünïcödé".into(),
                },
                o,
            )
        });
        add("testBool", &|o| {
            call(dialect, "testBool", &TestBoolArgs { thing: true }, o)
        });
        add("testByte", &|o| {
            call(dialect, "testByte", &TestByteArgs { thing: -127 }, o)
        });
        add("testI32", &|o| {
            call(dialect, "testI32", &TestI32Args { thing: -1 }, o)
        });
        add("testI64", &|o| {
            call(dialect, "testI64", &TestI64Args { thing: i64::MIN }, o)
        });
        add("testDouble", &|o| {
            call(dialect, "testDouble", &TestDoubleArgs { thing: -0.0 }, o)
        });
        add("testBinary", &|o| {
            let thing = Blob::from((0..=255u8).collect::<Vec<_>>());
            call(dialect, "testBinary", &TestBinaryArgs { thing }, o)
        });
        add("testUuid", &|o| {
            let thing = Uuid::from_u128(0x0011_2233_4455_6677_8899_aabb_ccdd_eeff);
            call(dialect, "testUuid", &TestUuidArgs { thing }, o)
        });
        add("testStruct", &|o| {
            call(
                dialect,
                "testStruct",
                &TestStructArgs {
                    thing: xtruct.clone(),
                },
                o,
            )
        });
        add("testNest", &|o| {
            let thing = Xtruct2 {
                byte_thing: 1,
                struct_thing: xtruct.clone(),
                i32_thing: 5,
            };
            call(dialect, "testNest", &TestNestArgs { thing }, o)
        });
        add("testMap", &|o| {
            let thing = [(0, 1), (-1, -2)].into_iter().collect();
            call(dialect, "testMap", &TestMapArgs { thing }, o)
        });
        add("testStringMap", &|o| {
            let thing = [("a".into(), "b".into())].into_iter().collect();
            call(dialect, "testStringMap", &TestStringMapArgs { thing }, o)
        });
        add("testSet", &|o| {
            let thing = [8, 1, 42].into_iter().collect();
            call(dialect, "testSet", &TestSetArgs { thing }, o)
        });
        add("testList", &|o| {
            call(
                dialect,
                "testList",
                &TestListArgs {
                    thing: vec![1, 4, 9, -42],
                },
                o,
            )
        });
        add("testEnum", &|o| {
            call(
                dialect,
                "testEnum",
                &TestEnumArgs {
                    thing: Numberz::FIVE,
                },
                o,
            )
        });
        add("testTypedef", &|o| {
            call(dialect, "testTypedef", &TestTypedefArgs { thing: 7 }, o)
        });
        add("testMapMap", &|o| {
            call(dialect, "testMapMap", &TestMapMapArgs { hello: 1 }, o)
        });
        add("testInsanity", &|o| {
            let argument = insanity.clone();
            call(dialect, "testInsanity", &TestInsanityArgs { argument }, o)
        });
        add("testMulti", &|o| {
            let args = TestMultiArgs {
                arg0: 74,
                arg1: 0xff00ff,
                arg2: 0xffff_ffff_d0d0,
                arg3: [(0, "abc".into())].into_iter().collect(),
                arg4: Numberz::FIVE,
                arg5: 0xf0f0f0,
            };
            call(dialect, "testMulti", &args, o)
        });
        add("testException", &|o| {
            call(
                dialect,
                "testException",
                &TestExceptionArgs {
                    arg: "Xception".into(),
                },
                o,
            )
        });
        add("testMultiException", &|o| {
            let args = TestMultiExceptionArgs {
                arg0: "Xception2".into(),
                arg1: "x".into(),
            };
            call(dialect, "testMultiException", &args, o)
        });
        add("testOneway", &|o| {
            call(
                dialect,
                "testOneway",
                &TestOnewayArgs {
                    seconds_to_sleep: 1,
                },
                o,
            )
        });
        add("pipelined", &|o| {
            call(dialect, "testI32", &TestI32Args { thing: 1 }, o);
            call(dialect, "noSuchMethod", &TestVoidArgs {}, o);
            call(
                dialect,
                "testString",
                &TestStringArgs { thing: "x".into() },
                o,
            );
        });
    }
    seeds
}
