//! What clients and servers report about themselves when asked (the admin endpoint's
//! `/policies` and `/breakers`): each method's effective policy with where every value
//! came from, and every circuit breaker's state. Reports are made on the asking thread
//! from shared state, never by interrupting a worker; breakers mirror their transitions
//! into [`BreakerCells`] (transitions are rare, so they cost the request path nothing).

use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use super::connections::Side;
use crate::call::MethodInfo;
use crate::governance::breaker::BreakerState;
use crate::policy::{LivePolicy, MethodPolicy, Source};

/// Something that reports its methods' policies (a client, a server).
pub(crate) trait Inspect: Send + Sync {
    /// One report per method it has seen.
    fn policies(&self) -> Vec<PolicyReport>;
}

/// The methods a client or server has handled so far, in the order first seen.
#[derive(Debug, Default)]
pub(crate) struct SeenMethods(Mutex<Vec<&'static MethodInfo>>);

impl SeenMethods {
    /// Notes `method` (once).
    pub(crate) fn note(&self, method: &'static MethodInfo) {
        let mut seen = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if !seen.iter().any(|m| std::ptr::eq(*m, method)) {
            seen.push(method);
        }
    }

    /// The methods noted.
    pub(crate) fn list(&self) -> Vec<&'static MethodInfo> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// One method's effective policy in a client or server.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyReport {
    /// Client or server.
    pub side: Side,
    /// What the client calls (address or discovered instances), or what the server serves.
    pub target: String,
    /// The IDL service.
    pub service: String,
    /// The method.
    pub method: String,
    /// Every key set for the method, sorted.
    pub values: Vec<PolicyEntry>,
}

/// One key of an effective policy.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyEntry {
    /// The key (`timeout_ms`, `retry.max_attempts`, …).
    pub key: String,
    /// The value, as policy files write it.
    pub value: String,
    /// Where it came from: `idl`, `builder`, or the live source that published it
    /// (`file /etc/app/policy.json`, `etcd /ringrpc/policy/`; `live` if it did not say).
    pub source: String,
}

/// The report of `policy`, resolved for `method` (`live`: the live policy, for its source).
pub(crate) fn report(
    side: Side,
    target: &str,
    method: &MethodInfo,
    policy: &MethodPolicy,
    live: Option<&LivePolicy>,
) -> PolicyReport {
    let live_source = live
        .and_then(LivePolicy::last_source)
        .unwrap_or_else(|| "live".to_owned());
    PolicyReport {
        side,
        target: target.to_owned(),
        service: method.service.to_owned(),
        method: method.name.to_owned(),
        values: policy
            .sources
            .iter()
            .map(|(key, (value, source))| PolicyEntry {
                key: key.clone(),
                value: value.to_string(),
                source: match source {
                    Source::Idl => "idl".to_owned(),
                    Source::Builder => "builder".to_owned(),
                    Source::Live => live_source.clone(),
                },
            })
            .collect(),
    }
}

/// When the process started counting (breakers' open times are kept relative to it).
fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

const CLOSED: u8 = 0;
const OPEN: u8 = 1;
const HALF_OPEN: u8 = 2;

/// A circuit breaker's state, mirrored for readers on other threads.
#[derive(Debug)]
pub(crate) struct BreakerCells {
    target: String,
    service: &'static str,
    method: &'static str,
    endpoint: String,
    core: Option<usize>,
    state: AtomicU8,
    /// When it last opened, in nanoseconds since [`epoch`].
    opened_at: AtomicU64,
    /// How long it stays open, in milliseconds.
    open_for_ms: AtomicU64,
    times_opened: AtomicU64,
}

impl BreakerCells {
    /// The cells of a new (closed) breaker of `method` for `endpoint`, listed in the
    /// global registry.
    pub(crate) fn new(
        target: &str,
        method: &'static MethodInfo,
        endpoint: &str,
        open_for: Duration,
    ) -> std::sync::Arc<BreakerCells> {
        let cells = std::sync::Arc::new(BreakerCells {
            target: target.to_owned(),
            service: method.service,
            method: method.name,
            endpoint: endpoint.to_owned(),
            core: crate::rt::current_core(),
            state: AtomicU8::new(CLOSED),
            opened_at: AtomicU64::new(0),
            open_for_ms: AtomicU64::new(open_for.as_millis() as u64),
            times_opened: AtomicU64::new(0),
        });
        super::global().add_breaker(&cells);
        cells
    }

    /// The breaker moved to `state` at `now`.
    pub(crate) fn moved(&self, state: BreakerState, now: Instant) {
        let code = match state {
            BreakerState::Closed => CLOSED,
            BreakerState::Open => {
                let since = now.saturating_duration_since(epoch()).as_nanos() as u64;
                self.opened_at.store(since, Ordering::Relaxed);
                self.times_opened.fetch_add(1, Ordering::Relaxed);
                OPEN
            }
            BreakerState::HalfOpen => HALF_OPEN,
        };
        self.state.store(code, Ordering::Release);
    }

    /// The endpoint it guards.
    pub(crate) fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Its open period changed.
    pub(crate) fn set_open_for(&self, open_for: Duration) {
        self.open_for_ms
            .store(open_for.as_millis() as u64, Ordering::Relaxed);
    }

    pub(crate) fn info(&self, now: Instant) -> BreakerInfo {
        let open_for = Duration::from_millis(self.open_for_ms.load(Ordering::Relaxed));
        let opened_at = epoch() + Duration::from_nanos(self.opened_at.load(Ordering::Relaxed));
        let (state, reopens_in) = match self.state.load(Ordering::Acquire) {
            OPEN => {
                let open_until = opened_at + open_for;
                if now < open_until {
                    (BreakerState::Open, Some(open_until - now))
                } else {
                    // Its next call will be a probe.
                    (BreakerState::HalfOpen, None)
                }
            }
            HALF_OPEN => (BreakerState::HalfOpen, None),
            _ => (BreakerState::Closed, None),
        };
        BreakerInfo {
            target: self.target.clone(),
            service: self.service.to_owned(),
            method: self.method.to_owned(),
            endpoint: self.endpoint.clone(),
            core: self.core,
            state,
            probes_in: reopens_in,
            times_opened: self.times_opened.load(Ordering::Relaxed),
        }
    }
}

/// A circuit breaker (one per client, method, endpoint and core).
#[derive(Debug, Clone, PartialEq)]
pub struct BreakerInfo {
    /// What its client calls.
    pub target: String,
    /// The IDL service.
    pub service: String,
    /// The method.
    pub method: String,
    /// The endpoint it guards.
    pub endpoint: String,
    /// The core it lives on.
    pub core: Option<usize>,
    /// Closed, open, or half-open (probing).
    pub state: BreakerState,
    /// For an open breaker: how long until it lets a probe through.
    pub probes_in: Option<Duration>,
    /// How often it opened.
    pub times_opened: u64,
}
