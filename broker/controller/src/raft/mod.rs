//! Consensus: the controller's [`Event`]s are the entries of a Raft log (openraft 0.9).
//!
//! - [`log_store`]: the log and the vote, durable files in the store directory.
//! - [`state_machine`]: applies committed events to the [`ControllerState`]; snapshots.
//! - [`network`]: Raft RPCs to the other replicas over the remoting protocol, and the
//!   receiving side ([`network::serve_raft_rpc`]).
//!
//! The Raft node id of a replica is its position in `controllerDLegerPeers`; its
//! [`BasicNode`] address is its `host:port` there.

pub mod fsutil;
pub mod log_store;
pub mod network;
pub mod state_machine;

use crate::config::ControllerConfig;
use crate::{ControllerState, Event};
use openraft::BasicNode;
use std::collections::BTreeMap;
use std::io::Cursor;
use std::sync::Arc;

openraft::declare_raft_types!(
    /// The controller's Raft types: entries carry [`Event`]s; applying one answers nothing
    /// (requests read the state after their event applied).
    pub TypeConfig:
        D = Event,
        R = (),
        NodeId = u64,
        Node = BasicNode,
        Entry = openraft::Entry<TypeConfig>,
        SnapshotData = Cursor<Vec<u8>>,
        AsyncRuntime = openraft::TokioRuntime,
);

/// A running Raft node of the controller.
pub type ControllerRaft = openraft::Raft<TypeConfig>;
/// A Raft node id (position in the peers).
pub type NodeId = u64;
/// A Raft log id.
pub type LogId = openraft::LogId<NodeId>;
/// Storage errors as openraft wants them.
pub type StorageError = openraft::StorageError<NodeId>;

/// The state every request reads: the applied [`ControllerState`] and how far it got.
pub type SharedState = Arc<parking_lot::RwLock<state_machine::Applied>>;

/// Starts this replica's Raft node on the files in `config.store_path`; a pristine cluster is
/// initialised with every peer as voter (each replica does it; the same membership from all
/// is safe).
pub async fn start(
    config: &ControllerConfig,
    client: Arc<rmq_protocol::net::RemotingClient>,
) -> Result<(ControllerRaft, SharedState), String> {
    let dir = &config.store_path;
    std::fs::create_dir_all(dir).map_err(|e| {
        format!(
            "cannot create controllerStorePath {}: {e} (fix the path or its permissions)",
            dir.display()
        )
    })?;
    let logs = log_store::LogStore::open(dir)
        .map_err(|e| format!("cannot open the Raft log in {}: {e}", dir.display()))?;
    let sm = state_machine::StateMachine::open(dir)
        .map_err(|e| format!("cannot open the snapshot in {}: {e}", dir.display()))?;
    let shared = sm.shared();
    let raft_config = openraft::Config {
        cluster_name: config.group.clone(),
        heartbeat_interval: millis(config.raft_heartbeat),
        election_timeout_min: millis(config.raft_election_timeout),
        election_timeout_max: millis(config.raft_election_timeout) * 2,
        ..openraft::Config::default()
    }
    .validate()
    .map_err(|e| format!("invalid Raft timing: {e}"))?;
    let id = node_id(config.self_index);
    let raft = ControllerRaft::new(
        id,
        Arc::new(raft_config),
        network::Network::new(client),
        logs,
        sm,
    )
    .await
    .map_err(|e| format!("cannot start Raft: {e}"))?;
    let initialized = raft
        .is_initialized()
        .await
        .map_err(|e| format!("Raft stopped: {e}"))?;
    if !initialized {
        let members: BTreeMap<NodeId, BasicNode> = config
            .peers
            .iter()
            .enumerate()
            .map(|(i, p)| (node_id(i), BasicNode::new(&p.addr)))
            .collect();
        if let Err(e) = raft.initialize(members).await {
            tracing::info!(error = %e, "Raft membership already initialised");
        }
    }
    Ok((raft, shared))
}

/// The Raft node id of the peer at position `index`.
pub fn node_id(index: usize) -> NodeId {
    u64::try_from(index).unwrap_or(u64::MAX)
}

fn millis(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// A fresh, empty state (used by snapshots and tests).
pub fn empty_state() -> ControllerState {
    ControllerState::default()
}
