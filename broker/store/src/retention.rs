//! Retention: [`MessageStore::delete_expired`] removes the oldest commit log segments (by age,
//! or regardless of age when the disk is too full), then the consume queue and key index files
//! that only point into what was removed.
//!
//! # What may go
//! Segments go oldest first; a pass stops at the first segment it must keep. A segment is
//! *expired* when its file was last modified (its newest record or its end filler was
//! written; RocketMQ's rule) more than [`RetentionPass::reserved`] ago. A segment is never
//! removed when it is the last one (the one being written), or when it ends above the
//! *durable-and-dispatched* offset: the checkpoint's `min(commit_log_flushed, cq_flushed)`,
//! the flushed offset and the key index's resume point. So everything removed was fsynced,
//! has durable consume queue units and is indexed, and recovery never needs it again.
//!
//! # Order on disk, and why every crash point is a valid store
//! 1. commit log segments, oldest first, one `unlink` + directory fsync each: the log stays
//!    contiguous; recovery starts from the checkpoint, which lies above every removed segment.
//! 2. per queue, consume queue files wholly below the queue's new minimum, oldest first, never
//!    the newest file (it carries the max offset): a prefix of a queue's files is a valid
//!    queue, and at open each queue's minimum is searched over all its units, so files still
//!    pointing below the commit log cost nothing but space.
//! 3. sealed key index files whose entries are all below the new minimum, oldest first:
//!    lookups drop candidates below the commit log minimum anyway.
//!
//! In memory, each queue's minimum moves up right after the segments go: a pull below it gets
//! `OFFSET_TOO_SMALL` with the new minimum as the next offset, as in RocketMQ. A pull that
//! read units just before (a race of milliseconds) gets `MESSAGE_WAS_REMOVING`.

use crate::error::StoreError;
use crate::segment::Segment;
use crate::store::MessageStore;
use std::time::{Duration, SystemTime};

/// How one cleaning pass chooses segments (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetentionPass {
    /// `fileReservedTime`: a segment last modified longer ago than this is expired.
    pub reserved: Duration,
    /// Remove the oldest segments whatever their age (the disk is above its maximum ratio);
    /// the last segment and data not yet durable, dispatched and indexed still stay.
    pub force: bool,
    /// At most this many segments per pass (`deleteFileBatchMax`; 0 removes none but still
    /// cleans consume queue and index files below the current minimum).
    pub max_files: usize,
}

impl Default for RetentionPass {
    /// RocketMQ's defaults: 72 hours, not forced, 10 files per pass.
    fn default() -> Self {
        Self {
            reserved: Duration::from_secs(72 * 3600),
            force: false,
            max_files: 10,
        }
    }
}

/// What a pass removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CleanReport {
    /// Commit log segments removed.
    pub segments_deleted: usize,
    /// Disk space (allocated blocks) of every file removed: segments, consume queue and index
    /// files. The space returns once no reader holds a removed file open.
    pub bytes_freed: u64,
    /// The commit log's minimum physical offset after the pass.
    pub min_offset: i64,
    /// Consume queue files removed.
    pub queue_files_deleted: usize,
    /// Key index files removed.
    pub index_files_deleted: usize,
}

impl MessageStore {
    /// One retention pass (see the [module docs](crate::retention)): removes expired (or,
    /// with `force`, the oldest) commit log segments, raises every queue's minimum offset and
    /// removes the consume queue and index files below it. Blocking file I/O; run it off the
    /// async runtime.
    pub fn delete_expired(&self, pass: &RetentionPass) -> Result<CleanReport, StoreError> {
        self.inner.check_open()?;
        let _one_at_a_time = self.maintenance.lock();
        let safe = self.removable_below();
        let mut report = CleanReport::default();
        self.remove_segments(pass, safe, &mut report)?;
        let min = self.inner.cl.min_offset();
        report.min_offset = min;
        let queues: Vec<_> = self
            .inner
            .queues
            .read()
            .values()
            .flat_map(|m| m.values().cloned())
            .collect();
        for q in queues {
            q.raise_min_offset(min)?;
            let removed = q.remove_files_below_min()?;
            report.queue_files_deleted += removed.files;
            report.bytes_freed += removed.bytes;
        }
        if let Some(ix) = &self.index {
            let (files, bytes) = ix.remove_files_below(min)?;
            report.index_files_deleted += files;
            report.bytes_freed += bytes;
        }
        Ok(report)
    }

    /// Segments ending at or below this offset may go: their data is fsynced, its consume
    /// queue units are durable (checkpoint) and it is indexed.
    fn removable_below(&self) -> i64 {
        let inner = &*self.inner;
        // bring the checkpoint up to the dispatched offset; on failure (a full disk) the last
        // checkpoint still bounds what is safe
        if let Err(e) = inner.flush_all() {
            tracing::warn!(error = %e, "flush before retention failed; using the last checkpoint");
        }
        let durable = inner
            .checkpoint
            .lock()
            .last()
            .map_or(0, |c| c.commit_log_flushed.min(c.cq_flushed));
        durable
            .min(inner.signal.flushed())
            .min(self.indexed_offset())
    }

    /// Removes segments oldest first while the pass allows it.
    fn remove_segments(
        &self,
        pass: &RetentionPass,
        safe: i64,
        report: &mut CleanReport,
    ) -> Result<(), StoreError> {
        let cl = &self.inner.cl;
        let now = SystemTime::now();
        let segments = cl.segments();
        let keep_last = segments.len().saturating_sub(1);
        for seg in &segments[..keep_last] {
            if report.segments_deleted >= pass.max_files || seg.start() + cl.segment_size() > safe {
                break;
            }
            if !pass.force && !expired(seg, now, pass.reserved)? {
                break;
            }
            match cl.remove_oldest(seg.start())? {
                Some(bytes) => {
                    report.segments_deleted += 1;
                    report.bytes_freed += bytes;
                }
                None => break,
            }
        }
        Ok(())
    }
}

/// Whether `seg` was last modified more than `reserved` before `now` (a modification time in
/// the future is not expired).
fn expired(seg: &Segment, now: SystemTime, reserved: Duration) -> Result<bool, StoreError> {
    let modified = seg.modified()?;
    Ok(now.duration_since(modified).is_ok_and(|age| age > reserved))
}
