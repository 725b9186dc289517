//! rmq-broker: the RocketMQ-compatible broker.
//!
//! - [`config`]: broker.conf, flags, environment.
//! - [`process`]: logging and config-file reading, shared with `rmq-namesrv`.
//! - [`broker`]: what the request handlers share, and the handles of the subsystems.
//! - [`processor`]: every request code, one module per family (send, pull, offsets, client,
//!   admin, ...).
//! - [`long_poll`]: parked pulls.
//! - [`clients`]: producer/consumer sessions.
//! - [`state`]: topics, groups and offsets, persisted.
//! - [`registration`]: nameserver registration.
//! - [`ha`]: master/slave replication.
//! - [`controller`]: controller mode (ids and roles from `rmq-controller`, failover).
//! - [`server`]: start, serve, graceful stop.
//! - [`health`]: liveness and readiness; [`http`]: the operations HTTP listener serving them.
//! - [`stats`]: counters for runtime info.
//! - [`schedule`]: delayed delivery; [`transaction`]: half messages, op records, check-back;
//!   [`locks`]: orderly queue locks; [`writer`]: storing messages (delay transform, tagsCode).
//!
//! Imports run one way: `controller` (its run loop, `controller/mod.rs`) → `server` →
//! `processor`/`registration` → `broker` → the subsystems (`ha`, `schedule`, `transaction`) →
//! `writer` → `state`, `clients`, `config`, `stats`. The processor reaches only
//! `controller::epochs`, which imports `broker` and below (a role-change notice only wakes
//! `Broker::role_changed`).

pub mod broker;
pub mod clients;
pub mod config;
pub mod controller;
pub mod ha;
pub mod health;
#[path = "../../common/http.rs"]
pub mod http;
pub mod locks;
pub mod long_poll;
pub mod metrics;
#[path = "../../common/process.rs"]
pub mod process;
pub mod processor;
pub mod registration;
pub mod retention;
pub mod schedule;
pub mod server;
pub mod state;
pub mod stats;
pub mod transaction;
pub mod writer;
