//! The CustomResourceDefinitions generated from [`crate::types`]: what `crdgen` and `rmqctl crd`
//! print and what is committed under `operator/model/crds/` (a test checks they match).

use crate::types::{RocketMQCluster, RocketMQConsumerGroup, RocketMQTopic};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube_core::CustomResourceExt;

/// Every rmq CRD: cluster, topic, consumer group, with the admission rules of [`admission`].
pub fn crds() -> Vec<CustomResourceDefinition> {
    vec![
        admission::with_rules(RocketMQCluster::crd(), admission::CLUSTER),
        admission::with_rules(RocketMQTopic::crd(), admission::TOPIC),
        admission::with_rules(RocketMQConsumerGroup::crd(), admission::GROUP),
    ]
}

/// CEL (`x-kubernetes-validations`) rules the API server checks at admission, so what can be
/// refused up front is refused with a message naming the field and the fix, before any
/// back-end sees it. [`crate::validate`] still checks everything (local mode and AWS have no
/// API server); these rules only move the failure earlier on Kubernetes.
pub mod admission {
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    use serde_json::{Value, json};

    /// One rule: the schema path (`.`-separated property names below the root, `""` = root),
    /// the CEL expression and the message.
    pub type Rule = (&'static str, &'static str, &'static str);

    /// Rules of `RocketMQCluster`.
    pub const CLUSTER: &[Rule] = &[
        (
            "",
            "self.metadata.name.size() <= 40 && self.metadata.name.matches('^[a-z]([-a-z0-9]*[a-z0-9])?$')",
            "metadata.name must be at most 40 characters of lowercase letters, digits and '-', starting with a letter (names of pods and Services are derived from it)",
        ),
        (
            "spec.brokers",
            "self.replication != 'Sync' || self.replicasPerGroup >= 2",
            "spec.brokers.replication Sync needs a slave: set spec.brokers.replicasPerGroup to 2 or more, or replication to Async",
        ),
        (
            "spec.brokers",
            "!has(self.failover) || self.failover != 'Automatic' || (self.replication == 'Sync' && self.replicasPerGroup >= 2)",
            "spec.brokers.failover Automatic needs replication: Sync and replicasPerGroup 2 or more (the controllers elect only a replica that has every acknowledged message)",
        ),
        (
            "spec.brokers",
            "(has(self.failover) ? self.failover : 'Manual') == (has(oldSelf.failover) ? oldSelf.failover : 'Manual')",
            "spec.brokers.failover cannot change on a running cluster (controller mode assigns broker ids and roles differently); restore the previous value, or create a new cluster",
        ),
        (
            "spec",
            "!has(self.brokers) || !has(self.brokers.failover) || self.brokers.failover != 'Automatic' || !has(self.controller) || !has(oldSelf.controller) || !has(self.controller.replicas) || !has(oldSelf.controller.replicas) || self.controller.replicas == oldSelf.controller.replicas",
            "spec.controller.replicas cannot change on a running cluster with failover: Automatic (the controllers' Raft membership is fixed when they first start); restore the previous value",
        ),
        (
            "spec.controller",
            "!has(self.replicas) || self.replicas % 2 == 1",
            "spec.controller.replicas must be odd (1, 3, 5 or 7): a majority of them must be alive for elections",
        ),
        (
            "spec.brokers",
            "!has(self.config) || !has(self.retention) || ((!('fileReservedTime' in self.config) || self.config['fileReservedTime'] == string(self.retention.hours)) && (!('deleteWhen' in self.config) || self.config['deleteWhen'] == self.retention.deleteWhen) && (!('diskMaxUsedSpaceRatio' in self.config) || self.config['diskMaxUsedSpaceRatio'] == string(self.retention.maxDiskUsedPercent)))",
            "spec.brokers.config sets fileReservedTime, deleteWhen or diskMaxUsedSpaceRatio to another value than spec.brokers.retention: remove the key from spec.brokers.config and set spec.brokers.retention.hours, deleteWhen or maxDiskUsedPercent instead",
        ),
        (
            "spec.brokers.storage",
            "has(self.storageClass) == has(oldSelf.storageClass) && (!has(self.storageClass) || self.storageClass == oldSelf.storageClass)",
            "spec.brokers.storage.storageClass cannot change on a running cluster (volumes cannot move to another class); restore the previous value",
        ),
        (
            "spec.brokers.storage",
            "!isQuantity(self.size) || !isQuantity(oldSelf.size) || !quantity(self.size).isLessThan(quantity(oldSelf.size))",
            "spec.brokers.storage.size cannot shrink (volumes only grow, and only where the StorageClass allows expansion); restore the previous value or a larger one",
        ),
        (
            "spec.nameServer.pod.resources.requests",
            "(!has(self.cpu) || isQuantity(self.cpu)) && (!has(self.memory) || isQuantity(self.memory))",
            "spec.nameServer.pod.resources.requests: cpu and memory must be a Kubernetes quantity such as 500m or 2 (cpu), 512Mi or 2Gi (memory)",
        ),
        (
            "spec.nameServer.pod.resources.limits",
            "(!has(self.cpu) || isQuantity(self.cpu)) && (!has(self.memory) || isQuantity(self.memory))",
            "spec.nameServer.pod.resources.limits: cpu and memory must be a Kubernetes quantity such as 500m or 2 (cpu), 512Mi or 2Gi (memory)",
        ),
        (
            "spec.brokers.pod.resources.requests",
            "(!has(self.cpu) || isQuantity(self.cpu)) && (!has(self.memory) || isQuantity(self.memory))",
            "spec.brokers.pod.resources.requests: cpu and memory must be a Kubernetes quantity such as 500m or 2 (cpu), 512Mi or 2Gi (memory)",
        ),
        (
            "spec.brokers.pod.resources.limits",
            "(!has(self.cpu) || isQuantity(self.cpu)) && (!has(self.memory) || isQuantity(self.memory))",
            "spec.brokers.pod.resources.limits: cpu and memory must be a Kubernetes quantity such as 500m or 2 (cpu), 512Mi or 2Gi (memory)",
        ),
        (
            "spec.brokers.storage",
            "isQuantity(self.size) && quantity(self.size).isGreaterThan(quantity('0'))",
            "spec.brokers.storage.size must be a Kubernetes quantity such as 20Gi, 500Mi or 1Ti",
        ),
        (
            "spec.brokers.config",
            "self.all(k, !(k in ['brokerClusterName', 'brokerName', 'brokerId', 'brokerRole', 'flushDiskType', 'namesrvAddr', 'listenPort', 'haListenPort', 'brokerIP1', 'brokerIP2', 'storePathRootDir']))",
            "spec.brokers.config may not set keys rmq derives itself (brokerClusterName, brokerName, brokerId, brokerRole, flushDiskType, namesrvAddr, listenPort, haListenPort, brokerIP1, brokerIP2, storePathRootDir); use the spec fields instead",
        ),
    ];

    /// Rules of `RocketMQTopic`.
    pub const TOPIC: &[Rule] = &[
        (
            "spec",
            "self.cluster == oldSelf.cluster",
            "spec.cluster is immutable: create a new RocketMQTopic for the other cluster",
        ),
        (
            "spec",
            "has(self.topicName) == has(oldSelf.topicName) && (!has(self.topicName) || self.topicName == oldSelf.topicName)",
            "spec.topicName is immutable: create a new RocketMQTopic for the new name",
        ),
        (
            "spec.attributes",
            "!('message.type' in self)",
            "spec.attributes may not set message.type: use spec.messageType (Normal, FIFO, Delay, Transaction)",
        ),
    ];

    /// Rules of `RocketMQConsumerGroup`.
    pub const GROUP: &[Rule] = &[
        (
            "spec",
            "self.cluster == oldSelf.cluster",
            "spec.cluster is immutable: create a new RocketMQConsumerGroup for the other cluster",
        ),
        (
            "spec",
            "has(self.groupName) == has(oldSelf.groupName) && (!has(self.groupName) || self.groupName == oldSelf.groupName)",
            "spec.groupName is immutable: create a new RocketMQConsumerGroup for the new name",
        ),
    ];

    /// Map-valued fields get a size bound so the API server can cost the rules over them.
    const MAX_MAP_ENTRIES: u64 = 256;

    /// `crd` with `rules` added to the schema of every version.
    pub fn with_rules(crd: CustomResourceDefinition, rules: &[Rule]) -> CustomResourceDefinition {
        let Ok(mut v) = serde_json::to_value(&crd) else {
            return crd;
        };
        if let Some(versions) = v
            .pointer_mut("/spec/versions")
            .and_then(Value::as_array_mut)
        {
            for version in versions {
                let Some(root) = version.pointer_mut("/schema/openAPIV3Schema") else {
                    continue;
                };
                for (path, rule, message) in rules {
                    let pointer: String = path
                        .split('.')
                        .filter(|p| !p.is_empty())
                        .map(|p| format!("/properties/{p}"))
                        .collect();
                    // A rule whose field does not exist is a bug in the list above; it is
                    // skipped rather than attached to the wrong node (a test checks none is).
                    if let Some(obj) = root.pointer_mut(&pointer).and_then(Value::as_object_mut) {
                        if obj.get("additionalProperties").is_some() {
                            obj.insert("maxProperties".into(), json!(MAX_MAP_ENTRIES));
                        }
                        let list = obj
                            .entry("x-kubernetes-validations")
                            .or_insert_with(|| json!([]));
                        if let Some(list) = list.as_array_mut() {
                            list.push(json!({"rule": rule, "message": message}));
                        }
                    }
                }
            }
        }
        serde_json::from_value(v).unwrap_or(crd)
    }

    #[cfg(test)]
    mod tests {
        use super::*;
        use crate::crd::crds;

        #[test]
        fn every_rule_lands_on_its_field() {
            let yaml = serde_json::to_string(&crds()).unwrap();
            let count = CLUSTER.len() + TOPIC.len() + GROUP.len();
            assert_eq!(yaml.matches("\"rule\"").count(), count);
        }
    }
}

/// Schema of a free-form object the API server keeps as written
/// (`x-kubernetes-preserve-unknown-fields`), e.g. a pod template override.
pub fn preserve_unknown_object(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": "object",
        "x-kubernetes-preserve-unknown-fields": true,
    })
}

/// The CRDs as one multi-document YAML stream (`---` between documents).
pub fn crds_yaml() -> Result<String, serde_yaml_ng::Error> {
    let mut out = String::new();
    for crd in crds() {
        out.push_str("---\n");
        out.push_str(&serde_yaml_ng::to_string(&crd)?);
    }
    Ok(out)
}

/// The CRDs as a JSON array.
pub fn crds_json() -> Result<String, serde_json::Error> {
    serde_json::to_string_pretty(&crds())
}
