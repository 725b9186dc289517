//! rmq-broker: the RocketMQ-compatible broker.
//!
//! - [`config`]: broker.conf, flags, environment.
//! - [`broker`]: shared state and wiring.
//! - [`processor`]: one module per request family (send, pull, offsets, client, admin).
//! - [`long_poll`]: parked pulls.
//! - [`clients`]: producer/consumer sessions.
//! - [`state`]: topics, groups and offsets, persisted.
//! - [`registration`]: nameserver registration.
//! - [`ha`]: master/slave replication.
//! - [`server`]: start, serve, graceful stop.
//! - [`stats`]: counters for runtime info.
//! - [`schedule`]: delay levels and delayed delivery; [`transaction`]: half messages, op
//!   records, check-back; [`locks`]: orderly queue locks; [`store_put`]: storing messages the
//!   broker builds itself.

pub mod broker;
pub mod clients;
pub mod config;
pub mod ha;
pub mod locks;
pub mod long_poll;
pub mod processor;
pub mod registration;
pub mod schedule;
pub mod server;
pub mod state;
pub mod stats;
pub mod store_put;
pub mod transaction;
