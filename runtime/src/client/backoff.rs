//! [`Backoff`]: when to try connecting again after failures — exponential growth from a
//! base delay to a cap, with "full jitter" (a uniform draw below the exponential bound) so
//! that many clients cut off together do not reconnect in step. Sans-IO: it computes
//! delays and never sleeps; the pool compares them with the clock.

use std::time::Duration;

/// Reconnect delays of one endpoint.
#[derive(Debug, Clone)]
pub(crate) struct Backoff {
    base: Duration,
    max: Duration,
    failures: u32,
    rng: u64,
}

impl Backoff {
    /// Delays start near `base` and never exceed `max`; `seed` varies the jitter.
    pub(crate) fn new(base: Duration, max: Duration, seed: u64) -> Self {
        Self {
            base,
            max: max.max(base),
            failures: 0,
            rng: seed,
        }
    }

    /// Records a failure; returns how long to wait before the next attempt: uniform in
    /// `[bound / 2, bound]`, where `bound = min(max, base × 2^(failures − 1))`. Half the
    /// bound is kept so a retry never comes immediately.
    pub(crate) fn fail(&mut self) -> Duration {
        self.failures = self.failures.saturating_add(1);
        let growth = 1u32 << (self.failures - 1).min(20);
        let bound = self.base.saturating_mul(growth).min(self.max);
        let half = bound / 2;
        let spread = (bound - half).as_nanos() as u64;
        let jitter = if spread == 0 {
            0
        } else {
            self.next_random() % (spread + 1)
        };
        half + Duration::from_nanos(jitter)
    }

    /// Records a success: the next failure starts from `base` again.
    pub(crate) fn succeed(&mut self) {
        self.failures = 0;
    }

    /// splitmix64: enough randomness for jitter, no dependency.
    fn next_random(&mut self) -> u64 {
        crate::governance::splitmix64(&mut self.rng)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn delays_grow_exponentially_within_jitter_and_stop_at_the_cap() {
        let mut backoff = Backoff::new(10 * MS, 1000 * MS, 7);
        let mut bound = 10 * MS;
        for _ in 0..12 {
            let delay = backoff.fail();
            assert!(
                delay >= bound / 2 && delay <= bound,
                "{delay:?} vs {bound:?}"
            );
            bound = (bound * 2).min(1000 * MS);
        }
        assert_eq!(backoff.failures, 12);
        backoff.succeed();
        let delay = backoff.fail();
        assert!(delay >= 5 * MS && delay <= 10 * MS, "{delay:?}");
    }

    #[test]
    fn clients_cut_off_together_spread_their_retries() {
        let delays: Vec<Duration> = (0..50)
            .map(|seed| {
                let mut backoff = Backoff::new(100 * MS, 10_000 * MS, seed);
                backoff.fail();
                backoff.fail();
                backoff.fail()
            })
            .collect();
        let distinct: std::collections::HashSet<_> = delays.iter().collect();
        assert!(distinct.len() > 40, "jitter spreads retries: {distinct:?}");
        assert!(delays.iter().all(|d| *d >= 200 * MS && *d <= 400 * MS));
    }

    #[test]
    fn a_huge_failure_count_saturates_instead_of_overflowing() {
        let mut backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(30), 3);
        for _ in 0..1000 {
            assert!(backoff.fail() <= Duration::from_secs(30));
        }
    }
}
