//! How the pods of one role (nameservers, brokers) are sized and placed: `spec.nameServer.pod`
//! and `spec.brokers.pod`. Kubernetes renders all of it; other back-ends use what means
//! something there (nothing yet: AWS sizes nodes by instance type).

use crate::defaults;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Sizing and placement of one role's pods.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "camelCase")]
pub struct PodOptions {
    /// CPU and memory requests and limits of the main container. When absent, the role's
    /// defaults (nameserver: requests 100m CPU / 128Mi, limit 256Mi; broker: requests 250m CPU
    /// / 512Mi, limit 2Gi): memory limited, CPU not (no throttling), so pods are `Burstable`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourcesSpec>,
    /// How strictly two pods of one broker group (or two nameservers) avoid one node:
    /// `Preferred` (default: the scheduler tries) or `Required` (a pod stays Pending rather than
    /// share a node). Pods are also spread over `topology.kubernetes.io/zone` when nodes have
    /// zones.
    #[serde(default = "defaults::anti_affinity")]
    pub anti_affinity: AntiAffinity,
    /// Node labels a pod's node must have.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub node_selector: BTreeMap<String, String>,
    /// Taints the pods tolerate.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tolerations: Vec<TolerationSpec>,
    /// PriorityClass of the pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority_class_name: Option<String>,
    /// Extra pod labels (the operator's own labels win on a clash).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Extra pod annotations.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// A partial Kubernetes PodTemplateSpec for what the model does not name (sidecars, extra
    /// volumes and env, hostAliases, ...). It is merged under the generated template: objects
    /// merge key by key, lists of named items (containers, volumes, env, ports, volumeMounts)
    /// merge by `name`, and where both set a value the generated one wins (the container's
    /// command, ports, probes, security context and data volume stay the operator's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::crd::preserve_unknown_object")]
    pub template: Option<serde_json::Value>,
}

/// `Preferred` or `Required` anti-affinity between pods of one group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Default)]
pub enum AntiAffinity {
    /// `preferredDuringSchedulingIgnoredDuringExecution`.
    #[default]
    Preferred,
    /// `requiredDuringSchedulingIgnoredDuringExecution`.
    Required,
}

/// Requests and limits as Kubernetes quantities (`cpu: 500m`, `memory: 1Gi`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "camelCase")]
pub struct ResourcesSpec {
    /// What the scheduler reserves.
    #[serde(default)]
    pub requests: ResourceAmounts,
    /// The most the container may use (memory: OOM-killed above it; CPU: throttled).
    #[serde(default)]
    pub limits: ResourceAmounts,
}

/// CPU and memory amounts; absent means not set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "camelCase")]
pub struct ResourceAmounts {
    /// CPU (`500m`, `2`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<String>,
    /// Memory (`512Mi`, `2Gi`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<String>,
}

/// A Kubernetes toleration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "camelCase")]
pub struct TolerationSpec {
    /// Taint key (empty with `Exists`: every taint).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// `Equal` (default) or `Exists`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator: Option<String>,
    /// Taint value (with `Equal`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// `NoSchedule`, `PreferNoSchedule` or `NoExecute` (empty: all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effect: Option<String>,
    /// With `NoExecute`: how long the pod stays after the taint appears.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub toleration_seconds: Option<i64>,
}
