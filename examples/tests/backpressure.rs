//! A peer that sends calls but never reads the replies is not read either: the server stops
//! taking its calls once about 4 MiB of replies wait for it, so its writes stall and the
//! server's memory stays flat (instead of queueing every reply).

use std::io::Write;
use std::net::TcpStream;
use std::time::Duration;

use ringrpc::Server;
use ringrpc::codec::frame::{Dialect, Framing};
use ringrpc::codec::{Blob, BytesMut, MessageType, Metadata, ProtocolId};
use ringrpc_examples::conformance::handler::ThriftTestHandler;
use ringrpc_examples::conformance::raw::encode_message;
use ringrpc_examples::thrift_test::thrift_test::thrift_test::{self, TestBinaryArgs};

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM")
}

#[test]
fn a_peer_that_never_reads_its_replies_stops_being_read() {
    let server = Server::builder()
        .workers(1)
        .serve("127.0.0.1:0", || {
            thrift_test::Server::new(ThriftTestHandler::default())
        })
        .unwrap();
    let address = server.address().to_string();
    // 64 KiB echoes: 2,000 of them would be 128 MiB of replies.
    let mut call = BytesMut::new();
    let args = TestBinaryArgs {
        thing: Blob::from(vec![7u8; 64 * 1024]),
    };
    let dialect = Dialect::new(Framing::Framed, ProtocolId::Binary);
    encode_message(
        dialect,
        "testBinary",
        MessageType::Call,
        1,
        &args,
        Metadata::new(),
        &mut call,
    )
    .unwrap();
    let before = peak_rss_kib();
    let mut stream = TcpStream::connect(address.trim_start_matches("tcp://")).unwrap();
    stream
        .set_write_timeout(Some(Duration::from_millis(1500)))
        .unwrap();
    let mut sent = 0;
    while sent < 2_000 {
        match stream.write_all(&call) {
            Ok(()) => sent += 1,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    let grown_kib = peak_rss_kib().saturating_sub(before);
    assert!(
        sent < 2_000,
        "the server kept reading: all {sent} calls were taken"
    );
    // The backlog (4 MiB), a read's worth of calls, socket buffers and the client's frame.
    assert!(grown_kib < 32 * 1024, "peak RSS grew by {grown_kib} KiB");
    println!("{sent} calls taken before the writes stalled; peak RSS +{grown_kib} KiB");
    drop(stream);
    server.shutdown().unwrap();
}
