//! Required anti-affinity against the nodes that exist: with `antiAffinity: Required`, every pod
//! of a broker group (or every nameserver) needs a node of its own, so a spec asking for more
//! than the schedulable nodes matching `nodeSelector` can never become Ready. That is refused
//! (`InvalidSpec`, naming the field and the fix) instead of leaving pods Pending.
//!
//! Only checked when some role asks for `Required` (listing nodes needs cluster-wide read access;
//! an operator limited to one namespace skips the check, and the scheduler has the last word).

use crate::{Error, Result};
use k8s_openapi::api::core::v1::Node;
use kube::api::ListParams;
use kube::{Api, Client};
use rmq_model::ValidatedCluster;
use rmq_model::types::{AntiAffinity, PodOptions};

fn schedulable(node: &Node, pod: &PodOptions) -> bool {
    let cordoned = node.spec.as_ref().and_then(|s| s.unschedulable) == Some(true);
    let labels = node.metadata.labels.clone().unwrap_or_default();
    let selected = pod
        .node_selector
        .iter()
        .all(|(k, v)| labels.get(k) == Some(v));
    !cordoned && selected
}

/// The problems of `cluster` on `nodes`: one line per role whose required anti-affinity needs
/// more nodes than match.
pub fn shortfalls(cluster: &ValidatedCluster, nodes: &[Node]) -> Vec<String> {
    let roles = [
        (
            "spec.nameServer.pod.antiAffinity",
            &cluster.name_server_pod,
            cluster.name_servers,
            "nameservers",
        ),
        (
            "spec.brokers.pod.antiAffinity",
            &cluster.broker_pod,
            cluster.replicas_per_group,
            "brokers of a group",
        ),
    ];
    roles
        .into_iter()
        .filter(|(_, pod, _, _)| pod.anti_affinity == AntiAffinity::Required)
        .filter_map(|(path, pod, needed, what)| {
            let have = nodes.iter().filter(|n| schedulable(n, pod)).count();
            (have < needed as usize).then(|| {
                format!(
                    "{path}: Required puts the {needed} {what} on {needed} different nodes, but \
                     {have} schedulable node(s) match (fix: add nodes, set antiAffinity: \
                     Preferred, or ask for fewer replicas)"
                )
            })
        })
        .collect()
}

/// [`shortfalls`] against the cluster's nodes; `Ok(vec![])` when no role requires anti-affinity
/// or the operator may not list nodes.
pub async fn check(client: &Client, cluster: &ValidatedCluster) -> Result<Vec<String>> {
    let required = [&cluster.name_server_pod, &cluster.broker_pod]
        .iter()
        .any(|p| p.anti_affinity == AntiAffinity::Required);
    if !required {
        return Ok(Vec::new());
    }
    let api: Api<Node> = Api::all(client.clone());
    match api.list(&ListParams::default()).await {
        Ok(list) => Ok(shortfalls(cluster, &list.items)),
        Err(kube::Error::Api(s)) if s.code == 403 => {
            tracing::debug!("cannot list nodes: required anti-affinity not checked");
            Ok(Vec::new())
        }
        Err(e) => Err(Error::kube("list nodes")(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn node(name: &str, labels: serde_json::Value, cordoned: bool) -> Node {
        serde_json::from_value(json!({
            "metadata": {"name": name, "labels": labels},
            "spec": {"unschedulable": cordoned}
        }))
        .unwrap()
    }

    fn cluster(yaml: &str) -> ValidatedCluster {
        let c: rmq_model::RocketMQCluster = serde_yaml_ng::from_str(yaml).unwrap();
        rmq_model::validate(&c).unwrap()
    }

    #[test]
    fn required_needs_a_node_per_pod_of_a_group() {
        let c = cluster(
            "apiVersion: rmq.dev/v1alpha1\nkind: RocketMQCluster\nmetadata: {name: c}\nspec:\n  brokers:\n    replicasPerGroup: 3\n    pod: {antiAffinity: Required, nodeSelector: {mq: \"yes\"}}\n",
        );
        let nodes = [
            node("a", json!({"mq": "yes"}), false),
            node("b", json!({"mq": "yes"}), true),
            node("c", json!({"mq": "no"}), false),
            node("d", json!({"mq": "yes"}), false),
        ];
        let problems = shortfalls(&c, &nodes);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].starts_with("spec.brokers.pod.antiAffinity"));
        assert!(problems[0].contains("3 brokers of a group on 3 different nodes, but 2"));
        let more = [nodes.as_slice(), &[node("e", json!({"mq": "yes"}), false)]].concat();
        assert!(shortfalls(&c, &more).is_empty());
    }

    #[test]
    fn preferred_is_never_a_problem() {
        let c = cluster(
            "apiVersion: rmq.dev/v1alpha1\nkind: RocketMQCluster\nmetadata: {name: c}\nspec: {nameServer: {replicas: 3}}\n",
        );
        assert!(shortfalls(&c, &[]).is_empty());
    }
}
