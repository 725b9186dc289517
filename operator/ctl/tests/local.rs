//! `rmqctl local up` from the examples brings the cluster up; the declared topics exist on every
//! master (through the nameserver route); the Java client produces and consumes through it;
//! `local down` then `local up` keeps messages and consumer offsets.
//!
//! Needs rmq-broker/rmq-namesrv next to rmqctl (`cargo build -p rmq-broker -p rmq-namesrv`) and
//! the Java harness (`tests/build-harnesses.sh`); fails with those instructions otherwise.
#![allow(clippy::unwrap_used)]

mod common;

use common::{LocalCluster, Run, assert_contains, example, rmqctl};
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

/// `queues` of `topic` on both broker groups.
fn on_both(queues: i64) -> [(String, i64, i64); 2] {
    [
        ("broker-a".into(), queues, queues),
        ("broker-b".into(), queues, queues),
    ]
}

/// The rows of `rmqctl get <what> -o json` whose `field` is `name`.
fn rows(ns: &str, what: &str, field: &str, name: &str) -> Vec<Value> {
    let mut rows = common::get(ns, what);
    rows.retain(|r| r[field] == name);
    rows
}

#[test]
fn examples_up_produce_consume_down_up_keeps_messages_and_offsets() {
    let files = [example("cluster.yaml"), example("topics.yaml")];
    let files: Vec<&str> = files.iter().map(String::as_str).collect();
    // examples/cluster.yaml: 2 nameservers, 2 groups x (master + slave).
    let (cluster, up) = LocalCluster::up(&files, 2, 4);
    every_node_up_and_objects_created(&cluster, &up);
    declared_objects_on_every_master(&cluster.namesrv());

    // The Java client produces to both groups and consumes everything.
    let p = cluster.produce("orders", 200, "p1");
    let brokers: std::collections::BTreeSet<&str> = p["queues"]
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.split('/').next().unwrap())
        .collect();
    assert_eq!(brokers.len(), 2, "messages went to both groups: {p}");
    cluster.consume("orders", "billing", 200, "p1", &[]);

    down_then_up_keeps_the_declarations(&cluster, &files);
    offsets_and_messages_survive_the_restart(&cluster);
    cluster.down().ok();
}

/// `up` succeeded, lists every node, created the declared objects, and `status` agrees.
fn every_node_up_and_objects_created(cluster: &LocalCluster, up: &Run) {
    assert_eq!(
        up.code,
        0,
        "local up failed:\n{}\nbroker-a-0 log:\n{}",
        up.all(),
        cluster.log("broker-a-0")
    );
    assert_eq!(cluster.namesrv().split(';').count(), 2);
    // The final table lists every node, and the reconcile created the declared objects.
    for node in [
        "namesrv-0",
        "namesrv-1",
        "broker-a-0",
        "broker-a-1",
        "broker-b-0",
        "broker-b-1",
    ] {
        assert_contains(&up.stdout, node);
    }
    assert_contains(&up.stderr, "create topic orders on broker-a");
    assert_contains(&up.stderr, "create group payments_ledger on broker-b");

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
}

/// Declared topics are on every master, as the nameservers route them; `get` shows them
/// owned by rmqctl with their declared settings.
fn declared_objects_on_every_master(ns: &str) {
    for addr in ns.split(';') {
        let r = route(addr, "orders");
        assert_eq!(queues(&r), on_both(8), "{r:#}");
    }
    assert_eq!(queues(&route(ns, "payments_fifo")), on_both(4));
    assert_eq!(queues(&route(ns, "audit")), on_both(2));
    let orders = rows(ns, "topics", "topic", "orders");
    assert_eq!(orders.len(), 2);
    assert!(
        orders
            .iter()
            .all(|t| t["owner"] == "rmqctl" && t["messageType"] == "NORMAL"),
        "{orders:#?}"
    );
    let ledger = rows(ns, "groups", "group", "payments_ledger");
    assert_eq!(ledger.len(), 2);
    assert!(
        ledger
            .iter()
            .all(|g| g["orderly"] == true && g["retryMaxTimes"] == 5),
        "{ledger:#?}"
    );
}

/// Down, then up again: data dirs are reused, topics, groups and ownership survive.
fn down_then_up_keeps_the_declarations(cluster: &LocalCluster, files: &[&str]) {
    let down = cluster.down().ok();
    assert_contains(&down.stdout, "stopped");
    let stopped = cluster.status();
    assert_ne!(stopped.code, 0);
    assert_contains(&stopped.stderr, "is stopped");
    let again = cluster.restart(files);
    assert_eq!(again.code, 0, "second local up failed:\n{}", again.all());
    assert!(
        again.stderr.contains("no changes"),
        "topics, groups and ownership survived the restart:\n{}",
        again.stderr
    );
    assert_eq!(queues(&route(&cluster.namesrv(), "orders")), on_both(8));
}

/// Offsets kept: the same group continues after p1 and sees only the new messages. Messages
/// kept: a new group reads all 200 p1 messages from the first offset.
fn offsets_and_messages_survive_the_restart(cluster: &LocalCluster) {
    cluster.produce("orders", 50, "p2");
    let c = cluster.consume("orders", "billing", 50, "p2", &["--linger-ms", "2000"]);
    assert_eq!(
        c["foreign"], 0,
        "the group's offsets survived the restart (no p1 message redelivered): {c}"
    );
    let c = cluster.consume("orders", "replay", 200, "p1", &["--from", "first"]);
    assert_eq!(c["corrupt"], 0, "{c}");
}

#[test]
fn up_twice_adopts_the_running_nodes() {
    let file = common::fixture("one-group.yaml");
    let (cluster, up) = LocalCluster::up(&[&file], 1, 1);
    assert_eq!(up.code, 0, "{}", up.all());
    let before = cluster.status().ok().json();
    let again = cluster.restart(&[&file]);
    assert_eq!(again.code, 0, "{}", again.all());
    assert_contains(&again.stderr, "already running");
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
    fewer_files_delete_only_with_prune(&cluster);
    cluster.down().ok();
    let down_again = cluster.down().ok();
    assert_contains(&down_again.stdout, "not running");
}

/// Fewer files never delete data unless --prune is given.
fn fewer_files_delete_only_with_prune(cluster: &LocalCluster) {
    let ns = cluster.namesrv();
    let mini = common::fixture("mini-cluster.yaml");
    let fewer = cluster.restart(&[&mini]);
    assert_eq!(fewer.code, 0, "{}", fewer.all());
    assert_contains(&fewer.stderr, "no changes");
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
    assert_contains(&pruned.stderr, "- delete topic t1 (cluster mini)");
    assert_eq!(rmqctl(&["route", "t1", "--namesrv", &ns]).code, 1);
}
