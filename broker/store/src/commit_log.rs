//! The commit log: fixed-size segment files named by their start offset, one global byte
//! stream. Appends (under the store's write lock, through a [`Tail`]) pwrite immediately; a
//! record never spans segments (an 8-byte filler ends a segment that cannot hold the next
//! record). Reads are lock-free apart from a short read lock on the segment list.

use crate::error::StoreError;
use crate::record::{self, FILLER_LEN, Head, STORE_TS_PROBE_LEN};
use crate::segment::{Segment, list_numbered, sync_dir};
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
    scratch: Vec<u8>,
}

impl Tail {
    /// A tail positioned at `pos`.
    pub fn new(pos: i64) -> Self {
        Self {
            pos,
            seg: None,
            scratch: Vec::new(),
        }
    }
}

/// The commit log.
#[derive(Debug)]
pub struct CommitLog {
    dir: PathBuf,
    segment_size: i64,
    segments: RwLock<Vec<Arc<Segment>>>,
    max_offset: AtomicI64,
}

impl CommitLog {
    /// Opens the segments under `dir` (creating it). Fails on a gap between segments or a
    /// segment whose name or length does not fit `segment_size`. The end offset is set by
    /// recovery.
    pub fn open(dir: &Path, segment_size: u64) -> Result<Self, StoreError> {
        fs::create_dir_all(dir)
            .map_err(|e| StoreError::io(e, format!("creating {}", dir.display())))?;
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
        Ok(Self {
            dir: dir.to_path_buf(),
            segment_size: size,
            segments: RwLock::new(segments),
            max_offset: AtomicI64::new(0),
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
            None => {
                let seg = Arc::new(Segment::open(&self.dir, start)?);
                {
                    let mut segs = self.segments.write();
                    if let Some(last) = segs.last()
                        && last.start() + self.segment_size != start
                    {
                        return Err(StoreError::Corrupt(format!(
                            "cannot create segment {start}: the last segment starts at {}",
                            last.start()
                        )));
                    }
                    segs.push(seg.clone());
                }
                sync_dir(&self.dir)?;
                seg
            }
        };
        tail.seg = Some(seg.clone());
        Ok(seg)
    }

    /// Opens (creating if needed) the segment holding the tail, so that the segment holding the
    /// end offset always exists once the log is non-empty.
    pub fn prepare_tail(&self, tail: &mut Tail) -> Result<(), StoreError> {
        tail.seg = None;
        if tail.pos == 0 && self.segments.read().is_empty() {
            return Ok(());
        }
        self.writable(tail).map(|_| ())
    }

    /// Makes room for a record of `len` bytes at the tail: when `len + 8` does not fit in the
    /// current segment, writes the filler and moves the tail to the next segment. Returns the
    /// record's offset.
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
            seg.write_at(in_seg as u64, &record::filler(remaining as i32))?;
            tail.pos += remaining;
            tail.seg = None;
        }
        Ok(tail.pos)
    }

    /// Appends one record: `patch(record, offset)` fills in its offsets, then it is written.
    /// Returns the record's offset. The caller publishes the new end with [`Self::publish`].
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
            seg.write_at((pos - seg.start()) as u64, rec)?;
            tail.pos = pos + rec.len() as i64;
            Ok(pos)
        })();
        if res.is_err() {
            tail.pos = orig;
            tail.seg = None;
        }
        res
    }

    /// Appends several records with as few writes as possible (one per segment touched).
    /// `patch(i, record, offset)` fills in record `i`; offsets are pushed to `offsets`.
    pub fn append_batch(
        &self,
        tail: &mut Tail,
        recs: &mut [bytes::BytesMut],
        offsets: &mut Vec<i64>,
        mut patch: impl FnMut(usize, &mut [u8], i64),
    ) -> Result<(), StoreError> {
        let orig = tail.pos;
        let first_offset = offsets.len();
        let mut scratch = std::mem::take(&mut tail.scratch);
        scratch.clear();
        let res = (|| {
            let mut run_start = tail.pos;
            for (i, rec) in recs.iter_mut().enumerate() {
                let in_seg = tail.pos - self.segment_start(tail.pos);
                if in_seg + rec.len() as i64 + FILLER_LEN as i64 > self.segment_size
                    && !scratch.is_empty()
                {
                    let seg = self.writable(&mut Tail::new(run_start))?;
                    seg.write_at((run_start - seg.start()) as u64, &scratch)?;
                    scratch.clear();
                }
                let pos = self.room_for(tail, rec.len())?;
                if scratch.is_empty() {
                    run_start = pos;
                }
                patch(i, rec, pos);
                scratch.extend_from_slice(rec);
                offsets.push(pos);
                tail.pos = pos + rec.len() as i64;
            }
            if !scratch.is_empty() {
                let seg = self.writable(tail)?;
                seg.write_at((run_start - seg.start()) as u64, &scratch)?;
            }
            Ok(())
        })();
        scratch.clear();
        if scratch.capacity() > 16 << 20 {
            scratch = Vec::new();
        }
        tail.scratch = scratch;
        if res.is_err() {
            tail.pos = orig;
            tail.seg = None;
            offsets.truncate(first_offset);
        }
        res
    }

    /// Writes raw commit log bytes (replication) at the tail, crossing segment boundaries.
    pub fn append_raw(&self, tail: &mut Tail, mut data: &[u8]) -> Result<(), StoreError> {
        while !data.is_empty() {
            let seg = self.writable(tail)?;
            let in_seg = tail.pos - seg.start();
            let n = data.len().min((self.segment_size - in_seg) as usize);
            seg.write_at(in_seg as u64, &data[..n])?;
            tail.pos += n as i64;
            data = &data[n..];
        }
        Ok(())
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
        let mut buf = BytesMut::zeroed(len);
        seg.read_at(in_seg as u64, &mut buf)?;
        Ok(Some(buf.freeze()))
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

    /// Store timestamp of the record at `offset`.
    pub fn store_timestamp_at(&self, offset: i64) -> Result<Option<i64>, StoreError> {
        let max = self.max_offset();
        let len = STORE_TS_PROBE_LEN.min(usize::try_from(max - offset).unwrap_or(0));
        Ok(self
            .read(offset, len)?
            .and_then(|b| record::store_timestamp(&b)))
    }

    /// Raw bytes from `from` (replication source): up to `max_bytes`, never past the end of
    /// `from`'s segment or the written data. `None` if `from` is outside `[min, max]`.
    pub fn read_raw(&self, from: i64, max_bytes: usize) -> Result<Option<Bytes>, StoreError> {
        let max = self.max_offset();
        if from < self.min_offset() || from > max {
            return Ok(None);
        }
        let seg_end = self.segment_start(from) + self.segment_size;
        let len = (max.min(seg_end) - from).min(max_bytes as i64);
        if len <= 0 {
            return Ok(Some(Bytes::new()));
        }
        self.read(from, len as usize)
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

    /// Cuts the log at `end` (recovery): later segments are deleted, the one holding `end` is
    /// truncated.
    pub fn truncate(&self, end: i64) -> Result<(), StoreError> {
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
mod tests {
    use super::*;
    use crate::scan::ScanStop;
    use rmq_protocol::message::{MessageRecord, encode_record, patch_record};

    fn rec(body_len: usize) -> BytesMut {
        let r = MessageRecord {
            topic: "T".into(),
            queue_id: 0,
            flag: 0,
            sys_flag: 0,
            born_timestamp: 1,
            born_host: "1.1.1.1:1".parse().unwrap(),
            store_host: "2.2.2.2:2".parse().unwrap(),
            reconsume_times: 0,
            prepared_transaction_offset: 0,
            body: Bytes::from(vec![7u8; body_len]),
            properties: String::new(),
        };
        let mut b = BytesMut::new();
        encode_record(&r, &mut b).unwrap();
        b
    }

    #[test]
    fn filler_and_roll() {
        let dir = tempfile::tempdir().unwrap();
        let cl = CommitLog::open(dir.path(), 512).unwrap();
        let mut tail = Tail::new(0);
        let mut offsets = vec![];
        for _ in 0..5 {
            let mut r = rec(100); // 192 bytes: two per segment (384 + 8 <= 512)
            let off = cl
                .append(&mut tail, &mut r, |b, p| patch_record(b, 0, p, 1))
                .unwrap();
            offsets.push(off);
            cl.publish(tail.pos);
        }
        assert_eq!(offsets, vec![0, 192, 512, 704, 1024]);
        let blank = cl.read(384, 8).unwrap().unwrap();
        assert_eq!(record::head(&blank), Head::Blank(128));
        assert_eq!(cl.read_record(384).unwrap(), None);
        assert_eq!(cl.read_record(512).unwrap().unwrap().len(), 192);
        assert_eq!(cl.segments().len(), 3);
        let mut seen = vec![];
        let (end, stop) = cl
            .scan(0, i64::MAX, true, |o, _, _| {
                seen.push(o);
                Ok(())
            })
            .unwrap();
        assert_eq!((end, stop), (1216, ScanStop::End));
        assert_eq!(seen, offsets);
        // raw reads stop at the segment end and include the filler's zero tail
        let raw = cl.read_raw(0, 10_000).unwrap().unwrap();
        assert_eq!(raw.len(), 512);
        assert_eq!(cl.read_raw(1024, 10).unwrap().unwrap().len(), 10);
        assert!(cl.read_raw(2000, 10).unwrap().is_none());
        let mut too_big = rec(600);
        assert!(matches!(
            cl.append(&mut tail, &mut too_big, |_, _| {}),
            Err(StoreError::RecordTooLarge { .. })
        ));
        assert_eq!(tail.pos, 1216);
    }

    #[test]
    fn batch_crosses_segments() {
        let dir = tempfile::tempdir().unwrap();
        let cl = CommitLog::open(dir.path(), 512).unwrap();
        let mut tail = Tail::new(0);
        let mut recs: Vec<BytesMut> = (0..5).map(|_| rec(100)).collect();
        let mut offsets = vec![];
        cl.append_batch(&mut tail, &mut recs, &mut offsets, |i, b, p| {
            patch_record(b, i as i64, p, 1)
        })
        .unwrap();
        cl.publish(tail.pos);
        assert_eq!(offsets, vec![0, 192, 512, 704, 1024]);
        for (i, o) in offsets.iter().enumerate() {
            let r = cl.read_record(*o).unwrap().unwrap();
            assert_eq!(record::parse(&r).unwrap().queue_offset, i as i64);
        }
    }

    #[test]
    fn truncate_and_gap_detection() {
        let dir = tempfile::tempdir().unwrap();
        {
            let cl = CommitLog::open(dir.path(), 512).unwrap();
            let mut tail = Tail::new(0);
            for _ in 0..5 {
                cl.append(&mut tail, &mut rec(100), |b, p| patch_record(b, 0, p, 1))
                    .unwrap();
            }
            cl.publish(tail.pos);
            cl.truncate(600).unwrap();
            assert_eq!(cl.segments().len(), 2);
            assert_eq!(cl.segments()[1].file_len().unwrap(), 88);
            cl.truncate(512).unwrap();
            assert_eq!(cl.segments().len(), 1);
        }
        std::fs::write(dir.path().join(crate::segment::file_name(2048)), b"x").unwrap();
        assert!(matches!(
            CommitLog::open(dir.path(), 512),
            Err(StoreError::Corrupt(_))
        ));
    }
}
