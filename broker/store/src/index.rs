//! The key index behind QUERY_MESSAGE: `topic#key` for every `KEYS` entry and `topic#UNIQ_KEY`
//! of every record (rollback records excepted, as in RocketMQ) → commit log offsets.
//!
//! Design: a thread follows the commit log like RocketMQ's `IndexService` follows its reput
//! dispatcher, so the put path pays nothing; lookups lag appends by a few milliseconds. It lives
//! in the store (not the broker) because it must see every record however it was written —
//! sends, delay delivery, transaction commits, records replicated to a slave — and must be
//! consistent with the commit log after recovery. Entries go to persisted hash-chained files
//! ([`crate::index_file`], one per `index_entries_per_file` entries, pread/pwrite only), so a
//! restart resumes where the file header says instead of rescanning the whole log, and memory
//! stays bounded (only the active file's slot table is in memory). At open, files beyond the
//! recovered commit log end are dropped and the active file is cut back to it; the thread then
//! re-indexes from the resume point. Lookups verify every candidate against the record itself
//! (topic and key), so hash collisions and stale entries never surface.

use crate::commit_log::CommitLog;
use crate::error::StoreError;
use crate::index_file::IndexFile;
use crate::inner::Inner;
use crate::segment::list_numbered;
use bytes::Bytes;
use parking_lot::{Mutex, RwLock};
use rmq_protocol::message::{property, raw_property, sys_flag};
use std::ops::RangeInclusive;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::{Duration, Instant};

/// Most bytes of commit log indexed per pass (bounds memory and lock hold times).
const PASS_BYTES: i64 = 16 << 20;
/// How often a caught-up indexer looks for new records.
const POLL: Duration = Duration::from_millis(10);
/// How often the active file's header (the resume point) is made durable.
const HEADER_FLUSH: Duration = Duration::from_secs(1);
/// Most candidate offsets one lookup collects before verification.
const MAX_CANDIDATES: usize = 4096;

/// Result of [`crate::MessageStore::query_by_key`].
#[derive(Debug, Clone, Default)]
pub struct KeyQueryResult {
    /// Matching records (stored format), newest first.
    pub messages: Vec<Bytes>,
    /// Store timestamp of the newest indexed record.
    pub index_last_update_timestamp: i64,
    /// Every record below this commit log offset is indexed.
    pub index_last_update_phy_offset: i64,
}

struct Shared {
    dir: PathBuf,
    files: RwLock<Vec<IndexFile>>,
    indexed: AtomicI64,
    stop: AtomicBool,
    slots: u32,
    capacity: u32,
}

/// The running indexer.
pub(crate) struct Indexer {
    shared: Arc<Shared>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

/// Hash of `topic#key`.
pub(crate) fn key_hash(topic: &[u8], key: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(topic);
    h.update(b"#");
    h.update(key);
    h.finalize()
}

/// The key hashes of one record (empty for rollback records).
fn record_keys(rec: &[u8], layout: &crate::record::Layout, out: &mut Vec<u32>) {
    if sys_flag::transaction_type(layout.sys_flag) == sys_flag::TRANSACTION_ROLLBACK {
        return;
    }
    let topic = rec.get(layout.topic.clone()).unwrap_or_default();
    let props = rec
        .get(layout.properties.clone())
        .and_then(|p| std::str::from_utf8(p).ok())
        .unwrap_or("");
    if let Some(keys) = raw_property(props, property::KEYS) {
        for k in keys.split(' ').filter(|k| !k.is_empty()) {
            out.push(key_hash(topic, k.as_bytes()));
        }
    }
    if let Some(u) = raw_property(props, property::UNIQ_KEY) {
        out.push(key_hash(topic, u.as_bytes()));
    }
}

/// Opens the index files consistent with a commit log ending at `cl_end`; returns them and
/// the resume point.
fn load(dir: &std::path::Path, cl_end: i64) -> Result<Vec<IndexFile>, StoreError> {
    crate::durable::create_dir_all(dir)?;
    let listed = list_numbered(dir)?;
    let mut files = Vec::new();
    let mut drop_rest = false;
    let n = listed.len();
    for (i, (begin, path)) in listed.into_iter().enumerate() {
        let last = i + 1 == n;
        let opened = if drop_rest || begin >= cl_end {
            None
        } else {
            IndexFile::open(&path, last, cl_end)?
        };
        match opened {
            Some(f) if last || f.header.end_phy <= cl_end => files.push(f),
            _ => {
                if !drop_rest && begin < cl_end {
                    tracing::warn!(path = %path.display(), "index file unusable; re-indexing from its start");
                }
                drop_rest = true;
                crate::durable::remove_file(&path)?;
            }
        }
    }
    Ok(files)
}

/// Does a valid record (or the end of the log) start at `offset`? A resume point the index
/// recorded can fail this after a power cut with asynchronous flush: the index's files were
/// durable while the commit log bytes it had indexed were lost, and the log was written again
/// differently from an earlier point (its records checksummed and at their own offsets).
fn is_record_boundary(cl: &CommitLog, offset: i64, end: i64) -> Result<bool, StoreError> {
    let mut probe: i64 = 64 << 10;
    loop {
        let limit = end.min(offset.saturating_add(probe));
        let (to, stop) = cl.scan(offset, limit, true, |_, _, _| Ok(()))?;
        match stop {
            crate::scan::ScanStop::Invalid(_) => return Ok(to > offset),
            crate::scan::ScanStop::Incomplete if to == offset && limit < end => probe *= 4,
            _ => return Ok(true),
        }
    }
}

/// Drops the active file whose resume point is not a record boundary (see
/// [`is_record_boundary`]) and resumes from its first offset when that one is a boundary;
/// otherwise drops every file and re-indexes the whole surviving log from `min`. Lookups meanwhile
/// find only what is re-indexed; nothing in the commit log is touched.
fn restart_from_a_boundary(
    cl: &CommitLog,
    mut files: Vec<IndexFile>,
    min: i64,
    end: i64,
) -> Result<(Vec<IndexFile>, i64), StoreError> {
    let bad = files.last().map_or(0, |f| f.header.end_phy);
    let active = files.pop();
    let begin = active.as_ref().map_or(min, |f| f.header.begin_phy).max(min);
    if let Some(f) = active {
        crate::durable::remove_file(f.path())?;
    }
    let resume = if is_record_boundary(cl, begin, end)? {
        begin
    } else {
        for f in files.drain(..) {
            crate::durable::remove_file(f.path())?;
        }
        min
    };
    tracing::warn!(
        stale = bad,
        resume,
        "the key index's resume point is not a record of the recovered commit log (lost to a \
         power cut with asynchronous flush and written again); re-indexing from {resume}"
    );
    Ok((files, resume))
}

impl Indexer {
    /// Loads the index under `<root>/index` and starts following the commit log.
    pub(crate) fn start(inner: &Arc<Inner>) -> Result<Self, StoreError> {
        let cfg = &inner.config;
        let dir = cfg.root_dir.join("index");
        let cl_end = inner.cl.max_offset();
        let mut files = load(&dir, cl_end)?;
        let capacity = cfg.index_entries_per_file.max(16);
        let slots = (capacity / 4).max(1);
        let min = inner.cl.min_offset().min(cl_end);
        let mut resume = files.last().map_or(0, |f| f.header.end_phy).max(min);
        if !is_record_boundary(&inner.cl, resume, cl_end)? {
            (files, resume) = restart_from_a_boundary(&inner.cl, files, min, cl_end)?;
        }
        if files.last().is_none_or(|f| f.header.sealed) {
            files.push(IndexFile::create(&dir, resume, slots, capacity)?);
        }
        tracing::info!(dir = %dir.display(), files = files.len(), resume, behind = cl_end - resume, "key index opened");
        let shared = Arc::new(Shared {
            dir,
            files: RwLock::new(files),
            indexed: AtomicI64::new(resume),
            stop: AtomicBool::new(false),
            slots,
            capacity,
        });
        let (s, i) = (shared.clone(), inner.clone());
        let thread = std::thread::Builder::new()
            .name("rmq-store-index".into())
            .spawn(move || run(&s, &i))
            .map_err(|e| StoreError::io(e, "starting the index thread"))?;
        Ok(Self {
            shared,
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Every record below this commit log offset is indexed.
    pub(crate) fn indexed(&self) -> i64 {
        self.shared.indexed.load(Ordering::Acquire)
    }

    /// Up to `max` records of `topic` with `key` (see `MessageStore::query_by_key`), read from
    /// `cl` and verified, newest first; key lookups keep records stored within `times`.
    pub(crate) fn query(
        &self,
        cl: &CommitLog,
        topic: &str,
        key: &str,
        unique: bool,
        max: usize,
        times: RangeInclusive<i64>,
    ) -> Result<KeyQueryResult, StoreError> {
        let mut res = KeyQueryResult::default();
        let s = &self.shared;
        let hash = key_hash(topic.as_bytes(), key.as_bytes());
        let in_range = |ts: i64| unique || times.contains(&ts);
        let mut candidates = Vec::new();
        {
            let files = s.files.read();
            res.index_last_update_timestamp = files.last().map_or(0, |f| f.header.end_ts);
            for f in files.iter().rev() {
                if !unique && (f.header.end_ts < *times.start() || f.header.begin_ts > *times.end())
                {
                    continue;
                }
                f.lookup(hash, &in_range, MAX_CANDIDATES, &mut candidates)?;
                if candidates.len() >= MAX_CANDIDATES {
                    break;
                }
            }
        }
        res.index_last_update_phy_offset = s.indexed.load(Ordering::Acquire);
        candidates.dedup();
        // entries of records that retention removed (files not yet removed, or after a crash)
        let min = cl.min_offset();
        for phy in candidates.into_iter().filter(|phy| *phy >= min) {
            if res.messages.len() >= max {
                break;
            }
            if let Some(rec) = cl.read_record(phy)?
                && matches(&rec, topic, key, unique)
            {
                res.messages.push(rec);
            }
        }
        Ok(res)
    }

    /// Retention: removes, oldest first, the sealed files whose every entry is below the
    /// commit log offset `min` (`end_phy <= min`); never the active file. Returns how many
    /// files and how many bytes. A crash in between leaves a prefix removed, which opening
    /// accepts.
    pub(crate) fn remove_files_below(&self, min: i64) -> Result<(usize, u64), StoreError> {
        let (mut count, mut bytes) = (0, 0);
        let mut files = self.shared.files.write();
        while files.len() > 1 && files[0].header.sealed && files[0].header.end_phy <= min {
            let f = &files[0];
            bytes += f.disk_bytes().unwrap_or(0);
            match std::fs::remove_file(f.path()) {
                Ok(()) => count += 1,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(StoreError::io(
                        e,
                        format!("removing {}", f.path().display()),
                    ));
                }
            }
            files.remove(0);
        }
        drop(files);
        if count > 0 {
            crate::segment::sync_dir(&self.shared.dir)?;
        }
        Ok((count, bytes))
    }

    /// Restarts a stopped indexer on an empty index (its files already removed) that begins at
    /// commit log offset `offset` (see `MessageStore::reset_to`).
    pub(crate) fn restart_at(&self, inner: &Arc<Inner>, offset: i64) -> Result<(), StoreError> {
        let s = &self.shared;
        let file = IndexFile::create(&s.dir, offset, s.slots, s.capacity)?;
        *s.files.write() = vec![file];
        s.indexed.store(offset, Ordering::Release);
        s.stop.store(false, Ordering::Release);
        let (s, i) = (s.clone(), inner.clone());
        let thread = std::thread::Builder::new()
            .name("rmq-store-index".into())
            .spawn(move || run(&s, &i))
            .map_err(|e| StoreError::io(e, "starting the index thread"))?;
        *self.thread.lock() = Some(thread);
        Ok(())
    }

    /// Stops the thread and makes the index durable. Idempotent.
    pub(crate) fn stop(&self) {
        self.shared.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.lock().take()
            && t.join().is_err()
        {
            tracing::error!("index thread panicked");
        }
    }
}

fn run(s: &Shared, inner: &Inner) {
    let mut last_flush = Instant::now();
    let mut dirty = false;
    let mut keys = Vec::new();
    let mut recs: Vec<(i64, i64, usize)> = Vec::new();
    loop {
        let stopping = s.stop.load(Ordering::Acquire);
        // nothing below the commit log's first segment can be indexed any more
        let from = s.indexed.load(Ordering::Acquire).max(inner.cl.min_offset());
        let end = inner.dispatched.load(Ordering::Acquire);
        let mut advanced = false;
        if from < end {
            match pass(s, inner, from, end, &mut keys, &mut recs) {
                Ok(to) => {
                    advanced = to > from;
                    dirty |= advanced;
                }
                Err(e) => {
                    tracing::error!(error = %e, offset = from, "indexing failed; retrying in 1 s");
                    std::thread::sleep(Duration::from_secs(1));
                }
            }
        }
        if dirty && (stopping || last_flush.elapsed() >= HEADER_FLUSH) {
            if let Some(f) = s.files.write().last_mut()
                && let Err(e) = f.flush()
            {
                tracing::error!(error = %e, "cannot flush the key index");
            }
            dirty = false;
            last_flush = Instant::now();
        }
        if stopping {
            return;
        }
        if !advanced {
            std::thread::sleep(POLL);
        }
    }
}

/// Indexes records in `[from, min(end, from + PASS_BYTES))`; returns the new resume point.
fn pass(
    s: &Shared,
    inner: &Inner,
    from: i64,
    end: i64,
    keys: &mut Vec<u32>,
    recs: &mut Vec<(i64, i64, usize)>,
) -> Result<i64, StoreError> {
    keys.clear();
    recs.clear();
    let mut scan = |limit: i64| {
        inner.cl.scan(from, limit, false, |off, rec, layout| {
            let first = keys.len();
            record_keys(rec, layout, keys);
            recs.push((off, layout.store_timestamp, first));
            Ok(())
        })
    };
    let (mut to, mut stop) = scan(end.min(from + PASS_BYTES))?;
    if to == from && end > from + PASS_BYTES {
        (to, stop) = scan(end)?;
    }
    if let crate::scan::ScanStop::Invalid(why) = stop
        && to < end
    {
        return Err(StoreError::Corrupt(format!(
            "cannot index the commit log at {to}: {why}"
        )));
    }
    let mut files = s.files.write();
    for (i, &(off, ts, first)) in recs.iter().enumerate() {
        let last = recs.get(i + 1).map_or(keys.len(), |r| r.2);
        let n = last - first;
        if n == 0 {
            continue;
        }
        if files.last().is_none_or(|f| f.lacks_room(n)) {
            if let Some(f) = files.last_mut() {
                f.set_end(off);
                f.seal()?;
            }
            files.push(IndexFile::create(&s.dir, off, s.slots, s.capacity)?);
        }
        if let Some(f) = files.last_mut() {
            for h in &keys[first..last] {
                f.append(*h, off, ts);
            }
        }
    }
    if let Some(f) = files.last_mut() {
        f.set_end(to);
        f.write_pending()?;
    }
    drop(files);
    s.indexed.store(to, Ordering::Release);
    Ok(to)
}

/// Does the record at `phy` have `topic` and `key` (a `KEYS` entry, or the `UNIQ_KEY` when
/// `unique`)?
fn matches(rec: &[u8], topic: &str, key: &str, unique: bool) -> bool {
    let Ok(layout) = crate::record::parse(rec) else {
        return false;
    };
    if rec.get(layout.topic.clone()) != Some(topic.as_bytes()) {
        return false;
    }
    let props = rec
        .get(layout.properties)
        .and_then(|p| std::str::from_utf8(p).ok())
        .unwrap_or("");
    if unique {
        raw_property(props, property::UNIQ_KEY) == Some(key)
    } else {
        raw_property(props, property::KEYS).is_some_and(|ks| ks.split(' ').any(|k| k == key))
    }
}
