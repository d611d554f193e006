//! Server-side rate limiting: a [`TokenBucket`] per core, each enforcing its
//! [`per_core_share`] of the service's `rate_limit.qps`.
//!
//! Cores do not coordinate: each admits up to its share, so the server as a whole stays
//! within the global figure without a shared counter on the request path. The price is
//! that the limit is exact only when load spreads evenly over the cores (SO_REUSEPORT
//! spreads connections, not calls): a core receiving more than its share rejects calls
//! while another has tokens to spare.

use std::time::{Duration, Instant};

use super::PolicyError;

/// Tokens a call needs, less a hair so refills that should reach a whole token but land a
/// rounding error short still admit.
const ONE_TOKEN: f64 = 1.0 - 1e-9;

/// A token bucket: `burst` tokens at most, refilled at `rate_per_sec` continuously; each
/// admitted call takes one. Starts full. No allocation, no clock reads: `now` is passed in.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    rate_per_sec: f64,
    burst: f64,
    tokens: f64,
    refilled_at: Instant,
}

impl TokenBucket {
    /// A full bucket at `now`. Negative or NaN `rate_per_sec` and `burst` count as 0 (a
    /// zero-rate bucket admits its initial burst, then nothing; a bucket whose burst is
    /// below one token admits nothing).
    pub fn new(rate_per_sec: f64, burst: f64, now: Instant) -> Self {
        let burst = non_negative(burst);
        Self {
            rate_per_sec: non_negative(rate_per_sec),
            burst,
            tokens: burst,
            refilled_at: now,
        }
    }

    /// This core's bucket for a service limited to `qps` calls per second with `burst`
    /// (`rate_limit.qps` and `rate_limit.burst`; an unset burst is one second's worth,
    /// `qps`), split over `cores` by [`per_core_share`]. Values outside `1..=100_000_000`
    /// are refused.
    pub fn from_policy(
        qps: u64,
        burst: Option<u64>,
        cores: usize,
        core_index: usize,
        now: Instant,
    ) -> Result<Self, PolicyError> {
        let qps = super::count_in("rate_limit.qps", Some(qps), 1, 100_000_000, 0)?;
        let burst = super::count_in("rate_limit.burst", burst, 1, 100_000_000, qps)?;
        let (rate, burst) = per_core_share(qps, burst, cores, core_index);
        Ok(Self::new(rate, burst, now))
    }

    /// Takes a token at `now` if one is available: `true` admits the call.
    pub fn try_take(&mut self, now: Instant) -> bool {
        self.refill(now);
        if self.tokens >= ONE_TOKEN {
            self.tokens = (self.tokens - 1.0).max(0.0);
            true
        } else {
            false
        }
    }

    /// Tokens available at `now` (for metrics and tests; does not change the bucket).
    pub fn available(&self, now: Instant) -> f64 {
        self.tokens_at(now)
    }

    /// How long from `now` until a call would be admitted (zero if one would be now;
    /// `None` if never: zero rate or a burst below one token). For `Retry-After` hints.
    pub fn wait_time(&self, now: Instant) -> Option<Duration> {
        let tokens = self.tokens_at(now);
        if tokens >= ONE_TOKEN {
            Some(Duration::ZERO)
        } else if self.rate_per_sec > 0.0 && self.burst >= ONE_TOKEN {
            Duration::try_from_secs_f64((1.0 - tokens) / self.rate_per_sec).ok()
        } else {
            None
        }
    }

    /// Applies a new rate and burst at `now` (a control-plane update), keeping the tokens
    /// already earned up to the new burst.
    pub fn set_rate(&mut self, rate_per_sec: f64, burst: f64, now: Instant) {
        self.refill(now);
        self.rate_per_sec = non_negative(rate_per_sec);
        self.burst = non_negative(burst);
        self.tokens = self.tokens.min(self.burst);
    }

    /// The configured rate and burst.
    pub fn rate_and_burst(&self) -> (f64, f64) {
        (self.rate_per_sec, self.burst)
    }

    fn refill(&mut self, now: Instant) {
        self.tokens = self.tokens_at(now);
        self.refilled_at = self.refilled_at.max(now);
    }

    fn tokens_at(&self, now: Instant) -> f64 {
        let elapsed = now
            .saturating_duration_since(self.refilled_at)
            .as_secs_f64();
        (self.tokens + elapsed * self.rate_per_sec).min(self.burst)
    }
}

fn non_negative(x: f64) -> f64 {
    if x.is_nan() { 0.0 } else { x.max(0.0) }
}

/// Core `core_index`'s share `(rate_per_sec, burst)` of a global `global_qps` and `burst`
/// split over `cores`: whole numbers, the remainder given one each to the first cores, so
/// the rates of all cores add up exactly to `global_qps` (10 over 4 cores: 3, 3, 2, 2).
/// Bursts split the same way, except that a core with a non-zero rate gets at least one
/// token of burst (without one it could never admit a call); so the bursts add up to
/// `burst` whenever `burst ≥ min(global_qps, cores)`, and exceed it by at most `cores`
/// otherwise.
///
/// With fewer QPS than cores, the last cores get rate 0 and reject every call that lands
/// on them. `cores == 0` or `core_index >= cores` gives `(0.0, 0.0)`.
pub fn per_core_share(global_qps: u64, burst: u64, cores: usize, core_index: usize) -> (f64, f64) {
    if core_index >= cores {
        return (0.0, 0.0);
    }
    let rate = split_evenly(global_qps, cores, core_index);
    let mut core_burst = split_evenly(burst, cores, core_index);
    if rate > 0 {
        core_burst = core_burst.max(1);
    }
    (rate as f64, core_burst as f64)
}

/// Part `index` of `total` split into `parts` whole shares, remainder to the first parts.
fn split_evenly(total: u64, parts: usize, index: usize) -> u64 {
    let parts = parts as u64;
    let index = index as u64;
    total / parts + u64::from(index < total % parts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const MS: Duration = Duration::from_millis(1);
    const SEC: Duration = Duration::from_secs(1);

    #[test]
    fn a_full_bucket_admits_its_burst_then_refills_at_the_rate() {
        let t0 = Instant::now();
        let mut bucket = TokenBucket::new(10.0, 5.0, t0);
        for _ in 0..5 {
            assert!(bucket.try_take(t0));
        }
        assert!(!bucket.try_take(t0), "burst spent");
        assert!(!bucket.try_take(t0 + 99 * MS), "0.99 tokens");
        assert!(bucket.try_take(t0 + 100 * MS), "one token after 1/rate");
        assert!(!bucket.try_take(t0 + 100 * MS));
        // 1 s later: 10 tokens earned, but only 5 fit.
        let later = t0 + 1100 * MS;
        assert!((bucket.available(later) - 5.0).abs() < 1e-9);
        let admitted = (0..20).filter(|_| bucket.try_take(later)).count();
        assert_eq!(admitted, 5, "a long idle never exceeds the burst");
    }

    #[test]
    fn fractional_rates_admit_at_the_right_moments() {
        let t0 = Instant::now();
        let mut bucket = TokenBucket::new(0.5, 1.0, t0);
        assert!(bucket.try_take(t0));
        assert!(!bucket.try_take(t0 + 1999 * MS));
        assert!(bucket.try_take(t0 + 2 * SEC));
        assert_eq!(bucket.wait_time(t0 + 2 * SEC), Some(2 * SEC));
        assert_eq!(bucket.wait_time(t0 + 4 * SEC), Some(Duration::ZERO));
    }

    #[test]
    fn many_small_refills_add_up_to_whole_tokens() {
        let t0 = Instant::now();
        let mut bucket = TokenBucket::new(10.0, 1.0, t0);
        assert!(bucket.try_take(t0));
        // Polled every 10 ms, the bucket earns 0.1 token ten times; in floating point
        // those add up to 0.9999999999999999, which must still admit at 100 ms.
        for i in 1..=9 {
            assert!(!bucket.try_take(t0 + i * 10 * MS), "poll {i}");
        }
        assert!(bucket.try_take(t0 + 100 * MS));
    }

    #[test]
    fn degenerate_buckets_never_panic() {
        let t0 = Instant::now();
        let mut zero_rate = TokenBucket::new(0.0, 2.0, t0);
        assert!(zero_rate.try_take(t0));
        assert!(zero_rate.try_take(t0));
        assert!(!zero_rate.try_take(t0 + 3600 * SEC));
        assert_eq!(zero_rate.wait_time(t0), None);
        let mut tiny_burst = TokenBucket::new(100.0, 0.5, t0);
        assert!(!tiny_burst.try_take(t0 + SEC));
        assert_eq!(tiny_burst.wait_time(t0), None);
        let mut nan = TokenBucket::new(f64::NAN, f64::NAN, t0);
        assert!(!nan.try_take(t0 + SEC));
        assert_eq!(nan.rate_and_burst(), (0.0, 0.0));
        let mut inf = TokenBucket::new(f64::INFINITY, 3.0, t0);
        assert!((0..3).all(|_| inf.try_take(t0)));
        assert!(inf.try_take(t0 + MS));
        assert_eq!(
            TokenBucket::new(-5.0, -1.0, t0).rate_and_burst(),
            (0.0, 0.0)
        );
    }

    #[test]
    fn a_clock_going_backwards_earns_nothing() {
        let t0 = Instant::now();
        let mut bucket = TokenBucket::new(10.0, 1.0, t0 + SEC);
        assert!(bucket.try_take(t0 + SEC));
        assert!(!bucket.try_take(t0), "time went back");
        assert!(
            !bucket.try_take(t0 + SEC + 50 * MS),
            "no credit for the jump back"
        );
        assert!(bucket.try_take(t0 + SEC + 100 * MS));
    }

    #[test]
    fn set_rate_keeps_earned_tokens_up_to_the_new_burst() {
        let t0 = Instant::now();
        let mut bucket = TokenBucket::new(10.0, 10.0, t0);
        bucket.set_rate(1.0, 2.0, t0);
        assert!(bucket.try_take(t0) && bucket.try_take(t0));
        assert!(!bucket.try_take(t0));
        assert!(bucket.try_take(t0 + SEC));
        assert_eq!(bucket.rate_and_burst(), (1.0, 2.0));
    }

    #[test]
    fn shares_split_the_remainder_over_the_first_cores() {
        let shares: Vec<_> = (0..4).map(|i| per_core_share(10, 6, 4, i)).collect();
        assert_eq!(shares, [(3.0, 2.0), (3.0, 2.0), (2.0, 1.0), (2.0, 1.0)]);
        assert_eq!(per_core_share(100, 100, 1, 0), (100.0, 100.0));
        assert_eq!(per_core_share(10, 10, 0, 0), (0.0, 0.0));
        assert_eq!(per_core_share(10, 10, 4, 4), (0.0, 0.0));
        // Fewer QPS than cores: the last cores get nothing; cores with a rate get a token.
        let shares: Vec<_> = (0..4).map(|i| per_core_share(2, 1, 4, i)).collect();
        assert_eq!(shares, [(1.0, 1.0), (1.0, 1.0), (0.0, 0.0), (0.0, 0.0)]);
        assert_eq!(
            per_core_share(u64::MAX, u64::MAX, usize::MAX, 0),
            (1.0, 1.0)
        );
    }

    #[test]
    fn from_policy_splits_and_refuses_out_of_range_values() {
        let t0 = Instant::now();
        let bucket = TokenBucket::from_policy(1000, Some(100), 8, 0, t0).unwrap();
        assert_eq!(bucket.rate_and_burst(), (125.0, 13.0));
        let bucket = TokenBucket::from_policy(1000, None, 8, 7, t0).unwrap();
        assert_eq!(
            bucket.rate_and_burst(),
            (125.0, 125.0),
            "burst defaults to qps"
        );
        assert!(matches!(
            TokenBucket::from_policy(0, None, 8, 0, t0),
            Err(PolicyError::OutOfRange {
                key: "rate_limit.qps",
                ..
            })
        ));
        assert!(matches!(
            TokenBucket::from_policy(10, Some(100_000_001), 8, 0, t0),
            Err(PolicyError::OutOfRange {
                key: "rate_limit.burst",
                ..
            })
        ));
    }

    proptest! {
        #[test]
        fn per_core_rates_sum_exactly_and_differ_by_at_most_one(
            qps in 1u64..100_000_000,
            burst in 1u64..100_000_000,
            cores in 1usize..256,
        ) {
            let shares: Vec<(f64, f64)> =
                (0..cores).map(|i| per_core_share(qps, burst, cores, i)).collect();
            let rate_sum: u64 = shares.iter().map(|s| s.0 as u64).sum();
            prop_assert_eq!(rate_sum, qps);
            let burst_sum: u64 = shares.iter().map(|s| s.1 as u64).sum();
            if burst >= qps.min(cores as u64) {
                prop_assert_eq!(burst_sum, burst);
            } else {
                prop_assert!(burst_sum <= burst + cores as u64);
            }
            let (lo, hi) = shares.iter().fold((f64::MAX, 0.0f64), |(lo, hi), s| (lo.min(s.0), hi.max(s.0)));
            prop_assert!(hi - lo <= 1.0);
            for s in &shares {
                prop_assert!(s.0 == 0.0 || s.1 >= 1.0, "a core with a rate can admit");
            }
        }

        #[test]
        fn admissions_never_exceed_burst_plus_rate_times_elapsed(
            rate in 0.0f64..1_000.0,
            burst in 0.0f64..50.0,
            steps in proptest::collection::vec((0u64..50_000, 1usize..8), 1..200),
        ) {
            let t0 = Instant::now();
            let mut bucket = TokenBucket::new(rate, burst, t0);
            let mut now = t0;
            let mut admitted = 0u64;
            for (advance_us, attempts) in steps {
                now += Duration::from_micros(advance_us);
                for _ in 0..attempts {
                    if bucket.try_take(now) {
                        admitted += 1;
                    }
                }
                let elapsed = now.duration_since(t0).as_secs_f64();
                let cap = burst + rate * elapsed;
                // Each admission may round up by at most 1e-9 token (`ONE_TOKEN`).
                let slack = 1e-6 + admitted as f64 * 1e-9;
                prop_assert!(admitted as f64 <= cap + slack, "{} > {}", admitted, cap);
                prop_assert!(bucket.available(now) <= burst);
            }
        }
    }
}
