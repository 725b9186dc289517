//! rmq-namesrv: the RocketMQ-compatible nameserver.
//!
//! - [`route_table`]: pure registry state (registration, expiry, routes, topics).
//! - [`kv_config`]: namespaced KV settings, persisted.
//! - [`processor`]: request codes → registry operations.
//! - [`server`]: bind, expiry scanner, serve loop.
//! - [`config`]: settings from namesrv.conf, flags and environment.

pub mod config;
pub mod kv_config;
pub mod processor;
pub mod route_table;
pub mod server;
