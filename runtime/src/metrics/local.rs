//! Cells written by one thread and read by any: [`LocalCounter`] and [`LocalHistogram`].
//! The writer adds with a plain load and store (no read-modify-write instruction, no lock),
//! which is exact as long as one thread writes a cell; a scrape reads them from another
//! thread with relaxed loads. Each core records into cells of its own (see `registry.rs`),
//! so no cache line is written by two cores.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// A counter with one writer.
#[derive(Debug, Default)]
pub(crate) struct LocalCounter(AtomicU64);

impl LocalCounter {
    /// Adds `n`. Only the cell's own thread may call it (another writer could lose counts,
    /// though never corrupt memory).
    #[inline]
    pub(crate) fn add(&self, n: u64) {
        let value = self.0.load(Ordering::Relaxed).wrapping_add(n);
        self.0.store(value, Ordering::Relaxed);
    }

    /// Sets the value (same rule as [`add`](Self::add)).
    #[inline]
    pub(crate) fn set(&self, value: u64) {
        self.0.store(value, Ordering::Relaxed);
    }

    /// The value now (from any thread).
    pub(crate) fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Buckets of a latency histogram: upper bounds 16 µs, 32 µs, … 2^24 µs (~16.8 s), then
/// +Inf. Powers of two, so finding a bucket is one `leading_zeros`.
pub const LATENCY_BUCKETS: usize = 22;

/// The upper bound of bucket `index`, in seconds (`+Inf` for the last).
pub fn bucket_upper_bound(index: usize) -> f64 {
    if index + 1 >= LATENCY_BUCKETS {
        f64::INFINITY
    } else {
        (1u64 << (index + 4)) as f64 / 1e6
    }
}

/// The bucket of a latency of `micros` microseconds.
#[inline]
fn bucket_index(micros: u64) -> usize {
    if micros <= 16 {
        return 0;
    }
    let bits = 64 - (micros - 1).leading_zeros() as usize;
    (bits - 4).min(LATENCY_BUCKETS - 1)
}

/// A latency histogram with one writer: a count per bucket and the sum.
#[derive(Debug, Default)]
pub(crate) struct LocalHistogram {
    buckets: [LocalCounter; LATENCY_BUCKETS],
    sum_nanos: LocalCounter,
}

impl LocalHistogram {
    /// Counts one latency.
    #[inline]
    pub(crate) fn record(&self, latency: Duration) {
        let nanos = u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX);
        self.buckets[bucket_index(nanos / 1000)].add(1);
        self.sum_nanos.add(nanos);
    }

    /// Adds this histogram's counts to `into` (per bucket, not cumulative) and returns the
    /// count and the sum in nanoseconds.
    pub(crate) fn add_to(&self, into: &mut [u64; LATENCY_BUCKETS]) -> (u64, u64) {
        let mut count = 0;
        for (total, bucket) in into.iter_mut().zip(&self.buckets) {
            let n = bucket.get();
            *total += n;
            count += n;
        }
        (count, self.sum_nanos.get())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latencies_land_in_power_of_two_buckets() {
        assert_eq!(bucket_index(0), 0);
        assert_eq!(bucket_index(16), 0);
        assert_eq!(bucket_index(17), 1);
        assert_eq!(bucket_index(32), 1);
        assert_eq!(bucket_index(33), 2);
        assert_eq!(bucket_index(1 << 24), LATENCY_BUCKETS - 2);
        assert_eq!(bucket_index((1 << 24) + 1), LATENCY_BUCKETS - 1);
        assert_eq!(bucket_index(u64::MAX), LATENCY_BUCKETS - 1);
        assert_eq!(bucket_upper_bound(0), 16e-6);
        assert_eq!(bucket_upper_bound(LATENCY_BUCKETS - 2), 16.777216);
        assert_eq!(bucket_upper_bound(LATENCY_BUCKETS - 1), f64::INFINITY);
        // Every latency is at most its bucket's bound and above the previous one's.
        for micros in [1u64, 16, 17, 100, 1000, 65_536, 65_537, 10_000_000] {
            let i = bucket_index(micros);
            let seconds = micros as f64 / 1e6;
            assert!(seconds <= bucket_upper_bound(i), "{micros}");
            assert!(i == 0 || seconds > bucket_upper_bound(i - 1), "{micros}");
        }
    }

    #[test]
    fn a_histogram_counts_and_sums() {
        let h = LocalHistogram::default();
        h.record(Duration::from_micros(10));
        h.record(Duration::from_micros(20));
        h.record(Duration::from_secs(3600));
        let mut buckets = [0; LATENCY_BUCKETS];
        let (count, sum) = h.add_to(&mut buckets);
        assert_eq!(count, 3);
        assert_eq!(sum, 3_600_000_030_000);
        assert_eq!(
            (buckets[0], buckets[1], buckets[LATENCY_BUCKETS - 1]),
            (1, 1, 1)
        );
    }

    #[test]
    fn a_counter_read_from_another_thread_sees_the_writes() {
        let c = std::sync::Arc::new(LocalCounter::default());
        let writer = {
            let c = c.clone();
            std::thread::spawn(move || (0..1000).for_each(|_| c.add(2)))
        };
        writer.join().unwrap();
        assert_eq!(c.get(), 2000);
    }
}
