//! Start-up in controller mode: the broker's id (GET_NEXT_BROKER_ID and APPLY_BROKER_ID, or the
//! one it already holds), registration (REGISTER_BROKER), an election when the group has no
//! master (ELECT_MASTER naming itself), and the controller's view of the group
//! (GET_REPLICA_INFO).

use super::client::ControllerClient;
use super::decide::View;
use super::identity::Identity;
use rmq_controller::codes;
use rmq_controller::wire::*;
use rmq_protocol::RemotingCommand;

/// The group a broker belongs to and how it is reached.
#[derive(Debug, Clone)]
pub struct Member {
    /// `brokerClusterName`.
    pub cluster: String,
    /// `brokerName`.
    pub group: String,
    /// The remoting address the controller hands to the group's other members.
    pub addr: String,
}

/// An error unless `resp` is SUCCESS; names the request.
fn ok(resp: RemotingCommand, what: &str) -> Result<RemotingCommand, String> {
    if resp.code == 0 {
        Ok(resp)
    } else {
        Err(format!(
            "controller refused {what}: code {} {}",
            resp.code,
            resp.remark_str()
        ))
    }
}

/// The broker id: the one in `ident`, else a new one applied for and saved.
pub async fn broker_id(
    c: &ControllerClient,
    m: &Member,
    ident: &mut Identity,
) -> Result<i64, String> {
    if let Some(id) = ident.broker_id {
        return Ok(id);
    }
    let next = GetNextBrokerIdRequestHeader {
        cluster_name: m.cluster.clone(),
        broker_name: m.group.clone(),
    };
    let req = RemotingCommand::request_with(codes::GET_NEXT_BROKER_ID, &next);
    let resp = ok(c.to_leader(req).await?, "GET_NEXT_BROKER_ID")?;
    let h = resp
        .header::<GetNextBrokerIdResponseHeader>()
        .map_err(|e| format!("GET_NEXT_BROKER_ID answer: {e}"))?;
    let id = h
        .next_broker_id
        .ok_or("GET_NEXT_BROKER_ID answer without nextBrokerId")?;
    apply_id(c, m, ident, id).await?;
    ident.set_broker_id(id)?;
    tracing::info!(broker_id = id, "controller mode: broker id granted");
    Ok(id)
}

/// APPLY_BROKER_ID for `id` with this broker's check code.
pub async fn apply_id(
    c: &ControllerClient,
    m: &Member,
    ident: &Identity,
    id: i64,
) -> Result<(), String> {
    let apply = ApplyBrokerIdRequestHeader {
        cluster_name: m.cluster.clone(),
        broker_name: m.group.clone(),
        applied_broker_id: id,
        register_check_code: ident.check_code(&m.addr),
    };
    let req = RemotingCommand::request_with(codes::APPLY_BROKER_ID, &apply);
    ok(c.to_leader(req).await?, "APPLY_BROKER_ID").map(|_| ())
}

/// REGISTER_BROKER; re-applies for the id when the controller forgot it (2010).
pub async fn register(
    c: &ControllerClient,
    m: &Member,
    ident: &Identity,
    id: i64,
) -> Result<(), String> {
    let reg = RegisterBrokerToControllerRequestHeader {
        cluster_name: m.cluster.clone(),
        broker_name: m.group.clone(),
        broker_id: id,
        broker_address: m.addr.clone(),
    };
    let req = RemotingCommand::request_with(codes::REGISTER_BROKER, &reg);
    let resp = c.to_leader(req.clone()).await?;
    if resp.code == codes::BROKER_NEED_TO_BE_REGISTERED {
        apply_id(c, m, ident, id).await?;
        ok(c.to_leader(req).await?, "REGISTER_BROKER")?;
        return Ok(());
    }
    ok(resp, "REGISTER_BROKER").map(|_| ())
}

/// ELECT_MASTER naming `id` (the group has no master). A refusal is not an error: the view
/// read afterwards says who leads.
pub async fn elect_me(c: &ControllerClient, m: &Member, id: i64) -> Result<(), String> {
    let elect = ElectMasterRequestHeader {
        cluster_name: Some(m.cluster.clone()),
        broker_name: m.group.clone(),
        broker_id: Some(id),
        designate_elect: false,
    };
    let req = RemotingCommand::request_with(codes::ELECT_MASTER, &elect);
    let resp = c.to_leader(req).await?;
    tracing::info!(
        broker_id = id,
        code = resp.code,
        remark = resp.remark_str(),
        "controller mode: asked to be elected master"
    );
    Ok(())
}

/// GET_REPLICA_INFO: the group's master, epochs and in-sync set.
pub async fn view(c: &ControllerClient, group: &str) -> Result<View, String> {
    let h = GetReplicaInfoRequestHeader {
        broker_name: group.to_owned(),
    };
    let req = RemotingCommand::request_with(codes::GET_REPLICA_INFO, &h);
    let resp = c.to_leader(req).await?;
    if resp.code == codes::BROKER_METADATA_NOT_EXIST {
        return Ok(View::default());
    }
    let resp = ok(resp, "GET_REPLICA_INFO")?;
    let h = resp
        .header::<GetReplicaInfoResponseHeader>()
        .map_err(|e| format!("GET_REPLICA_INFO answer: {e}"))?;
    let set: SyncStateSetBody = serde_json::from_slice(&resp.body).unwrap_or_default();
    Ok(View {
        master_id: h.master_broker_id.filter(|id| *id >= 0),
        master_addr: h.master_address.filter(|a| !a.is_empty()),
        master_epoch: h.master_epoch.unwrap_or(0),
        set_epoch: set.sync_state_set_epoch,
        sync_set: set.sync_state_set,
    })
}

/// ALTER_SYNC_STATE_SET by master `me` of `epoch`: the new set's epoch, or the refusal code.
pub async fn alter_set(
    c: &ControllerClient,
    group: &str,
    me: i64,
    epoch: i32,
    set: &SyncStateSetBody,
) -> Result<i32, String> {
    let h = AlterSyncStateSetRequestHeader {
        broker_name: group.to_owned(),
        master_broker_id: me,
        master_epoch: epoch,
    };
    let body = serde_json::to_vec(set).map_err(|e| e.to_string())?;
    let req = RemotingCommand::request_with(codes::ALTER_SYNC_STATE_SET, &h).with_body(body);
    let resp = ok(c.to_leader(req).await?, "ALTER_SYNC_STATE_SET")?;
    let h = resp
        .header::<AlterSyncStateSetResponseHeader>()
        .map_err(|e| format!("ALTER_SYNC_STATE_SET answer: {e}"))?;
    Ok(h.new_sync_state_set_epoch)
}
