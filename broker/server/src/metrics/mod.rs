//! `GET /metrics` of the broker: OpenMetrics text (prometheus-client), computed when scraped
//! from what the broker already keeps, so sends and pulls pay nothing for it.
//!
//! Names follow Apache's `rocketmq-exporter`, so its dashboards and alerts work unchanged:
//!
//! | metric | labels | value |
//! |---|---|---|
//! | `rocketmq_producer_offset` | cluster, broker, topic | sum of the topic's queue max offsets: messages ever stored |
//! | `rocketmq_consumer_offset` | cluster, broker, group, topic | sum of the group's committed offsets on the topic |
//! | `rocketmq_group_diff` | cluster, broker, group, topic | consumer lag: sum over queues of max offset - committed offset |
//! | `rocketmq_brokeruntime_<key>` | cluster, broker | every numeric GET_BROKER_RUNTIME_INFO key, snake_case (`commitLogDiskRatio` → `rocketmq_brokeruntime_commit_log_disk_ratio`, `putTps`, `msgPutTotalTodayNow`, `commitLogMaxOffset`, `storeFailed` as 0/1, ...) |
//! | `rmq_broker_messages_in_total`, `rmq_broker_messages_out_total` | cluster, broker | messages stored / handed to consumers since start |
//! | `rmq_broker_busy_polls_caught_total`, `rmq_broker_busy_polls_missed_total` | cluster, broker | busy polls (`busyPollMicros`) that caught the next request / gave up |
//! | `rmq_broker_busy_poll_answers_total` | cluster, broker | answers a polling connection wrote to its socket itself |
//! | `rmq_metrics_series_dropped` | | topic or group series left out by the cap |
//! | `rmq_broker_ready` | cluster, broker | 1 when `/readyz` says ready |
//! | `rmq_broker_namesrvs_registered`, `rmq_broker_namesrvs_configured` | cluster, broker | nameservers that took the last registration / configured |
//!
//! And RocketMQ 5's names, with its labels (`cluster`, `node_type`, `node_id`, `topic`,
//! `consumer_group`), so its dashboards work too:
//!
//! | metric | labels | value |
//! |---|---|---|
//! | `rocketmq_messages_in_total`, `rocketmq_throughput_in_total` | topic | messages / bytes stored |
//! | `rocketmq_messages_out_total`, `rocketmq_throughput_out_total` | topic, consumer_group | messages / bytes handed out |
//! | `rocketmq_send_back_messages_total` | topic, consumer_group | messages sent back for a retry |
//! | `rocketmq_consumer_lag_latency` | cluster, broker, group, topic | ms since the oldest unconsumed message was stored |
//! | `rocketmq_rpc_latency` | protocol_type, request_code, response_code | histogram of the time to answer (ms) |
//!
//! The store, replication, backlogs and connections are in [`storage`] and [`backlog`]
//! (`rmq_store_*`, `rocketmq_storage_*`, `rmq_ha_*`, `rmq_delay_backlog_messages`,
//! `rocketmq_half_messages`, `rocketmq_send_to_dlq_messages_total`,
//! `rocketmq_producer_connections`, `rocketmq_consumer_connections`).
//!
//! Cardinality is bounded: at most [`MAX_TOPIC_SERIES`] topic series and as many group series
//! per scrape; what is left out is counted in `rmq_metrics_series_dropped`.

mod backlog;
mod offsets;
mod storage;
mod traffic;

use crate::broker::Broker;
use crate::health::{Readiness, Snapshot, decide};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;

/// Topic series (and group series) exported per scrape at most.
pub const MAX_TOPIC_SERIES: usize = 2000;

/// A float gauge.
type FGauge = Gauge<f64, AtomicU64>;

/// Labels of a broker-wide series.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct BrokerLabels {
    /// `brokerClusterName`.
    pub cluster: String,
    /// `brokerName`.
    pub broker: String,
}

/// Labels of a topic series.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TopicLabels {
    /// `brokerClusterName`.
    pub cluster: String,
    /// `brokerName`.
    pub broker: String,
    /// Topic.
    pub topic: String,
}

/// Labels of a consumer-group series.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct GroupLabels {
    /// `brokerClusterName`.
    pub cluster: String,
    /// `brokerName`.
    pub broker: String,
    /// Consumer group.
    pub group: String,
    /// Topic.
    pub topic: String,
}

/// `commitLogDiskRatio` → `commit_log_disk_ratio`.
pub fn snake_case(key: &str) -> String {
    let mut out = String::with_capacity(key.len() + 4);
    for c in key.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// A runtime-info value as a number (`true`/`false` as 1/0); `None` for text.
pub fn numeric(value: &str) -> Option<f64> {
    match value {
        "true" => Some(1.0),
        "false" => Some(0.0),
        v => v.parse::<f64>().ok().filter(|f| f.is_finite()),
    }
}

fn gauge(v: f64) -> FGauge {
    let g = FGauge::default();
    g.set(v);
    g
}

/// Registers one broker-wide gauge per numeric runtime-info key.
fn runtime_gauges(reg: &mut Registry, b: &Broker, labels: &BrokerLabels) {
    for (key, value) in crate::processor::runtime_table(b) {
        let Some(v) = numeric(&value) else { continue };
        let family = Family::<BrokerLabels, FGauge>::default();
        family.get_or_create(labels).set(v);
        reg.register(
            format!("rocketmq_brokeruntime_{}", snake_case(&key)),
            format!("GET_BROKER_RUNTIME_INFO {key}"),
            family,
        );
    }
}

/// Registers readiness (`/readyz`'s verdict) and how many nameservers took the last
/// registration, so alerts see a broker out of service or out of the routes.
fn readiness_gauges(reg: &mut Registry, health: &Snapshot, labels: &BrokerLabels) {
    let registered = health
        .last_round
        .as_ref()
        .map_or(0, |r| r.iter().filter(|o| o.error.is_none()).count());
    for (name, help, v) in [
        (
            "rmq_broker_ready",
            "1 when /readyz says ready (store open, registered with every nameserver)",
            f64::from(u8::from(decide(health) == Readiness::Ready)),
        ),
        (
            "rmq_broker_namesrvs_registered",
            "nameservers that accepted the last registration",
            registered as f64,
        ),
        (
            "rmq_broker_namesrvs_configured",
            "nameservers in namesrvAddr",
            health.namesrvs.len() as f64,
        ),
    ] {
        let family = Family::<BrokerLabels, FGauge>::default();
        family.get_or_create(labels).set(v);
        reg.register(name, help, family);
    }
}

/// The OpenMetrics text of `b`, with readiness from `health` when known.
pub fn render(b: &Broker, health: Option<&Snapshot>) -> String {
    let mut reg = Registry::default();
    let labels = BrokerLabels {
        cluster: b.config.cluster_name.clone(),
        broker: b.config.broker_name.clone(),
    };
    runtime_gauges(&mut reg, b, &labels);
    if let Some(h) = health {
        readiness_gauges(&mut reg, h, &labels);
    }
    let polls = rmq_protocol::net::busy_polls();
    for (name, help, v) in [
        (
            "rmq_broker_messages_in",
            "messages stored since start",
            b.stats.puts(),
        ),
        (
            "rmq_broker_messages_out",
            "messages handed to consumers since start",
            b.stats.gets(),
        ),
        (
            "rmq_broker_busy_polls_caught",
            "answers after which polling the connection caught its next request (busyPollMicros)",
            polls.caught,
        ),
        (
            "rmq_broker_busy_polls_missed",
            "busy polls that gave up and slept after all: CPU spent for nothing",
            polls.missed,
        ),
        (
            "rmq_broker_busy_poll_answers",
            "answers a polling connection wrote to its socket itself, without a hand-off to its write task",
            polls.answered,
        ),
    ] {
        // Counters: the exposition names them `<name>_total` with `# TYPE <name> counter`.
        let family = Family::<BrokerLabels, Counter>::default();
        family.get_or_create(&labels).inc_by(v);
        reg.register(name, help, family);
    }
    storage::register(&mut reg, b, &labels);
    let dropped = offsets::register(&mut reg, b, &labels)
        + traffic::register(&mut reg, b)
        + backlog::register(&mut reg, b, &labels);
    b.stats.rpc.register(&mut reg);
    reg.register(
        "rmq_metrics_series_dropped",
        "topic and group series left out of this scrape by the cardinality cap",
        gauge(dropped as f64),
    );
    crate::http::encode_metrics(&reg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_become_exporter_names() {
        assert_eq!(snake_case("commitLogDiskRatio"), "commit_log_disk_ratio");
        assert_eq!(snake_case("putTps"), "put_tps");
        assert_eq!(numeric("true"), Some(1.0));
        assert_eq!(numeric("0.25"), Some(0.25));
        assert_eq!(numeric("[ 3 seconds ]"), None);
        assert_eq!(numeric("NaN"), None);
    }
}
