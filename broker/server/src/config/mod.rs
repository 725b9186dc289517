//! Broker settings as RocketMQ users know them: a `broker.conf` of Java properties
//! (brokerClusterName, brokerName, brokerId, namesrvAddr, listenPort, brokerIP1, ...), overridden
//! by command-line flags and `RMQ_BROKER_*` environment variables.

mod args;
mod controller;
mod features;
mod keys;
mod parse;
mod retention;
mod security;

pub use args::Args;
pub use controller::ControllerModeConfig;
pub use features::FeaturesConfig;
pub use retention::{KEYS as RETENTION_KEYS, RetentionConfig};
pub use security::{InnerCredentials, SecurityConfig};

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::time::Duration;
use thiserror::Error;

/// `busyPollMicros` when not set: a little longer than a sync client on the same host or LAN
/// takes between an answer and its next request.
pub const DEFAULT_BUSY_POLL: Duration = Duration::from_micros(50);

/// How commit log writes become durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlushDiskType {
    /// Periodic background flush.
    Async,
    /// Acknowledge only after fsync (group commit).
    Sync,
}

/// Replication role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BrokerRole {
    /// Master, replicate asynchronously.
    AsyncMaster,
    /// Master, acknowledge after a slave has the message.
    SyncMaster,
    /// Reads the master's commit log and serves reads; takes no writes.
    Slave,
}

/// Effective broker settings.
#[derive(Debug, Clone)]
pub struct BrokerConfig {
    /// The cluster the broker registers under (`brokerClusterName`).
    pub cluster_name: String,
    /// The broker group shared by a master and its slaves (`brokerName`).
    pub broker_name: String,
    /// brokerId (0 = master).
    pub broker_id: i64,
    /// namesrvAddr, `;`-separated in the file.
    pub namesrv_addrs: Vec<String>,
    /// Address to bind.
    pub listen_addr: IpAddr,
    /// listenPort (0 = ephemeral).
    pub listen_port: u16,
    /// brokerIP1: the address advertised to clients.
    pub broker_ip1: Option<String>,
    /// brokerIP2: the address advertised for HA.
    pub broker_ip2: Option<String>,
    /// haListenPort (default listenPort + 1).
    pub ha_listen_port: Option<u16>,
    /// Serve `/healthz` and `/readyz` over HTTP (`httpEnable`, default true).
    pub http_enable: bool,
    /// The HTTP port (`httpListenPort`); `None` means listenPort + 7 (0 when listenPort is 0).
    pub http_listen_port: Option<u16>,
    /// Also listen on listenPort - 2 (the "VIP channel" of old clients).
    pub vip_channel_enable: bool,
    /// Where the commit log, queues, indexes and metadata live (`storePathRootDir`).
    pub store_root: PathBuf,
    /// Bytes per commit-log segment file (`mappedFileSizeCommitLog`).
    pub commit_log_segment_size: u64,
    /// mappedFileSizeConsumeQueue in units.
    pub consume_queue_units_per_file: u64,
    /// Whether a send is acknowledged after fsync or after the write (`flushDiskType`).
    pub flush_disk_type: FlushDiskType,
    /// How often the asynchronous flusher fsyncs the commit log (`flushIntervalCommitLog`).
    pub flush_interval: Duration,
    /// Bytes of appended commit-log records buffered in memory before one write to the file
    /// (`commitLogWriteBack`, rmq's own key). They are also written out at every flush, segment
    /// roll and replication read, and readers see them. Unset: 16384 with SYNC_FLUSH (every
    /// acknowledgment waits for the fsync that writes them out), 0 with ASYNC_FLUSH (every
    /// message is written before it is acknowledged, so a `kill -9` loses none). A value under
    /// ASYNC_FLUSH trades that: a `kill -9` can lose what is buffered (at most this many bytes,
    /// at most one flush interval old).
    pub commit_log_write_back: Option<usize>,
    /// How long a SYNC_FLUSH send waits for its fsync before FLUSH_DISK_TIMEOUT (`syncFlushTimeout`).
    pub sync_flush_timeout: Duration,
    /// Master (sync or async replication) or slave (`brokerRole`).
    pub broker_role: BrokerRole,
    /// Whether a send to an unknown topic creates it from TBW102 (`autoCreateTopicEnable`).
    pub auto_create_topic_enable: bool,
    /// Whether an unknown consumer group is created on first use (`autoCreateSubscriptionGroup`).
    pub auto_create_subscription_group: bool,
    /// defaultTopicQueueNums (queues of TBW102).
    pub default_topic_queue_nums: i32,
    /// Read/write permission bits the broker advertises (`brokerPermission`, 6 = read and write).
    pub broker_permission: i32,
    /// maxMessageSize (body bytes).
    pub max_message_size: usize,
    /// Largest accepted remoting frame (Java's `com.rocketmq.remoting.frameMaxLength`).
    pub max_frame: usize,
    /// After answering a request, how long a connection polls for its next one before sleeping
    /// in epoll, when it sends one request at a time and no other connection is busy
    /// (`busyPollMicros`, rmq's own; 0 = never). Saves a wake-up per request for a
    /// one-thread sync producer; costs at most this much CPU per answer.
    pub busy_poll: Duration,
    /// How often the broker re-registers with every nameserver (`registerNameServerPeriod`).
    pub register_period: Duration,
    /// After SIGTERM, how long at most the broker stays up answering sends "not available"
    /// while its readiness probe sees it not ready twice (`shutdownUnreadyWaitMillis`, rmq's
    /// own; 0 = exit at once). On Kubernetes this keeps the pod's address alive until its
    /// Service has dropped it.
    pub shutdown_unready_wait: Duration,
    /// Whether an empty pull is held until a message arrives (`longPollingEnable`).
    pub long_polling_enable: bool,
    /// How long an empty pull is held without long polling (`shortPollingTimeMills`).
    pub short_polling_time: Duration,
    /// channelExpiredTimeout for client sessions.
    pub channel_expired_timeout: Duration,
    /// How often changed consumer offsets are written to disk (`flushConsumerOffsetInterval`).
    pub flush_consumer_offset_interval: Duration,
    /// The region reported to clients in routes and send results (`regionId`).
    pub region_id: String,
    /// Whether clients are told that message tracing is on (`traceOn`).
    pub trace_on: bool,
    /// The delay of each level, as written (`messageDelayLevel`, e.g. `1s 5s 10s 30s 1m`).
    pub message_delay_level: String,
    /// Delay levels, transactions, queue locks, key index.
    pub features: FeaturesConfig,
    /// Retention and disk safety (the settings UPDATE_BROKER_CONFIG may change at runtime).
    pub retention: RetentionConfig,
    /// Replication (HA) settings.
    pub ha: HaConfig,
    /// Controller mode (`enableControllerMode`, `controllerAddr`, ...).
    pub controller: ControllerModeConfig,
    /// ACL and the broker's own credentials.
    pub security: SecurityConfig,
    /// Keys we accept but do not act on, kept for GET_BROKER_CONFIG.
    pub passthrough: Vec<(String, String)>,
}

impl Default for BrokerConfig {
    fn default() -> Self {
        Self {
            cluster_name: "DefaultCluster".into(),
            broker_name: hostname(),
            broker_id: 0,
            namesrv_addrs: Vec::new(),
            listen_addr: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            listen_port: 10911,
            broker_ip1: None,
            broker_ip2: None,
            ha_listen_port: None,
            vip_channel_enable: false,
            http_enable: true,
            http_listen_port: None,
            store_root: std::env::var_os("HOME")
                .map(|h| PathBuf::from(h).join("store"))
                .unwrap_or_else(|| PathBuf::from("store")),
            commit_log_segment_size: 1 << 30,
            consume_queue_units_per_file: 300_000,
            flush_disk_type: FlushDiskType::Async,
            flush_interval: Duration::from_millis(500),
            commit_log_write_back: None,
            sync_flush_timeout: Duration::from_secs(5),
            broker_role: BrokerRole::AsyncMaster,
            auto_create_topic_enable: true,
            auto_create_subscription_group: true,
            default_topic_queue_nums: 8,
            broker_permission: 6,
            max_message_size: 4 * 1024 * 1024,
            max_frame: rmq_protocol::frame::DEFAULT_MAX_FRAME,
            busy_poll: DEFAULT_BUSY_POLL,
            register_period: Duration::from_secs(30),
            shutdown_unready_wait: Duration::ZERO,
            long_polling_enable: true,
            short_polling_time: Duration::from_secs(1),
            channel_expired_timeout: Duration::from_secs(120),
            flush_consumer_offset_interval: Duration::from_secs(5),
            region_id: "DefaultRegion".into(),
            trace_on: true,
            message_delay_level: rmq_protocol::message::DEFAULT_LEVELS.into(),
            features: FeaturesConfig::default(),
            retention: RetentionConfig::default(),
            security: SecurityConfig::default(),
            passthrough: Vec::new(),
            ha: HaConfig::default(),
            controller: ControllerModeConfig::default(),
        }
    }
}

/// Master/slave replication settings (broker.conf keys of the same names).
#[derive(Debug, Clone)]
pub struct HaConfig {
    /// haMasterAddress: the master's HA `host:port` for a slave; when unset the slave uses the
    /// `haServerAddr` the nameserver returns at registration.
    pub master_address: Option<String>,
    /// haSendHeartbeatInterval: a slave reports its offset (and a master sends an empty frame)
    /// at least this often.
    pub heartbeat_interval: Duration,
    /// haHousekeepingInterval: a connection without traffic for this long is closed.
    pub housekeeping_interval: Duration,
    /// haTransferBatchSize: most commit log bytes per transfer frame.
    pub transfer_batch_size: usize,
    /// haMaxGapNotInSync: a slave further behind than this many bytes is not "in sync".
    pub max_gap_not_in_sync: i64,
    /// slaveTimeout: how long a SYNC_MASTER send waits for slave acks.
    pub slave_timeout: Duration,
    /// inSyncReplicas: copies (master included) a SYNC_MASTER send waits for. rmq defaults to 2
    /// (the 4.9 behaviour: one slave must have it); Java 5 defaults to 1, which never waits.
    pub in_sync_replicas: u32,
    /// Controller mode: the broker id a slave announces to its master (set at run time from
    /// the controller, never from the file).
    pub identity: Option<i64>,
}

impl Default for HaConfig {
    fn default() -> Self {
        Self {
            master_address: None,
            heartbeat_interval: Duration::from_secs(5),
            housekeeping_interval: Duration::from_secs(20),
            transfer_batch_size: 32 * 1024,
            max_gap_not_in_sync: 256 * 1024 * 1024,
            slave_timeout: Duration::from_secs(3),
            in_sync_replicas: 2,
            identity: None,
        }
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "broker-a".into())
}

/// A setting could not be read; says which and how to fix it.
#[derive(Debug, Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read broker config {path}: {source}")]
    Read {
        /// The broker.conf given with `-c`.
        path: PathBuf,
        /// Why it could not be opened or parsed.
        #[source]
        source: java_properties::PropertiesError,
    },
    /// A value is malformed.
    #[error("{origin}: {key}={value:?} is invalid: expected {expected}")]
    Value {
        /// Where it came from: the file, or the flag.
        origin: String,
        /// The broker.conf key.
        key: String,
        /// The value as given.
        value: String,
        /// What a valid value looks like.
        expected: String,
    },
    /// Settings contradict each other.
    #[error("{0}")]
    Inconsistent(String),
}

impl BrokerConfig {
    /// The commit-log write-back buffer in force (see [`Self::commit_log_write_back`]).
    pub fn write_back_bytes(&self) -> usize {
        self.commit_log_write_back
            .unwrap_or(match self.flush_disk_type {
                FlushDiskType::Sync => rmq_store::config::DEFAULT_COMMIT_LOG_WRITE_BACK,
                FlushDiskType::Async => 0,
            })
    }

    /// Defaults, then the config file, then `--set key=value` pairs and flags.
    pub fn from_args(args: &Args) -> Result<Self, ConfigError> {
        let mut c = Self::default();
        if let Some(path) = &args.config {
            let entries =
                crate::process::read_properties(path).map_err(|source| ConfigError::Read {
                    path: path.clone(),
                    source,
                })?;
            for (k, v) in entries {
                c.apply(&k, &v, &path.display().to_string())?;
            }
        }
        for pair in &args.set {
            let (k, v) = pair.split_once('=').ok_or_else(|| ConfigError::Value {
                origin: "--set".into(),
                key: pair.clone(),
                value: String::new(),
                expected: "key=value".into(),
            })?;
            c.apply(k.trim(), v, "--set")?;
        }
        args.apply_to(&mut c)?;
        c.validate()?;
        Ok(c)
    }

    /// Checks cross-field rules.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.broker_id == 0 && self.broker_role == BrokerRole::Slave {
            return Err(ConfigError::Inconsistent(
                "brokerRole=SLAVE needs brokerId > 0 (brokerId 0 is the master)".into(),
            ));
        }
        if self.broker_id > 0 && self.broker_role != BrokerRole::Slave {
            return Err(ConfigError::Inconsistent(format!(
                "brokerId={} is a slave id: set brokerRole=SLAVE (or brokerId=0 for a master)",
                self.broker_id
            )));
        }
        self.security.validate()?;
        self.controller.validate()?;
        if self.controller.enabled && self.listen_port == 0 {
            return Err(ConfigError::Inconsistent(
                "enableControllerMode=true needs a fixed listenPort (not 0): the controllers \
                 know the broker by its address"
                    .into(),
            ));
        }
        if self.broker_name.is_empty() || self.cluster_name.is_empty() {
            return Err(ConfigError::Inconsistent(
                "brokerName and brokerClusterName must not be empty".into(),
            ));
        }
        Ok(())
    }

    /// The HTTP port: `httpListenPort`, else listenPort + 7 (10918 for 10911), else 0
    /// (ephemeral) when listenPort is 0 or too high.
    pub fn http_port(&self) -> u16 {
        self.http_listen_port
            .unwrap_or_else(|| match self.listen_port {
                0 => 0,
                p => p.checked_add(7).unwrap_or(0),
            })
    }

    /// The HA port.
    pub fn ha_port(&self) -> u16 {
        self.ha_listen_port
            .unwrap_or_else(|| self.listen_port.wrapping_add(1))
    }
}
