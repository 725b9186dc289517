//! Controller mode (`enableControllerMode=true`, RocketMQ 5's automatic failover): the broker
//! asks the controllers (`controllerAddr`) for its id and its role instead of reading
//! `brokerRole`/`brokerId`, heartbeats to them, and runs as the master the controller elected
//! or as a slave of it.
//!
//! - [`identity`]: the token and granted id kept in the store root.
//! - [`client`]: requests to the leading controller.
//! - [`bootstrap`]: id, registration, election, the group's view.
//! - [`decide`]: the role a view gives, the in-sync set changes (pure).
//! - [`epochs`]: epoch histories, the master's HA address, cutting a divergent tail.
//! - [`agent`]: heartbeats, the watch that ends a run when the role changed, the in-sync set.
//! - [`confirm`]: a master's reads capped at what every in-sync replica holds.
//!
//! A role change restarts the broker: the running server stops gracefully (unregister, flush,
//! the store closed; no wait for readiness probes, the pod stays) and the process re-executes
//! itself ([`reexec`]), so everything — ports,
//! store, HA — starts again with the new role under the same process id. A new master records
//! its epoch in the store's epoch history; a slave takes its master's. A demoted master whose
//! commit log runs past the point where it and the new master agree marks that tail for
//! cutting (`MessageStore::truncate_tail`) and restarts, so the store opens without it.

pub mod agent;
pub mod bootstrap;
pub mod client;
pub mod confirm;
pub mod decide;
pub mod epochs;
pub mod identity;

use crate::config::{BrokerConfig, BrokerRole};
use crate::server::BrokerServer;
use bootstrap::Member;
use client::ControllerClient;
use decide::{Role, View, role_of};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

pub use epochs::GET_BROKER_EPOCH_CACHE;

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// SIGTERM/SIGINT.
    Stopped,
    /// The controller changed this broker's role: start again.
    RoleChanged,
}

/// What the controllers decided for this run.
struct Assigned {
    id: i64,
    role: Role,
    /// A slave's master: its HA address, end and epoch history.
    master: Option<epochs::MasterEpochs>,
    /// The in-sync set when assigned.
    sync_set: BTreeSet<i64>,
}

/// Runs the broker in controller mode until `stop` or a role change.
pub async fn run(config: BrokerConfig, stop: CancellationToken) -> Result<Ended, String> {
    tracing::info!(
        controllers = %config.controller.addrs.join(";"),
        "controller mode: brokerRole and brokerId from the configuration are ignored; the \
         controllers decide them"
    );
    let client = Arc::new(ControllerClient::new(config.controller.addrs.clone()));
    let ip1 = config
        .broker_ip1
        .clone()
        .unwrap_or_else(|| crate::broker::advertised_ip(config.listen_addr).to_string());
    let member = Member {
        cluster: config.cluster_name.clone(),
        group: config.broker_name.clone(),
        addr: format!("{ip1}:{}", config.listen_port),
    };
    let mut ident = identity::Identity::load_or_create(&config.store_root)?;
    let a = loop {
        match assign(&client, &member, &config.controller, &mut ident).await {
            Ok(found) => break found,
            Err(e) => tracing::warn!(error = %e, "controller mode: no role yet; retrying"),
        }
        tokio::select! {
            _ = stop.cancelled() => return Ok(Ended::Stopped),
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    };
    tracing::info!(broker_id = a.id, role = ?a.role, "controller mode: role assigned");
    let master_ha = a.master.as_ref().map(|m| m.ha_addr.clone());
    let run_config = configure(config.clone(), a.id, &a.role, master_ha);
    let agent = Arc::new(agent::Agent {
        client,
        member,
        id: a.id,
        role: a.role.clone(),
        cfg: config.controller.clone(),
        broker: std::sync::OnceLock::new(),
    });
    let tasks = CancellationToken::new();
    agent::spawn_heartbeats(agent.clone(), tasks.clone());
    let ended = serve(run_config, agent, &a, &tasks, stop).await;
    tasks.cancel();
    ended
}

/// Starts the server with its role and serves until `stop` or a role change (`tasks` runs
/// the agent's tasks). A slave whose log diverged ends at once to reopen its cut store.
async fn serve(
    config: BrokerConfig,
    agent: Arc<agent::Agent>,
    a: &Assigned,
    tasks: &CancellationToken,
    stop: CancellationToken,
) -> Result<Ended, String> {
    let server = BrokerServer::start(config)
        .await
        .map_err(|e| e.to_string())?;
    let b = server.broker().clone();
    if let Role::Master { epoch } = a.role {
        epochs::record(&b, epoch);
        agent::publish_members(&agent, &b, &a.sync_set);
    }
    if let Some(m) = &a.master
        && epochs::check_slave(&b, m)?
    {
        b.restart_in_place.store(true, Ordering::Release);
        drop(b);
        let now = CancellationToken::new();
        now.cancel();
        server.run(now).await;
        return Ok(Ended::RoleChanged);
    }
    crate::server::print_boot_line(&b);
    let _ = agent.broker.set(b.clone());
    let restart = CancellationToken::new();
    agent::spawn_watch(agent.clone(), tasks.clone(), restart.clone());
    if matches!(a.role, Role::Master { .. }) {
        confirm::spawn_confirm(b.clone(), tasks.clone());
    }
    agent::spawn_in_sync(agent, b.clone(), tasks.clone());
    let run_stop = CancellationToken::new();
    let (s, r, rs) = (stop.clone(), restart, run_stop.clone());
    tokio::spawn(async move {
        tokio::select! {
            _ = s.cancelled() => {},
            _ = r.cancelled() => b.restart_in_place.store(true, Ordering::Release),
        }
        rs.cancel();
    });
    server.run(run_stop).await;
    Ok(if stop.is_cancelled() {
        Ended::Stopped
    } else {
        Ended::RoleChanged
    })
}

/// Id, registration, election if needed, the role and the in-sync set; for a slave also the
/// master's HA address.
async fn assign(
    c: &ControllerClient,
    m: &Member,
    cfg: &crate::config::ControllerModeConfig,
    ident: &mut identity::Identity,
) -> Result<Assigned, String> {
    let id = bootstrap::broker_id(c, m, ident).await?;
    bootstrap::register(c, m, ident, id).await?;
    // alive at the controllers before anything is decided (the store is not open yet)
    agent::heartbeat(c, m, cfg, id, 0, 0).await;
    let mut view: View = bootstrap::view(c, &m.group).await?;
    if view.master_id.is_none() {
        bootstrap::elect_me(c, m, id).await?;
        view = bootstrap::view(c, &m.group).await?;
    }
    let role = role_of(id, &view).ok_or("the group has no master yet")?;
    let master = match &role {
        Role::Master { .. } => None,
        Role::Slave { master_addr, .. } => Some(epochs::fetch(master_addr).await?),
    };
    Ok(Assigned {
        id,
        role,
        master,
        sync_set: view.sync_set,
    })
}

/// The configuration of one run: the role and, for the nameservers, brokerId 0 for the master
/// and the granted id for a slave (as Java registers in controller mode).
fn configure(mut c: BrokerConfig, id: i64, role: &Role, master_ha: Option<String>) -> BrokerConfig {
    match role {
        Role::Master { .. } => {
            c.broker_id = 0;
            c.broker_role = if c.controller.all_ack_in_sync_state_set {
                BrokerRole::SyncMaster
            } else {
                BrokerRole::AsyncMaster
            };
            c.ha.master_address = None;
        }
        Role::Slave { .. } => {
            c.broker_id = id.max(1);
            c.broker_role = BrokerRole::Slave;
            c.ha.master_address = master_ha;
        }
    }
    c.ha.identity = Some(id);
    c.controller.epoch = match role {
        Role::Master { epoch } | Role::Slave { epoch, .. } => *epoch,
    };
    c
}

/// Replaces this process with a fresh start of the same binary and arguments (the role
/// changed). Returns only when that failed.
pub fn reexec() -> String {
    use std::os::unix::process::CommandExt;
    let exe = match std::env::current_exe() {
        Ok(e) => e,
        Err(e) => return format!("cannot find the broker's own executable to restart: {e}"),
    };
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    tracing::info!("controller mode: restarting the broker process with its new role");
    let err = std::process::Command::new(exe).args(args).exec();
    format!("cannot restart the broker process: {err}")
}
