//! rmq-namesrv: the RocketMQ-compatible nameserver.
//!
//! - [`route_table`]: pure registry state (registration, expiry, routes, topics).
//! - [`kv_config`]: namespaced KV settings, persisted.
//! - [`processor`]: request codes → registry operations.
//! - [`server`]: bind, expiry scanner, serve loop.
//! - [`health`]: liveness and readiness; [`metrics`]: `/metrics`; [`http`]: the operations
//!   HTTP listener serving them.
//! - [`config`]: settings from namesrv.conf, flags and environment.
//! - [`process`]: logging and config-file reading, shared with `rmq-broker`.

pub mod config;
pub mod health;
#[path = "../../common/http.rs"]
pub mod http;
pub mod kv_config;
pub mod metrics;
#[path = "../../common/process.rs"]
pub mod process;
pub mod processor;
pub mod route_table;
pub mod server;
