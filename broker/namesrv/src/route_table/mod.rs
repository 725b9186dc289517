//! The nameserver's route registry as pure state: broker registration and expiry, routes by
//! topic, cluster info, topic lists, topic deletion and write-permission changes.
//!
//! Time is passed in (`now_ms`), so every rule here is unit-tested without sockets or clocks.

use rmq_protocol::body::cluster::ClusterInfo;
use rmq_protocol::body::route::{BrokerData, QueueData, TopicRouteData, perm};
use rmq_protocol::body::topic_config::{DataVersion, TopicConfigSerializeWrapper};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Default time after which a silent broker is dropped (ms).
pub const DEFAULT_BROKER_TIMEOUT_MS: i64 = 120_000;

/// One broker's registration.
#[derive(Debug, Clone, Default)]
pub struct Registration {
    /// Cluster name.
    pub cluster: String,
    /// Broker group name.
    pub broker_name: String,
    /// `ip:port` of the broker's main port.
    pub broker_addr: String,
    /// 0 = master, > 0 = slave.
    pub broker_id: i64,
    /// `ip:haPort`.
    pub ha_server_addr: String,
    /// Liveness timeout; `None` means the default.
    pub timeout_ms: Option<i64>,
    /// The broker's topic table.
    pub topics: TopicConfigSerializeWrapper,
    /// Connection the registration came from (closing it unregisters the broker).
    pub channel_id: Option<u64>,
}

/// What a registering broker learns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegisterResult {
    /// The live master's address (for slaves).
    pub master_addr: Option<String>,
    /// The live master's HA address (for slaves).
    pub ha_server_addr: Option<String>,
}

#[derive(Debug, Clone)]
struct LiveBroker {
    broker_name: String,
    broker_id: i64,
    last_update_ms: i64,
    timeout_ms: i64,
    data_version: DataVersion,
    ha_server_addr: String,
    channel_id: Option<u64>,
}

/// A broker that was removed, for logging.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemovedBroker {
    /// Cluster name.
    pub cluster: String,
    /// Broker group.
    pub broker_name: String,
    /// The broker's `ip:port` for clients.
    pub broker_addr: String,
}

/// The registry.
#[derive(Debug, Default)]
pub struct RouteTable {
    topic_queues: BTreeMap<String, BTreeMap<String, QueueData>>,
    brokers: BTreeMap<String, BrokerData>,
    clusters: BTreeMap<String, BTreeSet<String>>,
    live: HashMap<(String, String), LiveBroker>,
}

impl RouteTable {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers (or refreshes) a broker and, for masters whose topic table is new or changed,
    /// its topics' queue data.
    pub fn register(&mut self, reg: Registration, now_ms: i64) -> RegisterResult {
        if self.deposed_master(&reg, now_ms) {
            return self.refuse_deposed(&reg);
        }
        self.clusters
            .entry(reg.cluster.clone())
            .or_default()
            .insert(reg.broker_name.clone());
        let broker = self
            .brokers
            .entry(reg.broker_name.clone())
            .or_insert_with(|| BrokerData {
                cluster: reg.cluster.clone(),
                broker_name: reg.broker_name.clone(),
                ..BrokerData::default()
            });
        broker.cluster.clone_from(&reg.cluster);
        // The same address under another id: a slave became master or the reverse.
        broker
            .broker_addrs
            .retain(|id, addr| *addr != reg.broker_addr || *id == reg.broker_id);
        let previous = broker
            .broker_addrs
            .insert(reg.broker_id, reg.broker_addr.clone());
        let key = (reg.cluster.clone(), reg.broker_addr.clone());
        let first =
            previous.as_deref() != Some(reg.broker_addr.as_str()) || !self.live.contains_key(&key);
        let changed = self
            .live
            .get(&key)
            .is_none_or(|l| l.data_version != reg.topics.data_version);
        if reg.broker_id == 0 && (first || changed) {
            self.add_master_topics(&reg);
        }
        // A broker's first registration here may carry only its latest changes (an
        // incremental registration after this nameserver restarted or expired it): keep no
        // version, so its next registration (the whole table, same version) is taken too.
        let data_version = if first && reg.broker_id == 0 {
            DataVersion {
                state_version: reg.topics.data_version.state_version,
                ..DataVersion::default()
            }
        } else {
            reg.topics.data_version
        };
        self.live.insert(
            key,
            LiveBroker {
                broker_name: reg.broker_name.clone(),
                broker_id: reg.broker_id,
                last_update_ms: now_ms,
                timeout_ms: reg.timeout_ms.unwrap_or(DEFAULT_BROKER_TIMEOUT_MS),
                data_version,
                ha_server_addr: reg.ha_server_addr.clone(),
                channel_id: reg.channel_id,
            },
        );
        let mut result = RegisterResult::default();
        if reg.broker_id != 0
            && let Some(master) = self
                .brokers
                .get(&reg.broker_name)
                .and_then(|b| b.master_addr())
                .map(str::to_owned)
            && let Some(live) = self.live.get(&(reg.cluster.clone(), master.clone()))
        {
            result.ha_server_addr = Some(live.ha_server_addr.clone());
            result.master_addr = Some(master);
        }
        result
    }

    /// Adds (or updates) the queue data of every topic in a master's registration.
    fn add_master_topics(&mut self, reg: &Registration) {
        for config in reg.topics.topic_config_table.values() {
            self.topic_queues
                .entry(config.topic_name.clone())
                .or_default()
                .insert(
                    reg.broker_name.clone(),
                    QueueData {
                        broker_name: reg.broker_name.clone(),
                        read_queue_nums: config.read_queue_nums,
                        write_queue_nums: config.write_queue_nums,
                        perm: config.perm,
                        topic_sys_flag: config.topic_sys_flag,
                    },
                );
        }
    }

    /// Ignores a deposed master's registration (see [`Self::deposed_master`]) and forgets its
    /// liveness, as RocketMQ 5's nameserver does: its next registration as a slave is new.
    fn refuse_deposed(&mut self, reg: &Registration) -> RegisterResult {
        tracing::warn!(
            cluster = %reg.cluster, broker = %reg.broker_name, addr = %reg.broker_addr,
            epoch = reg.topics.data_version.state_version,
            "refused the master registration of a deposed master: the live master's epoch is higher"
        );
        self.live
            .remove(&(reg.cluster.clone(), reg.broker_addr.clone()));
        RegisterResult::default()
    }

    /// A master registration (id 0) from another address than the group's live master, with
    /// a lower state version (controller mode's master epoch) than that master's: a master the
    /// controllers replaced, registering again (e.g. after a pause) before it learned so.
    fn deposed_master(&self, reg: &Registration, now_ms: i64) -> bool {
        if reg.broker_id != 0 {
            return false;
        }
        let Some(current) = self
            .brokers
            .get(&reg.broker_name)
            .and_then(|b| b.broker_addrs.get(&0))
            .filter(|a| **a != reg.broker_addr)
        else {
            return false;
        };
        self.live
            .get(&(reg.cluster.clone(), current.clone()))
            .is_some_and(|l| {
                l.last_update_ms.saturating_add(l.timeout_ms) >= now_ms
                    && l.data_version.state_version > reg.topics.data_version.state_version
            })
    }

    /// Refreshes a broker's liveness (BROKER_HEARTBEAT). Returns false if it is not registered.
    pub fn touch(&mut self, cluster: &str, broker_addr: &str, now_ms: i64) -> bool {
        match self
            .live
            .get_mut(&(cluster.to_owned(), broker_addr.to_owned()))
        {
            Some(l) => {
                l.last_update_ms = now_ms;
                true
            }
            None => false,
        }
    }

    /// The data version the broker last registered, refreshing its liveness.
    pub fn data_version(
        &mut self,
        cluster: &str,
        broker_addr: &str,
        now_ms: i64,
    ) -> Option<DataVersion> {
        let l = self
            .live
            .get_mut(&(cluster.to_owned(), broker_addr.to_owned()))?;
        l.last_update_ms = now_ms;
        Some(l.data_version)
    }

    /// Removes one broker address. Queue data is dropped only when its broker group is empty.
    pub fn unregister(
        &mut self,
        cluster: &str,
        broker_addr: &str,
        broker_name: &str,
        broker_id: i64,
    ) -> Option<RemovedBroker> {
        let was_live = self
            .live
            .remove(&(cluster.to_owned(), broker_addr.to_owned()))
            .is_some();
        let mut removed = false;
        let mut group_empty = false;
        if let Some(b) = self.brokers.get_mut(broker_name) {
            if b.broker_addrs.get(&broker_id).map(String::as_str) == Some(broker_addr) {
                b.broker_addrs.remove(&broker_id);
                removed = true;
            }
            group_empty = b.broker_addrs.is_empty();
        }
        if group_empty {
            self.brokers.remove(broker_name);
            if let Some(set) = self.clusters.get_mut(cluster) {
                set.remove(broker_name);
                if set.is_empty() {
                    self.clusters.remove(cluster);
                }
            }
            self.topic_queues.retain(|_, queues| {
                queues.remove(broker_name);
                !queues.is_empty()
            });
        }
        (was_live || removed).then(|| RemovedBroker {
            cluster: cluster.to_owned(),
            broker_name: broker_name.to_owned(),
            broker_addr: broker_addr.to_owned(),
        })
    }

    fn unregister_where(&mut self, pred: impl Fn(&LiveBroker) -> bool) -> Vec<RemovedBroker> {
        let victims: Vec<_> = self
            .live
            .iter()
            .filter(|(_, l)| pred(l))
            .map(|((cluster, addr), l)| {
                (
                    cluster.clone(),
                    addr.clone(),
                    l.broker_name.clone(),
                    l.broker_id,
                )
            })
            .collect();
        victims
            .into_iter()
            .filter_map(|(c, a, n, id)| self.unregister(&c, &a, &n, id))
            .collect()
    }

    /// Drops every broker silent for longer than its timeout.
    pub fn expire(&mut self, now_ms: i64) -> Vec<RemovedBroker> {
        self.unregister_where(|l| l.last_update_ms + l.timeout_ms < now_ms)
    }

    /// Drops the brokers registered through a connection that closed.
    pub fn channel_closed(&mut self, channel_id: u64) -> Vec<RemovedBroker> {
        self.unregister_where(|l| l.channel_id == Some(channel_id))
    }

    /// The route of `topic`, if any broker serves it.
    pub fn route(&self, topic: &str) -> Option<TopicRouteData> {
        let queues = self.topic_queues.get(topic)?;
        let queue_datas: Vec<QueueData> = queues.values().cloned().collect();
        let broker_datas: Vec<BrokerData> = queues
            .keys()
            .filter_map(|name| self.brokers.get(name).cloned())
            .collect();
        if queue_datas.is_empty() || broker_datas.is_empty() {
            return None;
        }
        Some(TopicRouteData {
            broker_datas,
            queue_datas,
            ..TopicRouteData::default()
        })
    }

    /// Every broker group and cluster.
    pub fn cluster_info(&self) -> ClusterInfo {
        ClusterInfo {
            broker_addr_table: self.brokers.clone(),
            cluster_addr_table: self.clusters.clone(),
        }
    }

    /// The broker group's data.
    pub fn broker(&self, broker_name: &str) -> Option<&BrokerData> {
        self.brokers.get(broker_name)
    }

    /// How many clusters, broker groups, live masters and slaves, and routed topics it holds.
    pub fn counts(&self) -> crate::metrics::RouteCounts {
        let masters = self.live.values().filter(|l| l.broker_id == 0).count();
        crate::metrics::RouteCounts {
            clusters: self.clusters.values().filter(|g| !g.is_empty()).count(),
            groups: self.brokers.len(),
            masters,
            slaves: self.live.len() - masters,
            topics: self.topic_queues.len(),
        }
    }

    /// All topic names.
    pub fn topics(&self) -> Vec<String> {
        self.topic_queues.keys().cloned().collect()
    }

    /// Topics served by brokers of `cluster`.
    pub fn topics_in_cluster(&self, cluster: &str) -> Vec<String> {
        let Some(names) = self.clusters.get(cluster) else {
            return Vec::new();
        };
        self.topic_queues
            .iter()
            .filter(|(_, q)| q.keys().any(|b| names.contains(b)))
            .map(|(t, _)| t.clone())
            .collect()
    }

    /// Cluster and broker names (the "system topics" list) and some master address.
    pub fn system_topics(&self) -> (Vec<String>, Option<String>) {
        let mut list: Vec<String> = self.clusters.keys().cloned().collect();
        list.extend(self.clusters.values().flatten().cloned());
        let addr = self
            .brokers
            .values()
            .find_map(|b| b.master_addr().map(str::to_owned));
        (list, addr)
    }

    /// Deletes a topic, or only its queues on brokers of `cluster`.
    pub fn delete_topic(&mut self, topic: &str, cluster: Option<&str>) {
        match cluster.and_then(|c| self.clusters.get(c)) {
            Some(names) => {
                if let Some(q) = self.topic_queues.get_mut(topic) {
                    q.retain(|b, _| !names.contains(b));
                    if q.is_empty() {
                        self.topic_queues.remove(topic);
                    }
                }
            }
            None => {
                self.topic_queues.remove(topic);
            }
        }
    }

    /// Merges queue data for a topic (only for known brokers).
    pub fn register_topic(&mut self, topic: &str, queue_datas: Vec<QueueData>) {
        for q in queue_datas {
            if self.brokers.contains_key(&q.broker_name) {
                self.topic_queues
                    .entry(topic.to_owned())
                    .or_default()
                    .insert(q.broker_name.clone(), q);
            }
        }
    }

    /// Clears the write bit of every queue of `broker_name`; returns how many changed.
    pub fn wipe_write_perm(&mut self, broker_name: &str) -> i32 {
        let mut n = 0;
        for q in self
            .topic_queues
            .values_mut()
            .filter_map(|m| m.get_mut(broker_name))
        {
            q.perm &= !perm::WRITE;
            n += 1;
        }
        n
    }

    /// Resets every queue of `broker_name` to read-write; returns how many changed.
    pub fn add_write_perm(&mut self, broker_name: &str) -> i32 {
        let mut n = 0;
        for q in self
            .topic_queues
            .values_mut()
            .filter_map(|m| m.get_mut(broker_name))
        {
            q.perm = perm::READ_WRITE;
            n += 1;
        }
        n
    }
}

#[cfg(test)]
mod tests;
