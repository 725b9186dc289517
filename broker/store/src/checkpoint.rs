//! The `checkpoint` file: where recovery may start trusting data. Two 64-byte slots written
//! alternately, each with a sequence number and a CRC, so a torn write never loses the previous
//! checkpoint.
//!
//! Slot: `magic u32 | version u32 | seq u64 | commit_log_flushed i64 | cq_flushed i64 |
//! timestamp_ms i64 | reserved 20 | crc32 u32` (big-endian).

use crate::error::{IoContext, StoreError};
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

const MAGIC: u32 = 0x524D_5143; // "RMQC"
const VERSION: u32 = 1;
const SLOT: usize = 64;

/// What a checkpoint records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Checkpoint {
    /// Monotonic sequence number (the newer valid slot wins).
    pub seq: u64,
    /// The commit log is durable (fsynced) below this offset; a record boundary.
    pub commit_log_flushed: i64,
    /// Every consume queue unit for records below this commit log offset is durable.
    pub cq_flushed: i64,
    /// When it was written (ms).
    pub timestamp: i64,
}

impl Checkpoint {
    /// The slot bytes.
    pub fn encode(&self) -> [u8; SLOT] {
        let mut b = [0u8; SLOT];
        b[0..4].copy_from_slice(&MAGIC.to_be_bytes());
        b[4..8].copy_from_slice(&VERSION.to_be_bytes());
        b[8..16].copy_from_slice(&self.seq.to_be_bytes());
        b[16..24].copy_from_slice(&self.commit_log_flushed.to_be_bytes());
        b[24..32].copy_from_slice(&self.cq_flushed.to_be_bytes());
        b[32..40].copy_from_slice(&self.timestamp.to_be_bytes());
        let crc = crc32fast::hash(&b[..SLOT - 4]);
        b[SLOT - 4..].copy_from_slice(&crc.to_be_bytes());
        b
    }

    /// Decodes a slot; `None` if torn, foreign or of another version.
    pub fn decode(b: &[u8]) -> Option<Self> {
        let b = b.get(..SLOT)?;
        let u32_at = |p: usize| crate::record::get_i32(b, p).map(|v| v as u32);
        let i64_at = |p: usize| crate::record::get_i64(b, p);
        if u32_at(SLOT - 4)? != crc32fast::hash(&b[..SLOT - 4])
            || u32_at(0)? != MAGIC
            || u32_at(4)? != VERSION
        {
            return None;
        }
        let cp = Self {
            seq: i64_at(8)? as u64,
            commit_log_flushed: i64_at(16)?,
            cq_flushed: i64_at(24)?,
            timestamp: i64_at(32)?,
        };
        (cp.commit_log_flushed >= 0 && cp.cq_flushed >= 0).then_some(cp)
    }
}

/// The checkpoint file.
#[derive(Debug)]
pub struct CheckpointFile {
    path: PathBuf,
    file: File,
    last: Option<Checkpoint>,
}

impl CheckpointFile {
    /// Opens (or creates, durably: it is written in place, so only its creation touches the
    /// directory) the file and reads the newest valid slot.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let file = crate::durable::create_file(path)?;
        let mut buf = [0u8; 2 * SLOT];
        let mut got = 0;
        while got < buf.len() {
            match file.read_at(&mut buf[got..], got as u64) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) => return Err(StoreError::io(e, format!("reading {}", path.display()))),
            }
        }
        let last = [&buf[..SLOT], &buf[SLOT..]]
            .into_iter()
            .filter_map(Checkpoint::decode)
            .max_by_key(|c| c.seq);
        Ok(Self {
            path: path.to_path_buf(),
            file,
            last,
        })
    }

    /// The newest valid checkpoint, if any.
    pub fn last(&self) -> Option<Checkpoint> {
        self.last
    }

    /// Writes `cp` (its `seq` is assigned) into the older slot and fsyncs (a failed fsync is
    /// [`StoreError::PersistFailed`]).
    pub fn write(&mut self, mut cp: Checkpoint) -> Result<(), StoreError> {
        cp.seq = self.last.map_or(1, |l| l.seq + 1);
        let slot = (cp.seq % 2) * SLOT as u64;
        self.file
            .write_all_at(&cp.encode(), slot)
            .ctx(|| format!("writing {}", self.path.display()))?;
        crate::durable::sync_data(&self.file, &self.path)?;
        self.last = Some(cp);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alternating_slots_survive_a_torn_write() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("checkpoint");
        let mut f = CheckpointFile::open(&path).unwrap();
        assert_eq!(f.last(), None);
        for i in 1..=3 {
            f.write(Checkpoint {
                commit_log_flushed: i * 100,
                cq_flushed: i * 50,
                timestamp: i,
                ..Default::default()
            })
            .unwrap();
        }
        let f = CheckpointFile::open(&path).unwrap();
        assert_eq!(f.last().unwrap().commit_log_flushed, 300);
        assert_eq!(f.last().unwrap().seq, 3);
        // tear the newest slot (seq 3 lives in slot 1): the previous one is used
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[SLOT + 20] ^= 0xff;
        std::fs::write(&path, &bytes).unwrap();
        let f = CheckpointFile::open(&path).unwrap();
        assert_eq!(f.last().unwrap().commit_log_flushed, 200);
        std::fs::write(&path, b"garbage").unwrap();
        assert_eq!(CheckpointFile::open(&path).unwrap().last(), None);
    }
}
