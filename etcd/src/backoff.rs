//! Exponential backoff with jitter for reconnecting to etcd (sans-IO: it only computes delays).
//!
//! Delays start at `min` and double per failure up to `max`; each one is drawn uniformly from
//! the upper half of the current step ("equal jitter"), so many clients that lost the same
//! etcd do not come back in lockstep, yet none waits less than half a step.

use std::time::Duration;

/// Delays between reconnection attempts.
#[derive(Debug, Clone)]
pub(crate) struct Backoff {
    min: Duration,
    max: Duration,
    step: Duration,
    rng: fastrand::Rng,
}

impl Backoff {
    /// A backoff from `min` doubling to `max` (`max` below `min` is raised to `min`).
    pub(crate) fn new(min: Duration, max: Duration) -> Self {
        let min = min.max(Duration::from_millis(1));
        Backoff {
            min,
            max: max.max(min),
            step: min,
            rng: fastrand::Rng::new(),
        }
    }

    /// The delay before the next attempt; the following one will be about twice as long.
    pub(crate) fn next_delay(&mut self) -> Duration {
        let step = self.step;
        self.step = (step * 2).min(self.max);
        let half = step / 2;
        let jitter_ns = self
            .rng
            .u64(0..=half.as_nanos().min(u128::from(u64::MAX)) as u64);
        half + Duration::from_nanos(jitter_ns)
    }

    /// Back to `min`, after a success.
    pub(crate) fn reset(&mut self) {
        self.step = self.min;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_with_jitter_up_to_max_and_resets() {
        let min = Duration::from_millis(100);
        let max = Duration::from_millis(1000);
        let mut b = Backoff::new(min, max);
        let steps = [100u64, 200, 400, 800, 1000, 1000];
        for step in steps {
            let d = b.next_delay();
            let step = Duration::from_millis(step);
            assert!(
                d >= step / 2 && d <= step,
                "{d:?} outside [{:?}, {step:?}]",
                step / 2
            );
        }
        b.reset();
        assert!(b.next_delay() <= min);
    }

    #[test]
    fn max_below_min_is_min() {
        let mut b = Backoff::new(Duration::from_millis(50), Duration::from_millis(10));
        for _ in 0..5 {
            assert!(b.next_delay() <= Duration::from_millis(50));
        }
    }
}
