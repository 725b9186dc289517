//! The CustomResourceDefinitions generated from [`crate::types`]: what `crdgen` and `rmqctl crd`
//! print and what is committed under `operator/model/crds/` (a test checks they match).

use crate::types::{RocketMQCluster, RocketMQConsumerGroup, RocketMQTopic};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube_core::CustomResourceExt;

/// Every rmq CRD: cluster, topic, consumer group.
pub fn crds() -> Vec<CustomResourceDefinition> {
    vec![
        RocketMQCluster::crd(),
        RocketMQTopic::crd(),
        RocketMQConsumerGroup::crd(),
    ]
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
