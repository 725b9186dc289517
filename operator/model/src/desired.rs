//! Desired state shared by every back-end: from a [`ValidatedCluster`] and the back-end's
//! [`Addressing`] (how it names and places nodes) to the list of nodes to run — nameservers,
//! brokers with their group name (`broker-a`, `broker-b`, ...), brokerId, role, rendered
//! `broker.conf` and data directory — plus the nameserver address list clients use.
//!
//! Pure: no I/O. Local mode addresses nodes as `127.0.0.1` + ports, Kubernetes as Service DNS
//! names, AWS as fixed private IPs; everything else is computed here once.

mod controller;

pub use controller::{ControllerNode, scan_interval_ms};

use crate::defaults;
use crate::types::{FlushMode, ReplicationMode};
use crate::validate::ValidatedCluster;
use serde::Serialize;
use std::fmt::Write as _;

/// Where a node listens and how others reach it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Endpoint {
    /// Host name or IP others use (a broker advertises it as `brokerIP1`).
    pub host: String,
    /// The port it listens on (main remoting port for a broker).
    pub port: u16,
}

impl Endpoint {
    /// `host:port`.
    pub fn address(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
}

/// How a back-end names and places nodes. Indices are 0-based; `replica` 0 is the master.
pub trait Addressing {
    /// Endpoint of nameserver `index`.
    fn name_server(&self, cluster: &ValidatedCluster, index: u32) -> Endpoint;
    /// Endpoint (advertised host, main port) of broker `replica` of group `group`. Its HA port
    /// is the main port + [`defaults::HA_PORT_OFFSET`]; leave room for it.
    fn broker(&self, cluster: &ValidatedCluster, group: u32, replica: u32) -> Endpoint;
    /// The host other brokers of the group replicate from (`brokerIP2`): the advertised host
    /// unless the back-end advertises an external address to clients and keeps replication on
    /// an internal one.
    fn broker_ha_host(&self, cluster: &ValidatedCluster, group: u32, replica: u32) -> String {
        self.broker(cluster, group, replica).host
    }
    /// `storePathRootDir` of the broker node named `node` (e.g. `broker-a-0`), as the broker sees
    /// it.
    fn broker_store_dir(&self, cluster: &ValidatedCluster, node: &str) -> String;
    /// The directory holding the files of secret `name` (one file per key), as the nodes see
    /// it: where Kubernetes mounts the Secret, the AWS bootstrap writes the parameters, local
    /// mode finds `<secrets dir>/<name>`.
    fn secret_dir(&self, name: &str) -> String {
        format!("{}/{name}", defaults::SECRETS_DIR)
    }
    /// Endpoint of controller `index` (`failover: Automatic`): by default on nameserver node
    /// `index`, port [`defaults::CONTROLLER_PORT`] (how AWS places them).
    fn controller(&self, cluster: &ValidatedCluster, index: u32) -> Endpoint {
        Endpoint {
            host: self.name_server(cluster, index).host,
            port: defaults::CONTROLLER_PORT,
        }
    }
    /// `controllerStorePath` of the controller node named `node` (`controller-0`).
    fn controller_store_dir(&self, _cluster: &ValidatedCluster, node: &str) -> String {
        format!("{}/{node}", defaults::CONTROLLER_DATA_DIR)
    }
    /// The address a controller binds (`listenAddr`); `None` for every interface.
    fn controller_listen_addr(&self) -> Option<String> {
        None
    }
}

/// Broker role as written in `broker.conf`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum BrokerRole {
    /// ASYNC_MASTER.
    AsyncMaster,
    /// SYNC_MASTER.
    SyncMaster,
    /// SLAVE.
    Slave,
    /// Chosen at run time by the controllers (`failover: Automatic`); broker.conf names no role.
    Elected,
}

impl BrokerRole {
    /// The `brokerRole` value.
    pub fn as_conf(self) -> &'static str {
        match self {
            BrokerRole::AsyncMaster => "ASYNC_MASTER",
            BrokerRole::SyncMaster => "SYNC_MASTER",
            BrokerRole::Slave => "SLAVE",
            BrokerRole::Elected => "ELECTED",
        }
    }

    /// True for fixed masters (never for [`BrokerRole::Elected`]).
    pub fn is_master(self) -> bool {
        matches!(self, BrokerRole::AsyncMaster | BrokerRole::SyncMaster)
    }
}

/// One nameserver to run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NameServerNode {
    /// Node name, `namesrv-<index>`.
    pub name: String,
    /// 0-based position among the nameservers (the `<index>` of its name).
    pub index: u32,
    /// Where it listens.
    pub endpoint: Endpoint,
}

/// One broker to run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BrokerNode {
    /// Node name, `<group>-<replica>` (`broker-a-0`).
    pub name: String,
    /// Broker group (`brokerName`): `broker-a`, `broker-b`, ...
    pub group: String,
    /// 0-based position of the group (`broker-a` is 0).
    pub group_index: u32,
    /// brokerId: 0 for the master, 1.. for slaves.
    pub broker_id: u32,
    /// Master or slave, as `brokerRole` says it.
    pub role: BrokerRole,
    /// Advertised host and main port.
    pub endpoint: Endpoint,
    /// HA port (main port + 1).
    pub ha_port: u16,
    /// Host slaves replicate from (`brokerIP2`; `endpoint.host` unless the back-end splits
    /// external and internal addresses).
    pub ha_host: String,
    /// The broker's data directory (`storePathRootDir`).
    pub store_dir: String,
    /// The complete broker.conf.
    pub broker_conf: String,
}

/// Every node of a cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DesiredCluster {
    /// `brokerClusterName` of every broker.
    pub cluster: String,
    /// The namesrv.conf of every nameserver: `spec.security`'s keys (empty without ACL and
    /// TLS; the back-end passes addresses and ports as flags).
    pub namesrv_conf: String,
    /// `spec.security`, for the back-end's own admin client (credentials and TLS).
    pub security: crate::validate::Security,
    /// Nameservers, by index.
    pub name_servers: Vec<NameServerNode>,
    /// Controllers, by index (empty unless `failover: Automatic`).
    pub controllers: Vec<ControllerNode>,
    /// Brokers, group by group, master first.
    pub brokers: Vec<BrokerNode>,
}

impl DesiredCluster {
    /// The `namesrvAddr` value: every nameserver, `;`-separated.
    pub fn namesrv_addr(&self) -> String {
        self.name_servers
            .iter()
            .map(|n| n.endpoint.address())
            .collect::<Vec<_>>()
            .join(";")
    }

    /// The `controllerAddr` value: every controller, `;`-separated (empty without them).
    pub fn controller_addr(&self) -> String {
        self.controllers
            .iter()
            .map(|n| n.endpoint.address())
            .collect::<Vec<_>>()
            .join(";")
    }

    /// Broker group names in order.
    pub fn group_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.brokers.iter().map(|b| b.group.clone()).collect();
        names.dedup();
        names
    }

    /// The masters.
    pub fn masters(&self) -> impl Iterator<Item = &BrokerNode> {
        self.brokers.iter().filter(|b| b.role.is_master())
    }
}

/// Name of broker group `index`: `broker-a` .. `broker-z`, then `broker-aa`, `broker-ab`, ...
pub fn group_name(index: u32) -> String {
    let mut letters = Vec::new();
    let mut n = index + 1;
    while n > 0 {
        let rem = (n - 1) % 26;
        letters.push(char::from(b'a' + rem as u8));
        n = (n - 1) / 26;
    }
    letters.reverse();
    format!("broker-{}", letters.into_iter().collect::<String>())
}

/// Computes every node of `cluster` as `addressing` places them.
pub fn desired_cluster(cluster: &ValidatedCluster, addressing: &dyn Addressing) -> DesiredCluster {
    let controllers = controller::controller_nodes(cluster, addressing);
    let name_servers: Vec<NameServerNode> = (0..cluster.name_servers)
        .map(|i| NameServerNode {
            name: format!("namesrv-{i}"),
            index: i,
            endpoint: addressing.name_server(cluster, i),
        })
        .collect();
    let namesrv_addr = name_servers
        .iter()
        .map(|n| n.endpoint.address())
        .collect::<Vec<_>>()
        .join(";");
    let mut brokers = Vec::new();
    for g in 0..cluster.groups {
        let group = group_name(g);
        for r in 0..cluster.replicas_per_group {
            let name = format!("{group}-{r}");
            let role = match (r, cluster.replication) {
                _ if cluster.failover.is_some() => BrokerRole::Elected,
                (0, ReplicationMode::Async) => BrokerRole::AsyncMaster,
                (0, ReplicationMode::Sync) => BrokerRole::SyncMaster,
                _ => BrokerRole::Slave,
            };
            let endpoint = addressing.broker(cluster, g, r);
            let ha_port = endpoint.port.saturating_add(defaults::HA_PORT_OFFSET);
            let store_dir = addressing.broker_store_dir(cluster, &name);
            let ha_host = addressing.broker_ha_host(cluster, g, r);
            let mut node = BrokerNode {
                name,
                group: group.clone(),
                group_index: g,
                broker_id: r,
                role,
                endpoint,
                ha_port,
                ha_host,
                store_dir,
                broker_conf: String::new(),
            };
            node.broker_conf =
                render_broker_conf(cluster, &node, &namesrv_addr, &controllers, addressing);
            brokers.push(node);
        }
    }
    DesiredCluster {
        cluster: cluster.name.clone(),
        namesrv_conf: render_namesrv_conf(cluster, addressing),
        security: cluster.security.clone(),
        name_servers,
        controllers,
        brokers,
    }
}

/// broker.conf's commit-log segment size key.
const SEGMENT_KEY: &str = "mappedFileSizeCommitLog";

/// The commit-log segment size for a data volume of `storage_bytes`: the largest power of two
/// up to a sixteenth of the volume, between 16 MiB and RocketMQ's 1 GiB. Retention deletes whole
/// segments and a new segment reserves its full size, so a 1 GiB segment on a 1 GiB volume
/// could never be written; 1 GiB or 0 (unknown) gets RocketMQ's default.
pub fn segment_size(storage_bytes: u64) -> u64 {
    const MIN: u64 = 16 << 20;
    const MAX: u64 = 1 << 30;
    if storage_bytes == 0 {
        return MAX;
    }
    let target = (storage_bytes / 16).clamp(MIN, MAX);
    1u64 << (63 - target.leading_zeros())
}

/// Renders `broker.conf`: the keys the model owns, the retention keys of
/// `spec.brokers.retention`, then `spec.brokers.config` sorted by key.
pub fn render_broker_conf(
    cluster: &ValidatedCluster,
    node: &BrokerNode,
    namesrv_addr: &str,
    controllers: &[ControllerNode],
    addressing: &dyn Addressing,
) -> String {
    let flush = match cluster.flush {
        FlushMode::Async => "ASYNC_FLUSH",
        FlushMode::Sync => "SYNC_FLUSH",
    };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Generated by rmq from RocketMQCluster {}; change the cluster spec, not this file.",
        cluster.name
    );
    let mut lines = vec![
        ("brokerClusterName", cluster.name.clone()),
        ("brokerName", node.group.clone()),
    ];
    if node.role != BrokerRole::Elected {
        lines.push(("brokerId", node.broker_id.to_string()));
        lines.push(("brokerRole", node.role.as_conf().to_owned()));
    }
    lines.extend([
        ("flushDiskType", flush.to_owned()),
        ("namesrvAddr", namesrv_addr.to_owned()),
        ("brokerIP1", node.endpoint.host.clone()),
        ("brokerIP2", node.ha_host.clone()),
        ("listenPort", node.endpoint.port.to_string()),
        ("haListenPort", node.ha_port.to_string()),
        ("storePathRootDir", node.store_dir.clone()),
    ]);
    for (k, v) in lines {
        let _ = writeln!(out, "{k}={}", escape(&v));
    }
    if let Some(failover) = &cluster.failover {
        let _ = writeln!(
            out,
            "# spec.brokers.failover: Automatic (the controllers assign brokerId and the role)"
        );
        let addr = controllers
            .iter()
            .map(|n| n.endpoint.address())
            .collect::<Vec<_>>()
            .join(";");
        for (k, v) in controller::broker_lines(failover, &addr) {
            let _ = writeln!(out, "{k}={}", escape(&v));
        }
    }
    if !cluster.broker_config.contains_key(SEGMENT_KEY) {
        let segment = segment_size(cluster.storage_bytes);
        let _ = writeln!(
            out,
            "# commit-log segments sized to the volume (spec.brokers.storage.size / 16)"
        );
        let _ = writeln!(out, "{SEGMENT_KEY}={segment}");
    }
    let _ = writeln!(out, "# spec.brokers.retention");
    for (k, v) in cluster.retention.broker_conf() {
        let _ = writeln!(out, "{k}={}", escape(&v));
    }
    let security = cluster
        .security
        .broker_lines(&|name| addressing.secret_dir(name));
    if !security.is_empty() {
        let _ = writeln!(out, "# spec.security");
        for (k, v) in security {
            let _ = writeln!(out, "{k}={}", escape(&v));
        }
    }
    if !cluster.broker_config.is_empty() {
        let _ = writeln!(out, "# spec.brokers.config");
        for (k, v) in &cluster.broker_config {
            let _ = writeln!(out, "{k}={}", escape(v));
        }
    }
    out
}

/// Renders namesrv.conf: `spec.security`'s keys, or nothing when there are none.
pub fn render_namesrv_conf(cluster: &ValidatedCluster, addressing: &dyn Addressing) -> String {
    let lines = cluster
        .security
        .namesrv_lines(&|name| addressing.secret_dir(name));
    if lines.is_empty() {
        return String::new();
    }
    let mut out = format!(
        "# Generated by rmq from RocketMQCluster {}; change the cluster spec, not this file.\n",
        cluster.name
    );
    for (k, v) in lines {
        let _ = writeln!(out, "{k}={}", escape(&v));
    }
    out
}

/// Escapes a Java-properties value (backslashes; a leading space).
fn escape(v: &str) -> String {
    let escaped = v.replace('\\', "\\\\");
    match escaped.strip_prefix(' ') {
        Some(rest) => format!("\\ {rest}"),
        None => escaped,
    }
}

#[cfg(test)]
mod tests {
    use super::segment_size;

    #[test]
    fn segments_follow_the_volume() {
        const MIB: u64 = 1 << 20;
        assert_eq!(segment_size(1 << 30), 64 * MIB, "1Gi volume");
        assert_eq!(segment_size(20 << 30), 1024 * MIB, "20Gi: RocketMQ's 1 GiB");
        assert_eq!(segment_size(100 * MIB), 16 * MIB, "never below 16 MiB");
        assert_eq!(
            segment_size(3 << 30),
            128 * MIB,
            "a power of two at most size/16"
        );
        assert_eq!(segment_size(0), 1024 * MIB, "unknown size");
    }
}
