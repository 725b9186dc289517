//! Admin I/O (feature `admin`): the half of the topic/group reconcile that talks to nameservers
//! and brokers through `rmq_protocol::net::RemotingClient` — queries (cluster info, routes, topic
//! and group tables, ownership records, runtime info), [`Admin::observe`] and
//! [`Admin::execute`]. An [`AdminSecurity`] makes the client sign every request (ACL) and dial
//! with TLS, for clusters with `spec.security`.
//!
//! Why a feature of rmq-model and not a crate of its own: the [`crate::plan::Action`]s and the
//! code that executes them must change together, and every consumer of the plan (rmqctl, the
//! operator, AWS day-2) also needs the executor. The feature keeps tokio and the network client
//! out of pure consumers (crdgen, validation-only tools).

mod broker_ops;
mod client;
mod drain;
mod error;
mod execute;
mod observe;
mod security;

pub use broker_ops::parse_properties;
pub use client::{Admin, parse_name_servers};
pub use drain::consume_lag;
pub use error::AdminError;
pub use execute::{ApplyReport, Outcome};
pub use rmq_acl::Credentials;
pub use rmq_protocol::net::tls::ClientTls;
pub use security::AdminSecurity;
