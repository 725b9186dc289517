//! `RocketMQCluster`: nameservers and broker groups (shards), replicas per group, replication
//! and flush modes, storage, retention and extra `broker.conf` keys.

use super::failover::{ControllerSpec, FailoverMode};
use super::monitoring::MonitoringSpec;
use super::pod::PodOptions;
use super::scale_in::ScaleInSpec;
use super::security::SecuritySpec;
use super::status::Condition;
use super::storage::StorageSpec;
use crate::defaults;
use kube_derive::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A RocketMQ cluster: `nameServer.replicas` nameservers and `brokers.groups` broker groups
/// (`broker-a`, `broker-b`, ...) of `brokers.replicasPerGroup` brokers each (one master, the
/// rest slaves).
#[derive(CustomResource, Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "rmq.dev",
    version = "v1alpha1",
    kind = "RocketMQCluster",
    plural = "rocketmqclusters",
    shortname = "rmqc",
    category = "rmq",
    namespaced,
    derive = "PartialEq",
    doc = "A RocketMQ cluster: nameservers and broker groups (rmq.dev/v1alpha1).",
    status = "RocketMQClusterStatus",
    crates(
        kube_core = "::kube_core",
        k8s_openapi = "::k8s_openapi",
        schemars = "::schemars",
        serde = "::serde",
        serde_json = "::serde_json"
    ),
    printcolumn = r#"{"name":"Groups","type":"integer","jsonPath":".spec.brokers.groups"}"#,
    printcolumn = r#"{"name":"Replicas","type":"integer","jsonPath":".spec.brokers.replicasPerGroup"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct RocketMQClusterSpec {
    /// rmq version the nodes run (container image tag on Kubernetes, artefact version on AWS).
    /// Defaults to the version of the rmq tools applying the spec.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Container image (Kubernetes only), e.g. `ghcr.io/rmq-dev/rmq:0.1.0`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Nameservers.
    #[serde(default)]
    pub name_server: NameServerSpec,
    /// Broker groups.
    #[serde(default)]
    pub brokers: BrokersSpec,
    /// How clients outside the cluster's network reach the nameservers and brokers.
    #[serde(default)]
    pub listener: ListenerSpec,
    /// Prometheus operator objects (Kubernetes): a PodMonitor and alert rules.
    #[serde(default)]
    pub monitoring: MonitoringSpec,
    /// ACL (accounts and permissions) and TLS of every nameserver and broker.
    #[serde(default)]
    pub security: SecuritySpec,
    /// The controllers of `spec.brokers.failover: Automatic` (ignored otherwise).
    #[serde(default)]
    pub controller: ControllerSpec,
}

/// Access from outside (Kubernetes): `Internal` (default: Service DNS names, reachable inside the
/// cluster only), `NodePort` (every node forwards `nodePortBase` to the nameservers and
/// `nodePortBase + 1 + n` to the n-th broker, which advertises its node's IP and that port to
/// clients; replication stays on the in-cluster names) or `LoadBalancer` (one load balancer per
/// broker and one for the nameservers; a broker advertises its load balancer's address once
/// the cloud has provisioned it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ListenerSpec {
    /// `Internal`, `NodePort` or `LoadBalancer`.
    #[serde(default = "defaults::listener_type", rename = "type")]
    pub kind: ListenerType,
    /// First node port (NodePort): the nameservers get it, broker n (group by group, master
    /// first) gets `nodePortBase + 1 + n`. Must leave room for every broker below 32768.
    #[serde(default = "defaults::node_port_base")]
    pub node_port_base: i32,
    /// Annotations of the external Services (e.g. a cloud load balancer controller's).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

impl Default for ListenerSpec {
    fn default() -> Self {
        Self {
            kind: defaults::listener_type(),
            node_port_base: defaults::node_port_base(),
            annotations: BTreeMap::new(),
        }
    }
}

/// The kind of external access.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum ListenerType {
    /// In-cluster only.
    Internal,
    /// Node ports on every node.
    NodePort,
    /// A cloud load balancer per broker and one for the nameservers.
    LoadBalancer,
}

/// Nameservers: stateless route registries every broker registers with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NameServerSpec {
    /// How many nameservers (1..=16). Every broker registers with all of them.
    #[serde(default = "defaults::name_server_replicas")]
    #[schemars(range(min = 1, max = 16))]
    pub replicas: i32,
    /// Sizing and placement of the nameserver pods.
    #[serde(default)]
    pub pod: PodOptions,
}

impl Default for NameServerSpec {
    fn default() -> Self {
        Self {
            replicas: defaults::name_server_replicas(),
            pod: PodOptions::default(),
        }
    }
}

/// Broker groups (shards) and how each is replicated and stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BrokersSpec {
    /// Broker groups, named `broker-a`, `broker-b`, ... (1..=64). Topics get queues on every
    /// group's master.
    #[serde(default = "defaults::broker_groups")]
    #[schemars(range(min = 1, max = 64))]
    pub groups: i32,
    /// Brokers per group: brokerId 0 is the master, 1.. are slaves (1..=8).
    #[serde(default = "defaults::replicas_per_group")]
    #[schemars(range(min = 1, max = 8))]
    pub replicas_per_group: i32,
    /// `Async` (ASYNC_MASTER) or `Sync` (SYNC_MASTER: a send is acknowledged once a slave has
    /// it).
    #[serde(default = "defaults::replication")]
    pub replication: ReplicationMode,
    /// `Manual` (default: replica 0 is always the master) or `Automatic` (the controllers of
    /// `spec.controller` elect a new master from the in-sync replicas when the master is lost;
    /// needs `replication: Sync`).
    #[serde(default)]
    pub failover: FailoverMode,
    /// `Async` (ASYNC_FLUSH) or `Sync` (SYNC_FLUSH: acknowledged after fsync).
    #[serde(default = "defaults::flush")]
    pub flush: FlushMode,
    /// Data volume of each broker.
    #[serde(default)]
    pub storage: StorageSpec,
    /// How long brokers keep messages and how full their data volume may get, written to every
    /// broker.conf as `fileReservedTime`, `deleteWhen` and `diskMaxUsedSpaceRatio`: commit-log
    /// segments older than `hours` are deleted at a `deleteWhen` hour; above
    /// `maxDiskUsedPercent` the oldest go whatever their age; at 85% disk usage the broker cleans
    /// at once and at 90% it refuses writes until space returns. Size the volume for peak ingest
    /// × `hours` with headroom. These keys may appear in `config` only with the same values.
    #[serde(default)]
    pub retention: RetentionSpec,
    /// Extra `broker.conf` keys for every broker, e.g. `{autoCreateTopicEnable: "false"}`.
    /// Keys the model sets itself (brokerName, brokerId, brokerRole, ...) are refused.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub config: BTreeMap<String, String>,
    /// Sizing and placement of the broker pods; a group's pods avoid sharing a node and spread
    /// over zones.
    #[serde(default)]
    pub pod: PodOptions,
    /// What lowering `groups` does to the groups that leave (drain, then remove).
    #[serde(default)]
    pub scale_in: ScaleInSpec,
}

impl Default for BrokersSpec {
    fn default() -> Self {
        Self {
            groups: defaults::broker_groups(),
            replicas_per_group: defaults::replicas_per_group(),
            replication: defaults::replication(),
            failover: FailoverMode::default(),
            flush: defaults::flush(),
            storage: StorageSpec::default(),
            retention: RetentionSpec::default(),
            config: BTreeMap::new(),
            pod: PodOptions::default(),
            scale_in: ScaleInSpec::default(),
        }
    }
}

/// How masters replicate to slaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum ReplicationMode {
    /// ASYNC_MASTER.
    Async,
    /// SYNC_MASTER.
    Sync,
}

/// How the commit log is flushed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum FlushMode {
    /// ASYNC_FLUSH.
    Async,
    /// SYNC_FLUSH.
    Sync,
}

/// Time- and space-based retention of the brokers' commit log. A segment is deleted at a
/// `deleteWhen` hour once its newest message is older than `hours`; when the data volume is
/// fuller than `maxDiskUsedPercent`, the oldest segments are deleted whatever their age. (At 85%
/// the broker cleans at once; at 90% it refuses writes until space returns.)
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RetentionSpec {
    /// Hours a commit-log segment is kept after its newest message (broker.conf
    /// `fileReservedTime`), 1..=87600.
    #[serde(default = "defaults::retention_hours")]
    #[schemars(range(min = 1, max = 87600))]
    pub hours: i32,
    /// Hour(s) of the day at which expired segments are deleted (broker.conf `deleteWhen`): two
    /// digits 00-23, several separated by `;`, e.g. `04` or `04;16`. The broker's local time (UTC
    /// in the rmq image and on the AWS nodes).
    #[serde(default = "defaults::retention_delete_when")]
    #[schemars(regex(pattern = r"^([01][0-9]|2[0-3])(;([01][0-9]|2[0-3]))*$"))]
    pub delete_when: String,
    /// Disk usage of the data volume, in percent, above which the oldest segments are deleted
    /// even if they have not expired (broker.conf `diskMaxUsedSpaceRatio`), 10..=95.
    #[serde(default = "defaults::max_disk_used_percent")]
    #[schemars(range(min = 10, max = 95))]
    pub max_disk_used_percent: i32,
}

impl Default for RetentionSpec {
    fn default() -> Self {
        Self {
            hours: defaults::retention_hours(),
            delete_when: defaults::retention_delete_when(),
            max_disk_used_percent: defaults::max_disk_used_percent(),
        }
    }
}

/// Observed state of a cluster.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "camelCase")]
pub struct RocketMQClusterStatus {
    /// The `metadata.generation` the status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// `Ready`, `Progressing`, `Degraded`, `Valid`.
    #[serde(default)]
    pub conditions: Vec<Condition>,
    /// What clients put in `namesrvAddr` (`host:port;host:port`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_server_address: Option<String>,
    /// What clients outside the cluster put in `namesrvAddr` (with an external listener, once
    /// the nodes or load balancers are known).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_name_server_address: Option<String>,
    /// Each broker's external `host:port` (what it advertises to clients), by pod name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub external_broker_addresses: BTreeMap<String, String>,
    /// Brokers registered with the nameservers, out of the declared total.
    #[serde(default)]
    pub ready_brokers: i32,
    /// Declared brokers (groups × replicasPerGroup).
    #[serde(default)]
    pub brokers: i32,
    /// Readiness of each broker group (Kubernetes back-end).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<BrokerGroupStatus>,
    /// The broker roll in progress (Kubernetes back-end); absent when every broker runs the
    /// current spec.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roll: Option<RollStatus>,
}

/// Where a broker roll is: the pod it is at, and what it does there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "camelCase")]
pub struct RollStatus {
    /// The broker pod.
    pub pod: String,
    /// `Restarting` (deleted this pass), `Waiting` (a gate holds it) or `Stuck` (a pod has not
    /// become Ready within the limit; nothing else restarts until it does).
    pub phase: String,
    /// Why the pod restarts, or what the roll waits for.
    pub message: String,
}

/// Readiness of one broker group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "camelCase")]
pub struct BrokerGroupStatus {
    /// Group name (`broker-a`).
    pub name: String,
    /// Brokers of the group that are ready.
    #[serde(default)]
    pub ready: i32,
    /// Declared brokers of the group.
    #[serde(default)]
    pub replicas: i32,
    /// Brokers already running the current spec.
    #[serde(default)]
    pub updated: i32,
    /// The master (brokerId 0) is ready.
    #[serde(default)]
    pub master_ready: bool,
}
