//! `ServerBuilder::frame_timeout` closes a connection that started a frame and stalled, but
//! never one that keeps sending: frames that straddle reads back to back for many times the
//! timeout are all answered.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use ringrpc::Server;
use ringrpc::codec::frame::{Framing, encode_frame};
use ringrpc::codec::{Binary, BytesMut, BytesStr, MessageHeader, MessageType};
use ringrpc_examples::conformance::handler::ThriftTestHandler;
use ringrpc_examples::thrift_test::thrift_test::thrift_test::{self, TestI32Args};

const TIMEOUT: Duration = Duration::from_millis(400);

fn frame(seq_id: i32) -> Vec<u8> {
    let message = MessageHeader {
        name: BytesStr::from_static("testI32"),
        kind: MessageType::Call,
        seq_id,
    };
    let mut out = BytesMut::new();
    encode_frame::<Binary, _, _>(
        Framing::Framed,
        None,
        &message,
        &TestI32Args { thing: seq_id },
        &mut out,
    )
    .unwrap();
    out.to_vec()
}

fn serve() -> (ringrpc::RunningServer, TcpStream) {
    let server = Server::builder()
        .workers(1)
        .frame_timeout(Some(TIMEOUT))
        .serve("127.0.0.1:0", || {
            thrift_test::Server::new(ThriftTestHandler::default())
        })
        .unwrap();
    let address = server.address().to_string();
    let stream = TcpStream::connect(address.trim_start_matches("tcp://")).unwrap();
    stream.set_nodelay(true).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    (server, stream)
}

#[test]
fn a_busy_connection_whose_frames_straddle_reads_is_never_timed_out() {
    let (server, mut stream) = serve();
    // Each write ends half-way through a frame, so the server's buffer is never empty
    // when it reads; the whole run lasts several times the frame timeout, and each frame
    // is finished well within it (a 25 ms pause, with room for a loaded machine).
    let mut pending: Vec<u8> = Vec::new();
    let mut sent = 0;
    let started = Instant::now();
    while started.elapsed() < TIMEOUT * 3 {
        pending.extend(frame(sent));
        sent += 1;
        let cut = pending.len() - frame(0).len() / 2;
        stream.write_all(&pending[..cut]).unwrap();
        pending.drain(..cut);
        std::thread::sleep(TIMEOUT / 16);
    }
    stream.write_all(&pending).unwrap();
    let expected = frame(0).len(); // replies are as long as calls here
    let mut replies = vec![0u8; 0];
    let mut chunk = [0u8; 4096];
    while replies.len() < sent as usize * expected {
        match stream.read(&mut chunk) {
            Ok(0) => panic!(
                "closed after {} of {sent} replies",
                replies.len() / expected
            ),
            Ok(n) => replies.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => panic!("no reply: {e}"),
        }
    }
    assert!(sent > 20);
    server.shutdown().unwrap();
}

#[test]
fn a_stalled_frame_is_closed_after_the_timeout() {
    let (server, mut stream) = serve();
    let call = frame(1);
    stream.write_all(&call[..call.len() / 2]).unwrap();
    let started = Instant::now();
    let mut byte = [0u8; 1];
    let closed = loop {
        match stream.read(&mut byte) {
            Ok(n) => break n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => panic!("the server did not close the connection: {e}"),
        }
    };
    assert_eq!(
        closed, 0,
        "the server closes the connection without a reply"
    );
    let waited = started.elapsed();
    assert!(
        waited >= TIMEOUT,
        "closed after {waited:?}, before the timeout"
    );
    assert!(waited < TIMEOUT * 10, "closed only after {waited:?}");
    server.shutdown().unwrap();
}

/// A server that closes first (here: a bad frame after a good call) still delivers the
/// good call's reply and then a clean end of stream: it reads and drops what the peer
/// sends for a moment instead of closing with unread input, which would reset the
/// connection (a lingering close).
#[test]
fn closing_on_bad_input_delivers_earlier_replies_then_a_clean_end() {
    let (server, mut stream) = serve();
    let mut bytes = frame(5);
    bytes.extend_from_slice(&[0xff, 0xff, 0xff, 0xff]);
    bytes.extend(std::iter::repeat_n(0xab, 100 * 1024));
    stream.write_all(&bytes).unwrap();
    let mut received = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => received.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => panic!(
                "the connection was not closed cleanly after {} bytes: {e}",
                received.len()
            ),
        }
    }
    assert_eq!(
        received.len(),
        frame(5).len(),
        "exactly the good call's reply"
    );
    // The server still reads (and drops) for a moment after closing its side, so what a
    // peer sends meanwhile meets no reset.
    for _ in 0..3 {
        std::thread::sleep(Duration::from_millis(20));
        stream
            .write_all(&[0xab; 16 * 1024])
            .expect("the server is still draining, not resetting");
    }
    server.shutdown().unwrap();
}
