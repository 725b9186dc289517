//! One stats item as Java's `StatsItem` keeps it: a running value and call count, sampled into
//! three rings — every 10 s for the last minute, every 10 min for the last hour, every hour for
//! the last day — from which VIEW_BROKER_STATS_DATA reports each window's sum, rate and
//! per-call average. Pure: the caller passes the time.

use parking_lot::Mutex;
use rmq_protocol::body::stats::{BrokerStatsData, BrokerStatsItem};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};

/// One sample of an item: when, and its running value and call count then.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Sample {
    at_ms: i64,
    value: u64,
    times: u64,
}

/// A window: its sampling interval and how many samples it keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Window {
    /// Six 10 s intervals.
    Minute,
    /// Six 10 min intervals.
    Hour,
    /// 24 hourly intervals.
    Day,
}

impl Window {
    /// Every window, in ring order.
    pub const ALL: [Window; 3] = [Window::Minute, Window::Hour, Window::Day];

    /// The sampling interval.
    pub fn interval_ms(self) -> i64 {
        match self {
            Window::Minute => 10_000,
            Window::Hour => 600_000,
            Window::Day => 3_600_000,
        }
    }

    fn keep(self) -> usize {
        match self {
            Window::Minute | Window::Hour => 7,
            Window::Day => 25,
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// A running value (messages, bytes, milliseconds) and call count with its sample rings.
#[derive(Debug, Default)]
pub struct StatsItem {
    value: AtomicU64,
    times: AtomicU64,
    rings: Mutex<[VecDeque<Sample>; 3]>,
}

impl StatsItem {
    /// Adds `value` over `times` calls.
    pub fn add(&self, value: u64, times: u64) {
        self.value.fetch_add(value, Ordering::Relaxed);
        self.times.fetch_add(times, Ordering::Relaxed);
    }

    /// The running value since the item was created.
    pub fn total(&self) -> u64 {
        self.value.load(Ordering::Relaxed)
    }

    /// Takes a sample into `window`'s ring at `now_ms`. An empty ring first gets a zero sample
    /// one interval back, so a new item reports what it gathered since it appeared.
    pub fn sample(&self, window: Window, now_ms: i64) {
        let now = Sample {
            at_ms: now_ms,
            value: self.value.load(Ordering::Relaxed),
            times: self.times.load(Ordering::Relaxed),
        };
        let mut rings = self.rings.lock();
        let ring = &mut rings[window.index()];
        if ring.is_empty() {
            ring.push_back(Sample {
                at_ms: now_ms - window.interval_ms(),
                value: 0,
                times: 0,
            });
        }
        ring.push_back(now);
        while ring.len() > window.keep() {
            ring.pop_front();
        }
    }

    /// The sum and per-call average since the oldest sample of `window`'s ring, counted up to
    /// now (the running value, so a slow window never reports only the part of an interval
    /// that happened before its latest sample; everything when the ring has no sample yet),
    /// and the rate over the sampled intervals (0 before two samples).
    pub fn window(&self, window: Window) -> BrokerStatsItem {
        let rings = self.rings.lock();
        let ring = &rings[window.index()];
        let (value, times) = (
            self.value.load(Ordering::Relaxed),
            self.times.load(Ordering::Relaxed),
        );
        let base = ring.front().map_or((0, 0), |f| (f.value, f.times));
        let sum = value.saturating_sub(base.0);
        let calls = times.saturating_sub(base.1);
        let tps = match (ring.front(), ring.back()) {
            (Some(first), Some(last)) if last.at_ms > first.at_ms => {
                let sampled = last.value.saturating_sub(first.value);
                sampled as f64 * 1000.0 / (last.at_ms - first.at_ms) as f64
            }
            _ => 0.0,
        };
        BrokerStatsItem {
            sum: i64::try_from(sum).unwrap_or(i64::MAX),
            tps,
            avgpt: if calls > 0 {
                sum as f64 / calls as f64
            } else {
                0.0
            },
        }
    }

    /// The three windows, as VIEW_BROKER_STATS_DATA answers them.
    pub fn data(&self) -> BrokerStatsData {
        BrokerStatsData {
            stats_minute: self.window(Window::Minute),
            stats_hour: self.window(Window::Hour),
            stats_day: self.window(Window::Day),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_item_reports_what_it_gathered_once_sampled() {
        let item = StatsItem::default();
        item.add(30, 3);
        let before = item.window(Window::Minute);
        assert_eq!(
            (before.sum, before.tps),
            (30, 0.0),
            "no rate before a sample"
        );
        item.sample(Window::Minute, 100_000);
        let m = item.window(Window::Minute);
        assert_eq!(m.sum, 30);
        assert!((m.tps - 3.0).abs() < 1e-9, "30 over the 10 s before: {m:?}");
        assert!((m.avgpt - 10.0).abs() < 1e-9);
        assert_eq!(
            item.window(Window::Hour).sum,
            30,
            "not sampled yet: all of it"
        );
        item.add(5, 1);
        let m = item.window(Window::Minute);
        assert_eq!(m.sum, 35, "counted up to now, not to the last sample");
        assert!((m.tps - 3.0).abs() < 1e-9, "the rate is the sampled one");
    }

    #[test]
    fn the_minute_window_forgets_what_is_older_than_a_minute() {
        let item = StatsItem::default();
        let mut now = 0;
        item.sample(Window::Minute, now);
        item.add(600, 6);
        for _ in 0..6 {
            now += 10_000;
            item.sample(Window::Minute, now);
        }
        assert_eq!(item.window(Window::Minute).sum, 600);
        now += 10_000;
        item.add(50, 1);
        item.sample(Window::Minute, now);
        let m = item.window(Window::Minute);
        assert_eq!(
            m.sum, 50,
            "the 600 were added more than six intervals ago: {m:?}"
        );
        assert!((m.tps - 50.0 / 60.0).abs() < 1e-9);
        assert_eq!(item.total(), 650);
    }

    #[test]
    fn the_day_window_keeps_24_hours() {
        let item = StatsItem::default();
        for h in 0..30 {
            item.add(10, 1);
            item.sample(Window::Day, h * 3_600_000);
        }
        let d = item.window(Window::Day);
        assert_eq!(d.sum, 240, "24 intervals of 10: {d:?}");
        assert_eq!(item.data().stats_day, d);
    }
}
