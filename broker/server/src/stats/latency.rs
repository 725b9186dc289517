//! The put-latency distribution Java reports as `putMessageDistributeTime` in the runtime info:
//! counts of sends per latency bucket since the broker started, in Java's buckets and words.

use std::sync::atomic::{AtomicU64, Ordering};

/// Upper bounds (ms, inclusive) of every bucket but the last (`[10s~]`).
const BOUNDS_MS: [u64; 12] = [
    0, 10, 50, 100, 200, 500, 1000, 2000, 3000, 4000, 5000, 10000,
];
/// Java's labels of the buckets.
const LABELS: [&str; 13] = [
    "[<=0ms]",
    "[0~10ms]",
    "[10~50ms]",
    "[50~100ms]",
    "[100~200ms]",
    "[200~500ms]",
    "[500ms~1s]",
    "[1~2s]",
    "[2~3s]",
    "[3~4s]",
    "[4~5s]",
    "[5~10s]",
    "[10s~]",
];

/// Sends per latency bucket, and the slowest.
#[derive(Debug, Default)]
pub struct PutLatency {
    counts: [AtomicU64; 13],
    max_ms: AtomicU64,
}

impl PutLatency {
    /// Counts one send that took `ms`.
    pub fn record(&self, ms: u64) {
        let i = BOUNDS_MS.iter().position(|b| ms <= *b).unwrap_or(12);
        self.counts[i].fetch_add(1, Ordering::Relaxed);
        self.max_ms.fetch_max(ms, Ordering::Relaxed);
    }

    /// The slowest send since start (ms; Java's `putMessageEntireTimeMax`).
    pub fn max_ms(&self) -> u64 {
        self.max_ms.load(Ordering::Relaxed)
    }

    /// `[<=0ms]:n [0~10ms]:n ... [10s~]:n ` as Java formats it.
    pub fn distribution(&self) -> String {
        LABELS
            .iter()
            .zip(&self.counts)
            .map(|(l, c)| format!("{l}:{} ", c.load(Ordering::Relaxed)))
            .collect()
    }

    /// The latency (ms, a bucket's upper bound: an upper estimate) under which `q` (0..1) of
    /// the sends finished.
    pub fn quantile_ms(&self, q: f64) -> u64 {
        let counts: Vec<u64> = self
            .counts
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .collect();
        let total: u64 = counts.iter().sum();
        let wanted = (total as f64 * q).ceil() as u64;
        let mut seen = 0;
        for (i, c) in counts.iter().enumerate() {
            seen += c;
            if seen >= wanted && total > 0 {
                return BOUNDS_MS.get(i).copied().unwrap_or(10_000);
            }
        }
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sends_land_in_javas_buckets() {
        let l = PutLatency::default();
        for ms in [0, 3, 10, 11, 700, 20_000] {
            l.record(ms);
        }
        assert_eq!(
            l.distribution(),
            "[<=0ms]:1 [0~10ms]:2 [10~50ms]:1 [50~100ms]:0 [100~200ms]:0 [200~500ms]:0 \
             [500ms~1s]:1 [1~2s]:0 [2~3s]:0 [3~4s]:0 [4~5s]:0 [5~10s]:0 [10s~]:1 "
        );
        assert_eq!(l.quantile_ms(0.5), 10);
        assert_eq!(l.max_ms(), 20_000);
        assert_eq!(l.quantile_ms(0.99), 10_000);
    }
}
