//! Producer offsets, consumer offsets and lag per topic and group (the exporter's
//! `rocketmq_producer_offset`, `rocketmq_consumer_offset`, `rocketmq_group_diff`), and the
//! time lag (RocketMQ 5's `rocketmq_consumer_lag_latency`: how long ago the oldest message
//! the group has not consumed was stored).

use super::{BrokerLabels, FGauge, GroupLabels, MAX_TOPIC_SERIES, TopicLabels};
use crate::broker::Broker;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

/// Registers the offset families; returns how many series the cap left out.
pub fn register(reg: &mut Registry, b: &Broker, labels: &BrokerLabels) -> usize {
    let produced = Family::<TopicLabels, FGauge>::default();
    let consumed = Family::<GroupLabels, FGauge>::default();
    let lag = Family::<GroupLabels, FGauge>::default();
    let lag_ms = Family::<GroupLabels, FGauge>::default();
    let now = crate::state::now_ms();
    let mut dropped = 0usize;
    let mut groups = 0usize;
    let mut topics = b.topics.names();
    topics.sort();
    for (i, topic) in topics.iter().enumerate() {
        if i >= MAX_TOPIC_SERIES {
            dropped += 1;
            continue;
        }
        let Some(config) = b.topics.get(topic) else {
            continue;
        };
        let queues = config.read_queue_nums.max(config.write_queue_nums).max(0);
        let max: Vec<i64> = (0..queues).map(|q| b.store.max_offset(topic, q)).collect();
        let tl = TopicLabels {
            cluster: labels.cluster.clone(),
            broker: labels.broker.clone(),
            topic: topic.clone(),
        };
        produced
            .get_or_create(&tl)
            .set(max.iter().sum::<i64>() as f64);
        for group in b.offsets.groups_of_topic(topic) {
            if groups >= MAX_TOPIC_SERIES {
                dropped += 1;
                continue;
            }
            groups += 1;
            let committed = b.offsets.queues(&group, topic);
            let (behind, age) = lag_of(b, topic, &max, &committed, now);
            let gl = GroupLabels {
                cluster: labels.cluster.clone(),
                broker: labels.broker.clone(),
                group,
                topic: topic.clone(),
            };
            consumed
                .get_or_create(&gl)
                .set(committed.values().sum::<i64>() as f64);
            lag.get_or_create(&gl).set(behind as f64);
            lag_ms.get_or_create(&gl).set(age as f64);
        }
    }
    reg.register(
        "rocketmq_producer_offset",
        "sum of the topic's queue max offsets on this broker (messages ever stored)",
        produced,
    );
    reg.register(
        "rocketmq_consumer_offset",
        "sum of the group's committed offsets on the topic on this broker",
        consumed,
    );
    reg.register(
        "rocketmq_group_diff",
        "consumer lag: messages stored but not yet committed by the group, over the topic's queues",
        lag,
    );
    reg.register(
        "rocketmq_consumer_lag_latency",
        "ms since the oldest message the group has not consumed was stored (0 when caught up)",
        lag_ms,
    );
    dropped
}

/// A group's lag on `topic` from its committed offsets and the queues' max offsets: messages
/// behind, and ms since the oldest of them was stored (0 when caught up).
fn lag_of(
    b: &Broker,
    topic: &str,
    max: &[i64],
    committed: &std::collections::BTreeMap<i32, i64>,
    now: i64,
) -> (i64, i64) {
    let max_of = |q: i32| usize::try_from(q).ok().and_then(|q| max.get(q)).copied();
    let behind = committed
        .iter()
        .map(|(q, c)| (max_of(*q).unwrap_or(*c) - c).max(0))
        .sum();
    let oldest = committed
        .iter()
        .filter(|(q, c)| max_of(**q).is_some_and(|m| m > **c))
        .filter_map(|(q, c)| b.store.store_time_at(topic, *q, *c))
        .min();
    (behind, oldest.map_or(0, |t| (now - t).max(0)))
}
