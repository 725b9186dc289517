//! rmq-namesrv: the RocketMQ-compatible nameserver.
//!
//! - [`route_table`]: pure registry state (registration, expiry, routes, topics).
//! - [`kv_config`]: namespaced KV settings, persisted.
//! - [`processor`]: request codes → registry operations.
//! - [`server`]: bind, expiry scanner, serve loop.
//! - [`config`]: settings from namesrv.conf, flags and environment.
//! - [`process`]: logging and config-file reading, shared with `rmq-broker`.

pub mod config;
pub mod kv_config;
#[path = "../../common/process.rs"]
pub mod process;
pub mod processor;
pub mod route_table;
pub mod server;
