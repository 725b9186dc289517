//! Master/slave replication (classic RocketMQ HA, reference §5.10).
//!
//! - [`wire`]: the 8-byte report and the 12-byte transfer header (pure).
//! - [`state`]: connected slaves and their acknowledged offsets (master), the master link
//!   (slave).
//! - `master`: the `haListenPort` listener; one reader and one writer task per slave.
//! - `slave`: the connection to the master; appends transferred bytes to the local store.
//! - `metadata`: slaves pull topics, offsets and groups from the master every 10 s
//!   ([`Tables`]).
//! - `replication`: [`Replication`], the handle the tasks, the send path and runtime info share.
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
mod replication;
mod slave;
pub mod state;
pub mod status;
pub mod sync_wait;
pub mod wire;

pub use metadata::Tables;
pub use replication::Replication;
pub use state::HaState;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Starts the HA tasks: the slave listener on a master (`listener` is the bound HA port),
/// replication and the sync of `tables` on a slave. All end when `stop` is cancelled.
pub fn spawn(
    r: &Replication,
    listener: Option<TcpListener>,
    tables: Tables,
    stop: CancellationToken,
) {
    if let Some(l) = listener {
        master::spawn(r.clone(), l, stop.clone());
    }
    if !r.is_master() {
        slave::spawn(r.clone(), stop.clone());
        metadata::spawn(tables, r.state.clone(), stop);
    }
}
