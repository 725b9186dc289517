//! `rmqctl local up` from the examples brings the cluster up; the declared topics exist on every
//! master (through the nameserver route); the Java client produces and consumes through it;
//! `local down` then `local up` keeps messages and consumer offsets.
//!
//! Needs rmq-broker/rmq-namesrv next to rmqctl (`cargo build -p rmq-broker -p rmq-namesrv`) and
//! the Java harness (`tests/build-harnesses.sh`); fails with those instructions otherwise.
#![allow(clippy::unwrap_used)]

mod common;

use common::{LocalCluster, example, rmqctl};
use serde_json::Value;

fn route(ns: &str, topic: &str) -> Value {
    rmqctl(&["route", topic, "--namesrv", ns, "-o", "json"])
        .ok()
        .json()
}

/// (brokerName, readQueueNums, writeQueueNums) of a route, sorted.
fn queues(route: &Value) -> Vec<(String, i64, i64)> {
    let mut q: Vec<(String, i64, i64)> = route["queueDatas"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| {
            (
                q["brokerName"].as_str().unwrap().to_owned(),
                q["readQueueNums"].as_i64().unwrap(),
                q["writeQueueNums"].as_i64().unwrap(),
            )
        })
        .collect();
    q.sort();
    q
}

#[test]
fn examples_up_produce_consume_down_up_keeps_messages_and_offsets() {
    let files = [example("cluster.yaml"), example("topics.yaml")];
    let files: Vec<&str> = files.iter().map(String::as_str).collect();
    // examples/cluster.yaml: 2 nameservers, 2 groups x (master + slave).
    let (cluster, up) = LocalCluster::up(&files, 2, 4);
    assert_eq!(
        up.code,
        0,
        "local up failed:\n{}\nbroker-a-0 log:\n{}",
        up.all(),
        cluster.log("broker-a-0")
    );
    let ns = cluster.namesrv();
    assert_eq!(ns.split(';').count(), 2);
    // The final table lists every node, and the reconcile created the declared objects.
    for node in [
        "namesrv-0",
        "namesrv-1",
        "broker-a-0",
        "broker-a-1",
        "broker-b-0",
        "broker-b-1",
    ] {
        assert!(
            up.stdout.contains(node),
            "{node} missing from:\n{}",
            up.stdout
        );
    }
    assert!(
        up.stderr.contains("create topic orders on broker-a"),
        "{}",
        up.stderr
    );
    assert!(
        up.stderr
            .contains("create group payments_ledger on broker-b"),
        "{}",
        up.stderr
    );

    let status = cluster.status().ok().json();
    let nodes = status["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 6);
    assert!(
        nodes
            .iter()
            .all(|n| n["running"] == true && n["registered"] == true),
        "{status:#}"
    );
    let slave = nodes.iter().find(|n| n["name"] == "broker-b-1").unwrap();
    assert_eq!(
        (slave["role"].as_str(), slave["brokerId"].as_i64()),
        (Some("SLAVE"), Some(1))
    );

    // Declared topics are on every master, as the nameservers route them.
    for addr in ns.split(';') {
        let r = route(addr, "orders");
        assert_eq!(
            queues(&r),
            [("broker-a".into(), 8, 8), ("broker-b".into(), 8, 8)],
            "{r:#}"
        );
    }
    assert_eq!(
        queues(&route(&ns, "payments_fifo")),
        [("broker-a".into(), 4, 4), ("broker-b".into(), 4, 4)]
    );
    assert_eq!(
        queues(&route(&ns, "audit")),
        [("broker-a".into(), 2, 2), ("broker-b".into(), 2, 2)]
    );
    let topics = rmqctl(&["get", "topics", "--namesrv", &ns, "-o", "json"])
        .ok()
        .json();
    let orders: Vec<&Value> = topics
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["topic"] == "orders")
        .collect();
    assert_eq!(orders.len(), 2);
    assert!(
        orders
            .iter()
            .all(|t| t["owner"] == "rmqctl" && t["messageType"] == "NORMAL"),
        "{topics:#}"
    );
    let groups = rmqctl(&["get", "groups", "--namesrv", &ns, "-o", "json"])
        .ok()
        .json();
    let ledger: Vec<&Value> = groups
        .as_array()
        .unwrap()
        .iter()
        .filter(|g| g["group"] == "payments_ledger")
        .collect();
    assert_eq!(ledger.len(), 2);
    assert!(
        ledger
            .iter()
            .all(|g| g["orderly"] == true && g["retryMaxTimes"] == 5),
        "{groups:#}"
    );

    // The Java client produces to both groups and consumes everything.
    let p = cluster.java_ok(&[
        "produce",
        "--namesrv",
        &ns,
        "--topic",
        "orders",
        "--count",
        "200",
        "--prefix",
        "p1",
    ]);
    let brokers: std::collections::BTreeSet<&str> = p["queues"]
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.split('/').next().unwrap())
        .collect();
    assert_eq!(brokers.len(), 2, "messages went to both groups: {p}");
    cluster.java_ok(&[
        "consume",
        "--namesrv",
        &ns,
        "--topic",
        "orders",
        "--group",
        "billing",
        "--expect",
        "200",
        "--prefix",
        "p1",
    ]);

    // Down, then up again: data dirs are reused.
    let down = cluster.down().ok();
    assert!(down.stdout.contains("stopped"), "{}", down.stdout);
    let stopped = cluster.status();
    assert_ne!(stopped.code, 0);
    assert!(stopped.stderr.contains("is stopped"), "{}", stopped.stderr);
    let again = cluster.restart(&files);
    assert_eq!(again.code, 0, "second local up failed:\n{}", again.all());
    assert!(
        again.stderr.contains("no changes"),
        "topics, groups and ownership survived the restart:\n{}",
        again.stderr
    );
    let ns = cluster.namesrv();
    assert_eq!(
        queues(&route(&ns, "orders")),
        [("broker-a".into(), 8, 8), ("broker-b".into(), 8, 8)]
    );

    // Offsets kept: the same group continues after p1 and sees only the new messages.
    cluster.java_ok(&[
        "produce",
        "--namesrv",
        &ns,
        "--topic",
        "orders",
        "--count",
        "50",
        "--prefix",
        "p2",
    ]);
    let c = cluster.java_ok(&[
        "consume",
        "--namesrv",
        &ns,
        "--topic",
        "orders",
        "--group",
        "billing",
        "--expect",
        "50",
        "--prefix",
        "p2",
        "--linger-ms",
        "2000",
    ]);
    assert_eq!(
        c["foreign"], 0,
        "the group's offsets survived the restart (no p1 message redelivered): {c}"
    );
    // Messages kept: a new group reads all 200 p1 messages from the first offset.
    let c = cluster.java_ok(&[
        "consume",
        "--namesrv",
        &ns,
        "--topic",
        "orders",
        "--group",
        "replay",
        "--expect",
        "200",
        "--prefix",
        "p1",
        "--from",
        "first",
    ]);
    assert_eq!(c["corrupt"], 0, "{c}");
    cluster.down().ok();
}

#[test]
fn up_twice_adopts_the_running_nodes() {
    let file = common::fixture("one-group.yaml");
    let (cluster, up) = LocalCluster::up(&[&file], 1, 1);
    assert_eq!(up.code, 0, "{}", up.all());
    let before = cluster.status().ok().json();
    let again = cluster.restart(&[&file]);
    assert_eq!(again.code, 0, "{}", again.all());
    assert!(again.stderr.contains("already running"), "{}", again.stderr);
    let after = cluster.status().ok().json();
    let pids = |v: &Value| {
        v["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["pid"].clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        pids(&before),
        pids(&after),
        "the same processes keep running"
    );
    // Fewer files never delete data unless --prune is given.
    let ns = cluster.namesrv();
    let mini = common::fixture("mini-cluster.yaml");
    let fewer = cluster.restart(&[&mini]);
    assert_eq!(fewer.code, 0, "{}", fewer.all());
    assert!(fewer.stderr.contains("no changes"), "{}", fewer.stderr);
    rmqctl(&["route", "t1", "--namesrv", &ns]).ok();
    let base = cluster.base().to_string();
    let dir = cluster.state_dir.display().to_string();
    let pruned = rmqctl(&[
        "local",
        "up",
        "--detach",
        "--prune",
        "-f",
        &mini,
        "--base-port",
        &base,
        "--state-dir",
        &dir,
    ]);
    assert_eq!(pruned.code, 0, "{}", pruned.all());
    assert!(
        pruned.stderr.contains("- delete topic t1 (cluster mini)"),
        "{}",
        pruned.stderr
    );
    assert_eq!(rmqctl(&["route", "t1", "--namesrv", &ns]).code, 1);
    cluster.down().ok();
    let down_again = cluster.down().ok();
    assert!(
        down_again.stdout.contains("not running"),
        "{}",
        down_again.stdout
    );
}
