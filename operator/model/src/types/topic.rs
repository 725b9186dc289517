//! `RocketMQTopic`: a topic on every master of a cluster.

use super::status::Condition;
use crate::defaults;
use kube_derive::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A topic with `queues` read and write queues on every broker group's master of `cluster`.
#[derive(CustomResource, Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "rmq.dev",
    version = "v1alpha1",
    kind = "RocketMQTopic",
    plural = "rocketmqtopics",
    shortname = "rmqt",
    category = "rmq",
    namespaced,
    derive = "PartialEq",
    doc = "A RocketMQ topic on every master of a cluster (rmq.dev/v1alpha1).",
    status = "RocketMQTopicStatus",
    crates(
        kube_core = "::kube_core",
        k8s_openapi = "::k8s_openapi",
        schemars = "::schemars",
        serde = "::serde",
        serde_json = "::serde_json"
    ),
    printcolumn = r#"{"name":"Cluster","type":"string","jsonPath":".spec.cluster"}"#,
    printcolumn = r#"{"name":"Queues","type":"integer","jsonPath":".spec.queues"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct RocketMQTopicSpec {
    /// The cluster: a `RocketMQCluster` name (local mode, Kubernetes, AWS) or, for `rmqctl apply`
    /// against any nameserver, the `brokerClusterName` (e.g. `DefaultCluster`).
    pub cluster: String,
    /// The RocketMQ topic name when it differs from `metadata.name` (Kubernetes names cannot
    /// hold `_` or capitals; RocketMQ names cannot hold `.`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic_name: Option<String>,
    /// Read and write queues per broker group (1..=1024).
    #[serde(default = "defaults::topic_queues")]
    #[schemars(range(min = 1, max = 1024))]
    pub queues: i32,
    /// `ReadWrite`, `ReadOnly` or `WriteOnly`.
    #[serde(default = "defaults::topic_perm")]
    pub perm: TopicPerm,
    /// `Normal`, `FIFO`, `Delay` or `Transaction` (RocketMQ 5 `message.type`; `FIFO` also marks
    /// the topic ordered).
    #[serde(default = "defaults::message_type")]
    pub message_type: MessageType,
    /// Extra topic attributes (RocketMQ 5 `TopicAttributes`, e.g. `queue.type`), sent as
    /// `+key=value`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, String>,
}

/// Topic permission.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum TopicPerm {
    /// perm 6.
    ReadWrite,
    /// perm 4: consumers only.
    ReadOnly,
    /// perm 2: producers only.
    WriteOnly,
}

impl TopicPerm {
    /// RocketMQ permission bits.
    pub fn bits(self) -> i32 {
        match self {
            TopicPerm::ReadWrite => 6,
            TopicPerm::ReadOnly => 4,
            TopicPerm::WriteOnly => 2,
        }
    }

    /// The perm for RocketMQ permission bits (ignoring the inherit bit), if it is one of ours.
    pub fn from_bits(bits: i32) -> Option<Self> {
        match bits & 6 {
            6 => Some(TopicPerm::ReadWrite),
            4 => Some(TopicPerm::ReadOnly),
            2 => Some(TopicPerm::WriteOnly),
            _ => None,
        }
    }
}

/// RocketMQ 5 message type of a topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum MessageType {
    /// NORMAL.
    Normal,
    /// FIFO (ordered).
    #[serde(rename = "FIFO")]
    Fifo,
    /// DELAY.
    Delay,
    /// TRANSACTION.
    Transaction,
}

impl MessageType {
    /// The `message.type` attribute value.
    pub fn attribute(self) -> &'static str {
        match self {
            MessageType::Normal => "NORMAL",
            MessageType::Fifo => "FIFO",
            MessageType::Delay => "DELAY",
            MessageType::Transaction => "TRANSACTION",
        }
    }
}

/// Observed state of a topic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "camelCase")]
pub struct RocketMQTopicStatus {
    /// The `metadata.generation` the status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// `Ready` (exists as declared on every master), `Valid`.
    #[serde(default)]
    pub conditions: Vec<Condition>,
    /// Broker groups that serve the topic.
    #[serde(default)]
    pub brokers: Vec<String>,
}
