//! Networking over tokio: the frame codec, one connection driver shared by servers and clients,
//! the accept loop, and the async client (request/response by opaque, oneway, timeouts,
//! reconnect). With feature `tls`, servers and clients can speak TLS (`tls`).

mod channel;
mod client;
mod codec;
mod connection;
mod direct;
mod server;
mod signal;
mod spin;
#[cfg(feature = "tls")]
pub mod tls;

pub use channel::{Channel, NetError};
pub use client::{ClientConfig, IgnoreRequests, RemotingClient};
pub use codec::RemotingCodec;
pub use server::{ServerConfig, serve};
pub use signal::{shutdown_signal, stop_on_signal};
pub use spin::{BusyPolls, busy_polls};

use crate::command::RemotingCommand;
use crate::error::{HeaderError, ProtocolError};
use std::future::Future;

/// Why a request handler could not answer a request; servers turn it into a SYSTEM_ERROR
/// response carrying the text.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// A typed header could not be read.
    #[error(transparent)]
    Header(#[from] HeaderError),
    /// A body could not be read.
    #[error(transparent)]
    Protocol(#[from] ProtocolError),
    /// Anything else, in words.
    #[error("{0}")]
    Other(String),
}

impl From<String> for Failure {
    fn from(s: String) -> Self {
        Failure::Other(s)
    }
}

/// Handles requests arriving on a connection. A request is first run inline by the connection's
/// read task; if it has to wait it continues in its own task, so a handler may hold a request
/// (long polling, a sync flush) without blocking the connection. Handlers should not block the
/// thread for long.
pub trait RequestHandler: Send + Sync + 'static {
    /// Handles one request; the returned response is sent unless the request was oneway.
    /// Returning `None` sends nothing (the handler may answer later through `channel`).
    fn handle(
        &self,
        channel: &Channel,
        request: RemotingCommand,
    ) -> impl Future<Output = Option<RemotingCommand>> + Send;

    /// Called once when the connection closes.
    fn on_close(&self, _channel: &Channel) {}

    /// Whether a client sending requests of this code one at a time is worth busy polling for
    /// (`ServerConfig::busy_poll`): its next request is expected right after the answer and
    /// latency matters. A consumer's pulls, say, are not: polling for them burns a core and
    /// gains nothing. Every code by default.
    fn busy_poll_after(&self, _request_code: i32) -> bool {
        true
    }
}
