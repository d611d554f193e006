//! Retries: [`RetryPolicy`] decides whether a failed attempt may be retried and how long to
//! wait first; [`RetryBudget`] caps retries as a share of calls (Finagle's and linkerd's
//! retry budget), so retries cannot multiply the load on a struggling service.
//!
//! A retry goes out only if the policy allows it *and* the budget has room, asked in that
//! order so a refused retry does not spend budget:
//! `policy.should_retry(attempt, class) && budget.try_withdraw(now)`.

use std::time::{Duration, Instant};

use super::window::SlidingWindow;
use super::{PolicyError, count_in, number_in, random_below};

/// The `retry.*` and `idempotent` values of a policy as numbers; `None` for a key that is
/// not set (it takes the default of [`RetryPolicy`] or [`RetryBudget`]).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct RetryKeys {
    /// `retry.max_attempts`: `1..=10`, the first attempt included.
    pub max_attempts: Option<u64>,
    /// `retry.backoff_base_ms`: `0..=60_000`.
    pub backoff_base_ms: Option<u64>,
    /// `retry.backoff_max_ms`: `0..=600_000`, not below `retry.backoff_base_ms`.
    pub backoff_max_ms: Option<u64>,
    /// `retry.budget_percent`: `0..=100`.
    pub budget_percent: Option<f64>,
    /// `idempotent`.
    pub idempotent: Option<bool>,
}

/// What a failed attempt tells about whether retrying is safe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryClass {
    /// The request never reached the server (connection refused, no endpoint, breaker
    /// open, rejected before sending): retrying cannot run it twice.
    NeverReachedServer,
    /// The request may have reached the server (timeout, connection reset after sending):
    /// retrying could run it twice, so only idempotent methods are retried.
    MayHaveReachedServer,
    /// The server answered (an application exception or error reply): retrying would get
    /// the same answer or repeat the effect; never retried.
    ServerAnswered,
}

/// When a failed call is tried again: attempts allowed, which failures qualify, and the
/// jittered exponential delay between attempts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts per call, the first included; 1 means never retry (`retry.max_attempts`).
    pub max_attempts: u32,
    /// Delay bound before the first retry; doubles per retry (`retry.backoff_base_ms`).
    pub backoff_base: Duration,
    /// Largest delay bound (`retry.backoff_max_ms`).
    pub backoff_max: Duration,
    /// Whether running the method twice is harmless (`idempotent`).
    pub idempotent: bool,
}

impl Default for RetryPolicy {
    /// Two attempts (one retry, for retry-safe failures only since methods are not assumed
    /// idempotent), delays from 10 ms up to 1 s.
    fn default() -> Self {
        Self {
            max_attempts: 2,
            backoff_base: Duration::from_millis(10),
            backoff_max: Duration::from_secs(1),
            idempotent: false,
        }
    }
}

impl RetryPolicy {
    /// The policy a method's keys ask for, with the ranges codegen enforces; a value out of
    /// range, or `retry.backoff_max_ms` below `retry.backoff_base_ms`, is refused.
    pub fn from_policy(keys: &RetryKeys) -> Result<Self, PolicyError> {
        let d = Self::default();
        let max_attempts = count_in(
            "retry.max_attempts",
            keys.max_attempts,
            1,
            10,
            u64::from(d.max_attempts),
        )? as u32;
        let base_ms = count_in(
            "retry.backoff_base_ms",
            keys.backoff_base_ms,
            0,
            60_000,
            d.backoff_base.as_millis() as u64,
        )?;
        // An unset maximum follows a larger base rather than contradicting it.
        let default_max_ms = (d.backoff_max.as_millis() as u64).max(base_ms);
        let max_ms = count_in(
            "retry.backoff_max_ms",
            keys.backoff_max_ms,
            0,
            600_000,
            default_max_ms,
        )?;
        if max_ms < base_ms {
            return Err(PolicyError::BelowOther {
                key: "retry.backoff_max_ms",
                found: max_ms,
                other_key: "retry.backoff_base_ms",
                other: base_ms,
            });
        }
        Ok(Self {
            max_attempts,
            backoff_base: Duration::from_millis(base_ms),
            backoff_max: Duration::from_millis(max_ms),
            idempotent: keys.idempotent.unwrap_or(d.idempotent),
        })
    }

    /// Whether to retry after attempt number `attempt` (1 for the first call) failed with
    /// `error`: attempts remain, and the failure is retry-safe — it never reached the
    /// server, or it may have and the method is idempotent. The caller then asks the
    /// [`RetryBudget`].
    pub fn should_retry(&self, attempt: u32, error: RetryClass) -> bool {
        let safe = match error {
            RetryClass::NeverReachedServer => true,
            RetryClass::MayHaveReachedServer => self.idempotent,
            RetryClass::ServerAnswered => false,
        };
        safe && attempt < self.max_attempts
    }

    /// How long to wait after attempt number `attempt` (1 for the first call) failed before
    /// the next: uniform in `[bound / 2, bound]` where
    /// `bound = min(backoff_max, backoff_base × 2^(attempt − 1))` — exponential growth
    /// with jitter, never immediate, as in the client's reconnect backoff. `rng_state` is a
    /// [`splitmix64`](super::splitmix64) state the caller keeps (e.g. one per core).
    pub fn delay(&self, attempt: u32, rng_state: &mut u64) -> Duration {
        let doublings = attempt.saturating_sub(1).min(31);
        let bound = self
            .backoff_base
            .saturating_mul(1 << doublings)
            .min(self.backoff_max.max(self.backoff_base));
        let half = bound / 2;
        let spread = u64::try_from((bound - half).as_nanos()).unwrap_or(u64::MAX);
        let jitter = random_below(rng_state, spread.saturating_add(1));
        half.saturating_add(Duration::from_nanos(jitter))
    }

    /// Whether a backup (hedged) request is due: the method is idempotent and `after`
    /// (`backup_request_ms`) has passed since the first attempt went out at
    /// `first_sent_at` without a reply. Send at most one, and take it from the
    /// [`RetryBudget`] like a retry.
    pub fn backup_due(&self, after: Duration, first_sent_at: Instant, now: Instant) -> bool {
        self.idempotent && now.saturating_duration_since(first_sent_at) >= after
    }
}

/// Fixed-point units: one retry costs [`UNITS_PER_RETRY`]; a call deposits its budget
/// percentage in thousandths of a percent.
const UNITS_PER_RETRY: u128 = 100_000;

#[derive(Debug, Clone, Copy, Default)]
struct BudgetCounts {
    calls: u64,
    retries: u64,
}

/// Retries allowed over a sliding `ttl` window:
/// `min_per_second × ttl_seconds + percent / 100 × calls_in_window − retries_in_window`.
/// The first term is a floor so that lightly used clients can still retry; the second
/// lets retries grow with traffic but never beyond `percent` of it. Calls and retries
/// expire together as the window moves (ten time buckets),
/// so an exhausted budget refills as old retries leave the window.
///
/// Integer arithmetic (thousandths of a percent): no float drift, no allocation.
#[derive(Debug, Clone)]
pub struct RetryBudget {
    /// Units each call deposits: `percent × 1000`.
    units_per_call: u128,
    /// The floor, in units: `min_per_second × ttl_ms × 100`.
    reserve_units: u128,
    window: SlidingWindow<BudgetCounts>,
}

impl Default for RetryBudget {
    /// Finagle's defaults: 20 % of calls, at least 10 retries per second, over 10 s.
    fn default() -> Self {
        Self::new(20.0, 10, Duration::from_secs(10))
    }
}

impl RetryBudget {
    /// A budget letting retries reach `percent` (`0..=100`) of first attempts, plus a floor
    /// of `min_per_second` retries per second, over a sliding `ttl`. `percent` is clamped
    /// to `0..=100` (NaN counts as 0).
    pub fn new(percent: f64, min_per_second: u32, ttl: Duration) -> Self {
        let percent = if percent.is_nan() {
            0.0
        } else {
            percent.clamp(0.0, 100.0)
        };
        Self {
            units_per_call: (percent * 1000.0).round() as u128,
            reserve_units: u128::from(min_per_second) * ttl.as_millis() * 100,
            window: SlidingWindow::new(ttl),
        }
    }

    /// The budget `retry.budget_percent` asks for (default 20), with the default floor
    /// (10 retries per second) and window (10 s); a percentage outside `0..=100` is
    /// refused.
    pub fn from_policy(keys: &RetryKeys) -> Result<Self, PolicyError> {
        let percent = number_in(
            "retry.budget_percent",
            keys.budget_percent,
            0.0,
            100.0,
            20.0,
        )?;
        Ok(Self::new(percent, 10, Duration::from_secs(10)))
    }

    /// Records a first attempt at `now`: it earns `percent` of a retry.
    pub fn deposit(&mut self, now: Instant) {
        let bucket = self.window.bucket_mut(now);
        bucket.calls = bucket.calls.saturating_add(1);
    }

    /// Takes one retry from the budget at `now` if it has one; `false` means do not retry.
    pub fn try_withdraw(&mut self, now: Instant) -> bool {
        if self.available(now) == 0 {
            return false;
        }
        let bucket = self.window.bucket_mut(now);
        bucket.retries = bucket.retries.saturating_add(1);
        true
    }

    /// Whole retries the budget would allow at `now`.
    pub fn available(&self, now: Instant) -> u64 {
        let (calls, retries) = self.window.live(now).fold((0u128, 0u128), |(c, r), b| {
            (c + u128::from(b.calls), r + u128::from(b.retries))
        });
        let earned = self.reserve_units + calls * self.units_per_call;
        let spent = retries * UNITS_PER_RETRY;
        u64::try_from(earned.saturating_sub(spent) / UNITS_PER_RETRY).unwrap_or(u64::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const MS: Duration = Duration::from_millis(1);
    const SEC: Duration = Duration::from_secs(1);
    const NS: Duration = Duration::from_nanos(1);

    fn policy(idempotent: bool) -> RetryPolicy {
        RetryPolicy {
            max_attempts: 3,
            backoff_base: 10 * MS,
            backoff_max: 1000 * MS,
            idempotent,
        }
    }

    #[test]
    fn only_retry_safe_failures_are_retried_and_only_while_attempts_remain() {
        use RetryClass::*;
        let plain = policy(false);
        assert!(plain.should_retry(1, NeverReachedServer));
        assert!(!plain.should_retry(1, MayHaveReachedServer));
        assert!(!plain.should_retry(1, ServerAnswered));
        let idem = policy(true);
        assert!(idem.should_retry(1, MayHaveReachedServer));
        assert!(idem.should_retry(2, MayHaveReachedServer));
        assert!(
            !idem.should_retry(3, MayHaveReachedServer),
            "3 attempts made"
        );
        assert!(!idem.should_retry(3, NeverReachedServer));
        assert!(!idem.should_retry(1, ServerAnswered));
        assert!(!idem.should_retry(u32::MAX, NeverReachedServer));
        let once = RetryPolicy {
            max_attempts: 1,
            ..idem
        };
        assert!(!once.should_retry(1, NeverReachedServer));
        let none = RetryPolicy {
            max_attempts: 0,
            ..idem
        };
        assert!(!none.should_retry(0, NeverReachedServer));
    }

    #[test]
    fn delays_double_within_jitter_and_stop_at_the_cap() {
        let p = policy(true);
        let mut rng = 7;
        let mut bound = 10 * MS;
        for attempt in 1..=12 {
            let d = p.delay(attempt, &mut rng);
            assert!(
                d >= bound / 2 && d <= bound,
                "{attempt}: {d:?} vs {bound:?}"
            );
            bound = (bound * 2).min(1000 * MS);
        }
        for attempt in [0, 1] {
            let d = p.delay(attempt, &mut rng);
            assert!(d >= 5 * MS && d <= 10 * MS, "attempt {attempt}: {d:?}");
        }
        assert!(p.delay(u32::MAX, &mut rng) <= 1000 * MS);
        let zero = RetryPolicy {
            backoff_base: Duration::ZERO,
            ..p
        };
        assert_eq!(zero.delay(5, &mut rng), Duration::ZERO);
        let inverted = RetryPolicy {
            backoff_base: 100 * MS,
            backoff_max: 10 * MS,
            ..p
        };
        assert!(
            inverted.delay(3, &mut rng) <= 100 * MS,
            "max below base: base wins"
        );
        let huge = RetryPolicy {
            backoff_base: Duration::MAX,
            backoff_max: Duration::MAX,
            ..p
        };
        assert!(huge.delay(31, &mut rng) >= Duration::MAX / 2);
    }

    #[test]
    fn jitter_spreads_clients_that_failed_together() {
        let p = policy(true);
        let delays: std::collections::HashSet<Duration> = (0..50u64)
            .map(|seed| {
                let mut rng = seed;
                p.delay(3, &mut rng)
            })
            .collect();
        assert!(delays.len() > 40, "{delays:?}");
    }

    #[test]
    fn a_backup_request_is_due_after_the_delay_for_idempotent_methods_only() {
        let t0 = Instant::now();
        assert!(!policy(true).backup_due(50 * MS, t0, t0 + 50 * MS - NS));
        assert!(policy(true).backup_due(50 * MS, t0, t0 + 50 * MS));
        assert!(!policy(false).backup_due(50 * MS, t0, t0 + SEC));
        assert!(
            !policy(true).backup_due(50 * MS, t0 + SEC, t0),
            "clock went back"
        );
    }

    #[test]
    fn from_policy_maps_the_keys_and_refuses_bad_values() {
        let keys = RetryKeys {
            max_attempts: Some(4),
            backoff_base_ms: Some(20),
            backoff_max_ms: Some(500),
            budget_percent: Some(10.0),
            idempotent: Some(true),
        };
        assert_eq!(
            RetryPolicy::from_policy(&keys),
            Ok(RetryPolicy {
                max_attempts: 4,
                backoff_base: 20 * MS,
                backoff_max: 500 * MS,
                idempotent: true,
            })
        );
        assert_eq!(
            RetryPolicy::from_policy(&RetryKeys::default()),
            Ok(RetryPolicy::default())
        );
        // A large base with no max: the max follows the base.
        let p = RetryPolicy::from_policy(&RetryKeys {
            backoff_base_ms: Some(5_000),
            ..RetryKeys::default()
        })
        .unwrap();
        assert_eq!(p.backoff_max, 5 * SEC);
        let err = |keys: RetryKeys| RetryPolicy::from_policy(&keys).unwrap_err();
        assert!(matches!(
            err(RetryKeys {
                max_attempts: Some(0),
                ..keys
            }),
            PolicyError::OutOfRange {
                key: "retry.max_attempts",
                ..
            }
        ));
        assert!(matches!(
            err(RetryKeys {
                max_attempts: Some(11),
                ..keys
            }),
            PolicyError::OutOfRange {
                key: "retry.max_attempts",
                ..
            }
        ));
        assert!(matches!(
            err(RetryKeys {
                backoff_base_ms: Some(60_001),
                ..keys
            }),
            PolicyError::OutOfRange {
                key: "retry.backoff_base_ms",
                ..
            }
        ));
        assert!(matches!(
            err(RetryKeys {
                backoff_max_ms: Some(10),
                ..keys
            }),
            PolicyError::BelowOther {
                key: "retry.backoff_max_ms",
                found: 10,
                other: 20,
                ..
            }
        ));
        assert!(matches!(
            RetryBudget::from_policy(&RetryKeys {
                budget_percent: Some(100.5),
                ..keys
            }),
            Err(PolicyError::OutOfRange {
                key: "retry.budget_percent",
                ..
            })
        ));
        assert!(RetryBudget::from_policy(&keys).is_ok());
    }

    #[test]
    fn the_floor_allows_min_per_second_times_ttl_retries_without_traffic() {
        let t0 = Instant::now();
        let mut budget = RetryBudget::new(0.0, 1, 10 * SEC);
        assert_eq!(budget.available(t0), 10);
        for _ in 0..10 {
            assert!(budget.try_withdraw(t0));
        }
        assert!(!budget.try_withdraw(t0), "exhausted");
        assert_eq!(budget.available(t0), 0);
    }

    #[test]
    fn retries_grow_with_calls_at_the_configured_percentage() {
        let t0 = Instant::now();
        let mut budget = RetryBudget::new(25.0, 0, 10 * SEC);
        assert!(!budget.try_withdraw(t0), "no calls, no floor: no retries");
        for _ in 0..3 {
            budget.deposit(t0);
        }
        assert_eq!(budget.available(t0), 0, "3 × 25 % is not a whole retry");
        budget.deposit(t0);
        assert!(budget.try_withdraw(t0));
        assert!(!budget.try_withdraw(t0));
        for _ in 0..40 {
            budget.deposit(t0);
        }
        assert_eq!(budget.available(t0), 10, "44 × 25 % = 11, one spent");
    }

    #[test]
    fn an_exhausted_budget_refills_exactly_as_its_retries_leave_the_window() {
        let t0 = Instant::now();
        let mut budget = RetryBudget::new(0.0, 1, 10 * SEC);
        for _ in 0..10 {
            assert!(budget.try_withdraw(t0));
        }
        assert!(!budget.try_withdraw(t0 + 10 * SEC - NS));
        assert_eq!(budget.available(t0 + 10 * SEC), 10);
        assert!(budget.try_withdraw(t0 + 10 * SEC));
    }

    #[test]
    fn calls_expire_too_so_old_traffic_does_not_fund_new_retries() {
        let t0 = Instant::now();
        let mut budget = RetryBudget::new(50.0, 0, 10 * SEC);
        for _ in 0..10 {
            budget.deposit(t0);
        }
        assert_eq!(budget.available(t0 + 10 * SEC - NS), 5);
        assert_eq!(budget.available(t0 + 10 * SEC), 0);
        assert!(!budget.try_withdraw(t0 + 10 * SEC));
    }

    #[test]
    fn hostile_budget_inputs_are_clamped() {
        let t0 = Instant::now();
        let mut nan = RetryBudget::new(f64::NAN, 0, Duration::ZERO);
        nan.deposit(t0);
        assert!(!nan.try_withdraw(t0));
        let mut over = RetryBudget::new(1e9, 0, 10 * SEC);
        over.deposit(t0);
        assert_eq!(over.available(t0), 1, "clamped to 100 %");
        let huge = RetryBudget::new(100.0, u32::MAX, Duration::MAX);
        assert!(huge.available(t0) > 1_000_000);
        let default = RetryBudget::default();
        assert_eq!(default.available(t0), 100, "10/s over 10 s");
    }

    proptest! {
        #[test]
        fn retries_in_any_window_never_exceed_floor_plus_percent_of_calls(
            steps in proptest::collection::vec((0u64..3_000, any::<bool>()), 1..400),
            percent in 0u32..=100,
            min_per_second in 0u32..3,
        ) {
            let ttl = 10 * SEC;
            let mut budget = RetryBudget::new(f64::from(percent), min_per_second, ttl);
            let mut now = Instant::now();
            let mut calls: Vec<Instant> = Vec::new();
            let mut retries: Vec<Instant> = Vec::new();
            for (advance_ms, is_call) in steps {
                now += Duration::from_millis(advance_ms);
                if is_call {
                    budget.deposit(now);
                    calls.push(now);
                    continue;
                }
                if !budget.try_withdraw(now) {
                    continue;
                }
                retries.push(now);
                // At the moment of a withdrawal, every retry of the last 9/10 ttl is still
                // in the window (an event leaves only when a whole window has passed over
                // its bucket) and every call funding them lies within the last ttl.
                let recent_retries = retries
                    .iter()
                    .filter(|t| now.duration_since(**t) < ttl - ttl / 10)
                    .count() as u64;
                let funding_calls =
                    calls.iter().filter(|t| now.duration_since(**t) < ttl).count() as u64;
                let cap = u64::from(min_per_second) * 10 + funding_calls * u64::from(percent) / 100;
                prop_assert!(recent_retries <= cap, "{} retries > cap {}", recent_retries, cap);
            }
        }
    }
}
