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
    /// Every record below this commit log offset is in its consume queue.
    pub dispatched_offset: i64,
    /// Bytes of consume queue units that index retained messages (20 per message).
    pub consume_queue_bytes: u64,
    /// Durations of the commit log fsyncs.
    pub flush_times: crate::FlushTimesSnapshot,
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
    let queues = inner.queues.read();
    let cq_units: i64 = queues
        .values()
        .flat_map(|m| m.values())
        .map(|q| (q.max_offset() - q.min_offset()).max(0))
        .sum();
    let queue_count = queues.values().map(|m| m.len()).sum();
    drop(queues);
    StoreStats {
        commit_log_min_offset: min,
        commit_log_max_offset: max,
        commit_log_bytes: (max - min).max(0) as u64,
        flushed_offset: inner.signal.flushed(),
        segment_count: cl.segments().len(),
        queue_count,
        put_count: inner.put_count.load(Ordering::Relaxed),
        put_bytes: inner.put_bytes.load(Ordering::Relaxed),
        earliest_message_time: earliest,
        disk_usage_ratio,
        dispatched_offset: inner.dispatched.load(Ordering::Acquire),
        consume_queue_bytes: cq_units as u64 * crate::CQ_UNIT_SIZE as u64,
        flush_times: inner.flush_times.snapshot(),
    }
}
