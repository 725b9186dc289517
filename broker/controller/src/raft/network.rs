//! Raft RPCs between controller replicas over the remoting protocol: a request with one of
//! the private codes ([`codes::RAFT_APPEND_ENTRIES`], [`codes::RAFT_VOTE`],
//! [`codes::RAFT_INSTALL_SNAPSHOT`]) carries openraft's request as JSON in the body; the
//! answer is `SUCCESS` with openraft's response as JSON, or [`codes::RAFT_ERROR`] with the
//! `RaftError` as JSON. They arrive on the replica's one port, beside broker traffic.

use super::{ControllerRaft, NodeId, TypeConfig};
use crate::codes;
use openraft::BasicNode;
use openraft::error::{
    InstallSnapshotError, NetworkError, RPCError, RaftError, RemoteError, Unreachable,
};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use rmq_protocol::net::RemotingClient;
use rmq_protocol::{RemotingCommand, response_code};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::sync::Arc;

/// Creates a [`Peer`] per replica; they share one remoting client (one connection a peer).
pub struct Network {
    client: Arc<RemotingClient>,
}

impl Network {
    /// Raft traffic goes through `client`.
    pub fn new(client: Arc<RemotingClient>) -> Self {
        Self { client }
    }
}

impl RaftNetworkFactory<TypeConfig> for Network {
    type Network = Peer;

    async fn new_client(&mut self, target: NodeId, node: &BasicNode) -> Peer {
        Peer {
            client: self.client.clone(),
            target,
            addr: node.addr.clone(),
        }
    }
}

/// The connection to one other replica.
pub struct Peer {
    client: Arc<RemotingClient>,
    target: NodeId,
    addr: String,
}

type RpcResult<T, E> = Result<T, RPCError<NodeId, BasicNode, RaftError<NodeId, E>>>;

impl Peer {
    async fn call<Req, Resp, E>(
        &self,
        code: i32,
        req: &Req,
        option: &RPCOption,
    ) -> RpcResult<Resp, E>
    where
        Req: Serialize,
        Resp: DeserializeOwned,
        E: std::error::Error + DeserializeOwned,
    {
        let body = serde_json::to_vec(req).map_err(|e| RPCError::Network(NetworkError::new(&e)))?;
        let request = RemotingCommand::request(code).with_body(body);
        let response = self
            .client
            .invoke(&self.addr, request, option.hard_ttl())
            .await
            .map_err(|e| {
                self.client.close(&self.addr);
                RPCError::Unreachable(Unreachable::new(&e))
            })?;
        let bad = |e: serde_json::Error| RPCError::Network(NetworkError::new(&e));
        match response.code {
            response_code::SUCCESS => serde_json::from_slice(&response.body).map_err(bad),
            codes::RAFT_ERROR => {
                let err: RaftError<NodeId, E> =
                    serde_json::from_slice(&response.body).map_err(bad)?;
                Err(RPCError::RemoteError(RemoteError::new(self.target, err)))
            }
            other => {
                let text = format!(
                    "controller {} answered Raft request {code} with code {other}: {}",
                    self.addr,
                    response.remark_str()
                );
                Err(RPCError::Network(NetworkError::new(
                    &std::io::Error::other(text),
                )))
            }
        }
    }
}

impl RaftNetwork<TypeConfig> for Peer {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> RpcResult<AppendEntriesResponse<NodeId>, openraft::error::Infallible> {
        self.call(codes::RAFT_APPEND_ENTRIES, &rpc, &option).await
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> RpcResult<InstallSnapshotResponse<NodeId>, InstallSnapshotError> {
        self.call(codes::RAFT_INSTALL_SNAPSHOT, &rpc, &option).await
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<NodeId>,
        option: RPCOption,
    ) -> RpcResult<VoteResponse<NodeId>, openraft::error::Infallible> {
        self.call(codes::RAFT_VOTE, &rpc, &option).await
    }
}

/// Answers a Raft request from another replica; `None` when `request` is not one.
pub async fn serve_raft_rpc(
    raft: &ControllerRaft,
    request: &RemotingCommand,
) -> Option<RemotingCommand> {
    let answer = match request.code {
        codes::RAFT_APPEND_ENTRIES => match parse(request) {
            Ok(rpc) => encode(request, raft.append_entries(rpc).await),
            Err(e) => bad_body(request, &e),
        },
        codes::RAFT_VOTE => match parse(request) {
            Ok(rpc) => encode(request, raft.vote(rpc).await),
            Err(e) => bad_body(request, &e),
        },
        codes::RAFT_INSTALL_SNAPSHOT => match parse(request) {
            Ok(rpc) => encode(request, raft.install_snapshot(rpc).await),
            Err(e) => bad_body(request, &e),
        },
        _ => return None,
    };
    Some(answer)
}

fn parse<T: DeserializeOwned>(request: &RemotingCommand) -> serde_json::Result<T> {
    serde_json::from_slice(&request.body)
}

fn bad_body(request: &RemotingCommand, e: &serde_json::Error) -> RemotingCommand {
    RemotingCommand::error(
        request,
        response_code::SYSTEM_ERROR,
        format!(
            "Raft request {} has a body that is not valid: {e}",
            request.code
        ),
    )
}

fn encode<T: Serialize, E: Serialize>(
    request: &RemotingCommand,
    result: Result<T, E>,
) -> RemotingCommand {
    let (code, body) = match result {
        Ok(v) => (response_code::SUCCESS, serde_json::to_vec(&v)),
        Err(e) => (codes::RAFT_ERROR, serde_json::to_vec(&e)),
    };
    match body {
        Ok(b) => RemotingCommand::response_to(request, code, None).with_body(b),
        Err(e) => RemotingCommand::error(
            request,
            response_code::SYSTEM_ERROR,
            format!("cannot encode the Raft answer: {e}"),
        ),
    }
}
