//! broker.conf keys: how each one changes [`BrokerConfig`].

use super::parse::{boolean, invalid, millis, parse, positive_ms};
use super::{BrokerConfig, BrokerRole, ConfigError, FlushDiskType};
use std::time::Duration;

/// The longest busy poll `busyPollMicros` accepts: polling longer than a millisecond after every
/// answer costs more CPU than any wake-up it could save.
const MAX_BUSY_POLL_MICROS: u64 = 1000;

/// Keys of Apache RocketMQ's broker.conf we accept without acting on them.
const ACCEPTED_UNUSED: &[&str] = &[
    "destroyMapedFileIntervalForcibly",
    "redeleteHangedFileInterval",
    "deleteConsumeQueueFilesInterval",
    "storePathCommitLog",
    "storePathConsumeQueue",
    "storePathIndex",
    "storeCheckpoint",
    "abortFile",
    "sendMessageThreadPoolNums",
    "pullMessageThreadPoolNums",
    "useReentrantLockWhenPutMessage",
    "transientStorePoolEnable",
    "slaveReadEnable",
    "enablePropertyFilter",
    "traceTopicEnable",
    "namesrvAddrs",
    "enableDLegerCommitLog",
    "waitTimeMillsInSendQueue",
    "osPageCacheBusyTimeOutMills",
    "lockInStrictMode",
    "rmqUser",
    // Written by rmq-operator: the hash of the restart-only settings, reported back by
    // GET_BROKER_CONFIG so the roller knows which configuration a running broker loaded.
    "rmqConfigHash",
];

impl BrokerConfig {
    /// Applies one `key=value`; `origin` names the file or flag for error messages.
    pub fn apply(&mut self, key: &str, value: &str, origin: &str) -> Result<(), ConfigError> {
        let v = value.trim();
        let handled = self.apply_identity(key, v, origin)?
            || self.apply_store(key, v, origin)?
            || self.apply_behaviour(key, v, origin)?
            || self.apply_ha(key, v, origin)?;
        if handled {
            return Ok(());
        }
        match key {
            k if super::features::KEYS.contains(&k) => self.features.apply(k, v, origin)?,
            k if super::retention::KEYS.contains(&k) => self.retention.apply(k, v, origin)?,
            k if super::security::handles(k) => self.security.apply(k, v, origin)?,
            k if super::controller::KEYS.contains(&k) => self.controller.apply(k, v, origin)?,
            k if ACCEPTED_UNUSED.contains(&k) => {
                self.passthrough.push((k.to_owned(), v.to_owned()))
            }
            other => {
                tracing::warn!(key = other, origin, "unknown broker.conf key ignored");
                self.passthrough.push((other.to_owned(), v.to_owned()));
            }
        }
        Ok(())
    }

    /// Names, addresses and ports; false if `key` is not one of them.
    fn apply_identity(&mut self, key: &str, v: &str, origin: &str) -> Result<bool, ConfigError> {
        match key {
            "brokerClusterName" => self.cluster_name = v.to_owned(),
            "brokerName" => self.broker_name = v.to_owned(),
            "brokerId" => self.broker_id = parse(origin, key, v, "an integer (0 = master)")?,
            "namesrvAddr" => {
                self.namesrv_addrs = v
                    .split(';')
                    .map(str::trim)
                    .filter(|a| !a.is_empty())
                    .map(str::to_owned)
                    .collect();
                if let Some(bad) = self.namesrv_addrs.iter().find(|a| !a.contains(':')) {
                    return Err(invalid(
                        origin,
                        key,
                        v,
                        &format!("host:port;host:port (entry {bad:?} has no port)"),
                    ));
                }
            }
            "listenPort" => self.listen_port = parse(origin, key, v, "a port number")?,
            "brokerIP1" => self.broker_ip1 = Some(v.to_owned()).filter(|s| !s.is_empty()),
            "brokerIP2" => self.broker_ip2 = Some(v.to_owned()).filter(|s| !s.is_empty()),
            "haListenPort" => self.ha_listen_port = Some(parse(origin, key, v, "a port number")?),
            "vipChannelEnable" | "fastListenPortEnable" => {
                self.vip_channel_enable = boolean(origin, key, v)?
            }
            "regionId" => self.region_id = v.to_owned(),
            "httpEnable" => self.http_enable = boolean(origin, key, v)?,
            "httpListenPort" => {
                let expected = "a port number (0 = ephemeral)";
                self.http_listen_port = Some(parse(origin, key, v, expected)?);
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// The store: where, file sizes, flushing, limits; false if `key` is not one of them.
    fn apply_store(&mut self, key: &str, v: &str, origin: &str) -> Result<bool, ConfigError> {
        match key {
            "storePathRootDir" => self.store_root = v.into(),
            "mappedFileSizeCommitLog" => {
                self.commit_log_segment_size = parse(origin, key, v, "bytes (e.g. 1073741824)")?;
                if self.commit_log_segment_size < 4096 {
                    return Err(invalid(origin, key, v, "at least 4096 bytes"));
                }
            }
            "mappedFileSizeConsumeQueue" => {
                let bytes: u64 = parse(origin, key, v, "bytes (a multiple of 20)")?;
                self.consume_queue_units_per_file = (bytes / 20).max(1);
            }
            "flushDiskType" => {
                self.flush_disk_type = match v.to_ascii_uppercase().as_str() {
                    "ASYNC_FLUSH" => FlushDiskType::Async,
                    "SYNC_FLUSH" => FlushDiskType::Sync,
                    _ => return Err(invalid(origin, key, v, "ASYNC_FLUSH or SYNC_FLUSH")),
                }
            }
            "flushIntervalCommitLog" => self.flush_interval = millis(origin, key, v)?,
            "commitLogWriteBack" => {
                let expected = "bytes (0 = write every message before acknowledging it)";
                self.commit_log_write_back = Some(parse(origin, key, v, expected)?);
            }
            "syncFlushTimeout" => self.sync_flush_timeout = millis(origin, key, v)?,
            "maxMessageSize" => self.max_message_size = parse(origin, key, v, "bytes")?,
            "frameMaxLength" | "com.rocketmq.remoting.frameMaxLength" => {
                self.max_frame = parse(origin, key, v, "bytes (default 16777216)")?;
                if self.max_frame < 1024 {
                    return Err(invalid(origin, key, v, "at least 1024 bytes"));
                }
            }
            "busyPollMicros" => {
                let micros: u64 = parse(origin, key, v, "microseconds, 0 to 1000 (0 = never)")?;
                if micros > MAX_BUSY_POLL_MICROS {
                    return Err(invalid(origin, key, v, "at most 1000 microseconds"));
                }
                self.busy_poll = Duration::from_micros(micros);
            }
            "flushConsumerOffsetInterval" => {
                self.flush_consumer_offset_interval = millis(origin, key, v)?
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// Role, permissions, auto-creation, polling, sessions, delay levels; false if `key` is
    /// not one of them.
    fn apply_behaviour(&mut self, key: &str, v: &str, origin: &str) -> Result<bool, ConfigError> {
        match key {
            "brokerRole" => {
                self.broker_role = match v.to_ascii_uppercase().as_str() {
                    "ASYNC_MASTER" => BrokerRole::AsyncMaster,
                    "SYNC_MASTER" => BrokerRole::SyncMaster,
                    "SLAVE" => BrokerRole::Slave,
                    _ => {
                        let expected = "ASYNC_MASTER, SYNC_MASTER or SLAVE";
                        return Err(invalid(origin, key, v, expected));
                    }
                }
            }
            "autoCreateTopicEnable" => self.auto_create_topic_enable = boolean(origin, key, v)?,
            "autoCreateSubscriptionGroup" => {
                self.auto_create_subscription_group = boolean(origin, key, v)?;
            }
            "defaultTopicQueueNums" => {
                self.default_topic_queue_nums = parse(origin, key, v, "a positive integer")?;
                if self.default_topic_queue_nums < 1 {
                    return Err(invalid(origin, key, v, "a positive integer"));
                }
            }
            "brokerPermission" => {
                let expected = "permission bits (6 = read/write, 4 = read only)";
                self.broker_permission = parse(origin, key, v, expected)?;
            }
            "registerNameServerPeriod" => {
                let d = millis(origin, key, v)?;
                self.register_period = d.clamp(Duration::from_secs(10), Duration::from_secs(60));
            }
            "shutdownUnreadyWaitMillis" => {
                let d = millis(origin, key, v)?;
                self.shutdown_unready_wait = d.min(Duration::from_secs(120));
            }
            "longPollingEnable" => self.long_polling_enable = boolean(origin, key, v)?,
            "shortPollingTimeMills" => self.short_polling_time = millis(origin, key, v)?,
            "channelExpiredTimeout" => self.channel_expired_timeout = millis(origin, key, v)?,
            "traceOn" => self.trace_on = boolean(origin, key, v)?,
            "messageDelayLevel" => {
                self.features.apply(key, v, origin)?;
                self.message_delay_level = v.to_owned();
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// Replication; false if `key` is not one of its keys.
    fn apply_ha(&mut self, key: &str, v: &str, origin: &str) -> Result<bool, ConfigError> {
        match key {
            "haMasterAddress" => {
                self.ha.master_address = Some(v.to_owned()).filter(|s| !s.is_empty());
                if let Some(a) = &self.ha.master_address
                    && !a.contains(':')
                {
                    return Err(invalid(origin, key, v, "host:port of the master's HA port"));
                }
            }
            "haSendHeartbeatInterval" => self.ha.heartbeat_interval = positive_ms(origin, key, v)?,
            "haHousekeepingInterval" => {
                self.ha.housekeeping_interval = positive_ms(origin, key, v)?
            }
            "haTransferBatchSize" => {
                self.ha.transfer_batch_size = parse(origin, key, v, "bytes")?;
                if !(1024..=16 * 1024 * 1024).contains(&self.ha.transfer_batch_size) {
                    return Err(invalid(origin, key, v, "1024 to 16777216 bytes"));
                }
            }
            "haMaxGapNotInSync" => {
                self.ha.max_gap_not_in_sync = parse(origin, key, v, "bytes")?;
                if self.ha.max_gap_not_in_sync < 1 {
                    return Err(invalid(origin, key, v, "a positive number of bytes"));
                }
            }
            "slaveTimeout" => self.ha.slave_timeout = positive_ms(origin, key, v)?,
            "inSyncReplicas" => {
                self.ha.in_sync_replicas = parse(origin, key, v, "a positive integer")?;
                if self.ha.in_sync_replicas < 1 {
                    return Err(invalid(origin, key, v, "a positive integer"));
                }
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// The effective settings as properties text (GET_BROKER_CONFIG).
    pub fn to_properties(&self) -> String {
        let role = match self.broker_role {
            BrokerRole::AsyncMaster => "ASYNC_MASTER",
            BrokerRole::SyncMaster => "SYNC_MASTER",
            BrokerRole::Slave => "SLAVE",
        };
        let flush = match self.flush_disk_type {
            FlushDiskType::Async => "ASYNC_FLUSH",
            FlushDiskType::Sync => "SYNC_FLUSH",
        };
        let mut lines = vec![
            format!("brokerClusterName={}", self.cluster_name),
            format!("brokerName={}", self.broker_name),
            format!("brokerId={}", self.broker_id),
            format!("namesrvAddr={}", self.namesrv_addrs.join(";")),
            format!("listenPort={}", self.listen_port),
            format!("brokerIP1={}", self.broker_ip1.clone().unwrap_or_default()),
            format!("haListenPort={}", self.ha_port()),
            format!("httpEnable={}", self.http_enable),
            format!("httpListenPort={}", self.http_port()),
            format!("storePathRootDir={}", self.store_root.display()),
            format!("mappedFileSizeCommitLog={}", self.commit_log_segment_size),
            format!("flushDiskType={flush}"),
            format!("commitLogWriteBack={}", self.write_back_bytes()),
            format!("brokerRole={role}"),
            format!("autoCreateTopicEnable={}", self.auto_create_topic_enable),
            format!(
                "autoCreateSubscriptionGroup={}",
                self.auto_create_subscription_group
            ),
            format!("defaultTopicQueueNums={}", self.default_topic_queue_nums),
            format!("brokerPermission={}", self.broker_permission),
            format!("maxMessageSize={}", self.max_message_size),
            format!("busyPollMicros={}", self.busy_poll.as_micros()),
            format!("longPollingEnable={}", self.long_polling_enable),
            format!("messageDelayLevel={}", self.message_delay_level),
            format!(
                "haMasterAddress={}",
                self.ha.master_address.clone().unwrap_or_default()
            ),
            format!(
                "haSendHeartbeatInterval={}",
                self.ha.heartbeat_interval.as_millis()
            ),
            format!(
                "haHousekeepingInterval={}",
                self.ha.housekeeping_interval.as_millis()
            ),
            format!("haTransferBatchSize={}", self.ha.transfer_batch_size),
            format!("haMaxGapNotInSync={}", self.ha.max_gap_not_in_sync),
            format!("slaveTimeout={}", self.ha.slave_timeout.as_millis()),
            format!("inSyncReplicas={}", self.ha.in_sync_replicas),
        ];
        lines.extend(self.security.to_properties());
        lines.extend(self.features.to_properties());
        lines.extend(self.retention.to_properties());
        lines.extend(self.passthrough.iter().map(|(k, v)| {
            let shown = if super::security::looks_secret(k) {
                super::security::REDACTED
            } else {
                v.as_str()
            };
            format!("{k}={shown}")
        }));
        lines.join("\n") + "\n"
    }
}
