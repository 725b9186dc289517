//! `failover: Automatic` on AWS, pure: the controllers run on the first nameserver nodes with
//! the controller.conf rmq-model renders, the brokers get its controller-mode keys, the
//! controllers' port is opened only then, brokers roll without a fixed master, and AWS refuses
//! more controllers than nameserver nodes or a cluster without `rmq-controller`. The same
//! cluster against moto: `failover_moto.rs`.

#![allow(clippy::unwrap_used)]

use crate::common::{automatic, params, spec};
use rmq_aws::discovered::{Discovered, Environment};
use rmq_aws::plan::{Op, plan};
use rmq_aws::resource::{Actual, ArtefactFile, Kind, Peer, Spec, State, Value};
use rmq_aws::roll::{master_nodes, roll_masters_last};
use rmq_aws::userdata::BOOTSTRAP;
use rmq_model::desired::{Addressing, Endpoint, desired_cluster};
use rmq_model::{DesiredCluster, ValidatedCluster};
use std::collections::{BTreeMap, BTreeSet};

/// A stand-in SHA-256 per binary.
fn sha_of(name: &str) -> String {
    match name {
        "rmq-broker" => "b0",
        "rmq-controller" => "c0",
        _ => "a0",
    }
    .repeat(32)
}

/// Discovery of a new VPC over 3 zones; `--artefact-dir` holds `binaries`.
fn env(binaries: &[&str]) -> Discovered {
    Discovered {
        env: Environment {
            region: "eu-west-1".into(),
            azs: ["eu-west-1a", "eu-west-1b", "eu-west-1c"]
                .iter()
                .map(|s| s.to_string())
                .collect(),
            latest_amis: [("x86_64".into(), "ami-0123".into())].into(),
            artefact_files: binaries
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

const ALL: [&str; 3] = ["rmq-namesrv", "rmq-broker", "rmq-controller"];

/// The fixed address of node `name` in these tests.
fn ip_of(name: &str) -> String {
    match name.strip_prefix("namesrv-") {
        Some(i) => format!("10.0.{i}.10"),
        None => {
            let b = name.as_bytes();
            format!("10.0.1{}.{}", b[7] - b'a', 20 + b[9] - b'0')
        }
    }
}

/// Interfaces (and volumes) of `ns` nameservers and 2 x 2 brokers, as if created.
fn node_state(ns: u32) -> State {
    let mut state = State::default();
    let brokers = ["broker-a-0", "broker-a-1", "broker-b-0", "broker-b-1"];
    let names: Vec<String> = (0..ns)
        .map(|i| format!("namesrv-{i}"))
        .chain(brokers.iter().map(|b| b.to_string()))
        .collect();
    for n in &names {
        state.put(
            Actual::new(Kind::NetworkInterface, format!("eni/{n}"), "eni-1").with("ip", ip_of(n)),
        );
    }
    for b in brokers {
        state.put(Actual::new(Kind::Volume, format!("volume/{b}"), "vol-1"));
    }
    state
}

/// The header assignments of launch template `key`'s user data, resolved against `state`.
fn header_of(p: &rmq_aws::Plan, key: &str, state: &State) -> BTreeMap<String, String> {
    let Spec::LaunchTemplate {
        user_data: Some(u), ..
    } = &p.resource(key).unwrap().spec
    else {
        unreachable!()
    };
    let text = u.resolve(state).unwrap();
    let head = text.strip_suffix(BOOTSTRAP).unwrap();
    head.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.trim_matches('\'').to_owned()))
        .collect()
}

/// The nodes placed at the addresses of [`ip_of`], as rmq-model renders them for any back-end.
struct Fixed;

impl Addressing for Fixed {
    fn name_server(&self, _: &ValidatedCluster, index: u32) -> Endpoint {
        Endpoint {
            host: ip_of(&format!("namesrv-{index}")),
            port: 9876,
        }
    }
    fn broker(&self, _: &ValidatedCluster, group: u32, replica: u32) -> Endpoint {
        let letter = char::from(b'a' + group as u8);
        Endpoint {
            host: ip_of(&format!("broker-{letter}-{replica}")),
            port: 10911,
        }
    }
    fn broker_store_dir(&self, _: &ValidatedCluster, _: &str) -> String {
        "/data/rmq/store".into()
    }
}

/// `conf` without comments, one `key=value` after another (how the header carries it).
fn header_value(conf: &str) -> String {
    conf.lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The controller-mode keys of a broker.conf rmq-model rendered.
fn failover_keys(desired: &DesiredCluster, node: &str) -> String {
    let b = desired.brokers.iter().find(|b| b.name == node).unwrap();
    let keys: Vec<&str> = rmq_model::validate::FAILOVER_BROKER_KEYS
        .iter()
        .map(|(k, _)| *k)
        .collect();
    b.broker_conf
        .lines()
        .filter(|l| l.split_once('=').is_some_and(|(k, _)| keys.contains(&k)))
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn controllers_run_on_the_first_nameserver_nodes_with_the_models_conf() {
    let c = automatic("ha", 4, 3);
    let p = plan(&c, &params("bkt", None), &env(&ALL)).unwrap();
    let placed: Vec<(&str, &str, u16)> = p
        .controllers
        .iter()
        .map(|c| (c.name.as_str(), c.node.as_str(), c.port))
        .collect();
    assert_eq!(
        placed,
        [
            ("controller-0", "namesrv-0", 9878),
            ("controller-1", "namesrv-1", 9878),
            ("controller-2", "namesrv-2", 9878)
        ]
    );
    let state = node_state(4);
    let desired = desired_cluster(&c, &Fixed);
    for i in 0..3 {
        let h = header_of(&p, &format!("lt/namesrv-{i}"), &state);
        let conf = &h["RMQ_CONTROLLER_CONF"];
        assert_eq!(*conf, header_value(&desired.controllers[i].conf));
        for line in [
            "controllerDLegerGroup=ha-controllers".to_owned(),
            "controllerDLegerPeers=n0-10.0.0.10:9878;n1-10.0.1.10:9878;n2-10.0.2.10:9878".into(),
            format!("controllerDLegerSelfId=n{i}"),
            format!("controllerStorePath=/var/lib/rmq/controller-{i}"),
            "scanNotActiveBrokerInterval=600".into(),
        ] {
            assert!(conf.split(' ').any(|l| l == line), "{line} not in {conf}");
        }
        assert_eq!(h["RMQ_CONTROLLER_SHA256"], sha_of("rmq-controller"));
        assert_eq!(h["RMQ_BINARY_SHA256"], sha_of("rmq-namesrv"));
        assert!(!h.contains_key("RMQ_FAILOVER_CONF"));
    }
    let fourth = header_of(&p, "lt/namesrv-3", &state);
    assert!(
        !fourth.keys().any(|k| k.contains("CONTROLLER")),
        "a nameserver past the controllers runs none: {fourth:?}"
    );
    for b in ["broker-a-0", "broker-a-1", "broker-b-0", "broker-b-1"] {
        let h = header_of(&p, &format!("lt/{b}"), &state);
        assert_eq!(h["RMQ_BROKER_ROLE"], "ELECTED", "{b}");
        assert_eq!(h["RMQ_FAILOVER_CONF"], failover_keys(&desired, b));
        assert_eq!(
            h["RMQ_FAILOVER_CONF"],
            "enableControllerMode=true controllerAddr=10.0.0.10:9878;10.0.1.10:9878;10.0.2.10:9878 allAckInSyncStateSet=true controllerHeartBeatTimeoutMills=3000"
        );
        assert!(!h.contains_key("RMQ_CONTROLLER_CONF"));
    }
}

/// The names of the files the artefacts resource uploads.
fn uploads(p: &rmq_aws::Plan) -> Vec<String> {
    let Spec::Artefacts { files, .. } = &p.resource("artefacts").unwrap().spec else {
        unreachable!()
    };
    files.iter().map(|f| f.name.clone()).collect()
}

#[test]
fn manual_failover_renders_no_controller_and_uploads_no_controller() {
    let manual = spec("fixed", 3, 2, 2);
    let p = plan(&manual, &params("bkt", None), &env(&ALL)).unwrap();
    assert!(p.controllers.is_empty());
    assert_eq!(uploads(&p), ["rmq-namesrv", "rmq-broker"]);
    let state = node_state(3);
    for key in ["lt/namesrv-0", "lt/broker-a-0", "lt/broker-a-1"] {
        let h = header_of(&p, key, &state);
        assert!(
            !h.keys()
                .any(|k| k.contains("CONTROLLER") || k.contains("FAILOVER")),
            "{key}: {h:?}"
        );
    }
    assert_eq!(
        header_of(&p, "lt/broker-a-0", &state)["RMQ_BROKER_ROLE"],
        "ASYNC_MASTER"
    );
    let auto = plan(&automatic("ha", 3, 3), &params("bkt", None), &env(&ALL)).unwrap();
    assert_eq!(uploads(&auto), ALL);
}

/// `(from, to, peer group key)` of the rules of `key`: ingress, egress.
type Ports = Vec<(i32, i32, String)>;

fn rules_of(p: &rmq_aws::Plan, key: &str) -> (Ports, Ports) {
    let Spec::SecurityGroupRules {
        ingress, egress, ..
    } = &p.resource(key).unwrap().spec
    else {
        unreachable!()
    };
    let list = |rules: &[rmq_aws::resource::Rule]| {
        rules
            .iter()
            .map(|r| {
                let peer = match &r.peer {
                    Peer::Group(Value::Ref { key, .. }) => key.clone(),
                    Peer::Group(other) => format!("{other:?}"),
                    Peer::Cidr(c) => c.clone(),
                };
                (r.from, r.to, peer)
            })
            .collect::<Vec<_>>()
    };
    (list(ingress), list(egress))
}

fn has(rules: &Ports, port: i32, peer: &str) -> bool {
    rules
        .iter()
        .any(|(f, t, p)| *f <= port && port <= *t && p == peer)
}

#[test]
fn controller_port_is_opened_only_with_automatic_failover() {
    let p = plan(&automatic("ha", 3, 3), &params("bkt", None), &env(&ALL)).unwrap();
    let (ns_in, ns_out) = rules_of(&p, "rules/namesrv");
    let (br_in, br_out) = rules_of(&p, "rules/broker");
    assert!(has(&ns_in, 9878, "sg/broker"), "heartbeats: {ns_in:?}");
    assert!(has(&ns_in, 9878, "sg/namesrv"), "Raft in: {ns_in:?}");
    assert!(has(&ns_out, 9878, "sg/namesrv"), "Raft out: {ns_out:?}");
    assert!(
        has(&ns_out, 10911, "sg/broker"),
        "role change out: {ns_out:?}"
    );
    assert!(
        has(&br_in, 10911, "sg/namesrv"),
        "role change in: {br_in:?}"
    );
    assert!(
        has(&br_out, 9878, "sg/namesrv"),
        "heartbeats out: {br_out:?}"
    );
    assert!(
        !has(&ns_in, 9878, "sg/clients"),
        "controllers are not for clients"
    );

    let m = plan(&spec("fixed", 3, 2, 2), &params("bkt", None), &env(&ALL)).unwrap();
    let (ns_in, ns_out) = rules_of(&m, "rules/namesrv");
    let (br_in, br_out) = rules_of(&m, "rules/broker");
    for rules in [&ns_in, &ns_out, &br_in, &br_out] {
        assert!(
            !rules.iter().any(|(f, t, _)| *f <= 9878 && 9878 <= *t),
            "{rules:?}"
        );
    }
    assert!(!has(&br_in, 10911, "sg/namesrv") && !has(&ns_out, 10911, "sg/broker"));
    assert_eq!(ns_out.len(), 1, "HTTPS only: {ns_out:?}");
}

#[test]
fn aws_refuses_more_controllers_than_nameservers_and_a_missing_controller() {
    let errs = plan(&automatic("ha", 2, 3), &params("bkt", None), &env(&ALL)).unwrap_err();
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert_eq!(
        errs[0].what,
        "spec.controller.replicas is 3 but spec.nameServer.replicas is 2: on AWS each controller runs on a nameserver node (controller i on namesrv-i)"
    );
    assert!(
        errs[0]
            .fix
            .starts_with("set spec.nameServer.replicas to 3 or more"),
        "{}",
        errs[0].fix
    );
    let c = automatic("ha", 3, 3);
    let errs = plan(&c, &params("bkt", None), &env(&ALL[..2])).unwrap_err();
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(
        errs[0].what.contains("no rmq-controller to run"),
        "{}",
        errs[0]
    );
    assert!(
        errs[0]
            .fix
            .contains("cargo build --release -p rmq-controller")
    );
    // Already in the bucket (published with its checksum): fine, and pinned.
    let mut published = env(&ALL[..2]);
    published
        .env
        .published_sha256
        .insert("rmq-controller".into(), "d0".repeat(32));
    let p = plan(&c, &params("bkt", None), &published).unwrap();
    let h = header_of(&p, "lt/namesrv-0", &node_state(3));
    assert_eq!(h["RMQ_CONTROLLER_SHA256"], "d0".repeat(32));
    // A Manual cluster needs no rmq-controller.
    assert!(
        plan(
            &spec("fixed", 1, 1, 2),
            &params("bkt", None),
            &env(&ALL[..2])
        )
        .is_ok()
    );
}

/// The Auto Scaling group updates of a plan over existing (stale) groups, in order.
fn rolls(c: &ValidatedCluster, ns: u32) -> (Vec<rmq_aws::plan::Action>, State) {
    let mut d = env(&ALL);
    d.state = node_state(ns);
    let nodes: Vec<String> = (0..ns)
        .map(|i| format!("namesrv-{i}"))
        .chain(["broker-a-0", "broker-a-1", "broker-b-0", "broker-b-1"].map(String::from))
        .collect();
    for n in &nodes {
        let mut a = Actual::new(Kind::AutoScalingGroup, format!("asg/{n}"), n.clone());
        a.hash = Some("stale".into());
        d.state.put(a);
    }
    let p = plan(c, &params("bkt", None), &d).unwrap();
    let updates = p
        .actions
        .into_iter()
        .filter(|a| a.op == Op::Update && a.kind == Kind::AutoScalingGroup)
        .collect();
    (updates, d.state)
}

fn keys(actions: &[rmq_aws::plan::Action]) -> Vec<&str> {
    actions.iter().map(|a| a.key.as_str()).collect()
}

#[test]
fn brokers_roll_without_a_fixed_master_and_the_current_masters_last() {
    let (manual, _) = rolls(&spec("fixed", 3, 2, 2), 3);
    assert_eq!(
        keys(&manual)[3..],
        [
            "asg/broker-a-1",
            "asg/broker-b-1",
            "asg/broker-a-0",
            "asg/broker-b-0"
        ],
        "Manual: slaves, then the fixed masters"
    );
    let (mut auto, state) = rolls(&automatic("ha", 3, 3), 3);
    assert_eq!(
        keys(&auto),
        [
            "asg/namesrv-0",
            "asg/namesrv-1",
            "asg/namesrv-2",
            "asg/broker-a-0",
            "asg/broker-a-1",
            "asg/broker-b-0",
            "asg/broker-b-1"
        ],
        "Automatic: nameservers, then brokers in index order"
    );
    // The nameservers report broker-a-1 and broker-b-0 as the masters (id 0).
    let reported = [
        format!("{}:10911", ip_of("broker-a-1")),
        format!("{}:10911", ip_of("broker-b-0")),
    ];
    let masters = master_nodes(&state, &reported);
    assert_eq!(
        masters,
        BTreeSet::from(["broker-a-1".to_owned(), "broker-b-0".to_owned()])
    );
    roll_masters_last(&mut auto, &masters);
    assert_eq!(
        keys(&auto)[3..],
        [
            "asg/broker-a-0",
            "asg/broker-b-1",
            "asg/broker-a-1",
            "asg/broker-b-0"
        ]
    );
}

/// The largest user data an Automatic cluster gets (a 40-character name, 7 controllers, ACL and
/// TLS with 32-character secret names, a long log group, 15-character addresses) stays under
/// EC2's 16 KiB, on a controller's nameserver node and on a broker.
#[test]
fn the_largest_automatic_user_data_fits_ec2s_limit() {
    let name = "x".repeat(40);
    let secret = |s: &str| format!("{s}{}", "s".repeat(32 - s.len()));
    let c = crate::common::cluster(&format!(
        "apiVersion: rmq.dev/v1alpha1\nkind: RocketMQCluster\nmetadata: {{name: {name}}}\nspec:\n  nameServer: {{replicas: 7}}\n  brokers: {{groups: 2, replicasPerGroup: 2, replication: Sync, failover: Automatic}}\n  controller: {{replicas: 7, brokerTimeoutMs: 60000}}\n  security:\n    acl: {{enabled: true, accountsSecret: {}, adminSecret: {}}}\n    tls: {{mode: Enforcing, certificateSecret: {}, clientAuth: Require}}\n",
        secret("acl"),
        secret("admin"),
        secret("tls")
    ));
    let mut prm = params("bkt", None);
    prm.log_group = Some(format!("/rmq/{}", "l".repeat(123)));
    let p = plan(&c, &prm, &env(&ALL)).unwrap();
    let mut state = State::default();
    for n in (0..7)
        .map(|i| format!("namesrv-{i}"))
        .chain(["broker-a-0".to_owned()])
    {
        state.put(
            Actual::new(
                Kind::NetworkInterface,
                format!("eni/{n}"),
                "eni-0123456789abcdef0",
            )
            .with("ip", "255.255.255.255"),
        );
    }
    state.put(Actual::new(
        Kind::Volume,
        "volume/broker-a-0",
        "vol-0123456789abcdef0",
    ));
    for key in ["lt/namesrv-6", "lt/broker-a-0"] {
        let Spec::LaunchTemplate {
            user_data: Some(u), ..
        } = &p.resource(key).unwrap().spec
        else {
            unreachable!()
        };
        let text = u.resolve(&state).unwrap();
        assert!(
            text.len() < rmq_aws::userdata::MAX_USER_DATA,
            "{key}: {} bytes",
            text.len()
        );
    }
}
