//! What waits inside the broker, and who is connected:
//!
//! | metric | labels | value |
//! |---|---|---|
//! | `rmq_delay_backlog_messages` | cluster, broker, level | delayed messages of a level not yet delivered (master) |
//! | `rocketmq_half_messages` | cluster, node_type, node_id | prepared transaction messages the check has not passed yet |
//! | `rocketmq_send_to_dlq_messages_total` | cluster, node_type, node_id, topic, consumer_group | messages moved to `%DLQ%<group>` |
//! | `rocketmq_producer_connections` | cluster, node_type, node_id, producer_group | producer connections |
//! | `rocketmq_consumer_connections` | cluster, node_type, node_id, consumer_group | consumer connections |

use super::traffic::{FromItems, GroupSeries, NodeSeries, counters, node_labels};
use super::{BrokerLabels, FGauge, MAX_TOPIC_SERIES};
use crate::broker::Broker;
use crate::stats::table::DLQ_PUT_NUMS;
use crate::transaction::CHECK_GROUP;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;
use rmq_protocol::message::SCHEDULE_TOPIC;
use rmq_protocol::names;

/// Labels of a delay-level series.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LevelLabels {
    cluster: String,
    broker: String,
    /// Delay level (1 = the first of `messageDelayLevel`).
    level: String,
}

/// Labels of a producer connection series: RocketMQ 5's node labels and the group.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ProducerLabels {
    cluster: String,
    node_type: String,
    node_id: String,
    producer_group: String,
}

/// Labels of a consumer connection series: RocketMQ 5's node labels and the group.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ConsumerLabels {
    cluster: String,
    node_type: String,
    node_id: String,
    consumer_group: String,
}

/// Registers backlogs, dead-letter counts and connections; returns the series the cap left out.
pub fn register(reg: &mut Registry, b: &Broker, labels: &BrokerLabels) -> usize {
    delay_backlog(reg, b, labels);
    let node = node_labels(b);
    let half = Family::<NodeSeries, FGauge>::default();
    half.get_or_create(&node).set(half_backlog(b) as f64);
    reg.register(
        "rocketmq_half_messages",
        "prepared (half) transaction messages the transaction check has not passed yet",
        half,
    );
    dead_letters(reg, b) + connections(reg, b)
}

/// Per delay level: messages in the schedule queue past the delivery progress. Only a master
/// delivers; a slave's progress is the master's, synced.
fn delay_backlog(reg: &mut Registry, b: &Broker, labels: &BrokerLabels) {
    let family = Family::<LevelLabels, FGauge>::default();
    for level in 1..=b.writer.delay_levels().max_level() {
        let queue = level - 1;
        let max = b.store.max_offset(SCHEDULE_TOPIC, queue);
        let done = b
            .delay_offsets
            .get(level)
            .max(b.store.min_offset(SCHEDULE_TOPIC, queue));
        let l = LevelLabels {
            cluster: labels.cluster.clone(),
            broker: labels.broker.clone(),
            level: level.to_string(),
        };
        family.get_or_create(&l).set((max - done).max(0) as f64);
    }
    reg.register(
        "rmq_delay_backlog_messages",
        "delayed messages not yet delivered to their topic, by delay level",
        family,
    );
}

/// Half messages past the check's committed progress (some may be resolved already: the
/// progress moves past them at the next check round).
fn half_backlog(b: &Broker) -> i64 {
    let topic = names::TRANS_HALF_TOPIC;
    let max = b.store.max_offset(topic, 0);
    let min = b.store.min_offset(topic, 0);
    let progress = b.offsets.query(CHECK_GROUP, topic, 0).unwrap_or(min);
    (max - progress.max(min)).max(0)
}

fn dead_letters(reg: &mut Registry, b: &Broker) -> usize {
    let c = FromItems {
        metric: "rocketmq_send_to_dlq_messages",
        help: "messages moved to the dead letter queue, by first topic and group",
        item: DLQ_PUT_NUMS,
    };
    counters(reg, b, &c, |key| GroupSeries::of_key(b, key))
}

fn connections(reg: &mut Registry, b: &Broker) -> usize {
    let (producers, consumers) = b.clients.counts_by_group();
    let dropped = (producers.len() + consumers.len()).saturating_sub(2 * MAX_TOPIC_SERIES);
    let node = node_labels(b);
    let p = Family::<ProducerLabels, FGauge>::default();
    for (group, n) in producers.into_iter().take(MAX_TOPIC_SERIES) {
        let l = ProducerLabels {
            cluster: node.cluster.clone(),
            node_type: node.node_type.clone(),
            node_id: node.node_id.clone(),
            producer_group: group,
        };
        p.get_or_create(&l).set(n as f64);
    }
    let c = Family::<ConsumerLabels, FGauge>::default();
    for (group, n) in consumers.into_iter().take(MAX_TOPIC_SERIES) {
        let l = ConsumerLabels {
            cluster: node.cluster.clone(),
            node_type: node.node_type.clone(),
            node_id: node.node_id.clone(),
            consumer_group: group,
        };
        c.get_or_create(&l).set(n as f64);
    }
    reg.register(
        "rocketmq_producer_connections",
        "producer connections, by producer group",
        p,
    );
    reg.register(
        "rocketmq_consumer_connections",
        "consumer connections, by consumer group",
        c,
    );
    dropped
}
