//! A fixed-bucket latency histogram on atomics.

use super::Value;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds of the buckets, in seconds: from a fast fsync (1 ms) to a database that is
/// about to be declared down (10 s).
const BOUNDS: [f64; 13] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Observations counted per bucket, plus their sum.
#[derive(Debug, Default)]
pub struct Histogram {
    /// Non-cumulative counts; the last slot holds what exceeds every bound.
    buckets: [AtomicU64; BOUNDS.len() + 1],
    sum_nanos: AtomicU64,
}

impl Histogram {
    /// Records one observation.
    pub fn observe(&self, elapsed: Duration) {
        let seconds = elapsed.as_secs_f64();
        let slot = BOUNDS
            .iter()
            .position(|&bound| seconds <= bound)
            .unwrap_or(BOUNDS.len());
        self.buckets[slot].fetch_add(1, Ordering::Relaxed);
        let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        self.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    /// The cumulative buckets (`le` semantics), sum and count, as exposition formats want them.
    pub fn value(&self) -> Value {
        let mut cumulative = 0;
        let mut buckets = Vec::with_capacity(BOUNDS.len());
        for (bound, count) in BOUNDS.iter().zip(&self.buckets) {
            cumulative += count.load(Ordering::Relaxed);
            buckets.push((*bound, cumulative));
        }
        let count = cumulative + self.buckets[BOUNDS.len()].load(Ordering::Relaxed);
        Value::Histogram {
            buckets,
            sum: self.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9,
            count,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_cumulative_and_overflow_counts_only_in_the_total() {
        let histogram = Histogram::default();
        histogram.observe(Duration::from_micros(500));
        histogram.observe(Duration::from_millis(7));
        histogram.observe(Duration::from_secs(60));
        let Value::Histogram {
            buckets,
            sum,
            count,
        } = histogram.value()
        else {
            panic!("a histogram renders as a histogram");
        };
        assert_eq!(buckets[0], (0.001, 1));
        assert_eq!(buckets[3], (0.01, 2));
        assert_eq!(buckets.last(), Some(&(10.0, 2)));
        assert_eq!(count, 3);
        assert!((sum - 60.0075).abs() < 1e-9);
    }
}
