//! Validation of `spec.brokers.failover` and `spec.controller`: automatic failover needs
//! synchronous replication and a replica to fail over to; the controllers are an odd number
//! (a majority must survive), their volume a quantity.

use super::ValidationError;
use super::pod::{Role, check_pod};
use crate::types::{FailoverMode, PodOptions, ReplicationMode, RocketMQClusterSpec};
use serde::Serialize;

/// broker.conf keys the model writes for automatic failover (with where they come from).
pub const FAILOVER_BROKER_KEYS: &[(&str, &str)] = &[
    ("enableControllerMode", "spec.brokers.failover"),
    ("controllerAddr", "spec.controller"),
    ("allAckInSyncStateSet", "spec.brokers.replication"),
    (
        "controllerHeartBeatTimeoutMills",
        "spec.controller.brokerTimeoutMs",
    ),
];

/// Automatic failover, validated: what every back-end needs to run the controllers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Failover {
    /// Controller replicas (odd).
    pub controllers: u32,
    /// A broker silent this long is dead (`controllerHeartBeatTimeoutMills`), in ms.
    pub broker_timeout_ms: u32,
    /// The controllers' volume size as written (`1Gi`).
    pub storage_size: String,
    /// StorageClass of that volume, if set.
    pub storage_class: Option<String>,
    /// Controller pod sizing and placement, resources resolved.
    pub pod: PodOptions,
}

/// `Some` for `failover: Automatic`, `None` for `Manual`; problems go to `errs`.
pub fn check_failover(
    s: &RocketMQClusterSpec,
    errs: &mut Vec<ValidationError>,
) -> Option<Failover> {
    if s.brokers.failover == FailoverMode::Manual {
        return None;
    }
    if s.brokers.replicas_per_group < 2 {
        errs.push(ValidationError::new(
            "spec.brokers.failover",
            "Automatic failover needs a replica to elect, but spec.brokers.replicasPerGroup is 1",
            "set spec.brokers.replicasPerGroup to 2 or more, or failover to Manual",
        ));
    }
    if s.brokers.replication == ReplicationMode::Async {
        errs.push(ValidationError::new(
            "spec.brokers.failover",
            "Automatic failover with Async replication loses the messages a dead master acknowledged but had not replicated",
            "set spec.brokers.replication to Sync (a send is acknowledged once every in-sync replica has it), or failover to Manual",
        ));
    }
    let c = &s.controller;
    if !matches!(c.replicas, 1 | 3 | 5 | 7) {
        errs.push(ValidationError::new(
            "spec.controller.replicas",
            format!("must be 1, 3, 5 or 7, got {}", c.replicas),
            "use an odd count: 3 controllers survive the loss of one, 5 of two (an even count survives no more than one fewer)",
        ));
    }
    if !(1000..=60_000).contains(&c.broker_timeout_ms) {
        errs.push(ValidationError::new(
            "spec.controller.brokerTimeoutMs",
            format!("must be 1000..=60000, got {}", c.broker_timeout_ms),
            "set how long a silent broker is deemed alive, in milliseconds (e.g. 5000)",
        ));
    }
    super::storage::check_storage(&c.storage, "spec.controller.storage", errs);
    Some(Failover {
        controllers: u32::try_from(c.replicas).unwrap_or(0),
        broker_timeout_ms: u32::try_from(c.broker_timeout_ms).unwrap_or(0),
        storage_size: c.storage.size.clone(),
        storage_class: c.storage.storage_class.clone(),
        pod: check_pod(&c.pod, Role::Controller, errs),
    })
}

/// The `from` of a failover-owned broker.conf key, if `k` is one.
pub fn failover_key_source(k: &str) -> Option<&'static str> {
    FAILOVER_BROKER_KEYS
        .iter()
        .find(|(key, _)| *key == k)
        .map(|(_, from)| *from)
}
