//! RocketMQ "remoting" protocol for rmq.
//!
//! # Layout
//! - [`frame`]: sans-IO framing (`length | proto | header | body`), limits, JSON/binary headers.
//! - [`command`]: [`RemotingCommand`], independent of the header encoding.
//! - [`codes`]: request, response and language codes.
//! - [`header`]: typed headers read from / written to `extFields`, one file per family.
//! - [`body`]: JSON bodies (routes, cluster info, heartbeats, topic configs, ...).
//! - [`message`]: stored message records, properties, batches, message ids.
//! - `net` (feature `net`): tokio codec, the remoting server loop shared by the nameserver and the
//!   broker, and the async client used by brokers and the control plane.
//!
//! Nothing outside `net` does I/O; malformed input is always an error, never a panic.

pub mod body;
pub mod broker_keys;
pub mod codes;
pub mod command;
mod error;
mod ext_fields;
pub mod frame;
pub mod header;
mod header_binary;
mod header_json;
pub mod message;
pub mod names;
#[cfg(feature = "net")]
pub mod net;

pub use codes::{LanguageCode, request_code, response_code};
pub use command::{RemotingCommand, SerializeType};
pub use error::{HeaderError, ProtocolError};
pub use ext_fields::{ExtFields, FieldReader};
pub use frame::FrameLimits;
