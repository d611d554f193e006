//! Hostile input against a live ThriftTest server: each malformed-input class of WIRE.md §4
//! (truncated frames, negative and lying lengths, depth bombs, wrong wire types, unknown
//! methods, garbage, 1-byte writes, slowloris held and trickled, connection churn) is fired at
//! the server while a well-behaved client keeps calling. For every class the attacker must
//! see the right outcome (a `TApplicationException` where the protocol allows one, else a
//! clean close), nothing may panic, the process's peak RSS must stay bounded and no single
//! allocation may come near a claimed size (a counting allocator records the largest), and
//! the well-behaved client must see no failed call and a p99 within 2× of its quiet
//! baseline. Prints a table of class × outcome.
//!
//! Placement, on two cores: the server has core 0; the well-behaved client and the attacker
//! share core 1, the attacker at `SCHED_IDLE`, so that what the client measures is the
//! server and not the attacker's syscalls taking the client's core.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use ringrpc::codec::frame::FrameDecoder;
use ringrpc::codec::{
    ApplicationException, Binary, Blob, BytesMut, Compact, Decode, DecodeLimits, MessageType,
    Protocol, ProtocolId, ProtocolReader,
};
use ringrpc::rt::{WorkerConfig, spawn_workers};
use ringrpc::{Client, PoolMode, Server};
use ringrpc_examples::conformance::handler::ThriftTestHandler;
use ringrpc_examples::thrift_test::thrift_test::thrift_test;

/// What the attacker saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// A normal reply.
    Reply,
    /// A `TApplicationException` of this kind (1 unknown method, 2 invalid message type,
    /// 7 protocol error).
    Exception(i32),
    /// The server closed the connection.
    Closed,
    /// Nothing within the wait: the server is still waiting for the rest.
    HeldOpen,
    /// Not observed (the attacker hangs up itself).
    Dropped,
}

/// The server's `frame_timeout` here: how long a started frame may take to finish.
const FRAME_TIMEOUT: Duration = Duration::from_millis(400);

const UNKNOWN_METHOD: Outcome = Outcome::Exception(1);
const INVALID_MESSAGE_TYPE: Outcome = Outcome::Exception(2);
const PROTOCOL_ERROR: Outcome = Outcome::Exception(7);

// ---- message builders (hand-made bytes: the point is to send what no encoder would) ----

fn binary_call(name: &str, kind: u8, seq_id: i32) -> Vec<u8> {
    let mut m = vec![0x80, 0x01, 0x00, kind];
    m.extend_from_slice(&(name.len() as i32).to_be_bytes());
    m.extend_from_slice(name.as_bytes());
    m.extend_from_slice(&seq_id.to_be_bytes());
    m
}

fn compact_call(name: &str, seq_id: u32) -> Vec<u8> {
    let mut m = vec![0x82, 0x21];
    varint(&mut m, u64::from(seq_id));
    varint(&mut m, name.len() as u64);
    m.extend_from_slice(name.as_bytes());
    m
}

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn framed(payload: &[u8]) -> Vec<u8> {
    let mut f = (payload.len() as u32).to_be_bytes().to_vec();
    f.extend_from_slice(payload);
    f
}

/// A framed binary call of `name` whose args struct body is `body` (fields, then STOP).
fn binary_frame(name: &str, body: &[u8]) -> Vec<u8> {
    let mut m = binary_call(name, 1, 7);
    m.extend_from_slice(body);
    framed(&m)
}

/// `testString` args whose string field claims `len` bytes but carries 4.
fn lying_string(len: i32) -> Vec<u8> {
    let mut body = vec![0x0b, 0x00, 0x01];
    body.extend_from_slice(&len.to_be_bytes());
    body.extend_from_slice(b"abcd\0");
    binary_frame("testString", &body)
}

/// `testVoid` args with an unknown field holding `depth` nested lists.
fn list_bomb(depth: usize) -> Vec<u8> {
    let mut body = vec![0x0f, 0x00, 0x63];
    for _ in 0..depth {
        body.extend_from_slice(&[0x0f, 0x00, 0x00, 0x00, 0x01]);
    }
    body.extend_from_slice(&[0x08, 0x00, 0x00, 0x00, 0x00]);
    body.push(0);
    binary_frame("testVoid", &body)
}

/// `testVoid` args with an unknown field nesting `depth` structs (a stack-overflow probe).
fn struct_bomb(depth: usize) -> Vec<u8> {
    let mut body = Vec::with_capacity(depth * 3 + 1);
    for _ in 0..depth {
        body.extend_from_slice(&[0x0c, 0x00, 0x01]);
    }
    body.push(0);
    binary_frame("testVoid", &body)
}

fn test_i32_frame(thing: i32) -> Vec<u8> {
    let mut body = vec![0x08, 0x00, 0x01];
    body.extend_from_slice(&thing.to_be_bytes());
    body.push(0);
    binary_frame("testI32", &body)
}

/// A THeader frame whose header size (in 4-byte words) reaches past the frame.
fn theader_oversized_header() -> Vec<u8> {
    let mut f = vec![0x0f, 0xff, 0x00, 0x00, 0, 0, 0, 1, 0x01, 0x00];
    f.extend_from_slice(&[0, 0, 0, 0]);
    framed(&f)
}

/// A TTHeader frame whose header size is below the 2-word minimum.
fn ttheader_tiny_header() -> Vec<u8> {
    let mut f = vec![0x10, 0x00, 0x00, 0x00, 0, 0, 0, 1, 0x00, 0x01];
    f.extend_from_slice(&[0, 0, 0, 0]);
    framed(&f)
}

// ---- the attacker's side ----

/// Reads what the server does next: a reply frame, a close, or nothing within `wait`.
fn observe(stream: &mut TcpStream, wait: Duration) -> Outcome {
    stream.set_read_timeout(Some(wait)).unwrap();
    let mut decoder = FrameDecoder::new(DecodeLimits::default());
    let mut input = BytesMut::new();
    let mut chunk = [0u8; 4096];
    loop {
        match decoder.decode(&mut input) {
            Ok(Some(frame)) => {
                return match frame.dialect.protocol {
                    ProtocolId::Binary => reply_outcome::<Binary>(&frame.payload),
                    ProtocolId::Compact => reply_outcome::<Compact>(&frame.payload),
                };
            }
            Ok(None) => {}
            Err(e) => panic!("the server sent a bad frame: {e}"),
        }
        match stream.read(&mut chunk) {
            Ok(0) => return Outcome::Closed,
            Ok(n) => input.extend_from_slice(&chunk[..n]),
            // The attacker's thread runs a ring, which may interrupt a blocking read.
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return Outcome::HeldOpen;
            }
            Err(_) => return Outcome::Closed,
        }
    }
}

fn reply_outcome<P: Protocol>(payload: &Blob) -> Outcome {
    let mut r = P::reader(payload, DecodeLimits::default());
    let message = r.read_message_begin().expect("the server's reply is valid");
    match message.kind {
        MessageType::Exception => Outcome::Exception(
            ApplicationException::decode(&mut r)
                .expect("a valid exception")
                .kind
                .0,
        ),
        _ => Outcome::Reply,
    }
}

fn connect(server: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect_timeout(&server, Duration::from_secs(5)).expect("connect");
    stream.set_nodelay(true).unwrap();
    stream
}

/// Sends `bytes` on a fresh connection (optionally half-closing after) and observes.
fn send_and_observe(server: SocketAddr, bytes: &[u8], half_close: bool) -> Outcome {
    let mut stream = connect(server);
    // A server that closes early may reset the rest of a large write: that is a close.
    if stream.write_all(bytes).is_err() {
        return Outcome::Closed;
    }
    if half_close {
        let _ = stream.shutdown(Shutdown::Write);
    }
    observe(&mut stream, Duration::from_secs(2))
}

/// One class of hostile input: how to fire it once, and what must come back.
struct Class {
    name: &'static str,
    expected: Outcome,
    fire: Box<dyn Fn(SocketAddr) -> Outcome>,
}

fn class(
    name: &'static str,
    expected: Outcome,
    fire: impl Fn(SocketAddr) -> Outcome + 'static,
) -> Class {
    Class {
        name,
        expected,
        fire: Box::new(fire),
    }
}

fn one_frame(name: &'static str, expected: Outcome, bytes: Vec<u8>) -> Class {
    class(name, expected, move |server| {
        send_and_observe(server, &bytes, false)
    })
}

fn classes() -> Vec<Class> {
    let mut truncated = framed(&binary_call("testI32", 1, 1));
    truncated.truncate(9);
    let mut garbage = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec();
    garbage.extend_from_slice(&test_i32_frame(5));
    let mut compact_huge_string = compact_call("testString", 9);
    compact_huge_string.extend_from_slice(&[0x18, 0xff, 0xff, 0xff, 0xff, 0x0f]);
    let mut compact_long_varint = compact_call("testI32", 9);
    compact_long_varint.extend_from_slice(&[0x15]);
    compact_long_varint.extend_from_slice(&[0xff; 10]);
    compact_long_varint.push(0x01);
    let mut huge_list = vec![0x0f, 0x00, 0x01, 0x08];
    huge_list.extend_from_slice(&0x7fff_ffffi32.to_be_bytes());
    huge_list.extend_from_slice(&[0, 0, 0, 1, 0]);
    let mut bad_utf8 = vec![0x0b, 0x00, 0x01, 0, 0, 0, 2, 0xc3, 0x28, 0];
    let wrong_type = {
        let mut b = vec![0x0b, 0x00, 0x01, 0, 0, 0, 1, b'x', 0];
        b.shrink_to_fit();
        b
    };
    bad_utf8.shrink_to_fit();
    vec![
        class("truncated frame, then EOF", Outcome::Closed, move |s| {
            send_and_observe(s, &truncated, true)
        }),
        one_frame("negative frame length", Outcome::Closed, {
            let mut f = vec![0xff, 0xff, 0xff, 0xff];
            f.extend_from_slice(&binary_call("testVoid", 1, 1));
            f
        }),
        one_frame("frame length 2 GiB (over the limit)", Outcome::Closed, {
            let mut f = vec![0x7f, 0xff, 0xff, 0xff];
            f.extend_from_slice(&binary_call("testVoid", 1, 1));
            f
        }),
        one_frame(
            "string claims 2 GiB in a small frame",
            PROTOCOL_ERROR,
            lying_string(i32::MAX),
        ),
        one_frame("negative string length", PROTOCOL_ERROR, lying_string(-1)),
        one_frame(
            "compact string claims 4 GiB",
            PROTOCOL_ERROR,
            framed(&compact_huge_string),
        ),
        one_frame(
            "list claims 2^31 elements",
            PROTOCOL_ERROR,
            binary_frame("testList", &huge_list),
        ),
        one_frame(
            "compact 11-byte varint",
            PROTOCOL_ERROR,
            framed(&compact_long_varint),
        ),
        one_frame(
            "depth bomb: 65 nested lists (skipped field)",
            PROTOCOL_ERROR,
            list_bomb(65),
        ),
        one_frame(
            "depth bomb: 10,000 nested structs",
            PROTOCOL_ERROR,
            struct_bomb(10_000),
        ),
        one_frame(
            "wrong wire type (string for i32: skipped)",
            Outcome::Reply,
            binary_frame("testI32", &wrong_type),
        ),
        one_frame(
            "unknown wire type byte",
            PROTOCOL_ERROR,
            binary_frame("testVoid", &[0x13, 0x00, 0x01, 0x00]),
        ),
        one_frame(
            "invalid UTF-8 in a string",
            PROTOCOL_ERROR,
            binary_frame("testString", &bad_utf8),
        ),
        one_frame(
            "unknown method",
            UNKNOWN_METHOD,
            binary_frame("noSuchMethod", &[0]),
        ),
        one_frame("a REPLY sent to a server", INVALID_MESSAGE_TYPE, {
            let mut m = binary_call("testVoid", 2, 3);
            m.push(0);
            framed(&m)
        }),
        one_frame("bad protocol version 0x8002", Outcome::Closed, {
            let mut m = binary_call("testVoid", 1, 3);
            m[1] = 0x02;
            m.push(0);
            framed(&m)
        }),
        one_frame("message type 5", Outcome::Closed, {
            let mut m = binary_call("testVoid", 5, 3);
            m.push(0);
            framed(&m)
        }),
        one_frame("garbage before a valid frame", Outcome::Closed, garbage),
        one_frame(
            "THeader header past the frame",
            Outcome::Closed,
            theader_oversized_header(),
        ),
        one_frame(
            "TTHeader header size < 2 words",
            Outcome::Closed,
            ttheader_tiny_header(),
        ),
        class("a frame in 1-byte writes", Outcome::Reply, |server| {
            let mut stream = connect(server);
            for byte in test_i32_frame(11) {
                stream.write_all(&[byte]).unwrap();
            }
            observe(&mut stream, Duration::from_secs(2))
        }),
        class(
            "slowloris: 64 connections hold half a frame",
            Outcome::Closed,
            |server| {
                let frame = test_i32_frame(3);
                let mut held: Vec<TcpStream> = (0..64).map(|_| connect(server)).collect();
                for stream in &mut held {
                    stream.write_all(&frame[..frame.len() / 2]).unwrap();
                }
                // Every one is closed once the frame timeout passes.
                let outcomes: Vec<Outcome> = held
                    .iter_mut()
                    .map(|s| observe(s, FRAME_TIMEOUT * 4))
                    .collect();
                match outcomes.iter().find(|o| **o != Outcome::Closed) {
                    Some(other) => *other,
                    None => Outcome::Closed,
                }
            },
        ),
        class(
            "slowloris: a frame trickled a byte per 50 ms",
            Outcome::Closed,
            |server| {
                let frame = test_i32_frame(4);
                let mut stream = connect(server);
                let started = Instant::now();
                for byte in frame.iter().take(frame.len() - 1) {
                    if stream.write_all(&[*byte]).is_err() {
                        return Outcome::Closed;
                    }
                    if started.elapsed() > FRAME_TIMEOUT * 2 {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
                observe(&mut stream, FRAME_TIMEOUT * 4)
            },
        ),
        class(
            "thousands of connections opened and dropped",
            Outcome::Dropped,
            |server| {
                for _ in 0..50 {
                    drop(connect(server));
                }
                Outcome::Dropped
            },
        ),
    ]
}

// ---- the well-behaved client and the run ----

#[path = "../../codec/tests/support/counting_alloc.rs"]
mod counting_alloc;

#[global_allocator]
static GLOBAL: counting_alloc::Counting = counting_alloc::Counting;

/// No allocation in this process may come near a size an attacker claimed (2 GiB, 4 GiB,
/// 2^31 elements): frames are capped at 16 MiB.
const LARGEST_ALLOWED_ALLOCATION: usize = 32 << 20;

/// Per-phase latency and failures of the well-behaved client (phase 0: quiet windows).
struct Phases {
    latencies: Vec<Histogram<u64>>,
    failures: Vec<u64>,
}

impl Phases {
    fn p99(&self, phase: usize) -> u64 {
        self.latencies[phase].value_at_quantile(0.99)
    }

    fn ratio(&self, phase: usize) -> f64 {
        self.p99(phase) as f64 / self.p99(0).max(1) as f64
    }
}

fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in /proc/self/status")
}

/// Lowers the calling thread to `SCHED_IDLE`. The attacker shares a core with the
/// well-behaved client (two cores: the server has the other); this way the client's latency
/// measures the server, not the attacker's own connect and write syscalls keeping the
/// client's thread off its core.
fn run_only_when_idle() {
    let param = libc::sched_param { sched_priority: 0 };
    // SAFETY: `sched_setscheduler` with pid 0 changes only the calling thread's policy and
    // reads `param`, a valid local, for the duration of the call.
    let set = unsafe { libc::sched_setscheduler(0, libc::SCHED_IDLE, &param) };
    assert_eq!(
        set,
        0,
        "sched_setscheduler: {}",
        std::io::Error::last_os_error()
    );
}

/// What the attacker reports for one class.
struct Fired {
    name: &'static str,
    expected: Outcome,
    seen: Vec<Outcome>,
    /// The p99 ratio of a first window that exceeded 2× before the window was repeated.
    first_ratio: Option<f64>,
}

/// Fires each class for a window of its own (phase `i + 1`), with a quiet window (phase 0)
/// after each, so the baseline sees the same machine as the attacks. A class whose window
/// leaves the well-behaved client's p99 over 2× its baseline gets one more window (a
/// scheduler hiccup on a shared two-core machine does not repeat; a server that stalls
/// does).
fn attack(server: SocketAddr, phase: &AtomicUsize, phases: &Mutex<Phases>) -> Vec<Fired> {
    run_only_when_idle();
    std::thread::sleep(Duration::from_millis(500));
    let mut fired = Vec::new();
    for (i, class) in classes().into_iter().enumerate() {
        let mut first_ratio = None;
        let seen = loop {
            phase.store(i + 1, Ordering::SeqCst);
            let started = Instant::now();
            let mut seen = Vec::new();
            // Every 5 ms for at least 600 ms (and 3 times): a steady hostile client, not a
            // CPU flood (on two cores a flood measures CPU contention, not the server).
            while seen.len() < 3 || started.elapsed() < Duration::from_millis(600) {
                let at = Instant::now();
                seen.push((class.fire)(server));
                std::thread::sleep(Duration::from_millis(5).saturating_sub(at.elapsed()));
            }
            phase.store(0, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(300));
            let mut phases = phases.lock().unwrap();
            let ratio = phases.ratio(i + 1);
            if ratio <= 2.0 || first_ratio.is_some() {
                break seen;
            }
            first_ratio = Some(ratio);
            phases.latencies[i + 1].reset();
        };
        fired.push(Fired {
            name: class.name,
            expected: class.expected,
            seen,
            first_ratio,
        });
    }
    fired
}

#[test]
fn hostile_input_gets_typed_errors_or_clean_closes_while_others_are_served() {
    let panics = Arc::new(AtomicUsize::new(0));
    let hook = std::panic::take_hook();
    {
        let panics = panics.clone();
        std::panic::set_hook(Box::new(move |info| {
            panics.fetch_add(1, Ordering::SeqCst);
            eprintln!("PANIC: {info}");
        }));
    }
    // The server has core 0 to itself; the well-behaved client and the attacker share 1.
    let server = Server::builder()
        .workers(1)
        .cores(vec![0])
        .frame_timeout(Some(FRAME_TIMEOUT))
        .serve("127.0.0.1:0", || {
            thrift_test::Server::new(ThriftTestHandler::default())
        })
        .expect("the server starts");
    let address: SocketAddr = server
        .address()
        .to_string()
        .trim_start_matches("tcp://")
        .parse()
        .unwrap();
    let class_count = classes().len();
    let phase = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let phases = Arc::new(Mutex::new(Phases {
        latencies: (0..=class_count)
            .map(|_| Histogram::new_with_bounds(1, 60_000_000, 3).unwrap())
            .collect(),
        failures: vec![0; class_count + 1],
    }));
    let on_core_1 = WorkerConfig {
        workers: 1,
        cores: vec![1],
        ..WorkerConfig::default()
    };
    let good = {
        let (phase, stop, phases) = (phase.clone(), stop.clone(), phases.clone());
        let address = address.to_string();
        spawn_workers(&on_core_1, move |_| {
            let (phase, stop, phases) = (phase.clone(), stop.clone(), phases.clone());
            let client = Client::builder(&address)
                .pool_mode(PoolMode::PingPong { max_connections: 1 })
                .timeout(Duration::from_secs(5))
                .build()
                .unwrap();
            async move {
                let client = thrift_test::Client::new(client);
                let mut i = 0i32;
                while !stop.load(Ordering::SeqCst) {
                    i = i.wrapping_add(1);
                    let at = phase.load(Ordering::SeqCst);
                    let started = Instant::now();
                    let ok = matches!(client.test_i32(i).await, Ok(v) if v == i);
                    let micros = started.elapsed().as_micros() as u64;
                    let mut phases = phases.lock().unwrap();
                    if ok {
                        phases.latencies[at].saturating_record(micros.max(1));
                    } else {
                        phases.failures[at] += 1;
                    }
                }
            }
        })
        .expect("the well-behaved client starts")
    };
    let rss_before = peak_rss_kib();
    let attacker = {
        let (phase, phases) = (phase.clone(), phases.clone());
        spawn_workers(&on_core_1, move |_| {
            let fired = attack(address, &phase, &phases);
            async move { fired }
        })
        .expect("the attacker starts")
    };
    let fired: Vec<Fired> = attacker
        .into_iter()
        .flat_map(|t| t.join().expect("the attacker ran").expect("its runtime"))
        .collect();
    stop.store(true, Ordering::SeqCst);
    for thread in good {
        thread.join().expect("the well-behaved client ran").unwrap();
    }
    let rss_growth_kib = peak_rss_kib().saturating_sub(rss_before);
    server.shutdown().expect("the server shuts down");
    std::panic::set_hook(hook);
    let largest = counting_alloc::largest_allocation();
    report(
        &fired,
        &phases.lock().unwrap(),
        rss_growth_kib,
        largest,
        panics.load(Ordering::SeqCst),
    );
}

/// Prints the table and fails on any problem.
fn report(fired: &[Fired], phases: &Phases, rss_growth_kib: u64, largest: usize, panics: usize) {
    println!(
        "\n{:<46} {:<13} {:>5} {:>6} {:>6} {:>7} {:>6}",
        "class", "outcome", "fired", "calls", "failed", "p99 µs", "×quiet"
    );
    println!(
        "{:<46} {:<13} {:>5} {:>6} {:>6} {:>7} {:>6}",
        "(quiet windows between classes)",
        "-",
        "-",
        phases.latencies[0].len(),
        phases.failures[0],
        phases.p99(0),
        "1.00"
    );
    let mut problems = Vec::new();
    for (i, class) in fired.iter().enumerate() {
        let phase = i + 1;
        let seen = &class.seen;
        let outcome = if seen.iter().all(|o| *o == seen[0]) {
            format!("{:?}", seen[0])
        } else {
            "mixed".to_owned()
        };
        let second_look = class
            .first_ratio
            .map_or(String::new(), |r| format!(" (first window {r:.2})"));
        println!(
            "{:<46} {:<13} {:>5} {:>6} {:>6} {:>7} {:>6.2}{second_look}",
            class.name,
            outcome,
            seen.len(),
            phases.latencies[phase].len(),
            phases.failures[phase],
            phases.p99(phase),
            phases.ratio(phase),
        );
        if seen.iter().any(|o| *o != class.expected) {
            problems.push(format!(
                "{}: expected {:?}, saw {seen:?}",
                class.name, class.expected
            ));
        }
        if phases.failures[phase] > 0 {
            problems.push(format!(
                "{}: the well-behaved client saw failures",
                class.name
            ));
        }
        if phases.ratio(phase) > 2.0 {
            problems.push(format!(
                "{}: the well-behaved client's p99 went from {} µs to {} µs",
                class.name,
                phases.p99(0),
                phases.p99(phase)
            ));
        }
    }
    println!(
        "peak RSS grew by {rss_growth_kib} KiB; largest allocation {} KiB; panics: {panics}",
        largest / 1024
    );
    if phases.failures[0] > 0 {
        problems.push("the well-behaved client failed in a quiet window".into());
    }
    if largest > LARGEST_ALLOWED_ALLOCATION {
        problems.push(format!("an allocation of {largest} bytes"));
    }
    if rss_growth_kib > 64 * 1024 {
        problems.push(format!("peak RSS grew by {rss_growth_kib} KiB"));
    }
    if panics > 0 {
        problems.push(format!("{panics} panics"));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
