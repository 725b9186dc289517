//! [`MessageStore::reset_to`]: restarts an empty commit log at a given offset, for a
//! replication slave whose master no longer has the data that follows the slave's end.
//!
//! Crash safety: a `reset` marker holding the offset is made durable first; then the consume
//! queues, the key index files and the commit log segments are removed, a fresh empty segment
//! is created at the offset, the checkpoint is written and the marker removed. A store opened
//! while the marker exists finishes the reset before recovery, so a crash at any point ends
//! in either the old store (marker not yet durable) or the reset one.

use crate::commit_log::Tail;
use crate::error::StoreError;
use crate::reset_marker::{checkpoint_at, remove_files, remove_marker, write_marker};
use crate::store::MessageStore;
use std::sync::atomic::Ordering;

impl MessageStore {
    /// Drops the whole store content and restarts an EMPTY commit log at `offset`, which must
    /// be a non-negative multiple of the segment size (a segment start, as a master's oldest
    /// offset is). Afterwards:
    /// - the commit log holds one empty segment starting at `offset`; min and max physical
    ///   offset are both `offset`, and the next append (or replicated `append_raw`) goes there;
    /// - every consume queue is gone: queues reappear as records are dispatched. Replicated
    ///   records carry the master's queue offsets, so a slave's queues continue at the master's
    ///   offsets (min = the first offset replicated). Records `put` locally start their queues
    ///   at offset 0;
    /// - the key index is empty and indexes from `offset`;
    /// - the checkpoint and the flushed offset are `offset`.
    ///
    /// Readers that are in the middle of a read finish on the old (unlinked) files. Blocks
    /// writers for the duration. If it fails part-way, the store must be reopened: opening
    /// completes an interrupted reset.
    pub fn reset_to(&self, offset: i64) -> Result<(), StoreError> {
        let inner = &*self.inner;
        let segment_size = inner.config.commit_log_segment_size;
        if offset < 0 || offset % segment_size as i64 != 0 {
            return Err(StoreError::UnalignedOffset {
                offset,
                segment_size,
            });
        }
        inner.check_open()?;
        let _one_at_a_time = self.maintenance.lock();
        let mut w = inner.write.lock();
        inner.check_open()?;
        let _no_flush = inner.flush_lock.lock();
        if let Some(ix) = &self.index {
            ix.stop();
        }
        let root = inner.config.root_dir.as_path();
        tracing::warn!(root = %root.display(), offset, from = inner.cl.min_offset(), to = inner.cl.max_offset(), "restarting the commit log: dropping every message of the store");
        write_marker(root, offset)?;
        remove_files(root, offset)?;
        inner.cl.reset(offset)?;
        w.tail = Tail::new(offset);
        inner.cl.prepare_tail(&mut w.tail)?;
        let old: Vec<_> = w
            .queues
            .drain()
            .flat_map(|(_, m)| m.into_values())
            .collect();
        inner.queues.write().clear();
        for q in old {
            q.delete()?;
        }
        inner.dispatched.store(offset, Ordering::Release);
        inner.signal.reset(offset);
        inner.checkpoint.lock().write(checkpoint_at(offset))?;
        remove_marker(root)?;
        if let Some(ix) = &self.index {
            ix.restart_at(&self.inner, offset)?;
        }
        Ok(())
    }
}
