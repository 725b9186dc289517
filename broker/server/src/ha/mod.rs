//! Master/slave replication (classic RocketMQ HA, reference §5.10).
//!
//! - [`wire`]: the 8-byte report and the 12-byte transfer header (pure).
//! - [`state`]: connected slaves and their acknowledged offsets (master), the master link
//!   (slave).
//! - `master`: the `haListenPort` listener; one reader and one writer task per slave.
//! - `slave`: the connection to the master; appends transferred bytes to the local store.
//! - `metadata`: slaves pull topics, offsets and groups from the master every 10 s.
//! - [`sync_wait`]: SYNC_MASTER sends wait for slave acks (`SLAVE_NOT_AVAILABLE`,
//!   `FLUSH_SLAVE_TIMEOUT`).
//! - [`status`]: runtime info keys and GET_BROKER_HA_STATUS.
//!
//! Masters bind the HA port and serve slaves; slaves connect, replicate and sync metadata.
//! Slaves refuse sends, serve pulls and accept offset commits (consumers fall back to them
//! when the master is gone). Pull responses always suggest broker 0 (`slaveReadEnable` is not
//! implemented), so a consumer returns to the master as soon as its route has it again.

mod master;
mod metadata;
mod slave;
pub mod state;
pub mod status;
pub mod sync_wait;
pub mod wire;

pub use state::HaState;
pub use sync_wait::replication_code;

use crate::broker::Broker;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Starts the HA tasks: the slave listener on a master (`listener` is the bound HA port),
/// replication and metadata sync on a slave. All end when `stop` is cancelled.
pub fn spawn(b: &Arc<Broker>, listener: Option<TcpListener>, stop: CancellationToken) {
    if let Some(l) = listener {
        master::spawn(b.clone(), l, stop.clone());
    }
    if !b.is_master() {
        slave::spawn(b.clone(), stop.clone());
        metadata::spawn(b.clone(), stop);
    }
}
