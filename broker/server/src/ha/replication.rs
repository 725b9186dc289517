//! [`Replication`]: the handle the HA tasks, the send path and runtime info share — the store
//! being copied, the replication state, the settings and the role.

use super::state::HaState;
use crate::config::{BrokerRole, HaConfig};
use rmq_store::MessageStore;
use std::sync::Arc;

/// What replication works with.
#[derive(Clone)]
pub struct Replication {
    /// The store a master reads from and a slave appends to.
    pub store: Arc<MessageStore>,
    /// Connected slaves and their acks (master), the master link (slave).
    pub state: Arc<HaState>,
    /// The `ha*` settings, `slaveTimeout`, `inSyncReplicas`.
    pub config: HaConfig,
    /// `brokerRole`.
    pub role: BrokerRole,
}

impl Replication {
    /// True unless this broker is a slave.
    pub fn is_master(&self) -> bool {
        self.role != BrokerRole::Slave
    }
}
