//! The broker's shared state and its wiring: store, metadata tables, client sessions, parked
//! pulls, counters, and the advertised address.

use crate::clients::ClientRegistry;
use crate::config::{BrokerConfig, BrokerRole, FlushDiskType};
use crate::long_poll::PullHolds;
use crate::state::{GroupTable, OffsetTable, TopicTable, now_ms};
use crate::stats::BrokerStats;
use rmq_protocol::message::UniqKeyGenerator;
use rmq_store::{FlushMode, MessageStore, StoreConfig};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, ToSocketAddrs, UdpSocket};
use std::sync::Arc;
use thiserror::Error;
use tokio::sync::Notify;

/// Start-up failure, with what to do about it.
#[derive(Debug, Error)]
pub enum StartError {
    /// The store could not be opened.
    #[error("cannot open the message store under {dir}: {source}")]
    Store {
        /// directory
        dir: String,
        /// cause
        #[source]
        source: rmq_store::StoreError,
    },
    /// Metadata files could not be read.
    #[error("cannot load broker metadata under {dir}/config: {source}")]
    Metadata {
        /// directory
        dir: String,
        /// cause
        #[source]
        source: std::io::Error,
    },
}

/// Everything request handlers share.
pub struct Broker {
    /// Settings.
    pub config: BrokerConfig,
    /// Message store.
    pub store: Arc<MessageStore>,
    /// Topic configs.
    pub topics: TopicTable,
    /// Subscription groups.
    pub groups: GroupTable,
    /// Consumer offsets.
    pub offsets: OffsetTable,
    /// Client sessions.
    pub clients: ClientRegistry,
    /// Parked pulls.
    pub holds: PullHolds,
    /// Counters.
    pub stats: BrokerStats,
    /// `brokerIP1:listenPort` as registered with nameservers.
    pub broker_addr: String,
    /// `brokerIP2:haPort`.
    pub ha_addr: String,
    /// Store host written into records (resolved `brokerIP1`).
    pub store_host: SocketAddr,
    /// Unique keys for messages that arrive without one.
    pub uniq_keys: UniqKeyGenerator,
    /// Ask the registration task to register now (topic table changed).
    pub register_now: Notify,
    /// Start time (ms).
    pub boot_ms: i64,
    /// The master's address, learned from the nameserver (slaves).
    master_addr: parking_lot::RwLock<Option<String>>,
    /// Delivery progress of the delay levels (`config/delayOffset.json`).
    pub delay_offsets: crate::schedule::DelayOffsets,
    /// Transaction op-record bookkeeping.
    pub transactions: crate::transaction::Transactions,
    /// Orderly consumers' queue locks.
    pub locks: crate::locks::LockTable,
    /// Replication state (slave acks on a master, the master link on a slave).
    pub ha: crate::ha::HaState,
}

impl Broker {
    /// Opens the store and metadata. `listen_port` is the bound port (config may say 0).
    pub fn open(config: BrokerConfig, listen_port: u16) -> Result<Arc<Self>, StartError> {
        let mut config = config;
        config.listen_port = listen_port;
        let dir = config.store_root.display().to_string();
        let mut store_cfg = StoreConfig::new(config.store_root.clone());
        store_cfg.commit_log_segment_size = config.commit_log_segment_size;
        store_cfg.consume_queue_units_per_file = config.consume_queue_units_per_file;
        store_cfg.flush = match config.flush_disk_type {
            FlushDiskType::Async => FlushMode::Async,
            FlushDiskType::Sync => FlushMode::Sync,
        };
        store_cfg.flush_interval = config.flush_interval;
        store_cfg.sync_flush_timeout = config.sync_flush_timeout;
        store_cfg.max_message_size = config.max_message_size;
        store_cfg.tags_code = Some(config.features.delay_levels.tags_code_fn());
        store_cfg.index_enabled = config.features.message_index_enable;
        store_cfg.index_entries_per_file = config.features.max_index_num;
        let store = MessageStore::open(store_cfg).map_err(|source| StartError::Store {
            dir: dir.clone(),
            source,
        })?;
        let meta = |source| StartError::Metadata {
            dir: dir.clone(),
            source,
        };
        let now = now_ms();
        let topics = TopicTable::load(
            &config.store_root,
            config.auto_create_topic_enable,
            config.default_topic_queue_nums,
            now,
        )
        .map_err(meta)?;
        let groups = GroupTable::load(&config.store_root, config.auto_create_subscription_group)
            .map_err(meta)?;
        let offsets = OffsetTable::load(&config.store_root).map_err(meta)?;
        let delay_offsets =
            crate::schedule::DelayOffsets::load(&config.store_root).map_err(meta)?;
        let locks = crate::locks::LockTable::new(config.features.lock_max_live_time);
        let ip1 = config
            .broker_ip1
            .clone()
            .unwrap_or_else(|| advertised_ip(config.listen_addr).to_string());
        let ip2 = config.broker_ip2.clone().unwrap_or_else(|| ip1.clone());
        let store_host = resolve(&ip1, listen_port);
        let pid = std::process::id();
        let uniq_ip = match store_host.ip() {
            IpAddr::V4(v4) => v4,
            IpAddr::V6(_) => Ipv4Addr::LOCALHOST,
        };
        Ok(Arc::new(Self {
            broker_addr: format!("{ip1}:{listen_port}"),
            ha_addr: format!("{ip2}:{}", config.ha_port()),
            store_host,
            uniq_keys: UniqKeyGenerator::new(uniq_ip, pid, rand::random::<i32>()),
            config,
            store,
            topics,
            groups,
            offsets,
            clients: ClientRegistry::new(),
            holds: PullHolds::default(),
            stats: BrokerStats::default(),
            register_now: Notify::new(),
            boot_ms: now,
            master_addr: parking_lot::RwLock::new(None),
            delay_offsets,
            transactions: crate::transaction::Transactions::default(),
            locks,
            ha: crate::ha::HaState::default(),
        }))
    }

    /// Records the master's address (from a registration response).
    pub fn set_master_addr(&self, addr: String) {
        let mut m = self.master_addr.write();
        if m.as_deref() != Some(addr.as_str()) {
            tracing::info!(master = %addr, "master address learned from nameserver");
            *m = Some(addr);
        }
    }

    /// The master's address, if known.
    pub fn master_addr(&self) -> Option<String> {
        self.master_addr.read().clone()
    }

    /// True for brokerId 0.
    pub fn is_master(&self) -> bool {
        self.config.broker_role != BrokerRole::Slave
    }
}

/// The first non-loopback IPv4 address of this host, like the Java broker picks; loopback if none.
fn advertised_ip(listen: IpAddr) -> IpAddr {
    if !listen.is_unspecified() {
        return listen;
    }
    UdpSocket::bind("0.0.0.0:0")
        .and_then(|s| {
            s.connect("10.255.255.255:1")?;
            s.local_addr()
        })
        .map(|a| a.ip())
        .ok()
        .filter(|ip| !ip.is_unspecified())
        .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST))
}

fn resolve(host: &str, port: u16) -> SocketAddr {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return SocketAddr::new(ip, port);
    }
    (host, port)
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.find(SocketAddr::is_ipv4))
        .unwrap_or_else(|| {
            tracing::warn!(
                host,
                "brokerIP1 does not resolve; using 127.0.0.1 in message ids"
            );
            SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port)
        })
}
