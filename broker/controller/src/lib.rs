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

pub mod codes;
pub mod decide;
pub mod elect;
mod event;
mod state;

pub use event::Event;
pub use state::{BrokerId, ControllerState, FIRST_BROKER_ID, Group, Member, SyncState};

#[cfg(test)]
mod tests;
