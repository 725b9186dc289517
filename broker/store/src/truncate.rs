//! Cutting a divergent tail: a replica that was master in an epoch the controller superseded
//! may hold records the new master never had. Before it follows the new master it drops
//! everything from the point where both logs last agreed (see [`crate::epoch`]).
//!
//! [`crate::MessageStore::truncate_tail`] makes a `truncate` marker holding the offset durable; the
//! next [`crate::MessageStore::open`] runs recovery capped at that offset — the commit log, every
//! consume queue and the key index end there, the epoch file forgets the epochs that start at
//! or after it — and removes the marker once the cut store is durable. A crash at any point
//! leaves the marker, so the next open cuts again: the result is the same.

use crate::epoch::EpochHistory;
use crate::error::{IoContext, StoreError};
use std::fs;
use std::io;
use std::path::Path;

/// Name of the marker file under the store's root directory.
const MARKER: &str = "truncate";

/// Makes the marker asking the next open of the store under `root` to cut at `offset` durable
/// (see [`crate::MessageStore::truncate_tail`]).
pub(crate) fn request(root: &Path, offset: i64) -> Result<(), StoreError> {
    if offset < 0 {
        return Err(StoreError::Corrupt(format!(
            "cannot truncate the commit log at a negative offset ({offset})"
        )));
    }
    crate::durable::create_dir_all(root)?;
    let tmp = root.join("truncate.tmp");
    fs::write(&tmp, format!("{offset}\n"))
        .and_then(|()| fs::File::open(&tmp)?.sync_all())
        .ctx(|| format!("writing {}", tmp.display()))
        .map_err(|e| e.on_disk(root))?;
    crate::durable::rename(&tmp, &root.join(MARKER))?;
    tracing::warn!(root = %root.display(), offset, "commit log tail will be cut at the next open");
    Ok(())
}

/// The offset a pending truncation cuts at, if one is pending.
pub(crate) fn pending(root: &Path) -> Result<Option<i64>, StoreError> {
    let path = root.join(MARKER);
    let text = match fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(StoreError::io(e, format!("reading {}", path.display()))),
    };
    match text.trim().parse::<i64>() {
        Ok(offset) if offset >= 0 => Ok(Some(offset)),
        _ => Err(StoreError::Corrupt(format!(
            "{} does not hold an offset: {text:?}; remove it to open the store without cutting",
            path.display()
        ))),
    }
}

/// The commit log now ends at `end`: the epoch file forgets the epochs that begin at or after
/// it, then the marker goes.
pub(crate) fn finish(root: &Path, end: i64) -> Result<(), StoreError> {
    let mut epochs = EpochHistory::load(root)?;
    let before = epochs.entries().len();
    epochs.truncate_from(end);
    if epochs.entries().len() != before {
        epochs.save(root)?;
    }
    crate::durable::remove_file(&root.join(MARKER))
}
