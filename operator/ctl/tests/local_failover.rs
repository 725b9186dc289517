//! `failover: Automatic` in local mode: `rmqctl local up` (in the foreground, supervising) runs a
//! nameserver, three `rmq-controller` replicas and a group of two brokers in controller mode.
//! `kill -9` of the master: the controllers elect the other broker (2 s broker timeout), the
//! nameserver routes to it, the Java client produces through it, rmqctl starts the killed broker
//! again (6 s restart delay, so after the election) and it rejoins as a replica; every
//! acknowledged message is consumed.
//!
//! Needs rmq-broker, rmq-namesrv and rmq-controller next to rmqctl and the Java harness.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::foreground::Foreground;
use common::{LocalCluster, assert_contains};
use serde_json::Value;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const CLUSTER: &str = r#"apiVersion: rmq.dev/v1alpha1
kind: RocketMQCluster
metadata:
  name: fo
spec:
  nameServer:
    replicas: 1
  brokers:
    groups: 1
    replicasPerGroup: 2
    replication: Sync
    failover: Automatic
    config:
      diskSpaceWarningLevelRatio: "99"
  controller:
    replicas: 3
    brokerTimeoutMs: 2000
---
apiVersion: rmq.dev/v1alpha1
kind: RocketMQTopic
metadata:
  name: orders
spec:
  cluster: fo
  queues: 4
"#;

/// The broker with id 0 (the master) of group broker-a as the nameserver lists it.
fn master(ns: &str) -> Option<String> {
    common::get(ns, "cluster")
        .into_iter()
        .find(|r| r["broker"] == "broker-a" && r["id"] == 0)
        .and_then(|r| r["address"].as_str().map(str::to_owned))
}

/// The nodes of `local status -o json`.
fn nodes(c: &LocalCluster) -> Vec<Value> {
    let v = c.status().json();
    v["nodes"].as_array().cloned().unwrap_or_default()
}

fn produce(c: &LocalCluster, start: u32, count: u32) -> Value {
    let (ns, start, count) = (c.namesrv(), start.to_string(), count.to_string());
    c.java_ok(&[
        "produce",
        "--namesrv",
        &ns,
        "--topic",
        "orders",
        "--count",
        &count,
        "--start",
        &start,
        "--prefix",
        "fo",
        "--timeout-ms",
        "120000",
        "--send-timeout-ms",
        "10000",
    ])
}

#[test]
fn a_killed_master_is_replaced_and_rejoins_as_a_replica() {
    common::bin_dir();
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("cluster.yaml");
    std::fs::write(&file, CLUSTER).unwrap();
    let state = tmp.path().join("state");
    let mut up = Foreground::start(&file, &state, common::base_port(1, 2), 6);
    let c = LocalCluster::at(state.clone());
    up.wait_for("running in the foreground", Duration::from_secs(180), &c);

    let all = every_node_serves_in_controller_mode(&c, &state);
    produce(&c, 0, 200);
    let (name, heir) = kill_the_master(&c, &all);

    produce(&c, 200, 200);
    up.wait_for(&format!("{name} exited"), Duration::from_secs(10), &c);
    rejoins_as_replica(&c, &name, &heir);
    let consumed = c.consume("orders", "fo-readers", 400, "fo", &[]);
    eprintln!("consumed: {consumed}");

    let down = c.down().ok();
    assert_contains(&down.stdout, "stopping the foreground");
    let status = up.wait();
    assert!(
        status.success(),
        "rmqctl local up ended with {status}:\n{}",
        up.stderr()
    );
}

/// Every node runs and serves: a nameserver, three controllers, two brokers whose role the
/// controllers choose (their broker.conf names none). Returns the status rows.
fn every_node_serves_in_controller_mode(c: &LocalCluster, state: &Path) -> Vec<Value> {
    let all = nodes(c);
    let roles: Vec<&str> = all.iter().filter_map(|n| n["role"].as_str()).collect();
    assert_eq!(
        roles,
        [
            "NAMESRV",
            "CONTROLLER",
            "CONTROLLER",
            "CONTROLLER",
            "ELECTED",
            "ELECTED"
        ]
    );
    assert!(
        all.iter()
            .all(|n| n["running"] == true && n["registered"] == true),
        "{all:#?}"
    );
    let conf = std::fs::read_to_string(state.join("broker-a-0/broker.conf")).unwrap();
    assert_contains(&conf, "enableControllerMode=true");
    assert!(!conf.contains("brokerRole="), "{conf}");
    all
}

/// `kill -9` of the routed master; waits until the nameserver routes another. Returns the
/// killed node's name and the new master's address.
fn kill_the_master(c: &LocalCluster, all: &[Value]) -> (String, String) {
    let ns = c.namesrv();
    let old = master(&ns).expect("a master is routed");
    let victim = all.iter().find(|n| n["address"] == old.as_str()).unwrap();
    let (name, pid) = (
        victim["name"].as_str().unwrap().to_owned(),
        victim["pid"].as_u64().unwrap(),
    );
    let killed = Instant::now();
    assert!(
        Command::new("kill")
            .args(["-9", &pid.to_string()])
            .status()
            .unwrap()
            .success()
    );

    let mut heir = None;
    while killed.elapsed() < Duration::from_secs(60) && heir.is_none() {
        heir = master(&ns).filter(|m| *m != old);
        std::thread::sleep(Duration::from_millis(200));
    }
    let heir = heir.unwrap_or_else(|| panic!("no new master after 60 s\n{}", c.diagnostics()));
    eprintln!(
        "FAILOVER: {heir} routed as master {:?} after kill -9 of {name}",
        killed.elapsed()
    );
    (name, heir)
}

/// Waits until the supervisor's restart of `name` runs and is registered again, as a replica
/// of `heir`.
fn rejoins_as_replica(c: &LocalCluster, name: &str, heir: &str) {
    let start = Instant::now();
    loop {
        let back = nodes(c)
            .into_iter()
            .find(|n| n["name"] == name)
            .is_some_and(|n| n["running"] == true && n["registered"] == true);
        if back {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(90),
            "{name} did not rejoin\n{}",
            c.diagnostics()
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    assert_eq!(
        master(&c.namesrv()).as_deref(),
        Some(heir),
        "the restarted broker is a replica"
    );
    // `local status` shows the role each elected broker is registered with
    let live: Vec<(String, String)> = nodes(c)
        .iter()
        .filter(|n| n["role"] == "ELECTED")
        .map(|n| {
            let role = n["liveRole"].as_str().unwrap_or("-").to_owned();
            (n["address"].as_str().unwrap_or("").to_owned(), role)
        })
        .collect();
    for (addr, role) in &live {
        let want = if addr == heir { "MASTER" } else { "SLAVE" };
        assert_eq!(role, want, "{live:?}");
    }
}
