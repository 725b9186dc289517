//! ACL for the RocketMQ remoting protocol, compatible with unmodified Java clients that sign
//! requests with `AclClientRPCHook` and with brokers' `plain_acl.yml` (ACL 1.0).
//!
//! Pure logic, no I/O except [`AclConfig::load_from_path`]:
//! - [`signature`]: the signed content, HMAC-SHA1 + base64, constant-time verification, and
//!   client-side signing ([`Credentials`]).
//! - [`config`]: the `plain_acl.yml` model, validated, secrets redacted.
//! - [`ip`]: the remote address pattern language.
//! - [`perm`]: DENY / PUB / SUB permissions.
//! - [`resource`]: which topics and groups each request code needs, and the admin-only codes.
//! - [`mod@decide`]: allow or deny one request ([`decide()`]).
//! - [`mod@namesrv`]: the nameserver's decision (state-changing requests need an admin).
//! - [`fuzzing`]: one fuzz input, for the fuzz target and its seeded run in CI.
//! - [`guard`]: per-connection limit on failed authentication attempts.
//! - `gate` (feature `gate`): a server's gate: the accounts in force, reloaded when the file
//!   changes, and per-connection failure counts.
//! - [`v2`]: ACL 2.0 (RocketMQ 5.3 users and ACLs, `authenticationEnabled`).
//!
//! The crate's README lists the Java behaviour this follows, with the Java file names.

pub mod config;
pub mod decide;
#[cfg(feature = "gate")]
pub mod failures;
pub mod fuzzing;
#[cfg(feature = "gate")]
pub mod gate;
pub mod guard;
pub mod ip;
mod lines;
pub mod namesrv;
pub mod perm;
pub mod resource;
mod secret;
pub mod signature;
pub mod v2;

pub use config::{Account, AclConfig, ConfigError, Problem};
pub use decide::{Decision, Denial, DenyReason, Grant, Request, decide};
pub use guard::{FailureCounter, FailureLimit};
pub use ip::{AddrPattern, PatternError};
pub use perm::Perm;
pub use resource::{Need, Resource};
pub use secret::Secret;
pub use signature::{Credentials, SignError};
