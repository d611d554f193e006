//! The body of the `client_conn` fuzz target (`runtime/fuzz`), shared with
//! `tests/fuzz_replay.rs`: a hostile *server*. Three ThriftTest calls go out concurrently on a
//! fresh connection from a ringrpc client (the dialect picked by the first input byte), and
//! the rest of the input comes back as the "replies", in chunks, before the connection
//! closes. Every call must end (a value or a typed error) and nothing may panic.
//! `seed_streams` makes the starting corpus: well-formed replies to the three calls in every
//! dialect, with the sequence ids a fresh connection gives them.
#![allow(dead_code, unreachable_pub)]

use std::cell::RefCell;
use std::time::Duration;

use monoio::io::AsyncWriteRentExt;
use ringrpc::codec::frame::Dialect;
use ringrpc::codec::{BytesMut, BytesStr, Encode, MessageType, Metadata};
use ringrpc::method::Reply;
use ringrpc::{Client, PoolMode};
use ringrpc_examples::conformance::DIALECTS;
use ringrpc_examples::conformance::raw::encode_message;
use ringrpc_examples::thrift_test::thrift_test::thrift_test::{self as service};
use ringrpc_examples::thrift_test::thrift_test::{Insanity, Numberz, Xtruct};

/// The sequence ids of the first three calls on a fresh multiplexed connection: slot in
/// the low 16 bits, generation (counting from 1) above.
const FIRST_SEQ_IDS: [i32; 3] = [0x0001_0000, 0x0002_0001, 0x0003_0002];

struct Harness {
    runtime: monoio::Runtime<monoio::time::TimeDriver<monoio::LegacyDriver>>,
    /// Where the clients connect; lives as long as the thread.
    path: std::path::PathBuf,
    listener: Option<monoio::net::UnixListener>,
    clients: Vec<service::Client<Client>>,
}

thread_local! {
    static HARNESS: RefCell<Harness> = RefCell::new(Harness {
        runtime: monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
            .enable_timer()
            .build()
            .expect("a runtime"),
        path: std::env::temp_dir().join(format!(
            "ringrpc-client-fuzz-{}-{:?}.sock",
            std::process::id(),
            std::thread::current().id()
        )),
        listener: None,
        clients: Vec::new(),
    });
}

/// Runs the three calls against "replies" made of `data` (after its first byte, which picks
/// the dialect and the write chunk size); returns how many calls got a value back.
pub fn client_stream(data: &[u8]) -> usize {
    let Some((&pick, replies)) = data.split_first() else {
        return 0;
    };
    let replies = replies.to_vec();
    HARNESS.with(|harness| {
        let harness = &mut *harness.borrow_mut();
        let (runtime, path) = (&mut harness.runtime, &harness.path);
        let (listener, clients) = (&mut harness.listener, &mut harness.clients);
        runtime.block_on(async {
            if listener.is_none() {
                let _ = std::fs::remove_file(path);
                let bound = std::os::unix::net::UnixListener::bind(path).expect("a listener");
                bound.set_nonblocking(true).expect("non-blocking");
                *listener =
                    Some(monoio::net::UnixListener::from_std(bound).expect("a monoio listener"));
                for (_, dialect) in DIALECTS {
                    let client = Client::builder(&format!("unix://{}", path.display()))
                        .framing(dialect.framing)
                        .protocol(dialect.protocol)
                        .timeout(Duration::from_secs(5))
                        .reconnect_backoff(Duration::from_millis(1), Duration::from_millis(1))
                        .pool_mode(PoolMode::Multiplexed {
                            max_connections: 1,
                            grow_at_in_flight: 1 << 16,
                        })
                        .build()
                        .expect("a client");
                    clients.push(service::Client::new(client));
                }
            }
            let client = clients[usize::from(pick) % clients.len()].clone();
            let listener = listener.as_ref().expect("bound above");
            let chunk = match usize::from(pick) / DIALECTS.len() {
                0 => usize::MAX,
                k => k * 13 % 256 + 1,
            };
            exchange(listener, client, replies, chunk).await
        })
    })
}

async fn exchange(
    listener: &monoio::net::UnixListener,
    client: service::Client<Client>,
    replies: Vec<u8>,
    chunk: usize,
) -> usize {
    let calls = monoio::spawn(async move {
        let insanity = Insanity {
            user_map: [(Numberz::FIVE, 5)].into_iter().collect(),
            xtructs: vec![Xtruct::default()],
        };
        let (a, b, c) = monoio::join!(
            client.test_i32(7),
            client.test_string("hello".into()),
            client.test_insanity(insanity)
        );
        usize::from(a.is_ok()) + usize::from(b.is_ok()) + usize::from(c.is_ok())
    });
    let (mut stream, _) = monoio::time::timeout(Duration::from_secs(5), listener.accept())
        .await
        .expect("the client connects within 5 s")
        .expect("accept");
    // The calls stay unread in the socket (a Unix socket keeps what was written readable
    // after the writer closes, so the client sees every "reply").
    for piece in replies.chunks(chunk) {
        let (written, _) = stream.write_all(piece.to_vec()).await;
        if written.is_err() {
            break;
        }
    }
    drop(stream);
    monoio::time::timeout(Duration::from_secs(10), calls)
        .await
        .expect("every call ends once the connection closes")
}

/// A reply frame to call `seq_id` of `name` with `result`, in `dialect`.
fn reply<R: Encode>(
    dialect: Dialect,
    name: &'static str,
    seq_id: i32,
    result: &R,
    out: &mut BytesMut,
) {
    let mut metadata = Metadata::new();
    metadata.insert("RPC_BACKWARD_cost", "1");
    encode_message(
        dialect,
        name,
        MessageType::Reply,
        seq_id,
        result,
        metadata,
        out,
    )
    .expect("a seed encodes");
}

/// The seed corpus: `(file name, input)`: well-formed replies to the three calls, in order
/// and reversed, in every dialect.
pub fn seed_streams() -> Vec<(String, Vec<u8>)> {
    let insanity_reply = Reply(
        [(
            1i64,
            [(Numberz::TWO, Insanity::default())].into_iter().collect(),
        )]
        .into_iter()
        .collect::<ringrpc::codec::HashMap<i64, ringrpc::codec::HashMap<Numberz, Insanity>>>(),
    );
    let mut seeds = Vec::new();
    for (pick, (name, dialect)) in DIALECTS.into_iter().enumerate() {
        for (order, reversed) in [("in-order", false), ("reversed", true)] {
            let mut frames: Vec<BytesMut> = Vec::new();
            let mut one = BytesMut::new();
            reply(dialect, "testI32", FIRST_SEQ_IDS[0], &Reply(7i32), &mut one);
            frames.push(one);
            let mut two = BytesMut::new();
            let hello = Reply(BytesStr::from_static("hello"));
            reply(dialect, "testString", FIRST_SEQ_IDS[1], &hello, &mut two);
            frames.push(two);
            let mut three = BytesMut::new();
            reply(
                dialect,
                "testInsanity",
                FIRST_SEQ_IDS[2],
                &insanity_reply,
                &mut three,
            );
            frames.push(three);
            if reversed {
                frames.reverse();
            }
            let mut input = vec![pick as u8];
            for frame in frames {
                input.extend_from_slice(&frame);
            }
            seeds.push((format!("{name}-{order}"), input));
        }
    }
    seeds
}
