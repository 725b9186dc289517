//! Continuity through a roll (feature `aws`): the roll `rmqctl aws apply` makes after a new
//! build, replayed on a local cluster. `rmqctl local up` (in the foreground, restarting a node
//! that exits, as the Auto Scaling group replaces an instance) runs 2 nameservers and 2 groups
//! of a master and a slave; the nodes are restarted one at a time in rmq-aws's roll order
//! (`rmq_aws::roll::roll_sequence`: nameservers, then slaves, then masters), each after the
//! previous one passed rmq-aws's readiness gate (`NameserverGate`: registered with every
//! nameserver, a slave caught up with its master; a nameserver listing every broker again),
//! while the Java client produces without pause. Every acknowledged message is consumed
//! afterwards: none is lost.
//!
//! Needs rmq-broker and rmq-namesrv next to rmqctl and the Java harness.
#![cfg(feature = "aws")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::LocalCluster;
use common::foreground::Foreground;
use rmq_aws::readiness::{NameserverGate, NodeRole, Readiness, RolledNode, Status};
use rmq_aws::roll::roll_sequence;
use rmq_model::admin::Admin;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const CLUSTER: &str = r#"apiVersion: rmq.dev/v1alpha1
kind: RocketMQCluster
metadata:
  name: roll
spec:
  nameServer:
    replicas: 2
  brokers:
    groups: 2
    replicasPerGroup: 2
    config:
      diskSpaceWarningLevelRatio: "99"
---
apiVersion: rmq.dev/v1alpha1
kind: RocketMQTopic
metadata:
  name: orders
spec:
  cluster: roll
  queues: 8
"#;

/// The nodes of the state file: (name, address, pid).
fn nodes(state: &Path) -> Vec<(String, String, Option<u64>)> {
    let v: Value =
        serde_json::from_str(&std::fs::read_to_string(state.join("state.json")).unwrap()).unwrap();
    v["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["name"].as_str().unwrap().to_owned(),
                n["address"].as_str().unwrap().to_owned(),
                n["pid"].as_u64(),
            )
        })
        .collect()
}

/// Indices of `"0-4,7"`.
fn ranges(text: &str) -> BTreeSet<u64> {
    let mut out = BTreeSet::new();
    for part in text.split(',').filter(|p| !p.is_empty()) {
        let (a, b) = part.split_once('-').unwrap_or((part, part));
        out.extend(a.parse::<u64>().unwrap()..=b.parse::<u64>().unwrap());
    }
    out
}

/// Produces batches of 100 messages `roll-<i>` until `stop` (one batch at least after it),
/// recording every acknowledged index.
fn producer(ns: String, stop: Arc<AtomicBool>, acked: Arc<Mutex<BTreeSet<u64>>>) {
    let mut start = 0u64;
    loop {
        let last = stop.load(Ordering::SeqCst);
        let v = common::java(&[
            "produce",
            "--namesrv",
            &ns,
            "--topic",
            "orders",
            "--count",
            "100",
            "--start",
            &start.to_string(),
            "--prefix",
            "roll",
            "--send-timeout-ms",
            "3000",
            "--timeout-ms",
            "60000",
        ]);
        acked
            .lock()
            .unwrap()
            .extend(ranges(v["acked"].as_str().unwrap_or("")));
        start += 100;
        if last {
            return;
        }
    }
}

/// Restarts `name` (SIGTERM; the foreground starts it again) and waits until its old process is
/// gone and a new one runs.
fn restart(state: &Path, name: &str) {
    let pid = |s: &Path| nodes(s).into_iter().find(|n| n.0 == name).and_then(|n| n.2);
    let old = pid(state).unwrap();
    assert!(
        Command::new("kill")
            .arg(old.to_string())
            .status()
            .unwrap()
            .success()
    );
    let start = Instant::now();
    while Path::new(&format!("/proc/{old}")).exists() || pid(state).is_none_or(|p| p == old) {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "{name} not restarted"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Asks the gate about `node` until it is ready; what it saw.
async fn ready(gate: &NameserverGate, node: &RolledNode, c: &LocalCluster) -> String {
    let start = Instant::now();
    loop {
        match gate.check(node).await {
            Status::Ready(seen) => return seen,
            Status::Waiting(why) => assert!(
                start.elapsed() < Duration::from_secs(150),
                "{node} not ready: {why}\n{}",
                c.diagnostics()
            ),
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Every index of `acked` is consumed from topic `orders`.
fn assert_nothing_lost(c: &LocalCluster, ns: &str, acked: &BTreeSet<u64>) {
    assert!(
        acked.len() >= 200,
        "too little was produced: {}",
        acked.len()
    );
    let expect = acked.len().to_string();
    let v = c.java_ok(&[
        "consume",
        "--namesrv",
        ns,
        "--topic",
        "orders",
        "--group",
        "roll-readers",
        "--expect",
        &expect,
        "--prefix",
        "roll",
        "--linger-ms",
        "5000",
        "--timeout-ms",
        "180000",
    ]);
    let consumed = ranges(v["ranges"].as_str().unwrap());
    let lost: Vec<&u64> = acked.difference(&consumed).collect();
    eprintln!(
        "CONTINUITY: {} acknowledged, {} consumed, {} lost",
        acked.len(),
        consumed.len(),
        lost.len()
    );
    assert!(lost.is_empty(), "acknowledged but lost: {lost:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rolled_cluster_loses_no_acknowledged_message() {
    common::bin_dir();
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("cluster.yaml");
    std::fs::write(&file, CLUSTER).unwrap();
    let state = tmp.path().join("state");
    let mut up = Foreground::start(&file, &state, common::base_port(2, 4), 2);
    let c = LocalCluster::at(state.clone());
    up.wait_for("running in the foreground", Duration::from_secs(180), &c);

    let all = nodes(&state);
    let names: Vec<&str> = all.iter().map(|n| n.0.as_str()).collect();
    let order = roll_sequence(&names, true);
    assert_eq!(
        order,
        [
            "namesrv-0",
            "namesrv-1",
            "broker-a-1",
            "broker-b-1",
            "broker-a-0",
            "broker-b-0"
        ]
    );
    let ns = c.namesrv();
    let list: Vec<String> = ns.split(';').map(str::to_owned).collect();
    let gate = NameserverGate::new(Admin::new(list), "roll");

    let (stop, acked) = (Arc::new(AtomicBool::new(false)), Arc::default());
    let produced = {
        let (ns, stop, acked) = (ns.clone(), stop.clone(), Arc::clone(&acked));
        std::thread::spawn(move || producer(ns, stop, acked))
    };
    for name in &order {
        let address = &all.iter().find(|n| n.0 == *name).unwrap().1;
        let role = match name.rsplit_once('-') {
            Some((group, _)) if name.starts_with("broker-") => NodeRole::Broker {
                group: group.to_owned(),
            },
            _ => NodeRole::NameServer,
        };
        let node = RolledNode {
            node: name.clone(),
            role,
            address: address.clone(),
        };
        gate.before(&node).await.unwrap();
        let started = Instant::now();
        restart(&state, name);
        let seen = ready(&gate, &node, &c).await;
        eprintln!("ROLL {name}: ready after {:?}: {seen}", started.elapsed());
    }
    stop.store(true, Ordering::SeqCst);
    produced.join().unwrap();

    let acked = acked.lock().unwrap().clone();
    assert_nothing_lost(&c, &ns, &acked);
    drop(up);
}
