//! The accept loop shared by the nameserver and the broker.

use super::RequestHandler;
use super::connection;
use crate::frame::FrameLimits;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Server connection settings.
#[derive(Debug, Clone, Copy)]
pub struct ServerConfig {
    /// Frame limits.
    pub limits: FrameLimits,
    /// Close connections silent for this long (Java: 120 s).
    pub idle_timeout: Option<Duration>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            limits: FrameLimits::default(),
            idle_timeout: Some(Duration::from_secs(120)),
        }
    }
}

/// Accepts connections until `shutdown` is cancelled; each connection is driven by its own tasks.
pub async fn serve<H: RequestHandler>(
    listener: TcpListener,
    handler: Arc<H>,
    config: ServerConfig,
    shutdown: CancellationToken,
) {
    loop {
        let accepted = tokio::select! {
            _ = shutdown.cancelled() => return,
            a = listener.accept() => a,
        };
        match accepted {
            Ok((stream, peer)) => {
                if let Err(e) =
                    connection::spawn(stream, handler.clone(), config.limits, config.idle_timeout)
                {
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
