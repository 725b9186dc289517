//! ClusterInfo (GET_BROKER_CLUSTER_INFO).

use super::route::BrokerData;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Every broker group and which cluster it belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct ClusterInfo {
    /// brokerName → BrokerData.
    #[serde(default)]
    pub broker_addr_table: BTreeMap<String, BrokerData>,
    /// cluster → brokerNames.
    #[serde(default)]
    pub cluster_addr_table: BTreeMap<String, BTreeSet<String>>,
}

impl ClusterInfo {
    /// Master addresses of every broker group in `cluster` (or of all clusters if `None`).
    pub fn master_addrs(&self, cluster: Option<&str>) -> Vec<String> {
        self.broker_names(cluster)
            .filter_map(|name| self.broker_addr_table.get(name))
            .filter_map(|b| b.master_addr().map(str::to_owned))
            .collect()
    }

    /// Broker group names in `cluster` (or in all clusters).
    pub fn broker_names<'a>(&'a self, cluster: Option<&'a str>) -> impl Iterator<Item = &'a str> {
        self.cluster_addr_table
            .iter()
            .filter(move |(c, _)| cluster.is_none_or(|want| want == c.as_str()))
            .flat_map(|(_, names)| names.iter().map(String::as_str))
    }
}
