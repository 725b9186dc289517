//! Running a broker: bind the ports, open the store, start the background tasks, serve, and stop
//! gracefully (stop accepting, answer parked pulls, unregister, flush, exit).

use crate::broker::{Broker, StartError};
use crate::config::BrokerConfig;
use crate::health::Health;
use crate::processor::{BrokerHandler, execute_parked};
use crate::registration;
use crate::state::{log_persist_error, now_ms};
use rmq_acl::gate::{self, AclGate, Policy};
use rmq_acl::v2::gate::AuthGate;
use rmq_protocol::net::tls::{ClientTls, ServerTls, TlsError};
use rmq_protocol::net::{ClientConfig, RemotingClient, ServerConfig, serve};
use std::net::SocketAddr;
use std::sync::{Arc, Weak};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::{CancellationToken, DropGuard};

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
    /// The HTTP (health) port could not be bound.
    #[error("cannot listen on {addr} for HTTP: {source} (set httpListenPort, or httpEnable=false)")]
    HttpBind {
        /// The address that was taken or refused.
        addr: SocketAddr,
        /// The bind error.
        #[source]
        source: std::io::Error,
    },
    /// Store or metadata.
    #[error(transparent)]
    Start(#[from] StartError),
    /// `aclEnable=true` but the ACL file is missing or invalid.
    #[error("aclEnable=true but the ACL file cannot be used: {0} (fix aclFile or the file)")]
    Acl(#[from] rmq_acl::ConfigError),
    /// The `tls.*` keys name files that cannot be used.
    #[error("TLS cannot start: {0}")]
    Tls(#[from] TlsError),
    /// ACL 2.0 is on but its users and ACLs cannot be loaded or saved.
    #[error(transparent)]
    AuthV2(#[from] rmq_acl::v2::gate::OpenError),
    /// `aclEnable=true` without `aclFile`.
    #[error("aclEnable=true needs aclFile=<path of plain_acl.yml>")]
    AclFileMissing,
    /// Opening the store panicked or was cancelled.
    #[error("opening the store did not finish: {0}")]
    Aborted(String),
}

/// A bound, opened broker.
pub struct BrokerServer {
    broker: Arc<Broker>,
    listeners: Vec<TcpListener>,
    ha_listener: Option<TcpListener>,
    health: Arc<Health>,
    /// The ACL gate when `aclEnable=true`.
    acl: Option<Arc<AclGate>>,
    /// The ACL 2.0 gate when `authenticationEnabled` or `authorizationEnabled`.
    auth: Option<Arc<AuthGate>>,
    /// TLS of the remoting ports (`tls.server.mode` not disabled).
    server_tls: Option<Arc<ServerTls>>,
    /// TLS of the connections to nameservers and the master (`tls.enable`).
    client_tls: Option<Arc<ClientTls>>,
    /// Stops the HTTP listener when dropped (after shutdown, or when start-up fails).
    http_stop: DropGuard,
}

async fn bind(addr: SocketAddr) -> Result<TcpListener, ServerError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| ServerError::Bind { addr, source })
}

/// The remoting listeners (main, VIP) and the HA listener of a master; returns the bound main
/// port. Records the HA port in `config`.
async fn bind_remoting(
    config: &mut BrokerConfig,
) -> Result<(Vec<TcpListener>, Option<TcpListener>, u16), ServerError> {
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
    Ok((listeners, ha_listener, port))
}

/// Starts the HTTP listener (when `httpEnable`) answering from `health`; records the bound
/// port in `config`.
async fn start_http(
    config: &mut BrokerConfig,
    health: &Arc<Health>,
    stop: CancellationToken,
) -> Result<(), ServerError> {
    if !config.http_enable {
        return Ok(());
    }
    let addr = SocketAddr::new(config.listen_addr, config.http_port());
    let listener = crate::http::bind(addr)
        .await
        .map_err(|source| ServerError::HttpBind { addr, source })?;
    config.http_listen_port = Some(listener.local_addr().map_or(addr.port(), |a| a.port()));
    crate::http::spawn(listener, health.clone(), stop);
    Ok(())
}

impl BrokerServer {
    /// Binds the main port (and the VIP port when enabled, and the HA port on a master), starts
    /// the HTTP listener, then opens the store (recovery) while `/healthz` already answers and
    /// `/readyz` says the store is recovering. An ephemeral main port without `haListenPort`
    /// (or `httpListenPort`) gets an ephemeral HA (HTTP) port.
    pub async fn start(config: BrokerConfig) -> Result<Self, ServerError> {
        let mut config = config;
        let acl = load_acl(&config)?;
        let auth = crate::processor::auth_v2::open(&config)?;
        let tls = config.security.tls()?;
        let server_tls = ServerTls::from_settings(&tls.server)?;
        let client_tls = ClientTls::from_settings(&tls.client)?;
        if let Some(t) = &server_tls {
            tracing::info!(mode = ?t.mode(), "TLS on the remoting ports and the HA port");
        }
        let (listeners, ha_listener, port) = bind_remoting(&mut config).await?;
        let health = Arc::new(Health::new(config.namesrv_addrs.clone()));
        let http = CancellationToken::new();
        let http_stop = http.clone().drop_guard();
        start_http(&mut config, &health, http).await?;
        let began = std::time::Instant::now();
        let broker = match tokio::task::spawn_blocking(move || Broker::open(config, port)).await {
            Ok(opened) => opened?,
            Err(e) => return Err(ServerError::Aborted(e.to_string())),
        };
        tracing::info!(
            elapsed_ms = began.elapsed().as_millis() as u64,
            "store opened"
        );
        health.store_opened(broker.store.clone());
        let weak = Arc::downgrade(&broker);
        let weak_health = Arc::downgrade(&health);
        health.metrics_from(Box::new(move || {
            let health = weak_health.upgrade().map(|h| h.snapshot());
            weak.upgrade()
                .map(|b| crate::metrics::render(&b, health.as_ref()))
        }));
        Ok(Self {
            broker,
            listeners,
            ha_listener,
            health,
            acl,
            auth,
            server_tls,
            client_tls,
            http_stop,
        })
    }

    /// The shared state (tests).
    pub fn broker(&self) -> &Arc<Broker> {
        &self.broker
    }

    /// Serves until `stop` is cancelled, then shuts down gracefully.
    pub async fn run(self, stop: CancellationToken) {
        let b = self.broker.clone();
        let namesrv_client = Arc::new(RemotingClient::new(ClientConfig {
            tls: self.client_tls.clone(),
            ..ClientConfig::default()
        }));
        let tasks = CancellationToken::new();
        spawn_arrivals(&b);
        spawn_housekeeping(&b, tasks.clone());
        registration::spawn(
            b.clone(),
            namesrv_client.clone(),
            self.health.clone(),
            tasks.clone(),
        );
        crate::schedule::spawn(b.delivery(), tasks.clone());
        crate::transaction::spawn_checker(b.check_service(), tasks.clone());
        let mut tables = b.synced_tables();
        tables.client_tls = self.client_tls.clone();
        let ha_guard = crate::ha::MasterGuard::new(self.server_tls.clone(), self.acl.clone());
        crate::ha::spawn(&b.ha, self.ha_listener, ha_guard, tables, tasks.clone());
        crate::retention::spawn(b.store.clone(), b.retention.clone(), tasks.clone());
        if let Some(acl) = &self.acl {
            gate::spawn_reload(acl.clone(), gate::RELOAD_PERIOD, tasks.clone());
        }
        let handler =
            Arc::new(BrokerHandler::with_acl(b.clone(), self.acl.clone()).with_auth(self.auth));
        if let Some(t) = &self.server_tls {
            t.clone().spawn_reload(gate::RELOAD_PERIOD, tasks.clone());
        }
        let server_config = ServerConfig {
            tls: self.server_tls.clone(),
            limits: rmq_protocol::FrameLimits {
                max_frame: b.config.max_frame,
            },
            busy_poll: Some(b.config.busy_poll).filter(|d| !d.is_zero()),
            ..ServerConfig::default()
        };
        let accept_stop = CancellationToken::new();
        for listener in self.listeners {
            tokio::spawn(serve(
                listener,
                handler.clone(),
                server_config.clone(),
                accept_stop.clone(),
            ));
        }
        stop.cancelled().await;
        self.health.shutting_down();
        // From here sends get SERVICE_NOT_AVAILABLE (clients retry another broker at once)
        // instead of reaching a broker that may exit before it answers them.
        b.stopping.store(true, std::sync::atomic::Ordering::Release);
        tracing::info!("shutting down: no new connections");
        accept_stop.cancel();
        tasks.cancel();
        for p in b.holds.take_all() {
            execute_parked(&b, p);
        }
        registration::unregister_all(&b, &namesrv_client).await;
        if !b
            .restart_in_place
            .load(std::sync::atomic::Ordering::Acquire)
        {
            wait_out_of_services(&self.health, b.config.shutdown_unready_wait).await;
        }
        log_persist_error(b.offsets.persist_if_dirty(), "consumer offsets");
        log_persist_error(b.delay_offsets.persist_if_dirty(), "delay offsets");
        // Sends accepted before the flag finish and are answered before the store closes.
        tokio::time::sleep(Duration::from_millis(100)).await;
        if let Err(e) = b.store.shutdown() {
            tracing::error!(error = %e, "store shutdown failed");
        }
        // Let queued responses reach the sockets.
        tokio::time::sleep(Duration::from_millis(50)).await;
        drop(self.http_stop);
        tracing::info!("broker stopped");
    }
}

/// Prints the line the Java broker prints once it serves; scripts wait for it.
pub fn print_boot_line(b: &Broker) {
    println!(
        "The broker[{}, {}] boot success. serializeType=JSON and name server is {}",
        b.config.broker_name,
        b.broker_addr,
        b.config.namesrv_addrs.join(";")
    );
}

/// The ACL gate of `aclEnable=true` (its file loaded and valid), else `None`.
fn load_acl(config: &BrokerConfig) -> Result<Option<Arc<AclGate>>, ServerError> {
    if !config.security.acl_enable {
        return Ok(None);
    }
    let path = config
        .security
        .acl_file
        .as_ref()
        .ok_or(ServerError::AclFileMissing)?;
    let gate = AclGate::load(path, Policy::Broker)?;
    tracing::info!(
        file = %path.display(),
        accounts = gate.current().accounts().len(),
        "ACL on: every request is checked"
    );
    Ok(Some(Arc::new(gate)))
}

/// Readiness "not ready" answers after which a probe (failureThreshold 2) has taken the pod out.
const UNREADY_ANSWERS: u32 = 2;
/// Time for the Service's endpoints and every node's proxy rules to follow the pod's readiness.
const SERVICE_SETTLE: Duration = Duration::from_secs(1);

/// Stays up (sends answered "not available", pulls served) until the readiness probe has seen
/// the broker not ready, at most `max` (`shutdownUnreadyWaitMillis`).
async fn wait_out_of_services(health: &Health, max: Duration) {
    if max.is_zero() {
        return;
    }
    let started = std::time::Instant::now();
    let seen = health
        .wait_seen_unready(UNREADY_ANSWERS, SERVICE_SETTLE, max)
        .await;
    tracing::info!(
        unready_answers = seen,
        waited_ms = started.elapsed().as_millis() as u64,
        "readiness probes saw the broker leaving"
    );
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
            // while reads are capped (controller mode) the cap's upkeep wakes the pulls
            if !b.holds.is_empty() && b.store.read_limit().is_none() {
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
        crate::processor::wake_due_pulls(&hb)
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
