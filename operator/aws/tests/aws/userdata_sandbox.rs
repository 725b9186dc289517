//! The user data rmq-aws renders, run for real on this machine: the launch templates of a
//! nameserver and a broker are planned, their user data resolved with loopback addresses, and
//! the generated scripts executed in a sandbox (`RMQ_ROOT` temp dir, `RMQ_ARTEFACT_DIR` = the
//! cargo-built `rmq-namesrv`/`rmq-broker` instead of S3, `RMQ_NO_SYSTEMD=1` so the script execs
//! the server, `RMQ_NO_EC2=1`, ports overridden). Then the broker must register with the
//! nameserver (GET_BROKER_CLUSTER_INFO), get a topic through the same reconcile code as
//! `rmqctl apply`, and accept a message (SEND_MESSAGE_V2).

#![allow(clippy::unwrap_used)]

use crate::common::sandbox::{
    Node, bin_dir, free_node_port, free_port, run, sandbox_plan_of, sha256_of, user_data,
};
use crate::common::spec;
use rmq_aws::resource::{Actual, Kind, State};
use rmq_model::admin::Admin;
use rmq_model::plan::Desired;
use rmq_protocol::header::send::{SendMessageRequestHeaderV2, SendMessageResponseHeader};
use rmq_protocol::net::{ClientConfig, RemotingClient};
use rmq_protocol::{RemotingCommand, request_code, response_code};
use std::path::Path;
use std::time::{Duration, Instant};

/// The plan of a 1 x 1 cluster whose artefacts are the cargo-built binaries.
fn sandbox_plan(bins: &Path) -> rmq_aws::Plan {
    sandbox_plan_of(&spec(NAME, 1, 1, 1), bins)
}

/// What apply would know once the interfaces and the volume exist: here, loopback.
fn loopback_state() -> State {
    let mut state = State::default();
    state.put(
        Actual::new(Kind::NetworkInterface, "eni/namesrv-0", "eni-ns0").with("ip", "127.0.0.1"),
    );
    state.put(
        Actual::new(Kind::NetworkInterface, "eni/broker-a-0", "eni-ba0").with("ip", "127.0.0.1"),
    );
    state.put(Actual::new(Kind::Volume, "volume/broker-a-0", "vol-ba0"));
    state
}

/// The cluster's name.
const NAME: &str = "sandbox";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rendered_user_data_boots_a_nameserver_and_a_broker_that_takes_messages() {
    let Some(bins) = bin_dir(&[]) else { return };
    let tmp = tempfile::tempdir().unwrap();
    let p = sandbox_plan(&bins);
    let state = loopback_state();
    let ns_port = free_node_port(&[]);
    let broker_port = free_node_port(&[ns_port, ns_port + 7]);
    let ha_port = loop {
        let p = free_port();
        if ![ns_port, ns_port + 7, broker_port, broker_port + 7].contains(&p) {
            break p;
        }
    };
    let ns_addr = format!("127.0.0.1:{ns_port}");

    // Nameserver.
    let ns_script = tmp.path().join("namesrv-0.sh");
    std::fs::write(&ns_script, user_data(&p, "lt/namesrv-0", &state)).unwrap();
    let ns_root = tmp.path().join("namesrv-0");
    let mut ns = run(
        &ns_script,
        &ns_root,
        &bins,
        &[("RMQ_NAMESRV_PORT", ns_port.to_string())],
        &tmp.path().join("namesrv.log"),
    );

    // Broker: the header says namesrvAddr=127.0.0.1:9876 (the port on EC2); the sandbox points
    // it at the test's nameserver port through RMQ_OVERRIDES, sourced right after the header.
    let br_text = user_data(&p, "lt/broker-a-0", &state);
    assert!(
        br_text.contains("RMQ_NAMESRV_ADDR='127.0.0.1:9876'\n"),
        "header from the layout"
    );
    // The header pins the build the bootstrap verifies before it execs the real binary.
    let pin = format!(
        "\nRMQ_BINARY_SHA256='{}'\n",
        sha256_of(&bins.join("rmq-broker"))
    );
    assert!(br_text.contains(&pin), "{pin} not in the broker's header");
    let br_script = tmp.path().join("broker-a-0.sh");
    std::fs::write(&br_script, br_text).unwrap();
    let overrides = tmp.path().join("overrides.sh");
    std::fs::write(&overrides, format!("RMQ_NAMESRV_ADDR='{ns_addr}'\n")).unwrap();
    let br_root = tmp.path().join("broker-a-0");
    let mut br = run(
        &br_script,
        &br_root,
        &bins,
        &[
            ("RMQ_LISTEN_PORT", broker_port.to_string()),
            ("RMQ_HA_PORT", ha_port.to_string()),
            ("RMQ_OVERRIDES", overrides.display().to_string()),
        ],
        &tmp.path().join("broker.log"),
    );

    let logs = || {
        format!(
            "namesrv log:\n{}\nbroker log:\n{}",
            std::fs::read_to_string(tmp.path().join("namesrv.log")).unwrap_or_default(),
            std::fs::read_to_string(tmp.path().join("broker.log")).unwrap_or_default()
        )
    };
    let admin = Admin::new(vec![ns_addr.clone()]);
    let broker_addr = registered_broker(&admin, [&mut ns, &mut br], &logs).await;
    assert_eq!(
        broker_addr,
        format!("127.0.0.1:{broker_port}"),
        "brokerIP1 = the node's fixed address"
    );
    check_bootstrap_files(&ns_root, &br_root);
    create_topic(&admin).await;
    send_message(&broker_addr, &logs).await;
}

/// Waits (60 s at most) until broker-a's master registers with the nameserver; its address.
async fn registered_broker(
    admin: &Admin,
    mut nodes: [&mut Node; 2],
    logs: &dyn Fn() -> String,
) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        for node in nodes.iter_mut() {
            if let Ok(Some(status)) = node.0.try_wait() {
                panic!("a node script exited with {status}\n{}", logs());
            }
        }
        if let Ok(info) = admin.cluster_info().await
            && let Some(data) = info.broker_addr_table.get("broker-a")
            && let Some(addr) = data.broker_addrs.get(&0)
        {
            assert_eq!(info.cluster_addr_table.get(NAME).map(|s| s.len()), Some(1));
            return addr.clone();
        }
        assert!(
            Instant::now() < deadline,
            "broker-a did not register within 60 s\n{}",
            logs()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// `spec.brokers.retention` reaches the broker.conf the node bootstrap writes (stand-in
/// binaries: only the written file matters here); nameservers keep the defaults.
#[test]
fn rendered_user_data_writes_the_retention_into_broker_conf() {
    let cluster = crate::common::cluster(&format!(
        "apiVersion: rmq.dev/v1alpha1\nkind: RocketMQCluster\nmetadata: {{name: {NAME}}}\nspec:\n  brokers:\n    retention: {{hours: 168, deleteWhen: \"04;16\", maxDiskUsedPercent: 80}}\n"
    ));
    let bins = crate::common::fake_artefacts();
    let p = sandbox_plan_of(&cluster, bins.path());
    let state = loopback_state();
    let ns_text = user_data(&p, "lt/namesrv-0", &state);
    assert!(
        ns_text.contains("\nRMQ_FILE_RESERVED_TIME='72'\n"),
        "{ns_text}"
    );
    let tmp = tempfile::tempdir().unwrap();
    let script = tmp.path().join("broker-a-0.sh");
    std::fs::write(&script, user_data(&p, "lt/broker-a-0", &state)).unwrap();
    let (root, log) = (tmp.path().join("root"), tmp.path().join("broker.log"));
    let allow = [("RMQ_ALLOW_SCRIPTS", "1".to_owned())];
    let mut node = run(&script, &root, bins.path(), &allow, &log);
    let status = node.0.wait().unwrap();
    let log = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(status.success(), "{log}");
    let conf = std::fs::read_to_string(root.join("etc/rmq/broker.conf")).unwrap();
    for line in [
        "fileReservedTime=168",
        "deleteWhen=04;16",
        "diskMaxUsedSpaceRatio=80",
    ] {
        assert!(conf.lines().any(|l| l == line), "{line} not in:\n{conf}");
    }
}

/// What the bootstrap wrote from the header: broker.conf, the units, the binaries.
fn check_bootstrap_files(ns_root: &Path, br_root: &Path) {
    let conf = std::fs::read_to_string(br_root.join("etc/rmq/broker.conf")).unwrap();
    for line in [
        "brokerClusterName=sandbox",
        "brokerName=broker-a",
        "brokerId=0",
        "brokerRole=ASYNC_MASTER",
        "brokerIP1=127.0.0.1",
        "fileReservedTime=72",
        "deleteWhen=04",
        "diskMaxUsedSpaceRatio=75",
    ] {
        assert!(
            conf.lines().any(|l| l == line),
            "{line} not in broker.conf:\n{conf}"
        );
    }
    assert!(
        br_root
            .join("etc/systemd/system/rmq-broker.service")
            .is_file()
    );
    assert!(
        ns_root
            .join("etc/systemd/system/rmq-namesrv.service")
            .is_file()
    );
    assert!(
        br_root.join("opt/rmq/bin/rmq-broker").is_file()
            && !br_root.join("opt/rmq/bin/rmq-namesrv").exists()
    );
}

/// A topic through the reconcile code `rmqctl apply` uses.
async fn create_topic(admin: &Admin) {
    let topics = rmq_model::manifest::parse_str(
        "topics.yaml",
        "apiVersion: rmq.dev/v1alpha1\nkind: RocketMQTopic\nmetadata: {name: orders}\nspec: {cluster: sandbox, queues: 4}\n",
    )
    .unwrap();
    let decls = rmq_model::manifest::declarations(topics).unwrap();
    let desired = Desired::new(
        decls.topics.into_iter().map(|(_, t)| t).collect(),
        vec![],
        &[],
    );
    let observed = admin.observe(&desired.clusters()).await.unwrap();
    let actions = rmq_model::plan::plan(&desired, &observed).unwrap();
    assert!(!actions.is_empty());
    let report = admin.execute(&actions, |_, _| {}).await;
    assert!(
        report.ok(),
        "{:?}",
        report.failed.map(|(a, e)| format!("{a}: {e}"))
    );
}

/// A message to the topic, accepted by the broker.
async fn send_message(broker_addr: &str, logs: &dyn Fn() -> String) {
    let client = RemotingClient::new(ClientConfig::default());
    let header = SendMessageRequestHeaderV2 {
        producer_group: "sandbox-producer".into(),
        topic: "orders".into(),
        default_topic: Some("TBW102".into()),
        default_topic_queue_nums: Some(4),
        queue_id: 0,
        sys_flag: Some(0),
        born_timestamp: Some(0),
        flag: Some(0),
        properties: Some("WAIT\u{1}true\u{2}".into()),
        ..Default::default()
    };
    let req = RemotingCommand::request_with(request_code::SEND_MESSAGE_V2, &header)
        .with_body("hello from the user data sandbox");
    let resp = client
        .invoke(broker_addr, req, Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(
        resp.code,
        response_code::SUCCESS,
        "send: {:?}\n{}",
        resp.remark,
        logs()
    );
    let sent = resp.header::<SendMessageResponseHeader>().unwrap();
    assert!(!sent.msg_id.is_empty());
}

/// The header carries each node's binary checksum; a different build in the bucket (even with a
/// matching `NAME.sha256`) stops the boot with both digests, before anything runs.
#[test]
fn rendered_user_data_refuses_a_build_other_than_the_planned_one() {
    let bins = crate::common::fake_artefacts();
    let p = sandbox_plan(bins.path());
    let state = loopback_state();
    let planned = sha256_of(&bins.path().join("rmq-broker"));
    let ns_text = user_data(&p, "lt/namesrv-0", &state);
    let ns_pin = format!(
        "\nRMQ_BINARY_SHA256='{}'\n",
        sha256_of(&bins.path().join("rmq-namesrv"))
    );
    assert!(ns_text.contains(&ns_pin), "{ns_text}");
    let tmp = tempfile::tempdir().unwrap();
    let script = tmp.path().join("broker-a-0.sh");
    std::fs::write(&script, user_data(&p, "lt/broker-a-0", &state)).unwrap();
    // Another build replaces the binary after the plan, with its own (matching) .sha256.
    let rebuilt = bins.path().join("rmq-broker");
    std::fs::write(&rebuilt, "#!/bin/sh\necho rebuilt\n").unwrap();
    let other = sha256_of(&rebuilt);
    std::fs::write(
        bins.path().join("rmq-broker.sha256"),
        format!("{other}  rmq-broker\n"),
    )
    .unwrap();
    let (root, log) = (tmp.path().join("root"), tmp.path().join("broker.log"));
    let allow = [("RMQ_ALLOW_SCRIPTS", "1".to_owned())];
    let status = run(&script, &root, bins.path(), &allow, &log)
        .0
        .wait()
        .unwrap();
    let log = std::fs::read_to_string(&log).unwrap_or_default();
    assert_eq!(status.code(), Some(1), "{log}");
    let reason = format!(
        "rmq-bootstrap: FAILED: checksum mismatch for rmq-broker: it is {other}, the user data expects {planned}"
    );
    assert!(log.contains(&reason), "{log}");
    assert!(!root.join("opt/rmq/bin/rmq-broker").exists());
}
