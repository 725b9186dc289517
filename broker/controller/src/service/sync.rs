//! Requests about masters and in-sync sets: elections, in-sync changes, and the reads of
//! `mqadmin getSyncStateSet` and of brokers (`GET_REPLICA_INFO`).

use super::brokers::json;
use super::{Answer, Controller, broker_id, header, refuse};
use crate::BrokerId;
use crate::codes;
use crate::decide::{AlterRequest, ElectRequest, Elected, alter_sync_state_set, elect_master};
use crate::state::Group;
use crate::wire::{
    AlterSyncStateSetRequestHeader, AlterSyncStateSetResponseHeader, BrokerMemberGroup,
    BrokerReplicasInfo, ElectMasterRequestHeader, ElectMasterResponseBody,
    ElectMasterResponseHeader, GetReplicaInfoRequestHeader, GetReplicaInfoResponseHeader,
    ReplicaIdentity, ReplicasInfo, SyncStateSetBody, wire_epoch, wire_id,
};
use rmq_protocol::RemotingCommand;
use std::collections::BTreeSet;

impl Controller {
    /// CONTROLLER_ELECT_MASTER from a broker or `mqadmin electMaster`.
    pub(super) async fn elect_request(&self, request: &RemotingCommand) -> Answer {
        let h: ElectMasterRequestHeader = header(request)?;
        let broker = match h.broker_id {
            None | Some(-1) => None,
            Some(id) => Some(broker_id(id)?),
        };
        self.elect(request, &h.broker_name, broker, h.designate_elect)
            .await
    }

    /// Runs an election in `group` (`broker: None`: the controller's own, after the master
    /// went silent) and answers as Java does: SUCCESS with the new master,
    /// `CONTROLLER_MASTER_STILL_EXIST` or `CONTROLLER_MASTER_NOT_AVAILABLE`.
    pub(super) async fn elect(
        &self,
        request: &RemotingCommand,
        group: &str,
        broker: Option<BrokerId>,
        designate: bool,
    ) -> Answer {
        let now = self.now_ms();
        let ask = ElectRequest {
            group,
            broker,
            designate,
            allow_unclean: self.config.enable_elect_unclean_master,
        };
        let elected = self
            .write(|state| {
                let alive = self.liveness.lock().alive(group, now);
                let elected = elect_master(state, &ask, &alive)?;
                let event = match &elected {
                    Elected::New { event, .. } | Elected::NoMaster { event } => Some(event.clone()),
                    Elected::Unchanged { .. } => None,
                };
                Ok((event, elected))
            })
            .await?;
        let state = self.state();
        let Some(g) = state.group(group) else {
            return Err(refuse(
                codes::BROKER_METADATA_NOT_EXIST,
                format!("broker group {group} was removed meanwhile"),
            ));
        };
        let header = master_header(g);
        let body = ElectMasterResponseBody {
            broker_member_group: Some(member_group(group, g)),
            sync_state_set: g.sync.in_sync.iter().map(|id| wire_id(*id)).collect(),
        };
        let answer = RemotingCommand::success(request)
            .with_header(&header)
            .with_body(json(&body));
        match elected {
            Elected::New { master, .. } => {
                tracing::info!(
                    group,
                    master,
                    epoch = g.sync.master_epoch,
                    "new master elected"
                );
                self.notify_role_change(group, g);
                Ok(answer)
            }
            Elected::Unchanged { master } => Ok(RemotingCommand {
                code: codes::MASTER_STILL_EXIST,
                remark: Some(format!(
                    "The old master {master} is still alive, not need to elect new master for broker {group}"
                )),
                ..answer
            }),
            Elected::NoMaster { .. } => {
                tracing::warn!(group, "the master is gone and no replica can be elected");
                Err(refuse(
                    codes::MASTER_NOT_AVAILABLE,
                    format!(
                        "Old master has down and failed to elect a new broker master for {group}"
                    ),
                ))
            }
        }
    }

    /// CONTROLLER_ALTER_SYNC_STATE_SET from a master.
    pub(super) async fn alter_sync_state_set(&self, request: &RemotingCommand) -> Answer {
        let h: AlterSyncStateSetRequestHeader = header(request)?;
        let body: SyncStateSetBody = serde_json::from_slice(&request.body).map_err(|e| {
            refuse(codes::INVALID_REQUEST,
                format!("the body is not a SyncStateSet ({{\"syncStateSet\":[1,2],\"syncStateSetEpoch\":1}}): {e}"),
            )
        })?;
        let master = broker_id(h.master_broker_id)?;
        let in_sync: BTreeSet<BrokerId> = body
            .sync_state_set
            .iter()
            .map(|id| broker_id(*id))
            .collect::<Result<_, _>>()?;
        let ask = AlterRequest {
            group: &h.broker_name,
            master,
            master_epoch: u32::try_from(h.master_epoch).unwrap_or(u32::MAX),
            in_sync_epoch: u32::try_from(body.sync_state_set_epoch).unwrap_or(u32::MAX),
            in_sync: in_sync.clone(),
        };
        let now = self.now_ms();
        let epoch = self
            .write(|state| {
                let alive = self.liveness.lock().alive(&h.broker_name, now);
                let (event, epoch) = alter_sync_state_set(state, &ask, &alive)?;
                Ok((Some(event), epoch))
            })
            .await?;
        let answer = AlterSyncStateSetResponseHeader {
            new_sync_state_set_epoch: wire_epoch(epoch),
        };
        let body = SyncStateSetBody {
            sync_state_set: in_sync.iter().map(|id| wire_id(*id)).collect(),
            sync_state_set_epoch: wire_epoch(epoch),
        };
        Ok(RemotingCommand::success(request)
            .with_header(&answer)
            .with_body(json(&body)))
    }

    /// CONTROLLER_GET_REPLICA_INFO (leader): master, epoch and in-sync set of a group.
    pub(super) fn replica_info(&self, request: &RemotingCommand) -> Answer {
        self.require_leader()?;
        let h: GetReplicaInfoRequestHeader = header(request)?;
        let state = self.state();
        let g = state.group(&h.broker_name).ok_or_else(|| {
            refuse(
                codes::BROKER_METADATA_NOT_EXIST,
                "Broker metadata is not existed",
            )
        })?;
        let m = master_header(g);
        let answer = GetReplicaInfoResponseHeader {
            master_broker_id: m.master_broker_id,
            master_address: m.master_address,
            master_epoch: m.master_epoch,
        };
        Ok(RemotingCommand::success(request)
            .with_header(&answer)
            .with_body(json(&sync_body(g))))
    }

    /// CONTROLLER_GET_SYNC_STATE_DATA (leader; `mqadmin getSyncStateSet`): body is a JSON
    /// list of group names.
    pub(super) fn sync_state_data(&self, request: &RemotingCommand) -> Answer {
        self.require_leader()?;
        let names: Vec<String> = serde_json::from_slice(&request.body).map_err(|e| {
            refuse(
                codes::INVALID_REQUEST,
                format!("the body must be a JSON list of broker names: {e}"),
            )
        })?;
        let state = self.state();
        let now = self.now_ms();
        let live = self.liveness.lock();
        let mut info = BrokerReplicasInfo::default();
        for name in names {
            let Some(g) = state.group(&name) else {
                continue;
            };
            let (mut in_sync, mut others) = (Vec::new(), Vec::new());
            for (id, m) in &g.members {
                let r = ReplicaIdentity {
                    broker_name: name.clone(),
                    broker_id: wire_id(*id),
                    broker_address: m.address.clone(),
                    alive: live.is_alive(&name, *id, now),
                };
                if g.sync.in_sync.contains(id) {
                    in_sync.push(r);
                } else {
                    others.push(r);
                }
            }
            let m = master_header(g);
            let replicas = ReplicasInfo {
                master_broker_id: m.master_broker_id,
                master_address: m.master_address,
                master_epoch: wire_epoch(g.sync.master_epoch),
                sync_state_set_epoch: wire_epoch(g.sync.in_sync_epoch),
                in_sync_replicas: in_sync,
                not_in_sync_replicas: others,
            };
            info.replicas_info_table.insert(name, replicas);
        }
        Ok(RemotingCommand::success(request).with_body(json(&info)))
    }

    /// NOTIFY_BROKER_ROLE_CHANGED to the group's alive members, oneway and best effort.
    fn notify_role_change(&self, group: &str, g: &Group) {
        if !self.config.notify_broker_role_changed {
            return;
        }
        let now = self.now_ms();
        let targets: Vec<String> = {
            let live = self.liveness.lock();
            g.members
                .iter()
                .filter(|(id, _)| live.is_alive(group, **id, now))
                .map(|(_, m)| m.address.clone())
                .collect()
        };
        let header = master_header(g);
        let body = json(&sync_body(g));
        for addr in targets {
            let client = self.notifier.clone();
            let req = RemotingCommand::request(codes::NOTIFY_BROKER_ROLE_CHANGED)
                .with_header(&header)
                .with_body(body.clone());
            tokio::spawn(async move {
                if let Err(e) = client.invoke_oneway(&addr, req).await {
                    tracing::warn!(%addr, error = %e, "cannot tell the broker its role changed");
                }
            });
        }
    }
}

/// The master part of a group's answers.
fn master_header(g: &Group) -> ElectMasterResponseHeader {
    let master = g.sync.master;
    ElectMasterResponseHeader {
        master_broker_id: master.map(wire_id),
        master_address: master.and_then(|m| g.address(m)).map(str::to_owned),
        master_epoch: Some(wire_epoch(g.sync.master_epoch)),
        sync_state_set_epoch: Some(wire_epoch(g.sync.in_sync_epoch)),
    }
}

fn sync_body(g: &Group) -> SyncStateSetBody {
    SyncStateSetBody {
        sync_state_set: g.sync.in_sync.iter().map(|id| wire_id(*id)).collect(),
        sync_state_set_epoch: wire_epoch(g.sync.in_sync_epoch),
    }
}

fn member_group(name: &str, g: &Group) -> BrokerMemberGroup {
    BrokerMemberGroup {
        cluster: g.cluster.clone(),
        broker_name: name.to_owned(),
        broker_addrs: g
            .members
            .iter()
            .map(|(id, m)| (wire_id(*id), m.address.clone()))
            .collect(),
    }
}
