//! [`Outbox`]: the bytes a connection has queued for its peer, and [`write_loop`], the future
//! that sends them (a task of its own on client connections; on server connections, run by
//! the connection's task). Everything queued while a write is in flight goes out in the next
//! single write (pipelined replies or calls are coalesced); the two buffers swap, so the
//! steady state allocates nothing.
//!
//! A long burst does not wait for the writer: once [`EAGER_SEND_FRAMES`] frames are queued
//! and no write is in flight, [`Outbox::push`] sends them at once with a non-blocking
//! `send(2)`. The writer task would only run after every task woken by the same read — a
//! whole batch of pipelined calls — so without this the two ends of a multiplexed
//! connection take turns, each idle while the other works through the batch.

use std::cell::{Cell, RefCell};
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, RawFd};
use std::sync::Arc;

use bytes::{Buf, BytesMut};
use monoio::io::{
    AsyncReadRent, AsyncWriteRent, AsyncWriteRentExt, OwnedReadHalf, OwnedWriteHalf, Split,
    Splitable,
};

use crate::metrics::ConnectionCells;
use crate::rt::LocalNotify;

/// Bytes waiting to be written to one connection.
#[derive(Debug)]
pub(crate) struct Outbox {
    queued: RefCell<BytesMut>,
    wake: LocalNotify,
    /// Notified by [`write_loop`] whenever a write completes.
    wrote: LocalNotify,
    closing: Cell<bool>,
    failed: Cell<bool>,
    /// The connection's figures (bytes written count there).
    cells: Arc<ConnectionCells>,
    /// Bytes of the write in flight.
    writing: Cell<usize>,
    /// The connection's socket while [`write_loop`] runs (and so holds it open).
    socket: Cell<Option<RawFd>>,
    /// Frames queued since the writer last took the queue or `push` last tried to send it.
    burst: Cell<u32>,
    /// The task that runs [`write_loop`] is running now and polls it before it waits:
    /// `push` need not wake it (see [`Outbox::defer_wake`]).
    wake_deferred: Cell<bool>,
}

/// Frames queued, with no write in flight, at which [`Outbox::push`] sends them itself.
///
/// Ping-pong connections (one frame at a time) never get there; a multiplexed connection
/// answering or sending a batch of pipelined calls does, and its peer starts on the first
/// part of the batch while this end prepares the rest. 8–32 all beat waiting for the writer
/// (64 calls of 64 B in flight on one connection: twice the calls per second); 16 was best
/// at 64 B and 1 KiB (`benches/README.md`).
pub(crate) const EAGER_SEND_FRAMES: u32 = 16;

/// The write half of a connection, with its socket when it has one.
#[derive(Debug)]
pub(crate) struct Writer<S: AsyncWriteRent> {
    half: OwnedWriteHalf<S>,
    socket: Option<RawFd>,
}

/// Splits a socket into its read half and its [`Writer`], which lets the outbox send bursts
/// straight to the socket.
pub(crate) fn split_socket<S>(stream: S) -> (OwnedReadHalf<S>, Writer<S>)
where
    S: AsyncReadRent + AsyncWriteRent + Split + AsRawFd,
{
    let socket = stream.as_raw_fd();
    let (read, half) = stream.into_split();
    let writer = Writer {
        half,
        socket: Some(socket),
    };
    (read, writer)
}

/// Splits any stream; everything it is sent goes through the writer task.
pub(crate) fn split_stream<S>(stream: S) -> (OwnedReadHalf<S>, Writer<S>)
where
    S: AsyncReadRent + AsyncWriteRent + Split,
{
    let (read, half) = stream.into_split();
    (read, Writer { half, socket: None })
}

impl Outbox {
    /// An empty outbox of the connection `cells` counts.
    pub(crate) fn new(cells: Arc<ConnectionCells>) -> Outbox {
        Outbox {
            queued: RefCell::default(),
            wake: LocalNotify::default(),
            wrote: LocalNotify::default(),
            closing: Cell::new(false),
            failed: Cell::new(false),
            cells,
            writing: Cell::new(0),
            socket: Cell::new(None),
            burst: Cell::new(0),
            wake_deferred: Cell::new(false),
        }
    }

    /// While `deferred`, `push` marks the writer's notification without waking its task:
    /// for the task that runs [`write_loop`] itself, from its own code, which polls the
    /// writer before it next waits. A wake-up would only poll that task once more.
    pub(crate) fn defer_wake(&self, deferred: bool) {
        self.wake_deferred.set(deferred);
    }

    /// The connection's figures.
    pub(crate) fn cells(&self) -> &ConnectionCells {
        &self.cells
    }

    /// Appends with `fill` (which writes one whole frame) and wakes the writer — or, once
    /// [`EAGER_SEND_FRAMES`] are queued and no write is in flight, sends what it can at once.
    pub(crate) fn push<T>(&self, fill: impl FnOnce(&mut BytesMut) -> T) -> T {
        let mut queued = self.queued.borrow_mut();
        let out = fill(&mut queued);
        let burst = self.burst.get() + 1;
        self.burst.set(burst);
        let idle = self.writing.get() == 0 && !self.closing.get() && !self.failed.get();
        if burst >= EAGER_SEND_FRAMES && idle {
            self.burst.set(0);
            if let Some(Ok(sent)) = self.send_now(&queued) {
                queued.advance(sent);
                self.cells.bytes_sent.add(sent as u64);
                if queued.is_empty() {
                    return out;
                }
            }
        }
        drop(queued);
        if self.wake_deferred.get() {
            self.wake.mark();
        } else {
            self.wake.notify();
        }
        out
    }

    /// One non-blocking `send(2)` of `bytes` to the socket, if [`write_loop`] lent it.
    fn send_now(&self, bytes: &[u8]) -> Option<io::Result<usize>> {
        let socket = self.socket.get()?;
        // SAFETY: `socket` is set only while `write_loop` runs and holds the connection's
        // write half, which keeps the socket open (`SocketLent` clears it before the half
        // is dropped), so the descriptor is this connection's open socket. It is only
        // borrowed for the call.
        let socket = unsafe { BorrowedFd::borrow_raw(socket) };
        let flags = libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL;
        Some(socket2::SockRef::from(&socket).send_with_flags(bytes, flags))
    }

    /// Asks the writer to flush what is queued and then close the write side.
    pub(crate) fn close(&self) {
        self.closing.set(true);
        self.wake.notify();
    }

    /// Bytes queued or being written: what the peer has yet to take.
    pub(crate) fn pending(&self) -> usize {
        self.queued.borrow().len() + self.writing.get()
    }

    /// Whether a write failed (the peer is gone).
    pub(crate) fn failed(&self) -> bool {
        self.failed.get()
    }

    /// Waits until a write completes, counting any since the last wait: callers check
    /// [`pending`](Self::pending) again afterwards. (It does not tell that the writer
    /// ended: its owner learns that when `write_loop` returns.)
    pub(crate) async fn wrote(&self) {
        self.wrote.notified().await
    }
}

/// Writes what `outbox` queues until it is closed (and drained) or a write fails, then shuts
/// the write side down.
pub(crate) async fn write_loop<S: AsyncWriteRent>(writer: Writer<S>, outbox: &Outbox) {
    let Writer {
        half: mut writer,
        socket,
    } = writer;
    // Dropped before `writer` (locals go first), and also if this task is dropped.
    let _lent = SocketLent::lend(outbox, socket);
    // Allocated on first use: a connection that never writes costs nothing here.
    let mut spare = BytesMut::new();
    loop {
        let chunk = {
            let mut queued = outbox.queued.borrow_mut();
            if queued.is_empty() {
                None
            } else {
                spare.clear();
                outbox.burst.set(0);
                Some(std::mem::replace(&mut *queued, std::mem::take(&mut spare)))
            }
        };
        match chunk {
            Some(chunk) => {
                outbox.writing.set(chunk.len());
                let (result, chunk) = writer.write_all(chunk).await;
                outbox.writing.set(0);
                outbox.wrote.notify();
                if let Err(e) = result {
                    tracing::debug!("write failed, closing the connection: {e}");
                    outbox.failed.set(true);
                    break;
                }
                outbox.cells.bytes_sent.add(chunk.len() as u64);
                spare = chunk;
            }
            None if outbox.closing.get() => break,
            None => outbox.wake.notified().await,
        }
    }
    let _ = writer.shutdown().await;
}

/// Lends the socket to the outbox for as long as it lives (inside [`write_loop`]).
struct SocketLent<'a>(&'a Outbox);

impl<'a> SocketLent<'a> {
    fn lend(outbox: &'a Outbox, socket: Option<RawFd>) -> Self {
        outbox.socket.set(socket);
        SocketLent(outbox)
    }
}

impl Drop for SocketLent<'_> {
    fn drop(&mut self) {
        self.0.socket.set(None);
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;
    use std::rc::Rc;
    use std::time::{Duration, Instant};

    use super::*;
    use crate::metrics::Side;
    use crate::rt::Driver;

    /// A socket for the runtime and the one at its other end (read without the runtime).
    fn connected(
        driver: Driver,
        small_buffers: bool,
    ) -> (std::net::TcpStream, std::net::TcpStream) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let ours = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (peer, _) = listener.accept().unwrap();
        if small_buffers {
            // Not the peer's receive buffer: shrunk below the loopback MSS after the
            // handshake, it stalls the connection on zero-window probes.
            socket2::SockRef::from(&ours)
                .set_send_buffer_size(4096)
                .unwrap();
        }
        ours.set_nodelay(true).unwrap();
        // As monoio's own sockets: epoll needs non-blocking ones; io_uring takes O_NONBLOCK
        // literally (a full socket fails the write instead of waiting).
        ours.set_nonblocking(driver == Driver::Epoll).unwrap();
        (ours, peer)
    }

    /// Starts the writer task of `stream`'s outbox and lets it reach its first wait.
    async fn start(stream: std::net::TcpStream) -> Rc<Outbox> {
        let stream = monoio::net::TcpStream::from_std(stream).unwrap();
        let outbox = Rc::new(Outbox::new(ConnectionCells::open(
            Side::Client,
            "test".into(),
        )));
        let (read, writer) = split_socket(stream);
        let task_outbox = outbox.clone();
        monoio::spawn(async move {
            write_loop(writer, &task_outbox).await;
            drop(read);
        });
        monoio::time::sleep(Duration::from_millis(1)).await;
        outbox
    }

    /// Every byte `peer` has received so far, without waiting.
    fn received_now(peer: &mut std::net::TcpStream) -> Vec<u8> {
        peer.set_nonblocking(true).unwrap();
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            match peer.read(&mut buf) {
                Ok(0) => return got,
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return got,
                Err(e) => panic!("read failed: {e}"),
            }
        }
    }

    fn frame(index: u8, len: usize) -> Vec<u8> {
        vec![index; len]
    }

    #[test]
    fn a_burst_is_sent_before_the_writer_task_runs() {
        for driver in [Driver::IoUring, Driver::Epoll] {
            let (stream, mut peer) = connected(driver, false);
            crate::rt::block_on(driver, async move {
                let outbox = start(stream).await;
                let mut expected = Vec::new();
                // No await from here on: the writer task cannot run.
                for i in 0..EAGER_SEND_FRAMES as u8 - 1 {
                    expected.extend(frame(i, 100));
                    outbox.push(|out| out.extend_from_slice(&frame(i, 100)));
                }
                assert!(received_now(&mut peer).is_empty(), "sent before the burst");
                expected.extend(frame(99, 100));
                outbox.push(|out| out.extend_from_slice(&frame(99, 100)));
                assert_eq!(received_now(&mut peer), expected, "{driver:?}");
                assert_eq!(outbox.pending(), 0);
                assert_eq!(outbox.cells().bytes_sent.get(), expected.len() as u64);

                // A single frame waits for the writer task.
                outbox.push(|out| out.extend_from_slice(b"one"));
                assert!(received_now(&mut peer).is_empty());
                let until = Instant::now() + Duration::from_secs(5);
                let mut got = Vec::new();
                while got.len() < 3 && Instant::now() < until {
                    monoio::time::sleep(Duration::from_millis(1)).await;
                    got.extend(received_now(&mut peer));
                }
                assert_eq!(got, b"one");
            })
            .unwrap();
        }
    }

    #[test]
    fn the_writer_finishes_a_burst_the_socket_took_in_part() {
        const FRAME: usize = 64 * 1024;
        for driver in [Driver::IoUring, Driver::Epoll] {
            let (stream, mut peer) = connected(driver, true);
            let total = FRAME * EAGER_SEND_FRAMES as usize;
            let (offered, burst_offered) = std::sync::mpsc::channel::<()>();
            let reader = std::thread::spawn(move || {
                peer.set_read_timeout(Some(Duration::from_secs(10)))
                    .unwrap();
                let mut got = vec![0u8; total];
                // Only after the burst was offered: the socket takes part of it.
                burst_offered.recv_timeout(Duration::from_secs(10)).unwrap();
                peer.read_exact(&mut got).unwrap();
                got
            });
            crate::rt::block_on(driver, async move {
                let outbox = start(stream).await;
                for i in 0..EAGER_SEND_FRAMES as u8 {
                    outbox.push(|out| out.extend_from_slice(&frame(i, FRAME)));
                }
                let sent_at_once = outbox.cells().bytes_sent.get() as usize;
                offered.send(()).unwrap();
                assert!(
                    sent_at_once > 0 && sent_at_once < total,
                    "{sent_at_once} of {total} bytes sent at once"
                );
                let until = Instant::now() + Duration::from_secs(10);
                while outbox.pending() > 0 && Instant::now() < until {
                    monoio::time::sleep(Duration::from_millis(1)).await;
                }
                assert_eq!(outbox.pending(), 0, "{driver:?}");
            })
            .unwrap();
            let got = reader.join().unwrap();
            let expected: Vec<u8> = (0..EAGER_SEND_FRAMES as u8)
                .flat_map(|i| frame(i, FRAME))
                .collect();
            assert!(got == expected, "{driver:?}: bytes out of order");
        }
    }

    #[test]
    fn nothing_is_sent_to_the_socket_once_the_writer_ended() {
        let (stream, mut peer) = connected(Driver::IoUring, false);
        crate::rt::block_on(Driver::IoUring, async move {
            let outbox = start(stream).await;
            outbox.close();
            monoio::time::sleep(Duration::from_millis(5)).await;
            assert!(outbox.socket.get().is_none());
            for i in 0..EAGER_SEND_FRAMES as u8 {
                outbox.push(|out| out.extend_from_slice(&frame(i, 10)));
            }
            assert_eq!(outbox.cells().bytes_sent.get(), 0);
            assert!(received_now(&mut peer).is_empty());
        })
        .unwrap();
    }
}
