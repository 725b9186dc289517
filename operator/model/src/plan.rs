//! The topic / consumer-group reconcile plan: a pure diff from declarations ([`Desired`]) and
//! what the brokers and nameservers report ([`Observed`]) to an ordered list of [`Action`]s.
//! `rmqctl apply`, `rmqctl local up`, the Kubernetes operator and AWS day-2 all use it; the I/O
//! that observes and executes lives in `admin` (feature `admin`).
//!
//! # Ownership
//! rmq deletes only what it owns. Ownership is recorded in the nameservers' KV store (namespace
//! [`defaults::OWNERSHIP_NAMESPACE`], key `topic/<cluster>/<name>` or `group/<cluster>/<name>`,
//! value = the manager, e.g. `rmqctl`), written to every nameserver before the object is
//! created. Why not a topic attribute: Apache RocketMQ 5 brokers refuse attributes outside their
//! whitelist (`unsupported key`), 4.9 brokers drop them, and subscription groups of 4.9 have no
//! attributes at all — the KV record works the same on rmq and on every Apache version
//! (PUT_KV_CONFIG / GET_KVLIST_BY_NAMESPACE / DELETE_KV_CONFIG exist since 4.x), and `apply
//! --dry-run` stays a pure function of what was observed. A nameserver that lost its KV file
//! only makes rmq forget ownership, so it deletes less, never more.
//!
//! # Rules
//! - A declared object missing on a master is created there; one that differs (queues, perm,
//!   order, declared attributes; retry times, orderly, broadcast, enabled) is updated — so a
//!   change made behind rmq's back is reverted.
//! - A declared object that exists without an ownership record is adopted (recorded as owned).
//! - An object owned by this manager, in a cluster in scope and no longer declared, is deleted
//!   (topics: on every master, then from every nameserver's routes, like mqadmin deleteTopic),
//!   then its record is removed. Everything else is left alone.
//! - Order: per declared object, record ownership first, then create/update; deletions last.

mod compute;
mod declared;
mod display;
mod key;
mod model;
mod ownership;
mod record;

pub use compute::plan;
pub use declared::{Declared, group_changes, topic_changes};
pub use key::{ObjectKind, OwnedKey};
pub use model::{
    Action, BrokerRef, Change, Desired, Observed, ObservedBroker, ObservedCluster, PlanError,
};
