//! Every stats item of the broker by name and key, as Java's `BrokerStatsManager` names them,
//! so `mqadmin statsAll`, `consumerProgress` and rocketmq-exporter read them through
//! VIEW_BROKER_STATS_DATA: per topic what was stored, per `topic@group` what was handed out,
//! per cluster the broker's totals. Sampled by [`StatsTable::sample_due`] once a second.

use super::items::{StatsItem, Window};
use foldhash::HashMap;
use parking_lot::{Mutex, RwLock};
use std::sync::Arc;

/// Messages stored, by topic.
pub const TOPIC_PUT_NUMS: &str = "TOPIC_PUT_NUMS";
/// Bytes stored (encoded records), by topic.
pub const TOPIC_PUT_SIZE: &str = "TOPIC_PUT_SIZE";
/// Messages handed to a group, by `topic@group`.
pub const GROUP_GET_NUMS: &str = "GROUP_GET_NUMS";
/// Bytes handed to a group, by `topic@group`.
pub const GROUP_GET_SIZE: &str = "GROUP_GET_SIZE";
/// Messages a consumer sent back for a retry, by `topic@group`.
pub const SNDBCK_PUT_NUMS: &str = "SNDBCK_PUT_NUMS";
/// Messages moved to a dead letter queue, by `topic@group` (the message's first topic).
pub const DLQ_PUT_NUMS: &str = "DLQ_PUT_NUMS";
/// Messages stored by the broker, by cluster name.
pub const BROKER_PUT_NUMS: &str = "BROKER_PUT_NUMS";
/// Messages handed out by the broker, by cluster name.
pub const BROKER_GET_NUMS: &str = "BROKER_GET_NUMS";

/// Every name this table keeps.
pub const NAMES: [&str; 8] = [
    TOPIC_PUT_NUMS,
    TOPIC_PUT_SIZE,
    GROUP_GET_NUMS,
    GROUP_GET_SIZE,
    SNDBCK_PUT_NUMS,
    DLQ_PUT_NUMS,
    BROKER_PUT_NUMS,
    BROKER_GET_NUMS,
];

type Items = HashMap<String, Arc<StatsItem>>;

/// The stats items by name, then key.
#[derive(Default)]
pub struct StatsTable {
    cluster: String,
    sets: RwLock<HashMap<&'static str, Items>>,
    /// When each window was last sampled (ms), in [`Window::ALL`] order.
    sampled: Mutex<[i64; 3]>,
}

impl StatsTable {
    /// An empty table for a broker of `cluster` (the key of the broker-wide items).
    pub fn new(cluster: &str) -> Self {
        Self {
            cluster: cluster.to_owned(),
            ..Self::default()
        }
    }

    /// Adds `value` over `times` calls to item `name`/`key`, creating it on first use.
    pub fn add(&self, name: &'static str, key: &str, value: u64, times: u64) {
        if let Some(item) = self.sets.read().get(name).and_then(|s| s.get(key)) {
            item.add(value, times);
            return;
        }
        let mut sets = self.sets.write();
        let item = sets
            .entry(name)
            .or_default()
            .entry(key.to_owned())
            .or_default();
        item.add(value, times);
    }

    /// Adds each `(name, key, value)` (one call each) under one read lock; items met for the
    /// first time are created under the write lock.
    fn add_each(&self, entries: [(&'static str, &str, u64); 3]) {
        let mut missing = [false; 3];
        {
            let sets = self.sets.read();
            for (i, (name, key, value)) in entries.iter().enumerate() {
                match sets.get(name).and_then(|s| s.get(*key)) {
                    Some(item) => item.add(*value, 1),
                    None => missing[i] = true,
                }
            }
        }
        for (i, (name, key, value)) in entries.into_iter().enumerate() {
            if missing[i] {
                self.add(name, key, value, 1);
            }
        }
    }

    /// `messages` of `bytes` stored in `topic` by one put.
    pub fn put(&self, topic: &str, messages: u64, bytes: u64) {
        self.add_each([
            (TOPIC_PUT_NUMS, topic, messages),
            (TOPIC_PUT_SIZE, topic, bytes),
            (BROKER_PUT_NUMS, &self.cluster, messages),
        ]);
    }

    /// `messages` of `bytes` of `topic` handed to `group` by one pull.
    pub fn got(&self, topic: &str, group: &str, messages: u64, bytes: u64) {
        let key = format!("{topic}@{group}");
        self.add_each([
            (GROUP_GET_NUMS, &key, messages),
            (GROUP_GET_SIZE, &key, bytes),
            (BROKER_GET_NUMS, &self.cluster, messages),
        ]);
    }

    /// A message of `topic` that `group` sent back for a retry.
    pub fn sent_back(&self, topic: &str, group: &str) {
        self.add(SNDBCK_PUT_NUMS, &format!("{topic}@{group}"), 1, 1);
    }

    /// A message of `topic` that `group` gave up on: stored in `%DLQ%<group>`.
    pub fn dead_lettered(&self, topic: &str, group: &str) {
        self.add(DLQ_PUT_NUMS, &format!("{topic}@{group}"), 1, 1);
    }

    /// Item `name`/`key`, if anything was ever added to it.
    pub fn get(&self, name: &str, key: &str) -> Option<Arc<StatsItem>> {
        self.sets.read().get(name).and_then(|s| s.get(key)).cloned()
    }

    /// Every (key, item) of `name`.
    pub fn items(&self, name: &str) -> Vec<(String, Arc<StatsItem>)> {
        self.sets
            .read()
            .get(name)
            .map(|s| s.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default()
    }

    /// Samples every item into each window whose interval passed since its last sample.
    pub fn sample_due(&self, now_ms: i64) {
        let due: Vec<Window> = {
            let mut sampled = self.sampled.lock();
            Window::ALL
                .into_iter()
                .zip(sampled.iter_mut())
                .filter(|(w, last)| now_ms - **last >= w.interval_ms())
                .map(|(w, last)| {
                    *last = now_ms;
                    w
                })
                .collect()
        };
        if due.is_empty() {
            return;
        }
        for set in self.sets.read().values() {
            for item in set.values() {
                for w in &due {
                    item.sample(*w, now_ms);
                }
            }
        }
    }

    /// Forgets the items of a deleted topic (`topic`, `topic@*`).
    pub fn remove_topic(&self, topic: &str) {
        let prefix = format!("{topic}@");
        for set in self.sets.write().values_mut() {
            set.retain(|k, _| k != topic && !k.starts_with(&prefix));
        }
    }

    /// Forgets the items of a deleted group (`*@group`).
    pub fn remove_group(&self, group: &str) {
        let suffix = format!("@{group}");
        for set in self.sets.write().values_mut() {
            set.retain(|k, _| !k.ends_with(&suffix));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn puts_and_gets_land_in_javas_names_and_keys() {
        let t = StatsTable::new("DefaultCluster");
        t.put("T", 2, 300);
        t.put("T", 1, 100);
        t.got("T", "G", 3, 400);
        t.sent_back("T", "G");
        let total = |n: &str, k: &str| t.get(n, k).map(|i| i.total());
        assert_eq!(total(TOPIC_PUT_NUMS, "T"), Some(3));
        assert_eq!(total(TOPIC_PUT_SIZE, "T"), Some(400));
        assert_eq!(total(BROKER_PUT_NUMS, "DefaultCluster"), Some(3));
        assert_eq!(total(GROUP_GET_NUMS, "T@G"), Some(3));
        assert_eq!(total(GROUP_GET_SIZE, "T@G"), Some(400));
        assert_eq!(total(BROKER_GET_NUMS, "DefaultCluster"), Some(3));
        assert_eq!(total(SNDBCK_PUT_NUMS, "T@G"), Some(1));
        assert_eq!(total(TOPIC_PUT_NUMS, "other"), None);
        t.sample_due(20_000);
        let m = t.get(TOPIC_PUT_NUMS, "T").unwrap().window(Window::Minute);
        assert_eq!((m.sum, m.avgpt), (3, 1.5));
    }

    #[test]
    fn windows_are_sampled_when_their_interval_passed() {
        let t = StatsTable::new("c");
        t.put("T", 1, 1);
        t.sample_due(600_000);
        t.put("T", 1, 1);
        t.sample_due(605_000); // 5 s later: no window is due
        let item = t.get(TOPIC_PUT_NUMS, "T").unwrap();
        let m = item.window(Window::Minute);
        assert_eq!(
            (m.sum, m.tps),
            (2, 0.1),
            "sum up to now, rate of the sampled 10 s"
        );
        t.sample_due(610_000);
        assert_eq!(item.window(Window::Minute).tps, 0.1, "2 over 20 s");
        let h = item.window(Window::Hour);
        assert_eq!(
            h.sum, 2,
            "the hour ring was sampled once, its sum is up to now"
        );
        assert!(
            (h.tps - 1.0 / 600.0).abs() < 1e-12,
            "1 in the sampled 10 min: {h:?}"
        );
    }

    #[test]
    fn deleting_a_topic_or_group_forgets_its_items() {
        let t = StatsTable::new("c");
        t.put("T", 1, 1);
        t.got("T", "G", 1, 1);
        t.got("U", "G", 1, 1);
        t.got("U", "H", 1, 1);
        t.remove_topic("T");
        assert!(t.get(TOPIC_PUT_NUMS, "T").is_none());
        assert!(t.get(GROUP_GET_NUMS, "T@G").is_none());
        t.remove_group("G");
        assert!(t.get(GROUP_GET_NUMS, "U@G").is_none());
        assert!(t.get(GROUP_GET_NUMS, "U@H").is_some());
        assert!(t.get(BROKER_GET_NUMS, "c").is_some());
    }
}
