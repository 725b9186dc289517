//! The controller's remoting service: brokers and admins send requests here (Java's
//! `ControllerRequestProcessor`). Any replica answers `CONTROLLER_GET_METADATA_INFO` (who
//! leads) and accepts `BROKER_HEARTBEAT` (liveness is per replica); every other request is for
//! the Raft leader only, and a follower answers `CONTROLLER_NOT_LEADER` (2007) with the
//! leader's id and address in the remark, as Java does (clients such as `mqadmin` first ask
//! `getControllerMetaData` for the leader's address).
//!
//! A state change is decided and proposed one at a time on the leader: confirm leadership
//! with a quorum (`ensure_linearizable`, which also waits until every committed event is
//! applied), decide on the applied state ([`crate::decide`]), append the event through Raft
//! and wait until it is applied; the answer is built from the state after it. Reads are
//! answered from the leader's applied state without a quorum round (Java's default
//! `isProcessReadEvent=false`), so a leader cut off from its peers may answer stale reads
//! until it is replaced, while its writes fail.

mod brokers;
pub mod scan;
mod sync;

use crate::codes;
use crate::config::ControllerConfig;
use crate::decide::Refusal;
use crate::liveness::Liveness;
use crate::raft::{ControllerRaft, SharedState, node_id};
use crate::wire::GetMetaDataResponseHeader;
use crate::{ControllerState, Event};
use openraft::ServerState;
use rmq_protocol::header::CommandHeader;
use rmq_protocol::net::{Channel, RemotingClient, RequestHandler};
use rmq_protocol::{RemotingCommand, response_code};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a state change may take (leadership check, append, commit, apply), as Java's
/// controller waits 5 s for its event.
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);

/// One controller replica's request handler and its shared parts.
pub struct Controller {
    config: Arc<ControllerConfig>,
    raft: ControllerRaft,
    applied: SharedState,
    liveness: parking_lot::Mutex<Liveness>,
    /// Decide-and-propose runs one at a time (Java's single event thread).
    turn: tokio::sync::Mutex<()>,
    /// Sends NOTIFY_BROKER_ROLE_CHANGED to brokers.
    notifier: Arc<RemotingClient>,
    started: Instant,
}

impl Controller {
    /// A handler over a started Raft node.
    pub fn new(
        config: Arc<ControllerConfig>,
        raft: ControllerRaft,
        applied: SharedState,
        notifier: Arc<RemotingClient>,
    ) -> Self {
        Self {
            config,
            raft,
            applied,
            liveness: parking_lot::Mutex::new(Liveness::default()),
            turn: tokio::sync::Mutex::new(()),
            notifier,
            started: Instant::now(),
        }
    }

    /// Stops the Raft node.
    pub async fn shutdown(&self) {
        if let Err(e) = self.raft.shutdown().await {
            tracing::warn!(error = %e, "Raft did not stop cleanly");
        }
    }

    /// Milliseconds since this replica started (the liveness clock).
    fn now_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// A copy of the applied state.
    fn state(&self) -> ControllerState {
        self.applied.read().state.clone()
    }

    /// Whether this replica is the Raft leader now.
    pub fn is_leader(&self) -> bool {
        let m = self.raft.metrics();
        let m = m.borrow();
        m.state == ServerState::Leader && m.current_leader == Some(node_id(self.config.self_index))
    }

    /// The leader's (id, address), as far as this replica knows.
    fn leader(&self) -> Option<(String, String)> {
        let leader = self.raft.metrics().borrow().current_leader?;
        let peer = self.config.peers.get(usize::try_from(leader).ok()?)?;
        Some((peer.id.clone(), peer.addr.clone()))
    }

    /// `CONTROLLER_NOT_LEADER` naming the leader when known.
    fn not_leader(&self, why: &str) -> Refusal {
        let me = &self.config.me().id;
        let remark = match self.leader() {
            Some((id, addr)) if &id != me => format!(
                "The controller is not in leader state: controller {me} {why}; the leader is {id} at {addr}"
            ),
            _ => format!(
                "The controller is not in leader state: controller {me} {why}; no leader is known (is a majority of controllerDLegerPeers running?)"
            ),
        };
        Refusal {
            code: codes::NOT_LEADER,
            remark,
        }
    }

    /// Refuses unless this replica leads.
    fn require_leader(&self) -> Result<(), Refusal> {
        if self.is_leader() {
            Ok(())
        } else {
            Err(self.not_leader("is a follower"))
        }
    }

    /// Decides on the applied state and, if the decision is an event, commits it through Raft.
    /// The answer is built by the caller from the state after the event applied.
    async fn write<T>(
        &self,
        decide: impl FnOnce(&ControllerState) -> Result<(Option<Event>, T), Refusal>,
    ) -> Result<T, Refusal> {
        self.require_leader()?;
        let _turn = self.turn.lock().await;
        match tokio::time::timeout(WRITE_TIMEOUT, self.raft.ensure_linearizable()).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => return Err(self.not_leader(&format!("lost leadership ({e})"))),
            Err(_) => {
                return Err(self
                    .not_leader("cannot reach a quorum of controllers to confirm its leadership"));
            }
        }
        let (event, out) = decide(&self.state())?;
        if let Some(event) = event {
            match tokio::time::timeout(WRITE_TIMEOUT, self.raft.client_write(event)).await {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => return Err(self.not_leader(&format!("could not commit ({e})"))),
                Err(_) => {
                    return Err(self.not_leader(
                        "could not commit the change within 5 s (no quorum of controllers?)",
                    ));
                }
            }
        }
        Ok(out)
    }

    /// CONTROLLER_GET_METADATA_INFO: answered by every replica.
    fn metadata(&self, request: &RemotingCommand) -> RemotingCommand {
        let leader = self.leader();
        let peers: String = self
            .config
            .peers
            .iter()
            .map(|p| format!("{}:{};", p.id, p.addr))
            .collect();
        let header = GetMetaDataResponseHeader {
            group: self.config.group.clone(),
            controller_leader_id: leader.as_ref().map(|(id, _)| id.clone()),
            controller_leader_address: leader.map(|(_, addr)| addr),
            is_leader: self.is_leader(),
            peers,
        };
        RemotingCommand::success(request).with_header(&header)
    }

    async fn dispatch(&self, request: RemotingCommand) -> RemotingCommand {
        if let Some(answer) = crate::raft::network::serve_raft_rpc(&self.raft, &request).await {
            return answer;
        }
        let result = match request.code {
            codes::GET_METADATA_INFO => Ok(self.metadata(&request)),
            codes::BROKER_HEARTBEAT => self.heartbeat(&request),
            codes::GET_NEXT_BROKER_ID => self.next_broker_id(&request),
            codes::APPLY_BROKER_ID => self.apply_broker_id(&request).await,
            codes::REGISTER_BROKER => self.register_broker(&request).await,
            codes::ELECT_MASTER => self.elect_request(&request).await,
            codes::ALTER_SYNC_STATE_SET => self.alter_sync_state_set(&request).await,
            codes::GET_REPLICA_INFO => self.replica_info(&request),
            codes::GET_SYNC_STATE_DATA => self.sync_state_data(&request),
            codes::CLEAN_BROKER_DATA => self.clean_broker_data(&request).await,
            code => Err(Refusal {
                code: response_code::REQUEST_CODE_NOT_SUPPORTED,
                remark: format!(" request type {code} not supported"),
            }),
        };
        result.unwrap_or_else(|r| RemotingCommand::error(&request, r.code, r.remark))
    }
}

/// An answer (whatever its code), or a refusal that becomes an error response.
type Answer = Result<RemotingCommand, Refusal>;

/// A refusal with `code` and `remark`.
fn refuse(code: i32, remark: impl Into<String>) -> Refusal {
    Refusal {
        code,
        remark: remark.into(),
    }
}

/// `CONTROLLER_INVALID_REQUEST` with `remark`.
fn invalid(remark: String) -> Refusal {
    Refusal {
        code: codes::INVALID_REQUEST,
        remark,
    }
}

/// Reads a typed header or refuses with `CONTROLLER_INVALID_REQUEST` naming the bad field.
fn header<H: CommandHeader>(request: &RemotingCommand) -> Result<H, Refusal> {
    request
        .header::<H>()
        .map_err(|e| invalid(format!("request {} has a bad header: {e}", request.code)))
}

/// A broker id from the wire (negative ids are not ids).
fn broker_id(id: i64) -> Result<crate::BrokerId, Refusal> {
    u64::try_from(id)
        .map_err(|_| invalid(format!("broker id {id} is not valid: ids are 1, 2, ...")))
}

impl RequestHandler for Controller {
    async fn handle(
        &self,
        _channel: &Channel,
        request: RemotingCommand,
    ) -> Option<RemotingCommand> {
        Some(self.dispatch(request).await)
    }
}
