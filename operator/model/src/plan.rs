//! The topic / consumer-group reconcile plan: a pure diff from declarations ([`Desired`]) and
//! what the brokers and nameservers report ([`Observed`]) to an ordered list of [`Action`]s.
//! `rmqctl apply`, `rmqctl local up`, the Kubernetes operator and AWS day-2 all use it; the I/O
//! that observes and executes lives in `admin` (feature `admin`).
//!
//! # Ownership
//! rmq deletes only what it owns. Ownership is recorded in the nameservers' KV store (namespace
//! [`defaults::OWNERSHIP_NAMESPACE`], key `topic/<cluster>/<name>` or `group/<cluster>/<name>`,
//! value = the manager, e.g. `rmqctl`), written to every nameserver before the object is
//! created. Why not a topic attribute: Apache RocketMQ 5 brokers refuse attributes outside their
//! whitelist (`unsupported key`), 4.9 brokers drop them, and subscription groups of 4.9 have no
//! attributes at all — the KV record works the same on rmq and on every Apache version
//! (PUT_KV_CONFIG / GET_KVLIST_BY_NAMESPACE / DELETE_KV_CONFIG exist since 4.x), and `apply
//! --dry-run` stays a pure function of what was observed. A nameserver that lost its KV file
//! only makes rmq forget ownership, so it deletes less, never more.
//!
//! # Rules
//! - A declared object missing on a master is created there; one that differs (queues, perm,
//!   order, declared attributes; retry times, orderly, broadcast, enabled) is updated — so a
//!   change made behind rmq's back is reverted.
//! - A declared object that exists without an ownership record is adopted (recorded as owned).
//! - An object owned by this manager, in a cluster in scope and no longer declared, is deleted
//!   (topics: on every master, then from every nameserver's routes, like mqadmin deleteTopic),
//!   then its record is removed. Everything else is left alone.
//! - Order: per declared object, record ownership first, then create/update; deletions last.

use crate::defaults;
use crate::types::MessageType;
use crate::validate::{GroupDecl, MESSAGE_TYPE_ATTRIBUTE, TopicDecl};
use rmq_protocol::body::subscription::SubscriptionGroupConfig;
use rmq_protocol::body::topic_config::TopicConfig;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

mod display;

/// Topic or consumer group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum ObjectKind {
    /// A topic.
    Topic,
    /// A consumer (subscription) group.
    Group,
}

/// What an ownership record is about.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct OwnedKey {
    /// Topic or group.
    pub kind: ObjectKind,
    /// Cluster name.
    pub cluster: String,
    /// Topic or group name.
    pub name: String,
}

impl OwnedKey {
    /// The KV key: `topic/<cluster>/<name>` or `group/<cluster>/<name>`.
    pub fn kv_key(&self) -> String {
        let kind = match self.kind {
            ObjectKind::Topic => "topic",
            ObjectKind::Group => "group",
        };
        format!("{kind}/{}/{}", self.cluster, self.name)
    }

    /// Parses [`OwnedKey::kv_key`]; `None` for keys rmq did not write.
    pub fn parse(key: &str) -> Option<Self> {
        let (kind, rest) = key.split_once('/')?;
        let (cluster, name) = rest.rsplit_once('/')?;
        let kind = match kind {
            "topic" => ObjectKind::Topic,
            "group" => ObjectKind::Group,
            _ => return None,
        };
        (!cluster.is_empty() && !name.is_empty()).then(|| Self {
            kind,
            cluster: cluster.to_owned(),
            name: name.to_owned(),
        })
    }
}

impl fmt::Display for OwnedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            ObjectKind::Topic => "topic",
            ObjectKind::Group => "group",
        };
        write!(f, "{kind} {} (cluster {})", self.name, self.cluster)
    }
}

/// A master broker and what it holds.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct ObservedBroker {
    /// Broker group name (`brokerName`).
    pub name: String,
    /// Master address.
    pub addr: String,
    /// Topic configs by name.
    pub topics: BTreeMap<String, TopicConfig>,
    /// Subscription group configs by name.
    pub groups: BTreeMap<String, SubscriptionGroupConfig>,
}

/// One cluster as the nameservers and its masters report it.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct ObservedCluster {
    /// Cluster name.
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
    /// Declared topics.
    pub topics: Vec<TopicDecl>,
    /// Declared consumer groups.
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
        let mut scope: BTreeSet<String> = topics.iter().map(|t| t.cluster.clone()).collect();
        scope.extend(groups.iter().map(|g| g.cluster.clone()));
        scope.extend(extra_scope.iter().cloned());
        Self {
            topics,
            groups,
            scope,
            manager: defaults::MANAGER_RMQCTL.to_owned(),
        }
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
    /// Broker group name.
    pub name: String,
    /// Master address.
    pub addr: String,
}

/// One field that differs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    /// Field (`queues`, `perm`, `retryMaxTimes`, ...).
    pub field: String,
    /// Observed value.
    pub from: String,
    /// Declared value.
    pub to: String,
}

/// One step of a plan.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "action", rename_all = "camelCase")]
pub enum Action {
    /// Record ownership on `name_servers` (those lacking the record).
    Own {
        /// What.
        key: OwnedKey,
        /// Owner recorded.
        manager: String,
        /// Nameservers to write to.
        name_servers: Vec<String>,
        /// The object already exists without a record (made by someone else).
        adopt: bool,
    },
    /// Create a topic on one master.
    CreateTopic {
        /// Cluster.
        cluster: String,
        /// Master.
        broker: BrokerRef,
        /// Config to send.
        config: TopicConfig,
    },
    /// Update a topic on one master.
    UpdateTopic {
        /// Cluster.
        cluster: String,
        /// Master.
        broker: BrokerRef,
        /// Config to send.
        config: TopicConfig,
        /// What differs.
        changes: Vec<Change>,
    },
    /// Delete a topic from `brokers`, then from every nameserver.
    DeleteTopic {
        /// Cluster.
        cluster: String,
        /// Topic.
        topic: String,
        /// Masters holding it.
        brokers: Vec<BrokerRef>,
        /// Nameservers to drop the route from.
        name_servers: Vec<String>,
    },
    /// Create a consumer group on one master.
    CreateGroup {
        /// Cluster.
        cluster: String,
        /// Master.
        broker: BrokerRef,
        /// Config to send.
        config: SubscriptionGroupConfig,
    },
    /// Update a consumer group on one master.
    UpdateGroup {
        /// Cluster.
        cluster: String,
        /// Master.
        broker: BrokerRef,
        /// Config to send.
        config: SubscriptionGroupConfig,
        /// What differs.
        changes: Vec<Change>,
    },
    /// Delete a consumer group from `brokers` (offsets are kept).
    DeleteGroup {
        /// Cluster.
        cluster: String,
        /// Group.
        group: String,
        /// Masters holding it.
        brokers: Vec<BrokerRef>,
    },
    /// Remove ownership records from `name_servers`.
    Disown {
        /// What.
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
        /// The cluster.
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
        /// The cluster.
        cluster: String,
        /// Groups without master.
        groups: Vec<String>,
    },
}

/// Computes the plan. Pure.
pub fn plan(desired: &Desired, observed: &Observed) -> Result<Vec<Action>, Vec<PlanError>> {
    let mut errs = Vec::new();
    let declared_clusters: BTreeSet<&str> = desired
        .topics
        .iter()
        .map(|t| t.cluster.as_str())
        .chain(desired.groups.iter().map(|g| g.cluster.as_str()))
        .collect();
    for c in &declared_clusters {
        match observed.clusters.get(*c) {
            None => errs.push(PlanError::UnknownCluster {
                cluster: (*c).to_owned(),
                known: observed.known_clusters.clone(),
            }),
            Some(oc) if !oc.groups_without_master.is_empty() => errs.push(PlanError::NoMaster {
                cluster: (*c).to_owned(),
                groups: oc.groups_without_master.clone(),
            }),
            Some(oc) if oc.masters.is_empty() => errs.push(PlanError::NoMaster {
                cluster: (*c).to_owned(),
                groups: vec!["(all)".into()],
            }),
            Some(_) => {}
        }
    }
    if !errs.is_empty() {
        return Err(errs);
    }
    let mut actions = Vec::new();
    let mut topics: Vec<&TopicDecl> = desired.topics.iter().collect();
    topics.sort_by(|a, b| (&a.cluster, &a.name).cmp(&(&b.cluster, &b.name)));
    for t in topics {
        let Some(oc) = observed.clusters.get(&t.cluster) else {
            continue;
        };
        let key = OwnedKey {
            kind: ObjectKind::Topic,
            cluster: t.cluster.clone(),
            name: t.name.clone(),
        };
        let exists = oc.masters.iter().any(|m| m.topics.contains_key(&t.name));
        actions.extend(own(desired, observed, key, exists));
        let want = t.to_topic_config();
        for m in &oc.masters {
            let broker = BrokerRef {
                name: m.name.clone(),
                addr: m.addr.clone(),
            };
            match m.topics.get(&t.name) {
                None => actions.push(Action::CreateTopic {
                    cluster: t.cluster.clone(),
                    broker,
                    config: want.clone(),
                }),
                Some(have) => {
                    let changes = topic_changes(t, have);
                    if !changes.is_empty() {
                        actions.push(Action::UpdateTopic {
                            cluster: t.cluster.clone(),
                            broker,
                            config: want.clone(),
                            changes,
                        });
                    }
                }
            }
        }
    }
    let mut groups: Vec<&GroupDecl> = desired.groups.iter().collect();
    groups.sort_by(|a, b| (&a.cluster, &a.name).cmp(&(&b.cluster, &b.name)));
    for g in groups {
        let Some(oc) = observed.clusters.get(&g.cluster) else {
            continue;
        };
        let key = OwnedKey {
            kind: ObjectKind::Group,
            cluster: g.cluster.clone(),
            name: g.name.clone(),
        };
        let exists = oc.masters.iter().any(|m| m.groups.contains_key(&g.name));
        actions.extend(own(desired, observed, key, exists));
        let want = g.to_group_config();
        for m in &oc.masters {
            let broker = BrokerRef {
                name: m.name.clone(),
                addr: m.addr.clone(),
            };
            match m.groups.get(&g.name) {
                None => actions.push(Action::CreateGroup {
                    cluster: g.cluster.clone(),
                    broker,
                    config: want.clone(),
                }),
                Some(have) => {
                    let changes = group_changes(&want, have);
                    if !changes.is_empty() {
                        actions.push(Action::UpdateGroup {
                            cluster: g.cluster.clone(),
                            broker,
                            config: want.clone(),
                            changes,
                        });
                    }
                }
            }
        }
    }
    actions.extend(prune(desired, observed));
    Ok(actions)
}

fn own(desired: &Desired, observed: &Observed, key: OwnedKey, exists: bool) -> Option<Action> {
    let records = observed.owners.get(&key);
    let missing: Vec<String> = observed
        .name_servers
        .iter()
        .filter(|ns| records.and_then(|r| r.get(*ns)) != Some(&desired.manager))
        .cloned()
        .collect();
    (!missing.is_empty()).then(|| Action::Own {
        adopt: exists && records.is_none_or(BTreeMap::is_empty),
        key,
        manager: desired.manager.clone(),
        name_servers: missing,
    })
}

fn prune(desired: &Desired, observed: &Observed) -> Vec<Action> {
    let declared: BTreeSet<(ObjectKind, &str, &str)> = desired
        .topics
        .iter()
        .map(|t| (ObjectKind::Topic, t.cluster.as_str(), t.name.as_str()))
        .chain(
            desired
                .groups
                .iter()
                .map(|g| (ObjectKind::Group, g.cluster.as_str(), g.name.as_str())),
        )
        .collect();
    let mut deletes = Vec::new();
    let mut disowns = Vec::new();
    for (key, records) in &observed.owners {
        let ours = records.values().any(|m| *m == desired.manager);
        if !ours
            || !desired.scope.contains(&key.cluster)
            || declared.contains(&(key.kind, key.cluster.as_str(), key.name.as_str()))
        {
            continue;
        }
        if let Some(oc) = observed.clusters.get(&key.cluster) {
            let holders: Vec<BrokerRef> = oc
                .masters
                .iter()
                .filter(|m| match key.kind {
                    ObjectKind::Topic => m.topics.contains_key(&key.name),
                    ObjectKind::Group => m.groups.contains_key(&key.name),
                })
                .map(|m| BrokerRef {
                    name: m.name.clone(),
                    addr: m.addr.clone(),
                })
                .collect();
            if !holders.is_empty() {
                deletes.push(match key.kind {
                    ObjectKind::Topic => Action::DeleteTopic {
                        cluster: key.cluster.clone(),
                        topic: key.name.clone(),
                        brokers: holders,
                        name_servers: observed.name_servers.clone(),
                    },
                    ObjectKind::Group => Action::DeleteGroup {
                        cluster: key.cluster.clone(),
                        group: key.name.clone(),
                        brokers: holders,
                    },
                });
            }
        } else {
            // The cluster is not registered: the object cannot be deleted now, so keep the record.
            continue;
        }
        disowns.push(Action::Disown {
            key: key.clone(),
            name_servers: records.keys().cloned().collect(),
        });
    }
    deletes.extend(disowns);
    deletes
}

/// What differs between a declared topic and a broker's config.
pub fn topic_changes(decl: &TopicDecl, have: &TopicConfig) -> Vec<Change> {
    let mut out = Vec::new();
    let mut diff = |field: &str, from: String, to: String| {
        if from != to {
            out.push(Change {
                field: field.into(),
                from,
                to,
            });
        }
    };
    diff(
        "readQueueNums",
        have.read_queue_nums.to_string(),
        decl.queues.to_string(),
    );
    diff(
        "writeQueueNums",
        have.write_queue_nums.to_string(),
        decl.queues.to_string(),
    );
    diff(
        "perm",
        (have.perm & 6).to_string(),
        decl.perm.bits().to_string(),
    );
    let fifo = decl.message_type == MessageType::Fifo;
    diff("order", have.order.to_string(), fifo.to_string());
    // Brokers without attributes (Apache 4.9) report none: an absent message.type reads as
    // NORMAL, or FIFO for an ordered topic.
    let have_type = attribute(have, MESSAGE_TYPE_ATTRIBUTE).map_or_else(
        || if have.order { "FIFO" } else { "NORMAL" }.to_owned(),
        str::to_owned,
    );
    diff(
        MESSAGE_TYPE_ATTRIBUTE,
        have_type,
        decl.message_type.attribute().to_owned(),
    );
    for (k, v) in &decl.attributes {
        diff(
            k,
            attribute(have, k).unwrap_or("<unset>").to_owned(),
            v.clone(),
        );
    }
    out
}

fn attribute<'a>(t: &'a TopicConfig, key: &str) -> Option<&'a str> {
    t.attributes
        .iter()
        .find(|(k, _)| k.trim_start_matches('+') == key)
        .map(|(_, v)| v.as_str())
}

/// What differs between a declared group config and a broker's.
pub fn group_changes(
    want: &SubscriptionGroupConfig,
    have: &SubscriptionGroupConfig,
) -> Vec<Change> {
    let mut out = Vec::new();
    let mut diff = |field: &str, from: String, to: String| {
        if from != to {
            out.push(Change {
                field: field.into(),
                from,
                to,
            });
        }
    };
    diff(
        "retryMaxTimes",
        have.retry_max_times.to_string(),
        want.retry_max_times.to_string(),
    );
    diff(
        "consumeMessageOrderly",
        have.consume_message_orderly.to_string(),
        want.consume_message_orderly.to_string(),
    );
    diff(
        "consumeBroadcastEnable",
        have.consume_broadcast_enable.to_string(),
        want.consume_broadcast_enable.to_string(),
    );
    diff(
        "consumeEnable",
        have.consume_enable.to_string(),
        want.consume_enable.to_string(),
    );
    out
}
