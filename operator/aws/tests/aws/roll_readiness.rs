//! The roll after a new binary build, against moto: one node at a time, nameservers first,
//! then slaves, then masters; each replaced node is waited for by the readiness gate before its
//! new instance goes in service (it waits in Pending:Wait on the node group's launch lifecycle
//! hook until then) and before the next node's instance is terminated. A node the gate never
//! sees ready stops the roll there; the next apply looks at it again and continues the roll.
//! (The gate is a recording stand-in here; `readiness_gate.rs` runs the real one.)

#![allow(clippy::unwrap_used, missing_docs)]

use crate::common::{connect, converge, endpoint, fake_artefacts, opts, params, spec, unique};
use rmq_aws::readiness::{Gate, GateFuture, Readiness, RolledNode, Status};
use rmq_aws::resource::READY_HOOK;
use rmq_aws::roll::rolled_nodes;
use rmq_aws::{ApplyOptions, Aws, Error, Progress, RollEvent, apply, plan_apply};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A gate that records what the roll asked: a node is ready at its second look, except
/// `stuck`, which never is.
#[derive(Default)]
struct Recorder {
    asked: Mutex<Vec<String>>,
    looks: Mutex<BTreeMap<String, usize>>,
    stuck: Option<String>,
}

impl Readiness for Recorder {
    fn before<'a>(&'a self, node: &'a RolledNode) -> GateFuture<'a, Result<(), String>> {
        self.asked
            .lock()
            .unwrap()
            .push(format!("before {}", node.node));
        Box::pin(async { Ok(()) })
    }

    fn check<'a>(&'a self, node: &'a RolledNode) -> GateFuture<'a, Status> {
        self.asked
            .lock()
            .unwrap()
            .push(format!("check {}", node.node));
        let mut looks = self.looks.lock().unwrap();
        let n = looks.entry(node.node.clone()).or_default();
        *n += 1;
        let status = if self.stuck.as_deref() == Some(node.node.as_str()) {
            Status::Waiting("not registered with nameserver 10.0.0.9:9876 (test)".into())
        } else if *n < 2 {
            Status::Waiting(format!("look {n}"))
        } else {
            Status::Ready(format!("ready at look {n}"))
        };
        Box::pin(async move { status })
    }
}

/// The roll events as `<what> <node>` lines.
fn events(p: &Progress) -> Vec<String> {
    p.roll_events()
        .iter()
        .map(|e| {
            let what = match e {
                RollEvent::Replacing { .. } => "replacing",
                RollEvent::Waiting { .. } => "waiting",
                RollEvent::Ready { .. } => "ready",
                RollEvent::InService { .. } => "in-service",
            };
            format!("{what} {}", e.node())
        })
        .collect()
}

/// The instance ids of node `node`'s group, with their lifecycle states.
async fn instances(aws: &Aws, cluster: &str, node: &str) -> Vec<(String, String)> {
    let out = aws
        .asg
        .describe_auto_scaling_groups()
        .auto_scaling_group_names(format!("{cluster}-{node}"))
        .send()
        .await
        .unwrap();
    out.auto_scaling_groups()
        .iter()
        .flat_map(|g| g.instances())
        .map(|i| {
            (
                i.instance_id().unwrap_or_default().to_owned(),
                i.lifecycle_state()
                    .map(|s| s.as_str().to_owned())
                    .unwrap_or_default(),
            )
        })
        .collect()
}

/// A new build of `binaries` in `dir`.
fn rebuild(dir: &Path, binaries: &[&str]) {
    for b in binaries {
        std::fs::write(dir.join(b), format!("#!/bin/sh\necho {b} v2\n")).unwrap();
    }
}

/// Options with the gate `g`.
fn gated(g: &Arc<Recorder>, ready_timeout: Duration) -> ApplyOptions {
    ApplyOptions {
        readiness: Some(Gate(g.clone())),
        ready_timeout,
        ..opts()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_build_rolls_nameservers_then_slaves_then_masters_each_once_ready() {
    let Some(ep) = endpoint() else { return };
    let aws = connect(&ep).await;
    let name = unique("roll");
    let c = spec(&name, 2, 1, 2);
    let dir = fake_artefacts();
    let p = params(&format!("{name}-artefacts"), Some(dir.path()));
    converge(&aws, &c, &p).await;
    let order = ["namesrv-0", "namesrv-1", "broker-a-1", "broker-a-0"];
    let mut old = BTreeMap::new();
    for node in order {
        let hooks = aws
            .asg
            .describe_lifecycle_hooks()
            .auto_scaling_group_name(format!("{name}-{node}"))
            .send()
            .await
            .unwrap();
        let hook = &hooks.lifecycle_hooks()[0];
        assert_eq!(hook.lifecycle_hook_name(), Some(READY_HOOK));
        assert_eq!(
            hook.lifecycle_transition(),
            Some("autoscaling:EC2_INSTANCE_LAUNCHING")
        );
        assert_eq!(hook.default_result(), Some("CONTINUE"));
        old.insert(node, instances(&aws, &name, node).await);
    }

    rebuild(dir.path(), &["rmq-namesrv", "rmq-broker"]);
    let (found, plan) = plan_apply(&aws, &c, &p).await.unwrap();
    assert_eq!(rolled_nodes(&plan.actions), order);
    let gate = Arc::new(Recorder::default());
    let progress = Progress::silent();
    let report = apply(
        &aws,
        &plan,
        &found,
        &gated(&gate, Duration::from_secs(30)),
        &progress,
    )
    .await;
    assert!(report.ok(), "{:?}", report.failed);

    let want: Vec<String> = order
        .iter()
        .flat_map(|n| {
            ["replacing", "waiting", "ready", "in-service"].map(|what| format!("{what} {n}"))
        })
        .collect();
    assert_eq!(
        events(&progress),
        want,
        "one node at a time, each once ready"
    );
    let asked: Vec<String> = order
        .iter()
        .flat_map(|n| ["before", "check", "check"].map(|what| format!("{what} {n}")))
        .collect();
    assert_eq!(*gate.asked.lock().unwrap(), asked);
    for node in order {
        let now = instances(&aws, &name, node).await;
        assert_eq!(now.len(), 1, "{node}: {now:?}");
        assert_ne!(now, old[node], "{node} was replaced");
        assert_eq!(now[0].1, "InService", "{node}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_node_that_is_not_ready_stops_the_roll_and_the_next_apply_continues_it() {
    let Some(ep) = endpoint() else { return };
    let aws = connect(&ep).await;
    let name = unique("stuck");
    let c = spec(&name, 1, 1, 2);
    let dir = fake_artefacts();
    let p = params(&format!("{name}-artefacts"), Some(dir.path()));
    converge(&aws, &c, &p).await;
    let master = instances(&aws, &name, "broker-a-0").await;

    rebuild(dir.path(), &["rmq-broker"]);
    let (found, plan) = plan_apply(&aws, &c, &p).await.unwrap();
    assert_eq!(rolled_nodes(&plan.actions), ["broker-a-1", "broker-a-0"]);
    let gate = Arc::new(Recorder {
        stuck: Some("broker-a-1".into()),
        ..Recorder::default()
    });
    let progress = Progress::silent();
    let report = apply(
        &aws,
        &plan,
        &found,
        &gated(&gate, Duration::from_secs(2)),
        &progress,
    )
    .await;
    let (failed, e) = report.failed.as_ref().expect("the roll stops");
    assert_eq!(failed.key, "asg/broker-a-1");
    assert!(matches!(e, Error::NotReady { .. }), "{e}");
    let text = e.to_string();
    for part in [
        "broker-a-1 (10.0.",
        "was not ready 2 s after its instance was replaced",
        "not registered with nameserver",
        "The roll stopped: no further instance was replaced",
        "Pending:Wait",
        "run the same command again",
    ] {
        assert!(text.contains(part), "{part:?} missing from: {text}");
    }
    assert!(report.not_done.iter().any(|a| a.key == "asg/broker-a-0"));
    assert_eq!(
        events(&progress),
        ["replacing broker-a-1", "waiting broker-a-1"]
    );
    assert_eq!(
        instances(&aws, &name, "broker-a-0").await,
        master,
        "the master was not touched"
    );
    let slave = instances(&aws, &name, "broker-a-1").await;
    assert_eq!(slave.len(), 1);
    assert_eq!(slave[0].1, "Pending:Wait", "not let in service");

    resume(&aws, &c, &p, &name, &slave[0].0, &master).await;
}

/// The stuck node is fixed: the next apply looks at it again, lets its instance (`slave`) in
/// service, then replaces the master (whose instances were `master`).
async fn resume(
    aws: &Aws,
    c: &rmq_model::ValidatedCluster,
    p: &rmq_aws::Params,
    name: &str,
    slave: &str,
    master: &[(String, String)],
) {
    let (found, plan) = plan_apply(aws, c, p).await.unwrap();
    assert_eq!(rolled_nodes(&plan.actions), ["broker-a-1", "broker-a-0"]);
    let gate = Arc::new(Recorder::default());
    let progress = Progress::silent();
    let report = apply(
        aws,
        &plan,
        &found,
        &gated(&gate, Duration::from_secs(30)),
        &progress,
    )
    .await;
    assert!(report.ok(), "{:?}", report.failed);
    assert_eq!(
        events(&progress),
        [
            "waiting broker-a-1",
            "ready broker-a-1",
            "in-service broker-a-1",
            "replacing broker-a-0",
            "waiting broker-a-0",
            "ready broker-a-0",
            "in-service broker-a-0",
        ]
    );
    assert_eq!(
        instances(aws, name, "broker-a-1").await,
        [(slave.to_owned(), "InService".to_owned())]
    );
    assert_ne!(instances(aws, name, "broker-a-0").await, master);
}
