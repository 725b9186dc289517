//! What one scrape of one endpoint says, keyed by broker: producer offsets per topic, offsets
//! and lag per group, traffic counters, readiness. Names and labels are those the broker
//! documents in `broker/server/src/metrics/mod.rs` (rocketmq-exporter's and RocketMQ 5's).

use super::text::Sample;
use std::collections::BTreeMap;

/// A topic on one broker group (`cluster`, `broker` = brokerName).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TopicKey {
    /// brokerClusterName.
    pub cluster: String,
    /// brokerName (the exporter's `broker`, RocketMQ 5's `node_id`).
    pub broker: String,
    /// Topic.
    pub topic: String,
}

/// A consumer group's subscription to a topic on one broker group.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GroupKey {
    /// brokerClusterName.
    pub cluster: String,
    /// brokerName.
    pub broker: String,
    /// Consumer group.
    pub group: String,
    /// Topic.
    pub topic: String,
}

/// The offset gauges of one group on one topic and broker.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct GroupGauges {
    /// `rocketmq_consumer_offset`: committed offsets, summed over queues.
    pub committed: f64,
    /// `rocketmq_group_diff`: messages stored and not yet committed.
    pub lag: f64,
    /// `rocketmq_consumer_lag_latency`: ms since the oldest unconsumed message was stored.
    pub lag_ms: f64,
}

/// Which traffic counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Counter {
    /// `rocketmq_messages_in_total`: messages stored, by topic.
    MessagesIn,
    /// `rocketmq_throughput_in_total`: bytes stored, by topic.
    BytesIn,
    /// `rocketmq_messages_out_total`: messages handed out, by topic and group.
    MessagesOut,
    /// `rocketmq_send_back_messages_total`: messages sent back for a retry, by topic and group.
    SendBack,
}

impl Counter {
    /// The counter a sample name stands for.
    fn of(name: &str) -> Option<Self> {
        Some(match name {
            "rocketmq_messages_in_total" => Counter::MessagesIn,
            "rocketmq_throughput_in_total" => Counter::BytesIn,
            "rocketmq_messages_out_total" => Counter::MessagesOut,
            "rocketmq_send_back_messages_total" => Counter::SendBack,
            _ => return None,
        })
    }
}

/// One counter series: which counter, on which topic (and group; empty for topic counters).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CounterKey {
    /// Which counter.
    pub counter: Counter,
    /// Cluster, broker and topic.
    pub topic: TopicKey,
    /// Consumer group, empty for topic counters.
    pub group: String,
}

/// The series of one scrape that `top` reads.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Reading {
    /// `rocketmq_producer_offset` per topic and broker: messages ever stored.
    pub stored: BTreeMap<TopicKey, f64>,
    /// Offsets and lag per group, topic and broker.
    pub groups: BTreeMap<GroupKey, GroupGauges>,
    /// Traffic counters.
    pub counters: BTreeMap<CounterKey, f64>,
    /// `rmq_broker_ready` per (cluster, broker).
    pub ready: BTreeMap<(String, String), bool>,
}

impl Reading {
    /// The series among `samples` (others are ignored).
    pub fn from_samples(samples: &[Sample]) -> Self {
        let mut r = Reading::default();
        for s in samples.iter().filter(|s| s.value.is_finite()) {
            let broker = broker_of(s);
            let topic = TopicKey {
                cluster: s.label("cluster").to_owned(),
                broker: broker.to_owned(),
                topic: s.label("topic").to_owned(),
            };
            let group = || GroupKey {
                cluster: topic.cluster.clone(),
                broker: topic.broker.clone(),
                group: s.label("group").to_owned(),
                topic: topic.topic.clone(),
            };
            match s.name.as_str() {
                "rocketmq_producer_offset" => {
                    r.stored.insert(topic, s.value);
                }
                "rocketmq_consumer_offset" => {
                    r.groups.entry(group()).or_default().committed = s.value
                }
                "rocketmq_group_diff" => r.groups.entry(group()).or_default().lag = s.value,
                "rocketmq_consumer_lag_latency" => {
                    r.groups.entry(group()).or_default().lag_ms = s.value;
                }
                "rmq_broker_ready" => {
                    r.ready
                        .insert((topic.cluster, topic.broker), s.value >= 1.0);
                }
                name => {
                    if let Some(counter) = Counter::of(name) {
                        let key = CounterKey {
                            counter,
                            topic,
                            group: s.label("consumer_group").to_owned(),
                        };
                        *r.counters.entry(key).or_default() += s.value;
                    }
                }
            }
        }
        r
    }

    /// Whether the scrape held any series `top` reads (an rmq broker's always does).
    pub fn is_empty(&self) -> bool {
        self.stored.is_empty()
            && self.groups.is_empty()
            && self.counters.is_empty()
            && self.ready.is_empty()
    }

    /// The (cluster, broker) this scrape is about: its readiness series, else its first topic.
    pub fn identity(&self) -> Option<(String, String)> {
        self.ready.keys().next().cloned().or_else(|| {
            self.stored
                .keys()
                .next()
                .map(|k| (k.cluster.clone(), k.broker.clone()))
        })
    }
}

/// The broker name of a sample: the exporter's `broker`, else RocketMQ 5's `node_id`.
fn broker_of(s: &Sample) -> &str {
    match s.label("broker") {
        "" => s.label("node_id"),
        b => b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::text::parse;

    const TEXT: &str = "\
rocketmq_producer_offset{cluster=\"c\",broker=\"broker-a\",topic=\"t1\"} 150.0
rocketmq_consumer_offset{cluster=\"c\",broker=\"broker-a\",group=\"g\",topic=\"t1\"} 120.0
rocketmq_group_diff{cluster=\"c\",broker=\"broker-a\",group=\"g\",topic=\"t1\"} 30.0
rocketmq_consumer_lag_latency{cluster=\"c\",broker=\"broker-a\",group=\"g\",topic=\"t1\"} 2500.0
rocketmq_messages_in_total{cluster=\"c\",node_type=\"broker\",node_id=\"broker-a\",topic=\"t1\"} 150
rocketmq_throughput_in_total{cluster=\"c\",node_type=\"broker\",node_id=\"broker-a\",topic=\"t1\"} 30000
rocketmq_messages_out_total{cluster=\"c\",node_type=\"broker\",node_id=\"broker-a\",topic=\"t1\",consumer_group=\"g\"} 120
rocketmq_send_back_messages_total{cluster=\"c\",node_type=\"broker\",node_id=\"broker-a\",topic=\"t1\",consumer_group=\"g\"} 2
rocketmq_rpc_latency_count{protocol_type=\"remoting\"} 9
rmq_broker_ready{cluster=\"c\",broker=\"broker-a\"} 1.0
# EOF
";

    fn key(topic: &str) -> TopicKey {
        TopicKey {
            cluster: "c".into(),
            broker: "broker-a".into(),
            topic: topic.into(),
        }
    }

    #[test]
    fn a_broker_scrape_by_topic_group_and_counter() {
        let r = Reading::from_samples(&parse(TEXT).unwrap());
        assert_eq!(r.stored.get(&key("t1")), Some(&150.0));
        let g = GroupKey {
            cluster: "c".into(),
            broker: "broker-a".into(),
            group: "g".into(),
            topic: "t1".into(),
        };
        let want = GroupGauges {
            committed: 120.0,
            lag: 30.0,
            lag_ms: 2500.0,
        };
        assert_eq!(r.groups.get(&g), Some(&want));
        let counter = |counter, group: &str| {
            r.counters.get(&CounterKey {
                counter,
                topic: key("t1"),
                group: group.into(),
            })
        };
        assert_eq!(counter(Counter::MessagesIn, ""), Some(&150.0));
        assert_eq!(counter(Counter::BytesIn, ""), Some(&30000.0));
        assert_eq!(counter(Counter::MessagesOut, "g"), Some(&120.0));
        assert_eq!(counter(Counter::SendBack, "g"), Some(&2.0));
        assert_eq!(r.counters.len(), 4, "the rpc histogram is not read");
        assert_eq!(r.identity(), Some(("c".into(), "broker-a".into())));
        assert!(!r.is_empty());
    }

    #[test]
    fn other_metrics_make_an_empty_reading() {
        let r = Reading::from_samples(&parse("process_cpu_seconds_total 3\nup 1\n").unwrap());
        assert!(r.is_empty());
        assert_eq!(r.identity(), None);
        let nan = "rocketmq_producer_offset{topic=\"t\"} NaN\n";
        assert!(Reading::from_samples(&parse(nan).unwrap()).is_empty());
    }
}
