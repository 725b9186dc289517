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

/// RocketMQ 5's labels of a topic series.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TopicSeries {
    /// `brokerClusterName`.
    pub cluster: String,
    /// Always `broker`.
    pub node_type: String,
    /// `brokerName`.
    pub node_id: String,
    /// Topic.
    pub topic: String,
}

/// RocketMQ 5's labels of a topic-and-group series.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct GroupSeries {
    /// `brokerClusterName`.
    pub cluster: String,
    /// Always `broker`.
    pub node_type: String,
    /// `brokerName`.
    pub node_id: String,
    /// Topic.
    pub topic: String,
    /// Consumer group.
    pub consumer_group: String,
}

/// One counter family filled from the totals of stats item `name`.
struct FromItems<'a> {
    metric: &'a str,
    help: &'a str,
    item: &'a str,
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
    let (cluster, node) = (&b.config.cluster_name, &b.config.broker_name);
    let mut dropped = 0;
    for c in TOPIC_COUNTERS {
        let family = Family::<TopicSeries, Counter>::default();
        let mut items = b.stats.items.items(c.item);
        items.sort_by(|x, y| x.0.cmp(&y.0));
        dropped += items.len().saturating_sub(MAX_TOPIC_SERIES);
        for (topic, item) in items.into_iter().take(MAX_TOPIC_SERIES) {
            let labels = TopicSeries {
                cluster: cluster.clone(),
                node_type: "broker".into(),
                node_id: node.clone(),
                topic,
            };
            family.get_or_create(&labels).inc_by(item.total());
        }
        reg.register(c.metric, c.help, family);
    }
    for c in GROUP_COUNTERS {
        let family = Family::<GroupSeries, Counter>::default();
        let mut items = b.stats.items.items(c.item);
        items.sort_by(|x, y| x.0.cmp(&y.0));
        dropped += items.len().saturating_sub(MAX_TOPIC_SERIES);
        for (key, item) in items.into_iter().take(MAX_TOPIC_SERIES) {
            let Some((topic, group)) = key.split_once('@') else {
                continue;
            };
            let labels = GroupSeries {
                cluster: cluster.clone(),
                node_type: "broker".into(),
                node_id: node.clone(),
                topic: topic.to_owned(),
                consumer_group: group.to_owned(),
            };
            family.get_or_create(&labels).inc_by(item.total());
        }
        reg.register(c.metric, c.help, family);
    }
    dropped
}
