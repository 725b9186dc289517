//! `spec.brokers.retention`: defaults, limits, conflicts with `spec.brokers.config`, the rendered
//! broker.conf keys and the CRD schema.
#![allow(clippy::unwrap_used)]

mod common;

use common::cluster;
use rmq_model::desired::{Addressing, Endpoint, desired_cluster};
use rmq_model::validate::{RETENTION_KEYS, Retention, ValidatedCluster, is_delete_when};
use rmq_model::{RocketMQCluster, validate};

/// Local-like addressing; only the rendered retention keys matter here.
struct Loopback;

impl Addressing for Loopback {
    fn name_server(&self, _: &ValidatedCluster, i: u32) -> Endpoint {
        Endpoint {
            host: "127.0.0.1".into(),
            port: 9876 + u16::try_from(i).unwrap(),
        }
    }
    fn broker(&self, _: &ValidatedCluster, g: u32, r: u32) -> Endpoint {
        Endpoint {
            host: "127.0.0.1".into(),
            port: 10911 + u16::try_from(10 * (2 * g + r)).unwrap(),
        }
    }
    fn broker_store_dir(&self, _: &ValidatedCluster, node: &str) -> String {
        format!("/tmp/{node}")
    }
}

/// The values of `key` in a broker.conf, in order.
fn values<'a>(conf: &'a str, key: &str) -> Vec<&'a str> {
    conf.lines()
        .filter_map(|l| l.split_once('='))
        .filter(|(k, _)| *k == key)
        .map(|(_, v)| v)
        .collect()
}

fn minimal_with(edit: impl FnOnce(&mut RocketMQCluster)) -> RocketMQCluster {
    let mut c = cluster("cluster-minimal.yaml");
    edit(&mut c);
    c
}

#[test]
fn defaults_reach_every_broker_conf() {
    let mut c = cluster("cluster-minimal.yaml");
    c.spec.brokers.groups = 2;
    c.spec.brokers.replicas_per_group = 2;
    let v = validate(&c).unwrap();
    let d = desired_cluster(&v, &Loopback);
    assert_eq!(d.brokers.len(), 4);
    for b in &d.brokers {
        let conf = &b.broker_conf;
        assert_eq!(values(conf, "fileReservedTime"), ["72"], "{conf}");
        assert_eq!(values(conf, "deleteWhen"), ["04"], "{conf}");
        assert_eq!(values(conf, "diskMaxUsedSpaceRatio"), ["75"], "{conf}");
        assert!(conf.contains("\n# spec.brokers.retention\n"), "{conf}");
    }
}

#[test]
fn a_partial_retention_block_gets_the_other_defaults() {
    let yaml = "apiVersion: rmq.dev/v1alpha1\nkind: RocketMQCluster\nmetadata: {name: p}\nspec:\n  brokers:\n    retention: {hours: 24}\n";
    let docs = rmq_model::manifest::parse_str("p.yaml", yaml).unwrap();
    let decls = rmq_model::manifest::declarations(docs).unwrap();
    let v = &decls.clusters[0].1;
    assert_eq!(
        v.retention,
        Retention {
            hours: 24,
            delete_when: "04".into(),
            max_disk_used_percent: 75,
        }
    );
}

#[test]
fn custom_retention_is_rendered_once_even_when_the_config_repeats_it() {
    let v = validate(&cluster("cluster-retention.yaml")).unwrap();
    assert_eq!(v.retention.hours, 168);
    assert_eq!(v.retention.delete_when, "04;16");
    assert_eq!(v.retention.max_disk_used_percent, 85);
    assert_eq!(
        v.broker_config.keys().collect::<Vec<_>>(),
        ["autoCreateTopicEnable"]
    );
    let conf = &desired_cluster(&v, &Loopback).brokers[0].broker_conf;
    assert_eq!(values(conf, "fileReservedTime"), ["168"], "{conf}");
    assert_eq!(values(conf, "deleteWhen"), ["04;16"], "{conf}");
    assert_eq!(values(conf, "diskMaxUsedSpaceRatio"), ["85"], "{conf}");
    assert_eq!(values(conf, "autoCreateTopicEnable"), ["false"], "{conf}");
}

#[test]
fn bad_values_and_conflicts_name_the_field_and_the_fix() {
    let errs = validate(&cluster("cluster-retention-bad.yaml")).unwrap_err();
    let text: Vec<String> = errs.iter().map(ToString::to_string).collect();
    let find = |path: &str, what: &str, fix: &str| {
        assert!(
            errs.iter()
                .any(|e| e.path == path && e.message.contains(what) && e.fix.contains(fix)),
            "no error at {path} containing {what:?} / fix {fix:?}: {text:#?}"
        );
    };
    find(
        "spec.brokers.retention.hours",
        "must be >= 1, got 0",
        "e.g. 72",
    );
    find(
        "spec.brokers.retention.deleteWhen",
        "\"4;24\" is not a list of hours of the day",
        "two-digit hours 00-23 separated by ';'",
    );
    find(
        "spec.brokers.retention.maxDiskUsedPercent",
        "must be <= 95, got 96",
        "e.g. 75",
    );
    find(
        "spec.brokers.config.fileReservedTime",
        "conflicts with spec.brokers.retention.hours (\"0\")",
        "remove fileReservedTime from spec.brokers.config and set spec.brokers.retention.hours",
    );
    find(
        "spec.brokers.config.diskMaxUsedSpaceRatio",
        "diskMaxUsedSpaceRatio=\"80\" conflicts with spec.brokers.retention.maxDiskUsedPercent",
        "remove diskMaxUsedSpaceRatio from spec.brokers.config",
    );
    assert_eq!(errs.len(), 5, "{text:#?}");
}

#[test]
fn a_config_key_that_differs_from_the_default_is_a_conflict() {
    let c = minimal_with(|c| {
        c.spec
            .brokers
            .config
            .insert("deleteWhen".into(), "03".into());
    });
    let errs = validate(&c).unwrap_err();
    assert_eq!(errs.len(), 1, "{errs:#?}");
    assert_eq!(
        errs[0].to_string(),
        "spec.brokers.config.deleteWhen: deleteWhen=\"03\" conflicts with spec.brokers.retention.deleteWhen (\"04\"), which sets the same broker.conf key (fix: remove deleteWhen from spec.brokers.config and set spec.brokers.retention.deleteWhen to the value you want)"
    );
}

#[test]
fn limits_are_inclusive() {
    for (hours, percent) in [(1, 10), (87_600, 95)] {
        let c = minimal_with(|c| {
            c.spec.brokers.retention.hours = hours;
            c.spec.brokers.retention.max_disk_used_percent = percent;
        });
        assert!(validate(&c).is_ok(), "{hours} h, {percent}%");
    }
    let c = minimal_with(|c| {
        c.spec.brokers.retention.hours = 87_601;
        c.spec.brokers.retention.max_disk_used_percent = 9;
    });
    let paths: Vec<String> = validate(&c)
        .unwrap_err()
        .into_iter()
        .map(|e| e.path)
        .collect();
    assert_eq!(
        paths,
        [
            "spec.brokers.retention.hours",
            "spec.brokers.retention.maxDiskUsedPercent"
        ]
    );
}

#[test]
fn delete_when_is_two_digit_hours() {
    for ok in ["00", "04", "23", "04;16", "00;06;12;18"] {
        assert!(is_delete_when(ok), "{ok}");
    }
    for bad in [
        "", "4", "004", "24", "04;", ";04", "04 ;16", "04,16", "ab", "+4",
    ] {
        assert!(!is_delete_when(bad), "{bad:?}");
    }
}

#[test]
fn crd_schema_carries_defaults_limits_and_the_conflict_rule() {
    let yaml = rmq_model::crd::crds_yaml().unwrap();
    for needle in [
        "maxDiskUsedPercent:",
        "maximum: 87600.0",
        "pattern: ^([01][0-9]|2[0-3])(;([01][0-9]|2[0-3]))*$",
        "spec.brokers.config sets fileReservedTime, deleteWhen or diskMaxUsedSpaceRatio",
    ] {
        assert!(yaml.contains(needle), "{needle} not in the CRDs");
    }
    let keys: Vec<&str> = RETENTION_KEYS.iter().map(|(k, _)| *k).collect();
    assert_eq!(
        keys,
        ["fileReservedTime", "deleteWhen", "diskMaxUsedSpaceRatio"]
    );
}
