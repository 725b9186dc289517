//! Bad input: invalid YAML, unknown kind, a negative queue count, an unreachable nameserver,
//! missing state or binaries — each a clear error naming the file/field or address, with a
//! non-zero exit code and nothing applied. Also `rmqctl crd`.
#![allow(clippy::unwrap_used)]

mod common;

use common::{assert_contains, fixture, rmqctl};
use std::net::TcpListener;

fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> String {
    let p = dir.path().join(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

/// A port nothing listens on.
fn closed_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

#[test]
fn invalid_yaml_names_the_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(
        &dir,
        "bad.yaml",
        "apiVersion: rmq.dev/v1alpha1\nkind: RocketMQTopic\nmetadata: {name: x\n",
    );
    let r = rmqctl(&["apply", "-f", &f, "--namesrv", "127.0.0.1:9"]);
    assert_eq!(r.code, 2, "{}", r.all());
    assert_contains(&r.stderr, &format!("{f}:"));
    assert!(
        !r.stderr.contains("127.0.0.1:9"),
        "input is checked before any connection: {}",
        r.stderr
    );
}

#[test]
fn unknown_kind_negative_queues_and_typos_are_all_reported() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(
        &dir,
        "topics.yaml",
        "apiVersion: rmq.dev/v1alpha1\nkind: KafkaTopic\nmetadata: {name: k}\n---\n\
         apiVersion: rmq.dev/v1alpha1\nkind: RocketMQTopic\nmetadata: {name: neg}\nspec: {cluster: c, queues: -3}\n---\n\
         apiVersion: rmq.dev/v1alpha1\nkind: RocketMQConsumerGroup\nmetadata: {name: g}\nspec: {cluster: c, retryMaxTime: 3}\n",
    );
    let r = rmqctl(&["apply", "-f", &f, "--namesrv", "127.0.0.1:9"]);
    assert_eq!(r.code, 2, "{}", r.all());
    assert_contains(&r.stderr, "3 problem(s) in the input");
    assert_contains(
        &r.stderr,
        &format!("{f}:1 (KafkaTopic/k): unknown kind \"KafkaTopic\""),
    );
    assert!(
        r.stderr.contains(&format!(
            "{f}:5 (RocketMQTopic/neg): spec.queues: must be >= 1, got -3 (fix:"
        )),
        "{}",
        r.stderr
    );
    assert_contains(
        &r.stderr,
        &format!("{f}:10 (RocketMQConsumerGroup/g): spec.retryMaxTime: unknown field"),
    );
    let r = rmqctl(&["local", "up", "-f", &f]);
    assert_eq!(r.code, 2, "local up validates the same way: {}", r.all());
}

#[test]
fn unreachable_nameserver_names_the_address() {
    let port = closed_port();
    let addr = format!("127.0.0.1:{port}");
    let r = rmqctl(&["apply", "-f", &fixture("apply-v1.yaml"), "--namesrv", &addr]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert_contains(&r.stderr, &addr);
    assert_contains(&r.stderr, "cannot connect");
    let r = rmqctl(&["get", "topics", "--namesrv", &addr]);
    assert_eq!(r.code, 1);
    assert_contains(&r.stderr, &format!("cannot reach any nameserver ({addr})"));
    let r = rmqctl(&["route", "x", "--namesrv", "nohost"]);
    assert_eq!(r.code, 2, "{}", r.all());
    assert_contains(&r.stderr, "invalid nameserver address list \"nohost\"");
    let r = rmqctl(&["get", "cluster"]);
    assert_eq!(r.code, 2);
    assert_contains(&r.stderr, "--namesrv");
}

#[test]
fn local_up_needs_one_cluster_and_matching_targets() {
    let dir = tempfile::tempdir().unwrap();
    let r = rmqctl(&[
        "local",
        "up",
        "-f",
        &fixture("apply-v1.yaml"),
        "--state-dir",
        &dir.path().display().to_string(),
    ]);
    assert_eq!(r.code, 2, "{}", r.all());
    assert_contains(&r.stderr, "no RocketMQCluster in the files");
    let r = rmqctl(&[
        "local",
        "up",
        "-f",
        &fixture("one-group.yaml"),
        "-f",
        &fixture("apply-v1.yaml"),
    ]);
    assert_eq!(r.code, 2, "{}", r.all());
    assert_contains(
        &r.stderr,
        &format!(
            "{}:1 (RocketMQTopic/t-keep): spec.cluster: \"appl\" is not the cluster being started (\"mini\") (fix: set spec.cluster: mini)",
            fixture("apply-v1.yaml")
        ),
    );
    let r = rmqctl(&[
        "local",
        "up",
        "-f",
        &fixture("one-group.yaml"),
        "--bin-dir",
        "/nonexistent",
        "--state-dir",
        &dir.path().display().to_string(),
    ]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(
        r.stderr.contains("cannot find /nonexistent/rmq-namesrv")
            && r.stderr
                .contains("cargo build -p rmq-broker -p rmq-namesrv"),
        "{}",
        r.stderr
    );
    let r = rmqctl(&[
        "local",
        "status",
        "--state-dir",
        &dir.path().join("none").display().to_string(),
    ]);
    assert_eq!(r.code, 2, "{}", r.all());
    assert_contains(&r.stderr, "no local cluster state at");
}

#[test]
fn local_up_refuses_a_busy_port_before_starting_anything() {
    common::bin_dir();
    let dir = tempfile::tempdir().unwrap();
    let busy = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port();
    let state = dir.path().join("s");
    let r = rmqctl(&[
        "local",
        "up",
        "-f",
        &fixture("one-group.yaml"),
        "--base-port",
        &port.to_string(),
        "--state-dir",
        &state.display().to_string(),
        "--detach",
    ]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert_contains(
        &r.stderr,
        &format!("port {port} on 127.0.0.1 for namesrv-0 is not available"),
    );
    assert!(!state.join("state.json").exists(), "nothing was started");
}

#[test]
fn crd_prints_the_committed_crds() {
    let r = rmqctl(&["crd"]).ok();
    let committed =
        std::fs::read_to_string(common::repo().join("operator/model/crds/rmq.dev.yaml")).unwrap();
    assert_eq!(r.stdout, committed);
    let json: serde_json::Value =
        serde_json::from_str(&rmqctl(&["crd", "-o", "json"]).ok().stdout).unwrap();
    assert_eq!(json.as_array().unwrap().len(), 3);
}
