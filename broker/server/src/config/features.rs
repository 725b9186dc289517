//! broker.conf keys of the messaging features: delay levels, transactions, queue locks and the
//! key index (Java names and defaults).

use super::ConfigError;
use super::parse::{boolean, invalid, positive};
use rmq_protocol::message::DelayLevels;
use std::time::Duration;

/// Settings of retry/delay, transactions, ordered-consumption locks and the key index.
#[derive(Debug, Clone)]
pub struct FeaturesConfig {
    /// messageDelayLevel, parsed.
    pub delay_levels: DelayLevels,
    /// flushDelayOffsetInterval: how often `config/delayOffset.json` is written.
    pub flush_delay_offset_interval: Duration,
    /// transactionTimeOut: a half message is checked once it is this old.
    pub transaction_timeout: Duration,
    /// transactionCheckMax: checks before a half message is given up.
    pub transaction_check_max: i32,
    /// transactionCheckInterval: how often unresolved half messages are checked.
    pub transaction_check_interval: Duration,
    /// rejectTransactionMessage: refuse half messages.
    pub reject_transaction_message: bool,
    /// Queue locks of orderly consumers expire after this (Java system property
    /// `rocketmq.broker.rebalance.lockMaxLiveTime`, 60 s).
    pub lock_max_live_time: Duration,
    /// messageIndexEnable: maintain the key index (QUERY_MESSAGE).
    pub message_index_enable: bool,
    /// maxIndexNum: entries per key index file.
    pub max_index_num: u32,
}

impl Default for FeaturesConfig {
    fn default() -> Self {
        Self {
            delay_levels: DelayLevels::default(),
            flush_delay_offset_interval: Duration::from_secs(10),
            transaction_timeout: Duration::from_secs(6),
            transaction_check_max: 15,
            transaction_check_interval: Duration::from_secs(30),
            reject_transaction_message: false,
            lock_max_live_time: Duration::from_secs(60),
            message_index_enable: true,
            max_index_num: rmq_store::config::DEFAULT_INDEX_ENTRIES_PER_FILE,
        }
    }
}

/// The keys [`FeaturesConfig::apply`] handles.
pub const KEYS: &[&str] = &[
    "messageDelayLevel",
    "flushDelayOffsetInterval",
    "transactionTimeOut",
    "transactionCheckMax",
    "transactionCheckInterval",
    "rejectTransactionMessage",
    "rocketmq.broker.rebalance.lockMaxLiveTime",
    "rebalanceLockMaxLiveTime",
    "messageIndexEnable",
    "maxIndexNum",
];

impl FeaturesConfig {
    /// Applies one of [`KEYS`].
    pub fn apply(&mut self, key: &str, v: &str, origin: &str) -> Result<(), ConfigError> {
        let ms = |what| positive(origin, key, v, what).map(Duration::from_millis);
        match key {
            "messageDelayLevel" => {
                self.delay_levels = DelayLevels::parse(v).map_err(|why| {
                    invalid(
                        origin,
                        key,
                        v,
                        &format!("levels like \"1s 5s 10s 30s 1m 2h\" ({why})"),
                    )
                })?;
            }
            "flushDelayOffsetInterval" => self.flush_delay_offset_interval = ms("milliseconds")?,
            "transactionTimeOut" => self.transaction_timeout = ms("milliseconds (default 6000)")?,
            "transactionCheckMax" => {
                let n = positive(origin, key, v, "a positive number of checks (default 15)")?;
                self.transaction_check_max = i32::try_from(n).unwrap_or(i32::MAX);
            }
            "transactionCheckInterval" => {
                self.transaction_check_interval = ms("milliseconds (default 30000)")?;
            }
            "rejectTransactionMessage" => {
                self.reject_transaction_message = boolean(origin, key, v)?;
            }
            "rocketmq.broker.rebalance.lockMaxLiveTime" | "rebalanceLockMaxLiveTime" => {
                self.lock_max_live_time = ms("milliseconds (default 60000)")?;
            }
            "messageIndexEnable" => self.message_index_enable = boolean(origin, key, v)?,
            "maxIndexNum" => {
                let n = positive(origin, key, v, "entries per index file (default 4000000)")?;
                self.max_index_num = u32::try_from(n.max(16)).unwrap_or(u32::MAX);
            }
            _ => {}
        }
        Ok(())
    }

    /// The settings as properties lines (GET_BROKER_CONFIG); `messageDelayLevel` is written
    /// by the caller.
    pub fn to_properties(&self) -> Vec<String> {
        vec![
            format!(
                "flushDelayOffsetInterval={}",
                self.flush_delay_offset_interval.as_millis()
            ),
            format!(
                "transactionTimeOut={}",
                self.transaction_timeout.as_millis()
            ),
            format!("transactionCheckMax={}", self.transaction_check_max),
            format!(
                "transactionCheckInterval={}",
                self.transaction_check_interval.as_millis()
            ),
            format!(
                "rejectTransactionMessage={}",
                self.reject_transaction_message
            ),
            format!("messageIndexEnable={}", self.message_index_enable),
            format!("maxIndexNum={}", self.max_index_num),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_parse_and_reject_bad_values() {
        let mut f = FeaturesConfig::default();
        f.apply("messageDelayLevel", "1s 1s 2s", "t").unwrap();
        assert_eq!(f.delay_levels.max_level(), 3);
        f.apply("transactionCheckInterval", "2000", "t").unwrap();
        assert_eq!(f.transaction_check_interval, Duration::from_secs(2));
        f.apply("transactionCheckMax", "3", "t").unwrap();
        assert_eq!(f.transaction_check_max, 3);
        f.apply("rocketmq.broker.rebalance.lockMaxLiveTime", "500", "t")
            .unwrap();
        assert_eq!(f.lock_max_live_time, Duration::from_millis(500));
        for (k, v) in [
            ("messageDelayLevel", "1x"),
            ("transactionTimeOut", "0"),
            ("transactionCheckMax", "-1"),
            ("messageIndexEnable", "yes"),
        ] {
            assert!(f.apply(k, v, "t").is_err(), "{k}={v}");
        }
        assert!(
            f.to_properties()
                .iter()
                .any(|l| l == "transactionCheckMax=3")
        );
    }
}
