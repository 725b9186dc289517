//! Automatic failover (RocketMQ 5 controller mode): `spec.brokers.failover` and
//! `spec.controller`, the replicated controllers that elect a new master from a group's in-sync
//! replicas when its master is lost.

use super::pod::PodOptions;
use super::storage::StorageSpec;
use crate::defaults;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// What happens when a group's master is lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Default)]
pub enum FailoverMode {
    /// Fixed roles: replica 0 is the master; a group takes no writes until it returns.
    #[default]
    Manual,
    /// Controller mode: the controllers elect a new master from the group's in-sync replicas
    /// (needs `replication: Sync` and 2+ replicas per group); brokers of a group are
    /// interchangeable and a returning old master rejoins as a replica, its divergent tail cut.
    Automatic,
}

/// The controllers of `failover: Automatic`: a Raft group that keeps each broker group's master,
/// epoch and in-sync set. Ignored with `failover: Manual`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ControllerSpec {
    /// How many controller replicas (1, 3, 5 or 7): elections need a majority of them alive, so
    /// 3 survive the loss of one, 5 of two. On AWS they run on the first nameserver nodes.
    #[serde(default = "defaults::controller_replicas")]
    #[schemars(range(min = 1, max = 7))]
    pub replicas: i32,
    /// How long a broker may go without a heartbeat before the controllers deem it dead and, if
    /// it was a master, elect another (broker.conf `controllerHeartBeatTimeoutMills`), in
    /// milliseconds, 1000..=60000. Failover takes about this long plus up to a fifth of it.
    #[serde(default = "defaults::controller_broker_timeout_ms")]
    #[schemars(range(min = 1000, max = 60000))]
    pub broker_timeout_ms: i32,
    /// The volume of each controller's Raft log (Kubernetes PVC); small (default 1Gi).
    #[serde(default = "defaults::controller_storage")]
    pub storage: StorageSpec,
    /// Sizing and placement of the controller pods (Kubernetes).
    #[serde(default)]
    pub pod: PodOptions,
}

impl Default for ControllerSpec {
    fn default() -> Self {
        Self {
            replicas: defaults::controller_replicas(),
            broker_timeout_ms: defaults::controller_broker_timeout_ms(),
            storage: defaults::controller_storage(),
            pod: PodOptions::default(),
        }
    }
}
