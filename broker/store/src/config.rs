//! Store configuration.

use crate::error::StoreError;
use rmq_protocol::message::{DelayLevels, TagsCode};
use std::path::PathBuf;
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
/// The write-back buffer the broker gives a SYNC_FLUSH store (16 KiB, RocketMQ's
/// `commitCommitLogLeastPages` of 4 pages): there every acknowledgment waits for an fsync, which
/// writes the buffer out first, so a kill loses nothing acknowledged. ASYNC_FLUSH stores get 0
/// unless configured: a `kill -9` of an ASYNC broker loses no acknowledged message.
pub const DEFAULT_COMMIT_LOG_WRITE_BACK: usize = 16 * 1024;

/// When appended bytes are made durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlushMode {
    /// Background fsync every `flush_interval` (and on shutdown). An append reaches the OS
    /// when the write-back buffer is written out: once it holds
    /// [`StoreConfig::commit_log_write_back`] bytes, at a segment roll, and at every flush
    /// tick. So a killed process may lose the last few KiB of appends (none with a write-back
    /// of 0), a power loss those since the last fsync (at most about one interval).
    Async,
    /// Group commit: `wait_flushed` resolves once an fsync covers the offset; the flush writes
    /// the buffer out first, so nothing acknowledged this way can be lost.
    Sync,
}

/// Message store settings. Build with [`StoreConfig::new`] and adjust fields.
#[derive(Debug, Clone)]
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
    /// Bytes of appended commit log records kept in memory before they are written to the
    /// segment file in one `pwrite` (default 0; see [`DEFAULT_COMMIT_LOG_WRITE_BACK`]). The buffer is also written out at every
    /// segment roll, before every fsync and before replication reads its bytes, and readers
    /// see its bytes; it only decides how much a killed process can lose of what no fsync
    /// covered yet (under ASYNC flush: acknowledged appends). 0 writes every append out before
    /// the append returns (no loss on a kill, one `pwrite` per append).
    pub commit_log_write_back: usize,
    /// How long a SYNC send waits for its flush (default 5 s); the broker passes it to
    /// `wait_flushed`.
    pub sync_flush_timeout: Duration,
    /// Body size limit in bytes (default 4 MiB).
    pub max_message_size: usize,
    /// The broker's `messageDelayLevel`: the tagsCode of a delay-topic record the store
    /// dispatches itself (recovery, replicated appends) is its delivery time
    /// ([`TagsCode::of`]).
    pub delay_levels: DelayLevels,
    /// Maintain the key index for QUERY_MESSAGE (default true; Java `messageIndexEnable`).
    pub index_enabled: bool,
    /// Entries per key index file (default 4 000 000; Java `maxIndexNum`); a quarter as many
    /// hash slots.
    pub index_entries_per_file: u32,
    /// Test seam (default `None`): while the store is open, called before every fsync of a
    /// file or directory under `root_dir`; an error it returns stands for a failed fsync (see
    /// the `durable` module). Production leaves it `None`.
    #[doc(hidden)]
    pub fault: Option<crate::durable::FaultHook>,
}

impl StoreConfig {
    /// Defaults (1 GiB segments, 300 000 units per CQ file, ASYNC flush every 500 ms, 16 KiB
    /// commit log write-back, 5 s sync flush timeout, 4 MiB bodies) under `root_dir`.
    pub fn new(root_dir: impl Into<PathBuf>) -> Self {
        Self {
            root_dir: root_dir.into(),
            commit_log_segment_size: DEFAULT_SEGMENT_SIZE,
            consume_queue_units_per_file: DEFAULT_CQ_UNITS_PER_FILE,
            flush: FlushMode::Async,
            flush_interval: Duration::from_millis(500),
            commit_log_write_back: 0,
            sync_flush_timeout: Duration::from_secs(5),
            max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
            delay_levels: DelayLevels::default(),
            index_enabled: true,
            index_entries_per_file: DEFAULT_INDEX_ENTRIES_PER_FILE,
            fault: None,
        }
    }

    /// The tagsCode of a record the store dispatches itself, stored at `store_timestamp`.
    pub(crate) fn tags_code_of(&self, topic: &str, properties: &str, store_timestamp: i64) -> i64 {
        TagsCode::of(topic, properties, &self.delay_levels).at(store_timestamp)
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
    fn tags_code_rule() {
        let c = StoreConfig::new("/tmp/x");
        assert_eq!(c.tags_code_of("T", "TAGS\u{1}TagA\u{2}", 1_000), 2_598_919);
        assert_eq!(c.tags_code_of("T", "KEYS\u{1}k\u{2}", 1_000), 0);
        assert_eq!(
            c.tags_code_of(
                "SCHEDULE_TOPIC_XXXX",
                "DELAY\u{1}3\u{2}TAGS\u{1}x\u{2}",
                1_000
            ),
            11_000
        );
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
