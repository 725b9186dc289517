//! `rmq-e2e-probe`: what the k8s suite checks through the admin protocol (run it inside the
//! sandbox's network namespace with the cluster DNS, `tests/k8s/sandbox.sh exec`, since brokers
//! register Service DNS names), and the Topic-CR benchmark. Every subcommand prints one JSON line.

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use kube::api::{DeleteParams, ListParams, PostParams};
use kube::{Api, Client};
use rmq_model::admin::{Admin, AdminSecurity, ClientTls, Credentials};
use rmq_model::plan::{Action, BrokerRef};
use rmq_model::{RocketMQTopic, RocketMQTopicSpec};
use rmq_protocol::{RemotingCommand, request_code as rc};
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Parser)]
struct Cli {
    /// Nameserver addresses (`host:port;host:port`).
    #[arg(long, global = true, default_value = "")]
    namesrv: String,
    /// Access key every request is signed with (a cluster with an ACL); needs --secret-key.
    #[arg(long, global = true, env = "RMQ_ACCESS_KEY", requires = "secret_key")]
    access_key: Option<String>,
    /// Secret key of --access-key.
    #[arg(long, global = true, env = "RMQ_SECRET_KEY", hide_env_values = true)]
    secret_key: Option<String>,
    /// Connect with TLS, verifying the nodes against this CA bundle (PEM).
    #[arg(long, global = true)]
    tls_ca: Option<std::path::PathBuf>,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Broker groups of a cluster with their master addresses.
    Cluster {
        #[arg(long)]
        cluster: String,
    },
    /// A topic on every master: exists, queues, perm.
    Topic {
        #[arg(long)]
        cluster: String,
        #[arg(long)]
        topic: String,
    },
    /// A subscription group on every master.
    Group {
        #[arg(long)]
        cluster: String,
        #[arg(long)]
        group: String,
    },
    /// A broker.conf key as every broker of the cluster reports it (GET_BROKER_CONFIG).
    BrokerConfig {
        #[arg(long)]
        cluster: String,
        #[arg(long)]
        key: String,
    },
    /// Changes a topic's queues on every master behind the operator's back (drift).
    SetQueues {
        #[arg(long)]
        cluster: String,
        #[arg(long)]
        topic: String,
        #[arg(long)]
        queues: i32,
    },
    /// Benchmark: N RocketMQTopic CRs → time until each topic exists on every master.
    Bench {
        #[arg(long)]
        cluster: String,
        #[arg(long)]
        namespace: String,
        #[arg(long, default_value_t = 200)]
        count: usize,
        #[arg(long, default_value_t = 300)]
        timeout_s: u64,
    },
}

async fn masters(admin: &Admin, cluster: &str) -> anyhow::Result<BTreeMap<String, String>> {
    let info = admin.cluster_info().await?;
    let names = info
        .cluster_addr_table
        .get(cluster)
        .cloned()
        .unwrap_or_default();
    Ok(names
        .into_iter()
        .filter_map(|n| {
            let addr = info.broker_addr_table.get(&n)?.master_addr()?.to_owned();
            Some((n, addr))
        })
        .collect())
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let idx = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

/// The credentials and TLS of `--access-key`/`--secret-key`/`--tls-ca` (none: unsigned plaintext).
fn security(cli: &Cli) -> anyhow::Result<AdminSecurity> {
    let credentials = match (&cli.access_key, &cli.secret_key) {
        (Some(a), Some(s)) => Some(Credentials::new(a.clone(), s.clone())),
        _ => None,
    };
    let tls = match &cli.tls_ca {
        Some(ca) => {
            let pem =
                std::fs::read(ca).with_context(|| format!("reading --tls-ca {}", ca.display()))?;
            Some(Arc::new(ClientTls::from_pem(&pem, None)?))
        }
        None => None,
    };
    Ok(AdminSecurity::new(credentials, tls))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // ring as the process's rustls provider, before any kube client exists (a workspace build
    // also enables aws-lc-rs through the AWS SDK; rustls will not choose between them itself).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cli = Cli::parse();
    let addrs = rmq_model::admin::parse_name_servers(&cli.namesrv).unwrap_or_default();
    let admin = Admin::with_security(
        addrs,
        Duration::from_secs(3),
        Duration::from_secs(5),
        security(&cli)?,
    );
    let out = match cli.cmd {
        Cmd::Cluster { cluster } => cluster_groups(&admin, &cluster).await?,
        Cmd::Topic { cluster, topic } => topic_on_masters(&admin, &cluster, &topic).await?,
        Cmd::Group { cluster, group } => group_on_masters(&admin, &cluster, &group).await?,
        Cmd::BrokerConfig { cluster, key } => broker_config(&admin, &cluster, &key).await?,
        Cmd::SetQueues {
            cluster,
            topic,
            queues,
        } => set_queues(&admin, &cluster, &topic, queues).await?,
        Cmd::Bench {
            cluster,
            namespace,
            count,
            timeout_s,
        } => bench(&admin, &cluster, &namespace, count, timeout_s).await?,
    };
    println!("{out}");
    Ok(())
}

/// The broker groups of `cluster` with their addresses by broker id.
async fn cluster_groups(admin: &Admin, cluster: &str) -> anyhow::Result<serde_json::Value> {
    let info = admin.cluster_info().await?;
    let names = info
        .cluster_addr_table
        .get(cluster)
        .cloned()
        .unwrap_or_default();
    let groups: BTreeMap<_, _> = names
        .iter()
        .filter_map(|n| {
            info.broker_addr_table
                .get(n)
                .map(|b| (n.clone(), b.broker_addrs.clone()))
        })
        .collect();
    Ok(json!({"cluster": cluster, "groups": groups}))
}

/// `topic`'s queues and perm on each master of `cluster`, and whether every or no master has it.
async fn topic_on_masters(
    admin: &Admin,
    cluster: &str,
    topic: &str,
) -> anyhow::Result<serde_json::Value> {
    let mut per = BTreeMap::new();
    for (group, addr) in masters(admin, cluster).await? {
        let t = admin
            .topic_configs(&addr)
            .await?
            .topic_config_table
            .remove(topic);
        per.insert(
            group,
            t.map(
                |t| json!({"read": t.read_queue_nums, "write": t.write_queue_nums, "perm": t.perm}),
            ),
        );
    }
    let all = !per.is_empty() && per.values().all(Option::is_some);
    let none = per.values().all(Option::is_none);
    Ok(json!({"topic": topic, "masters": per, "onAll": all, "onNone": none}))
}

/// `group`'s config on each master of `cluster`, and whether every master has it.
async fn group_on_masters(
    admin: &Admin,
    cluster: &str,
    group: &str,
) -> anyhow::Result<serde_json::Value> {
    let mut per = BTreeMap::new();
    for (g, addr) in masters(admin, cluster).await? {
        let c = admin
            .group_configs(&addr)
            .await?
            .subscription_group_table
            .remove(group);
        per.insert(g, c.map(|c| json!({"retryMaxTimes": c.retry_max_times, "orderly": c.consume_message_orderly})));
    }
    let all = !per.is_empty() && per.values().all(Option::is_some);
    Ok(json!({"group": group, "masters": per, "onAll": all}))
}

/// The value of the broker config `key` on every broker (masters and slaves) of `cluster`.
async fn broker_config(
    admin: &Admin,
    cluster: &str,
    key: &str,
) -> anyhow::Result<serde_json::Value> {
    let info = admin.cluster_info().await?;
    let mut per = BTreeMap::new();
    let names = info
        .cluster_addr_table
        .get(cluster)
        .cloned()
        .unwrap_or_default();
    for n in names {
        let brokers = info
            .broker_addr_table
            .get(&n)
            .map(|b| b.broker_addrs.clone())
            .unwrap_or_default();
        for (id, addr) in brokers {
            let req = RemotingCommand::request(rc::GET_BROKER_CONFIG);
            let resp = admin.call(&addr, req, "GET_BROKER_CONFIG").await?;
            let text = String::from_utf8_lossy(&resp.body).into_owned();
            let v = text.lines().find_map(|l| {
                let (k, v) = l.split_once('=')?;
                (k.trim() == key).then(|| v.trim().to_owned())
            });
            per.insert(format!("{n}/{id}"), v);
        }
    }
    Ok(json!({"key": key, "brokers": per}))
}

/// Sets `topic`'s read and write queue numbers on every master of `cluster` behind the
/// operator's back (drift for the operator to revert).
async fn set_queues(
    admin: &Admin,
    cluster: &str,
    topic: &str,
    queues: i32,
) -> anyhow::Result<serde_json::Value> {
    let mut done = Vec::new();
    for (group, addr) in masters(admin, cluster).await? {
        let mut t = admin
            .topic_configs(&addr)
            .await?
            .topic_config_table
            .remove(topic)
            .context("topic not on a master")?;
        t.read_queue_nums = queues;
        t.write_queue_nums = queues;
        let action = Action::UpdateTopic {
            cluster: cluster.to_owned(),
            broker: BrokerRef {
                name: group.clone(),
                addr,
            },
            config: t,
            changes: Vec::new(),
        };
        admin.apply_one(&action).await?;
        done.push(group);
    }
    Ok(json!({"topic": topic, "queues": queues, "masters": done}))
}

async fn bench(
    admin: &Admin,
    cluster: &str,
    ns: &str,
    count: usize,
    timeout_s: u64,
) -> anyhow::Result<serde_json::Value> {
    let client = Client::try_default().await?;
    let api: Api<RocketMQTopic> = Api::namespaced(client, ns);
    let masters = masters(admin, cluster).await?;
    anyhow::ensure!(!masters.is_empty(), "cluster {cluster} has no masters");
    let names: Vec<String> = (0..count).map(|i| format!("bench-{i:04}")).collect();
    // CRs are created by a task while this loop polls the masters, so each topic's latency is
    // measured from its own CR's creation.
    let created: Arc<Mutex<BTreeMap<String, Instant>>> = Arc::default();
    let start = Instant::now();
    let creator = {
        let (api, created, names, cluster) = (
            api.clone(),
            created.clone(),
            names.clone(),
            cluster.to_owned(),
        );
        tokio::spawn(async move {
            for n in &names {
                let t = RocketMQTopic::new(
                    n,
                    RocketMQTopicSpec {
                        cluster: cluster.clone(),
                        topic_name: None,
                        queues: 4,
                        perm: rmq_model::TopicPerm::ReadWrite,
                        message_type: rmq_model::MessageType::Normal,
                        attributes: BTreeMap::new(),
                    },
                );
                api.create(&PostParams::default(), &t).await?;
                if let Ok(mut c) = created.lock() {
                    c.insert(n.clone(), Instant::now());
                }
            }
            Ok::<f64, kube::Error>(start.elapsed().as_secs_f64())
        })
    };
    let mut done: BTreeMap<String, f64> = BTreeMap::new();
    let deadline = Instant::now() + Duration::from_secs(timeout_s);
    while done.len() < names.len() && Instant::now() < deadline {
        let mut present: BTreeMap<String, usize> = BTreeMap::new();
        for addr in masters.values() {
            for t in admin.topic_configs(addr).await?.topic_config_table.keys() {
                *present.entry(t.clone()).or_default() += 1;
            }
        }
        let now = Instant::now();
        let snapshot = created.lock().map(|c| c.clone()).unwrap_or_default();
        for (n, at) in &snapshot {
            if !done.contains_key(n) && present.get(n).copied().unwrap_or(0) == masters.len() {
                done.insert(n.clone(), (now - *at).as_secs_f64());
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let create_s = creator.await??;
    let mut lat: Vec<f64> = done.values().copied().collect();
    lat.sort_by(f64::total_cmp);
    // p99 of each tenth of the CRs in creation order: a slow start, a slow end or spread out.
    let by_tenth: Vec<f64> = names
        .chunks(names.len().div_ceil(10).max(1))
        .map(|chunk| {
            let mut l: Vec<f64> = chunk.iter().filter_map(|n| done.get(n).copied()).collect();
            l.sort_by(f64::total_cmp);
            quantile(&l, 0.99)
        })
        .collect();
    let total_s = start.elapsed().as_secs_f64();
    let _ = api
        .delete_collection(&DeleteParams::default(), &ListParams::default())
        .await;
    Ok(json!({
        "topics": count, "masters": masters.len(), "converged": lat.len(),
        "createSeconds": create_s, "allOnEveryMasterSeconds": total_s,
        "p50Seconds": quantile(&lat, 0.5), "p99Seconds": quantile(&lat, 0.99),
        "maxSeconds": lat.last().copied().unwrap_or(0.0), "p99ByTenthSeconds": by_tenth,
    }))
}
