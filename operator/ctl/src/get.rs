//! `rmqctl get cluster|topics|groups` and `rmqctl route TOPIC`: read-only views through the
//! nameservers and every master.

use crate::apply::name_servers;
use crate::cli::{GetArgs, GetWhat, RouteArgs};
use crate::error::CtlError;
use crate::output::{Table, print};
use rmq_model::admin::Admin;
use rmq_model::defaults::OWNERSHIP_NAMESPACE;
use rmq_model::plan::{ObjectKind, OwnedKey};
use rmq_model::types::TopicPerm;
use rmq_protocol::names;
use serde::Serialize;
use std::collections::BTreeMap;

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

/// `rmqctl get`.
pub async fn run(args: GetArgs) -> Result<(), CtlError> {
    let admin = Admin::new(name_servers(&args.namesrv)?);
    let info = admin.cluster_info().await?;
    if let Some(c) = &args.cluster
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
    let masters: Vec<(String, String, String)> = info
        .cluster_addr_table
        .iter()
        .filter(|(c, _)| args.cluster.as_ref().is_none_or(|want| want == *c))
        .flat_map(|(c, names)| names.iter().map(move |n| (c.clone(), n.clone())))
        .filter_map(|(c, n)| {
            let addr = info.broker_addr_table.get(&n)?.master_addr()?.to_owned();
            Some((c, n, addr))
        })
        .collect();
    match args.what {
        GetWhat::Cluster => {
            let mut rows = Vec::new();
            for (cluster, names) in &info.cluster_addr_table {
                if args.cluster.as_ref().is_some_and(|w| w != cluster) {
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
            print(args.output, &rows, || {
                let mut t = Table::new(&[
                    "CLUSTER", "BROKER", "ID", "ADDRESS", "ROLE", "VERSION", "STATUS",
                ]);
                for r in &rows {
                    t.row(vec![
                        r.cluster.clone(),
                        r.broker.clone(),
                        r.id.to_string(),
                        r.address.clone(),
                        r.role.clone(),
                        r.version.clone(),
                        r.status.clone(),
                    ]);
                }
                t
            })
        }
        GetWhat::Topics => {
            let owners = owners(&admin).await?;
            let hidden = hidden_topics(&info);
            let mut rows = Vec::new();
            for (cluster, broker, addr) in &masters {
                for (name, t) in admin.topic_configs(addr).await?.topic_config_table {
                    if !args.all && (hidden.contains(&name) || is_system_topic(&name)) {
                        continue;
                    }
                    let key = OwnedKey {
                        kind: ObjectKind::Topic,
                        cluster: cluster.clone(),
                        name: name.clone(),
                    };
                    rows.push(TopicRow {
                        cluster: cluster.clone(),
                        topic: name,
                        broker: broker.clone(),
                        read_queues: t.read_queue_nums,
                        write_queues: t.write_queue_nums,
                        perm: TopicPerm::from_bits(t.perm)
                            .map_or_else(|| t.perm.to_string(), |p| format!("{p:?}")),
                        message_type: t
                            .attributes
                            .iter()
                            .find(|(k, _)| k.trim_start_matches('+') == "message.type")
                            .map_or("", |(_, v)| v.as_str())
                            .to_owned(),
                        owner: owners.get(&key).cloned().unwrap_or_default(),
                    });
                }
            }
            rows.sort_by(|a, b| {
                (&a.cluster, &a.topic, &a.broker).cmp(&(&b.cluster, &b.topic, &b.broker))
            });
            print(args.output, &rows, || {
                let mut t = Table::new(&[
                    "CLUSTER", "TOPIC", "BROKER", "READ", "WRITE", "PERM", "TYPE", "OWNER",
                ]);
                for r in &rows {
                    t.row(vec![
                        r.cluster.clone(),
                        r.topic.clone(),
                        r.broker.clone(),
                        r.read_queues.to_string(),
                        r.write_queues.to_string(),
                        r.perm.clone(),
                        r.message_type.clone(),
                        r.owner.clone(),
                    ]);
                }
                t
            })
        }
        GetWhat::Groups => {
            let owners = owners(&admin).await?;
            let mut rows = Vec::new();
            for (cluster, broker, addr) in &masters {
                for (name, g) in admin.group_configs(addr).await?.subscription_group_table {
                    if !args.all && is_system_group(&name) {
                        continue;
                    }
                    let key = OwnedKey {
                        kind: ObjectKind::Group,
                        cluster: cluster.clone(),
                        name: name.clone(),
                    };
                    rows.push(GroupRow {
                        cluster: cluster.clone(),
                        group: name,
                        broker: broker.clone(),
                        retry_max_times: g.retry_max_times,
                        orderly: g.consume_message_orderly,
                        broadcast: g.consume_broadcast_enable,
                        enabled: g.consume_enable,
                        owner: owners.get(&key).cloned().unwrap_or_default(),
                    });
                }
            }
            rows.sort_by(|a, b| {
                (&a.cluster, &a.group, &a.broker).cmp(&(&b.cluster, &b.group, &b.broker))
            });
            print(args.output, &rows, || {
                let mut t = Table::new(&[
                    "CLUSTER",
                    "GROUP",
                    "BROKER",
                    "RETRY",
                    "ORDERLY",
                    "BROADCAST",
                    "ENABLED",
                    "OWNER",
                ]);
                for r in &rows {
                    t.row(vec![
                        r.cluster.clone(),
                        r.group.clone(),
                        r.broker.clone(),
                        r.retry_max_times.to_string(),
                        r.orderly.to_string(),
                        r.broadcast.to_string(),
                        r.enabled.to_string(),
                        r.owner.clone(),
                    ]);
                }
                t
            })
        }
    }
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
fn hidden_topics(info: &rmq_protocol::body::cluster::ClusterInfo) -> Vec<String> {
    info.cluster_addr_table
        .keys()
        .chain(info.broker_addr_table.keys())
        .cloned()
        .collect()
}

fn is_system_topic(name: &str) -> bool {
    names::is_system_topic(name)
        || name == "BenchmarkTest"
        || name.ends_with("_REPLY_TOPIC")
        || name.starts_with(names::RETRY_GROUP_TOPIC_PREFIX)
        || name.starts_with(names::DLQ_GROUP_TOPIC_PREFIX)
        || name.starts_with("rmq_sys_")
        || name.starts_with("RMQ_SYS_")
}

fn is_system_group(name: &str) -> bool {
    const SYSTEM: &[&str] = &[
        "TOOLS_CONSUMER",
        "FILTERSRV_CONSUMER",
        "SELF_TEST_C_GROUP",
        "CID_ONS-HTTP-PROXY",
        "CID_ONSAPI_PERMISSION",
        "CID_ONSAPI_OWNER",
        "CID_ONSAPI_PULL",
        "CID_SYS_RMQ_TRANS",
        "CID_RMQ_SYS_TRANS",
        "CID_RMQ_SYS_TRACE",
    ];
    SYSTEM.contains(&name) || name.starts_with("CID_RMQ_SYS_") || name.starts_with("rmq_sys_")
}

/// `rmqctl route TOPIC`.
pub async fn route(args: RouteArgs) -> Result<(), CtlError> {
    let admin = Admin::new(name_servers(&args.namesrv)?);
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
                    q.map_or("-".into(), |q| {
                        TopicPerm::from_bits(q.perm)
                            .map_or_else(|| q.perm.to_string(), |p| format!("{p:?}"))
                    }),
                ]);
            }
        }
        t
    })
}
