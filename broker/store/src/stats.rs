//! Store statistics for admin commands and metrics.

use crate::inner::Inner;
use std::sync::atomic::Ordering;

/// A snapshot of the store's counters and sizes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StoreStats {
    /// First commit log offset on disk.
    pub commit_log_min_offset: i64,
    /// End of the commit log.
    pub commit_log_max_offset: i64,
    /// Bytes of commit log data (`max - min`).
    pub commit_log_bytes: u64,
    /// The commit log is durable below this offset.
    pub flushed_offset: i64,
    /// Number of commit log segment files.
    pub segment_count: usize,
    /// Number of consume queues.
    pub queue_count: usize,
    /// Records appended since open (including replicated ones).
    pub put_count: u64,
    /// Bytes appended through `put`/`put_batch` since open.
    pub put_bytes: u64,
    /// Store time of the oldest record on disk.
    pub earliest_message_time: Option<i64>,
    /// Used fraction of the file system holding the commit log (0.0..=1.0, as `df` computes
    /// it: `used / (used + available)`), if known.
    pub disk_usage_ratio: Option<f64>,
}

pub(crate) fn collect(inner: &Inner) -> StoreStats {
    let cl = &inner.cl;
    let (min, max) = (cl.min_offset(), cl.max_offset());
    let earliest = cl
        .read_record(min)
        .ok()
        .flatten()
        .and_then(|r| crate::record::store_timestamp(&r));
    let disk_usage_ratio = crate::disk::disk_usage(inner.cl.dir())
        .ok()
        .filter(|u| u.total_bytes > 0)
        .map(|u| u.ratio());
    StoreStats {
        commit_log_min_offset: min,
        commit_log_max_offset: max,
        commit_log_bytes: (max - min).max(0) as u64,
        flushed_offset: inner.signal.flushed(),
        segment_count: cl.segments().len(),
        queue_count: inner.queues.read().values().map(|m| m.len()).sum(),
        put_count: inner.put_count.load(Ordering::Relaxed),
        put_bytes: inner.put_bytes.load(Ordering::Relaxed),
        earliest_message_time: earliest,
        disk_usage_ratio,
    }
}
