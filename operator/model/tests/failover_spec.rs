//! `failover: Automatic` in the model: validation refuses what cannot fail over safely, and the
//! desired state holds the controllers (their controller.conf) and brokers in controller mode.
#![allow(clippy::unwrap_used, clippy::panic)]

mod common;

use rmq_model::desired::{Addressing, BrokerRole, Endpoint, desired_cluster, group_name};
use rmq_model::validate::ValidatedCluster;
use rmq_model::{FailoverMode, ReplicationMode};

/// Addressing that keeps the default controller placement (on the nameserver hosts).
struct Hosts;

impl Addressing for Hosts {
    fn name_server(&self, _: &ValidatedCluster, i: u32) -> Endpoint {
        Endpoint {
            host: format!("10.0.0.{}", 10 + i),
            port: 9876,
        }
    }
    fn broker(&self, _: &ValidatedCluster, g: u32, r: u32) -> Endpoint {
        Endpoint {
            host: format!("10.0.{}.{}", 1 + g, 20 + r),
            port: 10911,
        }
    }
    fn broker_store_dir(&self, _: &ValidatedCluster, _: &str) -> String {
        "/data/store".into()
    }
}

fn lines(conf: &str, key: &str) -> Vec<String> {
    conf.lines()
        .filter_map(|l| l.split_once('='))
        .filter(|(k, _)| *k == key)
        .map(|(_, v)| v.to_owned())
        .collect()
}

#[test]
fn controllers_sit_on_the_nameserver_hosts_and_brokers_ask_them() {
    let c = rmq_model::validate(&common::cluster("cluster-failover.yaml")).unwrap();
    let d = desired_cluster(&c, &Hosts);
    let names: Vec<&str> = d.controllers.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(names, ["controller-0", "controller-1", "controller-2"]);
    let addr = "10.0.0.10:9878;10.0.0.11:9878;10.0.0.12:9878";
    assert_eq!(d.controller_addr(), addr);
    let peers = "n0-10.0.0.10:9878;n1-10.0.0.11:9878;n2-10.0.0.12:9878";
    for (i, n) in d.controllers.iter().enumerate() {
        assert_eq!(lines(&n.conf, "controllerDLegerPeers"), [peers]);
        assert_eq!(lines(&n.conf, "controllerDLegerSelfId"), [format!("n{i}")]);
        assert_eq!(
            lines(&n.conf, "controllerStorePath"),
            [format!("/var/lib/rmq/controller-{i}")]
        );
        // a fifth of brokerTimeoutMs (3000)
        assert_eq!(lines(&n.conf, "scanNotActiveBrokerInterval"), ["600"]);
        assert_eq!(lines(&n.conf, "enableElectUncleanMaster"), ["false"]);
        assert!(lines(&n.conf, "listenAddr").is_empty());
    }
    assert_eq!(d.brokers.len(), 6);
    assert_eq!(d.masters().count(), 0, "no fixed master");
    for b in &d.brokers {
        assert_eq!(b.role, BrokerRole::Elected);
        assert!(
            lines(&b.broker_conf, "brokerRole").is_empty(),
            "{}",
            b.broker_conf
        );
        assert!(lines(&b.broker_conf, "brokerId").is_empty());
        assert_eq!(lines(&b.broker_conf, "enableControllerMode"), ["true"]);
        assert_eq!(lines(&b.broker_conf, "controllerAddr"), [addr]);
        assert_eq!(lines(&b.broker_conf, "allAckInSyncStateSet"), ["true"]);
        assert_eq!(
            lines(&b.broker_conf, "controllerHeartBeatTimeoutMills"),
            ["3000"]
        );
    }
    assert_eq!(d.brokers[3].group, group_name(1));
}

#[test]
fn fixed_roles_have_no_controllers() {
    let c = rmq_model::validate(&common::cluster("cluster-full.yaml")).unwrap();
    let d = desired_cluster(&c, &Hosts);
    assert!(d.controllers.is_empty());
    assert_eq!(d.controller_addr(), "");
    assert!(
        d.brokers
            .iter()
            .all(|b| !b.broker_conf.contains("enableControllerMode"))
    );
    assert!(
        d.brokers
            .iter()
            .all(|b| lines(&b.broker_conf, "brokerRole").len() == 1)
    );
}

/// The validation errors of the failover fixture changed by `edit`.
fn errors(edit: impl FnOnce(&mut rmq_model::RocketMQCluster)) -> Vec<String> {
    let mut c = common::cluster("cluster-failover.yaml");
    edit(&mut c);
    match rmq_model::validate(&c) {
        Ok(_) => Vec::new(),
        Err(errs) => errs.iter().map(ToString::to_string).collect(),
    }
}

#[test]
fn unsafe_failover_is_refused_with_the_fix() {
    let async_repl = errors(|c| c.spec.brokers.replication = ReplicationMode::Async);
    assert_eq!(async_repl.len(), 1, "{async_repl:?}");
    assert!(
        async_repl[0].starts_with("spec.brokers.failover: "),
        "{async_repl:?}"
    );
    assert!(async_repl[0].contains("set spec.brokers.replication to Sync"));

    let alone = errors(|c| {
        c.spec.brokers.replicas_per_group = 1;
        c.spec.brokers.replication = ReplicationMode::Sync;
    });
    assert!(
        alone.iter().any(|e| e.contains("needs a replica to elect")),
        "{alone:?}"
    );

    let even = errors(|c| c.spec.controller.replicas = 2);
    assert_eq!(even.len(), 1);
    assert!(even[0].starts_with("spec.controller.replicas: must be 1, 3, 5 or 7, got 2"));

    let fast = errors(|c| c.spec.controller.broker_timeout_ms = 10);
    assert!(
        fast[0].starts_with("spec.controller.brokerTimeoutMs"),
        "{fast:?}"
    );

    let owned = errors(|c| {
        c.spec
            .brokers
            .config
            .insert("controllerAddr".into(), "x:1".into());
    });
    assert_eq!(
        owned,
        [
            "spec.brokers.config.controllerAddr: controllerAddr is set by rmq from spec.controller (fix: remove it from spec.brokers.config)"
        ]
    );

    let manual = errors(|c| {
        c.spec.brokers.failover = FailoverMode::Manual;
        c.spec.controller.replicas = 2;
    });
    assert!(
        manual.is_empty(),
        "spec.controller is ignored with Manual: {manual:?}"
    );
}
