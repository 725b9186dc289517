//! The broker's statistics: totals and per-second rates for GET_BROKER_RUNTIME_INFO (`putTps`,
//! `getFoundTps`, `getMissTps`, `getTotalTps`, `getTransferredTps`, `msgPutTotal*`,
//! `msgGetTotal*`), and the per topic / group items of [`table`] that VIEW_BROKER_STATS_DATA
//! serves.

pub mod buckets;
pub mod items;
pub mod latency;
pub mod rpc;
pub mod table;

use parking_lot::Mutex;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
pub use table::StatsTable;

/// Running counters at one instant.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Counters {
    /// Messages stored.
    puts: u64,
    /// Messages handed to consumers.
    gets: u64,
    /// Pulls that found messages.
    found: u64,
    /// Pulls that found none.
    miss: u64,
}

/// Message counters with a sliding window of one-second samples, and the stats items.
#[derive(Default)]
pub struct BrokerStats {
    puts: AtomicU64,
    gets: AtomicU64,
    found: AtomicU64,
    miss: AtomicU64,
    samples: Mutex<VecDeque<Counters>>,
    day_marks: Mutex<DayMarks>,
    /// Per topic and group items (VIEW_BROKER_STATS_DATA).
    pub items: StatsTable,
    /// How long sends took (`putMessageDistributeTime`, `putLatency99`).
    pub put_latency: latency::PutLatency,
    /// How long every request took, by request and response code (`/metrics`).
    pub rpc: rpc::RpcMetrics,
}

/// The put and get totals at the start of today and of yesterday (UTC), as RocketMQ's
/// `clusterList -m` reads them: today's traffic is the total now minus this morning's mark.
#[derive(Default, Clone, Copy)]
struct DayMarks {
    /// The day (days since the epoch) the marks belong to; `None` before the first sample.
    /// The counters start at zero with the broker, so the day it starts on begins with zero
    /// marks, whatever was counted before its first sample.
    day: Option<i64>,
    put_today_morning: u64,
    get_today_morning: u64,
    put_yesterday_morning: u64,
    get_yesterday_morning: u64,
}

const WINDOW: usize = 601;

impl BrokerStats {
    /// Statistics of a broker of `cluster`.
    pub fn new(cluster: &str) -> Self {
        Self {
            items: StatsTable::new(cluster),
            ..Self::default()
        }
    }

    /// Counts stored messages.
    pub fn add_puts(&self, n: u64) {
        self.puts.fetch_add(n, Ordering::Relaxed);
    }

    /// Counts messages handed to consumers.
    pub fn add_gets(&self, n: u64) {
        self.gets.fetch_add(n, Ordering::Relaxed);
    }

    /// Counts one pull: it found messages or not.
    pub fn add_pull(&self, found: bool) {
        let counter = if found { &self.found } else { &self.miss };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Total stored messages since start.
    pub fn puts(&self) -> u64 {
        self.puts.load(Ordering::Relaxed)
    }

    /// Total messages handed out since start.
    pub fn gets(&self) -> u64 {
        self.gets.load(Ordering::Relaxed)
    }

    /// Takes a sample; call once per second. `now_ms` rolls the day marks at midnight UTC and
    /// samples the stats items whose window is due.
    pub fn sample(&self, now_ms: i64) {
        let now = Counters {
            puts: self.puts(),
            gets: self.gets(),
            found: self.found.load(Ordering::Relaxed),
            miss: self.miss.load(Ordering::Relaxed),
        };
        let mut s = self.samples.lock();
        s.push_back(now);
        while s.len() > WINDOW {
            s.pop_front();
        }
        drop(s);
        let day = now_ms / 86_400_000;
        let mut m = self.day_marks.lock();
        if m.day.is_none() {
            m.day = Some(day);
        } else if m.day != Some(day) {
            *m = DayMarks {
                day: Some(day),
                put_today_morning: now.puts,
                get_today_morning: now.gets,
                put_yesterday_morning: m.put_today_morning,
                get_yesterday_morning: m.get_today_morning,
            };
        }
        drop(m);
        self.items.sample_due(now_ms);
    }

    fn rate(&self, seconds: usize, pick: fn(&Counters) -> u64) -> f64 {
        let s = self.samples.lock();
        if s.len() < 2 {
            return 0.0;
        }
        let last = s.len() - 1;
        let first = last.saturating_sub(seconds);
        let span = (last - first) as f64;
        pick(&s[last]).saturating_sub(pick(&s[first])) as f64 / span
    }

    /// Rates over 10 s, 1 min and 10 min as Java formats them: three numbers, always.
    fn tps_triplet(&self, pick: fn(&Counters) -> u64) -> String {
        format!(
            "{:.2} {:.2} {:.2}",
            self.rate(10, pick),
            self.rate(60, pick),
            self.rate(600, pick)
        )
    }

    /// `putTps`: messages stored per second.
    pub fn put_tps(&self) -> String {
        self.tps_triplet(|c| c.puts)
    }

    /// `getTransferredTps`: messages handed to consumers per second.
    pub fn get_tps(&self) -> String {
        self.tps_triplet(|c| c.gets)
    }

    /// `getFoundTps`: pulls per second that found messages.
    pub fn found_tps(&self) -> String {
        self.tps_triplet(|c| c.found)
    }

    /// `getMissTps`: pulls per second that found none.
    pub fn miss_tps(&self) -> String {
        self.tps_triplet(|c| c.miss)
    }

    /// `getTotalTps`: pulls per second.
    pub fn total_tps(&self) -> String {
        self.tps_triplet(|c| c.found + c.miss)
    }

    /// (yesterday morning, today morning, now) totals for puts and gets.
    pub fn day_totals(&self) -> ([u64; 3], [u64; 3]) {
        let m = *self.day_marks.lock();
        (
            [m.put_yesterday_morning, m.put_today_morning, self.puts()],
            [m.get_yesterday_morning, m.get_today_morning, self.gets()],
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_over_the_window() {
        let s = BrokerStats::default();
        for i in 0..20 {
            s.add_puts(100);
            s.add_pull(true);
            s.add_pull(i % 2 == 0);
            s.sample(i * 1000);
        }
        assert!(s.put_tps().starts_with("100.00 "), "{}", s.put_tps());
        assert!(s.found_tps().starts_with("1.50 "), "{}", s.found_tps());
        assert!(s.miss_tps().starts_with("0.50 "), "{}", s.miss_tps());
        assert!(s.total_tps().starts_with("2.00 "), "{}", s.total_tps());
        assert_eq!(s.day_totals().0[2], 2000);
    }

    #[test]
    fn the_start_day_counts_from_zero_and_midnight_rolls_the_marks() {
        const DAY_MS: i64 = 86_400_000;
        let s = BrokerStats::default();
        // sends stored before the broker's first sample are today's traffic
        s.add_puts(13);
        s.sample(5 * DAY_MS + 1_000);
        s.add_puts(37);
        s.add_gets(20);
        s.sample(5 * DAY_MS + 2_000);
        assert_eq!(s.day_totals(), ([0, 0, 50], [0, 0, 20]));
        // midnight: today's morning mark is the total then, yesterday's the old morning
        s.add_puts(5);
        s.sample(6 * DAY_MS + 10);
        s.add_puts(1);
        assert_eq!(s.day_totals(), ([0, 55, 56], [0, 20, 20]));
        s.sample(7 * DAY_MS);
        assert_eq!(s.day_totals(), ([55, 56, 56], [20, 20, 20]));
    }
}
