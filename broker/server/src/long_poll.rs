//! Long polling: pulls that found nothing are parked per `topic@queueId` and re-executed when a
//! matching message arrives (store arrival events) or when their suspend time is up (periodic
//! check). A parked pull holds no thread, only its channel and request.

use parking_lot::Mutex;
use rmq_protocol::RemotingCommand;
use rmq_protocol::body::heartbeat::SubscriptionData;
use rmq_protocol::net::Channel;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// One parked pull.
pub struct ParkedPull {
    /// Where to answer.
    pub channel: Channel,
    /// The original request.
    pub request: RemotingCommand,
    /// Offset the pull asked for.
    pub offset: i64,
    /// When to give up (ms).
    pub deadline_ms: i64,
    /// Tag filter (None = everything).
    pub filter: Option<Arc<SubscriptionData>>,
}

/// Parked pulls by queue.
#[derive(Default)]
pub struct PullHolds {
    parked: Mutex<HashMap<(String, i32), Vec<ParkedPull>>>,
    count: AtomicUsize,
}

impl PullHolds {
    /// Parks a pull.
    pub fn park(&self, topic: &str, queue_id: i32, pull: ParkedPull) {
        self.parked
            .lock()
            .entry((topic.to_owned(), queue_id))
            .or_default()
            .push(pull);
        self.count.fetch_add(1, Ordering::Release);
    }

    /// Number of parked pulls.
    pub fn len(&self) -> usize {
        self.count.load(Ordering::Acquire)
    }

    /// True if nothing is parked.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Takes the pulls on this queue that a message with `tags_code` ending the queue at
    /// `max_offset` satisfies (or every pull beyond the offset when `tags_code` is None).
    pub fn take_ready(
        &self,
        topic: &str,
        queue_id: i32,
        max_offset: i64,
        tags_code: Option<i64>,
    ) -> Vec<ParkedPull> {
        if self.is_empty() {
            return Vec::new();
        }
        let mut map = self.parked.lock();
        let key = (topic.to_owned(), queue_id);
        let Some(list) = map.get_mut(&key) else {
            return Vec::new();
        };
        let (ready, keep): (Vec<_>, Vec<_>) = list.drain(..).partition(|p| {
            max_offset > p.offset
                && match (tags_code, &p.filter) {
                    (Some(code), Some(f)) => f.matches_tags_code(code),
                    _ => true,
                }
        });
        *list = keep;
        if list.is_empty() {
            map.remove(&key);
        }
        self.count.fetch_sub(ready.len(), Ordering::Release);
        ready
    }

    /// Takes pulls whose deadline passed or whose queue has grown past their offset
    /// (`max_offset(topic, queue)` reads the store).
    pub fn take_due(&self, now_ms: i64, max_offset: impl Fn(&str, i32) -> i64) -> Vec<ParkedPull> {
        if self.is_empty() {
            return Vec::new();
        }
        let mut map = self.parked.lock();
        let mut ready = Vec::new();
        map.retain(|(topic, queue), list| {
            let max = max_offset(topic, *queue);
            let (due, keep): (Vec<_>, Vec<_>) = list
                .drain(..)
                .partition(|p| p.deadline_ms <= now_ms || max > p.offset);
            ready.extend(due);
            *list = keep;
            !list.is_empty()
        });
        self.count.fetch_sub(ready.len(), Ordering::Release);
        ready
    }

    /// Takes every parked pull (shutdown).
    pub fn take_all(&self) -> Vec<ParkedPull> {
        let mut map = self.parked.lock();
        let all: Vec<_> = map.drain().flat_map(|(_, v)| v).collect();
        self.count.fetch_sub(all.len(), Ordering::Release);
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pull(offset: i64, deadline: i64, tag: Option<&str>) -> ParkedPull {
        ParkedPull {
            channel: Channel::detached("127.0.0.1:1".parse().unwrap()),
            request: RemotingCommand::request(11),
            offset,
            deadline_ms: deadline,
            filter: tag.map(|t| Arc::new(SubscriptionData::from_expression("T", t, 1))),
        }
    }

    #[test]
    fn wakes_only_matching_pulls() {
        let h = PullHolds::default();
        h.park("T", 0, pull(5, 100, Some("A")));
        h.park("T", 0, pull(5, 100, Some("B")));
        h.park("T", 0, pull(9, 100, None));
        h.park("T", 1, pull(0, 100, None));
        let a = rmq_protocol::message::tags_hash_code("A");
        let woken = h.take_ready("T", 0, 6, Some(a));
        assert_eq!(woken.len(), 1);
        assert_eq!(h.len(), 3);
        let due = h.take_due(50, |_, q| if q == 0 { 10 } else { 0 });
        assert_eq!(due.len(), 2, "queue 0 grew past both remaining offsets");
        let due = h.take_due(100, |_, _| 0);
        assert_eq!(due.len(), 1, "deadline passed");
        assert!(h.is_empty());
    }
}
