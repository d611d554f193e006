//! [`SlidingWindow`]: counts over the most recent stretch of time, kept in a fixed ring of
//! [`BUCKETS`] time buckets that expire as time advances (Hystrix's rolling window). Shared
//! by the circuit breaker (successes and failures) and the retry budget (calls and retries).

use std::time::{Duration, Instant};

/// How many buckets a window is cut into. An event counts for between
/// `window × (BUCKETS − 1) / BUCKETS` and `window` after it happened, depending on where in
/// its bucket it fell.
pub(crate) const BUCKETS: usize = 10;

/// One bucket: which bucket number (time slice since the window's origin) it holds.
#[derive(Debug, Clone, Copy)]
struct Slot<C> {
    /// `None` until the slot is first written.
    number: Option<u64>,
    counts: C,
}

/// Counts of type `C` (any `Copy + Default` record of counters) over the last `window` of
/// time. Bucket `n` covers `[origin + n·width, origin + (n+1)·width)` where `width` is
/// `window / BUCKETS` and `origin` is the time of the first write. Fixed size: recording
/// and reading never allocate.
///
/// Time that appears to go backwards is treated as standing still: a `now` earlier than the
/// newest bucket written so far counts in that newest bucket.
#[derive(Debug, Clone)]
pub(crate) struct SlidingWindow<C> {
    width_nanos: u128,
    origin: Option<Instant>,
    newest: u64,
    slots: [Slot<C>; BUCKETS],
}

impl<C: Copy + Default> SlidingWindow<C> {
    /// An empty window covering the last `window` of time. A window shorter than
    /// [`BUCKETS`] nanoseconds is treated as that long (each bucket spans at least 1 ns).
    pub(crate) fn new(window: Duration) -> Self {
        Self {
            width_nanos: (window.as_nanos() / BUCKETS as u128).max(1),
            origin: None,
            newest: 0,
            slots: [Slot {
                number: None,
                counts: C::default(),
            }; BUCKETS],
        }
    }

    /// The length of time the window covers.
    #[cfg(test)]
    pub(crate) fn window(&self) -> Duration {
        let nanos = self.width_nanos.saturating_mul(BUCKETS as u128);
        Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
    }

    /// The counters of the bucket `now` falls in, for the caller to increment. Starts a
    /// fresh bucket (dropping the one it replaces in the ring) when `now` has moved on.
    pub(crate) fn bucket_mut(&mut self, now: Instant) -> &mut C {
        let origin = *self.origin.get_or_insert(now);
        let number = self.bucket_number(origin, now).max(self.newest);
        self.newest = number;
        let slot = &mut self.slots[(number % BUCKETS as u64) as usize];
        if slot.number != Some(number) {
            *slot = Slot {
                number: Some(number),
                counts: C::default(),
            };
        }
        &mut slot.counts
    }

    /// The counters of every bucket still inside the window at `now` (at most [`BUCKETS`]).
    pub(crate) fn live(&self, now: Instant) -> impl Iterator<Item = &C> {
        let current = self
            .origin
            .map_or(0, |origin| self.bucket_number(origin, now).max(self.newest));
        self.slots.iter().filter_map(move |slot| match slot.number {
            Some(n) if n <= current && current - n < BUCKETS as u64 => Some(&slot.counts),
            _ => None,
        })
    }

    /// Forgets everything recorded (a fresh window; the bucket grid keeps its origin).
    pub(crate) fn clear(&mut self) {
        for slot in &mut self.slots {
            *slot = Slot {
                number: None,
                counts: C::default(),
            };
        }
    }

    fn bucket_number(&self, origin: Instant, now: Instant) -> u64 {
        let elapsed = now.saturating_duration_since(origin).as_nanos();
        u64::try_from(elapsed / self.width_nanos).unwrap_or(u64::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn total(window: &SlidingWindow<u32>, now: Instant) -> u32 {
        window.live(now).sum()
    }

    #[test]
    fn events_expire_exactly_one_window_after_their_bucket_starts() {
        let t0 = Instant::now();
        let mut window = SlidingWindow::<u32>::new(1000 * MS);
        *window.bucket_mut(t0) += 1; // bucket 0: [t0, t0 + 100 ms)
        *window.bucket_mut(t0 + 150 * MS) += 10; // bucket 1
        assert_eq!(total(&window, t0), 11);
        assert_eq!(total(&window, t0 + 1000 * MS - Duration::from_nanos(1)), 11);
        assert_eq!(total(&window, t0 + 1000 * MS), 10, "bucket 0 expired");
        assert_eq!(total(&window, t0 + 1100 * MS - Duration::from_nanos(1)), 10);
        assert_eq!(total(&window, t0 + 1100 * MS), 0, "bucket 1 expired");
    }

    #[test]
    fn a_reused_slot_starts_from_zero() {
        let t0 = Instant::now();
        let mut window = SlidingWindow::<u32>::new(1000 * MS);
        *window.bucket_mut(t0) += 5;
        // Bucket 10 lands in the same slot as bucket 0.
        *window.bucket_mut(t0 + 1000 * MS) += 1;
        assert_eq!(total(&window, t0 + 1000 * MS), 1);
        // Long silence: everything expired, nothing resurrected.
        assert_eq!(total(&window, t0 + 3_600_000 * MS), 0);
    }

    #[test]
    fn time_going_backwards_counts_in_the_newest_bucket() {
        let t0 = Instant::now();
        let mut window = SlidingWindow::<u32>::new(1000 * MS);
        *window.bucket_mut(t0 + 500 * MS) += 1; // first write: origin is t0 + 500 ms
        *window.bucket_mut(t0 + 900 * MS) += 1; // bucket 4
        *window.bucket_mut(t0) += 1; // earlier than the origin: bucket 4
        assert_eq!(total(&window, t0 + 900 * MS), 3);
        assert_eq!(total(&window, t0), 3, "a past `now` reads the newest state");
    }

    #[test]
    fn clear_empties_and_degenerate_windows_do_not_panic() {
        let t0 = Instant::now();
        let mut window = SlidingWindow::<u32>::new(Duration::ZERO);
        *window.bucket_mut(t0) += 1;
        assert_eq!(total(&window, t0), 1);
        assert_eq!(total(&window, t0 + 10 * Duration::from_nanos(1)), 0);
        window.clear();
        assert_eq!(total(&window, t0), 0);

        let mut huge = SlidingWindow::<u32>::new(Duration::MAX);
        *huge.bucket_mut(t0) += 1;
        assert_eq!(total(&huge, t0 + 3_600_000 * MS), 1);
        assert!(huge.window() >= Duration::from_secs(500 * 365 * 24 * 3600));
        assert_eq!(SlidingWindow::<u32>::new(1000 * MS).window(), 1000 * MS);
        assert_eq!(total(&SlidingWindow::<u32>::new(MS), t0), 0, "empty");
    }
}
