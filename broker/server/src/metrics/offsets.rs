//! Producer offsets, consumer offsets and lag per topic and group (the exporter's
//! `rocketmq_producer_offset`, `rocketmq_consumer_offset`, `rocketmq_group_diff`).

use super::{BrokerLabels, FGauge, GroupLabels, MAX_TOPIC_SERIES, TopicLabels};
use crate::broker::Broker;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

/// Registers the offset families; returns how many series the cap left out.
pub fn register(reg: &mut Registry, b: &Broker, labels: &BrokerLabels) -> usize {
    let produced = Family::<TopicLabels, FGauge>::default();
    let consumed = Family::<GroupLabels, FGauge>::default();
    let lag = Family::<GroupLabels, FGauge>::default();
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
            let behind: i64 = committed
                .iter()
                .map(|(q, c)| {
                    let m = usize::try_from(*q).ok().and_then(|q| max.get(q)).copied();
                    (m.unwrap_or(*c) - c).max(0)
                })
                .sum();
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
    dropped
}
