//! The state machine: committed events applied to the [`ControllerState`] in log order, and
//! snapshots of it (`raft-snapshot.json`: the snapshot's metadata and the state as JSON).
//!
//! The applied state lives in memory; after a restart it is the last snapshot, and openraft
//! applies the committed entries after it again from the log (it knows how far from
//! `raft-committed.json`).

use super::fsutil::{read_optional, write_atomic};
use super::{LogId, NodeId, SharedState, StorageError, TypeConfig};
use crate::ControllerState;
use openraft::storage::{RaftStateMachine, Snapshot};
use openraft::{
    AnyError, BasicNode, EntryPayload, OptionalSend, RaftSnapshotBuilder, SnapshotMeta,
    StorageIOError, StoredMembership,
};
use serde::{Deserialize, Serialize};
use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::sync::Arc;

const SNAPSHOT_FILE: &str = "raft-snapshot.json";

/// The applied state and the log position it reflects.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Applied {
    /// The controller's state.
    pub state: ControllerState,
    /// The last entry applied.
    pub last_applied: Option<LogId>,
    /// The last membership applied.
    pub membership: StoredMembership<NodeId, BasicNode>,
}

#[derive(Clone, Serialize, Deserialize)]
struct StoredSnapshot {
    meta: SnapshotMeta<NodeId, BasicNode>,
    /// The [`Applied`] state as JSON.
    data: Vec<u8>,
}

/// The state machine; clones share the state (the snapshot builder is a clone).
#[derive(Clone)]
pub struct StateMachine {
    dir: PathBuf,
    applied: SharedState,
    snapshot: Arc<parking_lot::Mutex<Option<StoredSnapshot>>>,
}

fn sm_err(e: impl std::fmt::Display) -> StorageError {
    StorageIOError::write_state_machine(AnyError::error(e)).into()
}

fn snapshot_err(meta: &SnapshotMeta<NodeId, BasicNode>, e: String) -> StorageError {
    StorageIOError::write_snapshot(Some(meta.signature()), AnyError::error(e)).into()
}

impl StateMachine {
    /// Opens the state machine in `dir`: the last snapshot, if any.
    pub fn open(dir: &Path) -> std::io::Result<Self> {
        let snapshot: Option<StoredSnapshot> = match read_optional(&dir.join(SNAPSHOT_FILE))? {
            None => None,
            Some(bytes) => Some(serde_json::from_slice(&bytes).map_err(|e| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!(
                        "{SNAPSHOT_FILE} is not valid: {e} (remove it to rebuild from the peers)"
                    ),
                )
            })?),
        };
        let applied = match &snapshot {
            None => Applied::default(),
            Some(s) => serde_json::from_slice(&s.data).map_err(std::io::Error::other)?,
        };
        Ok(Self {
            dir: dir.to_owned(),
            applied: Arc::new(parking_lot::RwLock::new(applied)),
            snapshot: Arc::new(parking_lot::Mutex::new(snapshot)),
        })
    }

    /// The state requests read.
    pub fn shared(&self) -> SharedState {
        self.applied.clone()
    }

    /// Writes `stored` as the current snapshot; the error says what failed.
    fn store(&self, stored: StoredSnapshot) -> Result<(), String> {
        let bytes = serde_json::to_vec(&stored).map_err(|e| e.to_string())?;
        write_atomic(&self.dir.join(SNAPSHOT_FILE), &bytes)
            .map_err(|e| format!("cannot write {SNAPSHOT_FILE}: {e}"))?;
        *self.snapshot.lock() = Some(stored);
        Ok(())
    }
}

impl RaftSnapshotBuilder<TypeConfig> for StateMachine {
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>, StorageError> {
        let applied = self.applied.read().clone();
        let data = serde_json::to_vec(&applied).map_err(sm_err)?;
        let id = applied.last_applied.map_or_else(
            || "0-0".to_owned(),
            |l| format!("{}-{}", l.leader_id.term, l.index),
        );
        let meta = SnapshotMeta {
            last_log_id: applied.last_applied,
            last_membership: applied.membership.clone(),
            snapshot_id: id,
        };
        self.store(StoredSnapshot {
            meta: meta.clone(),
            data: data.clone(),
        })
        .map_err(|e| snapshot_err(&meta, e))?;
        Ok(Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(data)),
        })
    }
}

impl RaftStateMachine<TypeConfig> for StateMachine {
    type SnapshotBuilder = Self;

    async fn applied_state(
        &mut self,
    ) -> Result<(Option<LogId>, StoredMembership<NodeId, BasicNode>), StorageError> {
        let a = self.applied.read();
        Ok((a.last_applied, a.membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<()>, StorageError>
    where
        I: IntoIterator<Item = openraft::Entry<TypeConfig>> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let mut a = self.applied.write();
        let mut out = Vec::new();
        for e in entries {
            a.last_applied = Some(e.log_id);
            match e.payload {
                EntryPayload::Blank => {}
                EntryPayload::Normal(event) => a.state.apply(&event),
                EntryPayload::Membership(m) => {
                    a.membership = StoredMembership::new(Some(e.log_id), m);
                }
            }
            out.push(());
        }
        Ok(out)
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        self.clone()
    }

    async fn begin_receiving_snapshot(&mut self) -> Result<Box<Cursor<Vec<u8>>>, StorageError> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta<NodeId, BasicNode>,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> Result<(), StorageError> {
        let data = snapshot.into_inner();
        let mut applied: Applied = serde_json::from_slice(&data).map_err(sm_err)?;
        applied.last_applied = meta.last_log_id;
        applied.membership = meta.last_membership.clone();
        self.store(StoredSnapshot {
            meta: meta.clone(),
            data,
        })
        .map_err(|e| snapshot_err(meta, e))?;
        *self.applied.write() = applied;
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot<TypeConfig>>, StorageError> {
        Ok(self.snapshot.lock().clone().map(|s| Snapshot {
            meta: s.meta,
            snapshot: Box::new(Cursor::new(s.data)),
        }))
    }
}
