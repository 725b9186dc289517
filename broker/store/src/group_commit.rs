//! [`GroupCommit`]: one writer of a whole-file table at a time, and one write shared by the
//! changes made while another write was running.
//!
//! Metadata tables (the broker's topics and subscription groups, the nameserver's KV config)
//! are rewritten whole on every change, durably, before the change is acknowledged. Written
//! without coordination, two writers race on the temporary file (one rename fails) and an older
//! snapshot can be renamed over a newer one; written under the table's own lock, every change
//! pays a full write and fsync in turn. Here a change is counted under the table's lock, and
//! [`GroupCommit::commit`] returns once a finished write holds it: its own, or one that started
//! after it was counted.

use parking_lot::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// Coordinates the writes of one table file.
#[derive(Debug, Default)]
pub struct GroupCommit {
    /// Changes counted so far.
    changes: AtomicU64,
    /// Changes the file holds (`None`: not written yet).
    durable: Mutex<Option<u64>>,
}

impl GroupCommit {
    /// Counts a change (call after making it, while the table's lock is still held).
    pub fn changed(&self) {
        self.changes.fetch_add(1, Ordering::SeqCst);
    }

    /// Returns once the file holds every change counted before this call: at once if a
    /// finished write already does, else after `write` (which writes the table as it is now).
    pub fn commit<E>(&self, write: impl FnOnce() -> Result<(), E>) -> Result<(), E> {
        let wanted = self.changes.load(Ordering::SeqCst);
        let mut durable = self.durable.lock();
        if durable.is_some_and(|done| done >= wanted) {
            return Ok(());
        }
        // Counted before the snapshot is taken: the write holds at least these changes.
        let covered = self.changes.load(Ordering::SeqCst);
        write()?;
        *durable = Some(covered);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn a_write_covers_what_was_counted_before_it() {
        let gc = GroupCommit::default();
        let mut writes = 0;
        gc.commit::<()>(|| {
            writes += 1;
            Ok(())
        })
        .unwrap();
        assert_eq!(writes, 1, "never written: the first commit writes");
        gc.commit::<()>(|| {
            writes += 1;
            Ok(())
        })
        .unwrap();
        assert_eq!(writes, 1, "nothing changed since");
        gc.changed();
        gc.commit::<()>(|| {
            writes += 1;
            Ok(())
        })
        .unwrap();
        assert_eq!(writes, 2);
    }

    #[test]
    fn a_failed_write_is_retried_by_the_next_commit() {
        let gc = GroupCommit::default();
        gc.changed();
        assert!(gc.commit(|| Err("disk")).is_err());
        let mut wrote = false;
        gc.commit::<()>(|| {
            wrote = true;
            Ok(())
        })
        .unwrap();
        assert!(wrote);
    }

    #[test]
    fn concurrent_changes_share_writes() {
        let gc = Arc::new(GroupCommit::default());
        let writes = Arc::new(AtomicU64::new(0));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let (gc, writes) = (gc.clone(), writes.clone());
                std::thread::spawn(move || {
                    for _ in 0..50 {
                        gc.changed();
                        gc.commit::<()>(|| {
                            writes.fetch_add(1, Ordering::SeqCst);
                            std::thread::sleep(std::time::Duration::from_millis(1));
                            Ok(())
                        })
                        .unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let n = writes.load(Ordering::SeqCst);
        assert!(
            (1..400).contains(&n),
            "8 threads x 50 changes shared writes: {n} writes"
        );
        assert_eq!(
            *gc.durable.lock(),
            Some(400),
            "the last write holds every change"
        );
    }
}
