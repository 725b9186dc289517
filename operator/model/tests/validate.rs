//! Validation and defaults from YAML fixtures: every error names the field path and a fix.
#![allow(clippy::unwrap_used)]

mod common;

use common::cluster;
use rmq_model::{FlushMode, ReplicationMode, validate};

#[test]
fn minimal_cluster_gets_every_default() {
    let v = validate(&cluster("cluster-minimal.yaml")).unwrap();
    assert_eq!(v.name, "demo");
    assert_eq!(v.name_servers, 1);
    assert_eq!(v.groups, 1);
    assert_eq!(v.replicas_per_group, 1);
    assert_eq!(v.replication, ReplicationMode::Async);
    assert_eq!(v.flush, FlushMode::Async);
    assert_eq!(v.storage_size, "20Gi");
    assert_eq!(v.storage_bytes, 20 * 1024 * 1024 * 1024);
    assert_eq!(v.version, rmq_model::defaults::VERSION);
    assert!(v.broker_config.is_empty());
    assert_eq!(v.retention, rmq_model::validate::Retention::default());
    assert_eq!(
        (v.retention.hours, v.retention.delete_when.as_str()),
        (72, "04")
    );
    assert_eq!(v.retention.max_disk_used_percent, 75);
}

#[test]
fn full_cluster_keeps_every_field() {
    let v = validate(&cluster("cluster-full.yaml")).unwrap();
    assert_eq!((v.name_servers, v.groups, v.replicas_per_group), (3, 3, 2));
    assert_eq!(v.broker_count(), 6);
    assert_eq!(v.namespace.as_deref(), Some("mq"));
    assert_eq!(v.replication, ReplicationMode::Sync);
    assert_eq!(v.flush, FlushMode::Sync);
    assert_eq!(v.storage_class.as_deref(), Some("gp3"));
    assert_eq!(v.version, "0.2.0");
    // deleteWhen "04" repeats spec.brokers.retention's default: kept there, not in the config.
    assert_eq!(v.retention.delete_when, "04");
    assert_eq!(
        v.broker_config.keys().collect::<Vec<_>>(),
        ["autoCreateTopicEnable"]
    );
}

#[test]
fn every_problem_is_reported_with_path_and_fix() {
    let errs = validate(&cluster("cluster-bad.yaml")).unwrap_err();
    let text: Vec<String> = errs.iter().map(ToString::to_string).collect();
    let has = |path: &str, what: &str| {
        assert!(
            errs.iter()
                .any(|e| e.path == path && e.message.contains(what) && !e.fix.is_empty()),
            "no error at {path} containing {what:?}: {text:#?}"
        );
    };
    has("metadata.name", "not a valid cluster name");
    has("spec.nameServer.replicas", "must be >= 1, got 0");
    has("spec.brokers.groups", "must be >= 1, got -1");
    has("spec.brokers.replication", "needs a slave");
    has("spec.brokers.storage.size", "not a size");
    has("spec.brokers.config.brokerRole", "set by rmq");
    has("spec.brokers.config.bad key", "not a broker.conf key");
    assert_eq!(errs.len(), 7, "{text:#?}");
    assert_eq!(
        text.iter()
            .find(|t| t.starts_with("spec.brokers.groups"))
            .unwrap(),
        "spec.brokers.groups: must be >= 1, got -1 (fix: set how many broker groups (shards) to run, e.g. 2)"
    );
}

#[test]
fn limits_are_enforced() {
    let mut c = cluster("cluster-minimal.yaml");
    c.spec.brokers.groups = 65;
    c.spec.brokers.replicas_per_group = 9;
    c.spec.name_server.replicas = 17;
    let errs = validate(&c).unwrap_err();
    let paths: Vec<&str> = errs.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "spec.nameServer.replicas",
            "spec.brokers.groups",
            "spec.brokers.replicasPerGroup"
        ]
    );
    assert!(errs[1].message.contains("<= 64"));
}

#[test]
fn quantities() {
    use rmq_model::validate::parse_quantity;
    assert_eq!(parse_quantity("1Ki"), Some(1024));
    assert_eq!(parse_quantity("1.5Gi"), Some(1_610_612_736));
    assert_eq!(parse_quantity("500M"), Some(500_000_000));
    assert_eq!(parse_quantity("1000"), Some(1000));
    assert_eq!(parse_quantity("0"), None);
    assert_eq!(parse_quantity("-1Gi"), None);
    assert_eq!(parse_quantity("20GB"), None);
    assert_eq!(parse_quantity(""), None);
}
