//! Latency histograms: HdrHistogram of nanoseconds (1 ns .. 10 min, 3 significant digits), one
//! per sender, merged at the end of a phase and written as the Java driver's `p50Ms`, `p99Ms`,
//! `p999Ms`, `maxMs` fields.

use crate::json::Obj;
use hdrhistogram::Histogram;
use std::time::Duration;

/// Highest latency recorded exactly (larger values are recorded as this).
const MAX_NS: u64 = 600_000_000_000;

/// Latencies of one sender or one phase.
#[derive(Debug, Clone)]
pub struct Latency {
    hist: Option<Histogram<u64>>,
}

impl Default for Latency {
    fn default() -> Self {
        Self::new()
    }
}

impl Latency {
    /// An empty histogram.
    pub fn new() -> Self {
        // Fixed, valid bounds: construction cannot fail; `None` would only mean "record nothing".
        Self {
            hist: Histogram::new_with_bounds(1, MAX_NS, 3).ok(),
        }
    }

    /// Records one latency.
    pub fn record(&mut self, d: Duration) {
        if let Some(h) = &mut self.hist {
            let ns = u64::try_from(d.as_nanos()).unwrap_or(MAX_NS).max(1);
            h.saturating_record(ns);
        }
    }

    /// Adds every value of `other`.
    pub fn merge(&mut self, other: &Latency) {
        if let (Some(h), Some(o)) = (&mut self.hist, &other.hist) {
            // same bounds on both sides: adding cannot fail
            let _ = h.add(o);
        }
    }

    /// Number of values recorded.
    #[cfg(test)]
    pub fn count(&self) -> u64 {
        self.hist.as_ref().map_or(0, Histogram::len)
    }

    /// The value at quantile `q` (0..=1) in nanoseconds, `None` when empty.
    pub fn quantile_ns(&self, q: f64) -> Option<u64> {
        self.hist
            .as_ref()
            .filter(|h| !h.is_empty())
            .map(|h| h.value_at_quantile(q))
    }

    /// The largest value in nanoseconds, `None` when empty.
    pub fn max_ns(&self) -> Option<u64> {
        self.hist
            .as_ref()
            .filter(|h| !h.is_empty())
            .map(Histogram::max)
    }

    /// Writes `p50Ms`, `p99Ms`, `p999Ms` and `maxMs` (`-1` each when nothing was recorded, as
    /// the Java driver writes `maxMs` for an empty phase).
    pub fn write_ms(&self, o: &mut Obj) {
        self.write_ms_as(o, "");
    }

    /// [`Self::write_ms`] with the keys prefixed: `prefix` "service" writes `serviceP50Ms`, ...
    pub fn write_ms_as(&self, o: &mut Obj, prefix: &str) {
        let ms = |ns: Option<u64>| ns.map_or(-1.0, |v| v as f64 / 1e6);
        let key = |k: &str| {
            if prefix.is_empty() {
                k.to_owned()
            } else {
                let mut c = k.chars();
                let first = c.next().map(|f| f.to_ascii_uppercase()).unwrap_or_default();
                format!("{prefix}{first}{}", c.as_str())
            }
        };
        o.set(&key("p50Ms"), ms(self.quantile_ns(0.50)));
        o.set(&key("p99Ms"), ms(self.quantile_ns(0.99)));
        o.set(&key("p999Ms"), ms(self.quantile_ns(0.999)));
        o.set(&key("maxMs"), ms(self.max_ns()));
    }

    /// Writes the 50th and 99th percentile in microseconds as `{prefix}P50Us`/`{prefix}P99Us`.
    pub fn write_us(&self, o: &mut Obj, prefix: &str) {
        let us = |ns: Option<u64>| ns.map_or(-1.0, |v| v as f64 / 1e3);
        o.set(&format!("{prefix}P50Us"), us(self.quantile_ns(0.50)));
        o.set(&format!("{prefix}P99Us"), us(self.quantile_ns(0.99)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_to_json() {
        let mut a = Latency::new();
        let mut b = Latency::new();
        for i in 1..=990u64 {
            a.record(Duration::from_micros(1000 + i)); // ~1 ms
        }
        for _ in 0..10 {
            b.record(Duration::from_millis(50));
        }
        a.merge(&b);
        assert_eq!(a.count(), 1000);
        let mut o = Obj::new();
        a.write_ms(&mut o);
        let v: serde_json::Value = serde_json::from_str(&o.render()).unwrap();
        let p50 = v["p50Ms"].as_f64().unwrap();
        assert!((1.49..1.51).contains(&p50), "{p50}");
        assert!((1.98..2.0).contains(&v["p99Ms"].as_f64().unwrap()), "{v}");
        assert!((49.9..50.1).contains(&v["p999Ms"].as_f64().unwrap()), "{v}");
        assert!((49.9..50.1).contains(&v["maxMs"].as_f64().unwrap()), "{v}");
    }

    #[test]
    fn empty_histograms_write_minus_one() {
        let mut o = Obj::new();
        Latency::new().write_ms(&mut o);
        assert_eq!(
            o.render(),
            r#"{"p50Ms":-1.000,"p99Ms":-1.000,"p999Ms":-1.000,"maxMs":-1.000}"#
        );
        let mut h = Latency::new();
        h.record(Duration::from_secs(3600)); // beyond the bounds: saturates, still counted
        assert_eq!(h.count(), 1);
        let mut o = Obj::new();
        h.write_ms_as(&mut o, "service");
        assert!(
            o.render().starts_with(r#"{"serviceP50Ms":6"#),
            "{}",
            o.render()
        );
        assert!(o.get("serviceMaxMs").is_some());
    }
}
