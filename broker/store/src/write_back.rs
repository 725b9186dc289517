//! The commit log's write-back buffer: appended records are copied into memory and reach the
//! tail segment's file in one `pwrite` per [`StoreConfig::commit_log_write_back`] bytes instead
//! of one per append.
//!
//! # When the buffer is written out
//! - when it holds at least the configured number of bytes (checked after each append; 0
//!   writes every append out before it returns);
//! - before the tail moves to the next segment (the buffer only ever holds bytes of one
//!   segment, the one being written);
//! - before every commit log fsync (`Inner::flush_commit_log`: the flusher thread's tick under
//!   ASYNC flush, each group commit under SYNC flush, [`crate::MessageStore::flush`] and
//!   shutdown), so an fsync covers every byte published before it started;
//! - at the end of every replicated append (`append_raw`);
//! - before replication reads bytes that are still buffered (`CommitLog::read_raw`, the HA
//!   master's source): a slave never holds bytes that a killed master could lose.
//!
//! # Readers
//! The commit log publishes a record as soon as it is in the buffer. Every read of the commit
//! log (pulls, lookups, the key index's and a slave's scans) goes through [`WriteBack::read`]:
//! below [`WriteBack::written`] the bytes are in the files (read without locking); above it
//! they are copied from the buffer under its lock. A write-out moves the boundary only after
//! the bytes are in the file, so a reader finds every published byte in one of the two
//! places.
//!
//! # Locks
//! The buffer's mutex is always taken last (after the store's write lock or flush lock), and
//! held during a write-out: readers of the unwritten tail wait for that `pwrite`.
//!
//! [`StoreConfig::commit_log_write_back`]: crate::StoreConfig::commit_log_write_back

use crate::error::StoreError;
use crate::segment::Segment;
use parking_lot::Mutex;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

/// A buffer that grew past this (a large record) is not kept after its write-out.
const KEEP_CAPACITY: usize = 1 << 20;

/// Appended bytes not yet written to their segment file: `[start, start + buf.len())`.
#[derive(Debug, Default)]
struct Pending {
    /// The segment the buffered bytes belong to (set by the first append into an empty buffer).
    seg: Option<Arc<Segment>>,
    /// Absolute commit log offset of `buf[0]`; every byte below it is in the files.
    start: i64,
    /// The bytes.
    buf: Vec<u8>,
}

impl Pending {
    /// Offset just past the buffered bytes.
    fn end(&self) -> i64 {
        self.start + self.buf.len() as i64
    }
}

/// The write-back buffer of the commit log tail (see the [module docs](self)).
#[derive(Debug)]
pub struct WriteBack {
    pending: Mutex<Pending>,
    /// Mirror of `Pending::start`: every commit log byte below it is in the segment files.
    written: AtomicI64,
    /// Write out once at least this many bytes are buffered (0: after every append).
    limit: usize,
}

impl WriteBack {
    /// An empty buffer that writes out every `limit` bytes; its start is set by
    /// [`Self::rewind`] once the tail is known.
    pub fn new(limit: usize) -> Self {
        Self {
            pending: Mutex::new(Pending::default()),
            written: AtomicI64::new(0),
            limit,
        }
    }

    /// Every commit log byte below this offset is in the segment files.
    pub fn written(&self) -> i64 {
        self.written.load(Ordering::Acquire)
    }

    /// Bytes buffered and not yet written out.
    #[cfg(test)]
    pub fn buffered(&self) -> usize {
        self.pending.lock().buf.len()
    }

    /// Buffers `data`, which goes at absolute offset `pos` of `seg`: the end of the buffered
    /// bytes, or anywhere when the buffer is empty (the writer's tail, whose preceding bytes
    /// are all written). The caller publishes the bytes afterwards. Returns true when the
    /// buffer is full: the caller writes it out ([`Self::write_out`]).
    pub fn push(&self, seg: &Arc<Segment>, pos: i64, data: &[u8]) -> bool {
        let mut p = self.pending.lock();
        if p.buf.is_empty() {
            p.start = pos;
            p.seg = Some(seg.clone());
            self.written.store(pos, Ordering::Release);
        }
        debug_assert_eq!(p.end(), pos, "appends are contiguous");
        debug_assert_eq!(p.seg.as_ref().map(|s| s.start()), Some(seg.start()));
        p.buf.extend_from_slice(data);
        p.buf.len() >= self.limit
    }

    /// Writes every buffered byte to its segment file (no fsync).
    pub fn write_out(&self) -> Result<(), StoreError> {
        self.drain(&mut self.pending.lock())
    }

    /// Writes `p` to its file and empties it. On an error nothing moves: the bytes stay
    /// buffered (and readable) and the next write-out writes all of them again.
    fn drain(&self, p: &mut Pending) -> Result<(), StoreError> {
        if p.buf.is_empty() {
            return Ok(());
        }
        let Some(seg) = p.seg.clone() else {
            return Err(StoreError::Corrupt(format!(
                "{} buffered commit log bytes at {} have no segment",
                p.buf.len(),
                p.start
            )));
        };
        seg.write_at((p.start - seg.start()) as u64, &p.buf)?;
        p.start = p.end();
        p.buf.clear();
        if p.buf.capacity() > KEEP_CAPACITY.max(2 * self.limit) {
            p.buf = Vec::with_capacity(self.limit);
        }
        self.written.store(p.start, Ordering::Release);
        Ok(())
    }

    /// The tail moved back to (or, with nothing buffered, is now at) `pos`: drops buffered
    /// bytes at or after it. Bytes below `pos` that are still buffered stay buffered; when
    /// `pos` lies below the buffer, the caller cuts the files at `pos` (a rollback, a
    /// truncation or a reset) and the buffer restarts there.
    pub fn rewind(&self, pos: i64) {
        let mut p = self.pending.lock();
        if !p.buf.is_empty() && pos > p.start && pos <= p.end() {
            let keep = (pos - p.start) as usize;
            p.buf.truncate(keep);
            return;
        }
        debug_assert!(
            p.buf.is_empty() || pos <= p.start,
            "the tail never skips buffered bytes"
        );
        Self::restart_locked(&mut p, &self.written, pos);
    }

    /// Drops everything buffered and restarts at `pos` (the commit log was replaced by an
    /// empty one starting there, see `MessageStore::reset_to`).
    pub fn restart(&self, pos: i64) {
        Self::restart_locked(&mut self.pending.lock(), &self.written, pos);
    }

    fn restart_locked(p: &mut Pending, written: &AtomicI64, pos: i64) {
        p.buf.clear();
        p.start = pos;
        p.seg = None;
        written.store(pos, Ordering::Release);
    }

    /// Reads `out.len()` bytes at absolute offset `offset` of `seg` (all of them inside it):
    /// the part below [`Self::written`] from the file, the rest from the buffer. Returns how
    /// many bytes were read: fewer only where neither holds more (past the end of the file, or
    /// past the buffered bytes).
    pub fn read(&self, seg: &Segment, offset: i64, out: &mut [u8]) -> Result<usize, StoreError> {
        let end = offset + out.len() as i64;
        let in_seg = (offset - seg.start()) as u64;
        if end <= self.written() {
            return seg.read_some(in_seg, out);
        }
        // `split`: where the file part ends and the buffered part begins
        let (split, copied) = {
            let p = self.pending.lock();
            if p.buf.is_empty() || end <= p.start || offset >= p.end() {
                (end, 0)
            } else {
                let from = offset.max(p.start);
                let to = end.min(p.end());
                let src = &p.buf[(from - p.start) as usize..(to - p.start) as usize];
                out[(from - offset) as usize..(to - offset) as usize].copy_from_slice(src);
                (from, (to - from) as usize)
            }
        };
        // bytes below the buffer's start are in the file and never change again
        let file_part = (split - offset) as usize;
        if file_part == 0 {
            return Ok(copied);
        }
        let n = seg.read_some(in_seg, &mut out[..file_part])?;
        Ok(if n < file_part { n } else { n + copied })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_see_buffered_and_written_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let seg = Arc::new(Segment::open(dir.path(), 1000).unwrap());
        let wb = WriteBack::new(8);
        wb.rewind(1000);
        assert!(!wb.push(&seg, 1000, b"abc"));
        assert_eq!((wb.buffered(), wb.written()), (3, 1000), "below the limit");
        assert_eq!(seg.file_len().unwrap(), 0);
        let mut out = [0u8; 3];
        assert_eq!(wb.read(&seg, 1000, &mut out).unwrap(), 3);
        assert_eq!(&out, b"abc");
        assert!(wb.push(&seg, 1003, b"defgh"));
        wb.write_out().unwrap();
        assert_eq!((wb.buffered(), wb.written()), (0, 1008), "limit reached");
        assert_eq!(seg.file_len().unwrap(), 8);
        wb.push(&seg, 1008, b"ij");
        // a read across the boundary: file part, then buffered part, then nothing
        let mut out = [0u8; 8];
        assert_eq!(wb.read(&seg, 1004, &mut out).unwrap(), 6);
        assert_eq!(&out[..6], b"efghij");
        // a failed rollback of the last append drops it from the buffer only
        wb.rewind(1009);
        assert_eq!(wb.buffered(), 1);
        wb.rewind(1004);
        assert_eq!((wb.buffered(), wb.written()), (0, 1004));
        wb.push(&seg, 1004, b"EFGH");
        wb.write_out().unwrap();
        let mut out = [0u8; 8];
        assert_eq!(wb.read(&seg, 1000, &mut out).unwrap(), 8);
        assert_eq!(&out, b"abcdEFGH");
    }

    #[test]
    fn limit_zero_writes_every_append() {
        let dir = tempfile::tempdir().unwrap();
        let seg = Arc::new(Segment::open(dir.path(), 0).unwrap());
        let wb = WriteBack::new(0);
        wb.rewind(0);
        for i in 0..3u8 {
            assert!(wb.push(&seg, i64::from(i), &[i]));
            wb.write_out().unwrap();
            assert_eq!(seg.file_len().unwrap(), u64::from(i) + 1);
        }
        assert_eq!(wb.written(), 3);
    }
}
