//! The files of a commit log reset ([`crate::MessageStore::reset_to`]): its durable marker, the
//! removal of the old files and the empty segment at the new offset, and the completion at open
//! of a reset a crash interrupted (before recovery reads anything).

use crate::checkpoint::{Checkpoint, CheckpointFile};
use crate::error::{IoContext, StoreError};
use crate::inner::now_ms;
use crate::segment::{file_name, list_numbered, open_rw, sync_dir};
use std::fs;
use std::io;
use std::path::Path;

/// Name of the marker file under the root directory.
const MARKER: &str = "reset";

/// The checkpoint of a store that restarts empty at `offset`.
pub(crate) fn checkpoint_at(offset: i64) -> Checkpoint {
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
pub(crate) fn write_marker(root: &Path, offset: i64) -> Result<(), StoreError> {
    let tmp = root.join("reset.tmp");
    let path = root.join(MARKER);
    fs::write(&tmp, format!("{offset}\n"))
        .and_then(|()| fs::File::open(&tmp)?.sync_all())
        .ctx(|| format!("writing {}", path.display()))
        .map_err(|e| e.on_disk(root))?;
    crate::durable::rename(&tmp, &path)
}

/// Removes the marker durably: the reset is complete.
pub(crate) fn remove_marker(root: &Path) -> Result<(), StoreError> {
    crate::durable::remove_file(&root.join(MARKER))
}

/// Removes the consume queues, the index files and every segment, then creates the empty
/// segment at `offset` (a new file: readers of the old one keep their inode). Idempotent.
pub(crate) fn remove_files(root: &Path, offset: i64) -> Result<(), StoreError> {
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
