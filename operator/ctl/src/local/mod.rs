//! `rmqctl local up|status|down`: the embedded default. Runs a RocketMQCluster as child processes
//! on 127.0.0.1 from the bundled binaries, with data, logs, pid files and a state file under a
//! state directory; waits until every broker is registered; reconciles topics and groups.
//!
//! - [`layout`]: addressing, binaries, ports. [`state`]: the state directory.
//! - [`process`]: spawning and signalling. [`nodes`]: waiting, stopping, `status`, `down`.
//! - [`supervise`]: the foreground, restarting a node that exits on its own.
//! - [`secrets`]: `spec.security`'s secrets as files under `--secrets-dir`, and what rmqctl
//!   itself signs and dials with.

mod layout;
mod nodes;
mod process;
mod secrets;
mod state;
mod supervise;

pub use nodes::{down, status};

use crate::apply;
use crate::cli::UpArgs;
use crate::error::CtlError;
use crate::output::Output;
use crate::progress::Progress;
use layout::{LocalAddressing, check_port_free, find_binaries};
use rmq_model::admin::Admin;
use rmq_model::desired::{BrokerRole, desired_cluster};
use rmq_model::manifest::{Declarations, ManifestError};
use rmq_model::validate::{ValidatedCluster, ValidationError};
use state::{NodeKind, NodeState, State};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::Duration;

/// Host every local node listens on.
const HOST: &str = "127.0.0.1";
/// A broker's config file in its directory.
const BROKER_CONF: &str = "broker.conf";
/// A nameserver's config file in its directory (only with `spec.security`).
const NAMESRV_CONF: &str = "namesrv.conf";
/// A controller's config file in its directory.
const CONTROLLER_CONF: &str = "controller.conf";

/// The one cluster of `up`'s files, with topics/groups checked to target it.
fn the_cluster(decls: &Declarations) -> Result<ValidatedCluster, CtlError> {
    let cluster = match decls.clusters.as_slice() {
        [(_, c)] => c.clone(),
        [] => {
            return Err(CtlError::Input(
                "no RocketMQCluster in the files (fix: add a file with kind: RocketMQCluster, e.g. -f examples/cluster.yaml)".into(),
            ));
        }
        many => {
            let list: Vec<String> = many.iter().map(|(s, _)| s.to_string()).collect();
            return Err(CtlError::Input(format!(
                "`local up` runs one cluster, but the files declare {}: {} (fix: pass one RocketMQCluster)",
                many.len(),
                list.join(", ")
            )));
        }
    };
    let mut errs = Vec::new();
    let wrong = |source: &rmq_model::manifest::Source, target: &str| ManifestError::Invalid {
        at: source.clone(),
        error: ValidationError::new(
            "spec.cluster",
            format!(
                "{target:?} is not the cluster being started ({:?})",
                cluster.name
            ),
            format!("set spec.cluster: {}", cluster.name),
        ),
    };
    for (s, t) in &decls.topics {
        if t.cluster != cluster.name {
            errs.push(wrong(s, &t.cluster));
        }
    }
    for (s, g) in &decls.groups {
        if g.cluster != cluster.name {
            errs.push(wrong(s, &g.cluster));
        }
    }
    if errs.is_empty() {
        Ok(cluster)
    } else {
        Err(CtlError::Manifest(errs))
    }
}

/// The config file each node reads, by node name: (file name in the node's directory, content).
type Confs = BTreeMap<String, (&'static str, String)>;

/// The nodes `cluster` needs, as `state` records them (not running yet), their config files and
/// the `namesrvAddr`.
fn planned_nodes(
    cluster: &ValidatedCluster,
    addressing: &LocalAddressing,
) -> (Vec<NodeState>, Confs, String) {
    let desired = desired_cluster(cluster, addressing);
    let logs = addressing.state_dir.join("logs");
    let mut nodes = Vec::new();
    let mut confs = Confs::new();
    for ns in &desired.name_servers {
        nodes.push(name_server_node(
            ns,
            &desired.namesrv_conf,
            addressing,
            &mut confs,
        ));
    }
    for c in &desired.controllers {
        let dir = addressing.node_dir(&c.name);
        confs.insert(c.name.clone(), (CONTROLLER_CONF, c.conf.clone()));
        nodes.push(NodeState {
            name: c.name.clone(),
            kind: NodeKind::Controller,
            group: None,
            broker_id: None,
            role: "CONTROLLER".into(),
            address: c.endpoint.address(),
            args: vec!["-c".into(), dir.join(CONTROLLER_CONF).display().to_string()],
            log: logs.join(format!("{}.log", c.name)),
            dir,
            pid: None,
        });
    }
    for b in &desired.brokers {
        let dir = addressing.node_dir(&b.name);
        confs.insert(b.name.clone(), (BROKER_CONF, b.broker_conf.clone()));
        nodes.push(NodeState {
            name: b.name.clone(),
            kind: NodeKind::Broker,
            group: Some(b.group.clone()),
            broker_id: (b.role != BrokerRole::Elected).then_some(b.broker_id),
            role: b.role.as_conf().into(),
            address: b.endpoint.address(),
            args: vec![
                "-c".into(),
                dir.join(BROKER_CONF).display().to_string(),
                "--listen-addr".into(),
                HOST.into(),
            ],
            log: logs.join(format!("{}.log", b.name)),
            dir,
            pid: None,
        });
    }
    (nodes, confs, desired.namesrv_addr())
}

/// Nameserver `ns` as `state` records it; its namesrv.conf (only `spec.security`'s keys, so
/// none without them) goes to `confs`.
fn name_server_node(
    ns: &rmq_model::NameServerNode,
    namesrv_conf: &str,
    addressing: &LocalAddressing,
    confs: &mut Confs,
) -> NodeState {
    let dir = addressing.node_dir(&ns.name);
    let mut args = Vec::new();
    if !namesrv_conf.is_empty() {
        confs.insert(ns.name.clone(), (NAMESRV_CONF, namesrv_conf.to_owned()));
        args = vec!["-c".into(), dir.join(NAMESRV_CONF).display().to_string()];
    }
    args.extend([
        "--listen-addr".into(),
        HOST.into(),
        "--listen-port".into(),
        ns.endpoint.port.to_string(),
        "--kv-config-path".into(),
        dir.join("kvConfig.json").display().to_string(),
        "--http-listen-port".into(),
        namesrv_http_port(ns.endpoint.port).to_string(),
    ]);
    NodeState {
        name: ns.name.clone(),
        kind: NodeKind::NameServer,
        group: None,
        broker_id: None,
        role: "NAMESRV".into(),
        address: ns.endpoint.address(),
        args,
        log: addressing
            .state_dir
            .join("logs")
            .join(format!("{}.log", ns.name)),
        dir,
        pid: None,
    }
}

/// Keeps the pids of nodes still running from a previous `up` when their layout is unchanged.
fn adopt_running(dir: &Path, nodes: &mut [NodeState], confs: &Confs) -> Result<(), CtlError> {
    let Ok(old) = State::load(dir) else {
        return Ok(());
    };
    for o in old.nodes.iter().filter(|o| o.running()) {
        let same = nodes.iter_mut().find(|n| n.name == o.name);
        let conf_same = confs.get(&o.name).is_none_or(|(file, c)| {
            std::fs::read_to_string(o.dir.join(file)).is_ok_and(|have| have == *c)
        });
        match same {
            Some(n) if n.args == o.args && n.address == o.address && conf_same => n.pid = o.pid,
            _ => {
                return Err(CtlError::Local(format!(
                    "{} is running (pid {}) with a different layout than the files declare (fix: `rmqctl local down --state-dir {}` first; data is kept)",
                    o.name,
                    o.pid.unwrap_or(0),
                    dir.display()
                )));
            }
        }
    }
    Ok(())
}

/// `rmqctl local up`.
pub async fn up(args: UpArgs) -> Result<(), CtlError> {
    let decls = apply::load(&args.files)?;
    let cluster = the_cluster(&decls)?;
    let addressing = addressing(&args, &decls, &cluster)?;
    secrets::check(&cluster, &addressing.secrets_dir)?;
    let state_dir = addressing.state_dir.clone();
    let bins = find_binaries(args.bin_dir.as_deref())?;
    if cluster.failover.is_some() {
        bins.check_controller()?;
    }
    let mut state = prepare(&cluster, &addressing, &bins)?;
    let mut progress = Progress::new();
    let mut children: BTreeMap<String, Child> = BTreeMap::new();
    let started = start_nodes(&mut state, &bins, &mut children, &mut progress);
    state.save(&state_dir)?;
    if let Err(e) = started {
        return Err(abort(&mut state, &mut children, &mut progress, &state_dir, e).await);
    }
    let deadline = Duration::from_secs(args.timeout);
    if let Err(e) = nodes::wait_ready(&state, &mut children, deadline, &mut progress).await {
        progress.println(format!("{e}"));
        progress.println("stopping the nodes started by this run");
        return Err(abort(&mut state, &mut children, &mut progress, &state_dir, e).await);
    }
    progress.set("reconciling topics and consumer groups");
    let namesrv_addr = state.namesrv_addr.clone();
    let reconciled = reconcile(&decls, &cluster, &state, args.prune, &progress).await;
    progress.finish();
    nodes::print_status(&state, &state_dir, args.output).await?;
    if let Err(e) = reconciled {
        if !args.detach {
            let mut quiet = Progress::new();
            return Err(abort(&mut state, &mut children, &mut quiet, &state_dir, e).await);
        }
        eprintln!(
            "rmqctl: the cluster is running, but its topics/groups are not as declared; fix the files and run `rmqctl apply -f FILE --namesrv '{namesrv_addr}'{}`",
            state.access.flags()
        );
        return Err(e);
    }
    if args.detach {
        eprintln!(
            "rmqctl: cluster {} is ready; namesrvAddr={namesrv_addr}; stop it with `rmqctl local down --state-dir {}`",
            cluster.name,
            state_dir.display()
        );
        print_access(&state);
        return Ok(());
    }
    let delay = Duration::from_secs(args.restart_delay);
    in_foreground(&mut state, &mut children, &bins, &state_dir, delay).await
}

/// How to reach a cluster with `spec.security` from rmqctl (paths, never secrets).
fn print_access(state: &State) {
    if !state.access.is_empty() {
        eprintln!(
            "rmqctl: the cluster has spec.security; reach it with e.g. `rmqctl get cluster --namesrv '{}'{}`",
            state.namesrv_addr,
            state.access.flags()
        );
    }
}

/// Where `up` places the cluster: ports from `--base-port`, the state directory (`--state-dir`,
/// else `./.rmq-local/<cluster>`) and the secrets directory (`--secrets-dir`, else `secrets`
/// next to the cluster's file), both made absolute (the nodes run in their own directories).
fn addressing(
    args: &UpArgs,
    decls: &Declarations,
    cluster: &ValidatedCluster,
) -> Result<LocalAddressing, CtlError> {
    let state_dir = args
        .state_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from(state::DEFAULT_ROOT).join(&cluster.name));
    let secrets_dir = match (&args.secrets_dir, decls.clusters.first()) {
        (Some(d), _) => d.clone(),
        (None, Some((source, _))) => secrets::default_dir(&source.file),
        (None, None) => PathBuf::from("secrets"),
    };
    Ok(LocalAddressing {
        host: HOST.into(),
        base_port: args.base_port,
        state_dir: state::absolute(&state_dir)?,
        secrets_dir: state::absolute(&secrets_dir)?,
    })
}

/// The state of a cluster about to start: its nodes laid out by `addressing`, nodes of an
/// earlier `up` still running adopted, the other nodes' ports checked free and their directories
/// and config files (`broker.conf`, `namesrv.conf`) written.
fn prepare(
    cluster: &ValidatedCluster,
    addressing: &LocalAddressing,
    bins: &layout::Binaries,
) -> Result<State, CtlError> {
    let state_dir = addressing.state_dir.as_path();
    addressing.check(cluster)?;
    let (mut nodes, confs, namesrv_addr) = planned_nodes(cluster, addressing);
    std::fs::create_dir_all(state_dir.join("logs")).map_err(|e| CtlError::io(state_dir, e))?;
    adopt_running(state_dir, &mut nodes, &confs)?;
    for n in nodes.iter().filter(|n| n.pid.is_none()) {
        let (_, port) = n.address.rsplit_once(':').unwrap_or_default();
        let port: u16 = port.parse().unwrap_or(0);
        check_port_free(HOST, port, &n.name)?;
        let http = match n.kind {
            NodeKind::Broker => {
                check_port_free(HOST, port.saturating_add(1), &format!("{} (HA)", n.name))?;
                Some(port.saturating_add(rmq_model::defaults::HTTP_PORT_OFFSET))
            }
            NodeKind::NameServer => Some(namesrv_http_port(port)),
            NodeKind::Controller => None,
        };
        if let Some(http) = http {
            check_port_free(HOST, http, &format!("{} (HTTP)", n.name))?;
        }
        std::fs::create_dir_all(&n.dir).map_err(|e| CtlError::io(&n.dir, e))?;
        if let Some((file, conf)) = confs.get(&n.name) {
            let path = n.dir.join(file);
            std::fs::write(&path, conf).map_err(|e| CtlError::io(&path, e))?;
        }
    }
    Ok(State {
        cluster: cluster.name.clone(),
        namesrv_addr,
        bin_dir: bins.dir.clone(),
        nodes,
        access: secrets::Access::of(cluster, &addressing.secrets_dir),
        supervisor: None,
    })
}

/// Stops the nodes this run started, records that, and hands `error` back (a failure to save
/// the state file takes its place).
async fn abort(
    state: &mut State,
    children: &mut BTreeMap<String, Child>,
    progress: &mut Progress,
    state_dir: &Path,
    error: CtlError,
) -> CtlError {
    nodes::stop_started(state, children, progress).await;
    match state.save(state_dir) {
        Ok(()) => error,
        Err(save) => save,
    }
}

/// Stays in the foreground until Ctrl-C / SIGTERM or a node keeps exiting (restarting nodes that
/// exit on their own), then stops every node.
async fn in_foreground(
    state: &mut State,
    children: &mut BTreeMap<String, Child>,
    bins: &layout::Binaries,
    state_dir: &Path,
    restart_delay: Duration,
) -> Result<(), CtlError> {
    eprintln!(
        "rmqctl: cluster {} is ready; namesrvAddr={}; running in the foreground, Ctrl-C stops it",
        state.cluster, state.namesrv_addr
    );
    print_access(state);
    state.supervisor = Some(std::process::id());
    state.save(state_dir)?;
    let result = supervise::foreground(state, children, bins, state_dir, restart_delay).await;
    state.supervisor = None;
    nodes::stop_all(
        state,
        children,
        Duration::from_secs(60),
        &mut Progress::new(),
    )
    .await;
    state.save(state_dir)?;
    eprintln!(
        "rmqctl: cluster {} stopped; data kept in {}",
        state.cluster,
        state_dir.display()
    );
    result
}

/// Spawns every node that is not running yet, nameservers first.
fn start_nodes(
    state: &mut State,
    bins: &layout::Binaries,
    children: &mut BTreeMap<String, Child>,
    progress: &mut Progress,
) -> Result<(), CtlError> {
    for n in state.nodes.iter_mut() {
        if n.pid.is_some() {
            progress.println(format!(
                "{} already running (pid {})",
                n.name,
                n.pid.unwrap_or(0)
            ));
            continue;
        }
        let bin = bins.of(n.kind);
        progress.set(format!("starting {} on {}", n.name, n.address));
        let child = process::spawn(bin, &n.args, &n.log, &n.dir).map_err(|e| {
            CtlError::Local(format!("cannot start {} ({}): {e}", n.name, bin.display()))
        })?;
        n.pid = Some(child.id());
        children.insert(n.name.clone(), child);
    }
    Ok(())
}

/// Reconciles the files' topics and groups, as an admin of the cluster when it has an ACL.
async fn reconcile(
    decls: &Declarations,
    cluster: &ValidatedCluster,
    state: &State,
    prune: bool,
    progress: &Progress,
) -> Result<(), CtlError> {
    let admin = Admin::with_security(
        state.namesrv_addr.split(';').map(str::to_owned).collect(),
        Duration::from_secs(3),
        Duration::from_secs(5),
        state.access.security()?,
    );
    let mut desired = decls.desired(std::slice::from_ref(&cluster.name));
    if !prune {
        desired.scope.clear();
    }
    apply::reconcile(&admin, &desired, decls, false, Output::Table, &mut |line| {
        progress.println(line)
    })
    .await
}

/// The HTTP (`/healthz`, `/readyz`) port of a local nameserver on `port`: 100 above it, since
/// local nameservers sit on consecutive ports (the default, port + 7, would be the eighth
/// nameserver's remoting port). Brokers keep the default (10918, 10928, ...).
fn namesrv_http_port(port: u16) -> u16 {
    port.saturating_add(100)
}
