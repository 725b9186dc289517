//! `Channel`: a cheap handle to one connection, used to send responses and oneway requests, to
//! invoke the peer and wait for its response, and to close the connection.

use crate::command::RemotingCommand;
use crate::error::ProtocolError;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use thiserror::Error;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

/// Network failures seen by callers.
#[derive(Debug, Error)]
pub enum NetError {
    /// Connecting failed: the TCP connect, or the TLS handshake (the source then says so).
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        /// The `host:port` dialled.
        addr: String,
        /// The connect error.
        #[source]
        source: std::io::Error,
    },
    /// No response in time.
    #[error("no response from {addr} to request code {code} within {timeout:?}")]
    Timeout {
        /// The peer asked.
        addr: String,
        /// The request code that went unanswered.
        code: i32,
        /// How long the caller waited.
        timeout: Duration,
    },
    /// The connection closed before the response arrived.
    #[error("connection to {addr} closed")]
    Closed {
        /// The peer whose connection closed.
        addr: String,
    },
    /// The address is not `host:port`.
    #[error("invalid address {0:?}: expected host:port")]
    Address(String),
    /// A protocol error on the connection.
    #[error(transparent)]
    Protocol(#[from] ProtocolError),
}

pub(crate) struct ChannelInner {
    id: u64,
    remote: SocketAddr,
    local: SocketAddr,
    tx: mpsc::UnboundedSender<RemotingCommand>,
    pending: Mutex<HashMap<i32, oneshot::Sender<RemotingCommand>>>,
    closed: CancellationToken,
}

/// Handle to one connection. Clones share the connection.
#[derive(Clone)]
pub struct Channel {
    inner: Arc<ChannelInner>,
}

impl std::fmt::Debug for Channel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Channel#{}({})", self.inner.id, self.inner.remote)
    }
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

impl Channel {
    pub(crate) fn new(
        remote: SocketAddr,
        local: SocketAddr,
        tx: mpsc::UnboundedSender<RemotingCommand>,
    ) -> Self {
        Self {
            inner: Arc::new(ChannelInner {
                id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
                remote,
                local,
                tx,
                pending: Mutex::new(HashMap::new()),
                closed: CancellationToken::new(),
            }),
        }
    }

    /// A channel connected to nothing (sends are dropped): for tests of code that keeps
    /// channels, such as session registries.
    pub fn detached(remote: SocketAddr) -> Self {
        let (tx, _rx) = mpsc::unbounded_channel();
        Self::new(remote, remote, tx)
    }

    /// Process-unique id of this connection.
    pub fn id(&self) -> u64 {
        self.inner.id
    }

    /// The peer's address.
    pub fn remote_addr(&self) -> SocketAddr {
        self.inner.remote
    }

    /// Our side's address.
    pub fn local_addr(&self) -> SocketAddr {
        self.inner.local
    }

    /// Queues a command for writing (a response, or a request whose response is not awaited).
    /// Returns false if the connection is closed.
    pub fn send(&self, cmd: RemotingCommand) -> bool {
        !self.is_closed() && self.inner.tx.send(cmd).is_ok()
    }

    /// Sends a request and waits for the response with the same opaque.
    pub async fn invoke(
        &self,
        cmd: RemotingCommand,
        timeout: Duration,
    ) -> Result<RemotingCommand, NetError> {
        let (tx, rx) = oneshot::channel();
        let opaque = cmd.opaque;
        let code = cmd.code;
        self.inner.pending.lock().insert(opaque, tx);
        if !self.send(cmd) {
            self.inner.pending.lock().remove(&opaque);
            return Err(self.closed_error());
        }
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(resp)) => Ok(resp),
            Ok(Err(_)) => Err(self.closed_error()),
            Err(_) => {
                self.inner.pending.lock().remove(&opaque);
                Err(NetError::Timeout {
                    addr: self.inner.remote.to_string(),
                    code,
                    timeout,
                })
            }
        }
    }

    fn closed_error(&self) -> NetError {
        NetError::Closed {
            addr: self.inner.remote.to_string(),
        }
    }

    /// Delivers a response to its waiting `invoke`; unknown opaques are dropped (clients answer
    /// oneway requests too).
    pub(crate) fn complete(&self, response: RemotingCommand) {
        let waiter = self.inner.pending.lock().remove(&response.opaque);
        if let Some(w) = waiter {
            let _ = w.send(response);
        }
    }

    /// Closes the connection (idempotent). Pending invokes fail with `Closed`.
    pub fn close(&self) {
        self.inner.closed.cancel();
        self.inner.pending.lock().clear();
    }

    /// True once the connection is closed.
    pub fn is_closed(&self) -> bool {
        self.inner.closed.is_cancelled()
    }

    pub(crate) fn closed_token(&self) -> CancellationToken {
        self.inner.closed.clone()
    }
}

impl PartialEq for Channel {
    fn eq(&self, other: &Self) -> bool {
        self.inner.id == other.inner.id
    }
}
impl Eq for Channel {}
impl std::hash::Hash for Channel {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.inner.id.hash(state);
    }
}
