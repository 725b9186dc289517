//! ACL 2.0 (RocketMQ 5.3's `auth` module) for remoting clients: users who sign requests with
//! `AclClientRPCHook` (accessKey = username, secretKey = password) exactly as for ACL 1.0, and
//! per-user ACLs of Allow/Deny entries on topics, groups and the cluster, managed with Apache's
//! `mqadmin createUser … listAcl` (request codes 3001–3010).
//!
//! - [`model`]: users, resources, actions, policy entries, ACLs.
//! - [`cidr`]: the `sourceIps` of an entry.
//! - [`json`]: Java's `UserInfo` / `AclInfo` bodies and their validation.
//! - [`store`]: the users and ACLs, their operations and their file.
//! - [`needs`]: what each request code needs (resource and actions).
//! - [`mod@decide`]: authentication and authorization of one request.
//! - [`admin`]: the administration requests.
//! - `gate` (feature `gate`): a broker's gate, with the file kept on disk.
//!
//! Pure logic except `gate`.

pub mod admin;
pub mod cidr;
pub mod decide;
#[cfg(feature = "gate")]
pub mod gate;
pub mod json;
pub mod model;
pub mod needs;
pub mod store;

pub use decide::{Settings, decide};
pub use store::AuthStore;
