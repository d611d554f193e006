//! Metainfo: key/values that travel with calls in TTHeader (and THeader) string headers,
//! with Kitex's conventions (`bytedance/gopkg` `cloud/metainfo`, Volo's `metainfo` crate):
//!
//! - **persistent** values (`RPC_PERSIST_<key>` on the wire) follow the whole call chain: a
//!   server that calls on inside its handler forwards them;
//! - **transient** values (`RPC_TRANSIT_<key>`) go one hop: a server sees the ones it
//!   received (as *upstream* transients) but does not forward them;
//! - **backward** values (`RPC_BACKWARD_<key>`) travel from a server back to its caller in
//!   the reply;
//! - a **W3C trace** (`traceparent`, `tracestate`; [`TraceContext`]) follows the chain, each
//!   call sending a child span of the scope's trace.
//!
//! Values live in a [`MetaInfo`] that a future carries: [`scope`] makes it current while
//! the future runs, and [`with`] reaches it from anywhere inside (a handler, or a client
//! call it makes). The server gives every call that arrived with a TTHeader/THeader header
//! a scope of its own; outside any scope nothing is sent or recorded. Calls without
//! metainfo cost no allocation.
//!
//! ```
//! use ringrpc::metainfo::{self, MetaInfo};
//!
//! # let _ = async {
//! let mut info = MetaInfo::new();
//! info.set_persistent("trace-id", "4bf92f35");
//! info.set_transient("tenant", "blue");
//! metainfo::scope(info, async {
//!     // client.call(...).await: the values above go out in the call's TTHeader, and
//!     // backward values in its reply land here:
//!     let _echoed = metainfo::with(|m| m.received_backward("trace-id").cloned());
//! })
//! .await;
//! # };
//! ```

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use ringrpc_codec::BytesStr;

use crate::client::RPC_TIMEOUT_KEY;
use ringrpc_codec::metadata::{
    BACKWARD_PREFIX, Metadata, PERSIST_PREFIX, TRANSIT_PREFIX, TRANSIT_UPSTREAM_PREFIX,
};

mod trace;

pub use trace::{TRACEPARENT, TRACESTATE, TraceContext, TraceParentError, new_span_id};

/// What a value is, which decides where it travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Sent on every call, forwarded by servers.
    Persistent,
    /// Sent on this hop's calls only.
    Transient,
    /// A transient value this server received; not forwarded.
    Upstream,
    /// To send back in the reply (server side).
    Backward,
    /// Received in the last reply (client side).
    ReceivedBackward,
}

/// The metainfo of one call chain as seen from here. Keys are stored without their wire
/// prefixes; empty keys and values are ignored, as Kitex does.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MetaInfo {
    /// Few entries, scanned linearly; one vector keeps a scope swap cheap.
    entries: Vec<(Kind, BytesStr, BytesStr)>,
    /// The W3C trace this call chain belongs to, and its `tracestate`.
    trace: Option<(TraceContext, Option<BytesStr>)>,
    /// When the caller stops waiting (server side, from its TTHeader `RPCTimeout`).
    deadline: Option<Instant>,
}

impl MetaInfo {
    /// No values (allocates nothing).
    pub const fn new() -> Self {
        MetaInfo {
            entries: Vec::new(),
            trace: None,
            deadline: None,
        }
    }

    /// Whether there are no values at all.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty() && self.trace.is_none() && self.deadline.is_none()
    }

    /// When the caller of the call being served stops waiting, if it said (over TTHeader,
    /// Kitex's `RPCTimeout`). Calls made from here time out by then at the latest.
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// Sets (or clears) the deadline that calls made in this scope keep to.
    pub fn set_deadline(&mut self, deadline: Option<Instant>) {
        self.deadline = deadline;
    }

    /// The W3C trace context: the caller's `traceparent` on a server, or one set here.
    pub fn trace(&self) -> Option<&TraceContext> {
        self.trace.as_ref().map(|(context, _)| context)
    }

    /// The W3C `tracestate` that travels with the trace.
    pub fn trace_state(&self) -> Option<&BytesStr> {
        self.trace.as_ref().and_then(|(_, state)| state.as_ref())
    }

    /// Sets the trace that calls from this scope carry on (each call sends a child of it:
    /// the same trace id, a fresh span id) with its `tracestate`.
    pub fn set_trace(&mut self, context: TraceContext, state: Option<BytesStr>) {
        self.trace = Some((context, state.filter(|s| !s.is_empty())));
    }

    fn get(&self, kind: Kind, key: &str) -> Option<&BytesStr> {
        self.entries
            .iter()
            .find(|(k, name, _)| *k == kind && name.as_str() == key)
            .map(|(_, _, value)| value)
    }

    fn set(&mut self, kind: Kind, key: BytesStr, value: BytesStr) {
        if key.is_empty() || value.is_empty() {
            return;
        }
        match self
            .entries
            .iter_mut()
            .find(|(k, name, _)| *k == kind && *name == key)
        {
            Some(entry) => entry.2 = value,
            None => self.entries.push((kind, key, value)),
        }
    }

    fn iter(&self, kind: Kind) -> impl Iterator<Item = (&str, &BytesStr)> {
        self.entries
            .iter()
            .filter(move |(k, _, _)| *k == kind)
            .map(|(_, key, value)| (key.as_str(), value))
    }

    /// Sets a persistent value: sent with every call from here on down the chain.
    pub fn set_persistent(&mut self, key: impl Into<BytesStr>, value: impl Into<BytesStr>) {
        self.set(Kind::Persistent, key.into(), value.into());
    }

    /// A persistent value, set here or received from upstream.
    pub fn persistent(&self, key: &str) -> Option<&BytesStr> {
        self.get(Kind::Persistent, key)
    }

    /// Every persistent value.
    pub fn persistents(&self) -> impl Iterator<Item = (&str, &BytesStr)> {
        self.iter(Kind::Persistent)
    }

    /// Sets a transient value: sent with the calls made from here, not forwarded further.
    pub fn set_transient(&mut self, key: impl Into<BytesStr>, value: impl Into<BytesStr>) {
        self.set(Kind::Transient, key.into(), value.into());
    }

    /// A transient value: one set here, else one received from the caller.
    pub fn transient(&self, key: &str) -> Option<&BytesStr> {
        self.get(Kind::Transient, key)
            .or_else(|| self.get(Kind::Upstream, key))
    }

    /// Every transient value received from the caller.
    pub fn upstream_transients(&self) -> impl Iterator<Item = (&str, &BytesStr)> {
        self.iter(Kind::Upstream)
    }

    /// Server side: a value to send back to the caller in this call's reply.
    pub fn send_backward(&mut self, key: impl Into<BytesStr>, value: impl Into<BytesStr>) {
        self.set(Kind::Backward, key.into(), value.into());
    }

    /// Client side: a backward value from the reply to the last call made in this scope.
    pub fn received_backward(&self, key: &str) -> Option<&BytesStr> {
        self.get(Kind::ReceivedBackward, key)
    }

    /// Every backward value received with the last reply.
    pub fn received_backwards(&self) -> impl Iterator<Item = (&str, &BytesStr)> {
        self.iter(Kind::ReceivedBackward)
    }

    /// Server side: the metainfo of a call whose header carried `header`.
    pub(crate) fn from_request(header: &Metadata) -> Self {
        let mut info = MetaInfo::new();
        info.deadline = header
            .get_int(RPC_TIMEOUT_KEY)
            .and_then(|ms| ms.as_str().trim().parse::<u64>().ok())
            .map(|ms| Instant::now() + Duration::from_millis(ms));
        for (key, value) in header.iter() {
            if let Some(name) = key.strip_prefix(PERSIST_PREFIX) {
                info.set(Kind::Persistent, sub(key, name), value.clone());
            } else if key.starts_with(TRANSIT_UPSTREAM_PREFIX) {
                // Kitex's internal marking of a received transient; never a wire key of
                // its own (as `Metadata::transients` treats it).
            } else if let Some(name) = key.strip_prefix(TRANSIT_PREFIX) {
                info.set(Kind::Upstream, sub(key, name), value.clone());
            }
        }
        // A traceparent that does not parse is dropped, and its tracestate with it (W3C).
        if let Some(context) = header
            .get(TRACEPARENT)
            .and_then(|v| TraceContext::parse(v).ok())
        {
            info.set_trace(context, header.get(TRACESTATE).cloned());
        }
        info
    }

    /// Client side: the header of a call made in this scope, if it has anything to send.
    pub(crate) fn request_header(&self) -> Option<Metadata> {
        self.request_header_as(None)
    }

    /// Client side: the header of a call made in this scope whose `traceparent` is `own`
    /// (the call's own span, exported by `otel`) rather than a fresh child of the scope's
    /// trace.
    pub(crate) fn request_header_as(&self, own: Option<TraceContext>) -> Option<Metadata> {
        let mut header = Metadata::new();
        for (kind, key, value) in &self.entries {
            let prefix = match kind {
                Kind::Persistent => PERSIST_PREFIX,
                Kind::Transient => TRANSIT_PREFIX,
                _ => continue,
            };
            header.insert(format!("{prefix}{key}"), value.clone());
        }
        if let Some(own) = own {
            header.insert(TRACEPARENT, own.to_string());
        }
        if let Some((context, state)) = &self.trace {
            if own.is_none() {
                header.insert(TRACEPARENT, context.child().to_string());
            }
            if let Some(state) = state {
                header.insert(TRACESTATE, state.clone());
            }
        }
        (!header.is_empty()).then_some(header)
    }

    /// Server side: whether the handler set any backward value.
    pub(crate) fn has_backward(&self) -> bool {
        self.entries.iter().any(|(k, _, _)| *k == Kind::Backward)
    }

    /// Server side: adds the backward values to a reply's header.
    pub(crate) fn write_backward(&self, header: &mut Metadata) {
        for (key, value) in self.iter(Kind::Backward) {
            header.insert(format!("{BACKWARD_PREFIX}{key}"), value.clone());
        }
    }

    /// Client side: records the backward values of a reply's header (replacing those of
    /// the previous reply).
    pub(crate) fn read_backward(&mut self, header: &Metadata) {
        self.entries
            .retain(|(k, _, _)| *k != Kind::ReceivedBackward);
        for (key, value) in header.iter() {
            if let Some(name) = key.strip_prefix(BACKWARD_PREFIX) {
                self.set(Kind::ReceivedBackward, sub(key, name), value.clone());
            }
        }
    }
}

/// `name` (a suffix of `key`) as a view into `key`'s bytes, without copying.
fn sub(key: &BytesStr, name: &str) -> BytesStr {
    let start = key.len() - name.len();
    BytesStr::try_from(key.as_blob().slice(start..)).unwrap_or_else(|_| name.to_owned().into())
}

thread_local! {
    /// The metainfo of the future being polled on this thread, if it runs in a scope.
    static CURRENT: RefCell<Option<MetaInfo>> = const { RefCell::new(None) };
}

/// Runs `f` on the current scope's metainfo; `None` outside any scope (or when called from
/// inside another `with`). `f` must not poll a [`Scoped`] future (no `block_on` inside):
/// the scope cannot be swapped while `f` holds it, and that poll panics.
pub fn with<R>(f: impl FnOnce(&mut MetaInfo) -> R) -> Option<R> {
    CURRENT.with(|current| {
        let mut current = current.try_borrow_mut().ok()?;
        current.as_mut().map(f)
    })
}

/// Runs `future` with `info` as its current metainfo (see [`with`]).
pub fn scope<F: Future>(info: MetaInfo, future: F) -> Scoped<F> {
    Scoped {
        active: true,
        info: Some(info),
        span: tracing::Span::none(),
        future,
    }
}

/// Runs `future` in a scope of `info` (or as it is for `None`), inside `span` (entered on
/// every poll unless it is disabled): how a server runs each call, without one more
/// wrapper around the call's future.
pub(crate) fn scope_in_span<F: Future>(
    info: Option<MetaInfo>,
    span: tracing::Span,
    future: F,
) -> Scoped<F> {
    Scoped {
        active: info.is_some(),
        info,
        span,
        future,
    }
}

/// A future running in a metainfo scope; see [`scope`].
#[derive(Debug)]
pub struct Scoped<F> {
    /// Whether polls swap `info` in (else the future runs in whatever scope is current).
    active: bool,
    /// Out while the future is being polled (then it is in `CURRENT`).
    info: Option<MetaInfo>,
    /// Entered while the future is polled (`Span::none()`: nothing to enter).
    span: tracing::Span,
    future: F,
}

/// Puts the previous scope back when a poll ends, even by panic.
struct Restore<'a> {
    previous: Option<Option<MetaInfo>>,
    slot: &'a mut Option<MetaInfo>,
}

impl Drop for Restore<'_> {
    fn drop(&mut self) {
        let previous = self.previous.take().flatten();
        *self.slot = CURRENT.with(|current| current.replace(previous));
    }
}

impl<F: Future> Future for Scoped<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        // SAFETY: `future` is structurally pinned (never moved out; `Scoped` has no `Drop`
        // and is `Unpin` only if `F` is); `info` is not pinned and is only swapped.
        let this = unsafe { self.get_unchecked_mut() };
        // SAFETY: see above.
        let future = unsafe { Pin::new_unchecked(&mut this.future) };
        let _entered = (!this.span.is_none()).then(|| this.span.enter());
        if !this.active {
            return future.poll(cx);
        }
        let previous = CURRENT.with(|current| current.replace(this.info.take()));
        let _restore = Restore {
            previous: Some(previous),
            slot: &mut this.info,
        };
        future.poll(cx)
    }
}

#[cfg(test)]
mod tests {
    use std::pin::pin;
    use std::task::Waker;

    use super::*;

    fn poll_once<F: Future>(f: F) -> Poll<F::Output> {
        pin!(f).poll(&mut Context::from_waker(Waker::noop()))
    }

    #[test]
    fn a_scope_is_current_inside_and_gone_outside() {
        assert_eq!(with(|_| ()), None);
        let mut info = MetaInfo::new();
        info.set_persistent("trace", "t1");
        let seen = poll_once(scope(info, async {
            with(|m| m.persistent("trace").cloned()).flatten()
        }));
        assert_eq!(seen, Poll::Ready(Some(BytesStr::from("t1"))));
        assert_eq!(with(|_| ()), None);
    }

    #[test]
    fn nested_scopes_restore_the_outer_one_and_keep_changes_across_polls() {
        let outer = scope(MetaInfo::new(), async {
            with(|m| m.set_transient("level", "outer"));
            let inner = scope(MetaInfo::new(), async {
                with(|m| m.transient("level").cloned()).flatten()
            })
            .await;
            let mut yielded = false;
            std::future::poll_fn(|_| {
                if yielded {
                    Poll::Ready(())
                } else {
                    yielded = true;
                    Poll::Pending
                }
            })
            .await;
            (inner, with(|m| m.transient("level").cloned()).flatten())
        });
        let mut outer = pin!(outer);
        let mut cx = Context::from_waker(Waker::noop());
        assert!(outer.as_mut().poll(&mut cx).is_pending());
        assert_eq!(with(|_| ()), None, "nothing leaks out between polls");
        let Poll::Ready((inner, after)) = outer.as_mut().poll(&mut cx) else {
            panic!("the second poll finishes");
        };
        assert_eq!(inner, None, "an inner scope starts empty");
        assert_eq!(after, Some(BytesStr::from("outer")));
    }

    #[test]
    fn a_panicking_poll_still_restores_the_outer_scope() {
        let hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {}));
        let caught = std::panic::catch_unwind(|| {
            poll_once(scope(MetaInfo::new(), async { panic!("boom") }))
        });
        std::panic::set_hook(hook);
        assert!(caught.is_err());
        assert_eq!(with(|_| ()), None);
    }

    #[test]
    fn wire_prefixes_follow_kitex() {
        let mut received = Metadata::new();
        received.insert("RPC_PERSIST_trace", "t1");
        received.insert("RPC_TRANSIT_tenant", "blue");
        received.insert("unrelated", "x");
        received.insert("RPC_TRANSIT_UPSTREAM_leak", "y");
        let mut info = MetaInfo::from_request(&received);
        assert_eq!(info.persistent("trace").map(|v| v.as_str()), Some("t1"));
        assert_eq!(info.transient("tenant").map(|v| v.as_str()), Some("blue"));
        assert_eq!(info.upstream_transients().count(), 1, "no UPSTREAM_ key");
        info.set_transient("hop", "2");
        info.set_persistent("", "ignored");
        info.set_transient("empty", "");
        // Forwarded: persistent values and this hop's transients, not upstream ones.
        let forwarded = info.request_header().expect("something to send");
        let keys: Vec<_> = forwarded
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            keys,
            [("RPC_PERSIST_trace", "t1"), ("RPC_TRANSIT_hop", "2")]
        );
        info.send_backward("cost", "7");
        let mut reply = Metadata::new();
        info.write_backward(&mut reply);
        assert_eq!(
            reply.get("RPC_BACKWARD_cost").map(|v| v.as_str()),
            Some("7")
        );
        let mut client = MetaInfo::new();
        assert_eq!(client.request_header(), None);
        client.read_backward(&reply);
        assert_eq!(
            client.received_backward("cost").map(|v| v.as_str()),
            Some("7")
        );
        client.read_backward(&Metadata::new());
        assert_eq!(
            client.received_backward("cost"),
            None,
            "replaced by the next reply"
        );
    }
}
