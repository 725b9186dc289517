//! Both AWS back-ends give a node of a cluster with `spec.security` the same configuration:
//! for each case of `cloudformation/tests/fixtures/security-parity.json` (the quickstart's
//! security parameters), the user data rmq-aws renders for a nameserver and a broker carries
//! exactly the `RMQ_SECURITY_CONF` / `RMQ_SECRETS` / `RMQ_SECRETS_SHA256` lines recorded there,
//! and `cloudformation/tests/test_templates.py` checks that `rmq-node.yaml` renders the same
//! lines from the same parameters. Likewise `failover: Automatic`: for the cluster of
//! `cloudformation/tests/fixtures/failover-parity.json` (three nameservers at fixed addresses,
//! the default controller), the `RMQ_FAILOVER_CONF` / `RMQ_CONTROLLER_CONF` /
//! `RMQ_CONTROLLER_SHA256` lines of each node, which `cloudformation/tests/test_failover.py`
//! checks `rmq-node.yaml` renders from the parameters `rmq-cluster.yaml` passes.
//! `RMQ_PARITY_WRITE=1` rewrites the files from rmq-aws.

#![allow(clippy::unwrap_used)]

use crate::common::{cluster, params};
use rmq_aws::discovered::{Discovered, Environment};
use rmq_aws::plan::plan;
use rmq_aws::resource::{Actual, ArtefactFile, Kind, Spec, State};
use rmq_aws::userdata::BOOTSTRAP;
use serde_json::Value;
use std::path::PathBuf;

fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../cloudformation/tests/fixtures/security-parity.json")
}

/// The cluster the template parameters of `case` describe: one nameserver, one broker.
fn secured(case: &Value) -> rmq_model::ValidatedCluster {
    let p = |k: &str| case["parameters"][k].as_str().unwrap_or("").to_owned();
    let mut security = String::new();
    if !p("AclAccountsSecret").is_empty() {
        security += &format!(
            "    acl: {{enabled: true, accountsSecret: {}, adminSecret: {}}}\n",
            p("AclAccountsSecret"),
            p("AclAdminSecret")
        );
    }
    if !p("TlsMode").is_empty() && p("TlsMode") != "Disabled" {
        security += &format!(
            "    tls: {{mode: {}, certificateSecret: {}, clientAuth: {}}}\n",
            p("TlsMode"),
            p("TlsCertificateSecret"),
            if p("TlsClientAuth").is_empty() {
                "None".to_owned()
            } else {
                p("TlsClientAuth")
            }
        );
    }
    let security = if security.is_empty() {
        String::new()
    } else {
        format!("  security:\n{security}")
    };
    cluster(&format!(
        "apiVersion: rmq.dev/v1alpha1\nkind: RocketMQCluster\nmetadata: {{name: orders}}\nspec:\n  nameServer: {{replicas: 1}}\n  brokers: {{groups: 1, replicasPerGroup: 1, storage: {{size: 30Gi}}}}\n{security}"
    ))
}

/// The `RMQ_SECURITY_CONF`, `RMQ_SECRETS` and `RMQ_SECRETS_SHA256` lines of `node`'s user data.
fn security_lines(c: &rmq_model::ValidatedCluster, node: &str) -> String {
    let env = Discovered {
        env: Environment {
            region: "eu-west-1".into(),
            azs: vec!["eu-west-1a".into(), "eu-west-1b".into()],
            latest_amis: [("x86_64".into(), "ami-0123".into())].into(),
            // As if --artefact-dir named a directory with both binaries.
            artefact_files: ["rmq-namesrv", "rmq-broker"]
                .iter()
                .map(|name| ArtefactFile {
                    name: (*name).into(),
                    path: format!("/opt/rmq/{name}"),
                    sha256: "a0".repeat(32),
                    embedded: None,
                })
                .collect(),
            ..Environment::default()
        },
        ..Discovered::default()
    };
    let p = plan(c, &params("bkt", None), &env).unwrap();
    let Spec::LaunchTemplate {
        user_data: Some(u), ..
    } = &p.resource(&format!("lt/{node}")).unwrap().spec
    else {
        unreachable!()
    };
    let mut state = State::default();
    for k in ["eni/namesrv-0", "eni/broker-a-0"] {
        state.put(Actual::new(Kind::NetworkInterface, k, "eni-1").with("ip", "10.0.0.9"));
    }
    state.put(Actual::new(Kind::Volume, "volume/broker-a-0", "vol-1"));
    let text = u.resolve(&state).unwrap();
    let head = text.strip_suffix(BOOTSTRAP).unwrap();
    head.lines()
        .filter(|l| {
            ["RMQ_SECURITY_CONF=", "RMQ_SECRETS=", "RMQ_SECRETS_SHA256="]
                .iter()
                .any(|v| l.starts_with(v))
        })
        .map(|l| format!("{l}\n"))
        .collect()
}

#[test]
fn rmq_aws_renders_the_security_lines_the_template_renders() {
    let mut cases: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(fixture()).unwrap()).unwrap();
    let write = std::env::var("RMQ_PARITY_WRITE").as_deref() == Ok("1");
    for case in &mut cases {
        let c = secured(case);
        for (role, node) in [("namesrv", "namesrv-0"), ("broker", "broker-a-0")] {
            let got = security_lines(&c, node);
            if write {
                case[role] = Value::String(got);
            } else {
                assert_eq!(
                    case[role].as_str().unwrap(),
                    got,
                    "{} {role}: rmq-aws and the fixture differ (RMQ_PARITY_WRITE=1 rewrites it; then cloudformation/tests must agree)",
                    case["name"]
                );
            }
        }
    }
    if write {
        let text = serde_json::to_string_pretty(&cases).unwrap() + "\n";
        std::fs::write(fixture(), text).unwrap();
    }
}

fn failover_fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../cloudformation/tests/fixtures/failover-parity.json")
}

/// The environment of the failover parity case: the binaries (the controller's with `sha`).
fn failover_environment(sha: &str) -> Discovered {
    Discovered {
        env: Environment {
            region: "eu-west-1".into(),
            azs: vec!["eu-west-1a".into(), "eu-west-1b".into()],
            latest_amis: [("x86_64".into(), "ami-0123".into())].into(),
            artefact_files: ["rmq-namesrv", "rmq-broker", "rmq-controller"]
                .iter()
                .map(|n| ArtefactFile {
                    name: (*n).into(),
                    path: format!("/opt/rmq/{n}"),
                    sha256: if *n == "rmq-controller" {
                        sha.to_owned()
                    } else {
                        "a0".repeat(32)
                    },
                    embedded: None,
                })
                .collect(),
            ..Environment::default()
        },
        ..Discovered::default()
    }
}

/// The interfaces and volumes of the failover parity case: nameserver i at `addresses[i]`.
fn failover_state(addresses: &[String]) -> State {
    let mut state = State::default();
    for (i, a) in addresses.iter().enumerate() {
        state.put(
            Actual::new(Kind::NetworkInterface, format!("eni/namesrv-{i}"), "eni-1").with("ip", a),
        );
    }
    for b in ["broker-a-0", "broker-a-1"] {
        state.put(
            Actual::new(Kind::NetworkInterface, format!("eni/{b}"), "eni-2").with("ip", "10.0.9.9"),
        );
        state.put(Actual::new(Kind::Volume, format!("volume/{b}"), "vol-1"));
    }
    state
}

#[test]
fn rmq_aws_renders_the_failover_lines_the_template_renders() {
    let mut case: Value =
        serde_json::from_str(&std::fs::read_to_string(failover_fixture()).unwrap()).unwrap();
    let write = std::env::var("RMQ_PARITY_WRITE").as_deref() == Ok("1");
    let name = case["cluster"].as_str().unwrap().to_owned();
    let addresses: Vec<String> = case["addresses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_owned())
        .collect();
    let sha = case["controller_sha256"].as_str().unwrap().to_owned();
    let c = cluster(&format!(
        "apiVersion: rmq.dev/v1alpha1\nkind: RocketMQCluster\nmetadata: {{name: {name}}}\nspec:\n  nameServer: {{replicas: 3}}\n  brokers: {{groups: 1, replicasPerGroup: 2, replication: Sync, failover: Automatic, storage: {{size: 30Gi}}}}\n"
    ));
    let env = failover_environment(&sha);
    let p = plan(&c, &params("bkt", None), &env).unwrap();
    let state = failover_state(&addresses);
    for node in [
        "namesrv-0",
        "namesrv-1",
        "namesrv-2",
        "broker-a-0",
        "broker-a-1",
    ] {
        let Spec::LaunchTemplate {
            user_data: Some(u), ..
        } = &p.resource(&format!("lt/{node}")).unwrap().spec
        else {
            unreachable!()
        };
        let text = u.resolve(&state).unwrap();
        let got: String = text
            .strip_suffix(BOOTSTRAP)
            .unwrap()
            .lines()
            .filter(|l| {
                [
                    "RMQ_FAILOVER_CONF=",
                    "RMQ_CONTROLLER_CONF=",
                    "RMQ_CONTROLLER_SHA256=",
                ]
                .iter()
                .any(|v| l.starts_with(v))
            })
            .map(|l| format!("{l}\n"))
            .collect();
        if write {
            case["nodes"][node] = Value::String(got);
        } else {
            assert_eq!(
                case["nodes"][node].as_str().unwrap(),
                got,
                "{node}: rmq-aws and the fixture differ (RMQ_PARITY_WRITE=1 rewrites it; then cloudformation/tests must agree)"
            );
        }
    }
    if write {
        let text = serde_json::to_string_pretty(&case).unwrap() + "\n";
        std::fs::write(failover_fixture(), text).unwrap();
    }
}
