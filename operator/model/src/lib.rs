//! rmq-model: the one cluster model shared by every rmq back-end (local processes, the
//! Kubernetes operator, the AWS provisioner) and by `rmqctl apply`.
//!
//! # Layout
//! - [`types`]: the CRD types (`RocketMQCluster`, `RocketMQTopic`, `RocketMQConsumerGroup`,
//!   group `rmq.dev`, version `v1alpha1`) with their status types and conditions.
//! - [`defaults`]: every default value, in one place (serde, the CRD schema and the docs use it).
//! - [`validate`]: pure validation returning errors that name the field path and the fix, and
//!   the validated forms the rest of the crate consumes ([`ValidatedCluster`], [`TopicDecl`],
//!   [`GroupDecl`]).
//! - [`desired`]: the desired nodes of a cluster (nameservers, broker groups `broker-a`...,
//!   broker ids, roles, rendered `broker.conf`, data dirs) given a back-end's [`Addressing`].
//! - [`manifest`]: reading multi-document YAML files into typed documents, with errors naming
//!   the file, the document and the field.
//! - [`plan`]: the pure topic/consumer-group reconcile diff (declarations vs observed broker
//!   state → ordered [`plan::Action`]s), with the ownership rules.
//! - [`crd`]: the generated CustomResourceDefinitions (`crdgen`, `rmqctl crd`).
//! - `admin` (feature `admin`): the I/O half of the reconcile — observing nameservers and
//!   brokers and executing a plan through `rmq_protocol::net::RemotingClient`.
//!
//! Nothing here depends on broker internals; brokers are reached only through the protocol.

pub mod crd;
pub mod defaults;
pub mod desired;
pub mod manifest;
pub mod plan;
pub mod types;
pub mod validate;

#[cfg(feature = "admin")]
pub mod admin;

/// rmq-protocol, whose types this crate's API carries (`plan::Action` holds a `TopicConfig`,
/// `admin::Admin` returns a `ClusterInfo`): consumers name them, and its process helpers such
/// as `protocol::net::shutdown_signal` (feature `admin`), through this path and so always get
/// the version rmq-model was built with.
pub use rmq_protocol as protocol;

pub use desired::{
    Addressing, BrokerNode, ControllerNode, DesiredCluster, NameServerNode, desired_cluster,
};
pub use types::{
    BrokerGroupStatus, BrokersSpec, Condition, ConditionStatus, ControllerSpec, FailoverMode,
    FlushMode, MessageType, MonitoringSpec, NameServerSpec, ReplicationMode, RetentionSpec,
    RocketMQCluster, RocketMQClusterSpec, RocketMQClusterStatus, RocketMQConsumerGroup,
    RocketMQConsumerGroupSpec, RocketMQConsumerGroupStatus, RocketMQTopic, RocketMQTopicSpec,
    RocketMQTopicStatus, RollStatus, StorageSpec, TopicPerm,
};
pub use validate::{
    GroupDecl, TopicDecl, ValidatedCluster, ValidationError, validate, validate_group,
    validate_topic,
};

/// API group of every rmq CRD.
pub const API_GROUP: &str = "rmq.dev";
/// API version of every rmq CRD.
pub const API_VERSION: &str = "v1alpha1";
