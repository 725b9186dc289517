//! What `rmqctl local up` writes before it starts anything: each broker's broker.conf, rendered
//! by rmq-model from the cluster file. Stand-in binaries that exit at once stop the run right
//! after the files are written, so no real broker is needed.
#![allow(clippy::unwrap_used)]

mod common;

use common::rmqctl;
use std::os::unix::fs::PermissionsExt;

/// `dir/<name>` for rmq-namesrv and rmq-broker: scripts that fail at once.
fn failing_binaries(dir: &std::path::Path) {
    for name in ["rmq-namesrv", "rmq-broker"] {
        let p = dir.join(name);
        std::fs::write(&p, "#!/bin/sh\nexit 3\n").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
}

/// The values of `key` in a broker.conf, in order.
fn values(conf: &str, key: &str) -> Vec<String> {
    conf.lines()
        .filter_map(|l| l.split_once('='))
        .filter(|(k, _)| *k == key)
        .map(|(_, v)| v.to_owned())
        .collect()
}

/// `local up` of `yaml` with stand-in binaries; the broker.conf of every broker (by node name).
fn rendered(yaml: &str, brokers: u16) -> Vec<(String, String)> {
    let tmp = tempfile::tempdir().unwrap();
    let (bins, state) = (tmp.path().join("bin"), tmp.path().join("state"));
    std::fs::create_dir_all(&bins).unwrap();
    failing_binaries(&bins);
    let file = tmp.path().join("cluster.yaml");
    std::fs::write(&file, yaml).unwrap();
    let base = common::base_port(1, brokers).to_string();
    let run = rmqctl(&[
        "local",
        "up",
        "--detach",
        "--timeout",
        "20",
        "-f",
        file.to_str().unwrap(),
        "--bin-dir",
        bins.to_str().unwrap(),
        "--state-dir",
        state.to_str().unwrap(),
        "--base-port",
        &base,
    ]);
    assert_ne!(run.code, 0, "stand-in binaries cannot start: {}", run.all());
    common::assert_contains(&run.stderr, "exited during startup");
    let mut out: Vec<(String, String)> = std::fs::read_dir(&state)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("broker.conf").is_file())
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (
                name,
                std::fs::read_to_string(p.join("broker.conf")).unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

#[test]
fn local_up_writes_the_retention_into_every_broker_conf() {
    let confs = rendered(
        "apiVersion: rmq.dev/v1alpha1\nkind: RocketMQCluster\nmetadata: {name: keep}\nspec:\n  brokers:\n    groups: 1\n    replicasPerGroup: 2\n    retention: {hours: 168, deleteWhen: \"04;16\", maxDiskUsedPercent: 80}\n",
        2,
    );
    let names: Vec<&str> = confs.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["broker-a-0", "broker-a-1"]);
    for (name, conf) in &confs {
        assert_eq!(values(conf, "fileReservedTime"), ["168"], "{name}:\n{conf}");
        assert_eq!(values(conf, "deleteWhen"), ["04;16"], "{name}:\n{conf}");
        assert_eq!(
            values(conf, "diskMaxUsedSpaceRatio"),
            ["80"],
            "{name}:\n{conf}"
        );
    }
}

#[test]
fn local_up_writes_the_default_retention() {
    let confs = rendered(
        "apiVersion: rmq.dev/v1alpha1\nkind: RocketMQCluster\nmetadata: {name: plain}\nspec: {}\n",
        1,
    );
    let (_, conf) = &confs[0];
    assert_eq!(values(conf, "fileReservedTime"), ["72"], "{conf}");
    assert_eq!(values(conf, "deleteWhen"), ["04"], "{conf}");
    assert_eq!(values(conf, "diskMaxUsedSpaceRatio"), ["75"], "{conf}");
}

#[test]
fn a_conflicting_config_key_is_refused_before_anything_starts() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("cluster.yaml");
    std::fs::write(
        &file,
        "apiVersion: rmq.dev/v1alpha1\nkind: RocketMQCluster\nmetadata: {name: clash}\nspec:\n  brokers:\n    config: {fileReservedTime: \"48\"}\n",
    )
    .unwrap();
    let state = tmp.path().join("state");
    let run = rmqctl(&[
        "local",
        "up",
        "-f",
        file.to_str().unwrap(),
        "--state-dir",
        state.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 2, "{}", run.all());
    common::assert_contains(
        &run.stderr,
        "spec.brokers.config.fileReservedTime: fileReservedTime=\"48\" conflicts with spec.brokers.retention.hours (\"72\")",
    );
    common::assert_contains(
        &run.stderr,
        "remove fileReservedTime from spec.brokers.config",
    );
    assert!(!state.exists(), "nothing was written");
}
