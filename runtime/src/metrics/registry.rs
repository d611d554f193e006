//! The process's [`Registry`]: every thread's cells, found by their labels, summed on
//! scrape into a [`Snapshot`]. A thread creates its cells for a label set once (looked up
//! in a thread-local map, then registered under a lock); the callers that record on the
//! request path keep them in their per-core state, so recording takes neither the map nor
//! the lock. Cells outlive their thread: counters never go backwards.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};
use std::time::Instant;

use super::connections::{ConnectionCells, ConnectionInfo};
use super::inspect::{BreakerCells, BreakerInfo, Inspect, PolicyReport};
use super::local::{LATENCY_BUCKETS, LocalCounter, LocalHistogram};
use crate::call::CallError;
use crate::policy::LivePolicy;

/// What a series counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    /// Calls a server handled, per service and method.
    Server,
    /// Calls a client made (retries and backup requests included), per service and method.
    ClientCall,
    /// Attempts a client sent to one endpoint, per service, method and endpoint.
    ClientAttempt,
}

/// Why a call failed: the `kind` label of the error counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The handler returned one of the method's declared exceptions (server).
    Exception,
    /// A `TApplicationException`: from the handler (server), or from the server (client).
    Application,
    /// The method is not served (server).
    UnknownMethod,
    /// The arguments could not be decoded (server).
    Protocol,
    /// A layer refused the call, e.g. its rate limit (server).
    Rejected,
    /// The handler panicked (server).
    Panic,
    /// No reply within the deadline (client).
    Timeout,
    /// Not sent: no endpoint could take it (client).
    Unavailable,
    /// The connection failed (client).
    Transport,
    /// The reply could not be decoded (client).
    Decode,
    /// The request (client) or reply (server) could not be encoded.
    Encode,
    /// The caller stopped waiting before the call ended (a dropped future).
    Cancelled,
}

impl ErrorKind {
    /// Every kind, in label order.
    pub const ALL: [ErrorKind; 12] = [
        ErrorKind::Exception,
        ErrorKind::Application,
        ErrorKind::UnknownMethod,
        ErrorKind::Protocol,
        ErrorKind::Rejected,
        ErrorKind::Panic,
        ErrorKind::Timeout,
        ErrorKind::Unavailable,
        ErrorKind::Transport,
        ErrorKind::Decode,
        ErrorKind::Encode,
        ErrorKind::Cancelled,
    ];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Exception => "exception",
            ErrorKind::Application => "application",
            ErrorKind::UnknownMethod => "unknown_method",
            ErrorKind::Protocol => "protocol",
            ErrorKind::Rejected => "rejected",
            ErrorKind::Panic => "panic",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::Transport => "transport",
            ErrorKind::Decode => "decode",
            ErrorKind::Encode => "encode",
            ErrorKind::Cancelled => "cancelled",
        }
    }

    /// Whether a series of `family` can count this kind (the others are not reported).
    pub fn applies_to(self, family: Family) -> bool {
        use ErrorKind::*;
        match family {
            Family::Server => matches!(
                self,
                Exception
                    | Application
                    | UnknownMethod
                    | Protocol
                    | Rejected
                    | Panic
                    | Encode
                    | Cancelled
            ),
            Family::ClientCall | Family::ClientAttempt => matches!(
                self,
                Application | Timeout | Unavailable | Transport | Decode | Encode | Cancelled
            ),
        }
    }

    fn index(self) -> usize {
        self as usize
    }

    /// The kind of a client call's failure.
    pub fn of(error: &CallError) -> ErrorKind {
        match error {
            CallError::Application(_) => ErrorKind::Application,
            CallError::Decode(_) => ErrorKind::Decode,
            CallError::Encode(_) => ErrorKind::Encode,
            CallError::Transport(_) => ErrorKind::Transport,
            CallError::Timeout(_) => ErrorKind::Timeout,
            CallError::Unavailable(_) => ErrorKind::Unavailable,
        }
    }
}

/// The labels of a series.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct SeriesKey {
    pub(crate) family: Family,
    pub(crate) service: Arc<str>,
    pub(crate) method: Arc<str>,
    /// Empty unless the family is per endpoint.
    pub(crate) endpoint: Arc<str>,
}

/// One thread's cells of one series: calls started, errors by kind, latencies of the
/// calls that ended (calls in flight = started − ended).
#[derive(Debug, Default)]
pub(crate) struct CallSeries {
    requests: LocalCounter,
    errors: [LocalCounter; ErrorKind::ALL.len()],
    latency: LocalHistogram,
}

impl CallSeries {
    /// A call starts now; the returned record counts its end when finished or dropped.
    /// Timed with the TSC (`quanta`): two readings cost about a third of `std`'s.
    #[inline]
    pub(crate) fn start(&self) -> CallRecord<'_> {
        self.start_at(quanta::Instant::now())
    }

    /// A call started at `started` (a reading the caller already took).
    #[inline]
    pub(crate) fn start_at(&self, started: quanta::Instant) -> CallRecord<'_> {
        self.requests.add(1);
        CallRecord {
            series: self,
            started,
            done: false,
        }
    }
}

/// A core's handle on its cells of a series: an `Rc` of it is cloned per call without
/// an atomic operation.
#[derive(Debug)]
pub(crate) struct LocalSeries(pub(crate) Arc<CallSeries>);

impl std::ops::Deref for LocalSeries {
    type Target = CallSeries;

    fn deref(&self) -> &CallSeries {
        &self.0
    }
}

/// A call in progress; it ends with [`finish`](Self::finish), or when dropped: as a
/// panic while unwinding, else as cancelled.
#[derive(Debug)]
pub(crate) struct CallRecord<'a> {
    series: &'a CallSeries,
    started: quanta::Instant,
    done: bool,
}

impl CallRecord<'_> {
    /// The call ended (`None`: it succeeded).
    #[inline]
    pub(crate) fn finish(mut self, error: Option<ErrorKind>) {
        self.end(error);
    }

    /// The client call ended with `result` at `now` (a reading the caller took).
    #[inline]
    pub(crate) fn finish_call_at<T>(mut self, result: &Result<T, CallError>, now: quanta::Instant) {
        self.end_at(result.as_ref().err().map(ErrorKind::of), now);
    }

    /// The call failed with `error` (handed back, for `map_err`), unless it already ended.
    pub(crate) fn fail(&mut self, error: CallError) -> CallError {
        if !self.done {
            self.end(Some(ErrorKind::of(&error)));
        }
        error
    }

    #[inline]
    fn end(&mut self, error: Option<ErrorKind>) {
        self.end_at(error, quanta::Instant::now());
    }

    #[inline]
    fn end_at(&mut self, error: Option<ErrorKind>, now: quanta::Instant) {
        self.done = true;
        let latency = now.saturating_duration_since(self.started);
        self.series.latency.record(latency);
        if let Some(kind) = error {
            self.series.errors[kind.index()].add(1);
        }
    }
}

impl Drop for CallRecord<'_> {
    fn drop(&mut self) {
        if !self.done {
            let kind = if std::thread::panicking() {
                ErrorKind::Panic
            } else {
                ErrorKind::Cancelled
            };
            self.end(Some(kind));
        }
    }
}

/// One thread's connection counters (the `core` label: the core it is pinned to).
#[derive(Debug, Default)]
pub(crate) struct CoreSeries {
    pub(crate) server_accepted: LocalCounter,
    pub(crate) server_closed: LocalCounter,
    pub(crate) server_refused: LocalCounter,
    pub(crate) client_connects: LocalCounter,
    pub(crate) client_connect_failures: LocalCounter,
    pub(crate) client_closed: LocalCounter,
    /// Buffer-pool slots leased by this core's connections.
    pub(crate) buffer_leases: LocalCounter,
    /// Of those, back in the pool: written by whichever thread dropped a slot's last view.
    pub(crate) buffer_returns: AtomicU64,
    /// Pool memory this core has touched (a gauge).
    pub(crate) buffer_resident_bytes: LocalCounter,
    /// Reads that went to the heap: frames larger than a slot, or no free slot.
    pub(crate) buffer_heap_fallbacks: LocalCounter,
}

/// All the metrics of the process. [`global`](super::global) is the one everything records
/// into.
#[derive(Debug, Default)]
pub struct Registry {
    series: Mutex<Vec<(SeriesKey, Arc<CallSeries>)>>,
    cores: Mutex<Vec<(Option<usize>, Arc<CoreSeries>)>>,
    policies: Mutex<Vec<LivePolicy>>,
    connections: Mutex<Vec<Weak<ConnectionCells>>>,
    breakers: Mutex<Vec<Weak<BreakerCells>>>,
    inspected: Mutex<Vec<Weak<dyn Inspect>>>,
}

thread_local! {
    /// This thread's cells, by labels.
    static LOCAL: RefCell<HashMap<SeriesKey, Arc<CallSeries>>> = RefCell::default();
    static LOCAL_CORE: RefCell<Option<Arc<CoreSeries>>> = const { RefCell::new(None) };
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

static GLOBAL: OnceLock<Registry> = OnceLock::new();

/// The process's registry.
pub fn global() -> &'static Registry {
    GLOBAL.get_or_init(Registry::default)
}

impl Registry {
    /// The current thread's cells of `key` in the global registry, created on first use.
    pub(crate) fn series(key: SeriesKey) -> Arc<CallSeries> {
        LOCAL.with(|local| {
            if let Some(found) = local.borrow().get(&key) {
                return found.clone();
            }
            let series = Arc::new(CallSeries::default());
            lock(&global().series).push((key.clone(), series.clone()));
            local.borrow_mut().insert(key, series.clone());
            series
        })
    }

    /// The current thread's per-core cells (`None` while the thread is being torn down).
    pub(crate) fn core() -> Option<Arc<CoreSeries>> {
        let mut found = None;
        Registry::with_core(|_| {});
        let _ = LOCAL_CORE.try_with(|local| found = local.borrow().clone());
        found
    }

    /// Runs `f` on the current thread's connection counters in the global registry (not
    /// while the thread is being torn down).
    pub(crate) fn with_core(f: impl FnOnce(&CoreSeries)) {
        let _ = LOCAL_CORE.try_with(|local| {
            let mut local = local.borrow_mut();
            let series = local.get_or_insert_with(|| {
                let series = Arc::new(CoreSeries::default());
                lock(&global().cores).push((crate::rt::current_core(), series.clone()));
                series
            });
            f(series)
        });
    }

    /// Reports `policy`'s version and refused updates (once per policy, however often it
    /// is passed). Servers and clients given a live policy call it.
    pub fn watch_policy(&self, policy: &LivePolicy) {
        let mut policies = lock(&self.policies);
        // The registry's clone is the last one of a policy nobody uses any more.
        policies.retain(|p| p.clones() > 1);
        if !policies.iter().any(|p| p.same_as(policy)) {
            policies.push(policy.clone());
        }
    }

    /// Lists a connection (until it is dropped).
    pub(crate) fn add_connection(&self, cells: &Arc<ConnectionCells>) {
        let mut connections = lock(&self.connections);
        // Forget closed ones now and then: the list stays within twice the open ones.
        if connections.len() == connections.capacity() {
            connections.retain(|c| c.strong_count() > 0);
        }
        connections.push(Arc::downgrade(cells));
    }

    /// Lists a circuit breaker (until it is dropped).
    pub(crate) fn add_breaker(&self, cells: &Arc<BreakerCells>) {
        let mut breakers = lock(&self.breakers);
        if breakers.len() == breakers.capacity() {
            breakers.retain(|c| c.strong_count() > 0);
        }
        breakers.push(Arc::downgrade(cells));
    }

    /// Every circuit breaker, by target, method, endpoint and core.
    pub fn breakers(&self) -> Vec<BreakerInfo> {
        let now = Instant::now();
        let mut all: Vec<BreakerInfo> = lock(&self.breakers)
            .iter()
            .filter_map(Weak::upgrade)
            .map(|b| b.info(now))
            .collect();
        all.sort_by(|a, b| {
            (&a.target, &a.service, &a.method, &a.endpoint, a.core).cmp(&(
                &b.target,
                &b.service,
                &b.method,
                &b.endpoint,
                b.core,
            ))
        });
        all
    }

    /// Lists a client or server for [`policies`](Self::policies) (until it is dropped).
    pub(crate) fn inspect(&self, what: Weak<dyn Inspect>) {
        let mut inspected = lock(&self.inspected);
        inspected.retain(|c| c.strong_count() > 0);
        inspected.push(what);
    }

    /// The effective policy of every method each live client and server has used.
    pub fn policies(&self) -> Vec<PolicyReport> {
        let inspected: Vec<Arc<dyn Inspect>> = lock(&self.inspected)
            .iter()
            .filter_map(Weak::upgrade)
            .collect();
        inspected.iter().flat_map(|i| i.policies()).collect()
    }

    /// The open connections, clients' first, then by core and peer.
    pub fn connections(&self) -> Vec<ConnectionInfo> {
        let now = Instant::now();
        let mut open: Vec<ConnectionInfo> = lock(&self.connections)
            .iter()
            .filter_map(Weak::upgrade)
            .map(|c| c.info(now))
            .collect();
        open.sort_by(|a, b| (a.side, a.core, &a.peer).cmp(&(b.side, b.core, &b.peer)));
        open
    }

    /// Everything recorded so far, summed over threads.
    pub fn snapshot(&self) -> Snapshot {
        let mut calls: BTreeMap<SeriesKey, CallMetrics> = BTreeMap::new();
        for (key, series) in lock(&self.series).iter() {
            let entry = calls.entry(key.clone()).or_insert_with(|| CallMetrics {
                family: key.family,
                service: key.service.to_string(),
                method: key.method.to_string(),
                endpoint: key.endpoint.to_string(),
                requests: 0,
                errors: [0; ErrorKind::ALL.len()],
                in_flight: 0,
                latency_buckets: [0; LATENCY_BUCKETS],
                latency_count: 0,
                latency_sum_seconds: 0.0,
            });
            // Read the end first: a call ending between the reads is then counted as
            // started, never as ended but not started.
            let (count, sum) = series.latency.add_to(&mut entry.latency_buckets);
            entry.latency_count += count;
            entry.latency_sum_seconds += sum as f64 / 1e9;
            let requests = series.requests.get();
            entry.requests += requests;
            entry.in_flight += requests.saturating_sub(count);
            for (total, cell) in entry.errors.iter_mut().zip(&series.errors) {
                *total += cell.get();
            }
        }
        let mut cores: BTreeMap<Option<usize>, CoreMetrics> = BTreeMap::new();
        for (core, series) in lock(&self.cores).iter() {
            let entry = cores.entry(*core).or_insert_with(|| CoreMetrics {
                core: *core,
                ..CoreMetrics::default()
            });
            entry.server_accepted += series.server_accepted.get();
            entry.server_closed += series.server_closed.get();
            entry.server_refused += series.server_refused.get();
            entry.client_connects += series.client_connects.get();
            entry.client_connect_failures += series.client_connect_failures.get();
            entry.client_closed += series.client_closed.get();
            let leases = series.buffer_leases.get();
            entry.buffer_leases += leases;
            entry.buffer_in_use +=
                leases.saturating_sub(series.buffer_returns.load(Ordering::Relaxed));
            entry.buffer_resident_bytes += series.buffer_resident_bytes.get();
            entry.buffer_heap_fallbacks += series.buffer_heap_fallbacks.get();
        }
        let policies = lock(&self.policies)
            .iter()
            .filter(|p| p.clones() > 1)
            .map(|p| PolicyMetrics {
                source: p.last_source().unwrap_or_default(),
                version: p.version(),
                rejected: p.rejected(),
            })
            .collect();
        Snapshot {
            calls: calls.into_values().collect(),
            cores: cores.into_values().collect(),
            policies,
            breakers: self.breakers(),
        }
    }
}

/// A series summed over threads.
#[derive(Debug, Clone, PartialEq)]
pub struct CallMetrics {
    /// What it counts.
    pub family: Family,
    /// The IDL service (empty for an unknown method).
    pub service: String,
    /// The method (`<unknown>` for calls of methods the server does not have).
    pub method: String,
    /// The endpoint's address (attempts only, else empty).
    pub endpoint: String,
    /// Calls started.
    pub requests: u64,
    /// Calls that failed, by [`ErrorKind`] (indexed like [`ErrorKind::ALL`]).
    pub errors: [u64; ErrorKind::ALL.len()],
    /// Calls started and not yet ended.
    pub in_flight: u64,
    /// Ended calls per latency bucket (not cumulative; bounds from
    /// [`bucket_upper_bound`](super::bucket_upper_bound)).
    pub latency_buckets: [u64; LATENCY_BUCKETS],
    /// Calls ended.
    pub latency_count: u64,
    /// Their latencies added up.
    pub latency_sum_seconds: f64,
}

impl CallMetrics {
    /// Errors of `kind`.
    pub fn errors(&self, kind: ErrorKind) -> u64 {
        self.errors[kind.index()]
    }
}

/// Connection counts of one core (`None`: threads not pinned to a core).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CoreMetrics {
    /// The core.
    pub core: Option<usize>,
    /// Connections servers accepted.
    pub server_accepted: u64,
    /// Of those, closed.
    pub server_closed: u64,
    /// Connections refused at accept (over `max_connections`).
    pub server_refused: u64,
    /// Connections clients opened.
    pub client_connects: u64,
    /// Connection attempts that failed.
    pub client_connect_failures: u64,
    /// Client connections closed.
    pub client_closed: u64,
    /// Buffer-pool slots leased (connections read into them).
    pub buffer_leases: u64,
    /// Slots leased and not back yet: a connection reads into them, or a decoded message
    /// still points into them.
    pub buffer_in_use: u64,
    /// Pool memory touched so far: an upper bound of what the pool keeps resident.
    pub buffer_resident_bytes: u64,
    /// Reads that fell back to the heap: frames larger than the largest slot, or no free
    /// slot.
    pub buffer_heap_fallbacks: u64,
}

/// A live policy's state.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyMetrics {
    /// The last publisher (`file …`, `etcd …`; empty before the first).
    pub source: String,
    /// Its version.
    pub version: u64,
    /// Updates refused.
    pub rejected: u64,
}

/// Everything recorded so far.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// Call series, sorted by family and labels.
    pub calls: Vec<CallMetrics>,
    /// Connection counts by core.
    pub cores: Vec<CoreMetrics>,
    /// Live policies.
    pub policies: Vec<PolicyMetrics>,
    /// Circuit breakers.
    pub breakers: Vec<BreakerInfo>,
}

impl Snapshot {
    /// The series of `family` for `service.method` (summed over endpoints for attempts).
    pub fn call(&self, family: Family, service: &str, method: &str) -> Option<CallMetrics> {
        let mut found: Option<CallMetrics> = None;
        for c in self
            .calls
            .iter()
            .filter(|c| c.family == family && c.service == service && c.method == method)
        {
            match &mut found {
                None => found = Some(c.clone()),
                Some(total) => {
                    total.endpoint.clear();
                    total.requests += c.requests;
                    total.in_flight += c.in_flight;
                    total.latency_count += c.latency_count;
                    total.latency_sum_seconds += c.latency_sum_seconds;
                    for (a, b) in total.errors.iter_mut().zip(&c.errors) {
                        *a += b;
                    }
                    for (a, b) in total.latency_buckets.iter_mut().zip(&c.latency_buckets) {
                        *a += b;
                    }
                }
            }
        }
        found
    }
}
