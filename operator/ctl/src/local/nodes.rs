//! Running nodes: waiting until nameservers and controllers answer and every broker is
//! registered, stopping gracefully (brokers first so they unregister, SIGTERM, then SIGKILL after
//! the timeout), and the `status` and `down` commands.

use super::process;
use super::state::{self, NodeKind, NodeState, State};
use crate::cli::{DownArgs, LocalTarget};
use crate::error::CtlError;
use crate::output::{Output, Table, print};
use crate::progress::Progress;
use rmq_model::admin::Admin;
use rmq_protocol::body::cluster::ClusterInfo;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Child;
use std::time::{Duration, Instant};

/// An admin client of the cluster's nameservers with short timeouts, signing and dialling as
/// `spec.security` needs.
fn quick_admin(state: &State) -> Result<Admin, CtlError> {
    let ns = state
        .nodes
        .iter()
        .filter(|n| n.kind == NodeKind::NameServer)
        .map(|n| n.address.clone())
        .collect();
    Ok(Admin::with_security(
        ns,
        Duration::from_millis(800),
        Duration::from_secs(2),
        state.access.security()?,
    ))
}

/// Brokers (by node name, with the brokerId they are registered under) registered on every
/// answering nameserver, and the nameservers and controllers that answered.
async fn registrations(admin: &Admin, state: &State) -> (BTreeMap<String, i64>, BTreeSet<String>) {
    let mut infos: Vec<ClusterInfo> = Vec::new();
    let mut up = BTreeSet::new();
    for ns in admin.name_servers() {
        if let Ok(info) = admin.cluster_info_at(ns).await {
            up.insert(ns.clone());
            infos.push(info);
        }
    }
    for c in state
        .nodes
        .iter()
        .filter(|n| n.kind == NodeKind::Controller)
    {
        if accepts(&c.address).await {
            up.insert(c.address.clone());
        }
    }
    let registered = state
        .nodes
        .iter()
        .filter(|n| n.kind == NodeKind::Broker && !infos.is_empty())
        .filter_map(|n| {
            let ids: Vec<i64> = infos
                .iter()
                .filter_map(|info| listed(info, &state.cluster, n))
                .collect();
            (ids.len() == infos.len()).then(|| (n.name.clone(), ids[0]))
        })
        .collect();
    (registered, up)
}

/// The brokerId under which `info` lists broker `n` of `cluster` at its address: its own id,
/// or any id when the controllers assign it.
fn listed(info: &ClusterInfo, cluster: &str, n: &NodeState) -> Option<i64> {
    let group = n.group.as_deref().unwrap_or_default();
    let in_cluster = info
        .cluster_addr_table
        .get(cluster)
        .is_some_and(|g| g.contains(group));
    let addrs = &info.broker_addr_table.get(group)?.broker_addrs;
    if !in_cluster {
        return None;
    }
    match n.broker_id {
        Some(id) => (addrs.get(&i64::from(id)) == Some(&n.address)).then_some(i64::from(id)),
        None => addrs
            .iter()
            .find(|(_, a)| **a == n.address)
            .map(|(id, _)| *id),
    }
}

/// True if something accepts TCP connections at `addr` within half a second.
async fn accepts(addr: &str) -> bool {
    let connect = tokio::net::TcpStream::connect(addr);
    matches!(
        tokio::time::timeout(Duration::from_millis(500), connect).await,
        Ok(Ok(_))
    )
}

/// Waits until every nameserver answers and every broker is registered with all of them.
pub async fn wait_ready(
    state: &State,
    children: &mut BTreeMap<String, Child>,
    timeout: Duration,
    progress: &mut Progress,
) -> Result<(), CtlError> {
    let admin = quick_admin(state)?;
    let start = Instant::now();
    let brokers: Vec<&NodeState> = state
        .nodes
        .iter()
        .filter(|n| n.kind == NodeKind::Broker)
        .collect();
    let ns_total = state.nodes.len() - brokers.len();
    loop {
        for (name, child) in children.iter_mut() {
            if let Ok(Some(status)) = child.try_wait()
                && let Some(n) = state.nodes.iter().find(|n| &n.name == name)
            {
                return Err(CtlError::Local(format!(
                    "{name} exited during startup ({status}); {}",
                    last_lines(n)
                )));
            }
        }
        let (registered, up) = registrations(&admin, state).await;
        let waiting: Vec<&NodeState> = state
            .nodes
            .iter()
            .filter(|n| match n.kind {
                NodeKind::NameServer | NodeKind::Controller => !up.contains(&n.address),
                NodeKind::Broker => !registered.contains_key(&n.name),
            })
            .collect();
        if waiting.is_empty() {
            progress.println(format!(
                "{} nameserver(s)/controller(s) up, {} broker(s) registered after {:.1}s",
                ns_total,
                brokers.len(),
                start.elapsed().as_secs_f64()
            ));
            return Ok(());
        }
        let names: Vec<&str> = waiting.iter().take(4).map(|n| n.name.as_str()).collect();
        progress.set(format!(
            "nameservers/controllers {}/{ns_total} up, brokers {}/{} registered (waiting for {}{})",
            up.len(),
            registered.len(),
            brokers.len(),
            names.join(", "),
            if waiting.len() > 4 { ", ..." } else { "" }
        ));
        if start.elapsed() >= timeout {
            let n = waiting[0];
            let what = match n.kind {
                NodeKind::NameServer | NodeKind::Controller => "answer",
                NodeKind::Broker => "register with the nameservers",
            };
            return Err(CtlError::Local(format!(
                "timed out after {}s waiting for {} ({}) to {what}; {}",
                timeout.as_secs(),
                n.name,
                n.address,
                last_lines(n)
            )));
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// Stops the nodes in `children` (started by this run), leaving nodes adopted from an earlier
/// run alone.
pub async fn stop_started(
    state: &mut State,
    children: &mut BTreeMap<String, Child>,
    progress: &mut Progress,
) {
    let started: BTreeSet<String> = children.keys().cloned().collect();
    stop(state, children, Duration::from_secs(30), progress, |n| {
        started.contains(&n.name)
    })
    .await;
}

/// Stops every node of `state`.
pub async fn stop_all(
    state: &mut State,
    children: &mut BTreeMap<String, Child>,
    timeout: Duration,
    progress: &mut Progress,
) {
    stop(state, children, timeout, progress, |_| true).await;
}

async fn stop(
    state: &mut State,
    children: &mut BTreeMap<String, Child>,
    timeout: Duration,
    progress: &mut Progress,
    select: impl Fn(&NodeState) -> bool,
) {
    // Brokers first (they unregister from the nameservers), then controllers, then nameservers.
    for kind in [NodeKind::Broker, NodeKind::Controller, NodeKind::NameServer] {
        let mut pending: Vec<usize> = Vec::new();
        for (i, n) in state.nodes.iter().enumerate() {
            if n.kind != kind || !select(n) {
                continue;
            }
            match n.pid {
                Some(pid) if children.contains_key(&n.name) || n.running() => {
                    if let Err(e) = process::terminate(pid) {
                        progress.println(format!("cannot signal {} (pid {pid}): {e}", n.name));
                    }
                    pending.push(i);
                }
                _ => {}
            }
        }
        let start = Instant::now();
        while !pending.is_empty() {
            pending.retain(|&i| !exited(&state.nodes[i], children));
            if pending.is_empty() {
                break;
            }
            let names: Vec<&str> = pending
                .iter()
                .map(|&i| state.nodes[i].name.as_str())
                .collect();
            progress.set(format!("stopping {}", names.join(", ")));
            if start.elapsed() >= timeout {
                for &i in &pending {
                    let n = &state.nodes[i];
                    progress.println(format!(
                        "{} did not stop within {}s; killing it",
                        n.name,
                        timeout.as_secs()
                    ));
                    if let Some(pid) = n.pid {
                        let _ = process::kill(pid);
                    }
                    if let Some(c) = children.get_mut(&n.name) {
                        let _ = c.wait();
                    }
                }
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    for n in state.nodes.iter_mut() {
        if select(n) && !n.running() {
            n.pid = None;
            children.remove(&n.name);
        }
    }
}

/// True if `n` has stopped: our child exited, or the recorded pid no longer runs the node.
pub(super) fn exited(n: &NodeState, children: &mut BTreeMap<String, Child>) -> bool {
    match children.get_mut(&n.name) {
        Some(c) => !matches!(c.try_wait(), Ok(None)),
        None => !n.running(),
    }
}

/// `last lines of LOG:` and the end of `n`'s log, for error messages.
pub(super) fn last_lines(n: &NodeState) -> String {
    format!(
        "last lines of {}:\n{}",
        n.log.display(),
        process::log_tail(&n.log, 15)
    )
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct NodeRow<'a> {
    #[serde(flatten)]
    node: &'a NodeState,
    running: bool,
    registered: bool,
    /// For a broker whose role the controllers choose: `MASTER` or `SLAVE` as it is registered.
    #[serde(skip_serializing_if = "Option::is_none")]
    live_role: Option<String>,
}

/// The role an elected broker (`ELECTED`) is registered with: `MASTER` under brokerId 0,
/// `SLAVE` otherwise; `None` for fixed roles or when it is not registered.
fn live_role(n: &NodeState, registered_id: Option<i64>) -> Option<String> {
    if n.kind != NodeKind::Broker || n.broker_id.is_some() {
        return None;
    }
    registered_id.map(|id| if id == 0 { "MASTER" } else { "SLAVE" }.to_owned())
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct StatusView<'a> {
    cluster: &'a str,
    namesrv_addr: &'a str,
    state_dir: String,
    nodes: Vec<NodeRow<'a>>,
}

/// Prints the nodes with their process and registration state; returns (running, healthy).
pub async fn print_status(
    state: &State,
    dir: &Path,
    output: Output,
) -> Result<(usize, bool), CtlError> {
    let admin = quick_admin(state)?;
    let (registered, up) = registrations(&admin, state).await;
    let rows: Vec<NodeRow> = state
        .nodes
        .iter()
        .map(|n| NodeRow {
            running: n.running(),
            registered: match n.kind {
                NodeKind::NameServer | NodeKind::Controller => up.contains(&n.address),
                NodeKind::Broker => registered.contains_key(&n.name),
            },
            live_role: live_role(n, registered.get(&n.name).copied()),
            node: n,
        })
        .collect();
    let running = rows.iter().filter(|r| r.running).count();
    let healthy = rows.iter().all(|r| r.running && r.registered);
    let view = StatusView {
        cluster: &state.cluster,
        namesrv_addr: &state.namesrv_addr,
        state_dir: dir.display().to_string(),
        nodes: rows,
    };
    print(output, &view, || {
        let mut t = Table::new(&[
            "NODE", "ROLE", "ADDRESS", "PID", "PROCESS", "SERVING", "LOG",
        ]);
        for r in &view.nodes {
            t.row(vec![
                r.node.name.clone(),
                r.live_role.clone().unwrap_or_else(|| r.node.role.clone()),
                r.node.address.clone(),
                r.node
                    .pid
                    .filter(|_| r.running)
                    .map_or("-".into(), |p| p.to_string()),
                if r.running { "running" } else { "stopped" }.into(),
                match (r.node.kind, r.registered) {
                    (NodeKind::NameServer | NodeKind::Controller, true) => "answering",
                    (NodeKind::Broker, true) => "registered",
                    _ => "no",
                }
                .into(),
                r.node.log.display().to_string(),
            ]);
        }
        t
    })?;
    if output == Output::Table {
        println!(
            "cluster {}: namesrvAddr={}  state={}",
            state.cluster,
            state.namesrv_addr,
            dir.display()
        );
    }
    Ok((running, healthy))
}

fn target_dir(t: &LocalTarget) -> Result<std::path::PathBuf, CtlError> {
    let mut cluster = t.cluster.clone();
    if cluster.is_none() && !t.files.is_empty() {
        let decls = crate::apply::load(&t.files)?;
        cluster = decls.clusters.first().map(|(_, c)| c.name.clone());
    }
    state::resolve(t.state_dir.as_deref(), cluster.as_deref())
}

/// `rmqctl local status`: exit 0 only if every node runs and serves.
pub async fn status(t: LocalTarget) -> Result<(), CtlError> {
    let dir = target_dir(&t)?;
    let state = State::load(&dir)?;
    let (running, healthy) = print_status(&state, &dir, t.output).await?;
    if healthy {
        Ok(())
    } else if running == 0 {
        Err(CtlError::Local(format!(
            "cluster {} is stopped",
            state.cluster
        )))
    } else {
        Err(CtlError::Local(format!(
            "cluster {} is degraded: {running} of {} nodes run, not all serve",
            state.cluster,
            state.nodes.len()
        )))
    }
}

/// Stops the foreground `rmqctl local up` at `pid` (which stops its nodes and records that),
/// waiting up to `timeout`.
async fn stop_supervisor(pid: u32, timeout: Duration) {
    println!("stopping the foreground `rmqctl local up` (pid {pid}) that supervises the nodes");
    if let Err(e) = process::terminate(pid) {
        eprintln!("rmqctl: cannot signal pid {pid}: {e}");
        return;
    }
    let start = Instant::now();
    while process::alive(pid) && start.elapsed() < timeout {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// `rmqctl local down`: graceful stop, data kept.
pub async fn down(args: DownArgs) -> Result<(), CtlError> {
    let dir = target_dir(&args.target)?;
    let mut state = State::load(&dir)?;
    if let Some(pid) = state.running_supervisor() {
        stop_supervisor(pid, Duration::from_secs(args.timeout + 10)).await;
        state = State::load(&dir)?;
    }
    let running = state.nodes.iter().filter(|n| n.running()).count();
    if running == 0 {
        for n in state.nodes.iter_mut() {
            n.pid = None;
        }
        state.save(&dir)?;
        println!(
            "cluster {} is not running (state {})",
            state.cluster,
            dir.display()
        );
        return Ok(());
    }
    let mut progress = Progress::new();
    let mut none = BTreeMap::new();
    stop_all(
        &mut state,
        &mut none,
        Duration::from_secs(args.timeout),
        &mut progress,
    )
    .await;
    progress.finish();
    state.save(&dir)?;
    println!(
        "cluster {} stopped ({running} node(s)); data kept in {} (`rmqctl local up` resumes it)",
        state.cluster,
        dir.display()
    );
    Ok(())
}
