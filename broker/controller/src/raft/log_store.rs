//! The Raft log and vote on disk.
//!
//! `raft-log.jsonl` holds one JSON record a line: an entry (`{"entry":…}`), or the id up to
//! which entries were purged after a snapshot (`{"purged":…}`). Appends are written and
//! fsynced before openraft is told they are durable; a truncation or purge rewrites the file
//! atomically. A torn last line (a crash in the middle of an append that was therefore never
//! acknowledged) is cut off when the log is opened. `raft-vote.json` and
//! `raft-committed.json` are replaced atomically.

use super::fsutil::{read_optional, sync_dir, write_atomic};
use super::{LogId, NodeId, StorageError, TypeConfig};
use openraft::storage::{LogFlushed, LogState, RaftLogStorage};
use openraft::{AnyError, Entry, OptionalSend, RaftLogReader, StorageIOError, Vote};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Debug;
use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::ops::RangeBounds;
use std::path::{Path, PathBuf};
use std::sync::Arc;

const LOG_FILE: &str = "raft-log.jsonl";
const VOTE_FILE: &str = "raft-vote.json";
const COMMITTED_FILE: &str = "raft-committed.json";

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
enum Record {
    Entry(Entry<TypeConfig>),
    Purged(LogId),
}

struct Files {
    dir: PathBuf,
    log: File,
    entries: BTreeMap<u64, Entry<TypeConfig>>,
    purged: Option<LogId>,
    vote: Option<Vote<NodeId>>,
    committed: Option<LogId>,
}

/// The log store; clones share the files (the reader openraft asks for is a clone).
#[derive(Clone)]
pub struct LogStore {
    files: Arc<Mutex<Files>>,
}

fn io_err(e: &std::io::Error) -> StorageError {
    StorageIOError::write_logs(AnyError::new(e)).into()
}

impl LogStore {
    /// Opens (or creates) the log in `dir`, cutting off a torn last line.
    pub fn open(dir: &Path) -> std::io::Result<Self> {
        let path = dir.join(LOG_FILE);
        let mut entries = BTreeMap::new();
        let mut purged = None;
        let mut valid_len = 0u64;
        if let Ok(file) = std::fs::File::open(&path) {
            for line in BufReader::new(file).split(b'\n') {
                let line = line?;
                let Ok(record) = serde_json::from_slice::<Record>(&line) else {
                    tracing::warn!(file = %path.display(), "cutting off a torn record at the end of the Raft log");
                    break;
                };
                valid_len += line.len() as u64 + 1;
                apply_record(&mut entries, &mut purged, record);
            }
        }
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)?;
        if log.metadata()?.len() != valid_len {
            log.set_len(valid_len)?;
            log.sync_all()?;
        }
        sync_dir(&path)?;
        let vote = read_json(&dir.join(VOTE_FILE))?;
        let committed = read_json(&dir.join(COMMITTED_FILE))?;
        let files = Files {
            dir: dir.to_owned(),
            log,
            entries,
            purged,
            vote,
            committed,
        };
        Ok(Self {
            files: Arc::new(Mutex::new(files)),
        })
    }
}

fn apply_record(
    entries: &mut BTreeMap<u64, Entry<TypeConfig>>,
    purged: &mut Option<LogId>,
    record: Record,
) {
    match record {
        Record::Entry(e) => {
            // a later entry at an index replaces it and everything after (a truncation)
            entries.split_off(&e.log_id.index);
            entries.insert(e.log_id.index, e);
        }
        Record::Purged(id) => {
            *entries = entries.split_off(&(id.index + 1));
            *purged = Some(id);
        }
    }
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> std::io::Result<Option<T>> {
    match read_optional(path)? {
        None => Ok(None),
        Some(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("{} is not valid: {e}", path.display()),
            )
        }),
    }
}

fn line(record: &Record) -> std::io::Result<Vec<u8>> {
    let mut bytes = serde_json::to_vec(record).map_err(std::io::Error::other)?;
    bytes.push(b'\n');
    Ok(bytes)
}

impl Files {
    /// Rewrites the whole log file from memory (after a truncation or purge).
    fn rewrite(&mut self) -> std::io::Result<()> {
        let mut text = Vec::new();
        if let Some(p) = self.purged {
            text.extend(line(&Record::Purged(p))?);
        }
        for e in self.entries.values() {
            text.extend(line(&Record::Entry(e.clone()))?);
        }
        let path = self.dir.join(LOG_FILE);
        write_atomic(&path, &text)?;
        self.log = std::fs::OpenOptions::new().append(true).open(&path)?;
        Ok(())
    }
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry<TypeConfig>>, StorageError> {
        let files = self.files.lock();
        Ok(files.entries.range(range).map(|(_, e)| e.clone()).collect())
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = Self;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, StorageError> {
        let files = self.files.lock();
        let last = files
            .entries
            .values()
            .next_back()
            .map(|e| e.log_id)
            .or(files.purged);
        Ok(LogState {
            last_purged_log_id: files.purged,
            last_log_id: last,
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote<NodeId>) -> Result<(), StorageError> {
        let mut files = self.files.lock();
        let bytes = serde_json::to_vec(vote).map_err(|e| io_err(&std::io::Error::other(e)))?;
        write_atomic(&files.dir.join(VOTE_FILE), &bytes)
            .map_err(|e| StorageIOError::write_vote(AnyError::new(&e)))?;
        files.vote = Some(*vote);
        Ok(())
    }

    async fn read_vote(&mut self) -> Result<Option<Vote<NodeId>>, StorageError> {
        Ok(self.files.lock().vote)
    }

    async fn save_committed(&mut self, committed: Option<LogId>) -> Result<(), StorageError> {
        let mut files = self.files.lock();
        let bytes =
            serde_json::to_vec(&committed).map_err(|e| io_err(&std::io::Error::other(e)))?;
        write_atomic(&files.dir.join(COMMITTED_FILE), &bytes).map_err(|e| io_err(&e))?;
        files.committed = committed;
        Ok(())
    }

    async fn read_committed(&mut self) -> Result<Option<LogId>, StorageError> {
        Ok(self.files.lock().committed)
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: LogFlushed<TypeConfig>,
    ) -> Result<(), StorageError>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let mut files = self.files.lock();
        let mut bytes = Vec::new();
        let mut new = Vec::new();
        for e in entries {
            bytes.extend(line(&Record::Entry(e.clone())).map_err(|e| io_err(&e))?);
            new.push(e);
        }
        let written = files
            .log
            .write_all(&bytes)
            .and_then(|()| files.log.sync_data());
        if let Err(e) = written {
            let err = io_err(&e);
            callback.log_io_completed(Err(e));
            return Err(err);
        }
        for e in new {
            files.entries.insert(e.log_id.index, e);
        }
        callback.log_io_completed(Ok(()));
        Ok(())
    }

    async fn truncate(&mut self, log_id: LogId) -> Result<(), StorageError> {
        let mut files = self.files.lock();
        files.entries.split_off(&log_id.index);
        files.rewrite().map_err(|e| io_err(&e))
    }

    async fn purge(&mut self, log_id: LogId) -> Result<(), StorageError> {
        let mut files = self.files.lock();
        let kept = files.entries.split_off(&(log_id.index + 1));
        files.entries = kept;
        files.purged = Some(log_id);
        files.rewrite().map_err(|e| io_err(&e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openraft::{CommittedLeaderId, EntryPayload};

    fn entry(index: u64, term: u64) -> Entry<TypeConfig> {
        Entry {
            log_id: LogId::new(CommittedLeaderId::new(term, 0), index),
            payload: EntryPayload::Normal(crate::Event::CleanGroup {
                group: format!("g{index}"),
                ids: Default::default(),
            }),
        }
    }

    fn write_raw(dir: &Path, records: &[Record], tail: &[u8]) {
        let mut bytes = Vec::new();
        for r in records {
            bytes.extend(line(r).unwrap());
        }
        bytes.extend_from_slice(tail);
        std::fs::write(dir.join(LOG_FILE), bytes).unwrap();
    }

    #[tokio::test]
    async fn reopens_entries_drops_a_torn_tail_and_keeps_truncations() {
        let dir = tempfile::tempdir().unwrap();
        let records = [
            Record::Entry(entry(1, 1)),
            Record::Entry(entry(2, 1)),
            Record::Entry(entry(3, 1)),
            // a new leader overwrote index 2 (the old 2 and 3 are gone)
            Record::Entry(entry(2, 2)),
        ];
        write_raw(dir.path(), &records, b"{\"entry\":{\"log_id\"");
        let mut s = LogStore::open(dir.path()).unwrap();
        let got = s.try_get_log_entries(0..).await.unwrap();
        let ids: Vec<(u64, u64)> = got
            .iter()
            .map(|e| (e.log_id.index, e.log_id.leader_id.term))
            .collect();
        assert_eq!(ids, vec![(1, 1), (2, 2)]);
        let len = std::fs::metadata(dir.path().join(LOG_FILE)).unwrap().len();
        let text = std::fs::read_to_string(dir.path().join(LOG_FILE)).unwrap();
        assert_eq!(len as usize, text.len());
        assert!(text.ends_with('\n'), "torn tail cut off");
        // purge, then reopen: the purged id survives
        s.purge(entry(1, 1).log_id).await.unwrap();
        let vote = Vote::new(3, 1);
        s.save_vote(&vote).await.unwrap();
        drop(s);
        let mut s = LogStore::open(dir.path()).unwrap();
        let st = s.get_log_state().await.unwrap();
        assert_eq!(st.last_purged_log_id, Some(entry(1, 1).log_id));
        assert_eq!(st.last_log_id, Some(entry(2, 2).log_id));
        assert_eq!(s.read_vote().await.unwrap(), Some(vote));
    }
}
