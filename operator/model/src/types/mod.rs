//! The CRD types: what a user writes in YAML and what `kubectl apply` stores. Group `rmq.dev`,
//! version `v1alpha1`, all namespaced, each with a status subresource holding conditions and
//! `observedGeneration`.
//!
//! Only shape and defaults live here; rules that need more than the schema can express live in
//! [`crate::validate`]. Every default comes from [`crate::defaults`].

mod cluster;
mod group;
mod status;
mod topic;

pub use cluster::{
    BrokerGroupStatus, BrokersSpec, FlushMode, NameServerSpec, ReplicationMode, RetentionSpec,
    RocketMQCluster, RocketMQClusterSpec, RocketMQClusterStatus, StorageSpec,
};
pub use group::{RocketMQConsumerGroup, RocketMQConsumerGroupSpec, RocketMQConsumerGroupStatus};
pub use status::{Condition, ConditionStatus, condition_types};
pub use topic::{MessageType, RocketMQTopic, RocketMQTopicSpec, RocketMQTopicStatus, TopicPerm};
