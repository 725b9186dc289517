//! What a plan is computed from ([`Observed`], [`Desired`]) and made of ([`Action`]), and
//! why it cannot be made ([`PlanError`]).

use super::key::OwnedKey;
use crate::defaults;
use crate::validate::{GroupDecl, TopicDecl};
use rmq_protocol::body::subscription::SubscriptionGroupConfig;
use rmq_protocol::body::topic_config::TopicConfig;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// A master broker and what it holds.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct ObservedBroker {
    /// Broker group name (`brokerName`).
    pub name: String,
    /// The master's remoting address (`host:port`).
    pub addr: String,
    /// Topic configs by name.
    pub topics: BTreeMap<String, TopicConfig>,
    /// Subscription group configs by name.
    pub groups: BTreeMap<String, SubscriptionGroupConfig>,
}

/// One cluster as the nameservers and its masters report it.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct ObservedCluster {
    /// `brokerClusterName`.
    pub name: String,
    /// Every broker group's master.
    pub masters: Vec<ObservedBroker>,
    /// Broker groups registered without a master (only slaves).
    pub groups_without_master: Vec<String>,
}

/// Everything a plan is computed from.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Observed {
    /// The nameservers (ownership records are kept on each).
    pub name_servers: Vec<String>,
    /// Clusters by name (only those asked for).
    pub clusters: BTreeMap<String, ObservedCluster>,
    /// Clusters the nameservers know, for error messages.
    pub known_clusters: Vec<String>,
    /// Ownership records: key → nameserver → manager.
    pub owners: BTreeMap<OwnedKey, BTreeMap<String, String>>,
}

/// What should exist.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Desired {
    /// Topics that must exist on every master of their cluster.
    pub topics: Vec<TopicDecl>,
    /// Consumer groups that must exist on every master of their cluster.
    pub groups: Vec<GroupDecl>,
    /// Clusters whose owned-but-undeclared objects are deleted. Clusters outside the scope are
    /// never pruned (another file set may manage them).
    pub scope: BTreeSet<String>,
    /// The manager recorded as owner (`rmqctl`, `rmq-operator`, ...).
    pub manager: String,
}

impl Desired {
    /// Declarations for `rmqctl` with the scope being every cluster they mention plus `extra`.
    pub fn new(topics: Vec<TopicDecl>, groups: Vec<GroupDecl>, extra_scope: &[String]) -> Self {
        let mut desired = Self {
            topics,
            groups,
            scope: BTreeSet::new(),
            manager: defaults::MANAGER_RMQCTL.to_owned(),
        };
        desired.scope = desired.clusters();
        desired.scope.extend(extra_scope.iter().cloned());
        desired
    }

    /// Every cluster the plan needs to observe: the declared ones and the scope.
    pub fn clusters(&self) -> BTreeSet<String> {
        let mut set = self.scope.clone();
        set.extend(self.topics.iter().map(|t| t.cluster.clone()));
        set.extend(self.groups.iter().map(|g| g.cluster.clone()));
        set
    }
}

/// A master to act on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BrokerRef {
    /// Broker group name (`brokerName`).
    pub name: String,
    /// The master's remoting address (`host:port`).
    pub addr: String,
}

impl BrokerRef {
    /// The observed master `broker`.
    pub fn of(broker: &ObservedBroker) -> Self {
        Self {
            name: broker.name.clone(),
            addr: broker.addr.clone(),
        }
    }
}

/// One field that differs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    /// Field (`queues`, `perm`, `retryMaxTimes`, ...).
    pub field: String,
    /// The value the master has.
    pub from: String,
    /// The value the declaration wants.
    pub to: String,
}

/// One step of a plan. `cluster` is always the `brokerClusterName` the object belongs to and
/// `broker`/`brokers` the masters acted on.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "action", rename_all = "camelCase")]
pub enum Action {
    /// Record ownership on `name_servers` (those lacking the record).
    Own {
        /// The object the record is about.
        key: OwnedKey,
        /// The owner to record (`rmqctl`, `rmq-operator/<ns>/<kind>/<name>`, ...).
        manager: String,
        /// Nameservers to write to.
        name_servers: Vec<String>,
        /// The object already exists without a record (made by someone else).
        adopt: bool,
    },
    /// Create a topic on one master.
    CreateTopic {
        #[allow(missing_docs)]
        cluster: String,
        #[allow(missing_docs)]
        broker: BrokerRef,
        /// Config to send.
        config: TopicConfig,
    },
    /// Update a topic on one master.
    UpdateTopic {
        #[allow(missing_docs)]
        cluster: String,
        #[allow(missing_docs)]
        broker: BrokerRef,
        /// Config to send (the whole declared config, not only the changes).
        config: TopicConfig,
        /// The fields that differ, for the report.
        changes: Vec<Change>,
    },
    /// Delete a topic from `brokers`, then from every nameserver.
    DeleteTopic {
        #[allow(missing_docs)]
        cluster: String,
        /// The RocketMQ topic name.
        topic: String,
        /// Masters holding it.
        brokers: Vec<BrokerRef>,
        /// Nameservers to drop the route from.
        name_servers: Vec<String>,
    },
    /// Create a consumer group on one master.
    CreateGroup {
        #[allow(missing_docs)]
        cluster: String,
        #[allow(missing_docs)]
        broker: BrokerRef,
        /// Config to send.
        config: SubscriptionGroupConfig,
    },
    /// Update a consumer group on one master.
    UpdateGroup {
        #[allow(missing_docs)]
        cluster: String,
        #[allow(missing_docs)]
        broker: BrokerRef,
        /// Config to send (the whole declared config, not only the changes).
        config: SubscriptionGroupConfig,
        /// The fields that differ, for the report.
        changes: Vec<Change>,
    },
    /// Delete a consumer group from `brokers` (offsets are kept).
    DeleteGroup {
        #[allow(missing_docs)]
        cluster: String,
        /// The RocketMQ group name.
        group: String,
        /// Masters holding it.
        brokers: Vec<BrokerRef>,
    },
    /// Remove ownership records from `name_servers`.
    Disown {
        /// The object the records are about.
        key: OwnedKey,
        /// Nameservers holding a record.
        name_servers: Vec<String>,
    },
}

/// Why no plan could be made (nothing is applied then).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// A declaration names a cluster the nameservers do not know.
    #[error(
        "cluster {cluster:?} is not registered with the nameservers (known: {}) (fix: check spec.cluster, or start the cluster first)",
        if known.is_empty() { "none".to_owned() } else { known.join(", ") }
    )]
    UnknownCluster {
        /// The cluster a declaration names.
        cluster: String,
        /// Clusters the nameservers know.
        known: Vec<String>,
    },
    /// Some broker groups of a cluster have no master registered.
    #[error(
        "cluster {cluster:?}: broker group(s) {} have no master registered (fix: start the master, brokerId 0, and retry)",
        groups.join(", ")
    )]
    NoMaster {
        /// The cluster a declaration names.
        cluster: String,
        /// Its broker groups without a master, or `(all)` when none has one.
        groups: Vec<String>,
    },
}
