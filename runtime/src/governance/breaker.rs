//! [`CircuitBreaker`]: whether a call to one endpoint (or endpoint × method) may go out,
//! judged from the failure rate over a sliding time window — closed, then open (calls
//! rejected for a while), then half-open (a few probe calls decide: close or reopen).
//!
//! Every call asks [`CircuitBreaker::try_acquire`] first and reports its outcome with the
//! [`Permit`] it got. Each state change starts a new *generation*; a permit remembers its
//! generation, so a late outcome from before a change (a call sent while closed that fails
//! after the breaker opened, a probe from an abandoned half-open round) is ignored instead
//! of corrupting the current state.

use std::fmt;
use std::time::Duration;
use std::time::Instant;

use super::window::SlidingWindow;
use super::{HOUR_MS, PolicyError, count_in, number_in};

/// Tuning of a [`CircuitBreaker`]. The defaults are the classic Hystrix-like bar: open at
/// 60 % failures once 20 calls were seen in 10 s; stay open 60 s; close after 5 good probes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BreakerConfig {
    /// Failure ratio (`0..=1`) over the window at or above which the breaker opens
    /// (`circuit_breaker.failure_rate`). At 0, any failure opens it once `min_requests` is
    /// met; a window without failures never opens it.
    pub failure_rate: f64,
    /// Calls that must be in the window before the breaker may open
    /// (`circuit_breaker.min_requests`).
    pub min_requests: u32,
    /// Length of the sliding failure-rate window (`circuit_breaker.window_ms`).
    pub window: Duration,
    /// How long an open breaker rejects calls before it admits probes
    /// (`circuit_breaker.open_ms`).
    pub open_for: Duration,
    /// Probe calls admitted per half-open round; that many successes close the breaker
    /// (`circuit_breaker.half_open_probes`).
    pub half_open_probes: u32,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self {
            failure_rate: 0.6,
            min_requests: 20,
            window: Duration::from_secs(10),
            open_for: Duration::from_secs(60),
            half_open_probes: 5,
        }
    }
}

/// The `circuit_breaker.*` values of a policy as numbers; `None` for a key that is not set
/// (it takes [`BreakerConfig::default`]'s value).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct BreakerKeys {
    /// `circuit_breaker.failure_rate`: `0..=1`.
    pub failure_rate: Option<f64>,
    /// `circuit_breaker.min_requests`: `1..=1_000_000`.
    pub min_requests: Option<u64>,
    /// `circuit_breaker.window_ms`: `100..=3_600_000`.
    pub window_ms: Option<u64>,
    /// `circuit_breaker.open_ms`: `1..=3_600_000`.
    pub open_ms: Option<u64>,
    /// `circuit_breaker.half_open_probes`: `1..=1000`.
    pub half_open_probes: Option<u64>,
}

impl BreakerConfig {
    /// The config a policy asks for, with the same ranges codegen enforces; a value out of
    /// range (e.g. pushed by the control plane) is refused, naming the key.
    pub fn from_policy(keys: &BreakerKeys) -> Result<Self, PolicyError> {
        let d = Self::default();
        Ok(Self {
            failure_rate: number_in(
                "circuit_breaker.failure_rate",
                keys.failure_rate,
                0.0,
                1.0,
                d.failure_rate,
            )?,
            min_requests: count_in(
                "circuit_breaker.min_requests",
                keys.min_requests,
                1,
                1_000_000,
                u64::from(d.min_requests),
            )? as u32,
            window: Duration::from_millis(count_in(
                "circuit_breaker.window_ms",
                keys.window_ms,
                100,
                HOUR_MS,
                d.window.as_millis() as u64,
            )?),
            open_for: Duration::from_millis(count_in(
                "circuit_breaker.open_ms",
                keys.open_ms,
                1,
                HOUR_MS,
                d.open_for.as_millis() as u64,
            )?),
            half_open_probes: count_in(
                "circuit_breaker.half_open_probes",
                keys.half_open_probes,
                1,
                1000,
                u64::from(d.half_open_probes),
            )? as u32,
        })
    }

    /// This config made usable whatever its fields hold: the rate clamped to `0..=1` (NaN
    /// takes the default), `min_requests` and `half_open_probes` at least 1.
    fn clamped(self) -> Self {
        Self {
            failure_rate: if self.failure_rate.is_nan() {
                Self::default().failure_rate
            } else {
                self.failure_rate.clamp(0.0, 1.0)
            },
            min_requests: self.min_requests.max(1),
            half_open_probes: self.half_open_probes.max(1),
            ..self
        }
    }
}

/// A breaker's state, as reported to callers and the admin endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    /// Calls flow; outcomes feed the failure-rate window.
    Closed,
    /// Calls are rejected until the open period ends.
    Open,
    /// A limited number of probe calls decide whether to close or reopen.
    HalfOpen,
}

/// How a call went, as far as the breaker is concerned. Which errors count as failures
/// (transport errors, timeouts — usually not application exceptions) is the caller's call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The endpoint served the call.
    Success,
    /// The endpoint failed the call.
    Failure,
}

/// Leave to make one call, from [`CircuitBreaker::try_acquire`]. Give it back through
/// [`CircuitBreaker::record`] (or [`CircuitBreaker::cancel`] if the call never finished):
/// a half-open probe holds one of the round's few slots until then.
#[derive(Debug, PartialEq, Eq)]
#[must_use = "report the call's outcome with `record` or `cancel`"]
pub struct Permit {
    generation: u64,
    granted_in: BreakerState,
}

impl Permit {
    /// The state the breaker was in when it granted this permit (`Closed` or `HalfOpen`).
    pub fn granted_in(&self) -> BreakerState {
        self.granted_in
    }
}

/// Why [`CircuitBreaker::try_acquire`] refused a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejected {
    /// The breaker is open; it starts admitting probes after `retry_in`.
    Open {
        /// Time left in the open period.
        retry_in: Duration,
    },
    /// The breaker is half-open and this round's probes are all taken.
    ProbesBusy,
}

impl fmt::Display for Rejected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rejected::Open { retry_in } => write!(
                f,
                "circuit breaker open after too many failures; probing again in {retry_in:?}"
            ),
            Rejected::ProbesBusy => write!(
                f,
                "circuit breaker half-open: its probe calls are in flight; try again shortly"
            ),
        }
    }
}

impl std::error::Error for Rejected {}

/// Successes and failures recorded in a window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CallCounts {
    /// Calls that succeeded.
    pub successes: u64,
    /// Calls that failed.
    pub failures: u64,
}

impl CallCounts {
    /// All calls counted.
    pub fn total(&self) -> u64 {
        self.successes.saturating_add(self.failures)
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Phase {
    Closed,
    Open {
        since: Instant,
    },
    HalfOpen {
        /// When this probe round started.
        since: Instant,
        in_flight: u32,
        succeeded: u32,
    },
}

/// A circuit breaker for one endpoint (or endpoint × method); see the module docs.
#[derive(Debug, Clone)]
pub struct CircuitBreaker {
    config: BreakerConfig,
    phase: Phase,
    /// Bumped on every state change; permits from another generation are ignored.
    generation: u64,
    window: SlidingWindow<CallCounts>,
}

impl CircuitBreaker {
    /// A closed breaker with an empty window. Fields of `config` out of range are clamped
    /// (see [`BreakerConfig`]); use [`BreakerConfig::from_policy`] to refuse them instead.
    pub fn new(config: BreakerConfig) -> Self {
        let config = config.clamped();
        Self {
            config,
            phase: Phase::Closed,
            generation: 0,
            window: SlidingWindow::new(config.window),
        }
    }

    /// The config in effect (after clamping).
    pub fn config(&self) -> &BreakerConfig {
        &self.config
    }

    /// Applies a new config (a control-plane update) without resetting the state. A
    /// different window length starts a fresh window.
    pub fn set_config(&mut self, config: BreakerConfig) {
        let config = config.clamped();
        if config.window != self.config.window {
            self.window = SlidingWindow::new(config.window);
        }
        self.config = config;
    }

    /// The state at `now`. An open breaker whose open period has passed reports
    /// `HalfOpen`, though it moves there only on the next [`try_acquire`](Self::try_acquire).
    pub fn state(&self, now: Instant) -> BreakerState {
        match self.phase {
            Phase::Closed => BreakerState::Closed,
            Phase::Open { since }
                if now.saturating_duration_since(since) < self.config.open_for =>
            {
                BreakerState::Open
            }
            Phase::Open { .. } | Phase::HalfOpen { .. } => BreakerState::HalfOpen,
        }
    }

    /// Successes and failures in the window at `now` (empty unless closed).
    pub fn window_counts(&self, now: Instant) -> CallCounts {
        self.window
            .live(now)
            .fold(CallCounts::default(), |sum, c| CallCounts {
                successes: sum.successes.saturating_add(c.successes),
                failures: sum.failures.saturating_add(c.failures),
            })
    }

    /// Asks to make a call at `now`. Closed: always granted. Open: rejected until
    /// `open_for` has passed since it opened, then the breaker turns half-open. Half-open:
    /// granted while fewer than `half_open_probes` probes of this round are in flight or
    /// have succeeded.
    ///
    /// A probe that is neither recorded nor cancelled (its future was dropped) would hold
    /// its slot forever, so a round still undecided after `max(open_for, window)` is
    /// abandoned and a new one starts; the lost probes' permits no longer count.
    pub fn try_acquire(&mut self, now: Instant) -> Result<Permit, Rejected> {
        match self.phase {
            Phase::Closed => Ok(self.permit(BreakerState::Closed)),
            Phase::Open { since } => {
                let waited = now.saturating_duration_since(since);
                if waited < self.config.open_for {
                    return Err(Rejected::Open {
                        retry_in: self.config.open_for - waited,
                    });
                }
                self.start_probe_round(now);
                self.admit_probe()
            }
            Phase::HalfOpen {
                since,
                in_flight,
                succeeded,
            } => {
                if in_flight.saturating_add(succeeded) < self.config.half_open_probes {
                    self.admit_probe()
                } else if in_flight > 0
                    && now.saturating_duration_since(since) >= self.probe_round_limit()
                {
                    self.start_probe_round(now);
                    self.admit_probe()
                } else {
                    Err(Rejected::ProbesBusy)
                }
            }
        }
    }

    /// Reports how the call made under `permit` went, at `now`. Returns the new state if
    /// this outcome changed it (for logs and metrics). Outcomes of permits from an earlier
    /// generation are ignored.
    ///
    /// Closed: the outcome enters the window; the breaker opens when the window holds at
    /// least `min_requests` calls, at least one failure, and a failure ratio at or above
    /// `failure_rate`. Half-open: a failure reopens the breaker (its open period restarts
    /// at `now`); `half_open_probes` successes close it with a fresh window.
    pub fn record(
        &mut self,
        permit: Permit,
        outcome: Outcome,
        now: Instant,
    ) -> Option<BreakerState> {
        if permit.generation != self.generation {
            return None;
        }
        match self.phase {
            Phase::Closed => {
                let bucket = self.window.bucket_mut(now);
                match outcome {
                    Outcome::Success => bucket.successes = bucket.successes.saturating_add(1),
                    Outcome::Failure => bucket.failures = bucket.failures.saturating_add(1),
                }
                if self.should_open(now) {
                    self.open(now);
                    Some(BreakerState::Open)
                } else {
                    None
                }
            }
            Phase::HalfOpen {
                since,
                in_flight,
                succeeded,
            } => match outcome {
                Outcome::Failure => {
                    self.open(now);
                    Some(BreakerState::Open)
                }
                Outcome::Success => {
                    let succeeded = succeeded.saturating_add(1);
                    if succeeded >= self.config.half_open_probes {
                        self.change_phase(Phase::Closed);
                        self.window.clear();
                        Some(BreakerState::Closed)
                    } else {
                        self.phase = Phase::HalfOpen {
                            since,
                            in_flight: in_flight.saturating_sub(1),
                            succeeded,
                        };
                        None
                    }
                }
            },
            // No permit is granted while open, so none of this generation can arrive.
            Phase::Open { .. } => None,
        }
    }

    /// Gives back a permit whose call ended without an outcome worth counting (cancelled,
    /// or failed before it reached the endpoint): a half-open probe frees its slot.
    pub fn cancel(&mut self, permit: Permit) {
        if permit.generation != self.generation {
            return;
        }
        if let Phase::HalfOpen {
            since,
            in_flight,
            succeeded,
        } = self.phase
        {
            self.phase = Phase::HalfOpen {
                since,
                in_flight: in_flight.saturating_sub(1),
                succeeded,
            };
        }
    }

    fn should_open(&self, now: Instant) -> bool {
        let counts = self.window_counts(now);
        let total = counts.total();
        counts.failures > 0
            && total >= u64::from(self.config.min_requests)
            && counts.failures as f64 / total as f64 >= self.config.failure_rate
    }

    fn open(&mut self, now: Instant) {
        self.change_phase(Phase::Open { since: now });
        self.window.clear();
    }

    fn start_probe_round(&mut self, now: Instant) {
        self.change_phase(Phase::HalfOpen {
            since: now,
            in_flight: 0,
            succeeded: 0,
        });
    }

    fn change_phase(&mut self, phase: Phase) {
        self.phase = phase;
        self.generation = self.generation.wrapping_add(1);
    }

    /// Half-open: takes a probe slot (the caller checked one is free).
    fn admit_probe(&mut self) -> Result<Permit, Rejected> {
        if let Phase::HalfOpen { in_flight, .. } = &mut self.phase {
            *in_flight = in_flight.saturating_add(1);
        }
        Ok(self.permit(BreakerState::HalfOpen))
    }

    fn permit(&self, granted_in: BreakerState) -> Permit {
        Permit {
            generation: self.generation,
            granted_in,
        }
    }

    fn probe_round_limit(&self) -> Duration {
        self.config.open_for.max(self.config.window)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::governance::clock::{Clock, ManualClock};
    use proptest::prelude::*;

    const MS: Duration = Duration::from_millis(1);
    const SEC: Duration = Duration::from_secs(1);
    const NS: Duration = Duration::from_nanos(1);

    fn config() -> BreakerConfig {
        BreakerConfig {
            failure_rate: 0.5,
            min_requests: 4,
            window: 10 * SEC,
            open_for: 30 * SEC,
            half_open_probes: 2,
        }
    }

    /// Makes one call at `now` with `outcome`; returns the state change it caused.
    fn call(b: &mut CircuitBreaker, outcome: Outcome, now: Instant) -> Option<BreakerState> {
        let permit = b.try_acquire(now).expect("admitted");
        b.record(permit, outcome, now)
    }

    /// A breaker opened at `t0` (4 failures).
    fn opened(t0: Instant) -> CircuitBreaker {
        let mut b = CircuitBreaker::new(config());
        for _ in 0..3 {
            assert_eq!(call(&mut b, Outcome::Failure, t0), None);
        }
        assert_eq!(call(&mut b, Outcome::Failure, t0), Some(BreakerState::Open));
        b
    }

    #[test]
    fn defaults_are_the_hystrix_like_bar() {
        let d = BreakerConfig::default();
        assert_eq!(
            (
                d.failure_rate,
                d.min_requests,
                d.window,
                d.open_for,
                d.half_open_probes
            ),
            (0.6, 20, 10 * SEC, 60 * SEC, 5)
        );
        assert_eq!(BreakerConfig::from_policy(&BreakerKeys::default()), Ok(d));
    }

    #[test]
    fn from_policy_maps_each_key_and_refuses_out_of_range_values() {
        let keys = BreakerKeys {
            failure_rate: Some(0.25),
            min_requests: Some(7),
            window_ms: Some(2_000),
            open_ms: Some(500),
            half_open_probes: Some(3),
        };
        assert_eq!(
            BreakerConfig::from_policy(&keys),
            Ok(BreakerConfig {
                failure_rate: 0.25,
                min_requests: 7,
                window: 2 * SEC,
                open_for: 500 * MS,
                half_open_probes: 3,
            })
        );
        let refused = |keys: BreakerKeys| match BreakerConfig::from_policy(&keys) {
            Err(PolicyError::OutOfRange { key, .. }) => key,
            other => panic!("expected OutOfRange, got {other:?}"),
        };
        let k = BreakerKeys::default();
        assert_eq!(
            refused(BreakerKeys {
                failure_rate: Some(1.5),
                ..k
            }),
            "circuit_breaker.failure_rate"
        );
        assert_eq!(
            refused(BreakerKeys {
                failure_rate: Some(f64::NAN),
                ..k
            }),
            "circuit_breaker.failure_rate"
        );
        assert_eq!(
            refused(BreakerKeys {
                min_requests: Some(0),
                ..k
            }),
            "circuit_breaker.min_requests"
        );
        assert_eq!(
            refused(BreakerKeys {
                window_ms: Some(99),
                ..k
            }),
            "circuit_breaker.window_ms"
        );
        assert_eq!(
            refused(BreakerKeys {
                open_ms: Some(3_600_001),
                ..k
            }),
            "circuit_breaker.open_ms"
        );
        assert_eq!(
            refused(BreakerKeys {
                half_open_probes: Some(1001),
                ..k
            }),
            "circuit_breaker.half_open_probes"
        );
    }

    #[test]
    fn hostile_configs_are_clamped_not_panicked_on() {
        let t0 = Instant::now();
        let mut b = CircuitBreaker::new(BreakerConfig {
            failure_rate: f64::NAN,
            min_requests: 0,
            window: Duration::ZERO,
            open_for: Duration::MAX,
            half_open_probes: 0,
        });
        assert_eq!(b.config().failure_rate, 0.6);
        assert_eq!(b.config().min_requests, 1);
        assert_eq!(b.config().half_open_probes, 1);
        assert_eq!(call(&mut b, Outcome::Failure, t0), Some(BreakerState::Open));
        assert!(matches!(
            b.try_acquire(t0 + 3_600 * SEC),
            Err(Rejected::Open { .. })
        ));
        let clamped = CircuitBreaker::new(BreakerConfig {
            failure_rate: 7.0,
            ..config()
        });
        assert_eq!(clamped.config().failure_rate, 1.0);
    }

    #[test]
    fn stays_closed_until_min_requests_even_when_everything_fails() {
        let t0 = Instant::now();
        let mut b = CircuitBreaker::new(BreakerConfig {
            min_requests: 20,
            ..config()
        });
        for _ in 0..19 {
            assert_eq!(call(&mut b, Outcome::Failure, t0), None);
        }
        assert_eq!(b.state(t0), BreakerState::Closed);
        assert_eq!(b.window_counts(t0).failures, 19);
        assert_eq!(call(&mut b, Outcome::Failure, t0), Some(BreakerState::Open));
        assert_eq!(b.state(t0), BreakerState::Open);
    }

    #[test]
    fn opens_exactly_at_the_failure_rate_and_not_below_it() {
        let t0 = Instant::now();
        let cfg = BreakerConfig {
            failure_rate: 0.6,
            min_requests: 20,
            ..config()
        };
        // 11 failures of 20: 55 % < 60 %.
        let mut below = CircuitBreaker::new(cfg);
        for _ in 0..9 {
            call(&mut below, Outcome::Success, t0);
        }
        for _ in 0..11 {
            assert_eq!(call(&mut below, Outcome::Failure, t0), None);
        }
        assert_eq!(below.state(t0), BreakerState::Closed);
        // 12 failures of 20: exactly 60 %.
        let mut at = CircuitBreaker::new(cfg);
        for _ in 0..8 {
            call(&mut at, Outcome::Success, t0);
        }
        for _ in 0..11 {
            assert_eq!(call(&mut at, Outcome::Failure, t0), None, "19 calls < 20");
        }
        assert_eq!(
            call(&mut at, Outcome::Failure, t0),
            Some(BreakerState::Open)
        );
    }

    #[test]
    fn a_success_can_complete_min_requests_and_open_it() {
        let t0 = Instant::now();
        let mut b = CircuitBreaker::new(config()); // 50 %, 4 calls
        for _ in 0..3 {
            call(&mut b, Outcome::Failure, t0);
        }
        assert_eq!(call(&mut b, Outcome::Success, t0), Some(BreakerState::Open));
    }

    #[test]
    fn rate_zero_opens_on_any_failure_but_never_without_one() {
        let t0 = Instant::now();
        let mut b = CircuitBreaker::new(BreakerConfig {
            failure_rate: 0.0,
            ..config()
        });
        for _ in 0..100 {
            assert_eq!(call(&mut b, Outcome::Success, t0), None);
        }
        assert_eq!(call(&mut b, Outcome::Failure, t0), Some(BreakerState::Open));
    }

    #[test]
    fn outcomes_leave_the_window_exactly_when_their_bucket_expires() {
        let t0 = Instant::now();
        // 3 failures at t0 (bucket 0 of 1 s buckets); a 4th call just before the window
        // ends still sees them.
        let mut b = CircuitBreaker::new(config());
        for _ in 0..3 {
            call(&mut b, Outcome::Failure, t0);
        }
        assert_eq!(
            call(&mut b, Outcome::Failure, t0 + 10 * SEC - NS),
            Some(BreakerState::Open)
        );
        // Same, but the 4th call lands exactly one window later: the 3 have expired.
        let mut b = CircuitBreaker::new(config());
        for _ in 0..3 {
            call(&mut b, Outcome::Failure, t0);
        }
        assert_eq!(call(&mut b, Outcome::Failure, t0 + 10 * SEC), None);
        assert_eq!(b.window_counts(t0 + 10 * SEC).failures, 1);
        assert_eq!(b.state(t0 + 10 * SEC), BreakerState::Closed);
    }

    #[test]
    fn open_rejects_until_open_for_has_passed_then_probes() {
        let t0 = Instant::now();
        let mut b = opened(t0);
        assert_eq!(
            b.try_acquire(t0),
            Err(Rejected::Open { retry_in: 30 * SEC })
        );
        assert_eq!(
            b.try_acquire(t0 + 30 * SEC - NS),
            Err(Rejected::Open { retry_in: NS })
        );
        assert_eq!(b.state(t0 + 30 * SEC - NS), BreakerState::Open);
        assert_eq!(b.state(t0 + 30 * SEC), BreakerState::HalfOpen);
        let probe = b
            .try_acquire(t0 + 30 * SEC)
            .expect("probe at exactly open_for");
        assert_eq!(probe.granted_in(), BreakerState::HalfOpen);
        b.cancel(probe);
    }

    #[test]
    fn half_open_admits_only_the_configured_probes_and_all_must_succeed() {
        let t0 = Instant::now();
        let mut b = opened(t0);
        let t1 = t0 + 30 * SEC;
        let p1 = b.try_acquire(t1).unwrap();
        let p2 = b.try_acquire(t1).unwrap();
        assert_eq!(b.try_acquire(t1), Err(Rejected::ProbesBusy));
        assert_eq!(b.record(p1, Outcome::Success, t1), None);
        assert_eq!(
            b.try_acquire(t1),
            Err(Rejected::ProbesBusy),
            "a succeeded probe still uses its slot in this round"
        );
        assert_eq!(b.state(t1), BreakerState::HalfOpen);
        assert_eq!(
            b.record(p2, Outcome::Success, t1 + MS),
            Some(BreakerState::Closed)
        );
        assert_eq!(b.state(t1), BreakerState::Closed);
        assert_eq!(
            b.window_counts(t1 + MS),
            CallCounts::default(),
            "fresh window"
        );
        // The fresh window needs min_requests again before it can reopen.
        for _ in 0..3 {
            assert_eq!(call(&mut b, Outcome::Failure, t1 + MS), None);
        }
        assert_eq!(
            call(&mut b, Outcome::Failure, t1 + MS),
            Some(BreakerState::Open)
        );
    }

    #[test]
    fn a_failed_probe_reopens_and_restarts_the_open_timer() {
        let t0 = Instant::now();
        let mut b = opened(t0);
        let t1 = t0 + 30 * SEC;
        let p1 = b.try_acquire(t1).unwrap();
        let p2 = b.try_acquire(t1).unwrap();
        let t2 = t1 + 5 * SEC;
        assert_eq!(b.record(p1, Outcome::Failure, t2), Some(BreakerState::Open));
        assert_eq!(
            b.record(p2, Outcome::Success, t2),
            None,
            "the other probe's late success does not close the reopened breaker"
        );
        assert_eq!(b.state(t2), BreakerState::Open);
        assert_eq!(
            b.try_acquire(t2 + 30 * SEC - NS),
            Err(Rejected::Open { retry_in: NS })
        );
        assert!(b.try_acquire(t2 + 30 * SEC).is_ok());
    }

    #[test]
    fn a_late_permit_from_before_the_breaker_opened_is_ignored() {
        let t0 = Instant::now();
        let mut b = CircuitBreaker::new(config());
        let early = b.try_acquire(t0).unwrap();
        assert_eq!(early.granted_in(), BreakerState::Closed);
        for _ in 0..4 {
            call(&mut b, Outcome::Failure, t0);
        }
        assert_eq!(b.state(t0), BreakerState::Open);
        // The late success neither closes nor half-opens anything.
        assert_eq!(b.record(early, Outcome::Success, t0 + SEC), None);
        assert_eq!(b.state(t0 + SEC), BreakerState::Open);
        assert!(b.try_acquire(t0 + SEC).is_err());
    }

    #[test]
    fn a_late_permit_from_an_earlier_closed_period_does_not_count() {
        let t0 = Instant::now();
        let mut b = CircuitBreaker::new(BreakerConfig {
            half_open_probes: 1,
            ..config()
        });
        let stale: Vec<Permit> = (0..4).map(|_| b.try_acquire(t0).unwrap()).collect();
        for _ in 0..4 {
            call(&mut b, Outcome::Failure, t0);
        }
        let t1 = t0 + 30 * SEC;
        call(&mut b, Outcome::Success, t1); // the probe closes it
        assert_eq!(b.state(t1), BreakerState::Closed);
        for permit in stale {
            assert_eq!(b.record(permit, Outcome::Failure, t1), None);
        }
        assert_eq!(b.window_counts(t1), CallCounts::default());
        assert_eq!(b.state(t1), BreakerState::Closed);
    }

    #[test]
    fn cancel_frees_a_probe_slot_and_ignores_closed_and_stale_permits() {
        let t0 = Instant::now();
        let mut b = opened(t0);
        let t1 = t0 + 30 * SEC;
        let p1 = b.try_acquire(t1).unwrap();
        let p2 = b.try_acquire(t1).unwrap();
        b.cancel(p1);
        let p3 = b
            .try_acquire(t1)
            .expect("the cancelled probe's slot is free");
        assert_eq!(b.try_acquire(t1), Err(Rejected::ProbesBusy));
        b.record(p2, Outcome::Success, t1);
        assert_eq!(
            b.record(p3, Outcome::Success, t1),
            Some(BreakerState::Closed)
        );
        let closed_permit = b.try_acquire(t1).unwrap();
        b.cancel(closed_permit);
        assert_eq!(b.window_counts(t1), CallCounts::default());
    }

    #[test]
    fn lost_probes_do_not_wedge_the_breaker_half_open() {
        let t0 = Instant::now();
        let mut b = opened(t0);
        let t1 = t0 + 30 * SEC;
        let lost1 = b.try_acquire(t1).unwrap();
        let lost2 = b.try_acquire(t1).unwrap();
        // The round limit is max(open_for, window) = 30 s.
        assert_eq!(b.try_acquire(t1 + 30 * SEC - NS), Err(Rejected::ProbesBusy));
        let fresh = b.try_acquire(t1 + 30 * SEC).expect("a new round starts");
        assert_eq!(b.record(lost1, Outcome::Success, t1 + 31 * SEC), None);
        b.cancel(lost2);
        let fresh2 = b.try_acquire(t1 + 31 * SEC).unwrap();
        assert_eq!(b.try_acquire(t1 + 31 * SEC), Err(Rejected::ProbesBusy));
        b.record(fresh, Outcome::Success, t1 + 31 * SEC);
        assert_eq!(
            b.record(fresh2, Outcome::Success, t1 + 31 * SEC),
            Some(BreakerState::Closed)
        );
    }

    #[test]
    fn set_config_keeps_the_state_and_restarts_the_window_only_if_it_changed() {
        let t0 = Instant::now();
        let mut b = CircuitBreaker::new(config());
        call(&mut b, Outcome::Failure, t0);
        b.set_config(BreakerConfig {
            min_requests: 2,
            ..config()
        });
        assert_eq!(b.window_counts(t0).failures, 1, "same window kept");
        assert_eq!(call(&mut b, Outcome::Failure, t0), Some(BreakerState::Open));
        b.set_config(BreakerConfig {
            window: 20 * SEC,
            ..config()
        });
        assert_eq!(b.state(t0), BreakerState::Open, "state kept");
    }

    #[test]
    fn a_clock_going_backwards_never_panics_or_shortens_the_open_period() {
        let clock = ManualClock::default();
        let t0 = clock.now();
        let mut b = opened(t0 + 60 * SEC);
        clock.set(t0);
        assert_eq!(
            b.try_acquire(clock.now()),
            Err(Rejected::Open { retry_in: 30 * SEC })
        );
        clock.advance(90 * SEC);
        assert!(b.try_acquire(clock.now()).is_ok());
    }

    #[derive(Debug, Clone)]
    enum Op {
        Advance(u64),
        Acquire,
        Record { which: usize, failure: bool },
        Cancel { which: usize },
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (0u64..4_000).prop_map(Op::Advance),
            Just(Op::Acquire),
            Just(Op::Acquire),
            (any::<usize>(), any::<bool>())
                .prop_map(|(which, failure)| Op::Record { which, failure }),
            any::<usize>().prop_map(|which| Op::Cancel { which }),
        ]
    }

    proptest! {
        #[test]
        fn never_admits_while_open_and_never_exceeds_the_probes(
            ops in proptest::collection::vec(op(), 1..300),
            min_requests in 1u32..6,
            probes in 1u32..4,
            open_ms in 1u64..5_000,
        ) {
            let cfg = BreakerConfig {
                failure_rate: 0.5,
                min_requests,
                window: 2 * SEC,
                open_for: Duration::from_millis(open_ms),
                half_open_probes: probes,
            };
            let mut b = CircuitBreaker::new(cfg);
            let mut now = Instant::now();
            let mut held: Vec<Permit> = Vec::new();
            let mut blocked_until: Option<Instant> = None;
            for op in ops {
                match op {
                    Op::Advance(ms) => now += Duration::from_millis(ms),
                    Op::Acquire => {
                        let state_before = b.state(now);
                        match b.try_acquire(now) {
                            Ok(permit) => {
                                if let Some(until) = blocked_until {
                                    prop_assert!(now >= until, "admitted while open");
                                }
                                prop_assert_ne!(state_before, BreakerState::Open);
                                held.push(permit);
                            }
                            Err(Rejected::Open { retry_in }) => {
                                prop_assert_eq!(state_before, BreakerState::Open);
                                prop_assert!(retry_in > Duration::ZERO);
                                prop_assert!(retry_in <= cfg.open_for);
                            }
                            Err(Rejected::ProbesBusy) => {
                                prop_assert_eq!(state_before, BreakerState::HalfOpen);
                            }
                        }
                    }
                    Op::Record { which, failure } if !held.is_empty() => {
                        let permit = held.swap_remove(which % held.len());
                        let outcome = if failure { Outcome::Failure } else { Outcome::Success };
                        if b.record(permit, outcome, now) == Some(BreakerState::Open) {
                            blocked_until = Some(now + cfg.open_for);
                            prop_assert_eq!(b.state(now), BreakerState::Open);
                        }
                    }
                    Op::Cancel { which } if !held.is_empty() => {
                        b.cancel(held.swap_remove(which % held.len()));
                    }
                    Op::Record { .. } | Op::Cancel { .. } => {}
                }
                if let Phase::HalfOpen { in_flight, succeeded, .. } = b.phase {
                    prop_assert!(in_flight + succeeded <= probes);
                }
            }
        }
    }
}
