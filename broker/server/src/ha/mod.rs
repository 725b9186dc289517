//! Master/slave replication (classic RocketMQ HA, reference §5.10).
//!
//! - [`wire`]: the 8-byte report and the 12-byte transfer header (pure).
//! - [`state`]: connected slaves and their acknowledged offsets (master), the master link
//!   (slave).
//! - `master`: the `haListenPort` listener; one reader and one writer task per slave.
//! - `admit`: before a slave is served: TLS (`tls.server.mode`) and, with `aclEnable=true`,
//!   its signed hello ([`MasterGuard`]).
//! - [`hello`]: the slave's authentication hello and the master's refusal frame (pure).
//! - `slave`: the connection to the master (TLS with `tls.enable`, a hello with inner
//!   credentials); appends transferred bytes to the local store.
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

mod admit;
pub mod hello;
mod master;
mod metadata;
mod replication;
mod slave;
pub mod state;
pub mod status;
pub mod sync_wait;
pub mod wire;

pub use admit::MasterGuard;
pub use metadata::Tables;
pub use replication::Replication;
pub use state::HaState;

use std::sync::Arc;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Starts the HA tasks: the slave listener on a master (`listener` is the bound HA port,
/// `guard` its TLS and ACL), replication and the sync of `tables` on a slave (both over the
/// TLS and with the credentials of `tables`). All end when `stop` is cancelled.
pub fn spawn(
    r: &Replication,
    listener: Option<TcpListener>,
    guard: MasterGuard,
    tables: Tables,
    stop: CancellationToken,
) {
    if let Some(l) = listener {
        master::spawn(r.clone(), l, Arc::new(guard), stop.clone());
    }
    if !r.is_master() {
        let auth = slave::SlaveAuth {
            tls: tables.client_tls.clone(),
            credentials: tables.credentials.clone(),
        };
        slave::spawn(r.clone(), auth, stop.clone());
        metadata::spawn(tables, r.state.clone(), stop);
    }
}
