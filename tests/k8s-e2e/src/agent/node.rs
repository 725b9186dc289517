//! The fake node: created if missing, status Ready with capacity, and a heartbeat (node Lease in
//! `kube-node-lease` + the Ready condition's `lastHeartbeatTime`) every 10 s, so the
//! node-lifecycle controller never marks it unreachable and evicts its pods.

use super::{Config, now};
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::api::core::v1::Node;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, Client};
use serde_json::json;
use std::time::Duration;

/// Creates the node if needed and reports it Ready.
pub async fn ensure(client: &Client, cfg: &Config) -> Result<(), kube::Error> {
    let nodes: Api<Node> = Api::all(client.clone());
    if nodes.get_opt(&cfg.node).await?.is_none() {
        let node: Node = serde_json::from_value(json!({
            "apiVersion": "v1", "kind": "Node",
            "metadata": {"name": cfg.node, "labels": {
                "kubernetes.io/hostname": cfg.node, "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64", "rmq.dev/test-node": "true"}},
        }))
        .map_err(kube::Error::SerdeError)?;
        nodes.create(&PostParams::default(), &node).await?;
    }
    heartbeat(client, cfg).await
}

async fn heartbeat(client: &Client, cfg: &Config) -> Result<(), kube::Error> {
    let nodes: Api<Node> = Api::all(client.clone());
    let t = now();
    let status = json!({"status": {
        "capacity": {"cpu": "64", "memory": "256Gi", "pods": "500", "ephemeral-storage": "1Ti"},
        "allocatable": {"cpu": "64", "memory": "256Gi", "pods": "500", "ephemeral-storage": "1Ti"},
        "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}, {"type": "Hostname", "address": cfg.node}],
        "nodeInfo": {"kubeletVersion": "v1.37.2-rmq-node-agent", "operatingSystem": "linux", "architecture": "amd64",
            "containerRuntimeVersion": "rmq-node-agent://0", "kernelVersion": "", "osImage": "rmq test node",
            "kubeProxyVersion": "", "machineID": "", "systemUUID": "", "bootID": ""},
        "conditions": [
            {"type": "Ready", "status": "True", "reason": "AgentReady", "message": "rmq-node-agent runs pods as local processes",
             "lastHeartbeatTime": t, "lastTransitionTime": t},
            {"type": "MemoryPressure", "status": "False", "reason": "AgentReady", "lastHeartbeatTime": t, "lastTransitionTime": t},
            {"type": "DiskPressure", "status": "False", "reason": "AgentReady", "lastHeartbeatTime": t, "lastTransitionTime": t},
            {"type": "PIDPressure", "status": "False", "reason": "AgentReady", "lastHeartbeatTime": t, "lastTransitionTime": t},
        ],
    }});
    nodes
        .patch_status(
            &cfg.node,
            &PatchParams::default(),
            &Patch::Strategic(&status),
        )
        .await?;
    let leases: Api<Lease> = Api::namespaced(client.clone(), "kube-node-lease");
    let lease = Lease {
        metadata: kube::api::ObjectMeta {
            name: Some(cfg.node.clone()),
            namespace: Some("kube-node-lease".into()),
            ..Default::default()
        },
        spec: Some(LeaseSpec {
            holder_identity: Some(cfg.node.clone()),
            lease_duration_seconds: Some(40),
            renew_time: Some(MicroTime(k8s_openapi::jiff::Timestamp::now())),
            ..Default::default()
        }),
    };
    leases
        .patch(
            &cfg.node,
            &PatchParams::apply("rmq-node-agent").force(),
            &Patch::Apply(&lease),
        )
        .await?;
    Ok(())
}

/// Heartbeats every 10 s forever.
pub async fn run(client: Client, cfg: Config) {
    loop {
        tokio::time::sleep(Duration::from_secs(10)).await;
        if let Err(e) = heartbeat(&client, &cfg).await {
            tracing::warn!(error = %e, "node heartbeat failed");
        }
    }
}
