//! [`Broker`]: what the request handlers share — the store and the writer into it, the metadata
//! tables, client sessions, parked pulls, counters, the advertised addresses — and the handles
//! of the subsystems (replication, transactions), wired once at start. The background tasks
//! (delay delivery, transaction checks, replication) get narrow handles built here and never
//! see the `Broker`.

use crate::clients::ClientRegistry;
use crate::config::{BrokerConfig, BrokerRole, FlushDiskType};
use crate::ha::{HaState, Replication};
use crate::locks::LockTable;
use crate::long_poll::PullHolds;
use crate::retention::Retention;
use crate::schedule::Delivery;
use crate::state::{DelayOffsets, GroupTable, OffsetTable, TopicTable, now_ms};
use crate::stats::BrokerStats;
use crate::transaction::{CheckService, Transactions};
use crate::writer::MessageWriter;
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
        /// `storePathRootDir`.
        dir: String,
        /// Why the store refused to open.
        #[source]
        source: rmq_store::StoreError,
    },
    /// Metadata files could not be read.
    #[error("cannot load broker metadata under {dir}/config: {source}")]
    Metadata {
        /// `storePathRootDir`.
        dir: String,
        /// The file error.
        #[source]
        source: std::io::Error,
    },
}

/// Everything request handlers share.
pub struct Broker {
    /// The effective broker.conf (flags and environment applied).
    pub config: BrokerConfig,
    /// Message store.
    pub store: Arc<MessageStore>,
    /// Stores messages (delay transform, tagsCode, counters).
    pub writer: MessageWriter,
    /// Topic configs.
    pub topics: Arc<TopicTable>,
    /// Subscription groups.
    pub groups: Arc<GroupTable>,
    /// Consumer offsets.
    pub offsets: Arc<OffsetTable>,
    /// Delivery progress of the delay levels (`config/delayOffset.json`).
    pub delay_offsets: Arc<DelayOffsets>,
    /// Client sessions.
    pub clients: Arc<ClientRegistry>,
    /// Parked pulls.
    pub holds: PullHolds,
    /// Message counters and rates for runtime info.
    pub stats: Arc<BrokerStats>,
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
    /// NOTIFY_BROKER_ROLE_CHANGED arrived: the controller-mode watch re-reads its group now.
    pub role_changed: Notify,
    /// Start time (ms).
    pub boot_ms: i64,

    /// Transaction op-record bookkeeping.
    pub transactions: Arc<Transactions>,
    /// Orderly consumers' queue locks.
    pub locks: LockTable,
    /// Replication (slave acks on a master, the master link on a slave).
    pub ha: Replication,
    /// Retention settings in force, the disk reading and whether writes are refused.
    pub retention: Arc<Retention>,
    /// Read/write permission in force (`brokerPermission`): from broker.conf, changed at
    /// runtime by UPDATE_BROKER_CONFIG (e.g. 4, read-only, while a group is drained).
    pub permission: std::sync::atomic::AtomicI32,
    /// SIGTERM arrived: sends are answered SERVICE_NOT_AVAILABLE (clients retry another broker
    /// at once) while the broker finishes what it holds and leaves the routes.
    pub stopping: std::sync::atomic::AtomicBool,
    /// The controller changed this broker's role: the process re-executes itself in the same
    /// pod (same address), so its shutdown does not wait for readiness probes to take it out
    /// of Services (`shutdownUnreadyWaitMillis` is for a pod that goes away).
    pub restart_in_place: std::sync::atomic::AtomicBool,
}

/// The metadata tables under `<store>/config/`.
struct Tables {
    topics: TopicTable,
    groups: GroupTable,
    offsets: OffsetTable,
    delay_offsets: DelayOffsets,
}

fn load_tables(config: &BrokerConfig, now: i64) -> std::io::Result<Tables> {
    let root = &config.store_root;
    let topics = TopicTable::load(
        root,
        config.auto_create_topic_enable,
        config.default_topic_queue_nums,
        now,
    )?;
    topics.set_state_version(i64::from(config.controller.epoch));
    Ok(Tables {
        topics,
        groups: GroupTable::load(root, config.auto_create_subscription_group)?,
        offsets: OffsetTable::load(root)?,
        delay_offsets: DelayOffsets::load(root)?,
    })
}

/// The store settings that follow from the broker's.
fn store_config(config: &BrokerConfig) -> StoreConfig {
    let mut c = StoreConfig::new(config.store_root.clone());
    c.commit_log_segment_size = config.commit_log_segment_size;
    c.consume_queue_units_per_file = config.consume_queue_units_per_file;
    c.flush = match config.flush_disk_type {
        FlushDiskType::Async => FlushMode::Async,
        FlushDiskType::Sync => FlushMode::Sync,
    };
    c.flush_interval = config.flush_interval;
    c.commit_log_write_back = config.write_back_bytes();
    c.sync_flush_timeout = config.sync_flush_timeout;
    c.max_message_size = config.max_message_size;
    c.delay_levels = config.features.delay_levels.clone();
    c.index_enabled = config.features.message_index_enable;
    c.index_entries_per_file = config.features.max_index_num;
    c
}

impl Broker {
    /// Whether the broker is shutting down (sends are refused).
    pub fn is_stopping(&self) -> bool {
        self.stopping.load(std::sync::atomic::Ordering::Acquire)
    }

    /// The read/write permission in force (`brokerPermission`).
    pub fn permission(&self) -> i32 {
        self.permission.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Opens the store and metadata. `listen_port` is the bound port (config may say 0).
    pub fn open(config: BrokerConfig, listen_port: u16) -> Result<Arc<Self>, StartError> {
        let mut config = config;
        config.listen_port = listen_port;
        let dir = config.store_root.display().to_string();
        let store =
            MessageStore::open(store_config(&config)).map_err(|source| StartError::Store {
                dir: dir.clone(),
                source,
            })?;
        let now = now_ms();
        let tables =
            load_tables(&config, now).map_err(|source| StartError::Metadata { dir, source })?;
        let ip1 = config
            .broker_ip1
            .clone()
            .unwrap_or_else(|| advertised_ip(config.listen_addr).to_string());
        let ip2 = config.broker_ip2.clone().unwrap_or_else(|| ip1.clone());
        let store_host = resolve(&ip1, listen_port);
        let uniq_ip = match store_host.ip() {
            IpAddr::V4(v4) => v4,
            IpAddr::V6(_) => Ipv4Addr::LOCALHOST,
        };
        let stats = Arc::new(BrokerStats::new(&config.cluster_name));
        let delay_levels = config.features.delay_levels.clone();
        let retention = Arc::new(Retention::new(config.retention.clone()));
        let writer = MessageWriter::new(store.clone(), stats.clone(), delay_levels, store_host)
            .with_retention(retention.clone());
        let offsets = Arc::new(tables.offsets);
        let transactions = Transactions::new(writer.clone(), offsets.clone(), &config.features);
        let ha = Replication {
            store: store.clone(),
            state: Arc::new(HaState::default()),
            config: config.ha.clone(),
            role: config.broker_role,
        };
        Ok(Arc::new(Self {
            broker_addr: format!("{ip1}:{listen_port}"),
            ha_addr: format!("{ip2}:{}", config.ha_port()),
            store_host,
            uniq_keys: UniqKeyGenerator::new(uniq_ip, std::process::id(), rand::random::<i32>()),
            locks: LockTable::new(config.features.lock_max_live_time),
            store,
            writer,
            topics: Arc::new(tables.topics),
            groups: Arc::new(tables.groups),
            offsets,
            delay_offsets: Arc::new(tables.delay_offsets),
            clients: Arc::new(ClientRegistry::new()),
            holds: PullHolds::default(),
            stats,
            register_now: Notify::new(),
            role_changed: Notify::new(),
            boot_ms: now,
            transactions: Arc::new(transactions),
            ha,
            retention,
            permission: std::sync::atomic::AtomicI32::new(config.broker_permission),
            stopping: std::sync::atomic::AtomicBool::new(false),
            restart_in_place: std::sync::atomic::AtomicBool::new(false),
            config,
        }))
    }

    /// True for brokerId 0.
    pub fn is_master(&self) -> bool {
        self.config.broker_role != BrokerRole::Slave
    }

    /// The delay delivery task's handle.
    pub fn delivery(&self) -> Delivery {
        Delivery {
            writer: self.writer.clone(),
            offsets: self.delay_offsets.clone(),
            persist_every: self.config.features.flush_delay_offset_interval,
            master: self.is_master(),
        }
    }

    /// The transaction check service's handle.
    pub fn check_service(&self) -> CheckService {
        CheckService {
            transactions: self.transactions.clone(),
            topics: self.topics.clone(),
            clients: self.clients.clone(),
            features: self.config.features.clone(),
            broker_name: self.config.broker_name.clone(),
            master: self.is_master(),
        }
    }

    /// The tables a slave syncs from its master.
    pub fn synced_tables(&self) -> crate::ha::Tables {
        crate::ha::Tables {
            topics: self.topics.clone(),
            groups: self.groups.clone(),
            offsets: self.offsets.clone(),
            delay_offsets: self.delay_offsets.clone(),
            credentials: self.config.security.inner_credentials.clone(),
            client_tls: None,
        }
    }
}

/// The first non-loopback IPv4 address of this host, like the Java broker picks; loopback if none.
pub(crate) fn advertised_ip(listen: IpAddr) -> IpAddr {
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
