//! Binding, the expiry scanner and the serve loop; graceful stop on a cancellation token.

use crate::config::NamesrvConfig;
use crate::processor::Namesrv;
use rmq_protocol::net::{ServerConfig, serve};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// A bound, not yet running nameserver.
pub struct NamesrvServer {
    listener: TcpListener,
    state: Arc<Namesrv>,
    config: NamesrvConfig,
}

impl NamesrvServer {
    /// Binds the listen address and loads persisted state.
    pub async fn bind(config: NamesrvConfig) -> std::io::Result<Self> {
        let addr = SocketAddr::new(config.listen_addr, config.listen_port);
        let listener = TcpListener::bind(addr).await.map_err(|e| {
            std::io::Error::new(
                e.kind(),
                format!("cannot listen on {addr}: {e} (is another nameserver running? use --listen-port)"),
            )
        })?;
        let state = Arc::new(Namesrv::new(config.clone())?);
        Ok(Self {
            listener,
            state,
            config,
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` is cancelled.
    pub async fn run(self, shutdown: CancellationToken) {
        let state = self.state.clone();
        let scan_every = self.config.scan_interval;
        let scanner_stop = shutdown.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(scan_every);
            tick.tick().await;
            loop {
                tokio::select! {
                    _ = scanner_stop.cancelled() => {
                        tracing::info!("stopping nameserver");
                        return;
                    }
                    _ = tick.tick() => state.scan_inactive(),
                }
            }
        });
        let server_config = ServerConfig {
            limits: rmq_protocol::FrameLimits {
                max_frame: self.config.max_frame,
            },
            ..ServerConfig::default()
        };
        serve(self.listener, self.state, server_config, shutdown).await;
    }
}
