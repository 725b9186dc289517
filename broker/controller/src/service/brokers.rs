//! Requests about membership: heartbeats, broker ids, registration, cleaning.

use super::{Answer, Controller, broker_id, header, refuse};
use crate::codes;
use crate::decide;
use crate::elect::LiveInfo;
use crate::liveness::Heartbeat;
use crate::members;
use crate::wire::{
    ApplyBrokerIdRequestHeader, ApplyBrokerIdResponseHeader, BrokerHeartbeatRequestHeader,
    CleanControllerBrokerDataRequestHeader, GetNextBrokerIdRequestHeader,
    GetNextBrokerIdResponseHeader, RegisterBrokerToControllerRequestHeader,
    RegisterBrokerToControllerResponseHeader, SyncStateSetBody, wire_epoch, wire_id,
};
use rmq_protocol::RemotingCommand;

impl Controller {
    /// BROKER_HEARTBEAT: records the broker as alive (any replica).
    pub(super) fn heartbeat(&self, request: &RemotingCommand) -> Answer {
        let h: BrokerHeartbeatRequestHeader = header(request)?;
        let Some(id) = h.broker_id else {
            return Err(refuse(
                codes::INVALID_REQUEST,
                "Heart beat with empty brokerId",
            ));
        };
        let id = broker_id(id)?;
        let hb = Heartbeat {
            group: h.broker_name,
            id,
            address: h.broker_addr,
            timeout_ms: h
                .heartbeat_timeout_mills
                .and_then(|t| u64::try_from(t).ok()),
            info: LiveInfo {
                epoch: h.epoch.and_then(|e| u32::try_from(e).ok()).unwrap_or(0),
                max_offset: h.max_offset.unwrap_or(-1),
                priority: h.election_priority.unwrap_or(i32::MAX),
            },
        };
        let now = self.now_ms();
        self.liveness.lock().heartbeat(hb, now);
        Ok(RemotingCommand::response_to(
            request,
            rmq_protocol::response_code::SUCCESS,
            Some("Heart beat success".to_owned()),
        ))
    }

    /// CONTROLLER_GET_NEXT_BROKER_ID (leader).
    pub(super) fn next_broker_id(&self, request: &RemotingCommand) -> Answer {
        self.require_leader()?;
        let h: GetNextBrokerIdRequestHeader = header(request)?;
        let next = decide::next_broker_id(&self.state(), &h.broker_name);
        let answer = GetNextBrokerIdResponseHeader {
            cluster_name: h.cluster_name,
            broker_name: h.broker_name,
            next_broker_id: Some(wire_id(next)),
        };
        Ok(RemotingCommand::success(request).with_header(&answer))
    }

    /// CONTROLLER_APPLY_BROKER_ID: a new member claims an id (`registerCheckCode` is
    /// `address;token`; the address is the part before `;`).
    pub(super) async fn apply_broker_id(&self, request: &RemotingCommand) -> Answer {
        let h: ApplyBrokerIdRequestHeader = header(request)?;
        let id = broker_id(h.applied_broker_id)?;
        let address = h
            .register_check_code
            .split(';')
            .next()
            .unwrap_or_default()
            .to_owned();
        self.write(|state| {
            let event = decide::apply_broker_id(
                state,
                &h.cluster_name,
                &h.broker_name,
                id,
                &address,
                &h.register_check_code,
            )?;
            Ok((event, ()))
        })
        .await?;
        let answer = ApplyBrokerIdResponseHeader {
            cluster_name: h.cluster_name,
            broker_name: h.broker_name,
        };
        Ok(RemotingCommand::success(request).with_header(&answer))
    }

    /// CONTROLLER_REGISTER_BROKER: a member with an id announces its address and learns the
    /// master (when alive) and the in-sync set.
    pub(super) async fn register_broker(&self, request: &RemotingCommand) -> Answer {
        let h: RegisterBrokerToControllerRequestHeader = header(request)?;
        let id = broker_id(h.broker_id)?;
        let now = self.now_ms();
        let group = h.broker_name.clone();
        let registered = self
            .write(|state| {
                let live = self.liveness.lock();
                members::register_broker(state, &group, id, &h.broker_address, |m| {
                    live.is_alive(&group, m, now)
                })
            })
            .await?;
        let sync = &registered.sync;
        let master = registered.master.as_ref();
        let answer = RegisterBrokerToControllerResponseHeader {
            cluster_name: h.cluster_name,
            broker_name: h.broker_name,
            master_broker_id: master.map(|(m, _)| wire_id(*m)),
            master_address: master.map(|(_, a)| a.clone()),
            master_epoch: master.map(|_| wire_epoch(sync.master_epoch)),
            sync_state_set_epoch: master.map(|_| wire_epoch(sync.in_sync_epoch)),
        };
        let body = SyncStateSetBody {
            sync_state_set: sync.in_sync.iter().map(|id| wire_id(*id)).collect(),
            sync_state_set_epoch: wire_epoch(sync.in_sync_epoch),
        };
        Ok(RemotingCommand::success(request)
            .with_header(&answer)
            .with_body(json(&body)))
    }

    /// CLEAN_BROKER_DATA (`mqadmin cleanBrokerMetadata`).
    pub(super) async fn clean_broker_data(&self, request: &RemotingCommand) -> Answer {
        let h: CleanControllerBrokerDataRequestHeader = header(request)?;
        let now = self.now_ms();
        let group = h.broker_name.clone();
        self.write(|state| {
            let live = self.liveness.lock();
            let event = members::clean_broker_data(
                state,
                &group,
                h.broker_controller_ids_to_clean.as_deref(),
                h.is_clean_living_broker,
                |id| live.is_alive(&group, id, now),
            )?;
            Ok((Some(event), ()))
        })
        .await?;
        Ok(RemotingCommand::success(request))
    }
}

/// A body as JSON (these bodies always serialise).
pub(super) fn json<T: serde::Serialize>(body: &T) -> Vec<u8> {
    serde_json::to_vec(body).unwrap_or_default()
}
