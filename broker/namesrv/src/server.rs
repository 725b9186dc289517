//! Binding, the expiry scanner and the serve loop; graceful stop on a cancellation token.

use crate::config::NamesrvConfig;
use crate::health::Health;
use crate::processor::Namesrv;
use rmq_acl::gate::{self, AclGate, Policy};
use rmq_protocol::net::tls::ServerTls;
use rmq_protocol::net::{ServerConfig, serve};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio_util::sync::{CancellationToken, DropGuard};

/// A bound, not yet running nameserver.
pub struct NamesrvServer {
    listener: TcpListener,
    state: Arc<Namesrv>,
    config: NamesrvConfig,
    health: Arc<Health>,
    /// The ACL gate when `aclEnable=true`.
    acl: Option<Arc<AclGate>>,
    /// TLS of the listen port (`tls.server.mode` not disabled).
    tls: Option<Arc<ServerTls>>,
    /// Stops the HTTP listener when dropped.
    http_stop: DropGuard,
}

/// Starts the HTTP listener (when `httpEnable`) answering from `health`.
async fn start_http(
    config: &NamesrvConfig,
    health: &Arc<Health>,
    stop: CancellationToken,
) -> std::io::Result<()> {
    if !config.http_enable {
        return Ok(());
    }
    let addr = SocketAddr::new(config.listen_addr, config.http_port());
    let listener = crate::http::bind(addr).await.map_err(|e| {
        std::io::Error::new(
            e.kind(),
            format!("cannot listen on {addr} for HTTP: {e} (use --http-listen-port, or httpEnable=false)"),
        )
    })?;
    crate::http::spawn(listener, health.clone(), stop);
    Ok(())
}

/// The ACL gate of `aclEnable=true` (its file loaded and valid), else `None`.
fn load_acl(config: &NamesrvConfig) -> std::io::Result<Option<Arc<AclGate>>> {
    if !config.acl_enable {
        return Ok(None);
    }
    let invalid = |msg: String| std::io::Error::new(std::io::ErrorKind::InvalidInput, msg);
    let path = config.acl_file.as_ref().ok_or_else(|| {
        invalid("aclEnable=true needs aclFile=<path of plain_acl.yml>".to_owned())
    })?;
    let gate = AclGate::load(path, Policy::Namesrv).map_err(|e| {
        invalid(format!(
            "aclEnable=true but the ACL file cannot be used: {e} (fix aclFile or the file)"
        ))
    })?;
    tracing::info!(
        file = %path.display(),
        accounts = gate.current().accounts().len(),
        "ACL on: state-changing requests need an admin account"
    );
    Ok(Some(Arc::new(gate)))
}

impl NamesrvServer {
    /// Binds the listen address and the HTTP port, and loads persisted state.
    pub async fn bind(config: NamesrvConfig) -> std::io::Result<Self> {
        let addr = SocketAddr::new(config.listen_addr, config.listen_port);
        let listener = TcpListener::bind(addr).await.map_err(|e| {
            std::io::Error::new(
                e.kind(),
                format!("cannot listen on {addr}: {e} (is another nameserver running? use --listen-port)"),
            )
        })?;
        let health = Arc::new(Health::default());
        let http = CancellationToken::new();
        let http_stop = http.clone().drop_guard();
        start_http(&config, &health, http).await?;
        let acl = load_acl(&config)?;
        let tls = ServerTls::from_settings(&config.tls.server).map_err(|e| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("TLS cannot start: {e}"),
            )
        })?;
        let state = Arc::new(Namesrv::with_acl(config.clone(), acl.clone())?);
        let weak = Arc::downgrade(&state);
        health.metrics_from(Box::new(move || {
            weak.upgrade().map(|s| s.metrics_text()).unwrap_or_default()
        }));
        health.loaded();
        Ok(Self {
            listener,
            state,
            config,
            health,
            acl,
            tls,
            http_stop,
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
        let health = self.health.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(scan_every);
            tick.tick().await;
            loop {
                tokio::select! {
                    _ = scanner_stop.cancelled() => {
                        health.shutting_down();
                        tracing::info!("stopping nameserver");
                        return;
                    }
                    _ = tick.tick() => state.scan_inactive(),
                }
            }
        });
        if let Some(acl) = &self.acl {
            gate::spawn_reload(acl.clone(), gate::RELOAD_PERIOD, shutdown.clone());
        }
        if let Some(t) = &self.tls {
            tracing::info!(mode = ?t.mode(), "TLS on the listen port");
            t.clone()
                .spawn_reload(gate::RELOAD_PERIOD, shutdown.clone());
        }
        let server_config = ServerConfig {
            tls: self.tls.clone(),
            limits: rmq_protocol::FrameLimits {
                max_frame: self.config.max_frame,
            },
            ..ServerConfig::default()
        };
        serve(self.listener, self.state, server_config, shutdown).await;
        drop(self.http_stop);
    }
}
