//! Running a broker: bind the ports, open the store, start the background tasks, serve, and stop
//! gracefully (stop accepting, answer parked pulls, unregister, flush, exit).

use crate::broker::{Broker, StartError};
use crate::config::BrokerConfig;
use crate::processor::{BrokerHandler, execute_parked};
use crate::registration;
use crate::state::{log_persist_error, now_ms};
use rmq_protocol::net::{ClientConfig, RemotingClient, ServerConfig, serve};
use std::net::SocketAddr;
use std::sync::{Arc, Weak};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Start-up failure.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// A port could not be bound.
    #[error("cannot listen on {addr}: {source} (is another broker running? set listenPort)")]
    Bind {
        /// The address that was taken or refused.
        addr: SocketAddr,
        /// The bind error.
        #[source]
        source: std::io::Error,
    },
    /// Store or metadata.
    #[error(transparent)]
    Start(#[from] StartError),
}

/// A bound, opened broker.
pub struct BrokerServer {
    broker: Arc<Broker>,
    listeners: Vec<TcpListener>,
    ha_listener: Option<TcpListener>,
}

async fn bind(addr: SocketAddr) -> Result<TcpListener, ServerError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| ServerError::Bind { addr, source })
}

impl BrokerServer {
    /// Binds the main port (and the VIP port when enabled, and the HA port on a master) and
    /// opens the store. An ephemeral main port without `haListenPort` gets an ephemeral HA port.
    pub async fn start(config: BrokerConfig) -> Result<Self, ServerError> {
        let mut config = config;
        let main = bind(SocketAddr::new(config.listen_addr, config.listen_port)).await?;
        let port = main
            .local_addr()
            .map(|a| a.port())
            .unwrap_or(config.listen_port);
        let mut listeners = vec![main];
        if config.vip_channel_enable && port > 2 {
            listeners.push(bind(SocketAddr::new(config.listen_addr, port - 2)).await?);
        }
        let mut ha_listener = None;
        if config.broker_role != crate::config::BrokerRole::Slave {
            let ha_port = match (config.ha_listen_port, config.listen_port) {
                (Some(p), _) => p,
                (None, 0) => 0,
                (None, _) => port.wrapping_add(1),
            };
            let l = bind(SocketAddr::new(config.listen_addr, ha_port)).await?;
            config.ha_listen_port = Some(l.local_addr().map_or(ha_port, |a| a.port()));
            ha_listener = Some(l);
        }
        let broker = Broker::open(config, port)?;
        Ok(Self {
            broker,
            listeners,
            ha_listener,
        })
    }

    /// The shared state (tests).
    pub fn broker(&self) -> &Arc<Broker> {
        &self.broker
    }

    /// Serves until `stop` is cancelled, then shuts down gracefully.
    pub async fn run(self, stop: CancellationToken) {
        let b = self.broker.clone();
        let namesrv_client = Arc::new(RemotingClient::new(ClientConfig::default()));
        let tasks = CancellationToken::new();
        spawn_arrivals(&b);
        spawn_housekeeping(&b, tasks.clone());
        registration::spawn(b.clone(), namesrv_client.clone(), tasks.clone());
        crate::schedule::spawn(b.delivery(), tasks.clone());
        crate::transaction::spawn_checker(b.check_service(), tasks.clone());
        crate::ha::spawn(&b.ha, self.ha_listener, b.synced_tables(), tasks.clone());
        crate::retention::spawn(b.store.clone(), b.retention.clone(), tasks.clone());
        let handler = Arc::new(BrokerHandler::new(b.clone()));
        let server_config = ServerConfig {
            limits: rmq_protocol::FrameLimits {
                max_frame: b.config.max_frame,
            },
            ..ServerConfig::default()
        };
        let accept_stop = CancellationToken::new();
        for listener in self.listeners {
            tokio::spawn(serve(
                listener,
                handler.clone(),
                server_config,
                accept_stop.clone(),
            ));
        }
        stop.cancelled().await;
        tracing::info!("shutting down: no new connections");
        accept_stop.cancel();
        tasks.cancel();
        for p in b.holds.take_all() {
            execute_parked(&b, p);
        }
        registration::unregister_all(&b, &namesrv_client).await;
        log_persist_error(b.offsets.persist_if_dirty(), "consumer offsets");
        log_persist_error(b.delay_offsets.persist_if_dirty(), "delay offsets");
        if let Err(e) = b.store.shutdown() {
            tracing::error!(error = %e, "store shutdown failed");
        }
        // Let queued responses reach the sockets.
        tokio::time::sleep(Duration::from_millis(50)).await;
        tracing::info!("broker stopped");
    }
}

/// Store arrivals wake parked pulls. The store calls back synchronously inside `put`, so the
/// callback only forwards an event when some pull is parked.
fn spawn_arrivals(b: &Arc<Broker>) {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(String, i32, i64, i64)>();
    let weak: Weak<Broker> = Arc::downgrade(b);
    let weak_cb = weak.clone();
    b.store
        .set_arrival_listener(Box::new(move |topic, queue, max, tags| {
            let Some(b) = weak_cb.upgrade() else { return };
            b.ha.state.wake_transfer();
            if !b.holds.is_empty() {
                let _ = tx.send((topic.to_owned(), queue, max, tags));
            }
        }));
    tokio::spawn(async move {
        while let Some((topic, queue, max, tags)) = rx.recv().await {
            let Some(b) = weak.upgrade() else { return };
            for p in b.holds.take_ready(&topic, queue, max, Some(tags)) {
                execute_parked(&b, p);
            }
        }
    });
}

fn every(period: Duration, stop: CancellationToken, mut f: impl FnMut() + Send + 'static) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tick.tick() => f(),
            }
        }
    });
}

fn spawn_housekeeping(b: &Arc<Broker>, stop: CancellationToken) {
    let hb = b.clone();
    every(Duration::from_millis(500), stop.clone(), move || {
        let due = hb
            .holds
            .take_due(now_ms(), |t, q| hb.store.max_offset(t, q));
        for p in due {
            execute_parked(&hb, p);
        }
    });
    let ob = b.clone();
    every(
        b.config.flush_consumer_offset_interval,
        stop.clone(),
        move || {
            log_persist_error(ob.offsets.persist_if_dirty(), "consumer offsets");
        },
    );
    let cb = b.clone();
    every(Duration::from_secs(10), stop.clone(), move || {
        crate::processor::expire_clients(&cb);
    });
    let sb = b.clone();
    every(Duration::from_secs(1), stop, move || {
        sb.stats.sample(now_ms())
    });
}
