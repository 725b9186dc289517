//! `spec.monitoring` (Kubernetes): what the operator creates for a Prometheus operator
//! (kube-prometheus-stack) running in the cluster — a `PodMonitor` scraping every nameserver's
//! and broker's `/metrics`, and a `PrometheusRule` with rmq's alerts. Both are off by default:
//! their CRDs exist only where the Prometheus operator is installed.

use crate::defaults;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Monitoring objects for the Prometheus operator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MonitoringSpec {
    /// Create a `PodMonitor` (monitoring.coreos.com/v1) scraping `/metrics` on the `http`
    /// port of every nameserver and broker pod.
    #[serde(default)]
    pub pod_monitor: bool,
    /// Create a `PrometheusRule` with the alerts: broker not ready, no nameserver
    /// registration, disk above the retention ratio, consumer lag growing, replication lag.
    #[serde(default)]
    pub prometheus_rule: bool,
    /// Labels put on both objects: what your Prometheus selects them by (for
    /// kube-prometheus-stack, `release: <its release name>`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Consumer lag (messages of one group on one topic) above which `RmqConsumerLagGrowing`
    /// may fire (it also needs the lag to have grown over 10 minutes).
    #[serde(default = "defaults::consumer_lag_alert")]
    pub consumer_lag_alert: i64,
    /// Bytes a slave may fall behind its master before `RmqReplicationLagging` fires.
    #[serde(default = "defaults::replication_lag_alert_bytes")]
    pub replication_lag_alert_bytes: i64,
}

impl Default for MonitoringSpec {
    fn default() -> Self {
        Self {
            pod_monitor: false,
            prometheus_rule: false,
            labels: BTreeMap::new(),
            consumer_lag_alert: defaults::consumer_lag_alert(),
            replication_lag_alert_bytes: defaults::replication_lag_alert_bytes(),
        }
    }
}
