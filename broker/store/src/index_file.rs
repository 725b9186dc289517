//! One key-index file (`index/<20-digit first commit log offset>`): a hash table of chained
//! entries, written with pwrite and read with pread (no mmap).
//!
//! ```text
//! header 64 B  magic "RMQINDX1" | slots u32 | capacity u32 | begin_phy i64 | end_phy i64 |
//!              begin_ts i64 | end_ts i64 | entries u32 | sealed u32 | crc32 u32 | reserved u32
//! slots        slots × u32: 1 + index of the newest entry of the slot (0 = empty); on disk only
//!              once the file is sealed, rebuilt from the entries while it is the active file
//! entries      capacity × 24 B: key hash u32 | prev u32 (1 + index, 0 = end) | phy i64 | ts i64
//! ```
//! `end_phy` is the resume point: every record below it is indexed by the entries counted in
//! the header. Entries are appended in commit log order, so a prefix of them is always
//! consistent; the header is written after the entries it counts have been synced.

use crate::error::{IoContext, StoreError};
use crate::segment::{file_name, open_rw};
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

const MAGIC: &[u8; 8] = b"RMQINDX1";
/// Header size.
pub const HEADER_LEN: u64 = 64;
/// Entry size.
pub const ENTRY_LEN: usize = 24;

/// The header fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Header {
    /// Number of hash slots.
    pub slots: u32,
    /// Most entries the file holds.
    pub capacity: u32,
    /// Commit log offset where the file starts indexing.
    pub begin_phy: i64,
    /// Every record below this offset is indexed (resume point).
    pub end_phy: i64,
    /// Oldest store timestamp indexed (0 = none yet).
    pub begin_ts: i64,
    /// Newest store timestamp indexed.
    pub end_ts: i64,
    /// Entries covered by `end_phy`.
    pub entries: u32,
    /// The slot table is on disk.
    pub sealed: bool,
}

impl Header {
    fn encode(&self) -> [u8; HEADER_LEN as usize] {
        let mut b = [0u8; HEADER_LEN as usize];
        b[0..8].copy_from_slice(MAGIC);
        b[8..12].copy_from_slice(&self.slots.to_be_bytes());
        b[12..16].copy_from_slice(&self.capacity.to_be_bytes());
        b[16..24].copy_from_slice(&self.begin_phy.to_be_bytes());
        b[24..32].copy_from_slice(&self.end_phy.to_be_bytes());
        b[32..40].copy_from_slice(&self.begin_ts.to_be_bytes());
        b[40..48].copy_from_slice(&self.end_ts.to_be_bytes());
        b[48..52].copy_from_slice(&self.entries.to_be_bytes());
        b[52..56].copy_from_slice(&u32::from(self.sealed).to_be_bytes());
        let crc = crc32fast::hash(&b[..56]);
        b[56..60].copy_from_slice(&crc.to_be_bytes());
        b
    }

    fn decode(b: &[u8]) -> Option<Self> {
        let u32_at = |p: usize| crate::record::get_i32(b, p).map(|v| v as u32);
        let i64_at = |p: usize| crate::record::get_i64(b, p);
        if b.get(0..8)? != MAGIC || u32_at(56)? != crc32fast::hash(b.get(..56)?) {
            return None;
        }
        let h = Self {
            slots: u32_at(8)?,
            capacity: u32_at(12)?,
            begin_phy: i64_at(16)?,
            end_phy: i64_at(24)?,
            begin_ts: i64_at(32)?,
            end_ts: i64_at(40)?,
            entries: u32_at(48)?,
            sealed: u32_at(52)? == 1,
        };
        (h.slots > 0 && h.entries <= h.capacity && h.end_phy >= h.begin_phy).then_some(h)
    }
}

/// One entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    /// Hash of `topic#key`.
    pub hash: u32,
    /// 1 + index of the previous entry of the same slot (0 = none).
    pub prev: u32,
    /// Commit log offset of the record.
    pub phy: i64,
    /// Store timestamp of the record.
    pub ts: i64,
}

impl Entry {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.hash.to_be_bytes());
        out.extend_from_slice(&self.prev.to_be_bytes());
        out.extend_from_slice(&self.phy.to_be_bytes());
        out.extend_from_slice(&self.ts.to_be_bytes());
    }

    fn decode(b: &[u8]) -> Option<Self> {
        Some(Self {
            hash: crate::record::get_i32(b, 0)? as u32,
            prev: crate::record::get_i32(b, 4)? as u32,
            phy: crate::record::get_i64(b, 8)?,
            ts: crate::record::get_i64(b, 16)?,
        })
    }
}

/// An index file. The active (last) file keeps its slots in memory.
#[derive(Debug)]
pub struct IndexFile {
    path: PathBuf,
    file: File,
    /// Header as of the last append (entries/end are ahead of the on-disk header).
    pub header: Header,
    slots: Option<Vec<u32>>,
    pending: Vec<u8>,
    written: u32,
}

impl IndexFile {
    fn entries_start(&self) -> u64 {
        HEADER_LEN + u64::from(self.header.slots) * 4
    }

    /// Creates an empty active file indexing from `begin_phy` (its directory entry durable).
    pub fn create(
        dir: &Path,
        begin_phy: i64,
        slots: u32,
        capacity: u32,
    ) -> Result<Self, StoreError> {
        let path = dir.join(file_name(begin_phy));
        let file = crate::durable::create_file(&path)?;
        file.set_len(0)
            .ctx(|| format!("truncating {}", path.display()))?;
        let f = Self {
            path,
            file,
            header: Header {
                slots: slots.max(1),
                capacity,
                begin_phy,
                end_phy: begin_phy,
                ..Header::default()
            },
            slots: Some(vec![0; slots.max(1) as usize]),
            pending: Vec::new(),
            written: 0,
        };
        f.write_header()?;
        Ok(f)
    }

    /// Opens a file; `active` loads the entries counted by the header (dropping those for
    /// records at or past `cut`) and rebuilds the slots. `None` if the header is unusable.
    pub fn open(path: &Path, active: bool, cut: i64) -> Result<Option<Self>, StoreError> {
        let file = open_rw(path)?;
        let mut hb = [0u8; HEADER_LEN as usize];
        let n = file
            .read_at(&mut hb, 0)
            .ctx(|| format!("reading {}", path.display()))?;
        let Some(header) = Header::decode(&hb[..n]) else {
            return Ok(None);
        };
        let mut f = Self {
            path: path.to_path_buf(),
            file,
            header,
            slots: None,
            pending: Vec::new(),
            written: header.entries,
        };
        if !active {
            return Ok(f.header.sealed.then_some(f));
        }
        let mut slots = vec![0u32; header.slots as usize];
        let mut buf = vec![0u8; header.entries as usize * ENTRY_LEN];
        let got = f
            .file
            .read_at(&mut buf, f.entries_start())
            .ctx(|| format!("reading {}", path.display()))?;
        let mut kept = 0u32;
        let mut last_ts = 0;
        for chunk in buf[..got - got % ENTRY_LEN].chunks_exact(ENTRY_LEN) {
            let Some(e) = Entry::decode(chunk) else { break };
            if e.phy >= cut || e.prev > kept {
                break;
            }
            slots[(e.hash % header.slots) as usize] = kept + 1;
            kept += 1;
            last_ts = e.ts;
        }
        if kept < header.entries {
            f.header.entries = kept;
            f.header.end_ts = last_ts;
        }
        f.header.end_phy = cut.min(f.header.end_phy).max(f.header.begin_phy);
        f.written = kept;
        f.header.sealed = false;
        f.slots = Some(slots);
        let len = f.entries_start() + u64::from(kept) * ENTRY_LEN as u64;
        f.file
            .set_len(len)
            .ctx(|| format!("truncating {}", path.display()))?;
        f.write_header()?;
        // the cut must be durable before the commit log grows again past it: a header that
        // reverted after a power cut would resume inside records written since
        crate::durable::sync_data(&f.file, path)?;
        Ok(Some(f))
    }

    /// Path of the file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Disk space the file holds (allocated blocks).
    pub fn disk_bytes(&self) -> Result<u64, StoreError> {
        use std::os::unix::fs::MetadataExt;
        self.file
            .metadata()
            .map(|m| m.blocks() * 512)
            .ctx(|| format!("stat {}", self.path.display()))
    }

    /// True when `n` more entries do not fit.
    pub fn lacks_room(&self, n: usize) -> bool {
        self.header.entries as usize + n > self.header.capacity as usize
    }

    /// Adds an entry (active files only; the caller checks room).
    pub fn append(&mut self, hash: u32, phy: i64, ts: i64) {
        let Some(slots) = self.slots.as_mut() else {
            return;
        };
        let slot = (hash % self.header.slots) as usize;
        let e = Entry {
            hash,
            prev: slots[slot],
            phy,
            ts,
        };
        e.encode(&mut self.pending);
        self.header.entries += 1;
        slots[slot] = self.header.entries;
        if self.header.begin_ts == 0 {
            self.header.begin_ts = ts;
        }
        self.header.end_ts = self.header.end_ts.max(ts);
    }

    /// Marks every record below `end_phy` as indexed (in memory).
    pub fn set_end(&mut self, end_phy: i64) {
        self.header.end_phy = self.header.end_phy.max(end_phy);
    }

    /// Writes appended entries to the file (page cache).
    pub fn write_pending(&mut self) -> Result<(), StoreError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let at = self.entries_start() + u64::from(self.written) * ENTRY_LEN as u64;
        self.file
            .write_all_at(&self.pending, at)
            .ctx(|| format!("writing {}", self.path.display()))?;
        self.written += (self.pending.len() / ENTRY_LEN) as u32;
        self.pending.clear();
        Ok(())
    }

    fn write_header(&self) -> Result<(), StoreError> {
        self.file
            .write_all_at(&self.header.encode(), 0)
            .ctx(|| format!("writing {}", self.path.display()))
    }

    /// Makes the entries durable, then the header that counts them.
    pub fn flush(&mut self) -> Result<(), StoreError> {
        self.write_pending()?;
        crate::durable::sync_data(&self.file, &self.path)?;
        self.write_header()
    }

    /// Writes the slot table, marks the file sealed and frees the in-memory slots.
    pub fn seal(&mut self) -> Result<(), StoreError> {
        if let Some(slots) = self.slots.take() {
            let mut bytes = Vec::with_capacity(slots.len() * 4);
            for s in &slots {
                bytes.extend_from_slice(&s.to_be_bytes());
            }
            self.file
                .write_all_at(&bytes, HEADER_LEN)
                .ctx(|| format!("writing {}", self.path.display()))?;
        }
        self.header.sealed = true;
        self.flush()?;
        crate::durable::sync_data(&self.file, &self.path)
    }

    fn entry(&self, idx: u32) -> Result<Option<Entry>, StoreError> {
        if idx >= self.written {
            let from = (idx - self.written) as usize * ENTRY_LEN;
            return Ok(self
                .pending
                .get(from..from + ENTRY_LEN)
                .and_then(Entry::decode));
        }
        let mut b = [0u8; ENTRY_LEN];
        let at = self.entries_start() + u64::from(idx) * ENTRY_LEN as u64;
        self.file
            .read_exact_at(&mut b, at)
            .ctx(|| format!("reading {}", self.path.display()))?;
        Ok(Entry::decode(&b))
    }

    fn slot(&self, hash: u32) -> Result<u32, StoreError> {
        let slot = hash % self.header.slots;
        if let Some(slots) = &self.slots {
            return Ok(slots[slot as usize]);
        }
        let mut b = [0u8; 4];
        self.file
            .read_exact_at(&mut b, HEADER_LEN + u64::from(slot) * 4)
            .ctx(|| format!("reading {}", self.path.display()))?;
        Ok(u32::from_be_bytes(b))
    }

    /// Commit log offsets of entries with `hash` whose time passes `in_range`, newest first,
    /// appended to `out` until it holds `limit`.
    pub fn lookup(
        &self,
        hash: u32,
        in_range: &dyn Fn(i64) -> bool,
        limit: usize,
        out: &mut Vec<i64>,
    ) -> Result<(), StoreError> {
        let mut next = self.slot(hash)?;
        while next > 0 && out.len() < limit && next <= self.header.entries {
            let Some(e) = self.entry(next - 1)? else {
                break;
            };
            if e.hash == hash && in_range(e.ts) {
                out.push(e.phy);
            }
            if e.prev >= next {
                break; // chains only point backwards; anything else is damage
            }
            next = e.prev;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(_: i64) -> bool {
        true
    }

    #[test]
    fn chains_survive_seal_and_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let mut f = IndexFile::create(dir.path(), 100, 4, 16).unwrap();
        for i in 0..10 {
            f.append(i % 3, 100 + i64::from(i) * 10, 1000 + i64::from(i));
        }
        f.set_end(200);
        let mut out = Vec::new();
        f.lookup(1, &all, 10, &mut out).unwrap();
        assert_eq!(
            out,
            vec![170, 140, 110],
            "newest first, from pending entries"
        );
        f.flush().unwrap();
        let path = f.path.clone();
        drop(f);
        let mut f = IndexFile::open(&path, true, i64::MAX).unwrap().unwrap();
        let mut out = Vec::new();
        f.lookup(1, &|ts| ts < 1007, 10, &mut out).unwrap();
        assert_eq!(out, vec![140, 110]);
        assert_eq!(f.header.end_phy, 200);
        f.seal().unwrap();
        drop(f);
        assert!(IndexFile::open(&path, false, 0).unwrap().is_some());
        let sealed = IndexFile::open(&path, false, 0).unwrap().unwrap();
        let mut out = Vec::new();
        sealed.lookup(2, &all, 2, &mut out).unwrap();
        assert_eq!(out, vec![180, 150]);
    }

    #[test]
    fn reopening_cuts_entries_past_the_commit_log_end() {
        let dir = tempfile::tempdir().unwrap();
        let mut f = IndexFile::create(dir.path(), 0, 8, 100).unwrap();
        for i in 0..6 {
            f.append(7, i * 10, i);
        }
        f.set_end(60);
        f.flush().unwrap();
        // entries written after the last header flush are not trusted
        f.append(7, 60, 6);
        f.write_pending().unwrap();
        let path = f.path.clone();
        drop(f);
        let f = IndexFile::open(&path, true, 35).unwrap().unwrap();
        assert_eq!((f.header.entries, f.header.end_phy), (4, 35));
        let mut out = Vec::new();
        f.lookup(7, &all, 100, &mut out).unwrap();
        assert_eq!(out, vec![30, 20, 10, 0]);
        std::fs::write(&path, b"garbage").unwrap();
        assert!(IndexFile::open(&path, true, 0).unwrap().is_none());
    }

    #[test]
    fn room() {
        let dir = tempfile::tempdir().unwrap();
        let mut f = IndexFile::create(dir.path(), 0, 2, 3).unwrap();
        f.append(1, 0, 1);
        f.append(2, 0, 1);
        assert!(!f.lacks_room(1));
        assert!(f.lacks_room(2));
    }
}
