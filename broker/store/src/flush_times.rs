//! How long the commit log's fsyncs take: a fixed-bucket histogram the flusher feeds and
//! metrics read (the store stays free of any metrics library). Only fsyncs that wrote
//! something are counted; a tick with nothing to flush costs nothing and is not a sample.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds (ms, inclusive) of every bucket but the last, which has no bound.
pub const FLUSH_BUCKETS_MS: [f64; 12] = [
    0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 1000.0,
];

/// fsync durations per bucket, their sum and count; lock-free.
#[derive(Debug, Default)]
pub struct FlushTimes {
    counts: [AtomicU64; FLUSH_BUCKETS_MS.len() + 1],
    sum_micros: AtomicU64,
}

/// A copy of [`FlushTimes`] at one moment.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FlushTimesSnapshot {
    /// `(upper bound ms, fsyncs in that bucket)`; the last bound is `f64::INFINITY`. Counts
    /// are per bucket, not cumulative.
    pub buckets: Vec<(f64, u64)>,
    /// Sum of all durations (ms).
    pub sum_ms: f64,
    /// Number of fsyncs.
    pub count: u64,
}

impl FlushTimes {
    /// Counts one fsync that took `took`.
    pub fn record(&self, took: Duration) {
        let ms = took.as_secs_f64() * 1000.0;
        let i = FLUSH_BUCKETS_MS
            .iter()
            .position(|b| ms <= *b)
            .unwrap_or(FLUSH_BUCKETS_MS.len());
        self.counts[i].fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        self.sum_micros.fetch_add(micros, Ordering::Relaxed);
    }

    /// The counts so far.
    pub fn snapshot(&self) -> FlushTimesSnapshot {
        let bounds = FLUSH_BUCKETS_MS.iter().copied().chain([f64::INFINITY]);
        let buckets: Vec<(f64, u64)> = bounds
            .zip(&self.counts)
            .map(|(b, c)| (b, c.load(Ordering::Relaxed)))
            .collect();
        FlushTimesSnapshot {
            count: buckets.iter().map(|(_, c)| c).sum(),
            buckets,
            sum_ms: self.sum_micros.load(Ordering::Relaxed) as f64 / 1000.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_land_in_their_buckets() {
        let t = FlushTimes::default();
        for micros in [50, 100, 900, 3_000, 2_000_000] {
            t.record(Duration::from_micros(micros));
        }
        let s = t.snapshot();
        assert_eq!(s.count, 5);
        assert_eq!(s.buckets.len(), FLUSH_BUCKETS_MS.len() + 1);
        assert_eq!(s.buckets[0], (0.1, 2), "50 µs and 100 µs are <= 0.1 ms");
        assert_eq!(s.buckets[3], (1.0, 1));
        assert_eq!(s.buckets[5], (5.0, 1));
        assert_eq!(s.buckets[12].1, 1, "2 s is past the last bound");
        assert!(s.buckets[12].0.is_infinite());
        assert!((s.sum_ms - 2_004.05).abs() < 1e-9, "{}", s.sum_ms);
    }
}
