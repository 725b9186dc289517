//! The cluster's CloudWatch alarms and dashboard against a local moto_server (started by
//! `operator/aws/run-tests.sh`; moto speaks JSON 1.0 to CloudWatch and `tests/moto_server.py`
//! translates the SDK's RPC v2 CBOR): created with `--log-group`, on the metrics the nodes'
//! CloudWatch agent publishes (read here from the bootstrap itself); a second apply changes
//! nothing; a threshold change updates one alarm; drift and a lost hash are converged; a failure
//! part-way then a re-run converges; destroy removes them and leaves alarms and dashboards of
//! other clusters (same name prefix) alone.

#![allow(clippy::unwrap_used)]

use crate::common::{
    connect, converge, endpoint, fake_artefacts, opts, params, spec, tagged, unique,
};
use aws_sdk_cloudwatch::types::{MetricAlarm, Tag};
use rmq_aws::plan::Op;
use rmq_aws::resource::Kind;
use rmq_aws::userdata::BOOTSTRAP;
use rmq_aws::{Aws, Params, Progress, apply, plan_apply, plan_destroy_cluster};
use rmq_model::ValidatedCluster;
use std::collections::{BTreeMap, BTreeSet};

const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:rmq-alarms";

async fn changes(aws: &Aws, c: &ValidatedCluster, p: &Params) -> Vec<String> {
    let (_, plan) = plan_apply(aws, c, p).await.unwrap();
    plan.actions.iter().map(ToString::to_string).collect()
}

/// What the bootstrap's CloudWatch agent configuration publishes: (namespace, the dimension
/// set of one name, the metric names of `metric_selectors`), parsed from the script itself.
fn published() -> (String, String, BTreeSet<String>) {
    // The JSON's layout is the script's business: read it without whitespace.
    let compact: String = BOOTSTRAP.split_whitespace().collect();
    let after = |key: &str| compact.split(key).nth(1).unwrap();
    let namespace = after("\"metric_namespace\":\"").split('"').next().unwrap();
    let dimension = after("\"dimensions\":[[\"").split('"').next().unwrap();
    let selectors = after("\"metric_selectors\":[").split(']').next().unwrap();
    let metrics = selectors
        .split(',')
        .map(|s| {
            s.trim()
                .trim_start_matches("\"^")
                .trim_end_matches("\\$\"")
                .to_owned()
        })
        .collect();
    (namespace.to_owned(), dimension.to_owned(), metrics)
}

/// The metric alarms whose name starts with `prefix`, by name.
async fn alarms(aws: &Aws, prefix: &str) -> BTreeMap<String, MetricAlarm> {
    let out = aws
        .cloudwatch
        .describe_alarms()
        .alarm_name_prefix(prefix)
        .send()
        .await
        .unwrap();
    out.metric_alarms()
        .iter()
        .map(|a| (a.alarm_name().unwrap().to_owned(), a.clone()))
        .collect()
}

async fn tags(aws: &Aws, arn: &str) -> BTreeMap<String, String> {
    let out = aws
        .cloudwatch
        .list_tags_for_resource()
        .resource_arn(arn)
        .send()
        .await
        .unwrap();
    out.tags()
        .iter()
        .map(|t| (t.key().unwrap().to_owned(), t.value().unwrap().to_owned()))
        .collect()
}

/// The dashboard's body, parsed; `None` when there is no dashboard `name`.
async fn dashboard(aws: &Aws, name: &str) -> Option<serde_json::Value> {
    let out = aws
        .cloudwatch
        .get_dashboard()
        .dashboard_name(name)
        .send()
        .await
        .ok()?;
    Some(serde_json::from_str(out.dashboard_body().unwrap()).unwrap())
}

fn monitored(bucket: &str, dir: &std::path::Path) -> Params {
    Params {
        log_group: Some("rmq-logs".into()),
        alarm_topic_arn: Some(TOPIC.into()),
        ..params(bucket, Some(dir))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alarms_and_dashboard_follow_the_cluster() {
    let Some(ep) = endpoint() else { return };
    let aws = connect(&ep).await;
    let name = unique("mon");
    let c = spec(&name, 1, 1, 2);
    let art = fake_artefacts();
    let mut p = monitored(&format!("{name}-art"), art.path());
    strangers(&aws, &name).await;

    fail_on_the_alarms_then_rerun(&aws, &c, &p).await;
    assert_eq!(changes(&aws, &c, &p).await, Vec::<String>::new());
    check_alarms(&aws, &name).await;
    check_dashboard(&aws, &name).await;

    damage_is_repaired(&aws, &c, &p, &name).await;

    // A threshold change updates that alarm, and only it.
    p.consumer_lag_alarm_threshold = 500;
    let ch = changes(&aws, &c, &p).await;
    assert_eq!(ch.len(), 1, "{ch:?}");
    assert!(
        ch[0].starts_with("~ update alarm/consumer-lag (alarm)") && ch[0].ends_with("spec changed"),
        "{ch:?}"
    );
    converge(&aws, &c, &p).await;
    let lag = &alarms(&aws, &format!("rmq-{name}-consumer-lag")).await;
    assert_eq!(lag.values().next().unwrap().threshold(), Some(500.0));
    assert_eq!(changes(&aws, &c, &p).await, Vec::<String>::new());

    without_log_group_they_go(&aws, &c, &p).await;
    destroy_removes_them(&aws, &c, &p, &name).await;
}

/// An alarm and a dashboard of cluster `<name>-b` (their names start like `<name>`'s) and an
/// untagged alarm `rmq-<name>-manual`: no plan of `<name>` touches them.
async fn strangers(aws: &Aws, name: &str) {
    for (alarm, cluster) in [
        (
            format!("rmq-{name}-b-consumer-lag"),
            Some(format!("{name}-b")),
        ),
        (format!("rmq-{name}-manual"), None),
    ] {
        aws.cloudwatch
            .put_metric_alarm()
            .alarm_name(alarm)
            .namespace("rmq")
            .metric_name("rocketmq_group_diff")
            .statistic(aws_sdk_cloudwatch::types::Statistic::Maximum)
            .period(60)
            .evaluation_periods(1)
            .threshold(1.0)
            .comparison_operator(
                aws_sdk_cloudwatch::types::ComparisonOperator::GreaterThanThreshold,
            )
            .set_tags(cluster.map(|c| vec![Tag::builder().key("rmq.dev/cluster").value(c).build()]))
            .send()
            .await
            .unwrap();
    }
    aws.cloudwatch
        .put_dashboard()
        .dashboard_name(format!("rmq-{name}-b"))
        .dashboard_body(r#"{"widgets": []}"#)
        .send()
        .await
        .unwrap();
}

/// The first apply stops before its third alarm; the re-plan finds the two alarms made (and
/// everything before them) and creates only the rest.
async fn fail_on_the_alarms_then_rerun(aws: &Aws, c: &ValidatedCluster, p: &Params) {
    let (found, plan) = plan_apply(aws, c, p).await.unwrap();
    let first_alarm = plan
        .actions
        .iter()
        .position(|a| a.kind == Kind::Alarm)
        .unwrap();
    assert_eq!(
        plan.actions.len(),
        first_alarm + 9,
        "the template's 5 alarms, a status check alarm per node, 1 dashboard last"
    );
    assert_eq!(plan.actions.last().unwrap().kind, Kind::Dashboard);
    let mut o = opts();
    o.fail_after = Some(first_alarm + 2);
    let report = apply(aws, &plan, &found, &o, &Progress::new(true)).await;
    assert!(!report.ok());
    let (_, again) = plan_apply(aws, c, p).await.unwrap();
    let left: Vec<&str> = again.actions.iter().map(|a| a.key.as_str()).collect();
    assert_eq!(
        left,
        [
            "alarm/disk-above-retention-ratio",
            "alarm/consumer-lag",
            "alarm/replication-lag",
            "alarm/namesrv-0-status-check",
            "alarm/broker-a-0-status-check",
            "alarm/broker-a-1-status-check",
            "dashboard"
        ]
    );
    assert!(again.actions.iter().all(|a| a.op == Op::Create));
    let report = converge(aws, c, p).await;
    assert_eq!(report.done.len(), 7);
}

/// The eight alarms: the status check alarm of every node (EC2's metric of its group), and the
/// five alarms of the template: the agent's namespace, dimension and metric names, the
/// template's statistics and periods, thresholds from the spec and the parameters, the topic.
async fn check_alarms(aws: &Aws, name: &str) {
    let found = alarms(aws, &format!("rmq-{name}-")).await;
    let ours = found
        .keys()
        .filter(|n| !n.ends_with("-manual") && !n.starts_with(&format!("rmq-{name}-b-")))
        .count();
    assert_eq!(ours, 8, "{:?}", found.keys());
    for node in NODES {
        let a = &found[&format!("rmq-{name}-{node}-status-check-failed")];
        let dims: Vec<(&str, &str)> = a
            .dimensions()
            .iter()
            .map(|d| (d.name().unwrap(), d.value().unwrap()))
            .collect();
        let group = format!("{name}-{node}");
        assert_eq!(dims, [("AutoScalingGroupName", group.as_str())]);
        assert_eq!(
            (a.namespace(), a.metric_name(), a.threshold()),
            (Some("AWS/EC2"), Some("StatusCheckFailed"), Some(0.0))
        );
        assert_eq!(a.alarm_actions(), [TOPIC]);
        let t = tags(aws, a.alarm_arn().unwrap()).await;
        assert_eq!(t["rmq.dev/resource"], format!("alarm/{node}-status-check"));
    }
    for want in WANT {
        let a = &found[&format!("rmq-{name}-{}", want.0)];
        check_alarm(a, name, &want);
        let t = tags(aws, a.alarm_arn().unwrap()).await;
        assert_eq!(t["rmq.dev/cluster"], name);
        assert_eq!(t["rmq.dev/resource"], format!("alarm/{}", want.0));
        assert_eq!(t["rmq:stack"], name);
        assert!(t.contains_key("rmq.dev/hash"), "{t:?}");
    }
}

/// The nodes of the test's cluster (1 nameserver, 1 group of 2), each with a status check alarm.
const NODES: [&str; 3] = ["namesrv-0", "broker-a-0", "broker-a-1"];

/// (suffix, metric, statistic, periods, threshold, comparison, missing data, notifies OK).
type Want = (
    &'static str,
    &'static str,
    &'static str,
    i32,
    f64,
    &'static str,
    &'static str,
    bool,
);

/// The template's alarms, thresholds for a cluster with the default retention (75%) and the
/// default parameters.
const WANT: [Want; 5] = [
    (
        "broker-not-ready",
        "rmq_broker_ready",
        "Minimum",
        5,
        1.0,
        "LessThanThreshold",
        "breaching",
        true,
    ),
    (
        "no-nameserver-registration",
        "rmq_broker_namesrvs_registered",
        "Minimum",
        2,
        1.0,
        "LessThanThreshold",
        "missing",
        false,
    ),
    (
        "disk-above-retention-ratio",
        "rocketmq_brokeruntime_commit_log_disk_ratio",
        "Maximum",
        10,
        0.75,
        "GreaterThanThreshold",
        "missing",
        false,
    ),
    (
        "consumer-lag",
        "rocketmq_group_diff",
        "Maximum",
        15,
        10_000.0,
        "GreaterThanThreshold",
        "notBreaching",
        false,
    ),
    (
        "replication-lag",
        "rocketmq_brokeruntime_slave_fall_behind_much",
        "Maximum",
        10,
        67_108_864.0,
        "GreaterThanThreshold",
        "notBreaching",
        false,
    ),
];

/// Alarm `a` of cluster `name` is `want`, on a metric the agent publishes.
fn check_alarm(a: &MetricAlarm, name: &str, want: &Want) {
    let (namespace, dimension, metrics) = published();
    let (suffix, metric, stat, periods, threshold, cmp, missing, notify_ok) = *want;
    assert!(metrics.contains(metric), "{metric} is not published");
    assert_eq!(a.namespace(), Some(namespace.as_str()));
    assert_eq!(a.metric_name(), Some(metric));
    let dims: Vec<(&str, &str)> = a
        .dimensions()
        .iter()
        .map(|d| (d.name().unwrap(), d.value().unwrap()))
        .collect();
    assert_eq!(dims, [(dimension.as_str(), name)]);
    assert_eq!(a.statistic().map(|s| s.as_str()), Some(stat));
    assert_eq!(
        (a.period(), a.evaluation_periods()),
        (Some(60), Some(periods))
    );
    assert_eq!(a.threshold(), Some(threshold), "{suffix}");
    assert_eq!(a.comparison_operator().map(|c| c.as_str()), Some(cmp));
    assert_eq!(a.treat_missing_data(), Some(missing));
    assert_eq!(a.alarm_actions(), [TOPIC]);
    assert_eq!(a.ok_actions().len(), usize::from(notify_ok), "{suffix}");
}

/// The dashboard `rmq-<name>`: every series is a published metric of the cluster, every
/// published metric is shown, the alarm widget lists every alarm of the cluster.
async fn check_dashboard(aws: &Aws, name: &str) {
    let (namespace, dimension, metrics) = published();
    let body = dashboard(aws, &format!("rmq-{name}")).await.unwrap();
    let widgets = body["widgets"].as_array().unwrap();
    let mut shown = BTreeSet::new();
    for series in widgets
        .iter()
        .filter_map(|w| w["properties"]["metrics"].as_array())
    {
        for s in series {
            let s: Vec<&str> = s
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap())
                .collect();
            assert_eq!(s.len(), 4, "{s:?}");
            assert_eq!(
                (s[0], s[2], s[3]),
                (namespace.as_str(), dimension.as_str(), name)
            );
            shown.insert(s[1].to_owned());
        }
    }
    assert_eq!(shown, metrics);
    let arns: BTreeSet<String> = alarms(aws, &format!("rmq-{name}-"))
        .await
        .into_iter()
        .filter(|(n, _)| !n.ends_with("-manual") && !n.starts_with(&format!("rmq-{name}-b-")))
        .map(|(_, a)| a.alarm_arn().unwrap().to_owned())
        .collect();
    let listed: BTreeSet<String> = widgets
        .iter()
        .filter(|w| w["type"] == "alarm")
        .flat_map(|w| w["properties"]["alarms"].as_array().unwrap().clone())
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(listed, arns);
    assert!(
        body.to_string()
            .contains(&format!("rmq.dev/cluster={name}"))
    );
}

/// Out of band: a threshold edited, an alarm's hash tag removed, the dashboard deleted. The
/// plan names each, and an apply puts them back.
async fn damage_is_repaired(aws: &Aws, c: &ValidatedCluster, p: &Params, name: &str) {
    let cw = &aws.cloudwatch;
    cw.put_metric_alarm()
        .alarm_name(format!("rmq-{name}-replication-lag"))
        .namespace("rmq")
        .metric_name("rocketmq_brokeruntime_slave_fall_behind_much")
        .statistic(aws_sdk_cloudwatch::types::Statistic::Maximum)
        .period(60)
        .evaluation_periods(10)
        .threshold(1.0)
        .comparison_operator(aws_sdk_cloudwatch::types::ComparisonOperator::GreaterThanThreshold)
        .send()
        .await
        .unwrap();
    let ready = &alarms(aws, &format!("rmq-{name}-broker-not-ready")).await;
    cw.untag_resource()
        .resource_arn(ready.values().next().unwrap().alarm_arn().unwrap())
        .tag_keys("rmq.dev/hash")
        .send()
        .await
        .unwrap();
    cw.delete_dashboards()
        .dashboard_names(format!("rmq-{name}"))
        .send()
        .await
        .unwrap();
    let ch = changes(aws, c, p).await;
    assert_eq!(ch.len(), 3, "{ch:?}");
    assert!(
        ch[0].starts_with("~ update alarm/broker-not-ready") && ch[0].contains("not converged")
    );
    assert!(
        ch[1].starts_with("~ update alarm/replication-lag")
            && ch[1].ends_with("threshold drifted to 1")
    );
    assert!(ch[2].starts_with("+ create dashboard"), "{ch:?}");
    converge(aws, c, p).await;
    assert_eq!(changes(aws, c, p).await, Vec::<String>::new());
    check_alarms(aws, name).await;
    check_dashboard(aws, name).await;
}

/// Without `--log-group` the nodes publish nothing: the plan deletes the alarms and the
/// dashboard, dashboard first (not applied here: destroy does it). The nodes' user data
/// changes too (no log group), so their templates are updated.
async fn without_log_group_they_go(aws: &Aws, c: &ValidatedCluster, p: &Params) {
    let off = Params {
        log_group: None,
        alarm_topic_arn: None,
        ..p.clone()
    };
    let (_, plan) = plan_apply(aws, c, &off).await.unwrap();
    let deleted: Vec<&str> = plan
        .actions
        .iter()
        .filter(|a| a.op == Op::Delete)
        .map(|a| a.key.as_str())
        .collect();
    assert_eq!(deleted.len(), 9, "{deleted:?}");
    assert_eq!(deleted[0], "dashboard");
    assert!(deleted[1..].iter().all(|k| k.starts_with("alarm/")));
    assert!(
        plan.actions.iter().all(|a| a.op == Op::Delete
            || a.kind == Kind::LaunchTemplate
            || a.kind == Kind::AutoScalingGroup),
        "{:?}",
        plan.actions
    );
    assert!(plan.warnings.iter().any(|w| w.contains("no --log-group")));
}

/// Destroy deletes the dashboard first, then the alarms, then the rest; other clusters' alarms
/// and dashboards stay.
async fn destroy_removes_them(aws: &Aws, c: &ValidatedCluster, p: &Params, name: &str) {
    let (found, plan) = plan_destroy_cluster(aws, c, p).await.unwrap();
    let kinds: Vec<Kind> = plan.actions.iter().take(6).map(|a| a.kind).collect();
    assert_eq!(kinds[0], Kind::Dashboard);
    assert!(kinds[1..].iter().all(|k| *k == Kind::Alarm), "{kinds:?}");
    let mut o = opts();
    o.snapshot_volumes = false;
    let report = apply(aws, &plan, &found, &o, &Progress::new(true)).await;
    assert!(report.ok(), "{:?}", report.failed);
    assert_eq!(tagged(aws, name).await, Vec::<String>::new());
    let left: Vec<String> = alarms(aws, &format!("rmq-{name}-"))
        .await
        .into_keys()
        .collect();
    assert_eq!(
        left,
        [
            format!("rmq-{name}-b-consumer-lag"),
            format!("rmq-{name}-manual")
        ]
    );
    assert!(dashboard(aws, &format!("rmq-{name}")).await.is_none());
    assert!(dashboard(aws, &format!("rmq-{name}-b")).await.is_some());
    let (_, again) = plan_destroy_cluster(aws, c, p).await.unwrap();
    assert!(again.actions.is_empty(), "{:?}", again.actions);
    // The strangers were the test's: remove them.
    aws.cloudwatch
        .delete_alarms()
        .set_alarm_names(Some(left))
        .send()
        .await
        .unwrap();
    aws.cloudwatch
        .delete_dashboards()
        .dashboard_names(format!("rmq-{name}-b"))
        .send()
        .await
        .unwrap();
}
