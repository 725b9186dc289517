//! The readiness gate with real rmq-namesrv and rmq-broker processes: a master is ready once
//! every nameserver lists it, a slave once it is registered, connected to its master and caught
//! up, a replaced nameserver once it lists every broker the nameservers listed before; a broker
//! the nameservers do not list is not. Against moto, a roll whose new broker the (real)
//! nameserver never lists waits, then stops with the error, and the master is not replaced.

#![allow(clippy::unwrap_used, missing_docs)]

use crate::common::sandbox::bin_dir;
use crate::common::{connect, converge, endpoint, fake_artefacts, opts, params, spec, unique};
use rmq_aws::readiness::{Gate, NameserverGate, NodeRole, Readiness, RolledNode, Status};
use rmq_aws::{ApplyOptions, Error, Progress, RollEvent, apply, plan_apply};
use rmq_e2e::failover::send_direct;
use rmq_e2e::{BrokerOpts, BrokerProc, NamesrvProc};
use rmq_model::admin::Admin;
use std::time::{Duration, Instant};

/// Broker `id` of group `broker-a` in cluster `cluster` (0 the master).
fn broker(ns: &str, cluster: &str, id: u32) -> BrokerProc {
    let role = if id == 0 { "ASYNC_MASTER" } else { "SLAVE" };
    let mut opts = BrokerOpts::default();
    opts.set.extend([
        ("brokerClusterName".to_owned(), cluster.to_owned()),
        ("brokerId".to_owned(), id.to_string()),
        ("brokerRole".to_owned(), role.to_owned()),
    ]);
    BrokerProc::start(ns, opts)
}

/// Broker node `name` of group `broker-a` at `addr`.
fn node(name: &str, addr: &str) -> RolledNode {
    RolledNode {
        node: name.into(),
        role: NodeRole::Broker {
            group: "broker-a".into(),
        },
        address: addr.into(),
    }
}

/// Asks `gate` about `n` until it is ready (what it saw), or panics with the last reason.
async fn ready(gate: &NameserverGate, n: &RolledNode) -> String {
    let start = Instant::now();
    loop {
        match gate.check(n).await {
            Status::Ready(seen) => return seen,
            Status::Waiting(why) => {
                assert!(
                    start.elapsed() < Duration::from_secs(60),
                    "{n} not ready: {why}"
                );
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_gate_sees_masters_caught_up_slaves_and_full_nameservers_ready() {
    if bin_dir(&[]).is_none() {
        return;
    }
    let ns = NamesrvProc::start();
    let master = broker(&ns.addr, "gate", 0);
    let gate =
        NameserverGate::new(Admin::new(vec![ns.addr.clone()]), "gate").with_catch_up_bytes(0);
    let seen = ready(&gate, &node("broker-a-0", &master.addr)).await;
    assert_eq!(seen, "registered with 1 nameserver(s) as master");

    // Data on the master, then a slave that must copy all of it to be ready.
    let addr = master.addr.clone();
    tokio::task::spawn_blocking(move || {
        let direct = rmq_e2e::Admin::new();
        direct.create_topic(&addr, "gated", 4);
        for i in 0..200 {
            assert_eq!(send_direct(&direct, &addr, "gated", "g", i), Some(0));
        }
    })
    .await
    .unwrap();
    let slave = broker(&ns.addr, "gate", 1);
    let seen = ready(&gate, &node("broker-a-1", &slave.addr)).await;
    assert_eq!(
        seen,
        format!(
            "registered with 1 nameserver(s) as slave 1, 0 bytes behind master {}",
            master.addr
        )
    );

    // A broker the nameserver does not list is not ready, and the reason says what it lists.
    let ghost = gate.check(&node("broker-a-2", "127.0.0.1:9")).await;
    let Status::Waiting(why) = ghost else {
        panic!("a broker nobody lists is ready: {ghost:?}")
    };
    assert!(
        why.starts_with(&format!("not registered with nameserver {}", ns.addr)),
        "{why}"
    );
    assert!(
        why.contains(&master.addr) && why.contains(&slave.addr),
        "{why}"
    );

    // A (re)started nameserver is ready once it lists the brokers listed before.
    let ns_node = RolledNode {
        node: "namesrv-0".into(),
        role: NodeRole::NameServer,
        address: ns.addr.clone(),
    };
    gate.before(&ns_node).await.unwrap();
    let seen = ready(&gate, &ns_node).await;
    assert_eq!(seen, "answers and lists all 2 broker(s) of the cluster");
    assert!(
        gate.probe()
            .await
            .unwrap()
            .contains("1 nameserver(s) and 2 broker(s) answer")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_roll_stops_when_the_nameservers_never_list_the_new_broker() {
    let Some(ep) = endpoint() else { return };
    if bin_dir(&[]).is_none() {
        return;
    }
    let aws = connect(&ep).await;
    let name = unique("gate");
    let c = spec(&name, 1, 1, 2);
    let dir = fake_artefacts();
    let p = params(&format!("{name}-artefacts"), Some(dir.path()));
    converge(&aws, &c, &p).await;
    let masters_before = group_instances(&aws, &format!("{name}-broker-a-0")).await;

    // The cluster's nameserver as the gate sees it: a real one, listing group broker-a's
    // current master only; the replaced slave (at its interface's 10.0.x.y) never registers.
    let ns = NamesrvProc::start();
    let master = broker(&ns.addr, &name, 0);
    std::fs::write(
        dir.path().join("rmq-broker"),
        "#!/bin/sh\necho rmq-broker v2\n",
    )
    .unwrap();
    let (found, plan) = plan_apply(&aws, &c, &p).await.unwrap();
    let gate = NameserverGate::new(Admin::new(vec![ns.addr.clone()]), &name);
    let options = ApplyOptions {
        readiness: Some(Gate::new(gate)),
        ready_timeout: Duration::from_secs(4),
        ..opts()
    };
    let progress = Progress::silent();
    let started = Instant::now();
    let report = apply(&aws, &plan, &found, &options, &progress).await;
    assert!(started.elapsed() >= Duration::from_secs(4), "it waited");

    let (failed, e) = report.failed.as_ref().expect("the roll stops");
    assert_eq!(failed.key, "asg/broker-a-1");
    assert!(matches!(e, Error::NotReady { .. }), "{e}");
    let text = e.to_string();
    for part in [
        "broker-a-1 (10.0.",
        ":10911) was not ready 4 s after its instance was replaced",
        &format!("not registered with nameserver {}", ns.addr),
        &format!("(group broker-a lists {})", master.addr),
        "The roll stopped: no further instance was replaced",
    ] {
        assert!(text.contains(part), "{part:?} missing from: {text}");
    }
    let kinds: Vec<String> = progress
        .roll_events()
        .iter()
        .map(|e| match e {
            RollEvent::Replacing { node, .. } => format!("replacing {node}"),
            RollEvent::Waiting { node, .. } => format!("waiting {node}"),
            other => format!("unexpected {other}"),
        })
        .collect();
    assert_eq!(kinds, ["replacing broker-a-1", "waiting broker-a-1"]);
    assert!(report.not_done.iter().any(|a| a.key == "asg/broker-a-0"));
    assert_eq!(
        group_instances(&aws, &format!("{name}-broker-a-0")).await,
        masters_before,
        "the master's instance was not replaced"
    );
}

/// The instance ids of Auto Scaling group `group`.
async fn group_instances(aws: &rmq_aws::Aws, group: &str) -> Vec<String> {
    aws.asg
        .describe_auto_scaling_groups()
        .auto_scaling_group_names(group)
        .send()
        .await
        .unwrap()
        .auto_scaling_groups()
        .iter()
        .flat_map(|g| g.instances())
        .filter_map(|i| i.instance_id().map(str::to_owned))
        .collect()
}
