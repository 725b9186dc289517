//! The epoch history of a replica's commit log (controller mode): for every master epoch the
//! offset where that epoch's records begin. Two replicas whose histories hold the same epoch
//! starting at the same offset agree on the log up to the point where that epoch ended on
//! either side; past that point, the one that was master in a superseded epoch holds a
//! divergent tail it must cut ([`crate::MessageStore::truncate_tail`]) before it follows the
//! new master.
//!
//! Persisted as `<root>/epoch`, one `epoch start` line per entry, replaced atomically
//! (temporary file, fsync, rename) at every change.

use crate::error::{IoContext, StoreError};
use std::fs;
use std::io;
use std::path::Path;

/// Where the records of one master epoch begin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EpochEntry {
    /// The master epoch (the controller's `masterEpoch`).
    pub epoch: u32,
    /// The commit log offset of its first record.
    pub start: i64,
}

/// The epochs of a commit log, oldest first (epochs and starts both ascending).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EpochHistory {
    entries: Vec<EpochEntry>,
}

impl EpochHistory {
    /// A history of `entries` (checked: epochs strictly and starts weakly ascending).
    pub fn from_entries(entries: Vec<EpochEntry>) -> Result<Self, StoreError> {
        let mut h = Self::default();
        for e in entries {
            h.begin(e.epoch, e.start)?;
        }
        Ok(h)
    }

    /// The entries, oldest first.
    pub fn entries(&self) -> &[EpochEntry] {
        &self.entries
    }

    /// The newest epoch, if any.
    pub fn last(&self) -> Option<EpochEntry> {
        self.entries.last().copied()
    }

    /// Records that `epoch` begins at `start`. Repeating the newest entry is a no-op; an epoch
    /// not newer than the newest, or a start before the newest's, is refused.
    pub fn begin(&mut self, epoch: u32, start: i64) -> Result<(), StoreError> {
        let entry = EpochEntry { epoch, start };
        match self.last() {
            Some(last) if last == entry => return Ok(()),
            Some(last) if epoch <= last.epoch || start < last.start => {
                return Err(StoreError::Corrupt(format!(
                    "epoch {epoch} at offset {start} cannot follow epoch {} at offset {}",
                    last.epoch, last.start
                )));
            }
            _ => {}
        }
        self.entries.push(entry);
        Ok(())
    }

    /// Forgets the epochs that begin at or after `offset` (the log is cut there).
    pub fn truncate_from(&mut self, offset: i64) {
        self.entries.retain(|e| e.start < offset);
    }

    /// Where the entry at `i` ends: the next entry's start, or `max_offset` for the newest.
    fn end(&self, i: usize, max_offset: i64) -> i64 {
        self.entries.get(i + 1).map_or(max_offset, |n| n.start)
    }

    /// The offset up to which this log (ending at `max_offset`) and `other` (ending at
    /// `other_max`) hold the same records: the end, on the side where it is smaller, of the
    /// newest epoch both hold with the same start. `None`: nothing in common (the replica
    /// must be rebuilt from the master).
    pub fn consistent_point(&self, max_offset: i64, other: &Self, other_max: i64) -> Option<i64> {
        self.entries.iter().enumerate().rev().find_map(|(i, e)| {
            let j = other.entries.iter().position(|o| o.epoch == e.epoch)?;
            (other.entries[j].start == e.start)
                .then(|| self.end(i, max_offset).min(other.end(j, other_max)))
        })
    }

    /// The file's text: one `epoch start` line per entry.
    pub fn encode(&self) -> String {
        self.entries
            .iter()
            .map(|e| format!("{} {}\n", e.epoch, e.start))
            .collect()
    }

    /// Parses [`EpochHistory::encode`]'s text.
    pub fn decode(text: &str) -> Result<Self, StoreError> {
        let bad = |n: usize, line: &str| {
            StoreError::Corrupt(format!(
                "epoch file line {n}: {line:?} is not `epoch start`"
            ))
        };
        let mut entries = Vec::new();
        for (n, line) in text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
        {
            let mut parts = line.split_whitespace();
            let (Some(epoch), Some(start), None) = (parts.next(), parts.next(), parts.next())
            else {
                return Err(bad(n + 1, line));
            };
            let epoch = epoch.parse().map_err(|_| bad(n + 1, line))?;
            let start = start.parse().map_err(|_| bad(n + 1, line))?;
            entries.push(EpochEntry { epoch, start });
        }
        Self::from_entries(entries)
    }

    /// Reads `<root>/epoch` (an empty history when there is none).
    pub fn load(root: &Path) -> Result<Self, StoreError> {
        let path = root.join("epoch");
        match fs::read_to_string(&path) {
            Ok(text) => Self::decode(&text),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Self::default()),
            Err(e) => Err(StoreError::io(e, format!("reading {}", path.display()))),
        }
    }

    /// Replaces `<root>/epoch` with this history, durably.
    pub fn save(&self, root: &Path) -> Result<(), StoreError> {
        let tmp = root.join("epoch.tmp");
        fs::write(&tmp, self.encode())
            .and_then(|()| fs::File::open(&tmp)?.sync_all())
            .ctx(|| format!("writing {}", tmp.display()))
            .map_err(|e| e.on_disk(root))?;
        crate::durable::rename(&tmp, &root.join("epoch"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn history(pairs: &[(u32, i64)]) -> EpochHistory {
        let entries = pairs
            .iter()
            .map(|&(epoch, start)| EpochEntry { epoch, start })
            .collect();
        EpochHistory::from_entries(entries).unwrap()
    }

    #[test]
    fn an_old_master_cuts_where_the_new_master_s_epoch_began() {
        // old master: epochs 1 and 2, wrote up to 900 in epoch 2 (the slave had up to 700)
        let old = history(&[(1, 0), (2, 400)]);
        // new master (elected in epoch 3 at its end, 700)
        let new = history(&[(1, 0), (2, 400), (3, 700)]);
        assert_eq!(old.consistent_point(900, &new, 1200), Some(700));
        assert_eq!(new.consistent_point(1200, &old, 900), Some(700));
    }

    #[test]
    fn a_replica_behind_needs_no_cut_and_strangers_have_nothing_in_common() {
        let master = history(&[(1, 0), (2, 400)]);
        let behind = history(&[(1, 0)]);
        assert_eq!(behind.consistent_point(300, &master, 800), Some(300));
        let other_start = history(&[(1, 0), (2, 500)]);
        assert_eq!(other_start.consistent_point(600, &master, 800), Some(400));
        let stranger = history(&[(5, 0)]);
        assert_eq!(stranger.consistent_point(10, &master, 800), None);
        assert_eq!(
            EpochHistory::default().consistent_point(0, &master, 800),
            None
        );
    }

    #[test]
    fn epochs_only_grow_and_cuts_forget_later_epochs() {
        let mut h = history(&[(1, 0), (2, 400), (4, 900)]);
        h.begin(4, 900).unwrap();
        assert!(h.begin(3, 1000).is_err());
        assert!(h.begin(5, 800).is_err());
        h.truncate_from(900);
        assert_eq!(
            h.last(),
            Some(EpochEntry {
                epoch: 2,
                start: 400
            })
        );
        h.begin(5, 900).unwrap();
        assert_eq!(h.entries().len(), 3);
    }

    #[test]
    fn the_file_round_trips_and_bad_lines_are_named() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            EpochHistory::load(dir.path()).unwrap(),
            EpochHistory::default()
        );
        let h = history(&[(1, 0), (3, 4096)]);
        h.save(dir.path()).unwrap();
        assert_eq!(EpochHistory::load(dir.path()).unwrap(), h);
        let e = EpochHistory::decode("1 0\n2 x\n").unwrap_err();
        assert!(e.to_string().contains("line 2"), "{e}");
        assert!(EpochHistory::decode("2 10\n1 20\n").is_err());
    }
}
