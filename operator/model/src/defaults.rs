//! Every default of the model, in one place. The serde defaults of [`crate::types`] call these
//! functions, so the CRD schema (`default:`), a YAML file that leaves a field out and the
//! documentation all agree. Limits used by validation live here too.

use crate::types::{
    AntiAffinity, FlushMode, ListenerType, MessageType, ReplicationMode, TopicPerm,
};

/// `spec.nameServer.replicas`.
pub fn name_server_replicas() -> i32 {
    1
}
/// `spec.brokers.groups`.
pub fn broker_groups() -> i32 {
    1
}
/// `spec.brokers.replicasPerGroup` (1 = a master without slaves).
pub fn replicas_per_group() -> i32 {
    1
}
/// `spec.brokers.replication`.
pub fn replication() -> ReplicationMode {
    ReplicationMode::Async
}
/// `spec.brokers.flush`.
pub fn flush() -> FlushMode {
    FlushMode::Async
}
/// The HTTP port (`/healthz`, `/readyz`) of a broker or nameserver is its main port + this
/// (broker `httpListenPort` default: 10911 + 7 = 10918; nameserver: 9883).
pub const HTTP_PORT_OFFSET: u16 = 7;
/// `spec.listener.type`.
pub fn listener_type() -> ListenerType {
    ListenerType::Internal
}
/// `spec.listener.nodePortBase`.
pub fn node_port_base() -> i32 {
    30900
}
/// The node port range of a default Kubernetes API server (`--service-node-port-range`).
pub const NODE_PORT_RANGE: (i32, i32) = (30000, 32767);
/// `spec.*.pod.antiAffinity`.
pub fn anti_affinity() -> AntiAffinity {
    AntiAffinity::Preferred
}
/// Default resources of a nameserver pod: (cpu request, memory request, memory limit).
pub const NAME_SERVER_RESOURCES: (&str, &str, &str) = ("100m", "128Mi", "256Mi");
/// Default resources of a broker pod: (cpu request, memory request, memory limit). The broker
/// holds little in its heap (idle RSS ~7 MiB); the limit leaves room for read buffers under
/// load. The page cache of the data volume is charged to the pod but reclaimed under pressure.
pub const BROKER_RESOURCES: (&str, &str, &str) = ("250m", "512Mi", "2Gi");
/// Default resources of a controller pod: (cpu request, memory request, memory limit). A
/// controller holds each group's master, epoch and in-sync set and a short Raft log.
pub const CONTROLLER_RESOURCES: (&str, &str, &str) = ("100m", "64Mi", "256Mi");
/// Port of a controller replica (brokers, admins and the other replicas all use it), as
/// Java's controller examples use.
pub const CONTROLLER_PORT: u16 = 9878;
/// Parent of a controller's data directory where the back-end does not choose one (AWS: the
/// nameserver node's root volume).
pub const CONTROLLER_DATA_DIR: &str = "/var/lib/rmq";
/// `spec.brokers.storage.size`.
pub fn storage_size() -> String {
    "20Gi".into()
}
/// `spec.controller.replicas`: a majority survives one loss.
pub fn controller_replicas() -> i32 {
    3
}
/// `spec.controller.brokerTimeoutMs`: failover within ~6 s of a master's death.
pub fn controller_broker_timeout_ms() -> i32 {
    5000
}
/// `spec.controller.storage`: the Raft log and snapshots are small.
pub fn controller_storage() -> crate::types::StorageSpec {
    crate::types::StorageSpec {
        size: "1Gi".into(),
        storage_class: None,
    }
}
/// `spec.brokers.retention.hours` (broker.conf `fileReservedTime`; RocketMQ's default).
pub fn retention_hours() -> i32 {
    72
}
/// `spec.brokers.retention.deleteWhen` (broker.conf `deleteWhen`; RocketMQ's default).
pub fn retention_delete_when() -> String {
    "04".into()
}
/// `spec.brokers.retention.maxDiskUsedPercent` (broker.conf `diskMaxUsedSpaceRatio`; RocketMQ's
/// default).
pub fn max_disk_used_percent() -> i32 {
    75
}
/// `spec.queues` of a topic.
pub fn topic_queues() -> i32 {
    8
}
/// `spec.perm` of a topic.
pub fn topic_perm() -> TopicPerm {
    TopicPerm::ReadWrite
}
/// `spec.messageType` of a topic.
pub fn message_type() -> MessageType {
    MessageType::Normal
}
/// `spec.retryMaxTimes` of a consumer group (RocketMQ's default).
pub fn retry_max_times() -> i32 {
    16
}
/// `spec.broadcast` of a consumer group (RocketMQ's `consumeBroadcastEnable` default).
pub fn broadcast() -> bool {
    true
}
/// Serde helper for `false` defaults.
pub fn no() -> bool {
    false
}

/// Nameserver port every back-end uses unless its addressing says otherwise.
pub const NAME_SERVER_PORT: u16 = 9876;
/// Broker main port every back-end uses unless its addressing says otherwise.
pub const BROKER_PORT: u16 = 10911;
/// The broker's HA port is its main port plus this.
pub const HA_PORT_OFFSET: u16 = 1;
/// Where nodes find the secrets of `spec.security` (one directory per secret, one file per key)
/// unless the back-end says otherwise (local mode).
pub const SECRETS_DIR: &str = "/etc/rmq-secrets";
/// The rmq version a cluster runs when `spec.version` is absent (this crate's version).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Most nameservers a cluster may declare.
pub const MAX_NAME_SERVERS: i32 = 16;
/// Most broker groups a cluster may declare.
pub const MAX_BROKER_GROUPS: i32 = 64;
/// Most replicas (master + slaves) per broker group.
pub const MAX_REPLICAS_PER_GROUP: i32 = 8;
/// Most queues per topic (RocketMQ accepts more, but this is already plenty per broker).
pub const MAX_TOPIC_QUEUES: i32 = 1024;
/// Shortest retention in hours (`spec.brokers.retention.hours`).
pub const MIN_RETENTION_HOURS: i32 = 1;
/// Longest retention in hours: ten years.
pub const MAX_RETENTION_HOURS: i32 = 87_600;
/// Lowest `spec.brokers.retention.maxDiskUsedPercent` (the broker clamps lower values to it).
pub const MIN_DISK_USED_PERCENT: i32 = 10;
/// Highest `spec.brokers.retention.maxDiskUsedPercent` (the broker clamps higher values to it).
pub const MAX_DISK_USED_PERCENT: i32 = 95;
/// Longest cluster name: derived names (`<cluster>-broker-a-0`, Services, ASGs) must stay
/// within Kubernetes' 63-character label limit.
pub const MAX_CLUSTER_NAME: usize = 40;

/// Ownership record namespace in the nameservers' KV store (see [`crate::plan`]).
pub const OWNERSHIP_NAMESPACE: &str = "rmq.dev/owned";
/// Manager name `rmqctl apply` and `rmqctl local up` record as the owner.
pub const MANAGER_RMQCTL: &str = "rmqctl";

/// broker.conf keys an rmq broker takes at runtime (UPDATE_BROKER_CONFIG): the retention and
/// disk-safety settings. A change of only these is pushed to the running brokers; any other key
/// needs a restart. The same list the broker applies at runtime.
pub const RUNTIME_BROKER_KEYS: &[&str] = rmq_protocol::broker_keys::RUNTIME_RETENTION_KEYS;

/// The broker.conf key that carries the hash of a broker's restart-only settings, written by
/// the operator and reported back by GET_BROKER_CONFIG: the roller compares it with the desired
/// one to know whether a running broker needs a restart.
pub const CONFIG_HASH_KEY: &str = "rmqConfigHash";

/// `spec.monitoring.consumerLagAlert`: messages behind before the lag alert may fire.
pub fn consumer_lag_alert() -> i64 {
    10_000
}

/// `spec.monitoring.replicationLagAlertBytes`: 64 MiB behind the master.
pub fn replication_lag_alert_bytes() -> i64 {
    64 * 1024 * 1024
}
