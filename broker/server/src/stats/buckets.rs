//! Lock-free latency histograms for the request path, and their encoding as Prometheus
//! histograms. prometheus-client's `Histogram` takes a mutex on every observation; these take
//! two relaxed atomic adds, so sends and pulls on every core never wait on each other.

use prometheus_client::encoding::{EncodeLabelSet, EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Observations per bucket of fixed upper bounds (ms), plus their sum; the last bucket has no
/// bound. `N` is the number of bounds + 1.
#[derive(Debug)]
pub struct Buckets<const N: usize> {
    bounds_ms: &'static [f64],
    counts: [AtomicU64; N],
    sum_micros: AtomicU64,
}

/// A histogram's state at one moment, ready to encode.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    /// `(upper bound ms, observations in that bucket)`, the last bound `+Inf`; not cumulative.
    pub buckets: Vec<(f64, u64)>,
    /// Sum of the observations (ms).
    pub sum_ms: f64,
    /// Number of observations.
    pub count: u64,
}

impl<const N: usize> Buckets<N> {
    /// Empty buckets with these upper bounds (`N - 1` of them, ascending).
    pub fn new(bounds_ms: &'static [f64]) -> Self {
        debug_assert_eq!(bounds_ms.len() + 1, N);
        Self {
            bounds_ms,
            counts: std::array::from_fn(|_| AtomicU64::new(0)),
            sum_micros: AtomicU64::new(0),
        }
    }

    /// Counts one observation of `took`.
    pub fn observe(&self, took: Duration) {
        let ms = took.as_secs_f64() * 1000.0;
        let i = self
            .bounds_ms
            .iter()
            .position(|b| ms <= *b)
            .unwrap_or(N - 1);
        self.counts[i].fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        self.sum_micros.fetch_add(micros, Ordering::Relaxed);
    }

    /// The counts so far.
    pub fn snapshot(&self) -> Snapshot {
        let bounds = self.bounds_ms.iter().copied().chain([f64::INFINITY]);
        let buckets: Vec<(f64, u64)> = bounds
            .zip(&self.counts)
            .map(|(b, c)| (b, c.load(Ordering::Relaxed)))
            .collect();
        Snapshot {
            count: buckets.iter().map(|(_, c)| c).sum(),
            buckets,
            sum_ms: self.sum_micros.load(Ordering::Relaxed) as f64 / 1000.0,
        }
    }
}

/// Histogram series with their labels, encoded as one Prometheus histogram family.
#[derive(Debug)]
pub struct HistogramSeries<L>(pub Vec<(L, Snapshot)>);

impl<L: EncodeLabelSet + std::fmt::Debug> EncodeMetric for HistogramSeries<L> {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        for (labels, s) in &self.0 {
            encoder
                .encode_family(labels)?
                .encode_histogram::<NoLabelSet>(s.sum_ms, s.count, &s.buckets, None)?;
        }
        Ok(())
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Histogram
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static BOUNDS: [f64; 3] = [1.0, 10.0, 100.0];

    #[test]
    fn observations_land_in_their_buckets() {
        let b = Buckets::<4>::new(&BOUNDS);
        for micros in [500, 1_000, 7_000, 250_000] {
            b.observe(Duration::from_micros(micros));
        }
        let s = b.snapshot();
        assert_eq!(s.count, 4);
        assert_eq!(&s.buckets[..3], &[(1.0, 2), (10.0, 1), (100.0, 0)]);
        assert_eq!(s.buckets[3].1, 1);
        assert!(s.buckets[3].0.is_infinite());
        assert!((s.sum_ms - 258.5).abs() < 1e-9);
    }
}
