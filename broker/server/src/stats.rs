//! Broker counters and per-second rates for GET_BROKER_RUNTIME_INFO (putTps, getTransferedTps,
//! msgPutTotal*, msgGetTotal*).

use parking_lot::Mutex;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};

/// Message counters with a sliding window of one-second samples.
#[derive(Default)]
pub struct BrokerStats {
    puts: AtomicU64,
    gets: AtomicU64,
    samples: Mutex<VecDeque<(u64, u64)>>,
    day_marks: Mutex<DayMarks>,
}

#[derive(Default, Clone, Copy)]
struct DayMarks {
    day: i64,
    put_today_morning: u64,
    get_today_morning: u64,
    put_yesterday_morning: u64,
    get_yesterday_morning: u64,
}

const WINDOW: usize = 601;

impl BrokerStats {
    /// Counts stored messages.
    pub fn add_puts(&self, n: u64) {
        self.puts.fetch_add(n, Ordering::Relaxed);
    }

    /// Counts messages handed to consumers.
    pub fn add_gets(&self, n: u64) {
        self.gets.fetch_add(n, Ordering::Relaxed);
    }

    /// Total stored messages since start.
    pub fn puts(&self) -> u64 {
        self.puts.load(Ordering::Relaxed)
    }

    /// Total messages handed out since start.
    pub fn gets(&self) -> u64 {
        self.gets.load(Ordering::Relaxed)
    }

    /// Takes a sample; call once per second. `now_ms` rolls the day marks at midnight UTC.
    pub fn sample(&self, now_ms: i64) {
        let (p, g) = (self.puts(), self.gets());
        let mut s = self.samples.lock();
        s.push_back((p, g));
        while s.len() > WINDOW {
            s.pop_front();
        }
        let day = now_ms / 86_400_000;
        let mut m = self.day_marks.lock();
        if m.day != day {
            *m = DayMarks {
                day,
                put_today_morning: p,
                get_today_morning: g,
                put_yesterday_morning: m.put_today_morning,
                get_yesterday_morning: m.get_today_morning,
            };
        }
    }

    fn rate(&self, seconds: usize, pick: fn(&(u64, u64)) -> u64) -> f64 {
        let s = self.samples.lock();
        if s.len() < 2 {
            return 0.0;
        }
        let last = s.len() - 1;
        let first = last.saturating_sub(seconds);
        let span = (last - first) as f64;
        (pick(&s[last]) - pick(&s[first])) as f64 / span
    }

    fn tps_triplet(&self, pick: fn(&(u64, u64)) -> u64) -> String {
        format!(
            "{:.2} {:.2} {:.2}",
            self.rate(10, pick),
            self.rate(60, pick),
            self.rate(600, pick)
        )
    }

    /// `putTps` as Java formats it: rates over 10 s, 1 min and 10 min.
    pub fn put_tps(&self) -> String {
        self.tps_triplet(|s| s.0)
    }

    /// `getTransferedTps`.
    pub fn get_tps(&self) -> String {
        self.tps_triplet(|s| s.1)
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
            s.sample(i * 1000);
        }
        assert!(s.put_tps().starts_with("100.00 "), "{}", s.put_tps());
        assert_eq!(s.day_totals().0[2], 2000);
    }
}
