//! The commit log: fixed-size segment files named by their start offset, one global byte
//! stream. Appends (under the store's write lock, through a [`Tail`]) go into the tail's
//! write-back buffer ([`crate::write_back`]), which reaches the file every few KiB, at a
//! segment roll and before every fsync; a record never spans segments (an 8-byte filler ends a
//! segment that cannot hold the next record). Reads see buffered bytes too; they are lock-free
//! apart from a short read lock on the segment list (and the buffer's lock for the unwritten
//! tail).

use crate::error::StoreError;
use crate::record::{self, FILLER_LEN, Head, STORE_TS_PROBE_LEN};
use crate::segment::{Segment, list_numbered, sync_dir};
use crate::write_back::WriteBack;
use bytes::{Bytes, BytesMut};
use parking_lot::RwLock;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

/// The writer's position; only touched under the store's write lock.
#[derive(Debug)]
pub struct Tail {
    /// Absolute offset where the next record goes.
    pub pos: i64,
    seg: Option<Arc<Segment>>,
}

impl Tail {
    /// A tail positioned at `pos`.
    pub fn new(pos: i64) -> Self {
        Self { pos, seg: None }
    }
}

/// The commit log.
#[derive(Debug)]
pub struct CommitLog {
    dir: PathBuf,
    segment_size: i64,
    segments: RwLock<Vec<Arc<Segment>>>,
    max_offset: AtomicI64,
    /// Appended bytes of the tail segment not yet written to its file.
    tail_buf: WriteBack,
}

impl CommitLog {
    /// Opens the segments under `dir` (creating it). Fails on a gap between segments or a
    /// segment whose name or length does not fit `segment_size`. The end offset is set by
    /// recovery. Appends are written out every `write_back` bytes (0: at every append).
    pub fn open(dir: &Path, segment_size: u64, write_back: usize) -> Result<Self, StoreError> {
        crate::durable::create_dir_all(dir)?;
        let size = segment_size as i64;
        let mut segments: Vec<Arc<Segment>> = Vec::new();
        for (start, path) in list_numbered(dir)? {
            if start % size != 0 {
                return Err(StoreError::Corrupt(format!(
                    "segment {} does not start at a multiple of the segment size {size} \
                     (was the segment size changed?)",
                    path.display()
                )));
            }
            if let Some(prev) = segments.last()
                && prev.start() + size != start
            {
                return Err(StoreError::Corrupt(format!(
                    "gap in the commit log: segment {} follows {}",
                    path.display(),
                    prev.path().display()
                )));
            }
            let seg = Segment::open(dir, start)?;
            if seg.file_len()? > segment_size {
                return Err(StoreError::Corrupt(format!(
                    "segment {} is longer than the segment size {size}",
                    path.display()
                )));
            }
            segments.push(Arc::new(seg));
        }
        // entries a crashed predecessor created may not have reached the disk yet
        sync_dir(dir)?;
        Ok(Self {
            dir: dir.to_path_buf(),
            segment_size: size,
            segments: RwLock::new(segments),
            max_offset: AtomicI64::new(0),
            tail_buf: WriteBack::new(write_back),
        })
    }

    /// End of the written data (next append offset), as published to readers.
    pub fn max_offset(&self) -> i64 {
        self.max_offset.load(Ordering::Acquire)
    }

    /// Sets the end offset (recovery, raw appends and after each append).
    pub fn publish(&self, end: i64) {
        self.max_offset.store(end, Ordering::Release);
    }

    /// First offset still on disk (start of the oldest segment), or the end when none is left.
    pub fn min_offset(&self) -> i64 {
        self.segments
            .read()
            .first()
            .map_or_else(|| self.max_offset(), |s| s.start())
    }

    /// Segment size in bytes.
    pub fn segment_size(&self) -> i64 {
        self.segment_size
    }

    /// Start offset of the segment holding `offset`.
    pub fn segment_start(&self, offset: i64) -> i64 {
        offset - offset.rem_euclid(self.segment_size)
    }

    /// All segments, oldest first.
    pub fn segments(&self) -> Vec<Arc<Segment>> {
        self.segments.read().clone()
    }

    /// The segment holding `offset`, if it exists.
    pub fn segment_at(&self, offset: i64) -> Option<Arc<Segment>> {
        let segs = self.segments.read();
        let first = segs.first()?.start();
        if offset < first {
            return None;
        }
        let idx = usize::try_from((offset - first) / self.segment_size).ok()?;
        segs.get(idx).cloned()
    }

    /// The segment holding the tail position, created if needed.
    fn writable(&self, tail: &mut Tail) -> Result<Arc<Segment>, StoreError> {
        let start = self.segment_start(tail.pos);
        if let Some(seg) = &tail.seg
            && seg.start() == start
        {
            return Ok(seg.clone());
        }
        let seg = match self.segment_at(tail.pos) {
            Some(seg) => seg,
            None => self.create_segment(start)?,
        };
        tail.seg = Some(seg.clone());
        Ok(seg)
    }

    /// Creates the segment starting at `start` after the last one, with its blocks
    /// preallocated; on a full disk the new file is removed again.
    fn create_segment(&self, start: i64) -> Result<Arc<Segment>, StoreError> {
        if let Some(last) = self.segments.read().last()
            && last.start() + self.segment_size != start
        {
            return Err(StoreError::Corrupt(format!(
                "cannot create segment {start}: the last segment starts at {}",
                last.start()
            )));
        }
        // durable before the first record is written into it, so before any fsync that
        // acknowledges such a record
        let seg = Arc::new(Segment::create(&self.dir, start)?);
        if let Err(e) = seg.preallocate(self.segment_size as u64) {
            if let Err(rm) = crate::durable::remove_file(seg.path()) {
                tracing::error!(error = %rm, path = %seg.path().display(), "cannot remove a segment that could not be allocated");
            }
            return Err(e);
        }
        self.segments.write().push(seg.clone());
        Ok(seg)
    }

    /// Opens (creating if needed) the segment holding the tail, so that the segment holding the
    /// end offset always exists once the log is non-empty.
    pub fn prepare_tail(&self, tail: &mut Tail) -> Result<(), StoreError> {
        tail.seg = None;
        self.tail_buf.rewind(tail.pos);
        if tail.pos == 0 && self.segments.read().is_empty() {
            return Ok(());
        }
        let seg = self.writable(tail)?;
        // blocks past the end may have been released by a truncation: reserve them again
        if let Err(e) = seg.preallocate(self.segment_size as u64) {
            tracing::warn!(error = %e, "cannot preallocate the commit log tail segment");
        }
        Ok(())
    }

    /// Undoes a failed append that started at `orig`: drops its bytes from the write-back
    /// buffer (earlier records stay buffered), removes segments created after the one holding
    /// `orig` and truncates that one back to `orig`, so neither a torn record nor a filler
    /// written for it stays past the published end. Failures are logged (the caller returns
    /// the append's own error).
    fn rollback(&self, orig: i64) {
        self.tail_buf.rewind(orig);
        let keep = self.segment_start(orig);
        let mut removed = false;
        {
            let mut segs = self.segments.write();
            while let Some(last) = segs.last().filter(|s| s.start() > keep) {
                if let Err(e) = fs::remove_file(last.path()) {
                    tracing::error!(error = %e, path = %last.path().display(), "cannot remove a segment of a failed append");
                    break;
                }
                segs.pop();
                removed = true;
            }
        }
        if let Some(seg) = self.segment_at(orig) {
            let in_seg = (orig - seg.start()) as u64;
            let res = match seg.file_len() {
                Ok(len) if len > in_seg => seg.truncate(in_seg).map(|()| true),
                other => other.map(|_| false),
            };
            match res {
                // truncating released the preallocated blocks too: reserve them again if we can
                Ok(true) => {
                    if let Err(e) = seg.preallocate(self.segment_size as u64) {
                        tracing::debug!(error = %e, "cannot preallocate the tail segment again");
                    }
                }
                Ok(false) => {}
                Err(e) => {
                    tracing::error!(error = %e, offset = orig, "cannot roll back a failed append");
                }
            }
        }
        if removed && let Err(e) = sync_dir(&self.dir) {
            tracing::error!(error = %e, "cannot sync the commit log directory");
        }
    }

    /// Common end of every append: on error, restores the tail to `orig`, rolls the files back
    /// and reports a full disk as [`StoreError::DiskFull`].
    fn finish<T>(
        &self,
        tail: &mut Tail,
        orig: i64,
        res: Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        res.map_err(|e| {
            tail.pos = orig;
            tail.seg = None;
            self.rollback(orig);
            e.on_disk(&self.dir)
        })
    }

    /// Makes room for a record of `len` bytes at the tail: when `len + 8` does not fit in the
    /// current segment, appends the filler, writes the finished segment's buffered bytes out
    /// and moves the tail to the next segment. Returns the record's offset.
    fn room_for(&self, tail: &mut Tail, len: usize) -> Result<i64, StoreError> {
        let len = len as i64;
        if len + FILLER_LEN as i64 > self.segment_size {
            return Err(StoreError::RecordTooLarge {
                size: len as usize,
                segment_size: self.segment_size as u64,
            });
        }
        let in_seg = tail.pos - self.segment_start(tail.pos);
        if in_seg + len + FILLER_LEN as i64 > self.segment_size {
            let remaining = self.segment_size - in_seg;
            let seg = self.writable(tail)?;
            let filler = record::filler(remaining as i32);
            self.tail_buf.push(&seg, tail.pos, &filler);
            self.tail_buf.write_out()?;
            tail.pos += remaining;
            tail.seg = None;
        }
        Ok(tail.pos)
    }

    /// Appends one record: `patch(record, offset)` fills in its offsets, then it goes into the
    /// write-back buffer (written out when the buffer is full). Returns the record's offset.
    /// The caller publishes the new end with [`Self::publish`].
    pub fn append(
        &self,
        tail: &mut Tail,
        rec: &mut [u8],
        patch: impl FnOnce(&mut [u8], i64),
    ) -> Result<i64, StoreError> {
        let orig = tail.pos;
        let res = (|| {
            let pos = self.room_for(tail, rec.len())?;
            let seg = self.writable(tail)?;
            patch(rec, pos);
            let full = self.tail_buf.push(&seg, pos, rec);
            tail.pos = pos + rec.len() as i64;
            if full {
                self.tail_buf.write_out()?;
            }
            Ok(pos)
        })();
        self.finish(tail, orig, res)
    }

    /// Appends several records into the write-back buffer (written out when the batch leaves
    /// it full, and at a segment roll). `patch(i, record, offset)` fills in record `i`; offsets
    /// are pushed to `offsets`.
    pub fn append_batch(
        &self,
        tail: &mut Tail,
        recs: &mut [bytes::BytesMut],
        offsets: &mut Vec<i64>,
        mut patch: impl FnMut(usize, &mut [u8], i64),
    ) -> Result<(), StoreError> {
        let orig = tail.pos;
        let first_offset = offsets.len();
        let res = (|| {
            let mut full = false;
            for (i, rec) in recs.iter_mut().enumerate() {
                let pos = self.room_for(tail, rec.len())?;
                let seg = self.writable(tail)?;
                patch(i, rec, pos);
                full = self.tail_buf.push(&seg, pos, rec);
                offsets.push(pos);
                tail.pos = pos + rec.len() as i64;
            }
            match full {
                true => self.tail_buf.write_out(),
                false => Ok(()),
            }
        })();
        if res.is_err() {
            offsets.truncate(first_offset);
        }
        self.finish(tail, orig, res)
    }

    /// Writes raw commit log bytes (replication) at the tail, crossing segment boundaries.
    /// They are in the files when this returns (each segment's part written out in one go).
    pub fn append_raw(&self, tail: &mut Tail, mut data: &[u8]) -> Result<(), StoreError> {
        let orig = tail.pos;
        let res = (|| {
            while !data.is_empty() {
                let seg = self.writable(tail)?;
                let in_seg = tail.pos - seg.start();
                let n = data.len().min((self.segment_size - in_seg) as usize);
                self.tail_buf.push(&seg, tail.pos, &data[..n]);
                self.tail_buf.write_out()?;
                tail.pos += n as i64;
                data = &data[n..];
            }
            Ok(())
        })();
        self.finish(tail, orig, res)
    }

    /// `len` bytes at `offset` if they are inside the written data and one segment.
    pub fn read(&self, offset: i64, len: usize) -> Result<Option<Bytes>, StoreError> {
        let end = offset.saturating_add(len as i64);
        if offset < 0 || end > self.max_offset() {
            return Ok(None);
        }
        let Some(seg) = self.segment_at(offset) else {
            return Ok(None);
        };
        let in_seg = offset - seg.start();
        if in_seg + len as i64 > self.segment_size {
            return Ok(None);
        }
        // zeroed: bytes past the end of the file (after a segment's filler) read as zeros
        let mut buf = BytesMut::zeroed(len);
        self.tail_buf.read(&seg, offset, &mut buf)?;
        Ok(Some(buf.freeze()))
    }

    /// Reads up to `buf.len()` bytes at `in_seg` of `seg`, from its file or the write-back
    /// buffer; returns how many (fewer only past the end of the data).
    pub fn read_some(
        &self,
        seg: &Segment,
        in_seg: i64,
        buf: &mut [u8],
    ) -> Result<usize, StoreError> {
        self.tail_buf.read(seg, seg.start() + in_seg, buf)
    }

    /// Writes the write-back buffer to the tail segment's file (before an fsync, at
    /// shutdown). A full disk is [`StoreError::DiskFull`]; the bytes then stay buffered.
    pub fn write_out(&self) -> Result<(), StoreError> {
        self.tail_buf.write_out().map_err(|e| e.on_disk(&self.dir))
    }

    /// Every byte below this offset is in the segment files (the rest of the published data
    /// is in the write-back buffer).
    pub fn written(&self) -> i64 {
        self.tail_buf.written()
    }

    /// The whole message record starting at `offset`; `None` when there is none (out of range,
    /// a filler or not a record boundary).
    pub fn read_record(&self, offset: i64) -> Result<Option<Bytes>, StoreError> {
        let Some(h) = self.read(offset, 8)? else {
            return Ok(None);
        };
        match record::head(&h) {
            Head::Message(total) => {
                let rec = self.read(offset, total)?;
                Ok(rec.filter(|r| record::parse(r).is_ok()))
            }
            _ => Ok(None),
        }
    }

    /// Store timestamp of the record at `offset` (`None` where no message record starts).
    pub fn store_timestamp_at(&self, offset: i64) -> Result<Option<i64>, StoreError> {
        let max = self.max_offset();
        let len = STORE_TS_PROBE_LEN.min(usize::try_from(max - offset).unwrap_or(0));
        Ok(self
            .read(offset, len)?
            .filter(|b| matches!(record::head(b), Head::Message(_)))
            .and_then(|b| record::store_timestamp(&b)))
    }

    /// Raw bytes from `from` (replication source): up to `max_bytes`, never past the end of
    /// `from`'s segment or the written data. `None` if `from` is outside `[min, max]`.
    ///
    /// Only bytes in the files are returned: the write-back buffer is written out first when
    /// the range reaches into it. A slave must never hold bytes its master could still lose
    /// (a killed master would restart behind its slave, whose log then diverges); when the
    /// write-out fails (a full disk), the read stops where the files end.
    pub fn read_raw(&self, from: i64, max_bytes: usize) -> Result<Option<Bytes>, StoreError> {
        let max = self.max_offset();
        if from < self.min_offset() || from > max {
            return Ok(None);
        }
        let seg_end = self.segment_start(from) + self.segment_size;
        let mut end = max.min(seg_end).min(from.saturating_add(max_bytes as i64));
        if end > self.written()
            && let Err(e) = self.write_out()
        {
            tracing::debug!(error = %e, "replication reads only what is in the files");
            end = end.min(self.written());
        }
        if end <= from {
            return Ok(Some(Bytes::new()));
        }
        self.read(from, (end - from) as usize)
    }

    /// fdatasyncs every segment overlapping `[from, to)`.
    pub fn sync_range(&self, from: i64, to: i64) -> Result<(), StoreError> {
        let segs: Vec<Arc<Segment>> = self
            .segments
            .read()
            .iter()
            .filter(|s| s.start() < to && s.start() + self.segment_size > from)
            .cloned()
            .collect();
        for s in segs {
            s.sync()?;
        }
        Ok(())
    }

    /// Retention: removes the oldest segment if it starts at `start` and is not the last one,
    /// then makes the removal durable. Readers holding it keep reading the unlinked file.
    /// Returns the disk space it held, or `None` if it is not the oldest non-last segment.
    pub fn remove_oldest(&self, start: i64) -> Result<Option<u64>, StoreError> {
        let seg = {
            let mut segs = self.segments.write();
            if segs.len() < 2 || segs[0].start() != start {
                return Ok(None);
            }
            segs.remove(0)
        };
        let bytes = seg.disk_bytes().unwrap_or(0);
        let res = fs::remove_file(seg.path())
            .map_err(|e| StoreError::io(e, format!("removing {}", seg.path().display())));
        if let Err(e) = res {
            // still on disk: keep it in the list so the log stays contiguous
            self.segments.write().insert(0, seg);
            return Err(e);
        }
        // the removal is durable before the caller moves anything that depended on it
        sync_dir(&self.dir)?;
        tracing::info!(path = %seg.path().display(), "retention removed a commit log segment");
        Ok(Some(bytes))
    }

    /// Replaces every segment by one empty segment starting at `offset` (a multiple of the
    /// segment size) and publishes `offset` as the end. The files of the old segments must
    /// already be gone; readers holding them keep reading the unlinked files.
    pub fn reset(&self, offset: i64) -> Result<(), StoreError> {
        let seg = Arc::new(Segment::create(&self.dir, offset)?);
        *self.segments.write() = vec![seg];
        self.tail_buf.restart(offset);
        sync_dir(&self.dir)?;
        self.publish(offset);
        Ok(())
    }

    /// Directory of the segments.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Cuts the log at `end` (recovery, invalid replicated data): buffered bytes at or after
    /// it are dropped, later segments are deleted, the one holding `end` is truncated.
    pub fn truncate(&self, end: i64) -> Result<(), StoreError> {
        self.tail_buf.rewind(end);
        let mut segs = self.segments.write();
        let mut removed = false;
        while let Some(last) = segs.last() {
            if last.start() < end {
                break;
            }
            let path = last.path().to_path_buf();
            tracing::warn!(path = %path.display(), "removing commit log segment past the recovered end");
            fs::remove_file(&path)
                .map_err(|e| StoreError::io(e, format!("removing {}", path.display())))?;
            segs.pop();
            removed = true;
        }
        if let Some(last) = segs.last() {
            let keep = (end - last.start()) as u64;
            if last.file_len()? > keep {
                tracing::warn!(path = %last.path().display(), keep, "truncating commit log segment");
                last.truncate(keep)?;
                last.sync()?;
            }
        }
        drop(segs);
        if removed {
            sync_dir(&self.dir)?;
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "commit_log_tests.rs"]
mod tests;
