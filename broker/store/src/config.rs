//! Store configuration and the consume-queue `tagsCode` rule used when the store dispatches
//! records by itself (recovery, replication).

use crate::error::StoreError;
use rmq_protocol::message::{property, tags_hash_code};
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Default commit log segment size (1 GiB).
pub const DEFAULT_SEGMENT_SIZE: u64 = 1 << 30;
/// Default number of 20-byte units per consume queue file.
pub const DEFAULT_CQ_UNITS_PER_FILE: u64 = 300_000;
/// Default body size limit (4 MiB).
pub const DEFAULT_MAX_MESSAGE_SIZE: usize = 4 * 1024 * 1024;
/// Smallest accepted segment size (tests use tiny segments).
pub const MIN_SEGMENT_SIZE: u64 = 256;
/// Default number of entries per key index file.
pub const DEFAULT_INDEX_ENTRIES_PER_FILE: u32 = 4_000_000;

/// When appended bytes are made durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlushMode {
    /// Background fsync every `flush_interval` (and on shutdown). Appends still reach the OS
    /// immediately, so a killed process loses nothing; a power loss may lose the last interval.
    Async,
    /// Group commit: `wait_flushed` resolves once an fsync covers the offset.
    Sync,
}

/// A record as the dispatcher sees it, for computing its `tagsCode`.
#[derive(Debug, Clone, Copy)]
pub struct DispatchRecord<'a> {
    /// Topic of the record.
    pub topic: &'a str,
    /// Queue id of the record.
    pub queue_id: i32,
    /// sysFlag of the record.
    pub sys_flag: i32,
    /// Store timestamp (ms).
    pub store_timestamp: i64,
    /// Raw properties text (`name\x01value\x02...`).
    pub properties: &'a str,
}

/// Computes the consume queue `tagsCode` of a record that the store dispatches itself.
pub type TagsCodeFn = Arc<dyn Fn(&DispatchRecord<'_>) -> i64 + Send + Sync>;

/// The delay-delivery topic: its tagsCode is the delivery timestamp.
pub const SCHEDULE_TOPIC: &str = "SCHEDULE_TOPIC_XXXX";
/// Broker default `messageDelayLevel` (1s 5s 10s 30s 1m 2m 3m 4m 5m 6m 7m 8m 9m 10m 20m 30m 1h 2h).
pub const DEFAULT_DELAY_LEVELS_MS: [i64; 18] = [
    1_000, 5_000, 10_000, 30_000, 60_000, 120_000, 180_000, 240_000, 300_000, 360_000, 420_000,
    480_000, 540_000, 600_000, 1_200_000, 1_800_000, 3_600_000, 7_200_000,
];

/// Looks a property up in raw properties text without allocating: the value of the first
/// `name\u{1}value` item of the `\u{2}`-separated list.
///
/// One pass over the bytes comparing only at item starts (it runs several times per stored
/// message; the `split`/`split_once` form was a visible cost in profiles).
pub fn raw_property<'a>(props: &'a str, name: &str) -> Option<&'a str> {
    let bytes = props.as_bytes();
    let key = name.as_bytes();
    if key.contains(&1) {
        // the fast test below assumes the key has no separator of its own
        return props
            .split('\u{2}')
            .filter_map(|item| item.split_once('\u{1}'))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v);
    }
    let mut start = 0;
    loop {
        let rest = bytes.get(start..)?;
        let len = rest.iter().position(|&b| b == 2).unwrap_or(rest.len());
        let item = &rest[..len];
        if item.len() > key.len() && item[key.len()] == 1 && item.starts_with(key) {
            // separators are ASCII, so these are char boundaries
            return props.get(start + key.len() + 1..start + len);
        }
        if len == rest.len() {
            return None;
        }
        start += len + 1;
    }
}

/// The default rule: Java `String.hashCode()` of the `TAGS` property (0 without tags); for
/// [`SCHEDULE_TOPIC`] the delivery time `storeTimestamp + delay(DELAY level)` with the default
/// delay levels.
pub fn default_tags_code(rec: &DispatchRecord<'_>) -> i64 {
    if rec.topic == SCHEDULE_TOPIC
        && let Some(level) = raw_property(rec.properties, property::DELAY_TIME_LEVEL)
            .and_then(|l| l.parse::<usize>().ok())
    {
        let idx = level.clamp(1, DEFAULT_DELAY_LEVELS_MS.len()) - 1;
        return rec.store_timestamp + DEFAULT_DELAY_LEVELS_MS[idx];
    }
    raw_property(rec.properties, property::TAGS).map_or(0, tags_hash_code)
}

/// Message store settings. Build with [`StoreConfig::new`] and adjust fields.
#[derive(Clone)]
pub struct StoreConfig {
    /// Root directory (`commitlog/`, `consumequeue/`, `checkpoint`, `abort`, `lock`).
    pub root_dir: PathBuf,
    /// Commit log segment size in bytes (default 1 GiB).
    pub commit_log_segment_size: u64,
    /// Units (20 bytes each) per consume queue file (default 300 000).
    pub consume_queue_units_per_file: u64,
    /// Flush mode (default ASYNC).
    pub flush: FlushMode,
    /// Background flush period (default 500 ms).
    pub flush_interval: Duration,
    /// How long a SYNC send waits for its flush (default 5 s); the broker passes it to
    /// `wait_flushed`.
    pub sync_flush_timeout: Duration,
    /// Body size limit in bytes (default 4 MiB).
    pub max_message_size: usize,
    /// tagsCode rule for records the store dispatches itself (recovery, raw appends) and for
    /// every [`SCHEDULE_TOPIC`] record (whose code depends on the store timestamp).
    /// `None` = [`default_tags_code`].
    pub tags_code: Option<TagsCodeFn>,
    /// Maintain the key index for QUERY_MESSAGE (default true; Java `messageIndexEnable`).
    pub index_enabled: bool,
    /// Entries per key index file (default 4 000 000; Java `maxIndexNum`); a quarter as many
    /// hash slots.
    pub index_entries_per_file: u32,
}

impl fmt::Debug for StoreConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoreConfig")
            .field("root_dir", &self.root_dir)
            .field("commit_log_segment_size", &self.commit_log_segment_size)
            .field(
                "consume_queue_units_per_file",
                &self.consume_queue_units_per_file,
            )
            .field("flush", &self.flush)
            .field("flush_interval", &self.flush_interval)
            .field("sync_flush_timeout", &self.sync_flush_timeout)
            .field("max_message_size", &self.max_message_size)
            .field("tags_code", &self.tags_code.as_ref().map(|_| "custom"))
            .field("index_enabled", &self.index_enabled)
            .field("index_entries_per_file", &self.index_entries_per_file)
            .finish()
    }
}

impl StoreConfig {
    /// Defaults (1 GiB segments, 300 000 units per CQ file, ASYNC flush every 500 ms, 5 s sync
    /// flush timeout, 4 MiB bodies) under `root_dir`.
    pub fn new(root_dir: impl Into<PathBuf>) -> Self {
        Self {
            root_dir: root_dir.into(),
            commit_log_segment_size: DEFAULT_SEGMENT_SIZE,
            consume_queue_units_per_file: DEFAULT_CQ_UNITS_PER_FILE,
            flush: FlushMode::Async,
            flush_interval: Duration::from_millis(500),
            sync_flush_timeout: Duration::from_secs(5),
            max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
            tags_code: None,
            index_enabled: true,
            index_entries_per_file: DEFAULT_INDEX_ENTRIES_PER_FILE,
        }
    }

    /// The tagsCode of a record the store dispatches itself.
    pub(crate) fn tags_code_of(&self, rec: &DispatchRecord<'_>) -> i64 {
        match &self.tags_code {
            Some(f) => f(rec),
            None => default_tags_code(rec),
        }
    }

    /// The tagsCode of an encoded record about to be stored at `store_timestamp` (used for
    /// [`SCHEDULE_TOPIC`], whose code is the delivery time).
    pub(crate) fn tags_code_at(&self, rec: &[u8], store_timestamp: i64) -> Option<i64> {
        let layout = crate::record::parse(rec).ok()?;
        let topic = std::str::from_utf8(rec.get(layout.topic.clone())?).ok()?;
        let properties = std::str::from_utf8(rec.get(layout.properties.clone())?).ok()?;
        Some(self.tags_code_of(&DispatchRecord {
            topic,
            queue_id: layout.queue_id,
            sys_flag: layout.sys_flag,
            store_timestamp,
            properties,
        }))
    }

    /// Checks the numbers for consistency.
    pub(crate) fn validate(&self) -> Result<(), StoreError> {
        if !(MIN_SEGMENT_SIZE..=i32::MAX as u64).contains(&self.commit_log_segment_size) {
            return Err(StoreError::Config(format!(
                "commit_log_segment_size {} must be between {MIN_SEGMENT_SIZE} and {}",
                self.commit_log_segment_size,
                i32::MAX
            )));
        }
        if self.consume_queue_units_per_file == 0
            || self.consume_queue_units_per_file > (i32::MAX as u64) / 20
        {
            return Err(StoreError::Config(format!(
                "consume_queue_units_per_file {} must be between 1 and {}",
                self.consume_queue_units_per_file,
                i32::MAX / 20
            )));
        }
        if self.flush_interval.is_zero() {
            return Err(StoreError::Config("flush_interval must be > 0".into()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_property_matches_the_split_definition() {
        fn reference<'a>(props: &'a str, name: &str) -> Option<&'a str> {
            props
                .split('\u{2}')
                .filter_map(|item| item.split_once('\u{1}'))
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v)
        }
        let cases = [
            "",
            "TAGS\u{1}A",
            "TAGS\u{1}A\u{2}",
            "KEYS\u{1}k1 k2\u{2}TAGS\u{1}\u{2}UNIQ_KEY\u{1}AC\u{2}",
            "TAG\u{1}x\u{2}TAGS\u{1}y\u{2}TAGSS\u{1}z",
            "TAGS\u{2}TAGS\u{1}second\u{1}with\u{1}ones\u{2}TAGS\u{1}third",
            "\u{2}\u{2}TAGS\u{1}\u{e9}\u{4e2d}\u{2}",
            "xTAGS\u{1}no\u{2}TAGS",
            "TAGS\u{1}",
            "\u{1}empty-key\u{2}TAGS\u{1}v",
        ];
        for props in cases {
            for name in [
                "TAGS", "TAG", "KEYS", "UNIQ_KEY", "", "TAGSS", "x\u{1}y", "\u{e9}",
            ] {
                assert_eq!(
                    raw_property(props, name),
                    reference(props, name),
                    "{props:?} {name:?}"
                );
            }
        }
    }

    fn rec<'a>(topic: &'a str, props: &'a str) -> DispatchRecord<'a> {
        DispatchRecord {
            topic,
            queue_id: 0,
            sys_flag: 0,
            store_timestamp: 1_000,
            properties: props,
        }
    }

    #[test]
    fn tags_code_defaults() {
        assert_eq!(
            default_tags_code(&rec("T", "TAGS\u{1}TagA\u{2}")),
            2_598_919
        );
        assert_eq!(default_tags_code(&rec("T", "KEYS\u{1}k\u{2}")), 0);
        assert_eq!(default_tags_code(&rec("T", "")), 0);
        assert_eq!(
            default_tags_code(&rec(SCHEDULE_TOPIC, "DELAY\u{1}3\u{2}TAGS\u{1}x\u{2}")),
            11_000
        );
        assert_eq!(raw_property("A\u{1}1\u{2}B\u{1}2", "B"), Some("2"));
    }

    #[test]
    fn validation() {
        let mut c = StoreConfig::new("/tmp/x");
        assert!(c.validate().is_ok());
        c.commit_log_segment_size = 10;
        assert!(c.validate().is_err());
        c.commit_log_segment_size = 4096;
        c.consume_queue_units_per_file = 0;
        assert!(c.validate().is_err());
    }
}
