//! Traffic per topic and consumer group under RocketMQ 5's metric names, so its Grafana
//! dashboards read rmq unchanged: messages and bytes in per topic, out per topic and group,
//! and messages sent back for a retry — counters read at scrape from the stats items
//! ([`crate::stats::table`]) the admin views also serve.

use super::MAX_TOPIC_SERIES;
use crate::broker::Broker;
use crate::stats::table::{
    GROUP_GET_NUMS, GROUP_GET_SIZE, SNDBCK_PUT_NUMS, TOPIC_PUT_NUMS, TOPIC_PUT_SIZE,
};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

/// RocketMQ 5's node labels.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct NodeSeries {
    /// `brokerClusterName`.
    pub cluster: String,
    /// Always `broker`.
    pub node_type: String,
    /// `brokerName`.
    pub node_id: String,
}

/// RocketMQ 5's labels of a topic series.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TopicSeries {
    /// Node labels.
    #[prometheus(flatten)]
    pub node: NodeSeries,
    /// Topic.
    pub topic: String,
}

/// RocketMQ 5's labels of a topic-and-group series.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct GroupSeries {
    /// Node labels.
    #[prometheus(flatten)]
    pub node: NodeSeries,
    /// Topic.
    pub topic: String,
    /// Consumer group.
    pub consumer_group: String,
}

impl GroupSeries {
    /// The series of a stats key `topic@group` (`None` for a key without `@`).
    pub fn of_key(b: &Broker, key: &str) -> Option<Self> {
        let (topic, group) = key.split_once('@')?;
        Some(Self {
            node: node_labels(b),
            topic: topic.to_owned(),
            consumer_group: group.to_owned(),
        })
    }
}

/// This broker's node labels.
pub fn node_labels(b: &Broker) -> NodeSeries {
    NodeSeries {
        cluster: b.config.cluster_name.clone(),
        node_type: "broker".into(),
        node_id: b.config.broker_name.clone(),
    }
}

/// One counter family filled from the totals of stats item `name`.
pub(super) struct FromItems<'a> {
    /// Metric name (without `_total`).
    pub metric: &'a str,
    /// Help text.
    pub help: &'a str,
    /// Stats item name.
    pub item: &'a str,
}

const TOPIC_COUNTERS: [FromItems<'static>; 2] = [
    FromItems {
        metric: "rocketmq_messages_in",
        help: "messages stored, by topic",
        item: TOPIC_PUT_NUMS,
    },
    FromItems {
        metric: "rocketmq_throughput_in",
        help: "bytes stored (encoded records), by topic",
        item: TOPIC_PUT_SIZE,
    },
];

const GROUP_COUNTERS: [FromItems<'static>; 3] = [
    FromItems {
        metric: "rocketmq_messages_out",
        help: "messages handed to consumers, by topic and group",
        item: GROUP_GET_NUMS,
    },
    FromItems {
        metric: "rocketmq_throughput_out",
        help: "bytes handed to consumers, by topic and group",
        item: GROUP_GET_SIZE,
    },
    FromItems {
        metric: "rocketmq_send_back_messages",
        help: "messages consumers sent back for a retry, by topic and group",
        item: SNDBCK_PUT_NUMS,
    },
];

/// Registers the traffic counters; returns how many series the cap left out.
pub fn register(reg: &mut Registry, b: &Broker) -> usize {
    let topic_series = |key: &str| {
        Some(TopicSeries {
            node: node_labels(b),
            topic: key.to_owned(),
        })
    };
    let group_series = |key: &str| GroupSeries::of_key(b, key);
    let mut dropped = 0;
    for c in TOPIC_COUNTERS {
        dropped += counters(reg, b, &c, topic_series);
    }
    for c in GROUP_COUNTERS {
        dropped += counters(reg, b, &c, group_series);
    }
    dropped
}

/// Registers counter family `c` with a series per stats key (labels from `series`), at most
/// [`MAX_TOPIC_SERIES`] of them; returns how many the cap left out.
pub(super) fn counters<L>(
    reg: &mut Registry,
    b: &Broker,
    c: &FromItems<'_>,
    series: impl Fn(&str) -> Option<L>,
) -> usize
where
    L: Clone + std::fmt::Debug + std::hash::Hash + Eq + EncodeLabelSet + Send + Sync + 'static,
{
    let family = Family::<L, Counter>::default();
    let mut items = b.stats.items.items(c.item);
    items.sort_by(|x, y| x.0.cmp(&y.0));
    let dropped = items.len().saturating_sub(MAX_TOPIC_SERIES);
    for (key, item) in items.into_iter().take(MAX_TOPIC_SERIES) {
        if let Some(labels) = series(&key) {
            family.get_or_create(&labels).inc_by(item.total());
        }
    }
    reg.register(c.metric, c.help, family);
    dropped
}
