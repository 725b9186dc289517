//! [`AdminError`]: an admin call that failed, naming the address.

use rmq_protocol::net::NetError;

/// An admin call that failed; every variant names the address.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// No nameserver answered.
    #[error("cannot reach any nameserver ({}): {reasons} (fix: check --namesrv / namesrvAddr and that the nameserver runs)", addrs.join(", "))]
    NoNameServer {
        /// Every nameserver tried, in order.
        addrs: Vec<String>,
        /// Why each failed.
        reasons: String,
    },
    /// A call failed on the network.
    #[error("{what} at {addr} failed: {source}")]
    Net {
        /// The nameserver or broker called (`host:port`).
        addr: String,
        /// The request, e.g. `GET_ALL_TOPIC_CONFIG`.
        what: String,
        /// The connect, I/O or timeout failure.
        #[source]
        source: NetError,
    },
    /// The peer answered with an error code.
    #[error("{what} at {addr} was refused (code {code}): {remark}")]
    Refused {
        /// The nameserver or broker called (`host:port`).
        addr: String,
        /// The request, e.g. `UPDATE_AND_CREATE_TOPIC orders`.
        what: String,
        /// The RocketMQ response code (not SUCCESS).
        code: i32,
        /// The peer's explanation, as it sent it.
        remark: String,
    },
    /// The response body could not be read.
    #[error("{what} at {addr}: unreadable response: {message}")]
    Body {
        /// The nameserver or broker called (`host:port`).
        addr: String,
        /// The request whose answer could not be read.
        what: String,
        /// Why the JSON body did not parse.
        message: String,
    },
    /// The address list is malformed.
    #[error("invalid nameserver address list {0:?} (fix: write host:port;host:port)")]
    Address(String),
}
