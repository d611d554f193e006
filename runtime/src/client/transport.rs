//! The innermost client service: sends one attempt on a connection of the endpoint the
//! balancer chose and waits, until the call's deadline, for the reply frame. An
//! `EXCEPTION` reply becomes [`CallError::Application`], so the layers above see every
//! failure as an error and every success as a frame to decode. First it injects the
//! policy's faults (`fault.*`, for chaos tests): it delays a share of attempts (within the
//! deadline) and fails a share as if the transport had failed, so retries, breakers and
//! ejection see them like real failures.

use std::cell::RefCell;
use std::time::Instant;

use ringrpc_codec::frame::{Frame, Framing};
use ringrpc_codec::{
    ApplicationException, Binary, BytesStr, Compact, Decode, DecodeLimits, MessageType, Metadata,
    Protocol, ProtocolId, ProtocolReader,
};

use super::Naming;
use super::conn::Connection;
use super::cx::{Args, ClientCx};
use super::pool::EndpointPool;
use crate::call::{CallError, MethodInfo};
use crate::service::Service;

/// TTHeader int key of the caller's remaining time budget in milliseconds (Kitex's
/// `RPCTimeout`).
pub(crate) const RPC_TIMEOUT_KEY: u16 = 12;

/// Sends calls over the chosen endpoint's connections (see the module docs).
#[derive(Debug, Clone, Copy, Default)]
pub struct Transport;

thread_local! {
    /// A header reused by every call on this thread, so sending its timeout allocates
    /// nothing in the steady state.
    static SCRATCH: RefCell<Metadata> = const { RefCell::new(Metadata::new()) };
    /// The last few timeout values as text.
    static TIMEOUT_TEXT: RefCell<[(u64, Option<BytesStr>); 4]> = const {
        RefCell::new([(0, None), (0, None), (0, None), (0, None)])
    };
}

/// `ms` as header text, from a small per-thread cache.
fn timeout_text(ms: u64) -> BytesStr {
    TIMEOUT_TEXT.with(|cache| {
        let mut cache = cache.borrow_mut();
        if let Some((_, Some(text))) = cache.iter().find(|(n, t)| *n == ms && t.is_some()) {
            return text.clone();
        }
        let text = BytesStr::from(ms.to_string());
        cache.rotate_right(1);
        cache[0] = (ms, Some(text.clone()));
        text
    })
}

impl<'a> Service<ClientCx, Args<'a>> for Transport {
    type Response = Frame;
    type Error = CallError;

    async fn call(&self, cx: &mut ClientCx, args: Args<'a>) -> Result<Frame, CallError> {
        let endpoint = cx
            .endpoint
            .clone()
            .ok_or_else(|| CallError::Unavailable("no endpoint was chosen for the call".into()))?;
        let series = cx.state.metrics.attempts(&endpoint);
        // A first attempt starts with its call (one clock reading fewer per call).
        let mut record = if cx.attempt == 1 {
            series.start_at(cx.started_tsc)
        } else {
            series.start()
        };
        if cx.state.policy.fault.is_active() {
            inject_fault(cx).await.map_err(|e| record.fail(e))?;
        }
        let config = &cx.core.config;
        let settings = &config.settings;
        let timed_out = || CallError::Timeout(cx.budget);
        let pool = &endpoint.pool;
        let mut waited = false;
        let conn = match pool.try_checkout(config, connect_timeout(cx)) {
            Some(conn) => conn,
            None => {
                waited = true;
                // Waiting for a connection is the rare path: boxed, so the future of every
                // call stays small.
                let left = cx.deadline.saturating_duration_since(Instant::now());
                Box::pin(monoio::time::timeout(
                    left,
                    pool.checkout(config, connect_timeout(cx)),
                ))
                .await
                .map_err(|_| timed_out())
                .and_then(|checkout| checkout)
                .map_err(|e| record.fail(e))?
            }
        };
        // A first attempt that waited for nothing goes out when the call started.
        let now = if cx.attempt == 1 && !waited && !cx.state.policy.fault.is_active() {
            cx.started
        } else {
            Instant::now()
        };
        let sent = send(cx, &conn, args, now)
            .and_then(|sent| sent)
            .map_err(|e| record.fail(e))?;
        let timed = match &sent {
            Some(_) => conn.counters.sent(conn.in_flight()).then_some(now),
            None => None,
        };
        let Some((slot, seq_id)) = sent else {
            // A oneway call: sent is done.
            record.finish(None);
            return Ok(Frame {
                dialect: settings.dialect,
                header: None,
                payload: Default::default(),
            });
        };
        let mut finish = Finish {
            conn: &conn,
            pool,
            ok: false,
            timed,
        };
        // The connection's reaper fails the wait at the deadline.
        let reply = match conn.reply(slot, seq_id).await {
            Err(CallError::Timeout(_)) => Err(timed_out()),
            other => other,
        };
        finish.ok = reply.is_ok();
        drop(finish);
        let result = reply.and_then(|frame| {
            if let Some(header) = &frame.header {
                crate::metainfo::with(|m| m.read_backward(&header.metadata));
            }
            match frame.dialect.protocol {
                ProtocolId::Binary => check_exception::<Binary>(&frame, settings.limits)?,
                ProtocolId::Compact => check_exception::<Compact>(&frame, settings.limits)?,
            }
            Ok(frame)
        });
        let ended = quanta::Instant::now();
        cx.ended_tsc = Some(ended);
        record.finish_call_at(&result, ended);
        result
    }
}

/// Sends one attempt on `conn` (its header telling the server how long the caller waits,
/// over TTHeader). Not async: its locals (the header, the name) never become part of
/// every call's future.
fn send(
    cx: &ClientCx,
    conn: &Connection,
    args: Args<'_>,
    now: Instant,
) -> Result<Result<Option<(usize, i32)>, CallError>, CallError> {
    let left = cx.deadline.saturating_duration_since(now);
    if left.is_zero() {
        return Err(CallError::Timeout(cx.budget));
    }
    let settings = &cx.core.config.settings;
    let method = cx.method;
    let name = match &settings.naming {
        Naming::Plain => BytesStr::from_static(method.name),
        Naming::Multiplexed => multiplexed_name(method.service, method),
        Naming::MultiplexedAs(service) => multiplexed_name(service, method),
    };
    #[cfg(not(feature = "otel"))]
    let metainfo = crate::metainfo::with(|m| m.request_header()).flatten();
    // The call's own exported span goes out as its `traceparent`, scope or not.
    #[cfg(feature = "otel")]
    let metainfo = match cx.traceparent {
        Some(own) => crate::metainfo::with(|m| m.request_header_as(Some(own)))
            .unwrap_or_else(|| crate::metainfo::MetaInfo::new().request_header_as(Some(own))),
        None => crate::metainfo::with(|m| m.request_header()).flatten(),
    };
    Ok(if settings.dialect.framing == Framing::TTHeader {
        // Tell the server how long the caller will wait (Kitex's RPCTimeout).
        let ms = timeout_text(left.as_millis().max(1) as u64);
        match metainfo {
            Some(mut metadata) => {
                metadata.insert_int(RPC_TIMEOUT_KEY, ms);
                conn.send(name, method.oneway, args, &mut metadata, cx.deadline)
            }
            None => SCRATCH.with(|scratch| {
                let mut metadata = scratch.borrow_mut();
                metadata.clear();
                metadata.insert_int(RPC_TIMEOUT_KEY, ms);
                conn.send(name, method.oneway, args, &mut metadata, cx.deadline)
            }),
        }
    } else {
        conn.send(
            name,
            method.oneway,
            args,
            &mut metainfo.unwrap_or_default(),
            cx.deadline,
        )
    })
}

/// Ends an attempt's use of its connection, also when the attempt is cancelled (a backup
/// request won, the caller gave up): counts it, frees a ping-pong connection for the next
/// caller, and closes a connection that can no longer write once its calls are done.
struct Finish<'a> {
    conn: &'a Connection,
    pool: &'a EndpointPool,
    ok: bool,
    timed: Option<Instant>,
}

impl Drop for Finish<'_> {
    fn drop(&mut self) {
        self.conn.counters.finished(
            self.ok,
            self.timed.filter(|_| self.ok).map(|at| at.elapsed()),
        );
        self.conn.close_if_drained();
        self.pool.released();
    }
}

/// Delays and fails attempts as the policy's `fault.*` keys ask.
async fn inject_fault(cx: &ClientCx) -> Result<(), CallError> {
    let fault = cx.state.policy.fault;
    if let Some(delay) = fault.delay.filter(|_| cx.core.chance(fault.delay_percent)) {
        let left = cx.deadline.saturating_duration_since(Instant::now());
        // Boxed: a timer entry is large, and inline it would grow every call's future.
        Box::pin(monoio::time::sleep(delay.min(left))).await;
        if delay >= left {
            return Err(CallError::Timeout(cx.budget));
        }
    }
    if cx.core.chance(fault.abort_percent) {
        return Err(CallError::Transport(format!(
            "fault injected: abort (fault.abort_percent = {})",
            fault.abort_percent
        )));
    }
    Ok(())
}

/// Whether a message may be an `EXCEPTION`, from its first bytes: strict Binary
/// (`80 01 _ type`) and Compact (`82`, type in the top 3 bits of the next byte) say at
/// once; anything else (old-style Binary) needs the full header.
fn may_be_exception(payload: &[u8]) -> bool {
    const EXCEPTION: u8 = 3;
    match payload {
        [0x80, 0x01, _, kind, ..] => kind & 0x07 == EXCEPTION,
        [0x82, version_and_kind, ..] => version_and_kind >> 5 == EXCEPTION,
        _ => true,
    }
}

/// How long a connection attempt started by this call may take: its method's
/// `connect_timeout_ms`, else the client's.
fn connect_timeout(cx: &ClientCx) -> std::time::Duration {
    cx.state.policy.connect_timeout
}

/// An `EXCEPTION` reply as an error.
fn check_exception<P: Protocol>(frame: &Frame, limits: DecodeLimits) -> Result<(), CallError> {
    if !may_be_exception(&frame.payload) {
        return Ok(());
    }
    let mut r = P::reader(&frame.payload, limits);
    let header = r.read_message_begin().map_err(CallError::Decode)?;
    match header.kind {
        MessageType::Exception => Err(CallError::Application(
            ApplicationException::decode(&mut r).map_err(CallError::Decode)?,
        )),
        _ => Ok(()),
    }
}

/// `service:method`, made once per (service name, method) and thread: cached per method
/// (a static) with the service names seen for it, compared by content.
fn multiplexed_name(service: &str, method: &'static MethodInfo) -> BytesStr {
    type Names = std::collections::HashMap<usize, Vec<(Box<str>, BytesStr)>>;
    thread_local! {
        static NAMES: RefCell<Names> = RefCell::default();
    }
    NAMES.with(|names| {
        let mut names = names.borrow_mut();
        let seen = names
            .entry(method as *const MethodInfo as usize)
            .or_default();
        if let Some((_, name)) = seen.iter().find(|(s, _)| &**s == service) {
            return name.clone();
        }
        let name = BytesStr::from(format!("{service}:{}", method.name));
        seen.push((service.into(), name.clone()));
        name
    })
}

#[cfg(test)]
mod tests {
    use ringrpc_codec::{Binary, Compact, MessageType, Protocol, ProtocolWriter};

    use super::may_be_exception;

    fn header<P: Protocol>(kind: MessageType) -> Vec<u8> {
        let mut out = bytes::BytesMut::new();
        P::writer(&mut out)
            .write_message_begin("echo", kind, -7)
            .unwrap();
        out.to_vec()
    }

    #[test]
    fn the_first_bytes_tell_replies_from_exceptions() {
        for kind in [MessageType::Reply, MessageType::Call, MessageType::Oneway] {
            assert!(!may_be_exception(&header::<Binary>(kind)), "{kind:?}");
            assert!(!may_be_exception(&header::<Compact>(kind)), "{kind:?}");
        }
        assert!(may_be_exception(&header::<Binary>(MessageType::Exception)));
        assert!(may_be_exception(&header::<Compact>(MessageType::Exception)));
        // Old-style Binary (name length first) and short input: ask the full parser.
        assert!(may_be_exception(&[0, 0, 0, 4, b'e']));
        assert!(may_be_exception(&[0x80]));
    }
}
