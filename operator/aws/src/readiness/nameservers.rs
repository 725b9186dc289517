//! [`NameserverGate`]: readiness as the cluster itself reports it, over the remoting protocol.
//!
//! - **Nameserver**: it answers GET_BROKER_CLUSTER_INFO at its own address and lists every
//!   broker address of the cluster that the nameservers listed just before its replacement
//!   (brokers register with every nameserver every 30 s, so a new nameserver fills up within
//!   about that).
//! - **Broker**: every nameserver lists its address in its group. With brokerId 0 (a master) that
//!   is all. A slave must also be connected to its master and at most `catch_up_bytes` behind it:
//!   the master's `commitLogMaxOffset` minus the slave's `haSlaveMaxOffset` (both from
//!   GET_BROKER_RUNTIME_INFO, the master read first), with `haClientConnected=true`. Only then
//!   does the group hold two copies again, and may its master be replaced.
//!
//! Every address is dialled directly, so the gate needs to reach the nodes: run from inside the
//! VPC (e.g. the bastion).

use super::{GateFuture, NodeRole, Readiness, RolledNode, Status};
use rmq_model::admin::Admin;
use rmq_model::protocol::body::cluster::ClusterInfo;
use std::collections::BTreeSet;
use std::sync::{Mutex, PoisonError};

/// How far behind its master a replaced slave may be and count as caught up (4 MiB: a few
/// seconds of a busy group's writes; what the rest of the log replicates in the background).
pub const DEFAULT_CATCH_UP_BYTES: i64 = 4 << 20;

/// The readiness gate of one cluster, asking its nameservers and brokers.
pub struct NameserverGate {
    /// Client of the cluster's nameservers (with the cluster's TLS and admin credentials).
    admin: Admin,
    /// The cluster's name (`brokerClusterName` of its brokers).
    cluster: String,
    /// See [`DEFAULT_CATCH_UP_BYTES`].
    catch_up_bytes: i64,
    /// The brokers the nameservers listed before the nameserver being replaced went away.
    baseline: Mutex<BTreeSet<String>>,
}

/// The broker addresses of `cluster` in `info`.
fn addresses(info: &ClusterInfo, cluster: &str) -> BTreeSet<String> {
    info.broker_names(Some(cluster))
        .filter_map(|name| info.broker_addr_table.get(name))
        .flat_map(|b| b.broker_addrs.values().cloned())
        .collect()
}

/// An integer key of a runtime info table.
fn number(table: &std::collections::BTreeMap<String, String>, key: &str) -> Option<i64> {
    table.get(key).and_then(|v| v.trim().parse().ok())
}

impl NameserverGate {
    /// The gate of `cluster` through `admin` (its nameservers).
    pub fn new(admin: Admin, cluster: &str) -> Self {
        Self {
            admin,
            cluster: cluster.to_owned(),
            catch_up_bytes: DEFAULT_CATCH_UP_BYTES,
            baseline: Mutex::new(BTreeSet::new()),
        }
    }

    /// The same gate with another catch-up allowance for slaves.
    pub fn with_catch_up_bytes(mut self, bytes: i64) -> Self {
        self.catch_up_bytes = bytes;
        self
    }

    /// A first look before a roll starts: every nameserver answers, and so does every broker
    /// they list. `Err` names the first that does not.
    pub async fn probe(&self) -> Result<String, String> {
        let mut brokers = BTreeSet::new();
        for ns in self.admin.name_servers() {
            let info = self
                .admin
                .cluster_info_at(ns)
                .await
                .map_err(|e| format!("nameserver {ns}: {e}"))?;
            brokers.extend(addresses(&info, &self.cluster));
        }
        for b in &brokers {
            self.admin
                .runtime_info(b)
                .await
                .map_err(|e| format!("broker {b}: {e}"))?;
        }
        Ok(format!(
            "{} nameserver(s) and {} broker(s) answer",
            self.admin.name_servers().len(),
            brokers.len()
        ))
    }

    /// Every broker address of the cluster that the nameservers list. Every nameserver but
    /// `except` (the one about to be replaced, which may be why it is replaced) must answer:
    /// replacing one while another is down would leave the clients none.
    async fn known_brokers(&self, except: &str) -> Result<BTreeSet<String>, String> {
        let mut known = BTreeSet::new();
        let mut answered = false;
        for ns in self.admin.name_servers() {
            match self.admin.cluster_info_at(ns).await {
                Ok(info) => {
                    known.extend(addresses(&info, &self.cluster));
                    answered = true;
                }
                Err(e) if ns != except => return Err(format!("nameserver {ns}: {e}")),
                Err(_) => {}
            }
        }
        if answered {
            Ok(known)
        } else {
            Err(format!("no nameserver answered (only {except} is listed)"))
        }
    }

    /// A replaced nameserver: answers and lists the brokers of the baseline.
    async fn name_server(&self, node: &RolledNode) -> Status {
        let want = self
            .baseline
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let info = match self.admin.cluster_info_at(&node.address).await {
            Ok(info) => info,
            Err(e) => return Status::Waiting(format!("it does not answer yet: {e}")),
        };
        let have = addresses(&info, &self.cluster);
        let missing: Vec<&String> = want.difference(&have).collect();
        if missing.is_empty() {
            return Status::Ready(format!(
                "answers and lists all {} broker(s) of the cluster",
                want.len()
            ));
        }
        Status::Waiting(format!(
            "it lists {} of the {} broker(s) the nameservers listed before; missing {}",
            want.len() - missing.len(),
            want.len(),
            missing
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))
    }

    /// A replaced broker: registered with every nameserver; a slave also caught up.
    async fn broker(&self, node: &RolledNode, group: &str) -> Status {
        let mut registered = None;
        for ns in self.admin.name_servers() {
            let info = match self.admin.cluster_info_at(ns).await {
                Ok(info) => info,
                Err(e) => return Status::Waiting(format!("nameserver {ns} does not answer: {e}")),
            };
            let data = info.broker_addr_table.get(group);
            let id = data.and_then(|d| {
                d.broker_addrs
                    .iter()
                    .find(|(_, a)| **a == node.address)
                    .map(|(id, _)| *id)
            });
            let Some(id) = id else {
                return Status::Waiting(format!(
                    "not registered with nameserver {ns} (group {group} lists {})",
                    data.map(|d| d
                        .broker_addrs
                        .values()
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", "))
                        .filter(|s| !s.is_empty())
                        .unwrap_or_else(|| "no broker".into())
                ));
            };
            let master = data.and_then(|d| d.master_addr()).map(str::to_owned);
            registered = Some((id, master));
        }
        let n = self.admin.name_servers().len();
        match registered {
            None => Status::Waiting("no nameserver is known".into()),
            Some((0, _)) => Status::Ready(format!("registered with {n} nameserver(s) as master")),
            Some((id, None)) => Status::Waiting(format!(
                "registered as slave {id}, but group {group} has no master registered"
            )),
            Some((id, Some(master))) => self.caught_up(node, id, &master, n).await,
        }
    }

    /// A registered slave is connected to `master` and close enough to its commit log end.
    async fn caught_up(&self, node: &RolledNode, id: i64, master: &str, n: usize) -> Status {
        let master_end = match self.admin.runtime_info(master).await {
            Ok(t) => number(&t, "commitLogMaxOffset").unwrap_or(0),
            Err(e) => return Status::Waiting(format!("master {master} does not answer: {e}")),
        };
        let table = match self.admin.runtime_info(&node.address).await {
            Ok(t) => t,
            Err(e) => return Status::Waiting(format!("its runtime info does not answer: {e}")),
        };
        if table.get("haClientConnected").map(String::as_str) != Some("true") {
            return Status::Waiting(format!(
                "registered as slave {id} but not connected to master {master} yet"
            ));
        }
        let behind = (master_end - number(&table, "haSlaveMaxOffset").unwrap_or(0)).max(0);
        if behind > self.catch_up_bytes {
            return Status::Waiting(format!(
                "slave {id} is {behind} bytes behind master {master} (ready at {} or less)",
                self.catch_up_bytes
            ));
        }
        Status::Ready(format!(
            "registered with {n} nameserver(s) as slave {id}, {behind} bytes behind master {master}"
        ))
    }
}

impl Readiness for NameserverGate {
    fn before<'a>(&'a self, node: &'a RolledNode) -> GateFuture<'a, Result<(), String>> {
        Box::pin(async move {
            if node.role != NodeRole::NameServer {
                return Ok(());
            }
            let known = self.known_brokers(&node.address).await?;
            *self.baseline.lock().unwrap_or_else(PoisonError::into_inner) = known;
            Ok(())
        })
    }

    fn check<'a>(&'a self, node: &'a RolledNode) -> GateFuture<'a, Status> {
        Box::pin(async move {
            match &node.role {
                NodeRole::NameServer => self.name_server(node).await,
                NodeRole::Broker { group } => self.broker(node, group).await,
            }
        })
    }
}
