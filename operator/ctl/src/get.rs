//! `rmqctl get cluster|topics|groups` and `rmqctl route TOPIC`: read-only views through the
//! nameservers and every master (`get metrics` is [`crate::metrics`]).

use crate::cli::{GetArgs, GetWhat, RouteArgs};
use crate::error::CtlError;
use crate::hidden::{is_system_group, is_system_topic};
use crate::output::{Table, print};
use rmq_model::admin::Admin;
use rmq_model::defaults::OWNERSHIP_NAMESPACE;
use rmq_model::plan::{ObjectKind, OwnedKey};
use rmq_model::types::TopicPerm;
use rmq_protocol::body::cluster::ClusterInfo;
use serde::Serialize;
use std::collections::BTreeMap;

/// A row of a `get` table: its columns and their headers.
trait Row {
    /// Column headers.
    const HEADERS: &'static [&'static str];
    /// The row's cells, in header order.
    fn cells(&self) -> Vec<String>;
}

/// The rows as a table.
fn table<R: Row>(rows: &[R]) -> Table {
    let mut t = Table::new(R::HEADERS);
    for r in rows {
        t.row(r.cells());
    }
    t
}

/// One broker as `get cluster` shows it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct BrokerRow {
    cluster: String,
    broker: String,
    id: i64,
    address: String,
    role: String,
    version: String,
    status: String,
}

impl Row for BrokerRow {
    const HEADERS: &'static [&'static str] = &[
        "CLUSTER", "BROKER", "ID", "ADDRESS", "ROLE", "VERSION", "STATUS",
    ];
    fn cells(&self) -> Vec<String> {
        vec![
            self.cluster.clone(),
            self.broker.clone(),
            self.id.to_string(),
            self.address.clone(),
            self.role.clone(),
            self.version.clone(),
            self.status.clone(),
        ]
    }
}

/// One topic on one master.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct TopicRow {
    cluster: String,
    topic: String,
    broker: String,
    read_queues: i32,
    write_queues: i32,
    perm: String,
    message_type: String,
    owner: String,
}

impl Row for TopicRow {
    const HEADERS: &'static [&'static str] = &[
        "CLUSTER", "TOPIC", "BROKER", "READ", "WRITE", "PERM", "TYPE", "OWNER",
    ];
    fn cells(&self) -> Vec<String> {
        vec![
            self.cluster.clone(),
            self.topic.clone(),
            self.broker.clone(),
            self.read_queues.to_string(),
            self.write_queues.to_string(),
            self.perm.clone(),
            self.message_type.clone(),
            self.owner.clone(),
        ]
    }
}

/// One consumer group on one master.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct GroupRow {
    cluster: String,
    group: String,
    broker: String,
    retry_max_times: i32,
    orderly: bool,
    broadcast: bool,
    enabled: bool,
    owner: String,
}

impl Row for GroupRow {
    const HEADERS: &'static [&'static str] = &[
        "CLUSTER",
        "GROUP",
        "BROKER",
        "RETRY",
        "ORDERLY",
        "BROADCAST",
        "ENABLED",
        "OWNER",
    ];
    fn cells(&self) -> Vec<String> {
        vec![
            self.cluster.clone(),
            self.group.clone(),
            self.broker.clone(),
            self.retry_max_times.to_string(),
            self.orderly.to_string(),
            self.broadcast.to_string(),
            self.enabled.to_string(),
            self.owner.clone(),
        ]
    }
}

/// A master to read topics and groups from.
struct Master {
    cluster: String,
    broker: String,
    addr: String,
}

/// `rmqctl get`.
pub async fn run(args: GetArgs) -> Result<(), CtlError> {
    if let GetWhat::Metrics = args.what {
        return crate::metrics::get(&args).await;
    }
    if !args.scrape.metrics.is_empty() {
        return Err(CtlError::Input(
            "--metrics is only for `get metrics` and `top`".into(),
        ));
    }
    let admin = crate::security::admin(&args.namesrv)?;
    let info = admin.cluster_info().await?;
    let only = args.cluster.as_deref();
    if let Some(c) = only
        && !info.cluster_addr_table.contains_key(c)
    {
        return Err(CtlError::Input(format!(
            "cluster {c:?} is not registered (known: {})",
            info.cluster_addr_table
                .keys()
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    match args.what {
        GetWhat::Cluster => {
            let rows = brokers(&admin, &info, only).await;
            print(args.output, &rows, || table(&rows))
        }
        GetWhat::Topics => {
            let rows = topics(&admin, &info, only, args.all).await?;
            print(args.output, &rows, || table(&rows))
        }
        GetWhat::Groups => {
            let rows = groups(&admin, &info, only, args.all).await?;
            print(args.output, &rows, || table(&rows))
        }
        GetWhat::Metrics => Ok(()),
    }
}

/// The master of every broker group (of cluster `only`, when given).
fn masters(info: &ClusterInfo, only: Option<&str>) -> Vec<Master> {
    info.cluster_addr_table
        .iter()
        .filter(|(c, _)| only.is_none_or(|want| want == *c))
        .flat_map(|(c, names)| names.iter().map(move |n| (c, n)))
        .filter_map(|(c, n)| {
            let addr = info.broker_addr_table.get(n)?.master_addr()?.to_owned();
            Some(Master {
                cluster: c.clone(),
                broker: n.clone(),
                addr,
            })
        })
        .collect()
}

/// Every broker (of cluster `only`) with its version, or why it did not answer.
async fn brokers(admin: &Admin, info: &ClusterInfo, only: Option<&str>) -> Vec<BrokerRow> {
    let mut rows = Vec::new();
    for (cluster, names) in &info.cluster_addr_table {
        if only.is_some_and(|w| w != cluster) {
            continue;
        }
        for name in names {
            let Some(bd) = info.broker_addr_table.get(name) else {
                continue;
            };
            for (id, addr) in &bd.broker_addrs {
                let (version, status) = match admin.runtime_info(addr).await {
                    Ok(t) => (
                        t.get("brokerVersionDesc").cloned().unwrap_or_default(),
                        "ok".to_owned(),
                    ),
                    Err(e) => (String::new(), format!("unreachable: {e}")),
                };
                rows.push(BrokerRow {
                    cluster: cluster.clone(),
                    broker: name.clone(),
                    id: *id,
                    address: addr.clone(),
                    role: if *id == 0 { "master" } else { "slave" }.into(),
                    version,
                    status,
                });
            }
        }
    }
    rows
}

/// Every topic on every master, system topics only with `all`, sorted.
async fn topics(
    admin: &Admin,
    info: &ClusterInfo,
    only: Option<&str>,
    all: bool,
) -> Result<Vec<TopicRow>, CtlError> {
    let owners = owners(admin).await?;
    let hidden = hidden_topics(info);
    let mut rows = Vec::new();
    for m in masters(info, only) {
        for (name, t) in admin.topic_configs(&m.addr).await?.topic_config_table {
            if !all && (hidden.contains(&name) || is_system_topic(&name)) {
                continue;
            }
            let owner = owner_of(&owners, ObjectKind::Topic, &m.cluster, &name);
            rows.push(TopicRow {
                cluster: m.cluster.clone(),
                topic: name,
                broker: m.broker.clone(),
                read_queues: t.read_queue_nums,
                write_queues: t.write_queue_nums,
                perm: perm_name(t.perm),
                message_type: t
                    .attributes
                    .iter()
                    .find(|(k, _)| k.trim_start_matches('+') == "message.type")
                    .map_or("", |(_, v)| v.as_str())
                    .to_owned(),
                owner,
            });
        }
    }
    rows.sort_by(|a, b| (&a.cluster, &a.topic, &a.broker).cmp(&(&b.cluster, &b.topic, &b.broker)));
    Ok(rows)
}

/// Every consumer group on every master, system groups only with `all`, sorted.
async fn groups(
    admin: &Admin,
    info: &ClusterInfo,
    only: Option<&str>,
    all: bool,
) -> Result<Vec<GroupRow>, CtlError> {
    let owners = owners(admin).await?;
    let mut rows = Vec::new();
    for m in masters(info, only) {
        for (name, g) in admin.group_configs(&m.addr).await?.subscription_group_table {
            if !all && is_system_group(&name) {
                continue;
            }
            let owner = owner_of(&owners, ObjectKind::Group, &m.cluster, &name);
            rows.push(GroupRow {
                cluster: m.cluster.clone(),
                group: name,
                broker: m.broker.clone(),
                retry_max_times: g.retry_max_times,
                orderly: g.consume_message_orderly,
                broadcast: g.consume_broadcast_enable,
                enabled: g.consume_enable,
                owner,
            });
        }
    }
    rows.sort_by(|a, b| (&a.cluster, &a.group, &a.broker).cmp(&(&b.cluster, &b.group, &b.broker)));
    Ok(rows)
}

/// The recorded owner of an object, empty when none.
fn owner_of(
    owners: &BTreeMap<OwnedKey, String>,
    kind: ObjectKind,
    cluster: &str,
    name: &str,
) -> String {
    let key = OwnedKey {
        kind,
        cluster: cluster.to_owned(),
        name: name.to_owned(),
    };
    owners.get(&key).cloned().unwrap_or_default()
}

/// `ReadWrite`, `ReadOnly`, `WriteOnly`, or the raw bits when they are none of those.
fn perm_name(bits: i32) -> String {
    TopicPerm::from_bits(bits).map_or_else(|| bits.to_string(), |p| format!("{p:?}"))
}

/// Ownership records of every reachable nameserver (first manager wins).
async fn owners(admin: &Admin) -> Result<BTreeMap<OwnedKey, String>, CtlError> {
    let mut out = BTreeMap::new();
    for ns in admin.name_servers() {
        if let Ok(list) = admin.kv_list(ns, OWNERSHIP_NAMESPACE).await {
            for (k, v) in list {
                if let Some(key) = OwnedKey::parse(&k) {
                    out.entry(key).or_insert(v);
                }
            }
        }
    }
    Ok(out)
}

/// Topics named after clusters and broker groups (Java brokers create them).
fn hidden_topics(info: &ClusterInfo) -> Vec<String> {
    info.cluster_addr_table
        .keys()
        .chain(info.broker_addr_table.keys())
        .cloned()
        .collect()
}

/// `rmqctl route TOPIC`.
pub async fn route(args: RouteArgs) -> Result<(), CtlError> {
    let admin = crate::security::admin(&args.namesrv)?;
    let Some(route) = admin.route(&args.topic).await? else {
        return Err(CtlError::Local(format!(
            "topic {:?} has no route on nameserver(s) {} (it does not exist, or no broker serving it is registered)",
            args.topic,
            admin.name_servers().join(", ")
        )));
    };
    print(args.output, &route, || {
        let mut t = Table::new(&["BROKER", "ID", "ADDRESS", "READ", "WRITE", "PERM"]);
        for bd in &route.broker_datas {
            let q = route
                .queue_datas
                .iter()
                .find(|q| q.broker_name == bd.broker_name);
            for (id, addr) in &bd.broker_addrs {
                t.row(vec![
                    bd.broker_name.clone(),
                    id.to_string(),
                    addr.clone(),
                    q.map_or("-".into(), |q| q.read_queue_nums.to_string()),
                    q.map_or("-".into(), |q| q.write_queue_nums.to_string()),
                    q.map_or("-".into(), |q| perm_name(q.perm)),
                ]);
            }
        }
        t
    })
}
