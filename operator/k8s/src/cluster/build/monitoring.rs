//! The Prometheus operator's objects of a cluster (`spec.monitoring`), built as JSON (their
//! CRDs are not ours, and exist only where the Prometheus operator is installed):
//!
//! - `PodMonitor <c>`: scrapes `/metrics` on the `http` port of every nameserver and broker pod
//!   of the cluster (selected by `rmq.dev/cluster`), every 30 s.
//! - `PrometheusRule <c>`: the alerts below, scoped to this cluster's pods by the label the
//!   PodMonitor adds (`rmq_cluster`), thresholds from the spec.
//!
//! | alert | fires when | for |
//! |---|---|---|
//! | `RmqBrokerNotReady` | `rmq_broker_ready` is 0 (store not open, failed, or not registered with every nameserver) | 5 m |
//! | `RmqNoNameserverRegistration` | a broker is registered with no nameserver | 2 m |
//! | `RmqDiskAboveRetentionRatio` | commit-log disk use above `retention.maxDiskUsedPercent` | 10 m |
//! | `RmqConsumerLagGrowing` | a group's lag on a topic above `consumerLagAlert` and grew over 10 min | 15 m |
//! | `RmqReplicationLagging` | a master's slaves behind by more than `replicationLagAlertBytes` | 10 m |
//! | `RmqScrapeDown` | a pod's `/metrics` does not answer | 5 m |

use super::BuildInput;
use crate::labels;
use rmq_model::types::MonitoringSpec;
use serde_json::{Value, json};

/// The label the PodMonitor puts on every series: the cluster's name.
pub const CLUSTER_LABEL: &str = "rmq_cluster";

fn metadata(cluster: &str, spec: &MonitoringSpec, input: &BuildInput) -> Value {
    let mut labels = labels::common(cluster);
    labels.extend(spec.labels.clone());
    json!({
        "name": cluster,
        "namespace": input.namespace,
        "labels": labels,
        "ownerReferences": [input.owner],
    })
}

/// The `PodMonitor` scraping every pod of `cluster`.
pub fn pod_monitor(cluster: &str, spec: &MonitoringSpec, input: &BuildInput) -> Value {
    json!({
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PodMonitor",
        "metadata": metadata(cluster, spec, input),
        "spec": {
            "selector": {"matchLabels": {(labels::CLUSTER): cluster, (labels::NAME): "rmq"}},
            "namespaceSelector": {"matchNames": [input.namespace]},
            "podMetricsEndpoints": [{
                "port": "http",
                "path": "/metrics",
                "interval": "30s",
                "relabelings": [
                    {"sourceLabels": [format!("__meta_kubernetes_pod_label_{}", sanitize(labels::CLUSTER))],
                     "targetLabel": CLUSTER_LABEL},
                    {"sourceLabels": [format!("__meta_kubernetes_pod_label_{}", sanitize(labels::COMPONENT))],
                     "targetLabel": "rmq_component"},
                    {"sourceLabels": ["__meta_kubernetes_pod_name"], "targetLabel": "pod"},
                ],
            }],
        },
    })
}

/// A label name as Prometheus' Kubernetes discovery spells it (`/`, `.`, `-` become `_`).
fn sanitize(label: &str) -> String {
    label.replace(['/', '.', '-'], "_")
}

/// One alert rule.
fn alert(name: &str, expr: String, for_: &str, severity: &str, summary: &str) -> Value {
    json!({
        "alert": name,
        "expr": expr,
        "for": for_,
        "labels": {"severity": severity},
        "annotations": {"summary": summary},
    })
}

/// The `PrometheusRule` with rmq's alerts for `cluster`; `max_disk_percent` is the retention
/// spec's `maxDiskUsedPercent`.
pub fn prometheus_rule(
    cluster: &str,
    spec: &MonitoringSpec,
    max_disk_percent: u32,
    input: &BuildInput,
) -> Value {
    let sel = format!("{CLUSTER_LABEL}=\"{cluster}\"");
    let ratio = f64::from(max_disk_percent) / 100.0;
    let rules = vec![
        alert(
            "RmqBrokerNotReady",
            format!("rmq_broker_ready{{{sel}}} == 0"),
            "5m",
            "critical",
            "broker {{ $labels.broker }} is not ready: store not open or failed, or not registered with every nameserver",
        ),
        alert(
            "RmqNoNameserverRegistration",
            format!("rmq_broker_namesrvs_registered{{{sel}}} == 0"),
            "2m",
            "critical",
            "broker {{ $labels.broker }} is registered with no nameserver: clients cannot route to it",
        ),
        alert(
            "RmqDiskAboveRetentionRatio",
            format!("rocketmq_brokeruntime_commit_log_disk_ratio{{{sel}}} > {ratio}"),
            "10m",
            "warning",
            "broker {{ $labels.broker }}'s disk is above the retention ratio: retention deletes unconsumed messages, or sends are refused",
        ),
        alert(
            "RmqConsumerLagGrowing",
            format!(
                "rocketmq_group_diff{{{sel}}} > {} and delta(rocketmq_group_diff{{{sel}}}[10m]) > 0",
                spec.consumer_lag_alert
            ),
            "15m",
            "warning",
            "group {{ $labels.group }} falls behind on {{ $labels.topic }} ({{ $value }} messages)",
        ),
        alert(
            "RmqReplicationLagging",
            format!(
                "rocketmq_brokeruntime_slave_fall_behind_much{{{sel}}} > {}",
                spec.replication_lag_alert_bytes
            ),
            "10m",
            "warning",
            "the slaves of {{ $labels.broker }} are {{ $value }} bytes behind their master",
        ),
        alert(
            "RmqScrapeDown",
            format!("up{{{sel}}} == 0"),
            "5m",
            "critical",
            "{{ $labels.pod }}'s /metrics does not answer",
        ),
    ];
    json!({
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": metadata(cluster, spec, input),
        "spec": {"groups": [{"name": format!("rmq.{cluster}"), "rules": rules}]},
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;

    fn input() -> BuildInput {
        BuildInput {
            owner: OwnerReference {
                uid: "uid-1".into(),
                name: "demo".into(),
                ..OwnerReference::default()
            },
            namespace: "apps".into(),
            image: "rmq:test".into(),
            image_pull_policy: None,
            cluster_domain: None,
            external_hosts: Default::default(),
        }
    }

    fn spec() -> MonitoringSpec {
        MonitoringSpec {
            pod_monitor: true,
            prometheus_rule: true,
            labels: [("release".to_owned(), "prom".to_owned())].into(),
            ..MonitoringSpec::default()
        }
    }

    #[test]
    fn the_pod_monitor_scrapes_every_pod_of_the_cluster_on_http() {
        let m = pod_monitor("demo", &spec(), &input());
        assert_eq!(m["kind"], "PodMonitor");
        assert_eq!(m["metadata"]["labels"]["release"], "prom");
        assert_eq!(m["metadata"]["ownerReferences"][0]["uid"], "uid-1");
        assert_eq!(
            m["spec"]["selector"]["matchLabels"]["rmq.dev/cluster"],
            "demo"
        );
        let endpoint = &m["spec"]["podMetricsEndpoints"][0];
        assert_eq!(
            (endpoint["port"].as_str(), endpoint["path"].as_str()),
            (Some("http"), Some("/metrics"))
        );
        let relabel = &endpoint["relabelings"][0];
        assert_eq!(
            relabel["sourceLabels"][0],
            "__meta_kubernetes_pod_label_rmq_dev_cluster"
        );
        assert_eq!(relabel["targetLabel"], CLUSTER_LABEL);
    }

    #[test]
    fn the_rules_carry_the_alerts_with_the_specs_thresholds() {
        let r = prometheus_rule("demo", &spec(), 85, &input());
        let rules = r["spec"]["groups"][0]["rules"].as_array().unwrap().clone();
        let names: Vec<&str> = rules.iter().filter_map(|r| r["alert"].as_str()).collect();
        assert_eq!(
            names,
            [
                "RmqBrokerNotReady",
                "RmqNoNameserverRegistration",
                "RmqDiskAboveRetentionRatio",
                "RmqConsumerLagGrowing",
                "RmqReplicationLagging",
                "RmqScrapeDown"
            ]
        );
        let expr = |i: usize| rules[i]["expr"].as_str().unwrap().to_owned();
        assert!(expr(2).ends_with("> 0.85"), "{}", expr(2));
        assert!(expr(3).contains("> 10000"), "{}", expr(3));
        assert!(
            expr(4).ends_with(&format!("> {}", 64 * 1024 * 1024)),
            "{}",
            expr(4)
        );
        assert!(
            rules
                .iter()
                .all(|r| r["expr"].as_str().unwrap().contains("rmq_cluster=\"demo\""))
        );
    }
}
