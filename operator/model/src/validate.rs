//! Pure validation: a CR in, a validated form (or every problem at once) out. Each error names
//! the field path and the fix, e.g. `spec.brokers.groups: must be >= 1, got 0 (fix: ...)`.
//!
//! The validated forms are the only inputs of [`crate::desired`] and [`crate::plan`], so those
//! never re-check the CR (the Stackable `validate → build` split).

use crate::defaults;
use crate::types::{
    FlushMode, MessageType, ReplicationMode, RocketMQCluster, RocketMQClusterSpec,
    RocketMQConsumerGroup, RocketMQTopic, TopicPerm,
};
use rmq_protocol::body::subscription::SubscriptionGroupConfig;
use rmq_protocol::body::topic_config::TopicConfig;
use rmq_protocol::names;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;

mod failover;
mod listener;
mod pod;
mod retention;
mod security;
mod storage;

pub use failover::{FAILOVER_BROKER_KEYS, Failover};
pub use listener::broker_node_port;
pub use pod::parse_cpu;
pub use retention::{RETENTION_KEYS, Retention, is_delete_when};
pub use security::{
    ACL_FILE, ADMIN_KEYS, AclSecrets, SECURITY_KEYS, Security, TLS_FILES, TlsSettings,
    is_security_key,
};
pub use storage::parse_quantity;

/// One problem with a spec: where, what, and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ValidationError {
    /// Field path, e.g. `spec.brokers.groups`.
    pub path: String,
    /// What is wrong, e.g. `must be >= 1, got 0`.
    pub message: String,
    /// What to do about it.
    pub fix: String,
}

impl ValidationError {
    /// An error at `path`.
    pub fn new(
        path: impl Into<String>,
        message: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        Self {
            path: path.into(),
            message: message.into(),
            fix: fix.into(),
        }
    }
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)?;
        if !self.fix.is_empty() {
            write!(f, " (fix: {})", self.fix)?;
        }
        Ok(())
    }
}

impl std::error::Error for ValidationError {}

/// broker.conf keys the model derives itself; `spec.brokers.config` may not set them.
pub const MANAGED_BROKER_KEYS: &[(&str, &str)] = &[
    ("brokerClusterName", "metadata.name"),
    ("brokerName", "the group index (broker-a, broker-b, ...)"),
    ("brokerId", "the replica index"),
    ("brokerRole", "spec.brokers.replication"),
    ("flushDiskType", "spec.brokers.flush"),
    ("namesrvAddr", "spec.nameServer"),
    ("listenPort", "the back-end's addressing"),
    ("haListenPort", "the back-end's addressing"),
    ("brokerIP1", "the back-end's addressing"),
    ("brokerIP2", "the back-end's addressing"),
    ("storePathRootDir", "the back-end's data directory"),
];

/// A cluster spec that passed validation, with every default resolved. The single input of
/// [`crate::desired::desired_cluster`] and of the back-ends' builders.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ValidatedCluster {
    /// `metadata.name`: the cluster name and `brokerClusterName`.
    pub name: String,
    /// `metadata.namespace` (Kubernetes).
    pub namespace: Option<String>,
    /// `metadata.generation` (Kubernetes), for `observedGeneration`.
    pub generation: Option<i64>,
    /// rmq version the nodes run.
    pub version: String,
    /// Container image, if set.
    pub image: Option<String>,
    /// How many nameservers run.
    pub name_servers: u32,
    /// Broker group count.
    pub groups: u32,
    /// Brokers per group (1 master + slaves).
    pub replicas_per_group: u32,
    /// How masters replicate to slaves (`brokerRole`).
    pub replication: ReplicationMode,
    /// When a write is acknowledged relative to fsync (`flushDiskType`).
    pub flush: FlushMode,
    /// Storage size as written (`20Gi`).
    pub storage_size: String,
    /// Storage size in bytes.
    pub storage_bytes: u64,
    /// StorageClass / volume type, if set.
    pub storage_class: Option<String>,
    /// Retention (`fileReservedTime`, `deleteWhen`, `diskMaxUsedSpaceRatio`) of every broker.
    pub retention: Retention,
    /// Extra broker.conf keys (`spec.brokers.config` without the keys of [`RETENTION_KEYS`],
    /// which [`Self::retention`] holds).
    pub broker_config: BTreeMap<String, String>,
    /// Nameserver pod sizing and placement, resources resolved (never `None`).
    pub name_server_pod: crate::types::PodOptions,
    /// Broker pod sizing and placement, resources resolved (never `None`).
    pub broker_pod: crate::types::PodOptions,
    /// External access.
    pub listener: crate::types::ListenerSpec,
    /// What lowering `groups` does to the leaving groups.
    pub scale_in: crate::types::ScaleInSpec,
    /// ACL and TLS of every node.
    pub security: Security,
    /// Automatic failover (controller mode) and its controllers; `None` with fixed roles.
    pub failover: Option<Failover>,
}

impl ValidatedCluster {
    /// Declared brokers in total.
    pub fn broker_count(&self) -> u32 {
        self.groups * self.replicas_per_group
    }
}

/// Validates a cluster. Returns every problem, not just the first.
pub fn validate(c: &RocketMQCluster) -> Result<ValidatedCluster, Vec<ValidationError>> {
    let mut errs = Vec::new();
    let name = c.metadata.name.clone().unwrap_or_default();
    check_cluster_name(&name, "metadata.name", &mut errs);
    let s = &c.spec;
    let (name_servers, groups, replicas) = check_sizes(s, &mut errs);
    let storage_bytes =
        storage::check_storage(&s.brokers.storage, "spec.brokers.storage", &mut errs);
    for (k, v) in &s.brokers.config {
        check_broker_key(k, v, &mut errs);
    }
    let (retention, broker_config) =
        retention::check_retention(&s.brokers.retention, &s.brokers.config, &mut errs);
    check_version_and_image(s, &mut errs);
    let name_server_pod = pod::check_pod(&s.name_server.pod, pod::Role::NameServer, &mut errs);
    let broker_pod = pod::check_pod(&s.brokers.pod, pod::Role::Broker, &mut errs);
    listener::check_listener(&s.listener, groups * replicas, &mut errs);
    let security = security::check_security(&s.security, &mut errs);
    let failover = failover::check_failover(s, &mut errs);
    range(
        s.brokers.scale_in.drain_timeout_minutes,
        0,
        10_080,
        "spec.brokers.scaleIn.drainTimeoutMinutes",
        "set how long a leaving group may take to drain, in minutes (0..=10080, e.g. 30)",
        &mut errs,
    );
    if !errs.is_empty() {
        return Err(errs);
    }
    Ok(ValidatedCluster {
        name,
        namespace: c.metadata.namespace.clone(),
        generation: c.metadata.generation,
        version: s
            .version
            .clone()
            .unwrap_or_else(|| defaults::VERSION.to_owned()),
        image: s.image.clone(),
        name_servers,
        groups,
        replicas_per_group: replicas,
        replication: s.brokers.replication,
        flush: s.brokers.flush,
        storage_size: s.brokers.storage.size.clone(),
        storage_bytes,
        storage_class: s.brokers.storage.storage_class.clone(),
        retention,
        broker_config,
        name_server_pod,
        broker_pod,
        listener: s.listener.clone(),
        scale_in: s.brokers.scale_in.clone(),
        security,
        failover,
    })
}

/// (nameservers, broker groups, replicas per group) within their limits, and a replication
/// mode the replica count can serve.
fn check_sizes(s: &RocketMQClusterSpec, errs: &mut Vec<ValidationError>) -> (u32, u32, u32) {
    let name_servers = range(
        s.name_server.replicas,
        1,
        defaults::MAX_NAME_SERVERS,
        "spec.nameServer.replicas",
        "set how many nameservers to run, e.g. 1 (or 2-3 for availability)",
        errs,
    );
    let groups = range(
        s.brokers.groups,
        1,
        defaults::MAX_BROKER_GROUPS,
        "spec.brokers.groups",
        "set how many broker groups (shards) to run, e.g. 2",
        errs,
    );
    let replicas = range(
        s.brokers.replicas_per_group,
        1,
        defaults::MAX_REPLICAS_PER_GROUP,
        "spec.brokers.replicasPerGroup",
        "set 1 for a master only, 2 for a master and a slave",
        errs,
    );
    if s.brokers.replication == ReplicationMode::Sync && s.brokers.replicas_per_group == 1 {
        errs.push(ValidationError::new(
            "spec.brokers.replication",
            "Sync replication needs a slave, but spec.brokers.replicasPerGroup is 1",
            "set spec.brokers.replicasPerGroup to 2 or more, or replication to Async",
        ));
    }
    (name_servers, groups, replicas)
}

fn check_version_and_image(s: &RocketMQClusterSpec, errs: &mut Vec<ValidationError>) {
    for (field, value) in [("spec.version", &s.version), ("spec.image", &s.image)] {
        if let Some(v) = value
            && (v.trim().is_empty() || v.chars().any(char::is_whitespace))
        {
            errs.push(ValidationError::new(
                field,
                format!("{v:?} is blank or contains spaces"),
                "remove the field for the default, or give a value without spaces",
            ));
        }
    }
}

fn range(
    v: i32,
    min: i32,
    max: i32,
    path: &str,
    fix: &str,
    errs: &mut Vec<ValidationError>,
) -> u32 {
    if v < min {
        errs.push(ValidationError::new(
            path,
            format!("must be >= {min}, got {v}"),
            fix,
        ));
        0
    } else if v > max {
        errs.push(ValidationError::new(
            path,
            format!("must be <= {max}, got {v}"),
            fix,
        ));
        0
    } else {
        u32::try_from(v).unwrap_or(0)
    }
}

fn check_cluster_name(name: &str, path: &str, errs: &mut Vec<ValidationError>) {
    let fix = "use lowercase letters, digits and '-', starting with a letter, at most 40 characters (e.g. demo)";
    if name.is_empty() {
        errs.push(ValidationError::new(path, "is missing", fix));
        return;
    }
    let ok = name.len() <= defaults::MAX_CLUSTER_NAME
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && !name.ends_with('-')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !ok {
        errs.push(ValidationError::new(
            path,
            format!("{name:?} is not a valid cluster name"),
            fix,
        ));
    }
}

fn check_broker_key(k: &str, v: &str, errs: &mut Vec<ValidationError>) {
    let path = format!("spec.brokers.config.{k}");
    if let Some((_, from)) = MANAGED_BROKER_KEYS.iter().find(|(key, _)| *key == k) {
        errs.push(ValidationError::new(
            path,
            format!("{k} is set by rmq from {from}"),
            "remove it from spec.brokers.config",
        ));
        return;
    }
    if let Some(from) = failover::failover_key_source(k) {
        errs.push(ValidationError::new(
            path,
            format!("{k} is set by rmq from {from}"),
            "remove it from spec.brokers.config",
        ));
        return;
    }
    if security::is_security_key(k) {
        errs.push(ValidationError::new(
            path,
            format!("{k} is set by rmq from spec.security"),
            "remove it from spec.brokers.config and describe the ACL or TLS in spec.security",
        ));
        return;
    }
    let bad_key = k.is_empty() || k.chars().any(|c| c.is_whitespace() || "=:#!".contains(c));
    if bad_key {
        errs.push(ValidationError::new(
            path,
            format!("{k:?} is not a broker.conf key"),
            "use a key such as autoCreateTopicEnable, without spaces, '=', ':' or '#'",
        ));
    } else if v.contains(['\n', '\r']) {
        errs.push(ValidationError::new(
            path,
            "the value spans several lines",
            "put the value on one line",
        ));
    }
}

/// A validated topic declaration: what must exist on every master of `cluster`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TopicDecl {
    /// Cluster name (`brokerClusterName`).
    pub cluster: String,
    /// RocketMQ topic name.
    pub name: String,
    /// Read and write queues per broker group.
    pub queues: i32,
    /// Who may read and write it.
    pub perm: TopicPerm,
    /// The RocketMQ 5 `message.type` (FIFO also makes the topic ordered).
    pub message_type: MessageType,
    /// Extra attributes (without `message.type`).
    pub attributes: BTreeMap<String, String>,
}

impl TopicDecl {
    /// The topic config to create on a broker (attributes include `message.type`).
    pub fn to_topic_config(&self) -> TopicConfig {
        let mut attributes = self.attributes.clone();
        attributes.insert(
            MESSAGE_TYPE_ATTRIBUTE.into(),
            self.message_type.attribute().into(),
        );
        TopicConfig {
            topic_name: self.name.clone(),
            read_queue_nums: self.queues,
            write_queue_nums: self.queues,
            perm: self.perm.bits(),
            order: self.message_type == MessageType::Fifo,
            attributes,
            ..TopicConfig::default()
        }
    }
}

/// The RocketMQ 5 topic attribute holding the message type.
pub const MESSAGE_TYPE_ATTRIBUTE: &str = "message.type";

/// Validates a topic CR into a declaration.
pub fn validate_topic(t: &RocketMQTopic) -> Result<TopicDecl, Vec<ValidationError>> {
    let mut errs = Vec::new();
    let s = &t.spec;
    check_target_cluster(&s.cluster, &mut errs);
    let name = effective_name(
        s.topic_name.as_deref(),
        t.metadata.name.as_deref(),
        "spec.topicName",
        names::validate_topic,
        &mut errs,
    );
    if names::is_system_topic(&name)
        || name.starts_with(names::RETRY_GROUP_TOPIC_PREFIX)
        || name.starts_with(names::DLQ_GROUP_TOPIC_PREFIX)
    {
        errs.push(ValidationError::new(
            "spec.topicName",
            format!("{name:?} is a system topic owned by the broker"),
            "pick another topic name",
        ));
    }
    range(
        s.queues,
        1,
        defaults::MAX_TOPIC_QUEUES,
        "spec.queues",
        "set the read/write queue count per broker group, e.g. 8",
        &mut errs,
    );
    check_attributes(&s.attributes, &mut errs);
    if !errs.is_empty() {
        return Err(errs);
    }
    Ok(TopicDecl {
        cluster: s.cluster.clone(),
        name,
        queues: s.queues,
        perm: s.perm,
        message_type: s.message_type,
        attributes: s.attributes.clone(),
    })
}

/// Topic attributes: not `message.type` (it has its own field), and keys and values the
/// `+key=value,...` wire form can carry.
fn check_attributes(attributes: &BTreeMap<String, String>, errs: &mut Vec<ValidationError>) {
    for (k, v) in attributes {
        let path = format!("spec.attributes.{k}");
        if k == MESSAGE_TYPE_ATTRIBUTE {
            errs.push(ValidationError::new(
                path,
                "the message type has its own field",
                "remove it and set spec.messageType (Normal, FIFO, Delay, Transaction)",
            ));
        } else if k.is_empty() || k.starts_with(['+', '-']) || k.contains([',', '=']) {
            errs.push(ValidationError::new(
                path,
                format!("{k:?} is not an attribute key"),
                "use a key such as queue.type, without ',', '=' or a leading '+'/'-'",
            ));
        } else if v.is_empty() || v.contains([',', '=']) {
            errs.push(ValidationError::new(
                path,
                format!("{v:?} is not an attribute value"),
                "give a non-empty value without ',' or '='",
            ));
        }
    }
}

/// A validated consumer group declaration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GroupDecl {
    /// Cluster name (`brokerClusterName`).
    pub cluster: String,
    /// RocketMQ group name.
    pub name: String,
    /// Redeliveries before a message goes to the dead-letter queue (`retryMaxTimes`).
    pub retry_max_times: i32,
    /// Messages of a queue are consumed one at a time, in order (`consumeMessageOrderly`).
    pub orderly: bool,
    /// BROADCASTING consumers are allowed (`consumeBroadcastEnable`).
    pub broadcast: bool,
}

impl GroupDecl {
    /// The subscription group config to create on a broker.
    pub fn to_group_config(&self) -> SubscriptionGroupConfig {
        SubscriptionGroupConfig {
            group_name: self.name.clone(),
            retry_max_times: self.retry_max_times,
            consume_message_orderly: self.orderly,
            consume_broadcast_enable: self.broadcast,
            ..SubscriptionGroupConfig::default()
        }
    }
}

/// Validates a consumer group CR into a declaration.
pub fn validate_group(g: &RocketMQConsumerGroup) -> Result<GroupDecl, Vec<ValidationError>> {
    let mut errs = Vec::new();
    let s = &g.spec;
    check_target_cluster(&s.cluster, &mut errs);
    let name = effective_name(
        s.group_name.as_deref(),
        g.metadata.name.as_deref(),
        "spec.groupName",
        names::validate_group,
        &mut errs,
    );
    range(
        s.retry_max_times,
        0,
        64,
        "spec.retryMaxTimes",
        "set how often a failed message is redelivered before the DLQ, e.g. 16",
        &mut errs,
    );
    if !errs.is_empty() {
        return Err(errs);
    }
    Ok(GroupDecl {
        cluster: s.cluster.clone(),
        name,
        retry_max_times: s.retry_max_times,
        orderly: s.orderly,
        broadcast: s.broadcast,
    })
}

fn check_target_cluster(cluster: &str, errs: &mut Vec<ValidationError>) {
    if cluster.trim().is_empty()
        || cluster.contains('/')
        || cluster.chars().any(char::is_whitespace)
    {
        errs.push(ValidationError::new(
            "spec.cluster",
            format!("{cluster:?} is not a cluster name"),
            "name the RocketMQCluster (or the brokerClusterName, e.g. DefaultCluster)",
        ));
    }
}

fn effective_name(
    explicit: Option<&str>,
    metadata: Option<&str>,
    field: &str,
    check: fn(&str) -> Result<(), String>,
    errs: &mut Vec<ValidationError>,
) -> String {
    let (path, name) = match (explicit, metadata) {
        (Some(n), _) => (field, n),
        (None, Some(n)) => ("metadata.name", n),
        (None, None) => {
            errs.push(ValidationError::new(
                "metadata.name",
                "is missing",
                format!("set metadata.name (or {field})"),
            ));
            return String::new();
        }
    };
    if let Err(e) = check(name) {
        let fix = if path == field {
            format!("fix {field}")
        } else {
            format!("set {field} to a valid RocketMQ name (letters, digits, %, |, _ and -)")
        };
        errs.push(ValidationError::new(path, e, fix));
    }
    name.to_owned()
}
