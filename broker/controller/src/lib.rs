//! RocketMQ 5 controller mode: what the controller keeps for every broker group and how it
//! decides. A broker group (one `brokerName`) has members identified by broker ids (the
//! controller hands them out, from 1), one master with a **master epoch** that grows at every
//! election, and the **in-sync replica set** (Java's SyncStateSet, with its own epoch): the
//! replicas that have everything the master acknowledged. A new master is chosen from the
//! in-sync set only, unless the user accepts data loss (an *unclean* election).
//!
//! The state changes only by [`Event`]s applied in log order ([`ControllerState::apply`]), so
//! every controller replica that applies the same log holds the same state; the [`decide`]
//! functions read the state and a view of which brokers are alive and return the event to
//! append (or a refusal with the Java controller's response code). Requests from a master
//! whose epoch was superseded are refused, which is what keeps a returning old master from
//! shrinking the in-sync set or acting as master.
//!
//! # The running service
//! - [`raft`]: the events are the entries of a Raft log (openraft 0.9); the log and the vote
//!   are files in the store directory (appended and fsynced), snapshots are the serialized
//!   [`ControllerState`]; replicas talk Raft over the remoting protocol (private codes
//!   [`codes::RAFT_APPEND_ENTRIES`]…) on their one port.
//! - [`service`]: the remoting request handler (brokers and `mqadmin`); only the Raft leader
//!   decides and proposes, a follower answers `CONTROLLER_NOT_LEADER` naming the leader.
//! - [`liveness`]: which brokers heartbeat in time (pure); the leader scans it and elects a
//!   new master when a master went silent ([`service::scan`]).
//! - [`config`], [`wire`]: `controller.conf` and the Java headers and bodies.

pub mod codes;
pub mod config;
pub mod decide;
pub mod elect;
mod event;
mod ids;
pub mod liveness;
pub mod members;
pub mod raft;
pub mod server;
pub mod service;
mod state;
pub mod wire;

#[path = "../../common/process.rs"]
pub mod process;

pub use event::Event;
pub use state::{BrokerId, ControllerState, FIRST_BROKER_ID, Group, Member, SyncState};

#[cfg(test)]
mod tests;
