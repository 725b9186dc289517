//! The cluster's CloudWatch alarms and dashboard (pure): the five alarms and the dashboard of
//! `rmq-cluster.yaml`, on the series every node's CloudWatch agent publishes (the bootstrap's
//! `metric_declaration`: namespace `rmq`, dimension `ClusterName`, the metrics of
//! [`PUBLISHED_METRICS`]).
//!
//! Besides those, every node gets an alarm on EC2's own `StatusCheckFailed` of its Auto Scaling
//! group (namespace `AWS/EC2`, dimension `AutoScalingGroupName`; EC2 publishes it without any
//! agent): `alarm/<node>-status-check`, named `rmq-<cluster>-<node>-status-check-failed`. It
//! comes with the others (with `--log-group`) so that one flag turns the cluster's alarms on.
//!
//! Alarms carry the cluster's tags like every other resource. Dashboards carry no tags: the
//! dashboard is named `rmq-<cluster>` (as the template names it) and its last widget is a text
//! marker holding the cluster and the spec hash ([`marker_text`], read back by [`marker`]).

use super::nodes::Placeholder;
use crate::params::Params;
use crate::resource::{AlarmSpec, Resource, Spec, TAG_CLUSTER, TAG_HASH, Value};
use rmq_model::{ValidatedCluster, desired_cluster};
use serde_json::{Value as Json, json};

/// The metric namespace the nodes publish into.
pub const NAMESPACE: &str = "rmq";
/// The dimension every alarm and widget selects on (its value: the cluster's name).
pub const DIMENSION: &str = "ClusterName";
/// Every metric the nodes' CloudWatch agent publishes from `/metrics`, in the order of the
/// bootstrap's `metric_selectors`.
pub const PUBLISHED_METRICS: [&str; 9] = [
    "rmq_broker_ready",
    "rmq_broker_namesrvs_registered",
    "rocketmq_brokeruntime_commit_log_disk_ratio",
    "rocketmq_brokeruntime_slave_fall_behind_much",
    "rocketmq_group_diff",
    "rocketmq_consumer_lag_latency",
    "rocketmq_messages_in_total",
    "rocketmq_messages_out_total",
    "rocketmq_namesrv_brokers",
];
/// The component tag of the alarms.
pub const COMPONENT: &str = "monitoring";
/// Logical key of the dashboard.
pub const DASHBOARD_KEY: &str = "dashboard";

/// The dashboard's name for `cluster` (the template's `rmq-${ClusterName}`).
pub fn dashboard_name(cluster: &str) -> String {
    format!("rmq-{cluster}")
}

/// The prefix of every alarm name of `cluster` (discovery lists alarms by it).
pub fn alarm_prefix(cluster: &str) -> String {
    format!("rmq-{cluster}-")
}

/// One alarm of the template, its threshold resolved.
struct AlarmDef {
    /// Key suffix and name suffix (`broker-not-ready`).
    what: &'static str,
    /// The metric it reads.
    metric: &'static str,
    /// What it means.
    description: String,
    /// `Minimum` or `Maximum`.
    statistic: &'static str,
    /// Minutes (60 s datapoints) that must breach.
    evaluation_periods: i32,
    /// The value compared with.
    threshold: f64,
    /// `LessThanThreshold` or `GreaterThanThreshold`.
    comparison: &'static str,
    /// How missing datapoints count.
    treat_missing_data: &'static str,
    /// The topic is notified when the alarm returns to OK as well.
    notify_ok: bool,
}

/// The template's five alarms with the thresholds of `cluster` and `params`.
fn alarm_defs(cluster: &ValidatedCluster, params: &Params) -> Vec<AlarmDef> {
    let disk = cluster.retention.max_disk_used_percent;
    let lag = params.consumer_lag_alarm_threshold;
    let repl = params.replication_lag_alarm_bytes;
    let def =
        |what, metric, description: String, statistic, periods, threshold, comparison, missing| {
            AlarmDef {
                what,
                metric,
                description,
                statistic,
                evaluation_periods: periods,
                threshold,
                comparison,
                treat_missing_data: missing,
                notify_ok: false,
            }
        };
    vec![
        AlarmDef {
            notify_ok: true,
            ..def(
                "broker-not-ready",
                "rmq_broker_ready",
                "A broker is not ready (store not open or failed, or not registered with every nameserver), or it stopped reporting.".into(),
                "Minimum",
                5,
                1.0,
                "LessThanThreshold",
                "breaching",
            )
        },
        def(
            "no-nameserver-registration",
            "rmq_broker_namesrvs_registered",
            "A broker is registered with no nameserver; clients cannot route to it.".into(),
            "Minimum",
            2,
            1.0,
            "LessThanThreshold",
            "missing",
        ),
        def(
            "disk-above-retention-ratio",
            "rocketmq_brokeruntime_commit_log_disk_ratio",
            format!("A broker's disk is above the retention ratio ({disk}%, spec.brokers.retention.maxDiskUsedPercent); unconsumed messages are deleted, and at 90% sends are refused."),
            "Maximum",
            10,
            f64::from(disk) / 100.0,
            "GreaterThanThreshold",
            "missing",
        ),
        def(
            "consumer-lag",
            "rocketmq_group_diff",
            format!("A consumer group is behind on a topic by more than {lag} messages (--consumer-lag-alarm-threshold)."),
            "Maximum",
            15,
            lag as f64,
            "GreaterThanThreshold",
            "notBreaching",
        ),
        def(
            "replication-lag",
            "rocketmq_brokeruntime_slave_fall_behind_much",
            format!("The slaves of a broker group are more than {repl} bytes behind their master (--replication-lag-alarm-bytes)."),
            "Maximum",
            10,
            repl as f64,
            "GreaterThanThreshold",
            "notBreaching",
        ),
    ]
}

/// The alarms and the dashboard of `cluster` in `region`.
pub(super) fn monitoring(
    cluster: &ValidatedCluster,
    params: &Params,
    region: &str,
    out: &mut Vec<Resource>,
) {
    let c = cluster.name.as_str();
    let topic: Vec<String> = params.alarm_topic_arn.iter().cloned().collect();
    let mut alarm_keys = Vec::new();
    for d in alarm_defs(cluster, params) {
        let name = format!("{}{}", alarm_prefix(c), d.what);
        let spec = AlarmSpec {
            name: name.clone(),
            description: d.description,
            namespace: NAMESPACE.into(),
            metric: d.metric.into(),
            dimensions: vec![(DIMENSION.into(), c.into())],
            statistic: d.statistic.into(),
            period: 60,
            evaluation_periods: d.evaluation_periods,
            threshold: d.threshold,
            comparison: d.comparison.into(),
            treat_missing_data: d.treat_missing_data.into(),
            alarm_actions: topic.clone(),
            ok_actions: if d.notify_ok {
                topic.clone()
            } else {
                Vec::new()
            },
        };
        let key = format!("alarm/{}", d.what);
        out.push(Resource::new(&key, name, COMPONENT, Spec::Alarm(spec)));
        alarm_keys.push(key);
    }
    for (key, spec) in status_alarms(cluster, &topic) {
        out.push(Resource::new(
            &key,
            spec.name.clone(),
            COMPONENT,
            Spec::Alarm(spec),
        ));
        alarm_keys.push(key);
    }
    let spec = Spec::Dashboard {
        name: dashboard_name(c),
        widgets: metric_widgets(c, region),
        alarms: alarm_keys.into_iter().map(Value::arn).collect(),
    };
    out.push(Resource::new(
        DASHBOARD_KEY,
        dashboard_name(c),
        COMPONENT,
        spec,
    ));
}

/// Every node's status check alarm (key, spec): EC2's `StatusCheckFailed` of the node's Auto
/// Scaling group above 0 for 2 minutes (instance or system status check failed). No data
/// (an instance being replaced) is not a failure.
fn status_alarms(cluster: &ValidatedCluster, topic: &[String]) -> Vec<(String, AlarmSpec)> {
    let c = cluster.name.as_str();
    let desired = desired_cluster(cluster, &Placeholder);
    let nodes = desired
        .name_servers
        .iter()
        .map(|n| n.name.clone())
        .chain(desired.brokers.iter().map(|b| b.name.clone()));
    nodes
        .map(|node| {
            let spec = AlarmSpec {
                name: format!("{}{node}-status-check-failed", alarm_prefix(c)),
                description: format!(
                    "The EC2 status check of node {node}'s instance failed (instance or host): the node is unreachable or impaired; its Auto Scaling group replaces it when EC2 marks it unhealthy."
                ),
                namespace: "AWS/EC2".into(),
                metric: "StatusCheckFailed".into(),
                dimensions: vec![("AutoScalingGroupName".into(), format!("{c}-{node}"))],
                statistic: "Maximum".into(),
                period: 60,
                evaluation_periods: 2,
                threshold: 0.0,
                comparison: "GreaterThanThreshold".into(),
                treat_missing_data: "missing".into(),
                alarm_actions: topic.to_vec(),
                ok_actions: Vec::new(),
            };
            (format!("alarm/{node}-status-check"), spec)
        })
        .collect()
}

/// The template's metric widgets: traffic, lag, disk, replication, readiness, live brokers.
fn metric_widgets(cluster: &str, region: &str) -> Vec<Json> {
    let widget = |title: &str, x: i32, y: i32, stat: &str, metrics: &[&str]| {
        let series: Vec<Json> = metrics
            .iter()
            .map(|m| json!([NAMESPACE, m, DIMENSION, cluster]))
            .collect();
        json!({"type": "metric", "x": x, "y": y, "width": 12, "height": 6, "properties": {
            "title": title, "region": region, "stat": stat, "period": 60, "metrics": series}})
    };
    vec![
        widget(
            "Messages in (per minute)",
            0,
            0,
            "Sum",
            &["rocketmq_messages_in_total"],
        ),
        widget(
            "Messages out (per minute)",
            12,
            0,
            "Sum",
            &["rocketmq_messages_out_total"],
        ),
        widget(
            "Consumer lag (max messages behind)",
            0,
            6,
            "Maximum",
            &["rocketmq_group_diff"],
        ),
        widget(
            "Consumer time lag (ms)",
            12,
            6,
            "Maximum",
            &["rocketmq_consumer_lag_latency"],
        ),
        widget(
            "Disk used ratio (max)",
            0,
            12,
            "Maximum",
            &["rocketmq_brokeruntime_commit_log_disk_ratio"],
        ),
        widget(
            "Replication lag (bytes)",
            12,
            12,
            "Maximum",
            &["rocketmq_brokeruntime_slave_fall_behind_much"],
        ),
        widget(
            "Brokers ready (min) and nameservers registered (min)",
            0,
            18,
            "Minimum",
            &["rmq_broker_ready", "rmq_broker_namesrvs_registered"],
        ),
        widget(
            "Nameserver: live brokers",
            12,
            18,
            "Maximum",
            &["rocketmq_namesrv_brokers"],
        ),
    ]
}

/// The marker widget's text: who manages the dashboard, for which cluster, at which spec hash.
pub fn marker_text(cluster: &str, hash: &str) -> String {
    format!(
        "Managed by `rmqctl aws`: changes made here are overwritten by its next apply. `{TAG_CLUSTER}={cluster}` `{TAG_HASH}={hash}`"
    )
}

/// The dashboard body: the metric `widgets`, a widget of the alarms (`alarm_arns`), and the
/// marker of `cluster` at spec `hash`.
pub fn dashboard_body(
    widgets: &[Json],
    alarm_arns: &[String],
    cluster: &str,
    hash: &str,
) -> String {
    let mut all = widgets.to_vec();
    all.push(
        json!({"type": "alarm", "x": 0, "y": 24, "width": 24, "height": 4,
        "properties": {"title": "Alarms", "alarms": alarm_arns}}),
    );
    all.push(
        json!({"type": "text", "x": 0, "y": 28, "width": 24, "height": 2,
        "properties": {"markdown": marker_text(cluster, hash)}}),
    );
    json!({"widgets": all}).to_string()
}

/// The (cluster, hash) of the marker in a dashboard `body`; `None` when the body is not JSON or
/// has no marker (a dashboard `rmqctl aws` did not make).
pub fn marker(body: &str) -> Option<(String, String)> {
    let json: Json = serde_json::from_str(body).ok()?;
    json["widgets"].as_array()?.iter().find_map(|w| {
        let text = w["properties"]["markdown"].as_str()?;
        let value = |key: &str| {
            text.split(|c: char| c.is_whitespace() || c == '`')
                .find_map(|t| t.strip_prefix(key)?.strip_prefix('='))
                .map(str::to_owned)
        };
        Some((value(TAG_CLUSTER)?, value(TAG_HASH)?))
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::userdata::BOOTSTRAP;

    #[test]
    fn published_metrics_are_the_bootstrap_selectors() {
        let selectors: Vec<&str> = BOOTSTRAP
            .split("\"^")
            .skip(1)
            .filter_map(|s| s.split_once("\\$\"").map(|(m, _)| m))
            .filter(|m| *m != "rmq")
            .collect();
        assert_eq!(selectors, PUBLISHED_METRICS);
        let compact: String = BOOTSTRAP.chars().filter(|c| *c != ' ').collect();
        assert!(compact.contains(&format!("\"metric_namespace\":\"{NAMESPACE}\"")));
        assert!(compact.contains(&format!("[[\"{DIMENSION}\"]")));
    }

    #[test]
    fn the_marker_round_trips() {
        let body = dashboard_body(
            &metric_widgets("orders", "eu-west-1"),
            &[],
            "orders",
            "00ff",
        );
        assert_eq!(marker(&body), Some(("orders".into(), "00ff".into())));
        assert_eq!(marker(r#"{"widgets": []}"#), None);
        assert_eq!(marker("not json"), None);
    }
}
