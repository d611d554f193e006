//! The floor of every comparison: a raw length-prefixed echo on the same runtime (monoio,
//! pinned workers, `SO_REUSEPORT`) with no RPC at all — a frame is a big-endian `u32`
//! length and that many bytes, echoed back as is — and its client, which keeps `depth`
//! frames in flight per connection and matches replies by order.

use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::{Buf, BufMut, BytesMut};
use hdrhistogram::Histogram;
use monoio::buf::IoBufMut;
use monoio::io::{AsyncReadRent, AsyncWriteRentExt};
use monoio::net::{TcpListener, TcpStream};
use ringrpc::rt::{Driver, WorkerConfig, spawn, spawn_workers};
use ringrpc_codec::{Binary, BytesStr, MessageHeader, MessageType, frame};

use crate::service::bench::{Echo, bench_service::EchoArgs};
use socket2::{Domain, Socket, Type};

/// Binds `workers` listeners on one port of `addr` and echoes frames on pinned workers until
/// the process ends. Returns the bound address.
pub fn serve(addr: SocketAddr, cores: &[usize], driver: Driver) -> io::Result<SocketAddr> {
    let mut bound = addr;
    let mut listeners = Vec::new();
    for _ in 0..cores.len().max(1) {
        let socket = Socket::new(Domain::for_address(bound), Type::STREAM, None)?;
        socket.set_reuse_address(true)?;
        socket.set_reuse_port(true)?;
        socket.set_nonblocking(true)?;
        socket.bind(&bound.into())?;
        socket.listen(1024)?;
        let listener: std::net::TcpListener = socket.into();
        bound = listener.local_addr()?;
        listeners.push(std::sync::Mutex::new(Some(listener)));
    }
    let listeners = std::sync::Arc::new(listeners);
    let config = WorkerConfig {
        workers: cores.len().max(1),
        cores: cores.to_vec(),
        no_pinning: cores.is_empty(),
        driver,
    };
    spawn_workers(&config, move |worker| {
        let listener = listeners[worker].lock().ok().and_then(|mut l| l.take());
        async move {
            let listener =
                TcpListener::from_std(listener.ok_or_else(|| io::Error::other("no listener"))?)?;
            loop {
                let (stream, _) = listener.accept().await?;
                let _ = stream.set_nodelay(true);
                spawn(echo_connection(stream));
            }
            #[allow(unreachable_code)]
            Ok::<(), io::Error>(())
        }
    })?;
    Ok(bound)
}

/// The length of the whole frames at the start of `buf`.
fn whole_frames(buf: &[u8]) -> usize {
    let mut at = 0;
    while let Some(len) = buf.get(at..at + 4) {
        let end = at + 4 + u32::from_be_bytes([len[0], len[1], len[2], len[3]]) as usize;
        if end > buf.len() {
            break;
        }
        at = end;
    }
    at
}

async fn echo_connection(mut stream: TcpStream) {
    let mut buf = BytesMut::with_capacity(64 * 1024);
    let mut out = BytesMut::with_capacity(64 * 1024);
    loop {
        if buf.capacity() - buf.len() < 16 * 1024 {
            buf.reserve(64 * 1024);
        }
        let (read, b) = read_appending(&mut stream, buf).await;
        buf = b;
        match read {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let whole = whole_frames(&buf);
        if whole == 0 {
            continue;
        }
        out.clear();
        out.extend_from_slice(&buf[..whole]);
        buf.advance(whole);
        let (written, o) = stream.write_all(out).await;
        out = o;
        if written.is_err() {
            return;
        }
    }
}

/// A raw frame of `payload` bytes (the floor's echo).
pub fn echo_frame(payload: usize) -> BytesMut {
    let mut frame = BytesMut::with_capacity(4 + payload);
    frame.put_u32(payload as u32);
    frame.put_bytes(b'x', payload);
    frame
}

/// A framed Binary call of the benchmark service's `echo` with a `payload`-byte message, as
/// ringrpc's client would send it.
pub fn thrift_echo_frame(payload: usize) -> BytesMut {
    let args = EchoArgs {
        req: Echo {
            action: BytesStr::from_static("echo"),
            msg: BytesStr::from("x".repeat(payload)),
        },
    };
    echo_message(MessageType::Call, &args)
}

/// A framed Binary `echo` message of `kind` carrying `body`.
fn echo_message(kind: MessageType, body: &EchoArgs) -> BytesMut {
    let message = MessageHeader {
        name: BytesStr::from_static("echo"),
        kind,
        seq_id: 1,
    };
    let mut out = BytesMut::new();
    frame::encode_frame::<Binary, _, _>(frame::Framing::Framed, None, &message, body, &mut out)
        .expect("an echo message encodes");
    out
}

/// Whether a framed Binary message is a `REPLY` (not an `EXCEPTION`): what a correct answer
/// to [`thrift_echo_frame`] starts with.
pub fn is_thrift_reply(frame: &[u8]) -> bool {
    // 4 bytes of frame length, then the strict Binary version word `0x8001_00tt`.
    frame.get(4..8) == Some(&[0x80, 0x01, 0x00, 0x02][..])
}

/// What one raw-client connection sends: `frame` over and over, `depth` in flight.
#[derive(Debug, Clone, Copy)]
pub struct RawCalls<'a> {
    /// The call, sent as is.
    pub frame: &'a [u8],
    /// Checks the first reply (a server that answers with something else fails the run).
    pub first_reply_ok: fn(&[u8]) -> bool,
    /// Calls in flight on the connection.
    pub depth: usize,
    /// CPU time spent per reply (a busy wait) before the next call goes out.
    pub work_per_reply: Duration,
}

/// One client connection keeping `depth` copies of `frame` in flight until `end`, recording
/// the round trips that start and end inside `[begin, end]`. Replies are whole
/// length-prefixed frames of any length, matched by order; the first must pass
/// `first_reply_ok`.
pub async fn load_connection(
    addr: SocketAddr,
    calls: &RawCalls<'_>,
    begin: Instant,
    end: Instant,
    latencies: &mut Histogram<u64>,
) -> io::Result<()> {
    let RawCalls {
        frame,
        first_reply_ok,
        depth,
        work_per_reply,
    } = *calls;
    let mut stream = TcpStream::connect_addr(addr).await?;
    stream.set_nodelay(true)?;
    let mut checked_first = false;
    let mut sent: VecDeque<Instant> = VecDeque::with_capacity(depth);
    let mut out = BytesMut::with_capacity(depth * frame.len());
    let mut buf = BytesMut::with_capacity(64 * 1024);
    for _ in 0..depth.max(1) {
        out.extend_from_slice(frame);
        sent.push_back(Instant::now());
    }
    loop {
        if !out.is_empty() {
            let (written, o) = stream.write_all(out).await;
            written?;
            out = o;
            out.clear();
        }
        if sent.is_empty() {
            return Ok(());
        }
        if buf.capacity() - buf.len() < 16 * 1024 {
            buf.reserve(64 * 1024);
        }
        let (read, b) = read_appending(&mut stream, buf).await;
        buf = b;
        if read? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the server closed",
            ));
        }
        let whole = whole_frames(&buf);
        if !checked_first && whole > 0 {
            if !first_reply_ok(&buf[..whole]) {
                return Err(io::Error::other("the server's first answer is not a reply"));
            }
            checked_first = true;
        }
        let frames = whole_count(&buf[..whole]);
        buf.advance(whole);
        if !work_per_reply.is_zero() {
            busy_for(work_per_reply * frames as u32);
        }
        let now = Instant::now();
        for _ in 0..frames {
            if let Some(at) = sent.pop_front() {
                if at >= begin && now <= end {
                    let _ = latencies.record((now - at).as_micros().max(1) as u64);
                }
            }
            if now < end {
                out.extend_from_slice(frame);
                sent.push_back(now);
            }
        }
    }
}

fn whole_count(mut buf: &[u8]) -> usize {
    let mut n = 0;
    while buf.len() >= 4 {
        let len = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
        buf = &buf[4 + len..];
        n += 1;
    }
    n
}

/// Keeps the thread busy (not asleep) for `work`.
fn busy_for(work: Duration) {
    let until = Instant::now() + work;
    while Instant::now() < until {
        std::hint::spin_loop();
    }
}

/// One read into `buf`'s spare capacity (monoio reads fill a buffer from its start).
async fn read_appending(stream: &mut TcpStream, buf: BytesMut) -> (io::Result<usize>, BytesMut) {
    let (held, capacity) = (buf.len(), buf.capacity());
    let (read, spare) = stream.read(buf.slice_mut(held..capacity)).await;
    (read, spare.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_reply_passes_the_first_answer_check() {
        let answer = |kind| echo_message(kind, &EchoArgs::default());
        assert!(is_thrift_reply(&answer(MessageType::Reply)));
        assert!(!is_thrift_reply(&answer(MessageType::Exception)));
        assert!(!is_thrift_reply(&thrift_echo_frame(8)));
        assert!(!is_thrift_reply(&echo_frame(8)));
    }

    #[test]
    fn frames_are_found_whole_or_not_at_all() {
        let mut b = BytesMut::new();
        b.put_u32(3);
        b.put_slice(b"abc");
        b.put_u32(2);
        b.put_slice(b"d");
        assert_eq!(whole_frames(&b), 7);
        assert_eq!(whole_count(&b[..7]), 1);
    }
}
