//! The accept loop shared by the nameserver and the broker.

use super::RequestHandler;
use super::connection::{self, Drive};
#[cfg(feature = "tls")]
use super::tls::{self, TlsMode};
use crate::frame::FrameLimits;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Server connection settings.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Frame limits.
    pub limits: FrameLimits,
    /// Close connections silent for this long (Java: 120 s).
    pub idle_timeout: Option<Duration>,
    /// After answering, poll a plaintext connection for its next request for up to this long
    /// before sleeping in epoll, when its requests come one at a time and no other connection
    /// is busy (saves a wake-up per request; burns at most this much CPU per answer). `None`:
    /// never.
    pub busy_poll: Option<Duration>,
    /// TLS on this port (`None`, or mode `disabled`: plaintext only).
    #[cfg(feature = "tls")]
    pub tls: Option<Arc<super::tls::ServerTls>>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            limits: FrameLimits::default(),
            idle_timeout: Some(Duration::from_secs(120)),
            busy_poll: None,
            #[cfg(feature = "tls")]
            tls: None,
        }
    }
}

/// Accepts connections until `shutdown` is cancelled; each connection is driven by its own tasks.
/// With TLS (mode `permissive` or `enforcing`) each accepted connection is first negotiated in a
/// task of its own, so a slow handshake never holds up the accept loop.
pub async fn serve<H: RequestHandler>(
    listener: TcpListener,
    handler: Arc<H>,
    config: ServerConfig,
    shutdown: CancellationToken,
) {
    let drive = Drive {
        limits: config.limits,
        idle_timeout: config.idle_timeout,
        busy_poll: config.busy_poll,
    };
    loop {
        let accepted = tokio::select! {
            _ = shutdown.cancelled() => return,
            a = listener.accept() => a,
        };
        match accepted {
            Ok((stream, peer)) => {
                #[cfg(feature = "tls")]
                if let Some(tls) = config
                    .tls
                    .as_ref()
                    .filter(|t| t.mode() != TlsMode::Disabled)
                {
                    let (tls, handler) = (tls.clone(), handler.clone());
                    tls::spawn_accept(stream, peer, tls, handler, drive, shutdown.clone());
                    continue;
                }
                if let Err(e) = connection::spawn(stream, handler.clone(), drive) {
                    tracing::warn!(%peer, error = %e, "cannot set up connection");
                }
            }
            Err(e) => {
                // Out of file descriptors and similar: back off instead of spinning.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}
