//! [`MessageStore`]: the public face. One write lock covers the commit log tail and the queue
//! offsets (each queue's max offset); reads use atomics and short read locks. A std thread
//! flushes (see [`crate::flush`]); [`MessageStore::open`] runs recovery. The shared state is
//! [`crate::inner`], the write path [`crate::write`], the read logic [`crate::read`],
//! retention [`crate::retention`] and commit log resets [`crate::reset`].

use crate::checkpoint::{Checkpoint, CheckpointFile};
use crate::commit_log::{CommitLog, Tail};
use crate::config::{FlushMode, StoreConfig};
use crate::consume_queue::valid_topic_dir;
use crate::disk::{DiskUsage, disk_usage};
use crate::error::{IoContext, StoreError};
use crate::flush;
use crate::index::{Indexer, KeyQueryResult};
use crate::inner::{ArrivalListener, Inner, WriteState, now_ms};
use crate::read::{Boundary, GetResult, get_messages, search_by_time, store_time_of};
use crate::recovery::{self, Recovered};
use crate::stats::StoreStats;
use crate::write::PutResult;
use bytes::{Bytes, BytesMut};
use parking_lot::{Mutex, RwLock};
use rmq_protocol::message::TagsCode;
use std::fs::File;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The message store. `Send + Sync`; share it behind the `Arc` returned by [`Self::open`].
pub struct MessageStore {
    pub(crate) inner: Arc<Inner>,
    flusher: Mutex<Option<JoinHandle<()>>>,
    pub(crate) index: Option<Indexer>,
    /// Serialises retention passes and commit log resets.
    pub(crate) maintenance: Mutex<()>,
}

impl std::fmt::Debug for MessageStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MessageStore")
            .field("root_dir", &self.inner.config.root_dir)
            .field("max_physical_offset", &self.inner.cl.max_offset())
            .finish()
    }
}

fn lock_root(root: &Path) -> Result<File, StoreError> {
    let path = root.join("lock");
    let file = crate::segment::open_rw(&path)?;
    rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive)
        .map_err(|_| StoreError::Locked(root.display().to_string()))?;
    Ok(file)
}

/// Prepares the tail for appends and makes what recovery accepted and rebuilt durable (the
/// scanned commit log range, the consume queues, a checkpoint at the recovered end) before any
/// write is accepted.
fn make_durable(
    cl: &CommitLog,
    checkpoint: &mut CheckpointFile,
    rec: &Recovered,
    cq_root: &Path,
) -> Result<Tail, StoreError> {
    crate::durable::create_dir_all(cq_root)?;
    let mut tail = Tail::new(rec.end);
    cl.prepare_tail(&mut tail)?;
    cl.sync_range(rec.scanned_from.min(rec.end), rec.end)?;
    for q in rec.queues.values().flat_map(|m| m.values()) {
        q.sync()?;
    }
    checkpoint.write(Checkpoint {
        commit_log_flushed: rec.end,
        cq_flushed: rec.end,
        timestamp: now_ms(),
        ..Default::default()
    })?;
    Ok(tail)
}

/// How often a failed store repeats its error in the log.
const FAILED_LOG_EVERY: Duration = Duration::from_secs(30);

/// Starts the flusher thread: under SYNC flush it fsyncs the commit log at every wake-up and
/// everything once per interval; under ASYNC everything at every tick. Once an fsync failed it
/// only reminds the log, at most every [`FAILED_LOG_EVERY`].
fn start_flusher(inner: &Arc<Inner>) -> Result<JoinHandle<()>, StoreError> {
    let worker = inner.clone();
    let mode = inner.config.flush;
    let interval = inner.config.flush_interval;
    let mut last_full = Instant::now();
    let mut last_log: Option<Instant> = None;
    flush::spawn(inner.signal.clone(), interval, move |last| {
        if let Err(e) = worker.signal.check() {
            if last_log.is_none_or(|t| t.elapsed() >= FAILED_LOG_EVERY) {
                last_log = Some(Instant::now());
                tracing::error!(error = %e, "store failed: not flushing; restart the broker");
            }
            return;
        }
        let res = if mode == FlushMode::Sync && !last && last_full.elapsed() < interval {
            // under the flush lock: a commit log reset must not see an older end published
            let _g = worker.flush_lock.lock();
            worker.flush_commit_log().map(|_| ())
        } else {
            last_full = Instant::now();
            worker.flush_all()
        };
        if let Err(e) = res {
            tracing::error!(error = %e, "flush failed");
        }
    })
    .map_err(|e| StoreError::io(e, "starting the flush thread"))
}

impl MessageStore {
    /// Asks the next [`MessageStore::open`] of the store under `root` to cut everything at and
    /// after commit log offset `offset` (a record boundary; a record straddling it goes too).
    /// Call it on a closed store: an open one keeps serving its records until it is reopened.
    /// (The marker and the cut: [`crate::truncate`].)
    pub fn truncate_tail(root: &Path, offset: i64) -> Result<(), StoreError> {
        crate::truncate::request(root, offset)
    }

    /// Opens (or creates) the store under `config.root_dir`, runs recovery and starts the
    /// flusher thread.
    pub fn open(config: StoreConfig) -> Result<Arc<Self>, StoreError> {
        config.validate()?;
        let root = config.root_dir.clone();
        let fault = config
            .fault
            .clone()
            .map(|hook| crate::durable::install(&root, hook));
        crate::durable::create_dir_all(&root)?;
        let lock_file = lock_root(&root)?;
        crate::reset_marker::finish_interrupted(&root)?;
        let abort = root.join("abort");
        if abort.exists() {
            tracing::warn!(root = %root.display(), "abort file present: the store was not shut down cleanly; recovering");
        }
        let cl = CommitLog::open(
            &root.join("commitlog"),
            config.commit_log_segment_size,
            config.commit_log_write_back,
        )?;
        let mut checkpoint = CheckpointFile::open(&root.join("checkpoint"))?;
        let cq_root = root.join("consumequeue");
        let started = Instant::now();
        let cap = crate::truncate::pending(&root)?;
        let rec = recovery::recover(&config, &cl, checkpoint.last(), &cq_root, cap)?;
        let tail = make_durable(&cl, &mut checkpoint, &rec, &cq_root)?;
        if cap.is_some() {
            crate::truncate::finish(&root, rec.end)?;
        }
        File::create(&abort).ctx(|| format!("creating {}", abort.display()))?;
        crate::durable::sync_dir(&root)?;
        tracing::info!(
            root = %root.display(),
            end = rec.end,
            truncated = rec.truncated,
            redispatched = rec.redispatched,
            queues = rec.queues.values().map(|m| m.len()).sum::<usize>(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "message store opened"
        );
        let inner = Arc::new(Inner {
            cq_root,
            write: Mutex::new(WriteState::new(tail, rec.queues.clone(), rec.last_store_ts)),
            queues: RwLock::new(rec.queues),
            signal: Arc::new(flush::FlushSignal::new(rec.end)),
            checkpoint: Mutex::new(checkpoint),
            flush_lock: Mutex::new(()),
            listener: RwLock::new(None),
            dispatched: AtomicI64::new(rec.end),
            read_limit: AtomicI64::new(i64::MAX),
            put_count: AtomicU64::new(0),
            put_bytes: AtomicU64::new(0),
            flush_times: crate::flush_times::FlushTimes::default(),
            closed: AtomicBool::new(false),
            _lock_file: lock_file,
            _fault: fault,
            cl,
            config,
        });
        let flusher = start_flusher(&inner)?;
        let index = match inner.config.index_enabled {
            true => Some(Indexer::start(&inner)?),
            false => None,
        };
        Ok(Arc::new(Self {
            inner,
            flusher: Mutex::new(Some(flusher)),
            index,
            maintenance: Mutex::new(()),
        }))
    }

    /// The configuration in force.
    pub fn config(&self) -> &StoreConfig {
        &self.inner.config
    }

    /// Appends one record (encoded by `rmq_protocol::message::encode_record`, offsets and store
    /// time zero). Under the write lock: assigns the queue offset (PREPARED/ROLLBACK records get
    /// 0 and no unit), patches queue offset, physical offset and store timestamp, writes the
    /// record and its consume queue unit with `tags` at the store timestamp (the caller knows
    /// the record: the store does not parse it again); then notifies the arrival listener.
    pub fn put(
        &self,
        topic: &str,
        queue_id: i32,
        record: BytesMut,
        tags: TagsCode,
    ) -> Result<PutResult, StoreError> {
        self.inner.put(topic, queue_id, record, tags)
    }

    /// Appends several records of one topic/queue with consecutive queue offsets, under one
    /// lock, with one write per segment touched.
    pub fn put_batch(
        &self,
        topic: &str,
        queue_id: i32,
        records: Vec<(BytesMut, TagsCode)>,
    ) -> Result<Vec<PutResult>, StoreError> {
        self.inner.put_batch(topic, queue_id, records)
    }

    /// Reads up to `max_count` records / `max_bytes` from queue offset `offset` whose tagsCode
    /// passes `filter` (statuses as in RocketMQ, see [`crate::GetStatus`]).
    pub fn get_messages(
        &self,
        topic: &str,
        queue_id: i32,
        offset: i64,
        max_count: usize,
        max_bytes: usize,
        filter: &dyn Fn(i64) -> bool,
    ) -> GetResult {
        let q = self.inner.queue(topic, queue_id);
        let visible = q.as_deref().map_or(0, |q| self.visible_end(q));
        get_messages(
            &self.inner.cl,
            q.as_deref(),
            visible,
            offset,
            (max_count, max_bytes),
            filter,
        )
    }

    /// Caps what readers see at commit log offset `limit` (`None`: no cap): pulls, max offsets
    /// and searches by time show only records ending at or below it (controller mode's confirm
    /// offset: what every in-sync replica holds). Writes and replication are not affected.
    pub fn set_read_limit(&self, limit: Option<i64>) {
        let v = limit.unwrap_or(i64::MAX);
        self.inner.read_limit.store(v, Ordering::Release);
    }

    /// The cap set by [`Self::set_read_limit`], when it hides something (records past it exist).
    pub fn read_limit(&self) -> Option<i64> {
        let limit = self.inner.read_limit.load(Ordering::Acquire);
        (limit < self.inner.cl.max_offset()).then_some(limit)
    }

    /// The queue's end as readers see it: its max offset, or its first unit past the read cap.
    fn visible_end(&self, q: &crate::consume_queue::ConsumeQueue) -> i64 {
        let max = q.max_offset();
        let Some(limit) = self.read_limit() else {
            return max;
        };
        // read after the max: the newest unit's end is at least that of the max's unit
        if q.newest_end() <= limit {
            return max;
        }
        crate::visible::first_beyond(q.min_offset(), max, limit, |n| {
            let unit = q.unit(n).ok().flatten().filter(|u| u.is_present())?;
            Some(unit.offset + i64::from(unit.size))
        })
    }

    /// First available queue offset (0 if the queue does not exist).
    pub fn min_offset(&self, topic: &str, queue_id: i32) -> i64 {
        self.inner
            .queue(topic, queue_id)
            .map_or(0, |q| q.min_offset())
    }

    /// Next queue offset to be written (number of units; 0 if the queue does not exist), as
    /// readers see it: below the units past the read cap ([`Self::set_read_limit`]).
    pub fn max_offset(&self, topic: &str, queue_id: i32) -> i64 {
        self.inner
            .queue(topic, queue_id)
            .map_or(0, |q| self.visible_end(&q))
    }

    /// Queue offset by store timestamp (SEARCH_OFFSET_BY_TIMESTAMP): lower = first offset with
    /// storeTime >= `timestamp` (max offset if all are older), upper = last offset with
    /// storeTime <= `timestamp` (0 if all are newer). 0 for a missing or empty queue.
    pub fn offset_by_time(
        &self,
        topic: &str,
        queue_id: i32,
        timestamp: i64,
        boundary: Boundary,
    ) -> i64 {
        let Some(q) = self.inner.queue(topic, queue_id) else {
            return 0;
        };
        let cl = &self.inner.cl;
        search_by_time(
            q.min_offset(),
            self.visible_end(&q),
            timestamp,
            boundary,
            |n| store_time_of(cl, &q, n),
        )
    }

    /// Store time of the oldest available message of the queue.
    pub fn earliest_store_time(&self, topic: &str, queue_id: i32) -> Option<i64> {
        let q = self.inner.queue(topic, queue_id)?;
        let min = q.min_offset();
        (min < q.max_offset())
            .then(|| store_time_of(&self.inner.cl, &q, min))
            .flatten()
    }

    /// Store time of the message at a queue offset.
    pub fn store_time_at(&self, topic: &str, queue_id: i32, offset: i64) -> Option<i64> {
        let q = self.inner.queue(topic, queue_id)?;
        store_time_of(&self.inner.cl, &q, offset)
    }

    /// Store time of the record at a commit log offset (`None` past the end, at a segment's
    /// padding, or where no record starts).
    pub fn store_time_at_physical(&self, commit_log_offset: i64) -> Option<i64> {
        self.inner
            .cl
            .store_timestamp_at(commit_log_offset)
            .ok()
            .flatten()
    }

    /// The whole record starting at `commit_log_offset`; `None` if there is none.
    pub fn read_record(&self, commit_log_offset: i64) -> Result<Option<Bytes>, StoreError> {
        self.inner.cl.read_record(commit_log_offset)
    }

    /// QUERY_MESSAGE: up to `max` records of `topic` whose `KEYS` contain `key` (or, with
    /// `unique`, whose `UNIQ_KEY` is `key`), newest first. Key lookups keep only records stored
    /// within `[begin_ts, end_ts]`; unique-key lookups ignore the range (the key is unique, and
    /// clients derive the range from the id, which broker-generated ids do not encode exactly).
    pub fn query_by_key(
        &self,
        topic: &str,
        key: &str,
        unique: bool,
        max: usize,
        begin_ts: i64,
        end_ts: i64,
    ) -> Result<KeyQueryResult, StoreError> {
        match &self.index {
            Some(ix) => ix.query(&self.inner.cl, topic, key, unique, max, begin_ts..=end_ts),
            None => Ok(KeyQueryResult::default()),
        }
    }

    /// Every record below this commit log offset is in the key index (the store's end when the
    /// index is disabled).
    pub fn indexed_offset(&self) -> i64 {
        self.index
            .as_ref()
            .map_or_else(|| self.max_physical_offset(), Indexer::indexed)
    }

    /// Resolves true once the commit log is durable below `offset` (pass
    /// [`PutResult::end_offset`]); false after `timeout` or if an fsync failed first. Wakes the flusher; concurrent waiters
    /// share one fsync.
    pub async fn wait_flushed(&self, offset: i64, timeout: Duration) -> bool {
        self.inner.signal.wait_flushed(offset, timeout).await
    }

    /// Like [`Self::wait_flushed`], but tells a failed fsync apart from a timeout: `Ok(true)`
    /// once the commit log is durable below `offset`, `Ok(false)` after `timeout`,
    /// [`StoreError::PersistFailed`] if an fsync failed before that (the record may be lost:
    /// never acknowledge it).
    pub async fn wait_durable(&self, offset: i64, timeout: Duration) -> Result<bool, StoreError> {
        self.inner.signal.wait_durable(offset, timeout).await
    }

    /// True once an fsync failed: the store refuses writes ([`StoreError::PersistFailed`])
    /// until it is reopened, and the broker should report itself not ready.
    pub fn is_failed(&self) -> bool {
        self.inner.signal.is_failed()
    }

    /// The commit log is durable below this offset.
    pub fn flushed_offset(&self) -> i64 {
        self.inner.signal.flushed()
    }

    /// End of the commit log (next append offset).
    pub fn max_physical_offset(&self) -> i64 {
        self.inner.cl.max_offset()
    }

    /// First commit log offset still on disk.
    pub fn min_physical_offset(&self) -> i64 {
        self.inner.cl.min_offset()
    }

    /// Usage of the file system holding the commit log (as `df` computes it, see
    /// [`crate::disk`]).
    pub fn disk_usage(&self) -> Result<DiskUsage, StoreError> {
        let dir = self.inner.cl.dir();
        disk_usage(dir).ctx(|| format!("statvfs {}", dir.display()))
    }

    /// Queue ids of `topic` that exist in the store, ascending.
    pub fn queue_ids(&self, topic: &str) -> Vec<i32> {
        let mut ids: Vec<i32> = self
            .inner
            .queues
            .read()
            .get(topic)
            .map(|m| m.keys().copied().collect())
            .unwrap_or_default();
        ids.sort_unstable();
        ids
    }

    /// Topics that have consume queues.
    pub fn topics(&self) -> Vec<String> {
        let mut t: Vec<String> = self.inner.queues.read().keys().cloned().collect();
        t.sort();
        t
    }

    /// Drops the topic's consume queues (the commit log keeps its records until retention).
    /// Flushes so that recovery does not re-dispatch the topic's older records.
    pub fn delete_topic(&self, topic: &str) -> Result<(), StoreError> {
        let inner = &*self.inner;
        {
            let mut w = inner.write.lock();
            let removed = w.queues.remove(topic);
            inner.queues.write().remove(topic);
            for q in removed.iter().flat_map(|m| m.values()) {
                q.delete()?;
            }
            if valid_topic_dir(topic) {
                crate::durable::remove_dir_all(&inner.cq_root.join(topic))?;
            }
        }
        self.flush()
    }

    /// Installs the callback run after each dispatched record (wakes held pulls).
    pub fn set_arrival_listener(&self, f: Box<ArrivalListener>) {
        *self.inner.listener.write() = Some(Arc::from(f));
    }

    /// Forces everything to disk and writes the checkpoint.
    pub fn flush(&self) -> Result<(), StoreError> {
        self.inner.flush_all()
    }

    /// Stops the flusher, flushes everything, writes the checkpoint and removes the abort
    /// file. Later puts fail with [`StoreError::ShutDown`]. Idempotent.
    pub fn shutdown(&self) -> Result<(), StoreError> {
        let inner = &*self.inner;
        if inner.closed.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        drop(inner.write.lock()); // in-flight puts are done
        if let Some(ix) = &self.index {
            ix.stop();
        }
        inner.signal.stop();
        if let Some(h) = self.flusher.lock().take()
            && h.join().is_err()
        {
            tracing::error!("flush thread panicked");
        }
        // buffered appends reach the files even when the store failed and cannot fsync them
        if let Err(e) = inner.cl.write_out() {
            tracing::error!(error = %e, "cannot write the commit log's buffered appends out");
        }
        // a failed store keeps its abort file: the next open recovers from the last durable point
        inner.flush_all()?;
        let abort = inner.config.root_dir.join("abort");
        crate::durable::remove_file(&abort)?;
        tracing::info!(root = %inner.config.root_dir.display(), end = inner.cl.max_offset(), "message store shut down");
        Ok(())
    }

    /// Counters and sizes.
    pub fn stats(&self) -> StoreStats {
        crate::stats::collect(&self.inner)
    }
}

impl Drop for MessageStore {
    fn drop(&mut self) {
        if let Err(e) = self.shutdown() {
            tracing::error!(error = %e, "message store shutdown on drop failed");
        }
    }
}
