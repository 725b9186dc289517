//! `rmqctl apply` against a running rmq cluster: idempotent, reverts changes made behind its
//! back, deletes only what it owns, plans fully before applying anything.
#![allow(clippy::unwrap_used)]

mod common;

use common::{LocalCluster, assert_contains, fixture, rmqctl};
use rmq_model::admin::Admin;
use rmq_model::plan::{Action, BrokerRef};
use rmq_protocol::body::topic_config::TopicConfig;
use serde_json::Value;

fn topics(ns: &str) -> Vec<(String, String, i64)> {
    let mut out: Vec<(String, String, i64)> = common::get(ns, "topics")
        .iter()
        .map(|t| {
            (
                t["topic"].as_str().unwrap().to_owned(),
                t["broker"].as_str().unwrap().to_owned(),
                t["writeQueues"].as_i64().unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

fn groups(ns: &str) -> Vec<String> {
    let mut out: Vec<String> = common::get(ns, "groups")
        .iter()
        .map(|g| g["group"].as_str().unwrap().to_owned())
        .collect();
    out.dedup();
    out
}

/// Changes a broker's topic table directly (as mqadmin would), bypassing rmqctl.
fn behind_the_back(ns: &str, broker: &str, config: TopicConfig) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let admin = Admin::new(vec![ns.to_owned()]);
        let info = admin.cluster_info().await.unwrap();
        let addr = info.broker_addr_table[broker]
            .master_addr()
            .unwrap()
            .to_owned();
        let action = Action::CreateTopic {
            cluster: "appl".into(),
            broker: BrokerRef {
                name: broker.into(),
                addr,
            },
            config,
        };
        admin.apply_one(&action).await.unwrap();
    });
}

fn apply(ns: &str, file: &str, extra: &[&str]) -> common::Run {
    let mut args = vec!["apply", "-f", file, "--namesrv", ns];
    args.extend(extra);
    rmqctl(&args)
}

#[test]
fn apply_is_idempotent_reverts_drift_and_deletes_only_owned() {
    let (cluster, up) = LocalCluster::up(&[&fixture("apply-cluster.yaml")], 1, 2);
    assert_eq!(up.code, 0, "{}", up.all());
    let ns = cluster.namesrv();
    let v1 = fixture("apply-v1.yaml");
    dry_run_changes_nothing(&ns, &v1);
    apply_then_no_changes(&ns, &v1);
    drift_is_reverted_and_foreign_topics_ignored(&ns, &v1);
    dropped_declarations_delete_only_owned(&ns, &fixture("apply-v2.yaml"));
    a_plan_error_applies_nothing(&ns);
    cluster.down().ok();
}

/// Dry run first: the plan, nothing changed.
fn dry_run_changes_nothing(ns: &str, v1: &str) {
    let dry = apply(ns, v1, &["--dry-run"]).ok();
    assert_contains(&dry.stdout, "would apply 12 change(s)");
    assert_contains(&dry.stdout, "+ create topic t-drop on broker-b");
    assert_contains(&dry.stdout, "dry run: nothing was changed");
    assert!(topics(ns).is_empty(), "dry run created nothing");
    let json = apply(ns, v1, &["--dry-run", "-o", "json"]).ok().json();
    assert_eq!(json["plan"].as_array().unwrap().len(), 12);
    assert_eq!(json["plan"][0]["action"], "own");
}

/// Apply, then again: no changes.
fn apply_then_no_changes(ns: &str, v1: &str) {
    let first = apply(ns, v1, &[]).ok();
    assert_contains(&first.stdout, "applied 12 change(s)");
    assert_eq!(
        topics(ns),
        [
            ("t-drop".into(), "broker-a".into(), 2),
            ("t-drop".into(), "broker-b".into(), 2),
            ("t-keep".into(), "broker-a".into(), 4),
            ("t-keep".into(), "broker-b".into(), 4),
        ]
    );
    assert_eq!(groups(ns), ["g-drop", "g-keep"]);
    let second = apply(ns, v1, &[]).ok();
    assert!(
        second
            .stdout
            .starts_with("no changes: 2 topic(s) and 2 consumer group(s) are as declared"),
        "{}",
        second.stdout
    );
}

/// Someone changes t-keep on broker-b and creates a topic rmqctl does not own: the change is
/// reverted, the foreign topic left alone.
fn drift_is_reverted_and_foreign_topics_ignored(ns: &str, v1: &str) {
    let mut drifted = TopicConfig::new("t-keep", 2);
    drifted.perm = 4;
    behind_the_back(ns, "broker-b", drifted);
    behind_the_back(ns, "broker-a", TopicConfig::new("foreign", 1));
    let dry = apply(ns, v1, &["--dry-run"]).ok();
    assert_contains(&dry.stdout, "~ update topic t-keep on broker-b");
    assert_contains(&dry.stdout, "writeQueueNums 2 -> 4");
    assert_contains(&dry.stdout, "perm 4 -> 6");
    assert!(!dry.stdout.contains("foreign"), "{}", dry.stdout);
    let fix = apply(ns, v1, &[]).ok();
    assert_contains(&fix.stdout, "applied 1 change(s)");
    assert!(topics(ns).contains(&("t-keep".into(), "broker-b".into(), 4)));
}

/// Dropping declarations deletes those (owned) objects only; the foreign topic stays.
fn dropped_declarations_delete_only_owned(ns: &str, v2: &str) {
    let prune = apply(ns, v2, &[]).ok();
    assert_contains(
        &prune.stdout,
        "- delete topic t-drop (cluster appl) from broker-a",
    );
    assert_contains(&prune.stdout, "- delete group g-drop (cluster appl)");
    assert!(!prune.stdout.contains("foreign"), "{}", prune.stdout);
    assert_eq!(
        topics(ns),
        [
            ("foreign".into(), "broker-a".into(), 1),
            ("t-keep".into(), "broker-a".into(), 4),
            ("t-keep".into(), "broker-b".into(), 4),
        ]
    );
    assert_eq!(groups(ns), ["g-keep"]);
    let gone = rmqctl(&["route", "t-drop", "--namesrv", ns]);
    assert_eq!(
        gone.code,
        1,
        "the route was removed from the nameserver: {}",
        gone.all()
    );
    assert_contains(&gone.stderr, "has no route");
    let again = apply(ns, v2, &[]).ok();
    assert!(again.stdout.starts_with("no changes"), "{}", again.stdout);
}

/// A plan error (a declaration naming an unknown cluster) applies nothing at all.
fn a_plan_error_applies_nothing(ns: &str) {
    let mixed = fixture("apply-mixed.yaml");
    let bad = apply(ns, &mixed, &[]);
    assert_eq!(bad.code, 1, "{}", bad.all());
    assert_contains(&bad.stderr, "nothing was applied");
    assert_contains(
        &bad.stderr,
        "cluster \"nope\" is not registered with the nameservers (known: appl)",
    );
    assert_contains(
        &bad.stderr,
        &format!("{mixed}:6 (RocketMQTopic/t-elsewhere) spec.cluster"),
    );
    assert!(
        !topics(ns).iter().any(|t| t.0 == "t-valid"),
        "t-valid was not created"
    );
}

#[test]
fn get_cluster_and_route_views() {
    let (cluster, up) = LocalCluster::up(&[&fixture("one-group.yaml")], 1, 1);
    assert_eq!(up.code, 0, "{}", up.all());
    let ns = cluster.namesrv();
    let c = rmqctl(&["get", "cluster", "--namesrv", &ns]).ok();
    let lines: Vec<&str> = c.stdout.lines().collect();
    assert!(lines[0].starts_with("CLUSTER"), "{}", c.stdout);
    assert!(
        lines[1].starts_with("mini")
            && lines[1].contains("broker-a")
            && lines[1].contains("master")
            && lines[1].ends_with("ok"),
        "{}",
        c.stdout
    );
    let json: Value = rmqctl(&["get", "cluster", "--namesrv", &ns, "-o", "json"])
        .ok()
        .json();
    assert_eq!(json[0]["role"], "master");
    let yaml = rmqctl(&["route", "t1", "--namesrv", &ns, "-o", "yaml"]).ok();
    assert!(
        yaml.stdout.contains("brokerName: broker-a"),
        "{}",
        yaml.stdout
    );
    let table = rmqctl(&["route", "t1", "--namesrv", &ns]).ok();
    assert!(
        table
            .stdout
            .lines()
            .nth(1)
            .unwrap()
            .split_whitespace()
            .collect::<Vec<_>>()
            .ends_with(&["2", "2", "ReadWrite"]),
        "{}",
        table.stdout
    );
    cluster.down().ok();
}
