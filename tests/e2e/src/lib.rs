//! Test support for the end-to-end suites: start real `rmq-namesrv`/`rmq-broker` processes on
//! 127.0.0.1 with ephemeral ports and temp dirs, run the real-client harnesses (Java 4.9.x/5.x,
//! Go) and parse their JSON results. Everything started is stopped on drop.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod admin;
pub mod certs;
pub mod controller;
pub mod failover;
pub mod harness;
pub mod http;
pub mod mqadmin;
pub mod powerfs;
pub mod process;

pub use admin::{Admin, wait_until};
pub use harness::{Client, Flow, HarnessResult, run_harness, run_line, run_line_env};
pub use process::{BrokerOpts, BrokerProc, NamesrvProc, bin_path};
