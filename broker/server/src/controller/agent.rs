//! What a broker in controller mode does while it runs: heartbeats to every controller, a
//! watch on the group's master and epoch (polling GET_REPLICA_INFO, sooner when the controller
//! sends NOTIFY_BROKER_ROLE_CHANGED) that ends the run when the role changed, and on a master
//! the upkeep of the in-sync replica set.

use super::bootstrap::{self, Member};
use super::client::ControllerClient;
use super::decide::{InSyncTracker, Role, SlaveProgress, must_restart};
use crate::broker::Broker;
use crate::config::ControllerModeConfig;
use rmq_controller::codes;
use rmq_controller::wire::{BrokerHeartbeatRequestHeader, SyncStateSetBody};
use rmq_protocol::RemotingCommand;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// What the tasks share.
pub struct Agent {
    /// The controllers.
    pub client: Arc<ControllerClient>,
    /// This broker's group and address.
    pub member: Member,
    /// Its broker id.
    pub id: i64,
    /// The role it runs with.
    pub role: Role,
    /// The settings.
    pub cfg: ControllerModeConfig,
    /// The running broker, once its store is open (heartbeats report its max offset).
    pub broker: std::sync::OnceLock<Arc<Broker>>,
}

impl Agent {
    fn epoch(&self) -> i32 {
        match self.role {
            Role::Master { epoch } | Role::Slave { epoch, .. } => epoch,
        }
    }
}

/// One BROKER_HEARTBEAT to every controller (liveness is per replica).
pub async fn heartbeat(
    c: &ControllerClient,
    m: &Member,
    cfg: &ControllerModeConfig,
    id: i64,
    epoch: i32,
    max_offset: i64,
) {
    let h = BrokerHeartbeatRequestHeader {
        cluster_name: m.cluster.clone(),
        broker_addr: m.addr.clone(),
        broker_name: m.group.clone(),
        broker_id: Some(id),
        epoch: Some(epoch),
        max_offset: Some(max_offset),
        confirm_offset: Some(max_offset),
        heartbeat_timeout_mills: i64::try_from(cfg.heartbeat_timeout.as_millis()).ok(),
        election_priority: Some(cfg.election_priority),
    };
    let req = RemotingCommand::request_with(codes::BROKER_HEARTBEAT, &h);
    let beats = c.addrs().iter().map(|addr| c.to_one(addr, req.clone()));
    for r in futures::future::join_all(beats).await {
        if let Err(e) = r {
            tracing::debug!(error = %e, "controller heartbeat failed");
        }
    }
}

/// Heartbeats to every controller every third of `controllerHeartBeatTimeoutMills`.
pub fn spawn_heartbeats(a: Arc<Agent>, stop: CancellationToken) {
    tokio::spawn(async move {
        let period = (a.cfg.heartbeat_timeout / 3).max(Duration::from_millis(100));
        loop {
            let max = a.broker.get().map_or(0, |b| b.store.max_physical_offset());
            heartbeat(&a.client, &a.member, &a.cfg, a.id, a.epoch(), max).await;
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(period) => {}
            }
        }
    });
}

/// Watches the group: cancels `restart` (and returns) when the controller's view no longer
/// matches the role this run has. A slave of a group without a master asks to be elected.
/// The broker's `role_changed` wakes it at once.
pub fn spawn_watch(a: Arc<Agent>, stop: CancellationToken, restart: CancellationToken) {
    tokio::spawn(async move {
        let broker = a.broker.get().cloned();
        loop {
            let told = async {
                match &broker {
                    Some(b) => b.role_changed.notified().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = told => {}
                _ = tokio::time::sleep(a.cfg.sync_metadata_period) => {}
            }
            let view = match bootstrap::view(&a.client, &a.member.group).await {
                Ok(v) => v,
                Err(e) => {
                    tracing::warn!(error = %e, "controller mode: cannot read the group's master");
                    continue;
                }
            };
            if view.master_id.is_none() && matches!(a.role, Role::Slave { .. }) {
                let _ = bootstrap::elect_me(&a.client, &a.member, a.id).await;
                continue;
            }
            if must_restart(a.id, &a.role, &view) {
                tracing::warn!(
                    current = ?a.role, master = ?view.master_id, epoch = view.master_epoch,
                    "controller mode: the group's master changed; restarting with the new role"
                );
                restart.cancel();
                return;
            }
        }
    });
}

/// Publishes the in-sync set's members but this master to the send path (with
/// `allAckInSyncStateSet` sends wait for all of them) and to the read cap ([`super::confirm`]).
pub fn publish_members(a: &Agent, b: &Broker, set: &std::collections::BTreeSet<i64>) {
    let others = set.iter().copied().filter(|id| *id != a.id).collect();
    b.ha.state.set_sync_members(Some(others));
}

/// On a master: keeps the in-sync set (ALTER_SYNC_STATE_SET) as slaves catch up or lag.
pub fn spawn_in_sync(a: Arc<Agent>, b: Arc<Broker>, stop: CancellationToken) {
    let Role::Master { epoch } = a.role else {
        return;
    };
    tokio::spawn(async move {
        let mut tracker = InSyncTracker::default();
        let mut current: Option<SyncStateSetBody> = None;
        let tick = a
            .cfg
            .check_sync_state_set_period
            .min(Duration::from_millis(500));
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(tick) => {}
            }
            if current.is_none() {
                current = read_set(&a, &b).await;
            }
            if let Some(set) = current.as_mut()
                && !check_set(&a, &b, epoch, &mut tracker, set).await
            {
                current = None;
            }
        }
    });
}

/// The in-sync set as the controller has it (published to the send path).
async fn read_set(a: &Agent, b: &Broker) -> Option<SyncStateSetBody> {
    let v = bootstrap::view(&a.client, &a.member.group).await.ok()?;
    publish_members(a, b, &v.sync_set);
    Some(SyncStateSetBody {
        sync_state_set: v.sync_set,
        sync_state_set_epoch: v.set_epoch,
    })
}

/// One check of the in-sync set; false when the controller refused a change (re-read it).
async fn check_set(
    a: &Agent,
    b: &Broker,
    epoch: i32,
    tracker: &mut InSyncTracker,
    set: &mut SyncStateSetBody,
) -> bool {
    let slaves: Vec<SlaveProgress> =
        b.ha.state
            .links()
            .iter()
            .filter_map(|l| l.broker_id.map(|id| SlaveProgress { id, ack: l.ack() }))
            .collect();
    let now = Instant::now();
    let max = b.store.max_physical_offset();
    tracker.observe(&set.sync_state_set, &slaves, max, now);
    let lag = a.cfg.max_time_slave_not_catchup;
    let Some(next) = tracker.decide(a.id, &set.sync_state_set, &slaves, now, lag) else {
        return true;
    };
    // while the controller decides, sends and reads count the old and the new members: a
    // joining slave must hold what is acknowledged from now on, before the set names it
    publish_members(a, b, &set.sync_state_set.union(&next).copied().collect());
    let asked = SyncStateSetBody {
        sync_state_set: next,
        sync_state_set_epoch: set.sync_state_set_epoch,
    };
    match bootstrap::alter_set(&a.client, &a.member.group, a.id, epoch, &asked).await {
        Ok(new_epoch) => {
            tracing::info!(set = ?asked.sync_state_set, epoch = new_epoch, "in-sync replica set changed");
            publish_members(a, b, &asked.sync_state_set);
            *set = SyncStateSetBody {
                sync_state_set: asked.sync_state_set,
                sync_state_set_epoch: new_epoch,
            };
            true
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot change the in-sync set; re-reading it");
            false
        }
    }
}
