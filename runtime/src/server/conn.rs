//! One server connection: reads frames (any dialect, detected from the first bytes), runs
//! each call as its own task so pipelined calls proceed concurrently, and writes replies in
//! the caller's dialect. TTHeader callers match replies by sequence id, so their replies
//! go out as they complete; other dialects get them in call order. A reply that is next in
//! order is encoded straight into the connection's outbox; only replies that overtake an
//! earlier call are parked. The connection's task also runs its writer, so a reply that a
//! call answered inline goes out without waking another task; after a lone call (the
//! ping-pong pattern) the next read waits until the reply is written.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::{Future, poll_fn};
use std::marker::PhantomData;
use std::pin::{Pin, pin};
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use monoio::io::{AsyncReadRent, AsyncWriteRent, OwnedReadHalf, Split};
use ringrpc_codec::frame::{Frame, FrameDecoder, Framing, HeaderInfo};
use ringrpc_codec::{
    ApplicationErrorKind, ApplicationException, Binary, Compact, DecodeLimits, Encode, EncodeError,
    MessageHeader, MessageType, Protocol, ProtocolId, ProtocolReader,
};

use super::dispatch::Dispatch;
use super::reply::FrameReplySink;
use crate::call::ReplySink;
use crate::client::dialect_name;
use crate::metainfo::{self, MetaInfo};
use crate::metrics::{ConnectionCells, ErrorKind, Side};
use crate::rt::{Broadcast, CatchUnwind, Fired, InlineFirst, LocalNotify, panic_message};
use crate::transport::{Outbox, ReadBuffer, Writer, write_loop};

/// Reply bytes a connection may have waiting for its peer before the server stops reading
/// its calls.
const REPLY_BACKLOG_LIMIT: usize = 4 << 20;

/// Per-connection limits.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ConnLimits {
    /// Frame, string and container limits for decoding.
    pub(crate) decode: DecodeLimits,
    /// Calls running at once on one connection; reading pauses at the limit.
    pub(crate) max_in_flight: usize,
    /// How long the rest of a started frame may take to arrive.
    pub(crate) frame_timeout: Option<Duration>,
}

/// A call's place in the reply order.
#[derive(Debug)]
enum Slot {
    Running,
    Done(Option<BytesMut>),
}

/// What a connection's tasks share.
#[derive(Debug)]
struct Shared {
    outbox: Outbox,
    /// Replies in call order (every dialect but TTHeader).
    ordered: Cell<bool>,
    /// The index of the oldest call whose reply has not been queued (ordered mode).
    next_to_send: Cell<u64>,
    /// From `next_to_send` on: calls still running, or done and waiting for earlier ones.
    parked: RefCell<VecDeque<Slot>>,
    in_flight: Cell<usize>,
    /// Notified whenever a call finishes.
    finished: LocalNotify,
    /// A frame held no readable message: the connection closes (nothing can be answered).
    unreadable: Cell<bool>,
}

impl Shared {
    /// Whether call `index` may write its reply straight into the outbox.
    fn may_write_now(&self, index: u64) -> bool {
        !self.ordered.get() || index == self.next_to_send.get()
    }

    /// Call `index` is done; `parked` is its reply if it could not be written directly.
    fn finish(&self, index: u64, parked: Option<BytesMut>) {
        if self.ordered.get() {
            let mut slots = self.parked.borrow_mut();
            let at = (index - self.next_to_send.get()) as usize;
            slots[at] = Slot::Done(parked);
            while let Some(Slot::Done(_)) = slots.front() {
                if let Some(Slot::Done(Some(reply))) = slots.pop_front() {
                    self.outbox.push(|out| out.extend_from_slice(&reply));
                }
                self.next_to_send.set(self.next_to_send.get() + 1);
            }
        } else if let Some(reply) = parked {
            self.outbox.push(|out| out.extend_from_slice(&reply));
        }
        self.in_flight.set(self.in_flight.get() - 1);
        self.outbox.cells().finished.add(1);
        self.finished.notify();
    }
}

/// Serves one connection until the peer closes it, sends bytes that cannot be framed, or
/// `drain` fires (the server is shutting down); calls already read are answered before the
/// connection closes, unless `abort` fires first (the shutdown deadline passed). `stream`
/// is the connection split by [`split_socket`](crate::transport::split_socket) or
/// [`split_stream`](crate::transport::split_stream).
pub(crate) async fn serve_connection<S, D>(
    stream: (OwnedReadHalf<S>, Writer<S>),
    peer: String,
    service: Rc<D>,
    limits: ConnLimits,
    drain: &Broadcast,
    abort: &Broadcast,
) where
    S: AsyncReadRent + AsyncWriteRent + Split + 'static,
    D: Dispatch + 'static,
{
    let (mut reader, writer) = stream;
    let shared = Rc::new(Shared {
        outbox: Outbox::new(ConnectionCells::open(Side::Server, peer)),
        ordered: Cell::new(true),
        next_to_send: Cell::new(0),
        parked: RefCell::new(VecDeque::new()),
        in_flight: Cell::new(0),
        finished: LocalNotify::default(),
        unreadable: Cell::new(false),
    });
    let write = pin!(write_loop(writer, &shared.outbox));
    let mut writer = OwnWriter::new(write);
    // Kept for the connection's life: registered once, not at every read.
    let mut draining = pin!(drain.wait());
    let mut decoder = FrameDecoder::new(limits.decode);
    let mut reading = ReadBuffer::default();
    let mut next_index = 0u64;
    // When the bytes of the unfinished frame at the front of the buffer began arriving.
    let mut partial_since: Option<Instant> = None;
    // Whether the peer closed (or broke) the connection first.
    let mut peer_closed = false;
    let mut calls = InlineFirst::default();
    'read: loop {
        // Calls answered inline queue their replies for the writer, which this task polls
        // before it waits again: no wake-up needed.
        shared.outbox.defer_wake(true);
        let mut calls_read = 0usize;
        loop {
            match decoder.decode(&mut reading) {
                Ok(Some(frame)) => {
                    partial_since = None;
                    if next_index == 0 {
                        shared
                            .ordered
                            .set(frame.dialect.framing != Framing::TTHeader);
                        shared
                            .outbox
                            .cells()
                            .set_dialect(|| dialect_name(frame.dialect));
                    }
                    let index = next_index;
                    next_index += 1;
                    calls_read += 1;
                    if shared.ordered.get() {
                        shared.parked.borrow_mut().push_back(Slot::Running);
                    }
                    shared.in_flight.set(shared.in_flight.get() + 1);
                    shared.outbox.cells().started(shared.in_flight.get());
                    // Most handlers answer at once: they then cost no task.
                    calls.run(run_call(
                        frame,
                        index,
                        service.clone(),
                        shared.clone(),
                        limits,
                    ));
                }
                Ok(None) => break,
                Err(e) => {
                    tracing::warn!("closing a connection that sent a bad frame: {e}");
                    break 'read;
                }
            }
        }
        shared.outbox.defer_wake(false);
        while shared.in_flight.get() >= limits.max_in_flight {
            writer.alongside(shared.finished.notified()).await;
        }
        // A peer that does not read its replies is not read either: the replies waiting
        // for it stay bounded (by this backlog and one more read's worth of calls). The
        // writer runs on this task, so each write it completes wakes this wait.
        writer
            .flush_to(&shared.outbox, REPLY_BACKLOG_LIMIT, draining.as_mut())
            .await;
        // One call read and answered: the peer is likely to wait for the reply before it
        // sends its next call (ping-pong), so read again once the reply is written. The
        // read then finds that call already there, where a read posted at once would find
        // the socket empty and make the kernel arm a poll for it, to be woken through it
        // later. Peers that pipeline (several calls a read) are read on at once.
        if calls_read == 1 && shared.in_flight.get() == 0 {
            writer.flush_to(&shared.outbox, 0, draining.as_mut()).await;
        }
        if shared.outbox.failed() || shared.unreadable.get() || drain.fired() {
            break;
        }
        // A started frame must be finished within `frame_timeout` of its first bytes.
        let frame_deadline = match (limits.frame_timeout, reading.is_empty()) {
            (Some(timeout), false) => {
                // A timeout too long to add is no timeout.
                partial_since
                    .get_or_insert_with(Instant::now)
                    .checked_add(timeout)
            }
            _ => {
                partial_since = None;
                None
            }
        };
        // Bytes a cancelled read may have taken are calls that never started: the
        // connection closes and their callers see it.
        let read = {
            let mut read = pin!(reading.read_from(&mut reader));
            let mut stalled = pin!(async {
                match frame_deadline {
                    Some(deadline) => monoio::time::sleep_until(deadline.into()).await,
                    None => std::future::pending().await,
                }
            });
            writer
                .until(|cx| {
                    if let Poll::Ready(read) = read.as_mut().poll(cx) {
                        Poll::Ready(Some(read))
                    } else if draining.as_mut().poll(cx).is_ready() {
                        Poll::Ready(None)
                    } else if stalled.as_mut().poll(cx).is_ready() {
                        tracing::debug!("closing a connection that did not finish a frame in time");
                        Poll::Ready(None)
                    } else {
                        Poll::Pending
                    }
                })
                .await
        };
        let Some(read) = read else {
            break;
        };
        match read {
            Ok(0) => {
                peer_closed = true;
                break;
            }
            Ok(n) => shared.outbox.cells().bytes_received.add(n as u64),
            Err(e) => {
                tracing::debug!("read failed, closing the connection: {e}");
                peer_closed = true;
                break;
            }
        }
    }
    shared.outbox.defer_wake(false);
    // Answer what was read before closing (unless the shutdown deadline passes).
    while shared.in_flight.get() > 0 && !abort.fired() {
        writer
            .alongside(async {
                monoio::select! {
                    _ = shared.finished.notified() => {}
                    _ = abort.wait() => {}
                }
            })
            .await;
    }
    shared.outbox.close();
    writer.finish().await;
    if !peer_closed && !shared.outbox.failed() && !abort.fired() {
        linger(&mut reader, &mut reading).await;
    }
}

/// The connection's [`write_loop`], run by the connection's own task rather than a task of
/// its own: every wait of the connection also drives it, so a reply that a call queued
/// inline goes out in the same poll — one task poll per write saved.
struct OwnWriter<'a, W> {
    write: Pin<&'a mut W>,
    done: bool,
}

impl<'a, W: Future<Output = ()>> OwnWriter<'a, W> {
    fn new(write: Pin<&'a mut W>) -> Self {
        OwnWriter { write, done: false }
    }

    /// Waits until `ready` gives a value, driving the writer first on every poll (so the
    /// replies queued before are on their way before anything else is waited for).
    async fn until<T>(&mut self, mut ready: impl FnMut(&mut Context<'_>) -> Poll<T>) -> T {
        poll_fn(|cx| {
            if !self.done && self.write.as_mut().poll(cx).is_ready() {
                self.done = true;
            }
            ready(cx)
        })
        .await
    }

    /// Drives the writer until at most `pending` bytes wait for the peer (or the writer
    /// failed, or `draining` fired): each write it completes wakes this task.
    async fn flush_to(
        &mut self,
        outbox: &Outbox,
        pending: usize,
        mut draining: Pin<&mut Fired<'_>>,
    ) {
        self.until(|cx| {
            if outbox.pending() <= pending || outbox.failed() {
                Poll::Ready(())
            } else {
                draining.as_mut().poll(cx)
            }
        })
        .await
    }

    /// Waits for `wait`, driving the writer meanwhile.
    async fn alongside<F: Future>(&mut self, wait: F) -> F::Output {
        let mut wait = pin!(wait);
        self.until(|cx| wait.as_mut().poll(cx)).await
    }

    /// Runs the writer to its end (it ends once the outbox is closed and flushed).
    async fn finish(mut self) {
        if !self.done {
            self.write.as_mut().await;
        }
    }
}

/// How long, and for how many bytes, a server that closes first keeps reading.
const LINGER: Duration = Duration::from_millis(250);
const LINGER_BYTES: usize = 256 << 10;

/// After the server closed its side first (bad input, a timeout, shutdown), reads and drops
/// what the peer still sends, for a moment: closing with unread input would reset the
/// connection and could destroy replies the peer has not read yet (nginx's lingering close).
async fn linger<R: AsyncReadRent>(reader: &mut R, reading: &mut ReadBuffer) {
    let _ = monoio::time::timeout(LINGER, async {
        let mut budget = LINGER_BYTES;
        loop {
            reading.discard();
            match reading.read_from(reader).await {
                Ok(n) if n > 0 && n < budget => budget -= n,
                _ => break,
            }
        }
    })
    .await;
}

/// Runs one call and queues its reply. (Not an `async fn`: one would keep a second copy
/// of its arguments, the 224-byte frame among them, in every call's future.)
#[allow(clippy::manual_async_fn)]
fn run_call<D: Dispatch>(
    frame: Frame,
    index: u64,
    service: Rc<D>,
    shared: Rc<Shared>,
    limits: ConnLimits,
) -> impl Future<Output = ()> {
    async move {
        let parked = match frame.dialect.protocol {
            ProtocolId::Binary => {
                run_in::<Binary, D>(&frame, index, &service, &shared, limits).await
            }
            ProtocolId::Compact => {
                run_in::<Compact, D>(&frame, index, &service, &shared, limits).await
            }
        };
        shared.finish(index, parked);
    }
}

/// Where a call's reply goes: straight into the outbox when it is next in order, else into
/// a buffer of its own (returned to be queued in order later).
struct CallReply<'a, P> {
    shared: &'a Shared,
    index: u64,
    framing: Framing,
    header: Option<HeaderInfo>,
    call: &'a MessageHeader,
    parked: Option<BytesMut>,
    /// A whole reply frame was written (a handler that panics afterwards gets no second).
    replied: bool,
    /// The call's `rpc.server` span, marked if the call fails.
    span: tracing::Span,
    _protocol: PhantomData<P>,
}

impl<P: Protocol> CallReply<'_, P> {
    fn write(
        &mut self,
        write: impl FnOnce(&mut FrameReplySink<'_, P>) -> Result<(), EncodeError>,
    ) -> Result<(), EncodeError> {
        // Backward values go on this write only: if they cannot be encoded (too long for
        // the header), the exception that reports it is sent without them.
        let mut with_backward = None;
        if let Some(header) = &self.header {
            crate::metainfo::with(|m| {
                if m.has_backward() {
                    let mut header = header.clone();
                    m.write_backward(&mut header.metadata);
                    with_backward = Some(header);
                }
            });
        }
        let header = with_backward.as_ref().or(self.header.as_ref());
        let (framing, call) = (self.framing, self.call);
        let encode = |out: &mut BytesMut| {
            write(&mut FrameReplySink {
                framing,
                header,
                call,
                out,
                _protocol: PhantomData,
            })
        };
        let written = if self.shared.may_write_now(self.index) {
            self.shared.outbox.push(encode)
        } else {
            encode(self.parked.get_or_insert_with(BytesMut::new))
        };
        self.replied |= written.is_ok();
        written
    }
}

impl<P: Protocol> ReplySink for CallReply<'_, P> {
    fn reply<T: Encode>(&mut self, result: &T) -> Result<(), EncodeError> {
        self.write(|sink| sink.reply(result))
    }

    fn exception(&mut self, error: &ApplicationException) -> Result<(), EncodeError> {
        self.write(|sink| sink.exception(error))
    }

    fn failed(&mut self, kind: ErrorKind, description: &dyn std::fmt::Display) {
        crate::call_span::mark_failed(&self.span, kind, description);
    }
}

async fn run_in<P: Protocol, D: Dispatch>(
    frame: &Frame,
    index: u64,
    service: &D,
    shared: &Shared,
    limits: ConnLimits,
) -> Option<BytesMut> {
    let mut r = P::reader(&frame.payload, limits.decode);
    let (call, not_a_call) = match r.read_message_begin() {
        Ok(call) => {
            let not_a_call = !matches!(call.kind, MessageType::Call | MessageType::Oneway);
            (call, not_a_call)
        }
        Err(e) => {
            // Without a name and sequence id nothing can be answered: close, so the peer
            // learns at once instead of waiting for a reply that cannot come.
            tracing::warn!("closing a connection whose message header is unreadable: {e}");
            shared.unreadable.set(true);
            return None;
        }
    };
    // The reply's header keeps the call's flags and framing, not its key/values.
    let header = frame.header.as_ref().map(|h| HeaderInfo {
        flags: h.flags,
        seq_id: call.seq_id,
        payload_framed: h.payload_framed,
        ..HeaderInfo::default()
    });
    let mut sink = CallReply::<P> {
        shared,
        index,
        framing: frame.dialect.framing,
        header,
        call: &call,
        parked: None,
        replied: false,
        span: tracing::Span::none(),
        _protocol: PhantomData,
    };
    if not_a_call {
        tracing::warn!(kind = ?call.kind, "a server got a message that is not a call");
        let error = ApplicationException::new(
            ApplicationErrorKind::INVALID_MESSAGE_TYPE,
            format!(
                "a server takes CALL and ONEWAY messages, not {:?}",
                call.kind
            ),
        );
        if let Err(e) = sink.exception(&error) {
            tracing::error!("cannot encode an exception reply: {e}");
        }
        return sink.parked;
    }
    // A call that came with a header runs in a metainfo scope of its own.
    let info = frame
        .header
        .as_ref()
        .map(|h| MetaInfo::from_request(&h.metadata));
    let span = call_span(call.name.as_str(), info.as_ref());
    // (A clone of a disabled span is free.)
    sink.span = span.clone();
    let dispatch = service.dispatch(call.name.as_str(), &mut r, &mut sink);
    let outcome = CatchUnwind::new(metainfo::scope_in_span(info, span, dispatch)).await;
    let failure = match outcome {
        Ok(Ok(())) => None,
        Ok(Err(e)) => Some((
            ErrorKind::Encode,
            ApplicationException::new(
                ApplicationErrorKind::INTERNAL_ERROR,
                format!("cannot encode the reply: {e}"),
            ),
        )),
        Err(panic) => {
            let message = panic_message(&*panic);
            tracing::error!(method = call.name.as_str(), "handler panicked: {message}");
            Some((
                ErrorKind::Panic,
                ApplicationException::new(
                    ApplicationErrorKind::INTERNAL_ERROR,
                    format!(
                        "the handler of `{}` panicked: {message}",
                        call.name.as_str()
                    ),
                ),
            ))
        }
    };
    if let Some((kind, error)) = failure {
        sink.failed(kind, &error.message);
        if call.kind != MessageType::Oneway && !sink.replied {
            if let Err(e) = sink.exception(&error) {
                tracing::error!("cannot encode an exception reply: {e}");
            }
        }
    }
    sink.parked
}

/// The `tracing` span a call's handler runs in (at debug level: free when disabled), with
/// the caller's W3C `traceparent` when it sent one, so the handler's logs carry the trace.
fn call_span(method: &str, info: Option<&MetaInfo>) -> tracing::Span {
    let span = tracing::debug_span!(
        "rpc.server",
        otel.kind = "server",
        rpc.system = "apache_thrift",
        rpc.method = method,
        traceparent = tracing::field::Empty,
        otel.status_code = tracing::field::Empty,
        otel.status_description = tracing::field::Empty,
        error.type = tracing::field::Empty,
    );
    if !span.is_disabled() {
        if let Some(info) = info {
            if let Some(trace) = info.trace() {
                span.record("traceparent", tracing::field::display(trace));
                #[cfg(feature = "otel")]
                crate::otel::link_server_span(&span, trace, info.trace_state());
            }
        }
    }
    span
}
