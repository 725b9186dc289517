//! Wiring of one controller replica: bind its port, start Raft on its store, serve remoting
//! requests (brokers, admins, Raft peers) and scan for dead masters until stopped.

use crate::config::ControllerConfig;
use crate::service::{Controller, scan};
use rmq_protocol::net::{ClientConfig, RemotingClient, ServerConfig, serve};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// A running controller replica.
pub struct ControllerServer {
    listener: TcpListener,
    controller: Arc<Controller>,
}

impl ControllerServer {
    /// Binds the port of this replica's peer address, then starts Raft (peers can reach this
    /// replica as soon as Raft talks to them).
    pub async fn start(config: ControllerConfig) -> Result<Self, String> {
        let addr = SocketAddr::new(config.listen_addr, config.listen_port());
        let listener = TcpListener::bind(addr).await.map_err(|e| {
            format!(
                "cannot listen on {addr}: {e} (is another controller running? the port is this replica's in controllerDLegerPeers)"
            )
        })?;
        let client = Arc::new(RemotingClient::new(ClientConfig::default()));
        let (raft, applied) = crate::raft::start(&config, client.clone()).await?;
        let controller = Controller::new(Arc::new(config), raft, applied, client);
        Ok(Self {
            listener,
            controller: Arc::new(controller),
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` is cancelled.
    pub async fn run(self, shutdown: CancellationToken) {
        tokio::spawn(scan::run(self.controller.clone(), shutdown.clone()));
        let raft_stop = shutdown.clone();
        let controller = self.controller.clone();
        serve(
            self.listener,
            self.controller,
            ServerConfig::default(),
            shutdown,
        )
        .await;
        raft_stop.cancel();
        controller.shutdown().await;
    }
}
