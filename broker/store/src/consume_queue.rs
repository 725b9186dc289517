//! Consume queues: per topic/queue logical index of 20-byte units
//! `i64 commitLogOffset | i32 size | i64 tagsCode` in files of N units under
//! `consumequeue/<topic>/<queueId>/`, named by their starting byte offset (20 digits).
//! Logical offset `n` is unit `n`. Units are written only under the store's write lock and
//! published through an atomic max offset; readers never lock more than the file list.

use crate::error::{IoContext, StoreError};
use crate::segment::{file_name, list_numbered, open_rw, sync_dir};
use parking_lot::{Mutex, RwLock};
use std::fs::{self, File};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};

pub use crate::cq_unit::{CQ_UNIT_SIZE, CqUnit, valid_topic_dir};

/// Bytes buffered per queue before they are written back to the file.
const WRITE_BACK: usize = 4096;

/// Units appended but not yet written to the file: `[start, start + buf.len() / 20)`.
#[derive(Debug, Default)]
struct Pending {
    start: i64,
    buf: Vec<u8>,
}

impl Pending {
    fn end(&self) -> i64 {
        self.start + (self.buf.len() / CQ_UNIT_SIZE) as i64
    }
}

#[derive(Debug)]
struct CqFile {
    /// First unit of the file.
    start: i64,
    path: PathBuf,
    /// Kept open for the newest files only; older files are opened per read.
    handle: Option<Arc<File>>,
}

impl CqFile {
    fn file(&self) -> Result<Arc<File>, StoreError> {
        match &self.handle {
            Some(h) => Ok(h.clone()),
            None => File::open(&self.path)
                .map(Arc::new)
                .ctx(|| format!("opening {}", self.path.display())),
        }
    }
}

/// Result of reading units at an offset.
#[derive(Debug)]
pub enum Units {
    /// Raw units (a multiple of 20 bytes, possibly empty), all from one file.
    Found(Vec<u8>),
    /// The file holding the offset is gone; the next file starts at this unit.
    Missing(i64),
}

/// One consume queue.
#[derive(Debug)]
pub struct ConsumeQueue {
    topic: String,
    queue_id: i32,
    dir: PathBuf,
    units_per_file: i64,
    files: RwLock<Vec<CqFile>>,
    min_offset: AtomicI64,
    max_offset: AtomicI64,
    /// Where the record of the newest unit appended since the queue was opened ends in the
    /// commit log (`i64::MAX`: not known). Lets a capped read skip the search when the whole
    /// queue is below the cap.
    newest_end: AtomicI64,
    flushed: AtomicI64,
    dirty: AtomicBool,
    pending: Mutex<Pending>,
}

impl ConsumeQueue {
    /// An empty queue (its directory is created on the first write).
    pub fn new(root: &Path, topic: &str, queue_id: i32, units_per_file: u64) -> Self {
        Self {
            topic: topic.to_owned(),
            queue_id,
            dir: root.join(topic).join(queue_id.to_string()),
            units_per_file: units_per_file as i64,
            files: RwLock::new(Vec::new()),
            min_offset: AtomicI64::new(0),
            max_offset: AtomicI64::new(0),
            newest_end: AtomicI64::new(i64::MAX),
            flushed: AtomicI64::new(0),
            dirty: AtomicBool::new(false),
            pending: Mutex::new(Pending::default()),
        }
    }

    /// Loads the queue's files. A partial unit at the end is cut and trailing zero units (a
    /// power loss hole) are dropped. The minimum offset is set by [`Self::init_min_offset`].
    pub fn load(
        root: &Path,
        topic: &str,
        queue_id: i32,
        units_per_file: u64,
    ) -> Result<Self, StoreError> {
        let q = Self::new(root, topic, queue_id, units_per_file);
        let file_bytes = q.units_per_file * CQ_UNIT_SIZE as i64;
        let mut files: Vec<CqFile> = Vec::new();
        for (start_byte, path) in list_numbered(&q.dir)? {
            if start_byte % file_bytes != 0 {
                return Err(StoreError::Corrupt(format!(
                    "consume queue file {} does not start at a multiple of {file_bytes} bytes \
                     (was consume_queue_units_per_file changed?)",
                    path.display()
                )));
            }
            let start = start_byte / CQ_UNIT_SIZE as i64;
            if let Some(prev) = files.last()
                && prev.start + q.units_per_file != start
            {
                return Err(StoreError::Corrupt(format!(
                    "gap in consume queue {topic}/{queue_id} before {}",
                    path.display()
                )));
            }
            files.push(CqFile {
                start,
                path,
                handle: None,
            });
        }
        let mut max = 0;
        let mut partial = false;
        if let Some(last) = files.last_mut() {
            let f = Arc::new(open_rw(&last.path)?);
            let len = f
                .metadata()
                .ctx(|| format!("stat {}", last.path.display()))?
                .len() as i64;
            if len > file_bytes {
                return Err(StoreError::Corrupt(format!(
                    "consume queue file {} is longer than {file_bytes} bytes",
                    last.path.display()
                )));
            }
            max = last.start + len / CQ_UNIT_SIZE as i64;
            partial = len % CQ_UNIT_SIZE as i64 != 0;
            last.handle = Some(f);
        }
        let first = files.first().map_or(0, |f| f.start);
        *q.files.write() = files;
        q.max_offset.store(max, Ordering::Release);
        q.min_offset.store(first, Ordering::Release);
        // drop trailing holes
        let mut n = max;
        while n > first {
            match q.unit(n - 1)? {
                Some(u) if u.is_present() => break,
                _ => n -= 1,
            }
        }
        if n != max || partial {
            q.truncate(n)?;
        }
        q.flushed.store(n, Ordering::Release);
        q.pending.lock().start = n;
        Ok(q)
    }

    /// The topic this queue belongs to.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// Queue id.
    pub fn queue_id(&self) -> i32 {
        self.queue_id
    }

    /// Directory of the queue.
    #[cfg(test)]
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// First readable offset.
    pub fn min_offset(&self) -> i64 {
        self.min_offset.load(Ordering::Acquire)
    }

    /// Next offset to be written (number of units).
    pub fn max_offset(&self) -> i64 {
        self.max_offset.load(Ordering::Acquire)
    }

    /// Sets the minimum offset to the first unit whose record is still in the commit log
    /// (`offset >= commit_log_min`; the max offset if there is none), by binary search over
    /// every unit the queue holds (units are in commit log order). Used at open, where files
    /// wholly below the commit log may remain after a crash in the middle of retention.
    pub fn init_min_offset(&self, commit_log_min: i64) -> Result<(), StoreError> {
        let max = self.max_offset();
        let first_file = self.files.read().first().map(|f| f.start);
        let first = first_file.unwrap_or_else(|| {
            let p = self.pending.lock();
            if p.buf.is_empty() { max } else { p.start }
        });
        let min = self.first_unit_from(first, max, commit_log_min)?;
        self.min_offset.store(min, Ordering::Release);
        Ok(())
    }

    /// The first offset in `[lo, hi)` whose unit points at or above `commit_log_min`, `hi` if
    /// none does (binary search: units are in commit log order).
    fn first_unit_from(
        &self,
        mut lo: i64,
        mut hi: i64,
        commit_log_min: i64,
    ) -> Result<i64, StoreError> {
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let ok = self
                .unit(mid)?
                .is_some_and(|u| u.is_present() && u.offset >= commit_log_min);
            if ok { hi = mid } else { lo = mid + 1 }
        }
        Ok(lo)
    }

    /// The unit at offset `n`, if written.
    pub fn unit(&self, n: i64) -> Result<Option<CqUnit>, StoreError> {
        if n < 0 || n >= self.max_offset() {
            return Ok(None);
        }
        match self.read_units(n, 1)? {
            Units::Found(b) => Ok(CqUnit::decode(&b)),
            Units::Missing(_) => Ok(None),
        }
    }

    /// Up to `max_units` units from `from`, bounded by the max offset; continues into the
    /// following files and the write-back buffer. `Missing` if the file holding `from` is gone.
    pub fn read_units(&self, from: i64, max_units: usize) -> Result<Units, StoreError> {
        let max = self.max_offset();
        let want_end = max.min(from.saturating_add(max_units as i64));
        if from >= want_end {
            return Ok(Units::Found(Vec::new()));
        }
        // the newest units may still be in memory; everything below `split` is in the files
        let mut tail = Vec::new();
        let split = {
            let p = self.pending.lock();
            if p.buf.is_empty() || p.start >= want_end {
                want_end
            } else {
                let split = p.start.max(from);
                let len = p.buf.len();
                let lo = ((split - p.start) as usize * CQ_UNIT_SIZE).min(len);
                let hi = ((want_end - p.start).max(0) as usize * CQ_UNIT_SIZE).clamp(lo, len);
                tail.extend_from_slice(&p.buf[lo..hi]);
                split
            }
        };
        if from >= split {
            return Ok(Units::Found(tail));
        }
        match self.read_files(from, split)? {
            Units::Found(mut head) => {
                if head.len() == (split - from) as usize * CQ_UNIT_SIZE {
                    head.extend_from_slice(&tail);
                }
                Ok(Units::Found(head))
            }
            missing => Ok(missing),
        }
    }

    /// Units `[from, want_end)` from the files.
    fn read_files(&self, from: i64, want_end: i64) -> Result<Units, StoreError> {
        let max = self.max_offset();
        let mut parts: Vec<(Arc<File>, i64)> = Vec::new();
        {
            let files = self.files.read();
            let Some(first) = files.first() else {
                return Ok(Units::Missing(max));
            };
            if from < first.start {
                return Ok(Units::Missing(first.start));
            }
            let idx = ((from - first.start) / self.units_per_file) as usize;
            if idx >= files.len() {
                return Ok(Units::Missing(max));
            }
            for f in files[idx..].iter().take_while(|f| f.start < want_end) {
                parts.push((f.file()?, f.start));
            }
        }
        let n = (want_end - from).max(0) as usize;
        let mut buf = vec![0u8; n * CQ_UNIT_SIZE];
        let mut at = from;
        for (file, start) in parts {
            let end = want_end.min(start + self.units_per_file);
            if end <= at {
                break;
            }
            let dst = (at - from) as usize * CQ_UNIT_SIZE..(end - from) as usize * CQ_UNIT_SIZE;
            let pos = ((at - start) as usize * CQ_UNIT_SIZE) as u64;
            match file.read_exact_at(&mut buf[dst], pos) {
                Ok(()) => {}
                // a concurrent truncate (topic deletion): the units read as holes
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {}
                Err(e) => {
                    return Err(StoreError::io(
                        e,
                        format!("reading consume queue {}/{}", self.topic, self.queue_id),
                    ));
                }
            }
            at = end;
        }
        buf.truncate((at - from).max(0) as usize * CQ_UNIT_SIZE);
        Ok(Units::Found(buf))
    }

    /// Writes whole units at offset `n` straight to the files (recovery, rewrites, gaps), after
    /// writing back the buffer. Does not publish: see [`Self::publish_max`].
    pub fn write_units(&self, n: i64, data: &[u8]) -> Result<(), StoreError> {
        let mut p = self.pending.lock();
        self.drain(&mut p)?;
        self.write_direct(n, data)?;
        p.start = p.start.max(n + (data.len() / CQ_UNIT_SIZE) as i64);
        Ok(())
    }

    /// Appends units at offset `n` (the max offset) into the write-back buffer and publishes
    /// them; the buffer goes to the file every 4 KiB and on [`Self::sync`]. A failed
    /// write-back keeps the units buffered (logged; the flusher retries).
    pub fn append_units(&self, n: i64, data: &[u8]) -> Result<(), StoreError> {
        // before the new max is published: a reader that sees the unit sees its end
        self.note_newest(data);
        let mut p = self.pending.lock();
        if p.buf.is_empty() {
            p.start = n;
        } else if p.end() != n {
            drop(p);
            self.write_units(n, data)?;
            self.publish_max(n + (data.len() / CQ_UNIT_SIZE) as i64);
            return Ok(());
        }
        p.buf.extend_from_slice(data);
        if p.buf.len() >= WRITE_BACK
            && let Err(e) = self.drain(&mut p)
        {
            tracing::error!(error = %e, "consume queue write-back failed; keeping the units in memory");
        }
        drop(p);
        self.publish_max(n + (data.len() / CQ_UNIT_SIZE) as i64);
        Ok(())
    }

    /// Writes the buffered units to the files.
    fn drain(&self, p: &mut Pending) -> Result<(), StoreError> {
        if p.buf.is_empty() {
            return Ok(());
        }
        self.write_direct(p.start, &p.buf)?;
        p.start = p.end();
        p.buf.clear();
        Ok(())
    }

    fn write_direct(&self, mut n: i64, mut data: &[u8]) -> Result<(), StoreError> {
        let first = n;
        while !data.is_empty() {
            let start = n - n.rem_euclid(self.units_per_file);
            let file = self.writable(start)?;
            let room = (start + self.units_per_file - n) as usize * CQ_UNIT_SIZE;
            let chunk = &data[..room.min(data.len())];
            let pos = ((n - start) as usize * CQ_UNIT_SIZE) as u64;
            file.write_all_at(chunk, pos)
                .ctx(|| format!("writing consume queue {}/{}", self.topic, self.queue_id))?;
            n += (chunk.len() / CQ_UNIT_SIZE) as i64;
            data = &data[chunk.len()..];
        }
        self.flushed.fetch_min(first, Ordering::AcqRel);
        self.dirty.store(true, Ordering::Release);
        Ok(())
    }

    /// Appends one unit at the max offset and publishes it.
    #[cfg(test)]
    pub fn append(&self, unit: &CqUnit) -> Result<i64, StoreError> {
        let n = self.max_offset();
        self.append_units(n, &unit.encode())?;
        Ok(n)
    }

    /// Records where the last unit of `data` ends in the commit log (see `newest_end`).
    fn note_newest(&self, data: &[u8]) {
        let last = data
            .len()
            .checked_sub(CQ_UNIT_SIZE)
            .and_then(|at| CqUnit::decode(&data[at..]));
        let end = last.map_or(i64::MAX, |u| u.offset + i64::from(u.size));
        self.newest_end.store(end, Ordering::Release);
    }

    /// Where the record of the newest unit appended since the queue was opened ends in the
    /// commit log; `i64::MAX` when not known (nothing appended since, or the queue was cut).
    pub fn newest_end(&self) -> i64 {
        self.newest_end.load(Ordering::Acquire)
    }

    /// Publishes a new max offset (after the units below it were written).
    pub fn publish_max(&self, max: i64) {
        self.max_offset.store(max, Ordering::Release);
    }

    /// Sets the minimum offset (a queue created at a non-zero offset).
    pub fn set_min_offset(&self, min: i64) {
        self.min_offset.store(min, Ordering::Release);
    }

    /// The open handle of the file starting at unit `start`, creating the file if needed.
    fn writable(&self, start: i64) -> Result<Arc<File>, StoreError> {
        {
            let files = self.files.read();
            if let Some(f) = files.iter().rev().find(|f| f.start == start)
                && let Some(h) = &f.handle
            {
                return Ok(h.clone());
            }
        }
        let mut files = self.files.write();
        if let Some(f) = files.iter_mut().rev().find(|f| f.start == start) {
            let h = Arc::new(open_rw(&f.path)?);
            f.handle = Some(h.clone());
            return Ok(h);
        }
        crate::durable::create_dir_all(&self.dir)?;
        let path = self.dir.join(file_name(start * CQ_UNIT_SIZE as i64));
        let h = Arc::new(open_rw(&path)?);
        let pos = files.partition_point(|f| f.start < start);
        files.insert(
            pos,
            CqFile {
                start,
                path,
                handle: Some(h.clone()),
            },
        );
        // keep handles of the two newest files only (the flusher may still sync the previous)
        let keep_from = files.len().saturating_sub(2);
        for f in &mut files[..keep_from] {
            f.handle = None;
        }
        drop(files);
        // the new file's entry is durable before any unit written into it is synced
        sync_dir(&self.dir)?;
        Ok(h)
    }

    /// Cuts the queue to `n` units (recovery), durably: the cut file is fsynced.
    pub fn truncate(&self, n: i64) -> Result<(), StoreError> {
        self.newest_end.store(i64::MAX, Ordering::Release);
        let mut p = self.pending.lock();
        let keep = (n - p.start).clamp(0, (p.buf.len() / CQ_UNIT_SIZE) as i64) as usize;
        p.buf.truncate(keep * CQ_UNIT_SIZE);
        self.drain(&mut p)?;
        p.start = n;
        let mut files = self.files.write();
        let mut removed = false;
        while let Some(last) = files.last() {
            if last.start < n || (last.start == n && files.len() == 1) {
                break;
            }
            fs::remove_file(&last.path).ctx(|| format!("removing {}", last.path.display()))?;
            files.pop();
            removed = true;
        }
        if let Some(last) = files.last_mut() {
            let f = match &last.handle {
                Some(h) => h.clone(),
                None => Arc::new(open_rw(&last.path)?),
            };
            let keep = ((n - last.start).max(0) as usize * CQ_UNIT_SIZE) as u64;
            f.set_len(keep)
                .ctx(|| format!("truncating {}", last.path.display()))?;
            // durable before anything is appended: a power cut must not bring back units
            // that point at commit log bytes new records have since overwritten
            crate::durable::sync_data(&f, &last.path)?;
            last.handle = Some(f);
        }
        drop(files);
        if removed {
            sync_dir(&self.dir)?;
        }
        self.max_offset.store(n, Ordering::Release);
        if self.min_offset() > n {
            self.min_offset.store(n, Ordering::Release);
        }
        if self.flushed.load(Ordering::Acquire) > n {
            self.flushed.store(n, Ordering::Release);
        }
        Ok(())
    }

    /// Writes back the buffer and fdatasyncs the files holding units written since the last
    /// sync. An fsync failure is [`StoreError::PersistFailed`].
    pub fn sync(&self) -> Result<(), StoreError> {
        self.drain(&mut self.pending.lock())?;
        if !self.dirty.swap(false, Ordering::AcqRel) {
            return Ok(());
        }
        let max = self.max_offset();
        let from = self.flushed.load(Ordering::Acquire).min(max);
        let targets: Vec<(PathBuf, Option<Arc<File>>)> = self
            .files
            .read()
            .iter()
            .filter(|f| f.start + self.units_per_file > from && f.start <= max)
            .map(|f| (f.path.clone(), f.handle.clone()))
            .collect();
        for (path, handle) in targets {
            let file = match handle {
                Some(h) => h,
                None => match File::open(&path) {
                    Ok(f) => Arc::new(f),
                    // removed by retention since the list was taken: nothing left to sync
                    Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(StoreError::io(e, format!("opening {}", path.display()))),
                },
            };
            if let Err(e) = crate::durable::sync_data(&file, &path) {
                self.dirty.store(true, Ordering::Release);
                return Err(e);
            }
        }
        self.flushed.store(max, Ordering::Release);
        Ok(())
    }

    /// Removes the queue's files.
    pub fn delete(&self) -> Result<(), StoreError> {
        *self.pending.lock() = Pending::default();
        let mut files = self.files.write();
        files.clear();
        crate::durable::remove_dir_all(&self.dir)?;
        self.max_offset.store(0, Ordering::Release);
        self.min_offset.store(0, Ordering::Release);
        Ok(())
    }
}

#[path = "cq_retention.rs"]
mod retention;

#[cfg(test)]
#[path = "consume_queue_tests.rs"]
mod tests;
