//! `RocketMQConsumerGroup`: a subscription group on every master of a cluster.

use super::status::Condition;
use crate::defaults;
use kube_derive::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A consumer (subscription) group on every broker group's master of `cluster`.
#[derive(CustomResource, Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "rmq.dev",
    version = "v1alpha1",
    kind = "RocketMQConsumerGroup",
    plural = "rocketmqconsumergroups",
    shortname = "rmqg",
    category = "rmq",
    namespaced,
    derive = "PartialEq",
    doc = "A RocketMQ consumer group on every master of a cluster (rmq.dev/v1alpha1).",
    status = "RocketMQConsumerGroupStatus",
    crates(
        kube_core = "::kube_core",
        k8s_openapi = "::k8s_openapi",
        schemars = "::schemars",
        serde = "::serde",
        serde_json = "::serde_json"
    ),
    printcolumn = r#"{"name":"Cluster","type":"string","jsonPath":".spec.cluster"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct RocketMQConsumerGroupSpec {
    /// The cluster: a `RocketMQCluster` name or, for `rmqctl apply` against any nameserver, the
    /// `brokerClusterName`.
    pub cluster: String,
    /// The RocketMQ group name when it differs from `metadata.name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_name: Option<String>,
    /// Redeliveries before a message goes to the group's dead-letter queue (0..=64;
    /// `retryMaxTimes`).
    #[serde(default = "defaults::retry_max_times")]
    #[schemars(range(min = 0, max = 64))]
    pub retry_max_times: i32,
    /// Orderly consumption (`consumeMessageOrderly`).
    #[serde(default = "defaults::no")]
    pub orderly: bool,
    /// Allow BROADCASTING consumers in this group (`consumeBroadcastEnable`; RocketMQ's default
    /// is true).
    #[serde(default = "defaults::broadcast")]
    pub broadcast: bool,
}

/// Observed state of a consumer group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "camelCase")]
pub struct RocketMQConsumerGroupStatus {
    /// The `metadata.generation` the status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// `Ready`, `Valid`.
    #[serde(default)]
    pub conditions: Vec<Condition>,
    /// Broker groups that have the subscription group.
    #[serde(default)]
    pub brokers: Vec<String>,
}
