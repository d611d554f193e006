//! The server's layer stack: every call runs through the user's layers
//! ([`ServerBuilder::layer`](super::ServerBuilder::layer)) around the governance layers
//! ([`RateLimit`]) around the handler ([`Handler`]). A layer sees the call's context
//! ([`ServerCx`]: method, its effective policy, the caller's deadline) and the handler
//! still to run ([`Next`]); it may run it, time it, or refuse the call with an exception
//! ([`ServerError::Reject`]) without running it. `Governed` puts a stack around a
//! [`Dispatch`], per worker, so the connection code sees one `Dispatch` as before.

use std::cell::{OnceCell, RefCell};
use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::hash::BuildHasherDefault;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ringrpc_codec::{ApplicationErrorKind, ApplicationException, EncodeError, ProtocolReader};

use super::dispatch::Dispatch;
use crate::call::{MethodInfo, ReplySink};
use crate::governance::rate_limit::{TokenBucket, per_core_share};
use crate::metrics::{
    ErrorKind, Family, Inspect, LocalSeries, PolicyReport, Registry, SeenMethods, SeriesKey, Side,
    report,
};
use crate::policy::{Layers, LivePolicy, MethodPolicy, Overrides};
use crate::rt::IdHasher;
use crate::service::Service;

/// How a server call failed in its stack.
#[derive(Debug)]
#[non_exhaustive]
pub enum ServerError {
    /// A layer refused the call: the caller gets this exception and the handler does not
    /// run (nothing is sent for a oneway call).
    Reject(ApplicationException),
    /// The reply could not be encoded.
    Encode(EncodeError),
}

impl fmt::Display for ServerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServerError::Reject(e) => write!(f, "call refused: {e}"),
            ServerError::Encode(e) => write!(f, "cannot encode the reply: {e}"),
        }
    }
}

impl std::error::Error for ServerError {}

/// The context of one call on the server.
#[derive(Debug)]
pub struct ServerCx<'a> {
    name: &'a str,
    method: Option<&'static MethodInfo>,
    /// Resolved on first use.
    policy: OnceCell<Option<Rc<ServerMethod>>>,
    worker: &'a WorkerGovernance,
}

impl ServerCx<'_> {
    /// The method name as called (`Service:method` when multiplexed).
    pub fn method_name(&self) -> &str {
        self.name
    }

    /// What the service knows about the method; `None` for an unknown method.
    pub fn method(&self) -> Option<&'static MethodInfo> {
        self.method
    }

    /// The method's effective policy on this server; `None` for an unknown method.
    pub fn policy(&self) -> Option<&MethodPolicy> {
        self.state().map(|m| &m.policy)
    }

    fn state(&self) -> Option<&ServerMethod> {
        self.policy
            .get_or_init(|| self.method.map(|m| self.worker.method(m)))
            .as_deref()
    }

    /// Whether the method may have a rate limit (cheap: no policy resolution when neither
    /// the IDL, the builder nor a live source could set one).
    fn may_be_limited(&self) -> bool {
        self.method.is_some_and(|m| {
            self.worker.policy.live.is_some()
                || self.worker.policy.overrides_limit
                || m.policy("rate_limit.qps").is_some()
        })
    }

    /// When the caller stops waiting, if it said (TTHeader `RPCTimeout`).
    pub fn deadline(&self) -> Option<Instant> {
        crate::metainfo::with(|m| m.deadline()).flatten()
    }

    /// The index of the worker serving the call.
    pub fn worker(&self) -> usize {
        self.worker.index
    }
}

/// The handler of a call, still to run: [`run`](Next::run) it (or drop it to refuse the
/// call). Borrowed from the connection's task, so passing it costs no allocation.
pub struct Next<'a> {
    handler: Pin<&'a mut (dyn Future<Output = Result<(), EncodeError>> + 'a)>,
}

impl fmt::Debug for Next<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Next")
    }
}

impl Next<'_> {
    /// Runs the handler (reading the arguments, replying).
    pub async fn run(self) -> Result<(), EncodeError> {
        self.handler.await
    }
}

/// The innermost server service: runs the handler.
#[derive(Debug, Clone, Copy, Default)]
pub struct Handler;

impl<'a> Service<ServerCx<'a>, Next<'a>> for Handler {
    type Response = ();
    type Error = ServerError;

    async fn call(&self, _cx: &mut ServerCx<'a>, next: Next<'a>) -> Result<(), ServerError> {
        next.run().await.map_err(ServerError::Encode)
    }
}

/// Refuses calls over a method's `rate_limit.qps` (token bucket per worker, each with its
/// share of the global rate and burst, at least one call per second) with a
/// `TApplicationException` saying so. Shares are fixed, so the limit is exact when calls
/// spread evenly over the workers (as `SO_REUSEPORT` spreads connections) and approximate
/// otherwise: a worker with all the load admits only its share.
#[derive(Debug, Clone, Copy)]
pub struct RateLimit<S> {
    inner: S,
}

impl<S> RateLimit<S> {
    /// Rate limiting around `inner`.
    pub fn new(inner: S) -> Self {
        RateLimit { inner }
    }
}

impl<'a, S> Service<ServerCx<'a>, Next<'a>> for RateLimit<S>
where
    S: Service<ServerCx<'a>, Next<'a>, Response = (), Error = ServerError>,
{
    type Response = ();
    type Error = ServerError;

    async fn call(&self, cx: &mut ServerCx<'a>, next: Next<'a>) -> Result<(), ServerError> {
        if let Some(state) = cx.may_be_limited().then(|| cx.state()).flatten() {
            if let Some((qps, burst)) = state.policy.rate_limit {
                let worker = cx.worker;
                let now = Instant::now();
                let mut bucket = state.bucket.borrow_mut();
                let bucket = bucket.get_or_insert_with(|| {
                    // Each worker gets its share, at least one call per second: a limit
                    // below the worker count would otherwise refuse everything on some.
                    let (rate, burst) = per_core_share(qps, burst, worker.count, worker.index);
                    TokenBucket::new(rate.max(1.0), burst.max(1.0), now)
                });
                if !bucket.try_take(now) {
                    return Err(ServerError::Reject(ApplicationException::new(
                        ApplicationErrorKind::UNKNOWN,
                        format!(
                            "rate limited: `{}` takes at most {qps} calls per second on this server (rate_limit.qps)",
                            cx.name
                        ),
                    )));
                }
            }
        }
        self.inner.call(cx, next).await
    }
}

/// A method's policy on one worker, with its rate limiter.
#[derive(Debug)]
pub(crate) struct ServerMethod {
    policy: MethodPolicy,
    version: u64,
    bucket: RefCell<Option<TokenBucket>>,
}

/// Policy settings of a server, shared by its workers.
#[derive(Debug, Clone, Default)]
pub(crate) struct ServerPolicy {
    pub(crate) overrides: Overrides,
    pub(crate) live: Option<LivePolicy>,
    /// Whether the overrides set a rate limit anywhere.
    pub(crate) overrides_limit: bool,
    /// What the server serves, for reports.
    pub(crate) target: String,
    /// The methods called so far (for `/policies`).
    pub(crate) seen: Arc<SeenMethods>,
}

impl ServerPolicy {
    /// The effective policy of `method` now (`previous`: the last good one).
    fn resolve(
        &self,
        method: &'static MethodInfo,
        previous: Option<&MethodPolicy>,
    ) -> MethodPolicy {
        let live = self.live.as_ref().map(|l| l.current());
        let none = Overrides::new();
        let layers = Layers {
            default_timeout: Duration::from_secs(1),
            default_connect_timeout: Duration::from_secs(1),
            builder: &self.overrides,
            live: live.as_deref().unwrap_or(&none),
        };
        MethodPolicy::resolve_or_keep(method, layers, previous)
    }
}

impl Inspect for ServerPolicy {
    fn policies(&self) -> Vec<PolicyReport> {
        self.seen
            .list()
            .into_iter()
            .map(|method| {
                let policy = self.resolve(method, None);
                report(
                    Side::Server,
                    &self.target,
                    method,
                    &policy,
                    self.live.as_ref(),
                )
            })
            .collect()
    }
}

/// One worker's governance state.
#[derive(Debug)]
pub(crate) struct WorkerGovernance {
    index: usize,
    count: usize,
    policy: Arc<ServerPolicy>,
    methods: RefCell<HashMap<usize, Rc<ServerMethod>, BuildHasherDefault<IdHasher>>>,
    /// This worker's metrics cells by method (key 0: unknown methods).
    series: RefCell<HashMap<usize, Rc<LocalSeries>, BuildHasherDefault<IdHasher>>>,
}

impl WorkerGovernance {
    pub(crate) fn new(index: usize, count: usize, policy: Arc<ServerPolicy>) -> Self {
        WorkerGovernance {
            index,
            count: count.max(1),
            policy,
            methods: RefCell::default(),
            series: RefCell::default(),
        }
    }

    /// This worker's metrics cells of `method` (`None`: a method the service does not
    /// have, all counted as `<unknown>`).
    fn series(&self, method: Option<&'static MethodInfo>) -> Rc<LocalSeries> {
        let key = method.map_or(0, |m| m as *const MethodInfo as usize);
        if let Some(found) = self.series.borrow().get(&key) {
            return found.clone();
        }
        if let Some(method) = method {
            self.policy.seen.note(method);
        }
        let (service, name) = method.map_or(("", "<unknown>"), |m| (m.service, m.name));
        let series = Rc::new(LocalSeries(Registry::series(SeriesKey {
            family: Family::Server,
            service: service.into(),
            method: name.into(),
            endpoint: "".into(),
        })));
        self.series.borrow_mut().insert(key, series.clone());
        series
    }

    /// The policy of `method` here, re-resolved when the live policy changed.
    fn method(&self, method: &'static MethodInfo) -> Rc<ServerMethod> {
        let version = self.policy.live.as_ref().map_or(0, |l| l.version());
        let key = method as *const MethodInfo as usize;
        if let Some(found) = self.methods.borrow().get(&key) {
            if found.version == version {
                return found.clone();
            }
        }
        let previous = self.methods.borrow().get(&key).cloned();
        let policy = self
            .policy
            .resolve(method, previous.as_ref().map(|p| &p.policy));
        // A bucket survives a policy change that keeps its rate.
        let bucket = previous
            .filter(|old| old.policy.rate_limit == policy.rate_limit)
            .and_then(|old| old.bucket.take());
        let state = Rc::new(ServerMethod {
            policy,
            version,
            bucket: RefCell::new(bucket),
        });
        self.methods.borrow_mut().insert(key, state.clone());
        state
    }
}

/// A [`Dispatch`] run through a layer stack (see the module docs).
#[derive(Debug)]
pub(crate) struct Governed<D, S> {
    dispatch: D,
    stack: S,
    worker: WorkerGovernance,
    /// The stack is the built-in one alone (no user layers): a call that cannot be rate
    /// limited skips it.
    bare: bool,
}

impl<D: Dispatch, S> Governed<D, S> {
    pub(crate) fn new(dispatch: D, stack: S, worker: WorkerGovernance, bare: bool) -> Self {
        // Every method the service answers is listed for `/policies` from the start.
        for method in dispatch.methods() {
            worker.policy.seen.note(method);
        }
        Governed {
            dispatch,
            stack,
            worker,
            bare,
        }
    }
}

impl<D, S> Dispatch for Governed<D, S>
where
    D: Dispatch,
    S: for<'a> Service<ServerCx<'a>, Next<'a>, Response = (), Error = ServerError>,
{
    async fn dispatch<R: ProtocolReader, K: ReplySink>(
        &self,
        method: &str,
        r: &mut R,
        sink: &mut K,
    ) -> Result<(), EncodeError> {
        let info = self.dispatch.method(method);
        let series = self.worker.series(info);
        let record = series.start();
        let mut sink = Observed {
            inner: sink,
            error: None,
        };
        let mut cx = ServerCx {
            name: method,
            method: info,
            policy: OnceCell::new(),
            worker: &self.worker,
        };
        if self.bare && !cx.may_be_limited() {
            let sent = self.dispatch.dispatch(method, r, &mut sink).await;
            record.finish(sink.outcome(&sent));
            return sent;
        }
        let outcome = {
            let handler = std::pin::pin!(self.dispatch.dispatch(method, r, &mut sink));
            self.stack.call(&mut cx, Next { handler }).await
        };
        let sent = match outcome {
            Ok(()) => Ok(()),
            Err(ServerError::Encode(e)) => Err(e),
            Err(ServerError::Reject(e)) => {
                sink.error = Some(ErrorKind::Rejected);
                sink.inner.failed(ErrorKind::Rejected, &e.message);
                if info.is_some_and(|m| m.oneway) {
                    tracing::debug!(method, "a oneway call was refused: {e}");
                    Ok(())
                } else {
                    sink.inner.exception(&e)
                }
            }
        };
        record.finish(sink.outcome(&sent));
        sent
    }

    fn method(&self, name: &str) -> Option<&'static MethodInfo> {
        self.dispatch.method(name)
    }

    fn methods(&self) -> Vec<&'static MethodInfo> {
        self.dispatch.methods()
    }
}

/// A reply sink that notes how the call ended, for the metrics.
struct Observed<'a, K: ?Sized> {
    inner: &'a mut K,
    error: Option<ErrorKind>,
}

impl<K: ?Sized> Observed<'_, K> {
    /// The error kind to record, given whether the reply could be encoded.
    fn outcome(&self, sent: &Result<(), EncodeError>) -> Option<ErrorKind> {
        match sent {
            Ok(()) => self.error,
            Err(_) => Some(ErrorKind::Encode),
        }
    }
}

impl<K: ReplySink + ?Sized> ReplySink for Observed<'_, K> {
    fn reply<T: ringrpc_codec::Encode>(&mut self, result: &T) -> Result<(), EncodeError> {
        self.inner.reply(result)
    }

    fn exception(&mut self, error: &ApplicationException) -> Result<(), EncodeError> {
        let kind = match error.kind {
            ApplicationErrorKind::UNKNOWN_METHOD => ErrorKind::UnknownMethod,
            ApplicationErrorKind::PROTOCOL_ERROR => ErrorKind::Protocol,
            _ => ErrorKind::Application,
        };
        self.error = Some(kind);
        self.inner.failed(kind, &error.message);
        self.inner.exception(error)
    }

    fn failed(&mut self, kind: ErrorKind, description: &dyn fmt::Display) {
        self.inner.failed(kind, description);
    }

    fn declared_exception(&mut self) {
        self.error = Some(ErrorKind::Exception);
    }
}
