//! [`Admin::observe`]: what the nameservers and every master of the asked clusters hold, plus the
//! ownership records of every nameserver — the input of [`crate::plan::plan`].

use super::client::Admin;
use super::error::AdminError;
use crate::defaults::OWNERSHIP_NAMESPACE;
use crate::plan::{Observed, ObservedBroker, ObservedCluster, OwnedKey};
use std::collections::BTreeSet;

impl Admin {
    /// Observes `clusters`. Every nameserver must answer (ownership records live on each), so an
    /// unreachable one is an error naming its address.
    pub async fn observe(&self, clusters: &BTreeSet<String>) -> Result<Observed, AdminError> {
        let mut observed = Observed {
            name_servers: self.name_servers().to_vec(),
            ..Observed::default()
        };
        let mut info = None;
        for ns in self.name_servers() {
            if info.is_none() {
                info = Some(self.cluster_info_at(ns).await?);
            }
            for (key, manager) in self.kv_list(ns, OWNERSHIP_NAMESPACE).await? {
                if let Some(k) = OwnedKey::parse(&key) {
                    observed
                        .owners
                        .entry(k)
                        .or_default()
                        .insert(ns.clone(), manager);
                }
            }
        }
        let info = info.unwrap_or_default();
        observed.known_clusters = info.cluster_addr_table.keys().cloned().collect();
        for cluster in clusters {
            let Some(names) = info.cluster_addr_table.get(cluster) else {
                continue;
            };
            let mut oc = ObservedCluster {
                name: cluster.clone(),
                ..ObservedCluster::default()
            };
            for name in names {
                let Some(addr) = info
                    .broker_addr_table
                    .get(name)
                    .and_then(|b| b.master_addr())
                else {
                    oc.groups_without_master.push(name.clone());
                    continue;
                };
                let topics = self.topic_configs(addr).await?.topic_config_table;
                let groups = self.group_configs(addr).await?.subscription_group_table;
                oc.masters.push(ObservedBroker {
                    name: name.clone(),
                    addr: addr.to_owned(),
                    topics,
                    groups,
                });
            }
            observed.clusters.insert(cluster.clone(), oc);
        }
        Ok(observed)
    }
}
