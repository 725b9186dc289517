//! The CRD types: what a user writes in YAML and what `kubectl apply` stores. Group `rmq.dev`,
//! version `v1alpha1`, all namespaced, each with a status subresource holding conditions and
//! `observedGeneration`.
//!
//! Only shape and defaults live here; rules that need more than the schema can express live in
//! [`crate::validate`]. Every default comes from [`crate::defaults`].

mod cluster;
mod failover;
mod group;
mod monitoring;
mod pod;
mod scale_in;
mod security;
mod status;
mod storage;
mod topic;

pub use cluster::{
    BrokerGroupStatus, BrokersSpec, FlushMode, ListenerSpec, ListenerType, NameServerSpec,
    ReplicationMode, RetentionSpec, RocketMQCluster, RocketMQClusterSpec, RocketMQClusterStatus,
    RollStatus,
};
pub use failover::{ControllerSpec, FailoverMode};
pub use group::{RocketMQConsumerGroup, RocketMQConsumerGroupSpec, RocketMQConsumerGroupStatus};
pub use monitoring::MonitoringSpec;
pub use pod::{AntiAffinity, PodOptions, ResourceAmounts, ResourcesSpec, TolerationSpec};
pub use scale_in::{ScaleInSpec, VolumeClaimPolicy};
pub use security::{AclSpec, ClientAuthMode, SecuritySpec, TlsMode, TlsSpec};
pub use status::{Condition, ConditionStatus, condition_types};
pub use storage::StorageSpec;
pub use topic::{MessageType, RocketMQTopic, RocketMQTopicSpec, RocketMQTopicStatus, TopicPerm};
