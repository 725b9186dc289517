//! Retention of one consume queue: once the commit log's oldest segments are gone, the
//! queue's minimum offset moves to its first unit whose record is still there, and the files
//! holding only units below it are removed. The newest file always stays, so the queue's max
//! offset (the next queue offset to give out) survives a restart even when every unit points
//! into deleted data.

use super::ConsumeQueue;
use crate::error::StoreError;
use crate::segment::sync_dir;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::sync::atomic::Ordering;

/// What [`ConsumeQueue::remove_files_below_min`] removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Removed {
    /// Files removed.
    pub files: usize,
    /// Disk space they held (allocated blocks).
    pub bytes: u64,
}

impl ConsumeQueue {
    /// Raises the minimum offset to the first unit whose record is at or above
    /// `commit_log_min` (never lowers it; units appended meanwhile are newer, so the search
    /// over `[min, max)` stays right under concurrent appends). Returns the new minimum.
    pub fn raise_min_offset(&self, commit_log_min: i64) -> Result<i64, StoreError> {
        let (min, max) = (self.min_offset(), self.max_offset());
        let first = self.first_unit_from(min, max, commit_log_min)?;
        let prev = self.min_offset.fetch_max(first, Ordering::AcqRel);
        Ok(prev.max(first))
    }

    /// Removes, oldest first, the files whose every unit is below the minimum offset, except
    /// the newest file. Each file leaves the list and the directory under the list's write
    /// lock, so a reader either opened it before (and keeps reading the unlinked file) or never
    /// sees it. A crash in between leaves a prefix removed, which [`ConsumeQueue::load`]
    /// accepts.
    pub fn remove_files_below_min(&self) -> Result<Removed, StoreError> {
        let min = self.min_offset();
        let mut removed = Removed::default();
        let mut files = self.files.write();
        while files.len() > 1 && files[0].start + self.units_per_file <= min {
            let path = &files[0].path;
            match std::fs::metadata(path) {
                Ok(m) => removed.bytes += m.blocks() * 512,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(StoreError::io(e, format!("stat {}", path.display()))),
            }
            match std::fs::remove_file(path) {
                Ok(()) => removed.files += 1,
                // a concurrent topic deletion removed the directory
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(StoreError::io(e, format!("removing {}", path.display()))),
            }
            files.remove(0);
        }
        drop(files);
        // one directory fsync makes every removal of the pass durable
        if removed.files > 0 {
            sync_dir(&self.dir)?;
        }
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use crate::consume_queue::{ConsumeQueue, CqUnit};

    fn unit(offset: i64) -> CqUnit {
        CqUnit {
            offset,
            size: 100,
            tags_code: 0,
        }
    }

    #[test]
    fn min_moves_up_and_files_below_it_go_except_the_newest() {
        let dir = tempfile::tempdir().unwrap();
        let q = ConsumeQueue::new(dir.path(), "T", 0, 4);
        for i in 0..10 {
            q.append(&unit(i * 100)).unwrap();
        }
        q.sync().unwrap();
        // records below commit log offset 500 are gone: units 0..5
        assert_eq!(q.raise_min_offset(500).unwrap(), 5);
        assert_eq!(q.raise_min_offset(0).unwrap(), 5, "never lowered");
        let r = q.remove_files_below_min().unwrap();
        assert_eq!(r.files, 1, "only the file of units 0..4 is wholly below 5");
        assert_eq!(std::fs::read_dir(q.dir()).unwrap().count(), 2);
        assert_eq!(q.unit(5).unwrap(), Some(unit(500)));
        // everything gone: the newest file stays and keeps the max offset
        assert_eq!(q.raise_min_offset(10_000).unwrap(), 10);
        assert_eq!(q.remove_files_below_min().unwrap().files, 1);
        assert_eq!(std::fs::read_dir(q.dir()).unwrap().count(), 1);
        let reloaded = ConsumeQueue::load(dir.path(), "T", 0, 4).unwrap();
        reloaded.init_min_offset(10_000).unwrap();
        assert_eq!((reloaded.min_offset(), reloaded.max_offset()), (10, 10));
    }

    #[test]
    fn open_finds_the_min_past_several_stale_files() {
        let dir = tempfile::tempdir().unwrap();
        let q = ConsumeQueue::new(dir.path(), "T", 0, 4);
        for i in 0..14 {
            q.append(&unit(i * 100)).unwrap();
        }
        q.sync().unwrap();
        let q = ConsumeQueue::load(dir.path(), "T", 0, 4).unwrap();
        q.init_min_offset(1_100).unwrap();
        assert_eq!(
            q.min_offset(),
            11,
            "three files wholly below the commit log min"
        );
    }
}
