//! The store and replication on `/metrics`: disk bytes, how far flushing and dispatching are
//! behind, how old the oldest message is, how long the commit log's fsyncs take, and per
//! slave how far it is behind its master in bytes and in time.
//!
//! | metric | labels | value |
//! |---|---|---|
//! | `rmq_store_commitlog_bytes` | cluster, broker | commit log bytes on disk (max - min offset) |
//! | `rmq_store_consume_queue_bytes` | cluster, broker | consume queue units of retained messages (20 B each) |
//! | `rmq_store_disk_used_ratio` | cluster, broker | used fraction of the commit log's file system |
//! | `rocketmq_storage_flush_behind_bytes` | cluster, node_type, node_id | written, not yet fsynced |
//! | `rocketmq_storage_dispatch_behind_bytes` | cluster, node_type, node_id | written, not yet in a consume queue |
//! | `rocketmq_storage_message_reserve_time` | cluster, node_type, node_id | ms since the oldest stored message |
//! | `rmq_store_flush_latency` | cluster, broker | histogram of commit log fsyncs (ms) |
//! | `rmq_ha_slave_lag_bytes` | cluster, broker, slave | master end - slave's acknowledged offset (master) |
//! | `rmq_ha_slave_lag_latency` | cluster, broker, slave | ms since the oldest message the slave lacks was stored (master) |
//! | `rmq_ha_slaves_connected` | cluster, broker | slaves connected (master) |
//! | `rmq_ha_master_lag_bytes` | cluster, broker | master end seen - own end (slave) |
//! | `rmq_ha_master_connected` | cluster, broker | 1 while linked to the master (slave) |

use super::traffic::{NodeSeries, node_labels};
use super::{BrokerLabels, FGauge};
use crate::broker::Broker;
use crate::stats::buckets::{HistogramSeries, Snapshot};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

/// Labels of a per-slave series.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SlaveLabels {
    cluster: String,
    broker: String,
    /// The slave's address as its HA connection shows it.
    slave: String,
}

fn one(labels: &BrokerLabels, v: f64) -> Family<BrokerLabels, FGauge> {
    let family = Family::<BrokerLabels, FGauge>::default();
    family.get_or_create(labels).set(v);
    family
}

/// Registers the store and replication metrics.
pub fn register(reg: &mut Registry, b: &Broker, labels: &BrokerLabels) {
    let s = b.store.stats();
    let end = s.commit_log_max_offset;
    let behind = |offset: i64| (end - offset).max(0) as f64;
    for (name, help, v) in [
        (
            "rmq_store_commitlog_bytes",
            "commit log bytes on disk (max - min offset)",
            s.commit_log_bytes as f64,
        ),
        (
            "rmq_store_consume_queue_bytes",
            "consume queue units indexing retained messages (20 bytes each)",
            s.consume_queue_bytes as f64,
        ),
        (
            "rmq_store_disk_used_ratio",
            "used fraction of the file system holding the commit log (0..1)",
            s.disk_usage_ratio.unwrap_or(0.0),
        ),
    ] {
        reg.register(name, help, one(labels, v));
    }
    let node = node_labels(b);
    let now = crate::state::now_ms();
    for (name, help, v) in [
        (
            "rocketmq_storage_flush_behind_bytes",
            "commit log bytes written but not yet fsynced",
            behind(s.flushed_offset),
        ),
        (
            "rocketmq_storage_dispatch_behind_bytes",
            "commit log bytes not yet indexed in consume queues",
            behind(s.dispatched_offset),
        ),
        (
            "rocketmq_storage_message_reserve_time",
            "ms since the oldest message on disk was stored (0 when empty)",
            s.earliest_message_time
                .map_or(0.0, |t| (now - t).max(0) as f64),
        ),
    ] {
        let family = Family::<NodeSeries, FGauge>::default();
        family.get_or_create(&node).set(v);
        reg.register(name, help, family);
    }
    reg.register(
        "rmq_store_flush_latency",
        "time of each commit log fsync that wrote data (ms)",
        HistogramSeries(vec![(
            labels.clone(),
            Snapshot {
                buckets: s.flush_times.buckets,
                sum_ms: s.flush_times.sum_ms,
                count: s.flush_times.count,
            },
        )]),
    );
    replication(reg, b, labels, end, now);
}

/// Per-slave lag on a master; the link to the master on a slave.
fn replication(reg: &mut Registry, b: &Broker, labels: &BrokerLabels, end: i64, now: i64) {
    let state = &b.ha.state;
    if !b.ha.is_master() {
        let seen = state.client.master_offset_seen();
        reg.register(
            "rmq_ha_master_lag_bytes",
            "bytes the master has (as last seen) that this slave does not",
            one(labels, (seen - end).max(0) as f64),
        );
        reg.register(
            "rmq_ha_master_connected",
            "1 while this slave is connected to its master",
            one(labels, f64::from(u8::from(state.client.connected()))),
        );
        return;
    }
    let bytes = Family::<SlaveLabels, FGauge>::default();
    let latency = Family::<SlaveLabels, FGauge>::default();
    let links = state.links();
    for link in &links {
        let sl = SlaveLabels {
            cluster: labels.cluster.clone(),
            broker: labels.broker.clone(),
            slave: link.addr.clone(),
        };
        let acked = link.ack().max(0);
        let behind = (end - acked).max(0);
        bytes.get_or_create(&sl).set(behind as f64);
        let age = match behind {
            0 => Some(0),
            _ => b
                .store
                .store_time_at_physical(acked)
                .map(|t| (now - t).max(0)),
        };
        if let Some(ms) = age {
            latency.get_or_create(&sl).set(ms as f64);
        }
    }
    reg.register(
        "rmq_ha_slave_lag_bytes",
        "commit log bytes this master has that the slave has not acknowledged",
        bytes,
    );
    reg.register(
        "rmq_ha_slave_lag_latency",
        "ms since the oldest message the slave has not acknowledged was stored (0 when caught up)",
        latency,
    );
    reg.register(
        "rmq_ha_slaves_connected",
        "slaves connected to this master",
        one(labels, links.len() as f64),
    );
}
