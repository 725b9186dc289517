//! An Automatic-failover cluster against a local moto_server (`operator/aws/run-tests.sh`): the
//! plan shows the controllers on the first nameserver nodes; after the apply the nameservers'
//! launch templates hold their controller's conf and pin `rmq-controller` (uploaded with its
//! checksum), the brokers' hold controller mode, the nameserver group takes 9878 from the
//! brokers; a broker timeout change rolls the brokers with the current masters last; destroy
//! leaves nothing tagged.

#![allow(clippy::unwrap_used)]

use crate::common::{
    automatic, connect, converge, endpoint, fake_artefacts_with_controller, opts, params, tagged,
    unique,
};
use rmq_aws::plan::Op;
use rmq_aws::resource::Kind;
use rmq_aws::roll::{master_nodes, roll_masters_last};
use rmq_aws::userdata::BOOTSTRAP;
use rmq_aws::{Aws, Progress, apply, outputs, plan_apply, plan_destroy_cluster};
use std::collections::BTreeSet;

/// The user data of node `node`'s launch template (latest version).
async fn user_data(aws: &Aws, name: &str, node: &str) -> String {
    let text = crate::common::launch_user_data(aws, name, node).await;
    assert!(text.ends_with(BOOTSTRAP), "{node}");
    text
}

/// The SHA-256 of a file, as `sha256sum` prints it.
fn sha256_of(path: &std::path::Path) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(std::fs::read(path).unwrap())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn automatic_failover_cluster_applies_rolls_and_destroys() {
    let Some(ep) = endpoint() else { return };
    let aws = connect(&ep).await;
    let name = unique("ha");
    let c = automatic(&name, 3, 3);
    let art = fake_artefacts_with_controller();
    let p = params(&format!("{name}-art"), Some(art.path()));

    let (_, plan) = plan_apply(&aws, &c, &p).await.unwrap();
    let on: Vec<&str> = plan.controllers.iter().map(|c| c.node.as_str()).collect();
    assert_eq!(on, ["namesrv-0", "namesrv-1", "namesrv-2"]);
    let report = converge(&aws, &c, &p).await;
    let out = outputs(&plan, &report.state);
    let ips: Vec<String> = (0..3)
        .map(|i| {
            let n = out.nodes.iter().find(|n| n.node == format!("namesrv-{i}"));
            n.unwrap().address.clone().unwrap()
        })
        .collect();
    let controller_addr = ips
        .iter()
        .map(|ip| format!("{ip}:9878"))
        .collect::<Vec<_>>()
        .join(";");
    assert_eq!(out.controller_addresses, controller_addr);

    let controller_sha = sha256_of(&art.path().join("rmq-controller"));
    let peers = format!(
        "controllerDLegerPeers=n0-{}:9878;n1-{}:9878;n2-{}:9878",
        ips[0], ips[1], ips[2]
    );
    for i in 0..3 {
        let text = user_data(&aws, &name, &format!("namesrv-{i}")).await;
        let conf = text
            .lines()
            .find_map(|l| l.strip_prefix("RMQ_CONTROLLER_CONF='"))
            .unwrap_or_else(|| panic!("namesrv-{i} runs no controller:\n{text}"));
        assert!(conf.contains(&peers), "{conf}");
        assert!(
            conf.contains(&format!("controllerDLegerSelfId=n{i} ")),
            "{conf}"
        );
        assert!(text.contains(&format!("\nRMQ_CONTROLLER_SHA256='{controller_sha}'\n")));
    }
    for b in ["broker-a-0", "broker-b-1"] {
        let text = user_data(&aws, &name, b).await;
        assert!(text.contains("\nRMQ_BROKER_ROLE='ELECTED'\n"), "{b}");
        let want = format!(
            "\nRMQ_FAILOVER_CONF='enableControllerMode=true controllerAddr={controller_addr} allAckInSyncStateSet=true controllerHeartBeatTimeoutMills=3000'\n"
        );
        assert!(text.contains(&want), "{b}:\n{text}");
        assert!(!text.contains("RMQ_CONTROLLER_CONF="), "{b}");
    }
    check_controller_artefact(&aws, &name, &controller_sha).await;
    check_controller_rules(&aws, &name).await;
    // Nothing left to do.
    let (_, again) = plan_apply(&aws, &c, &p).await.unwrap();
    assert!(again.actions.is_empty(), "{:?}", again.actions);

    roll_with_masters_last(&aws, &name, &p).await;
    destroy(&aws, &c, &p, &name).await;
}

/// rmq-controller is uploaded under the prefix with its checksum file.
async fn check_controller_artefact(aws: &Aws, name: &str, sha: &str) {
    let obj = aws
        .s3
        .get_object()
        .bucket(format!("{name}-art"))
        .key(format!("rmq/{name}/0.1.0/rmq-controller.sha256"))
        .send()
        .await
        .unwrap();
    let body = obj.body.collect().await.unwrap().into_bytes();
    assert_eq!(
        String::from_utf8_lossy(&body),
        format!("{sha}  rmq-controller\n")
    );
}

/// The nameservers' group takes 9878 from the brokers' group and from itself.
async fn check_controller_rules(aws: &Aws, name: &str) {
    let groups = aws
        .ec2
        .describe_security_groups()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("group-name")
                .values(format!("{name}-namesrv"))
                .values(format!("{name}-broker"))
                .build(),
        )
        .send()
        .await
        .unwrap();
    let id_of = |n: &str| {
        groups
            .security_groups()
            .iter()
            .find(|g| g.group_name() == Some(n))
            .and_then(|g| g.group_id())
            .unwrap()
            .to_owned()
    };
    let (ns, broker) = (
        id_of(&format!("{name}-namesrv")),
        id_of(&format!("{name}-broker")),
    );
    let ns_group = groups
        .security_groups()
        .iter()
        .find(|g| g.group_id() == Some(ns.as_str()))
        .unwrap();
    let sources: BTreeSet<String> = ns_group
        .ip_permissions()
        .iter()
        .filter(|p| p.from_port() == Some(9878))
        .flat_map(|p| p.user_id_group_pairs())
        .filter_map(|g| g.group_id().map(str::to_owned))
        .collect();
    assert_eq!(sources, BTreeSet::from([ns, broker]));
}

/// A broker timeout change rolls every node; the plan rolls brokers in index order, and with
/// broker-a-1 and broker-b-0 reported as masters they go last.
async fn roll_with_masters_last(aws: &Aws, name: &str, p: &rmq_aws::Params) {
    let slower = crate::common::cluster(&format!(
        "apiVersion: rmq.dev/v1alpha1\nkind: RocketMQCluster\nmetadata: {{name: {name}}}\nspec:\n  nameServer: {{replicas: 3}}\n  brokers: {{groups: 2, replicasPerGroup: 2, replication: Sync, failover: Automatic, storage: {{size: 30Gi}}}}\n  controller: {{replicas: 3, brokerTimeoutMs: 6000}}\n"
    ));
    let (found, mut plan) = plan_apply(aws, &slower, p).await.unwrap();
    let rolled = |plan: &rmq_aws::Plan| {
        plan.actions
            .iter()
            .filter(|a| a.op == Op::Update && a.kind == Kind::AutoScalingGroup)
            .map(|a| a.key.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        rolled(&plan),
        [
            "asg/namesrv-0",
            "asg/namesrv-1",
            "asg/namesrv-2",
            "asg/broker-a-0",
            "asg/broker-a-1",
            "asg/broker-b-0",
            "asg/broker-b-1"
        ]
    );
    let ip = |node: &str| {
        found.state.get(&format!("eni/{node}")).unwrap().attrs["ip"].clone() + ":10911"
    };
    let masters = master_nodes(&found.state, &[ip("broker-a-1"), ip("broker-b-0")]);
    roll_masters_last(&mut plan.actions, &masters);
    assert_eq!(
        rolled(&plan)[3..],
        [
            "asg/broker-a-0",
            "asg/broker-b-1",
            "asg/broker-a-1",
            "asg/broker-b-0"
        ]
    );
    let report = apply(aws, &plan, &found, &opts(), &Progress::silent()).await;
    assert!(report.ok(), "{:?}", report.failed);
    let (_, again) = plan_apply(aws, &slower, p).await.unwrap();
    assert!(again.actions.is_empty(), "{:?}", again.actions);
}

/// Destroy: nothing tagged is left.
async fn destroy(aws: &Aws, c: &rmq_model::ValidatedCluster, p: &rmq_aws::Params, name: &str) {
    let (found, plan) = plan_destroy_cluster(aws, c, p).await.unwrap();
    let report = apply(aws, &plan, &found, &opts(), &Progress::silent()).await;
    assert!(report.ok(), "{:?}", report.failed);
    assert_eq!(tagged(aws, name).await, Vec::<String>::new());
}
