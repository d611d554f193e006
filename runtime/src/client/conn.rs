//! One multiplexed client connection: any number of calls in flight, each matched to its
//! reply by sequence id. A call's sequence id is its slot in a slab (low 16 bits) plus a
//! generation (high bits), so finding the waiting call is an index, a late reply to a call
//! that gave up cannot complete a newer one, and no call allocates. Calls queued while a
//! write is in flight go out together in the next write. Each call carries its deadline;
//! one reaper task per connection fails the calls whose deadline passed (sleeping until the
//! earliest one), so a call holds no timer of its own. After a read that brought a lone
//! reply (the ping-pong pattern), the reader reads again once the next call is written,
//! not before: a read posted earlier finds nothing and makes the kernel arm a poll.

use std::cell::{Cell, RefCell};
use std::future::{Future, poll_fn};
use std::os::fd::{AsRawFd, BorrowedFd, RawFd};
use std::pin::pin;
use std::rc::Rc;
use std::task::{Poll, Waker};
use std::time::{Duration, Instant};

use monoio::io::{AsyncReadRent, AsyncWriteRent, Split};
use ringrpc_codec::frame::{Dialect, Frame, FrameDecoder, Framing, HeaderInfo};
use ringrpc_codec::{
    Binary, BytesStr, Compact, DecodeLimits, MessageHeader, MessageType, Metadata, Protocol,
    ProtocolId, ProtocolReader,
};
use slab::Slab;

use super::cx::Args;
use super::stats::{ConnectionStats, Counters};
use crate::call::CallError;
use crate::rt::{LocalNotify, Signal};
use crate::transport::{Outbox, ReadBuffer, split_socket, write_loop};

/// Calls in flight on one connection at most (the slot part of a sequence id).
pub(crate) const MAX_IN_FLIGHT: usize = 1 << 16;

#[derive(Debug)]
struct Waiting {
    seq_id: i32,
    reply: Option<Frame>,
    waker: Option<Waker>,
    deadline: Instant,
    /// The reaper found the deadline passed.
    timed_out: bool,
}

#[derive(Debug, Default)]
struct State {
    calls: Slab<Waiting>,
    generation: u16,
    oneway_seq: i32,
    /// Why the connection can no longer be used.
    broken: Option<String>,
    /// Why nothing more can be written (the peer closed, a write failed). Calls already
    /// sent still get the replies that arrive before the read side ends.
    unwritable: Option<String>,
}

/// A connection's shared state (its reader and writer tasks hold it too).
#[derive(Debug)]
pub(crate) struct Connection {
    pub(crate) counters: Counters,
    dialect: Dialect,
    limits: DecodeLimits,
    state: RefCell<State>,
    outbox: Outbox,
    /// Wakes the reaper when a call's deadline is earlier than the one it sleeps until.
    reaper: Signal,
    /// When the reaper wakes next (`None`: when a call arrives).
    reaper_at: Cell<Option<Instant>>,
    /// The socket, for [`abort`](Self::abort); open while `reading`.
    fd: RawFd,
    /// The reader task (which owns the socket's read half) has not ended.
    reading: Cell<bool>,
    /// Wakes a reader waiting to read again (see [`Connection::until_worth_reading`]):
    /// notified when the last call leaves or the connection stops writing.
    read_kick: LocalNotify,
}

impl Connection {
    /// Starts the reader and writer tasks of `stream` on the current worker.
    pub(crate) fn start<S>(
        stream: S,
        peer: String,
        dialect: Dialect,
        limits: DecodeLimits,
    ) -> Rc<Connection>
    where
        S: AsyncReadRent + AsyncWriteRent + Split + AsRawFd + 'static,
    {
        let fd = stream.as_raw_fd();
        let counters = Counters::new(peer, dialect);
        let outbox = Outbox::new(counters.cells.clone());
        let conn = Rc::new(Connection {
            counters,
            dialect,
            limits,
            state: RefCell::default(),
            outbox,
            reaper: Signal::default(),
            reaper_at: Cell::new(None),
            fd,
            reading: Cell::new(true),
            read_kick: LocalNotify::default(),
        });
        let (reader, writer) = split_socket(stream);
        let c = conn.clone();
        monoio::spawn(async move {
            write_loop(writer, &c.outbox).await;
            c.stop_writing("the connection's write side closed");
        });
        let c = conn.clone();
        monoio::spawn(async move { c.reap().await });
        let c = conn.clone();
        monoio::spawn(async move {
            // If the runtime drops this task (it is shutting down), the connection is dead.
            let _dead_on_drop = FailOnDrop(&c);
            c.read_loop(reader).await;
            // The read half is gone: the socket may be closed, `abort` must not touch it.
            c.reading.set(false);
        });
        conn
    }

    /// The connection's figures now.
    pub(crate) fn stats(&self, now: std::time::Instant) -> ConnectionStats {
        let mut stats = self.counters.snapshot(now);
        stats.in_flight = self.in_flight();
        stats
    }

    /// Whether the connection has failed.
    pub(crate) fn is_broken(&self) -> bool {
        let state = self.state.borrow();
        state.broken.is_some() || state.unwritable.is_some()
    }

    /// Calls waiting for replies.
    pub(crate) fn in_flight(&self) -> usize {
        self.state.borrow().calls.len()
    }

    /// Queues a call of `method` and, unless it is oneway, returns the slot its reply will
    /// arrive in; the reply wait fails with a timeout once `deadline` passes.
    /// `metadata` goes in the header (TTHeader, THeader); it is lent, and comes back as
    /// it was.
    pub(crate) fn send(
        &self,
        name: BytesStr,
        oneway: bool,
        args: Args<'_>,
        metadata: &mut Metadata,
        deadline: Instant,
    ) -> Result<Option<(usize, i32)>, CallError> {
        let mut state = self.state.borrow_mut();
        // Nothing was sent: retrying elsewhere is safe.
        if let Some(why) = state.broken.as_ref().or(state.unwritable.as_ref()) {
            return Err(CallError::Unavailable(why.clone()));
        }
        let (slot, seq_id) = if oneway {
            state.oneway_seq = state.oneway_seq.wrapping_add(1) & 0x7fff_ffff;
            (None, state.oneway_seq)
        } else {
            let slot = state.calls.vacant_key();
            if slot >= MAX_IN_FLIGHT {
                return Err(CallError::Unavailable(format!(
                    "{MAX_IN_FLIGHT} calls are already in flight on this connection"
                )));
            }
            // Every generation is used, so sequence ids cover the whole i32 range,
            // negative ones included, and wrap from i32::MAX to i32::MIN.
            state.generation = state.generation.wrapping_add(1);
            let seq_id = ((u32::from(state.generation) << 16) | slot as u32) as i32;
            state.calls.insert(Waiting {
                seq_id,
                reply: None,
                waker: None,
                deadline,
                timed_out: false,
            });
            if self.reaper_at.get().is_none_or(|at| deadline < at) {
                self.reaper_at.set(Some(deadline));
                self.reaper.notify_all();
            }
            (Some(slot), seq_id)
        };
        let message = MessageHeader {
            name,
            kind: if oneway {
                MessageType::Oneway
            } else {
                MessageType::Call
            },
            seq_id,
        };
        let header =
            matches!(self.dialect.framing, Framing::TTHeader | Framing::THeader).then(|| {
                HeaderInfo {
                    seq_id,
                    metadata: std::mem::take(metadata),
                    ..HeaderInfo::default()
                }
            });
        let framing = self.dialect.framing;
        let encoded = self.outbox.push(|out| {
            let start = out.len();
            let encoded = args.args.encode_call(
                self.dialect.protocol,
                framing,
                header.as_ref(),
                &message,
                out,
            );
            if encoded.is_err() {
                out.truncate(start);
            }
            encoded
        });
        if let Some(header) = header {
            *metadata = header.metadata;
        }
        if let Err(e) = encoded {
            if let Some(slot) = slot {
                state.calls.remove(slot);
            }
            return Err(CallError::Encode(e));
        }
        Ok(slot.map(|s| (s, seq_id)))
    }

    /// Waits for the reply in `slot`.
    pub(crate) async fn reply(&self, slot: usize, seq_id: i32) -> Result<Frame, CallError> {
        let mut guard = ForgetOnDrop {
            conn: self,
            slot,
            seq_id,
            armed: true,
        };
        let frame = poll_fn(|cx| {
            let mut state = self.state.borrow_mut();
            let broken = state.broken.clone();
            match state.calls.get_mut(slot) {
                Some(w) if w.seq_id == seq_id => {
                    let done = if let Some(frame) = w.reply.take() {
                        Ok(frame)
                    } else if let Some(why) = broken {
                        Err(CallError::Transport(why))
                    } else if w.timed_out {
                        Err(CallError::Timeout(Duration::ZERO))
                    } else {
                        match &w.waker {
                            Some(waker) if waker.will_wake(cx.waker()) => {}
                            _ => w.waker = Some(cx.waker().clone()),
                        }
                        return Poll::Pending;
                    };
                    self.forget(&mut state, slot);
                    Poll::Ready(done)
                }
                _ => Poll::Ready(Err(CallError::Transport("the call was forgotten".into()))),
            }
        })
        .await;
        guard.armed = false;
        frame
    }

    /// Removes the call in `slot`; the last one to leave lets a waiting reader read.
    fn forget(&self, state: &mut State, slot: usize) {
        state.calls.remove(slot);
        if state.calls.is_empty() {
            self.read_kick.notify();
        }
    }

    /// Refuses further calls: nothing more can be written. The calls in flight wait for
    /// replies already on their way; the reader fails them when the read side ends, the
    /// reaper at their deadlines.
    fn stop_writing(&self, why: &str) {
        let mut state = self.state.borrow_mut();
        if state.unwritable.is_none() {
            state.unwritable = Some(why.to_string());
        }
        drop(state);
        self.read_kick.notify();
        self.close_if_drained();
    }

    /// Closes a connection that can no longer write once no call waits on it.
    pub(crate) fn close_if_drained(&self) {
        let state = self.state.borrow();
        if let (Some(why), true) = (state.unwritable.clone(), state.calls.is_empty()) {
            drop(state);
            self.fail(&why);
        }
    }

    /// Marks the connection broken, wakes every waiting call and closes the write side.
    pub(crate) fn fail(&self, why: &str) {
        let mut state = self.state.borrow_mut();
        if state.broken.is_none() {
            state.broken = Some(why.to_string());
        }
        for (_, w) in state.calls.iter_mut() {
            if let Some(waker) = w.waker.take() {
                waker.wake();
            }
        }
        drop(state);
        self.outbox.close();
        self.reaper.notify_all();
        self.read_kick.notify();
    }

    /// Fails the connection and shuts its socket down both ways, so the tasks waiting on
    /// it end at once (without waiting for the peer): for a runtime that is stopping.
    pub(crate) fn abort(&self, why: &str) {
        self.fail(why);
        if self.reading.get() {
            // SAFETY: the reader task still owns the socket's read half (`reading`), so
            // `fd` is open and is this connection's socket; it is only borrowed here.
            let fd = unsafe { BorrowedFd::borrow_raw(self.fd) };
            let _ = socket2::SockRef::from(&fd).shutdown(std::net::Shutdown::Both);
        }
    }

    /// Fails calls whose deadline passed: sleeps until the earliest deadline of the calls
    /// in flight (or until a call with an earlier one arrives), then marks the expired
    /// ones and wakes them. Ends when the connection breaks.
    async fn reap(&self) {
        loop {
            let next = {
                let now = Instant::now();
                let mut state = self.state.borrow_mut();
                if state.broken.is_some() {
                    return;
                }
                let mut next: Option<Instant> = None;
                for (_, w) in state.calls.iter_mut() {
                    if w.reply.is_some() || w.timed_out {
                        continue;
                    }
                    if w.deadline <= now {
                        w.timed_out = true;
                        if let Some(waker) = w.waker.take() {
                            waker.wake();
                        }
                    } else if next.is_none_or(|n| w.deadline < n) {
                        next = Some(w.deadline);
                    }
                }
                next
            };
            self.reaper_at.set(next);
            let woken = self.reaper.notified();
            match next {
                Some(at) => {
                    monoio::select! {
                        _ = woken => {}
                        _ = monoio::time::sleep(at.saturating_duration_since(Instant::now())) => {}
                    }
                }
                None => woken.await,
            }
        }
    }

    async fn read_loop<R: AsyncReadRent>(&self, mut reader: R) {
        let mut decoder = FrameDecoder::with_dialect(self.dialect, self.limits);
        let mut reading = ReadBuffer::default();
        loop {
            let mut replies = 0usize;
            loop {
                match decoder.decode(&mut reading) {
                    Ok(Some(frame)) => {
                        replies += 1;
                        self.complete(frame);
                    }
                    Ok(None) => break,
                    Err(e) => return self.fail(&format!("the server sent a bad frame: {e}")),
                }
            }
            if replies == 1 && reading.is_empty() {
                self.until_worth_reading().await;
            }
            if self.state.borrow().broken.is_some() {
                return;
            }
            match reading.read_from(&mut reader).await {
                Ok(0) => return self.fail("the server closed the connection"),
                Ok(n) => self.counters.received(n),
                Err(e) => return self.fail(&format!("read failed: {e}")),
            }
        }
    }

    /// After a read that brought one reply: waits until the next call is written (its
    /// reply is then what the read is for, and by the time the read is posted it has often
    /// arrived: no poll is armed in the kernel), or until a read is due anyway — no call
    /// is left (a read must be posted to see the server close an idle connection), several
    /// are in flight, or the connection stops writing.
    async fn until_worth_reading(&self) {
        while !self.worth_reading() {
            let mut kicked = pin!(self.read_kick.notified());
            let mut wrote = pin!(self.outbox.wrote());
            poll_fn(|cx| {
                if kicked.as_mut().poll(cx).is_ready() || wrote.as_mut().poll(cx).is_ready() {
                    Poll::Ready(())
                } else {
                    Poll::Pending
                }
            })
            .await;
        }
    }

    /// Whether the reader should read now rather than wait for the next call's write:
    /// not while the one call in flight has its reply (its caller has yet to take it) or
    /// its request is not written yet. Waiting is bounded: with one call, the server has at
    /// most one reply for us, so its reading (and our write) never waits on our reading.
    fn worth_reading(&self) -> bool {
        let state = self.state.borrow();
        if state.broken.is_some() || state.unwritable.is_some() || state.calls.len() != 1 {
            return true;
        }
        let awaits_reply = state
            .calls
            .iter()
            .next()
            .is_some_and(|(_, w)| w.reply.is_none() && !w.timed_out);
        awaits_reply && self.outbox.pending() == 0
    }

    /// Hands a reply frame to the call waiting for it.
    fn complete(&self, frame: Frame) {
        let seq_id = match &frame.header {
            Some(h) => Ok(h.seq_id),
            None => match frame.dialect.protocol {
                ProtocolId::Binary => message_seq_id::<Binary>(&frame, self.limits),
                ProtocolId::Compact => message_seq_id::<Compact>(&frame, self.limits),
            },
        };
        let Ok(seq_id) = seq_id else {
            tracing::warn!("a reply without a readable message header; dropped");
            return;
        };
        let mut state = self.state.borrow_mut();
        match state.calls.get_mut((seq_id as u32 & 0xffff) as usize) {
            Some(w) if w.seq_id == seq_id => {
                w.reply = Some(frame);
                if let Some(waker) = w.waker.take() {
                    waker.wake();
                }
            }
            _ => tracing::debug!(seq_id, "a reply to a call that gave up; dropped"),
        }
    }
}

fn message_seq_id<P: Protocol>(frame: &Frame, limits: DecodeLimits) -> Result<i32, ()> {
    P::reader(&frame.payload, limits)
        .read_message_begin()
        .map(|m| m.seq_id)
        .map_err(drop)
}

/// Marks a connection broken when its reader task ends for any reason.
struct FailOnDrop<'a>(&'a Connection);

impl Drop for FailOnDrop<'_> {
    fn drop(&mut self) {
        // Only marks it: waking tasks of a runtime that is being torn down is not safe.
        let mut state = self.0.state.borrow_mut();
        if state.broken.is_none() {
            state.broken = Some("the connection's reader stopped".into());
        }
    }
}

/// Removes a call's slot if its caller stops waiting (timeout, or the future is dropped).
struct ForgetOnDrop<'a> {
    conn: &'a Connection,
    slot: usize,
    seq_id: i32,
    armed: bool,
}

impl Drop for ForgetOnDrop<'_> {
    fn drop(&mut self) {
        if self.armed {
            let mut state = self.conn.state.borrow_mut();
            if state
                .calls
                .get(self.slot)
                .is_some_and(|w| w.seq_id == self.seq_id)
            {
                self.conn.forget(&mut state, self.slot);
            }
        }
    }
}
