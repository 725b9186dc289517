//! Queue locks of orderly consumers (RocketMQ's `RebalanceLockManager`, reference §5.9):
//! group → queue → (client id, last renewal). A lock is granted when the queue is free, already
//! held by the same client (renewal), or held by a client that has not renewed for
//! `lockMaxLiveTime` (60 s). Locks are in memory only: after a broker restart clients simply
//! lock again (they renew every 20 s).

use parking_lot::Mutex;
use rmq_protocol::body::lock::MessageQueue;
use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

#[derive(Debug, Clone)]
struct Holder {
    client_id: String,
    renewed_ms: i64,
}

/// The lock table.
#[derive(Debug)]
pub struct LockTable {
    max_live_ms: i64,
    groups: Mutex<HashMap<String, HashMap<MessageQueue, Holder>>>,
}

impl LockTable {
    /// Locks expire `max_live` after their last renewal.
    pub fn new(max_live: Duration) -> Self {
        Self {
            max_live_ms: i64::try_from(max_live.as_millis()).unwrap_or(i64::MAX),
            groups: Mutex::new(HashMap::new()),
        }
    }

    fn expired(&self, h: &Holder, now_ms: i64) -> bool {
        now_ms - h.renewed_ms > self.max_live_ms
    }

    /// Locks (or renews) what it can of `mqs` for `client_id`; returns the queues it holds now.
    pub fn try_lock_batch(
        &self,
        group: &str,
        mqs: &BTreeSet<MessageQueue>,
        client_id: &str,
        now_ms: i64,
    ) -> BTreeSet<MessageQueue> {
        let mut groups = self.groups.lock();
        let table = groups.entry(group.to_owned()).or_default();
        let mut locked = BTreeSet::new();
        for mq in mqs {
            let grant = match table.get(mq) {
                None => true,
                Some(h) => h.client_id == client_id || self.expired(h, now_ms),
            };
            if grant {
                if let Some(old) = table.get(mq).filter(|h| h.client_id != client_id) {
                    tracing::info!(group, queue = ?mq, from = %old.client_id, to = client_id, "expired queue lock taken over");
                }
                table.insert(
                    mq.clone(),
                    Holder {
                        client_id: client_id.to_owned(),
                        renewed_ms: now_ms,
                    },
                );
                locked.insert(mq.clone());
            }
        }
        locked
    }

    /// Releases the queues of `mqs` that `client_id` holds.
    pub fn unlock_batch(&self, group: &str, mqs: &BTreeSet<MessageQueue>, client_id: &str) {
        let mut groups = self.groups.lock();
        if let Some(table) = groups.get_mut(group) {
            for mq in mqs {
                if table.get(mq).is_some_and(|h| h.client_id == client_id) {
                    table.remove(mq);
                }
            }
            if table.is_empty() {
                groups.remove(group);
            }
        }
    }

    /// The live holder of a queue.
    pub fn holder(&self, group: &str, mq: &MessageQueue, now_ms: i64) -> Option<String> {
        let groups = self.groups.lock();
        let h = groups.get(group)?.get(mq)?;
        (!self.expired(h, now_ms)).then(|| h.client_id.clone())
    }

    /// True if some queue of `group` is locked and not expired (the group consumes orderly).
    pub fn has_live_locks(&self, group: &str, now_ms: i64) -> bool {
        self.groups
            .lock()
            .get(group)
            .is_some_and(|t| t.values().any(|h| !self.expired(h, now_ms)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mqs(ids: &[i32]) -> BTreeSet<MessageQueue> {
        ids.iter()
            .map(|&q| MessageQueue {
                topic: "T".into(),
                broker_name: "b".into(),
                queue_id: q,
            })
            .collect()
    }

    #[test]
    fn grant_renew_refuse_expire_unlock() {
        let t = LockTable::new(Duration::from_millis(60_000));
        assert_eq!(t.try_lock_batch("g", &mqs(&[0, 1]), "A", 0), mqs(&[0, 1]));
        assert_eq!(t.try_lock_batch("g", &mqs(&[1, 2]), "B", 1_000), mqs(&[2]));
        assert_eq!(
            t.try_lock_batch("h", &mqs(&[1]), "B", 1_000),
            mqs(&[1]),
            "other group"
        );
        // A renews queue 0 only; queue 1 expires 60 s after its last renewal
        assert_eq!(t.try_lock_batch("g", &mqs(&[0]), "A", 30_000), mqs(&[0]));
        assert_eq!(
            t.try_lock_batch("g", &mqs(&[1]), "B", 60_000),
            BTreeSet::new()
        );
        assert_eq!(t.try_lock_batch("g", &mqs(&[0, 1]), "B", 60_001), mqs(&[1]));
        assert_eq!(
            t.holder("g", &mqs(&[1]).pop_first().unwrap(), 60_001)
                .as_deref(),
            Some("B")
        );
        // only the holder can unlock
        t.unlock_batch("g", &mqs(&[0]), "B");
        assert_eq!(
            t.holder("g", &mqs(&[0]).pop_first().unwrap(), 60_001)
                .as_deref(),
            Some("A")
        );
        t.unlock_batch("g", &mqs(&[0]), "A");
        assert!(
            t.holder("g", &mqs(&[0]).pop_first().unwrap(), 60_001)
                .is_none()
        );
        assert_eq!(t.try_lock_batch("g", &mqs(&[0]), "C", 60_002), mqs(&[0]));
        assert!(t.has_live_locks("g", 60_002));
        assert!(!t.has_live_locks("g", 200_000), "all expired");
        t.unlock_batch("g", &mqs(&[0, 1, 2]), "C");
        t.unlock_batch("g", &mqs(&[1, 2]), "B");
        assert!(!t.has_live_locks("g", 60_002));
    }
}
