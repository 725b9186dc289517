//! [`MessageStore::reset_to`]: restarts an empty commit log at a given offset, for a
//! replication slave whose master no longer has the data that follows the slave's end.
//!
//! Crash safety: a `reset` marker holding the offset is made durable first; then the consume
//! queues, the key index files and the commit log segments are removed, a fresh empty segment
//! is created at the offset, the checkpoint is written and the marker removed. A store opened
//! while the marker exists finishes the reset before recovery, so a crash at any point ends
//! in either the old store (marker not yet durable) or the reset one.

use crate::checkpoint::{Checkpoint, CheckpointFile};
use crate::commit_log::Tail;
use crate::error::{IoContext, StoreError};
use crate::inner::now_ms;
use crate::segment::{file_name, list_numbered, open_rw, sync_dir};
use crate::store::MessageStore;
use std::fs;
use std::io;
use std::path::Path;
use std::sync::atomic::Ordering;

/// Name of the marker file under the root directory.
const MARKER: &str = "reset";

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

fn checkpoint_at(offset: i64) -> Checkpoint {
    Checkpoint {
        commit_log_flushed: offset,
        cq_flushed: offset,
        timestamp: now_ms(),
        ..Default::default()
    }
}

/// At open, before anything else reads the files: completes a reset interrupted by a crash.
pub(crate) fn finish_interrupted(root: &Path) -> Result<(), StoreError> {
    let path = root.join(MARKER);
    let text = match fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(StoreError::io(e, format!("reading {}", path.display()))),
    };
    let offset: i64 = text.trim().parse().map_err(|_| {
        StoreError::Corrupt(format!(
            "{} does not hold an offset: {text:?}",
            path.display()
        ))
    })?;
    tracing::warn!(
        offset,
        "completing a commit log restart interrupted by a crash"
    );
    remove_files(root, offset)?;
    CheckpointFile::open(&root.join("checkpoint"))?.write(checkpoint_at(offset))?;
    remove_marker(root)
}

/// Writes the marker durably (temporary file, fsync, rename, directory fsync).
fn write_marker(root: &Path, offset: i64) -> Result<(), StoreError> {
    let tmp = root.join("reset.tmp");
    let path = root.join(MARKER);
    fs::write(&tmp, format!("{offset}\n"))
        .and_then(|()| fs::File::open(&tmp)?.sync_all())
        .ctx(|| format!("writing {}", path.display()))
        .map_err(|e| e.on_disk(root))?;
    crate::durable::rename(&tmp, &path)
}

fn remove_marker(root: &Path) -> Result<(), StoreError> {
    crate::durable::remove_file(&root.join(MARKER))
}

/// Removes the consume queues, the index files and every segment, then creates the empty
/// segment at `offset` (a new file: readers of the old one keep their inode). Idempotent.
fn remove_files(root: &Path, offset: i64) -> Result<(), StoreError> {
    let cq = root.join("consumequeue");
    crate::durable::remove_dir_all(&cq)?;
    crate::durable::create_dir_all(&cq)?;
    for dir in [root.join("index"), root.join("commitlog")] {
        for (_, path) in list_numbered(&dir)? {
            fs::remove_file(&path).ctx(|| format!("removing {}", path.display()))?;
        }
    }
    let commitlog = root.join("commitlog");
    crate::durable::create_dir_all(&commitlog)?;
    open_rw(&commitlog.join(file_name(offset)))?;
    for dir in [root.join("index"), commitlog] {
        if dir.exists() {
            sync_dir(&dir)?;
        }
    }
    sync_dir(root)
}
