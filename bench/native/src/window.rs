//! The measurement window shared by every phase: errors by kind, and the broker's and the
//! driver's CPU time, the broker's commit-log offset and RSS peak sampled at its two ends; the
//! fields they give are the Java driver's (`msgs`, `tps`, `mbps`, `appendMBps`, `brokerCpuPct`,
//! `brokerCpuUsPerMsg`, `brokerRssMaxKb`, `driverCpuPct`, `errors`, `errorKinds`, ...).

use crate::client::Rmq;
use crate::json::{Obj, Val};
use crate::latency::Latency;
use crate::procfs::{Proc, RssSampler};
use parking_lot::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// Distinct error texts kept per phase (later new kinds are only counted).
const MAX_KINDS: usize = 8;

/// Errors of one phase: a count and the first [`MAX_KINDS`] distinct texts with their counts.
#[derive(Debug, Default)]
pub struct Errors {
    count: AtomicU64,
    kinds: Mutex<Vec<(String, u64)>>,
}

impl Errors {
    /// Counts one error described by `text` (its first line, at most 160 characters).
    pub fn add(&self, text: &str) {
        self.count.fetch_add(1, Ordering::Relaxed);
        let key: String = text
            .lines()
            .next()
            .unwrap_or("")
            .chars()
            .take(160)
            .collect();
        let mut kinds = self.kinds.lock();
        if let Some(k) = kinds.iter_mut().find(|(k, _)| *k == key) {
            k.1 += 1;
        } else if kinds.len() < MAX_KINDS {
            kinds.push((key, 1));
        }
    }

    /// Errors counted.
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// `errors` and `errorKinds` (`[{"message","count"}]`).
    pub fn write(&self, o: &mut Obj) {
        o.set("errors", self.count());
        let kinds: Vec<Val> = self
            .kinds
            .lock()
            .iter()
            .map(|(k, n)| {
                let mut e = Obj::new();
                e.set("message", k.as_str());
                e.set("count", *n);
                Val::Obj(e)
            })
            .collect();
        o.set("errorKinds", kinds);
    }
}

/// What is read at either end of a window (`None`: could not be read).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Sample {
    /// Broker utime+stime, seconds.
    pub broker_cpu: Option<f64>,
    /// Driver utime+stime, seconds.
    pub driver_cpu: Option<f64>,
    /// Broker `commitLogMaxOffset`.
    pub offset: Option<i64>,
}

/// Counts and measurements of a finished window, turned into fields by [`write_window`].
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Measured {
    /// Messages acknowledged (or consumed) inside the window.
    pub msgs: u64,
    /// Body bytes of one message.
    pub size: usize,
    /// Window length in seconds.
    pub secs: f64,
    /// Peak broker `(VmRSS, RssAnon)` in KiB, when a broker pid is known.
    pub rss_peak: Option<(i64, i64)>,
}

/// Writes the window's fields from its two samples (pure: the arithmetic of `Window.finish`).
pub fn write_window(o: &mut Obj, m: Measured, before: Sample, after: Sample) {
    let secs = m.secs.max(1e-9);
    o.set("msgs", m.msgs);
    o.set("seconds", m.secs);
    o.set("tps", m.msgs as f64 / secs);
    o.set("mbps", m.msgs as f64 * m.size as f64 / secs / 1e6);
    if let (Some(a), Some(b)) = (before.offset, after.offset)
        && b >= a
    {
        o.set("appendBytes", b - a);
        o.set("appendMBps", (b - a) as f64 / secs / 1e6);
    }
    if let (Some(a), Some(b), Some((rss, anon))) = (before.broker_cpu, after.broker_cpu, m.rss_peak)
    {
        o.set("brokerCpuPct", (b - a) / secs * 100.0);
        if m.msgs > 0 {
            o.set("brokerCpuUsPerMsg", (b - a) / m.msgs as f64 * 1e6);
        }
        o.set("brokerRssMaxKb", rss);
        o.set("brokerRssAnonMaxKb", anon);
    }
    if let (Some(a), Some(b)) = (before.driver_cpu, after.driver_cpu) {
        o.set("driverCpuPct", (b - a) / secs * 100.0);
    }
}

/// Whether a phase is ok by the Java driver's rule: some messages, at most 1 % errors.
pub fn ok_by_errors(msgs: u64, errors: u64) -> bool {
    msgs > 0 && errors <= msgs / 100
}

/// The processes and broker a window samples.
pub struct Probe<'a> {
    /// Client for `commitLogMaxOffset`.
    pub rmq: &'a Rmq,
    /// Broker address for `commitLogMaxOffset`.
    pub broker: &'a str,
    /// The broker process, when its pid is known.
    pub broker_proc: Option<&'a Proc>,
    /// The driver process.
    pub driver: &'a Proc,
}

/// An open window: the first sample and the broker's RSS sampler.
pub struct Window {
    before: Sample,
    sampler: Option<RssSampler>,
}

impl Probe<'_> {
    async fn sample(&self) -> Sample {
        Sample {
            broker_cpu: self.broker_proc.and_then(Proc::cpu_seconds),
            driver_cpu: self.driver.cpu_seconds(),
            offset: self.rmq.commit_log_max_offset(self.broker).await,
        }
    }

    /// Opens a window: samples, starts the RSS sampler.
    pub async fn begin(&self) -> Window {
        let before = self.sample().await;
        Window {
            before,
            sampler: self.broker_proc.map(Proc::sample_rss),
        }
    }

    /// Closes `w` and writes every window field, latencies (when given) and errors; marks the
    /// phase not ok when it has no messages or more than 1 % errors.
    pub async fn finish(
        &self,
        w: Window,
        o: &mut Obj,
        mut m: Measured,
        lat: Option<&Latency>,
        errors: &Errors,
    ) {
        let after = self.sample().await;
        m.rss_peak = w.sampler.map(RssSampler::finish);
        write_window(o, m, w.before, after);
        if let Some(lat) = lat {
            lat.write_ms(o);
        }
        errors.write(o);
        if !ok_by_errors(m.msgs, errors.count()) {
            o.set("ok", false);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_fields_from_samples() {
        let mut o = Obj::phase("sync");
        let before = Sample {
            broker_cpu: Some(10.0),
            driver_cpu: Some(1.0),
            offset: Some(1_000),
        };
        let after = Sample {
            broker_cpu: Some(11.0),
            driver_cpu: Some(1.5),
            offset: Some(2_001_000),
        };
        let m = Measured {
            msgs: 10_000,
            size: 100,
            secs: 2.0,
            rss_peak: Some((2048, 1024)),
        };
        write_window(&mut o, m, before, after);
        assert_eq!(
            o.render(),
            r#"{"phase":"sync","ok":true,"msgs":10000,"seconds":2.000,"tps":5000.000,"mbps":0.500,"appendBytes":2000000,"appendMBps":1.000,"brokerCpuPct":50.000,"brokerCpuUsPerMsg":100.000,"brokerRssMaxKb":2048,"brokerRssAnonMaxKb":1024,"driverCpuPct":25.000}"#
        );
    }

    #[test]
    fn errors_keep_eight_kinds_and_decide_ok() {
        let e = Errors::default();
        for i in 0..20 {
            e.add(&format!("code {}: busy\nstack", i % 10));
        }
        let mut o = Obj::new();
        e.write(&mut o);
        let v: serde_json::Value = serde_json::from_str(&o.render()).unwrap();
        assert_eq!(v["errors"], 20);
        assert_eq!(v["errorKinds"].as_array().unwrap().len(), 8);
        assert_eq!(v["errorKinds"][0]["message"], "code 0: busy");
        assert_eq!(v["errorKinds"][0]["count"], 2);
        assert!(ok_by_errors(1000, 10));
        assert!(!ok_by_errors(1000, 11));
        assert!(!ok_by_errors(0, 0));
    }
}
