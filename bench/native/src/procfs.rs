//! CPU time and RSS of a process from `/proc` (the broker, and the driver itself), as the Java
//! driver reads them: utime+stime from `/proc/PID/stat`, VmRSS and RssAnon from `/proc/PID/status`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::Duration;

/// utime + stime in clock ticks from the text of `/proc/PID/stat`.
pub fn parse_stat_ticks(stat: &str) -> Option<u64> {
    // the command name may hold spaces and parentheses: fields start after the last ')'
    let rest = stat.get(stat.rfind(')')? + 2..)?;
    let f: Vec<&str> = rest.split_whitespace().collect();
    // after the name: state is field 3 of the man page, utime 14 and stime 15 -> 11 and 12 here
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

/// `(VmRSS, RssAnon)` in KiB from the text of `/proc/PID/status` (-1 for a missing line).
pub fn parse_status_rss(status: &str) -> (i64, i64) {
    let kb = |line: &str| -> i64 {
        line.split_whitespace()
            .nth(1)
            .and_then(|v| v.parse().ok())
            .unwrap_or(-1)
    };
    let (mut rss, mut anon) = (-1, -1);
    for line in status.lines() {
        if line.starts_with("VmRSS:") {
            rss = kb(line);
        } else if line.starts_with("RssAnon:") {
            anon = kb(line);
        }
    }
    (rss, anon)
}

/// One process seen through `/proc`.
#[derive(Debug, Clone)]
pub struct Proc {
    /// The pid, or `self`.
    pid: String,
    /// Clock ticks per second (`getconf CLK_TCK`).
    clk_tck: f64,
}

impl Proc {
    /// The process `pid` (or `"self"`), with `clk_tck` ticks per second.
    pub fn new(pid: &str, clk_tck: u64) -> Self {
        Self {
            pid: pid.to_owned(),
            clk_tck: clk_tck.max(1) as f64,
        }
    }

    /// utime + stime in seconds, `None` when the process is gone.
    pub fn cpu_seconds(&self) -> Option<f64> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid)).ok()?;
        parse_stat_ticks(&stat).map(|t| t as f64 / self.clk_tck)
    }

    /// `(VmRSS, RssAnon)` in KiB, -1 when unknown.
    pub fn rss_kb(&self) -> (i64, i64) {
        std::fs::read_to_string(format!("/proc/{}/status", self.pid))
            .map(|s| parse_status_rss(&s))
            .unwrap_or((-1, -1))
    }

    /// Samples the RSS every 200 ms on a thread of its own until the sampler is stopped.
    pub fn sample_rss(&self) -> RssSampler {
        let peaks = Arc::new((AtomicI64::new(-1), AtomicI64::new(-1)));
        let stop = Arc::new(AtomicBool::new(false));
        let (proc_, p, s) = (self.clone(), peaks.clone(), stop.clone());
        let thread = std::thread::Builder::new()
            .name("rss-sampler".into())
            .spawn(move || {
                while !s.load(Ordering::Relaxed) {
                    let (rss, anon) = proc_.rss_kb();
                    p.0.fetch_max(rss, Ordering::Relaxed);
                    p.1.fetch_max(anon, Ordering::Relaxed);
                    std::thread::sleep(Duration::from_millis(200));
                }
            })
            .ok();
        RssSampler {
            proc_: self.clone(),
            peaks,
            stop,
            thread,
        }
    }
}

/// A running RSS sampler (see [`Proc::sample_rss`]).
pub struct RssSampler {
    proc_: Proc,
    peaks: Arc<(AtomicI64, AtomicI64)>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl RssSampler {
    /// Stops sampling; returns the peak `(VmRSS, RssAnon)` in KiB, a last sample included.
    pub fn finish(mut self) -> (i64, i64) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let (rss, anon) = self.proc_.rss_kb();
        (
            self.peaks.0.load(Ordering::Relaxed).max(rss),
            self.peaks.1.load(Ordering::Relaxed).max(anon),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proc_files() {
        let stat =
            "4242 (rmq broker (x)) S 1 4242 4242 0 -1 4194560 1000 0 0 0 150 25 0 0 20 0 9 0";
        assert_eq!(parse_stat_ticks(stat), Some(175));
        assert_eq!(parse_stat_ticks("garbage"), None);
        let status = "Name:\trmq-broker\nVmRSS:\t  123456 kB\nRssAnon:\t   65432 kB\n";
        assert_eq!(parse_status_rss(status), (123456, 65432));
        assert_eq!(parse_status_rss(""), (-1, -1));
        assert!(Proc::new("self", 100).cpu_seconds().is_some());
    }
}
