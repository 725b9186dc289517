//! The pure half: layout and plan against a fabricated discovery, no AWS at all.

#![allow(clippy::unwrap_used)]

use crate::common::{params, spec};
use rmq_aws::discovered::{Discovered, Environment, ExistingVpc};
use rmq_aws::layout::{broker_zone, name_server_zone};
use rmq_aws::params::Network;
use rmq_aws::plan::{Op, plan};
use rmq_aws::resource::{Actual, ArtefactFile, Kind, Peer, Spec, State, Value};
use rmq_aws::userdata::BOOTSTRAP;
use std::collections::BTreeMap;

fn env(zones: usize) -> Discovered {
    Discovered {
        env: Environment {
            region: "eu-west-1".into(),
            azs: ["eu-west-1a", "eu-west-1b", "eu-west-1c"][..zones]
                .iter()
                .map(|s| s.to_string())
                .collect(),
            latest_amis: [("x86_64".into(), "ami-0123".into())].into(),
            // As if --artefact-dir named a directory with both binaries.
            artefact_files: ["rmq-namesrv", "rmq-broker"]
                .iter()
                .map(|name| ArtefactFile {
                    name: (*name).into(),
                    path: format!("/opt/rmq/{name}"),
                    sha256: sha_of(name),
                    embedded: None,
                })
                .collect(),
            ..Environment::default()
        },
        ..Discovered::default()
    }
}

/// A stand-in SHA-256 per binary (distinct, so a mix-up shows).
fn sha_of(name: &str) -> String {
    if name == "rmq-broker" { "b0" } else { "a0" }.repeat(32)
}

/// The header assignments of a launch template's user data, resolved with fixed addresses.
fn header_of(p: &rmq_aws::Plan, key: &str) -> BTreeMap<String, String> {
    let Spec::LaunchTemplate {
        user_data: Some(u), ..
    } = &p.resource(key).unwrap().spec
    else {
        unreachable!()
    };
    let text = u.resolve(&node_state()).unwrap();
    let head = text.strip_suffix(BOOTSTRAP).unwrap();
    head.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.trim_matches('\'').to_owned()))
        .collect()
}

/// The node interfaces and volumes of a 2-nameserver, 1 x 2 broker cluster, as if created.
fn node_state() -> State {
    let mut state = State::default();
    for k in [
        "eni/namesrv-0",
        "eni/namesrv-1",
        "eni/broker-a-0",
        "eni/broker-a-1",
    ] {
        state.put(Actual::new(Kind::NetworkInterface, k, "eni-1").with("ip", "10.0.0.9"));
    }
    for k in ["volume/broker-a-0", "volume/broker-a-1"] {
        state.put(Actual::new(Kind::Volume, k, "vol-1"));
    }
    state
}

#[test]
fn user_data_pins_each_nodes_binary_checksum() {
    let c = spec("orders", 2, 1, 2);
    let p = plan(&c, &params("bkt", None), &env(2)).unwrap();
    for key in ["lt/namesrv-0", "lt/namesrv-1"] {
        assert_eq!(
            header_of(&p, key)["RMQ_BINARY_SHA256"],
            sha_of("rmq-namesrv"),
            "{key}"
        );
    }
    for key in ["lt/broker-a-0", "lt/broker-a-1"] {
        assert_eq!(
            header_of(&p, key)["RMQ_BINARY_SHA256"],
            sha_of("rmq-broker"),
            "{key}"
        );
    }
    // Without --artefact-dir: the checksums published under the prefix (no roll on re-apply).
    let mut published = env(2);
    published.env.artefact_files.clear();
    // Both binaries are under the prefix; only rmq-broker carries its checksum metadata.
    published.state.put(
        Actual::new(Kind::Artefacts, "artefacts", "bkt")
            .with("sha256/rmq-broker", "c0".repeat(32))
            .with("sha256/rmq-namesrv", ""),
    );
    published
        .env
        .published_sha256
        .insert("rmq-broker".into(), "c0".repeat(32));
    let p = plan(&c, &params("bkt", None), &published).unwrap();
    assert_eq!(
        header_of(&p, "lt/broker-a-0")["RMQ_BINARY_SHA256"],
        "c0".repeat(32)
    );
    assert_eq!(header_of(&p, "lt/namesrv-0")["RMQ_BINARY_SHA256"], "");
    // A new broker build changes the brokers' launch templates, not the nameservers'.
    let mut rebuilt = env(2);
    rebuilt.env.artefact_files[1].sha256 = "d0".repeat(32);
    let q = plan(&c, &params("bkt", None), &rebuilt).unwrap();
    let before = plan(&c, &params("bkt", None), &env(2)).unwrap();
    let hash = |pl: &rmq_aws::Plan, key: &str| pl.resource(key).unwrap().hash(&node_state());
    assert_ne!(hash(&q, "lt/broker-a-0"), hash(&before, "lt/broker-a-0"));
    assert_ne!(hash(&q, "lt/broker-a-1"), hash(&before, "lt/broker-a-1"));
    assert_eq!(hash(&q, "lt/namesrv-0"), hash(&before, "lt/namesrv-0"));
}

fn count(p: &rmq_aws::Plan, kind: Kind) -> usize {
    p.resources.iter().filter(|r| r.kind() == kind).count()
}

#[test]
fn new_vpc_layout_matches_the_templates() {
    let p = plan(&spec("orders", 2, 2, 2), &params("bkt", None), &env(2)).unwrap();
    assert_eq!(count(&p, Kind::Vpc), 1);
    assert_eq!(count(&p, Kind::Subnet), 4);
    assert_eq!(count(&p, Kind::NatGateway), 2);
    assert_eq!(count(&p, Kind::ElasticIp), 2);
    assert_eq!(count(&p, Kind::RouteTable), 3);
    assert_eq!(count(&p, Kind::SecurityGroup), 4);
    assert_eq!(count(&p, Kind::NetworkInterface), 6);
    assert_eq!(count(&p, Kind::Volume), 4);
    assert_eq!(count(&p, Kind::LaunchTemplate), 7);
    assert_eq!(count(&p, Kind::AutoScalingGroup), 7);
    // Everything is a create, in creation order.
    assert!(p.actions.iter().all(|a| a.op == Op::Create));
    let ranks: Vec<usize> = p.actions.iter().map(|a| a.kind.rank()).collect();
    assert!(ranks.windows(2).all(|w| w[0] <= w[1]));
    // Subnets as in rmq-vpc.yaml.
    let cidr = |k: &str| match &p.resource(k).unwrap().spec {
        Spec::Subnet { cidr, az, .. } => format!("{cidr} {az}"),
        _ => unreachable!(),
    };
    assert_eq!(cidr("subnet/private-1"), "10.0.0.0/19 eu-west-1a");
    assert_eq!(cidr("subnet/private-2"), "10.0.32.0/19 eu-west-1b");
    assert_eq!(cidr("subnet/public-2"), "10.0.144.0/20 eu-west-1b");
}

#[test]
fn single_nat_and_three_zones() {
    let mut prm = params("bkt", None);
    prm.network = Network::New {
        cidr: "10.0.0.0/16".into(),
        azs: vec![],
        az_count: 3,
        nat_per_az: false,
    };
    let p = plan(&spec("orders", 3, 2, 3), &prm, &env(3)).unwrap();
    assert_eq!(count(&p, Kind::NatGateway), 1);
    assert_eq!(count(&p, Kind::RouteTable), 4);
    match &p.resource("rtb/private-3").unwrap().spec {
        Spec::RouteTable { default_route, .. } => {
            assert!(format!("{default_route:?}").contains("nat/1"))
        }
        _ => unreachable!(),
    }
}

#[test]
fn placement_spreads_groups_and_rotates_masters() {
    assert_eq!(
        (0..3).map(|i| name_server_zone(i, 2)).collect::<Vec<_>>(),
        [0, 1, 0]
    );
    // Group a: replicas in zones 0,1,2; group b: 1,2,0 (its master in zone 2 of 3).
    assert_eq!(
        (0..3).map(|r| broker_zone(0, r, 3)).collect::<Vec<_>>(),
        [0, 1, 2]
    );
    assert_eq!(
        (0..3).map(|r| broker_zone(1, r, 3)).collect::<Vec<_>>(),
        [1, 2, 0]
    );
    let p = plan(&spec("orders", 1, 2, 2), &params("bkt", None), &env(2)).unwrap();
    let subnet = |k: &str| match &p.resource(k).unwrap().spec {
        Spec::NetworkInterface { subnet, .. } => format!("{subnet:?}"),
        _ => unreachable!(),
    };
    assert!(subnet("eni/broker-a-0").contains("private-1"));
    assert!(subnet("eni/broker-a-1").contains("private-2"));
    assert!(subnet("eni/broker-b-0").contains("private-2"));
    assert!(subnet("eni/broker-b-1").contains("private-1"));
    match &p.resource("volume/broker-b-0").unwrap().spec {
        Spec::Volume {
            az,
            size_gib,
            volume_type,
            iops,
            throughput,
            ..
        } => {
            assert_eq!(
                (az.as_str(), *size_gib, volume_type.as_str()),
                ("eu-west-1b", 30, "gp3")
            );
            assert_eq!((*iops, *throughput), (Some(3000), Some(125)));
        }
        _ => unreachable!(),
    }
}

#[test]
fn security_groups_follow_the_contract() {
    let p = plan(&spec("orders", 1, 1, 2), &params("bkt", None), &env(2)).unwrap();
    let rules = |k: &str| match &p.resource(k).unwrap().spec {
        Spec::SecurityGroupRules {
            ingress, egress, ..
        } => (ingress.clone(), egress.clone()),
        _ => unreachable!(),
    };
    let (ns_in, ns_out) = rules("rules/namesrv");
    let ports: Vec<(i32, i32)> = ns_in.iter().map(|r| (r.from, r.to)).collect();
    assert_eq!(ports, [(9876, 9876), (9876, 9876), (22, 22), (9876, 9876)]);
    assert!(
        ns_in
            .iter()
            .all(|r| !matches!(&r.peer, Peer::Cidr(c) if c == "0.0.0.0/0")),
        "nothing open to the internet"
    );
    assert_eq!(ns_out.len(), 1);
    assert_eq!(ns_out[0].from, 443);
    let (br_in, br_out) = rules("rules/broker");
    let ha = br_in.iter().find(|r| r.to == 10912).unwrap();
    assert_eq!(
        ha.peer,
        Peer::Group(Value::id("sg/broker")),
        "10912 only from brokers"
    );
    assert_eq!(br_out.len(), 3);
    let (b_in, b_out) = rules("rules/bastion");
    assert_eq!(b_in[0].peer, Peer::Cidr("203.0.113.4/32".into()));
    // the documented topic step runs from the bastion: it reaches both admin ports
    for port in [9876, 10911] {
        assert!(
            b_out.iter().any(|r| r.from == port),
            "bastion egress {port}"
        );
    }
    let bastion = Peer::Group(Value::id("sg/bastion"));
    assert!(ns_in.iter().any(|r| r.from == 9876 && r.peer == bastion));
    assert!(br_in.iter().any(|r| r.from == 10911 && r.peer == bastion));
}

#[test]
fn user_data_is_the_header_plus_the_bootstrap() {
    let p = plan(&spec("orders", 2, 1, 2), &params("bkt", None), &env(2)).unwrap();
    let Spec::LaunchTemplate {
        user_data: Some(u),
        groups,
        public_ip,
        ..
    } = &p.resource("lt/broker-a-1").unwrap().spec
    else {
        unreachable!()
    };
    assert!(!public_ip);
    assert_eq!(groups, &[Value::id("sg/broker")]);
    let mut state = State::default();
    for (k, ip) in [
        ("eni/namesrv-0", "10.0.1.5"),
        ("eni/namesrv-1", "10.0.33.6"),
        ("eni/broker-a-1", "10.0.40.7"),
    ] {
        state.put(Actual::new(Kind::NetworkInterface, k, format!("eni-{ip}")).with("ip", ip));
    }
    state.put(Actual::new(Kind::Volume, "volume/broker-a-1", "vol-1"));
    let text = u.resolve(&state).unwrap();
    let head = text.strip_suffix(BOOTSTRAP).unwrap();
    let header: BTreeMap<&str, &str> = head.lines().filter_map(|l| l.split_once('=')).collect();
    assert_eq!(header["RMQ_NAMESRV_ADDR"], "'10.0.1.5:9876;10.0.33.6:9876'");
    assert_eq!(header["RMQ_BROKER_ROLE"], "'SLAVE'");
    assert_eq!(header["RMQ_BROKER_ID"], "'1'");
    assert_eq!(header["RMQ_NODE_IP"], "'10.0.40.7'");
    assert_eq!(header["RMQ_ARTEFACT_PREFIX"], "'rmq/orders/0.1.0/'");
    assert_eq!(header["RMQ_REGION"], "'eu-west-1'");
    assert_eq!(header["RMQ_FILE_RESERVED_TIME"], "'72'");
    assert_eq!(header["RMQ_DELETE_WHEN"], "'04'");
    assert_eq!(header["RMQ_DISK_MAX_USED_SPACE_RATIO"], "'75'");
    assert_eq!(
        header["RMQ_BINARY_SHA256"],
        format!("'{}'", sha_of("rmq-broker"))
    );
    assert_eq!(header.len(), 22, "{header:?}");
}

#[test]
fn existing_vpc_creates_no_network() {
    let mut prm = params("bkt", None);
    prm.network = Network::Existing {
        vpc_id: "vpc-1".into(),
        subnet_ids: vec!["subnet-1".into(), "subnet-2".into()],
        bastion_security_group: Some("sg-bastion".into()),
    };
    prm.bastion_count = 0;
    let mut d = env(2);
    d.env.existing_vpc = Some(ExistingVpc {
        id: "vpc-1".into(),
        cidr: "172.31.0.0/16".into(),
        subnets: vec![
            ("subnet-1".into(), "eu-west-1a".into()),
            ("subnet-2".into(), "eu-west-1b".into()),
        ],
    });
    for (k, id) in [
        ("vpc", "vpc-1"),
        ("subnet/private-1", "subnet-1"),
        ("subnet/private-2", "subnet-2"),
    ] {
        d.state.put(Actual::new(
            if k == "vpc" { Kind::Vpc } else { Kind::Subnet },
            k,
            id,
        ));
        d.external.insert(k.into());
    }
    let p = plan(&spec("orders", 1, 1, 1), &prm, &d).unwrap();
    for kind in [
        Kind::Vpc,
        Kind::Subnet,
        Kind::NatGateway,
        Kind::RouteTable,
        Kind::InternetGateway,
    ] {
        assert_eq!(count(&p, kind), 0, "{kind}");
    }
    assert!(
        p.actions
            .iter()
            .all(|a| !a.key.starts_with("subnet/") && a.key != "vpc")
    );
    match &p.resource("rules/broker").unwrap().spec {
        Spec::SecurityGroupRules { ingress, .. } => {
            assert!(
                ingress
                    .iter()
                    .any(|r| r.peer == Peer::Group(Value::lit("sg-bastion")))
            )
        }
        _ => unreachable!(),
    }
}

#[test]
fn bad_input_names_the_flag_and_the_fix() {
    let mut prm = params("Not_A_Bucket", None);
    prm.key_pair = None;
    let errs = plan(&spec("orders", 1, 1, 1), &prm, &env(2)).unwrap_err();
    let text: Vec<String> = errs.iter().map(ToString::to_string).collect();
    assert!(
        text.iter()
            .any(|t| t.starts_with("--key-pair") && t.contains("fix:")),
        "{text:?}"
    );
    assert!(
        text.iter().any(|t| t.starts_with("--artefact-bucket")),
        "{text:?}"
    );
    // Zones cannot be found: a clear error, not a panic.
    let mut d = env(2);
    d.env.azs.truncate(1);
    let errs = plan(&spec("orders", 1, 1, 1), &params("bkt", None), &d).unwrap_err();
    assert!(
        errs[0].to_string().contains("1 Availability Zone"),
        "{errs:?}"
    );
    // No AMI anywhere.
    let mut d = env(2);
    d.env.latest_amis.clear();
    let errs = plan(&spec("orders", 1, 1, 1), &params("bkt", None), &d).unwrap_err();
    assert!(errs[0].to_string().contains("--ami-id"), "{errs:?}");
}

#[test]
fn moving_a_node_to_another_zone_is_refused() {
    let mut d = env(2);
    d.state.put(
        Actual::new(Kind::Subnet, "subnet/private-1", "subnet-1")
            .with("cidr", "10.0.0.0/19")
            .with("az", "eu-west-1a"),
    );
    d.state.put(
        Actual::new(Kind::NetworkInterface, "eni/namesrv-0", "eni-1")
            .with("ip", "10.0.0.5")
            .with("subnet", "subnet-OTHER"),
    );
    let errs = plan(&spec("orders", 1, 1, 1), &params("bkt", None), &d).unwrap_err();
    assert!(
        errs.iter()
            .any(|e| e.what.contains("eni/namesrv-0") && e.what.contains("subnet")),
        "{errs:?}"
    );
}

#[test]
fn monitoring_comes_with_the_log_group() {
    let c = crate::common::cluster(
        "apiVersion: rmq.dev/v1alpha1\nkind: RocketMQCluster\nmetadata: {name: orders}\nspec:\n  brokers: {groups: 1, replicasPerGroup: 2, retention: {maxDiskUsedPercent: 80}}\n",
    );
    let off = plan(&c, &params("bkt", None), &env(2)).unwrap();
    assert_eq!(count(&off, Kind::Alarm) + count(&off, Kind::Dashboard), 0);
    assert!(off.warnings.iter().any(|w| w.contains("no --log-group")));

    let mut prm = params("bkt", None);
    prm.log_group = Some("rmq-logs".into());
    prm.replication_lag_alarm_bytes = 1024;
    let p = plan(&c, &prm, &env(2)).unwrap();
    // The template's five, and a status check alarm per node (1 nameserver, 2 brokers).
    assert_eq!(count(&p, Kind::Alarm), 8);
    let last: Vec<&str> = p
        .actions
        .iter()
        .rev()
        .take(6)
        .map(|a| a.key.as_str())
        .collect();
    assert_eq!(last[0], "dashboard");
    let alarm = |k: &str| match &p.resource(k).unwrap().spec {
        Spec::Alarm(a) => a.clone(),
        _ => unreachable!(),
    };
    let disk = alarm("alarm/disk-above-retention-ratio");
    assert_eq!(
        (disk.name.as_str(), disk.threshold),
        ("rmq-orders-disk-above-retention-ratio", 0.8)
    );
    assert_eq!(
        disk.dimensions,
        [("ClusterName".to_owned(), "orders".to_owned())]
    );
    assert_eq!(alarm("alarm/replication-lag").threshold, 1024.0);
    assert!(alarm("alarm/broker-not-ready").alarm_actions.is_empty());
    let status = alarm("alarm/broker-a-1-status-check");
    assert_eq!(
        (
            status.name.as_str(),
            status.namespace.as_str(),
            status.metric.as_str()
        ),
        (
            "rmq-orders-broker-a-1-status-check-failed",
            "AWS/EC2",
            "StatusCheckFailed"
        )
    );
    assert_eq!(
        status.dimensions,
        [(
            "AutoScalingGroupName".to_owned(),
            "orders-broker-a-1".to_owned()
        )]
    );
    match &p.resource("dashboard").unwrap().spec {
        Spec::Dashboard { name, alarms, .. } => {
            assert_eq!(name, "rmq-orders");
            assert_eq!(alarms.len(), 8);
        }
        _ => unreachable!(),
    }

    // A topic needs the log group; thresholds are at least 1.
    let mut bad = params("bkt", None);
    bad.alarm_topic_arn = Some("arn:aws:sns:eu-west-1:1:t".into());
    bad.consumer_lag_alarm_threshold = 0;
    let flags: Vec<String> = bad
        .validate()
        .unwrap_err()
        .into_iter()
        .map(|e| e.flag)
        .collect();
    assert_eq!(
        flags,
        ["--consumer-lag-alarm-threshold", "--alarm-topic-arn"]
    );
}
