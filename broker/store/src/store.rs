//! [`MessageStore`]: the public face. One write lock covers the commit log tail and the queue
//! offsets (each queue's max offset); reads use atomics and short read locks. A std thread
//! flushes (see [`crate::flush`]); [`MessageStore::open`] runs recovery.

use crate::checkpoint::{Checkpoint, CheckpointFile};
use crate::commit_log::{CommitLog, Tail};
use crate::config::{FlushMode, StoreConfig};
use crate::consume_queue::{ConsumeQueue, CqUnit, valid_topic_dir};
use crate::error::{IoContext, StoreError};
use crate::flush::{self, FlushSignal};
use crate::read;
use crate::record;
use crate::recovery::{self, QueueMap};
use crate::stats::StoreStats;
use bytes::BytesMut;
use parking_lot::{Mutex, RwLock};
use rmq_protocol::message::patch_record;
use std::fs::{self, File};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Called after each dispatched record: `(topic, queue_id, new max offset, tagsCode)`.
pub type ArrivalListener = dyn Fn(&str, i32, i64, i64) + Send + Sync;

/// Where one appended record went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PutResult {
    /// Commit log offset of the record.
    pub commit_log_offset: i64,
    /// Queue offset (0 for PREPARED/ROLLBACK transaction records, which get no CQ unit).
    pub queue_offset: i64,
    /// Record size in bytes.
    pub size: usize,
    /// Store timestamp written into the record (ms; never decreases).
    pub store_timestamp: i64,
}

impl PutResult {
    /// The offset to pass to [`MessageStore::wait_flushed`]: the end of the record.
    pub fn end_offset(&self) -> i64 {
        self.commit_log_offset + self.size as i64
    }
}

/// Milliseconds since the epoch.
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

pub(crate) struct WriteState {
    pub(crate) tail: Tail,
    pub(crate) queues: QueueMap,
    pub(crate) last_store_ts: i64,
    units: Vec<u8>,
    offsets: Vec<i64>,
}

impl WriteState {
    fn next_store_ts(&mut self) -> i64 {
        let ts = now_ms().max(self.last_store_ts);
        self.last_store_ts = ts;
        ts
    }
}

pub(crate) struct Inner {
    pub(crate) config: StoreConfig,
    pub(crate) cl: CommitLog,
    pub(crate) cq_root: PathBuf,
    pub(crate) write: Mutex<WriteState>,
    pub(crate) queues: RwLock<QueueMap>,
    pub(crate) signal: Arc<FlushSignal>,
    pub(crate) checkpoint: Mutex<CheckpointFile>,
    pub(crate) flush_lock: Mutex<()>,
    pub(crate) listener: RwLock<Option<Arc<ArrivalListener>>>,
    /// Every record below this commit log offset has its consume queue unit.
    pub(crate) dispatched: AtomicI64,
    pub(crate) put_count: AtomicU64,
    pub(crate) put_bytes: AtomicU64,
    pub(crate) closed: AtomicBool,
    _lock_file: File,
}

/// The message store. `Send + Sync`; share it behind the `Arc` returned by [`Self::open`].
pub struct MessageStore {
    pub(crate) inner: Arc<Inner>,
    flusher: Mutex<Option<std::thread::JoinHandle<()>>>,
    pub(crate) index: Option<crate::index::Indexer>,
}

impl std::fmt::Debug for MessageStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MessageStore")
            .field("root_dir", &self.inner.config.root_dir)
            .field("max_physical_offset", &self.inner.cl.max_offset())
            .finish()
    }
}

fn lock_root(root: &std::path::Path) -> Result<File, StoreError> {
    let path = root.join("lock");
    let file = crate::segment::open_rw(&path)?;
    rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive)
        .map_err(|_| StoreError::Locked(root.display().to_string()))?;
    Ok(file)
}

impl MessageStore {
    /// Opens (or creates) the store under `config.root_dir`, runs recovery and starts the
    /// flusher thread.
    pub fn open(config: StoreConfig) -> Result<Arc<Self>, StoreError> {
        config.validate()?;
        let root = config.root_dir.clone();
        fs::create_dir_all(&root).ctx(|| format!("creating {}", root.display()))?;
        let lock_file = lock_root(&root)?;
        let abort = root.join("abort");
        if abort.exists() {
            tracing::warn!(root = %root.display(), "abort file present: the store was not shut down cleanly; recovering");
        }
        let cl = CommitLog::open(&root.join("commitlog"), config.commit_log_segment_size)?;
        let mut checkpoint = CheckpointFile::open(&root.join("checkpoint"))?;
        let cq_root = root.join("consumequeue");
        let started = Instant::now();
        let rec = recovery::recover(&config, &cl, checkpoint.last(), &cq_root)?;
        fs::create_dir_all(&cq_root).ctx(|| format!("creating {}", cq_root.display()))?;
        let mut tail = Tail::new(rec.end);
        cl.prepare_tail(&mut tail)?;
        // make what recovery accepted and rebuilt durable before accepting writes
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
        File::create(&abort).ctx(|| format!("creating {}", abort.display()))?;
        crate::segment::sync_dir(&root)?;
        let last_store_ts = match cl.segments().last() {
            Some(_) => last_store_time(&cl, &rec.queues).unwrap_or(0),
            None => 0,
        };
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
            write: Mutex::new(WriteState {
                tail,
                queues: rec.queues.clone(),
                last_store_ts,
                units: Vec::new(),
                offsets: Vec::new(),
            }),
            queues: RwLock::new(rec.queues),
            signal: Arc::new(FlushSignal::new(rec.end)),
            checkpoint: Mutex::new(checkpoint),
            flush_lock: Mutex::new(()),
            listener: RwLock::new(None),
            dispatched: AtomicI64::new(rec.end),
            put_count: AtomicU64::new(0),
            put_bytes: AtomicU64::new(0),
            closed: AtomicBool::new(false),
            _lock_file: lock_file,
            cl,
            config,
        });
        let worker = inner.clone();
        let mode = inner.config.flush;
        let interval = inner.config.flush_interval;
        let mut last_full = Instant::now();
        let handle = flush::spawn(inner.signal.clone(), interval, move |last| {
            let res = if mode == FlushMode::Sync && !last && last_full.elapsed() < interval {
                worker.flush_commit_log().map(|_| ())
            } else {
                last_full = Instant::now();
                worker.flush_all()
            };
            if let Err(e) = res {
                tracing::error!(error = %e, "flush failed");
            }
        })
        .map_err(|e| StoreError::io(e, "starting the flush thread"))?;
        let index = match inner.config.index_enabled {
            true => Some(crate::index::Indexer::start(&inner)?),
            false => None,
        };
        Ok(Arc::new(Self {
            inner,
            flusher: Mutex::new(Some(handle)),
            index,
        }))
    }

    /// The configuration in force.
    pub fn config(&self) -> &StoreConfig {
        &self.inner.config
    }

    /// Appends one record (encoded by `rmq_protocol::message::encode_record`, offsets and store
    /// time zero). Under the write lock: assigns the queue offset (PREPARED/ROLLBACK records get
    /// 0 and no unit), patches queue offset, physical offset and store timestamp, writes the
    /// record and its consume queue unit; then notifies the arrival listener. For
    /// `SCHEDULE_TOPIC_XXXX` the store computes the tagsCode itself (`StoreConfig::tags_code`
    /// at the store timestamp, the same rule recovery uses) and ignores `tags_code`.
    pub fn put(
        &self,
        topic: &str,
        queue_id: i32,
        mut record: BytesMut,
        tags_code: i64,
    ) -> Result<PutResult, StoreError> {
        let inner = &*self.inner;
        if inner.closed.load(Ordering::Acquire) {
            return Err(StoreError::ShutDown);
        }
        let sys_flag = inner.check_record(&record, topic, queue_id)?;
        let dispatch = record::is_dispatched(sys_flag);
        let size = record.len();
        let mut w = inner.write.lock();
        if inner.closed.load(Ordering::Acquire) {
            return Err(StoreError::ShutDown);
        }
        let ts = w.next_store_ts();
        let tags_code = match topic == crate::config::SCHEDULE_TOPIC {
            true => inner.config.tags_code_at(&record, ts).unwrap_or(tags_code),
            false => tags_code,
        };
        let WriteState { tail, queues, .. } = &mut *w;
        let q = if dispatch {
            Some(inner.queue_for_write(queues, topic, queue_id)?)
        } else {
            None
        };
        let qo = q.map_or(0, |q| q.max_offset());
        let offset = inner
            .cl
            .append(tail, &mut record, |b, pos| patch_record(b, qo, pos, ts))?;
        let end = tail.pos;
        inner.cl.publish(end);
        let res = PutResult {
            commit_log_offset: offset,
            queue_offset: qo,
            size,
            store_timestamp: ts,
        };
        let unit_res = match q {
            Some(q) => {
                let unit = CqUnit {
                    offset,
                    size: size as i32,
                    tags_code,
                };
                q.append_units(qo, &unit.encode())
            }
            None => Ok(()),
        };
        inner.dispatched.store(end, Ordering::Release);
        drop(w);
        inner.put_count.fetch_add(1, Ordering::Relaxed);
        inner.put_bytes.fetch_add(size as u64, Ordering::Relaxed);
        unit_res?;
        if dispatch && let Some(l) = inner.listener() {
            l(topic, queue_id, qo + 1, tags_code);
        }
        Ok(res)
    }

    /// Appends several records of one topic/queue with consecutive queue offsets, under one
    /// lock, with one write per segment touched.
    pub fn put_batch(
        &self,
        topic: &str,
        queue_id: i32,
        records: Vec<(BytesMut, i64)>,
    ) -> Result<Vec<PutResult>, StoreError> {
        let inner = &*self.inner;
        if inner.closed.load(Ordering::Acquire) {
            return Err(StoreError::ShutDown);
        }
        let n = records.len();
        let mut bufs = Vec::with_capacity(n);
        let mut meta = Vec::with_capacity(n);
        for (rec, tags) in records {
            let flag = inner.check_record(&rec, topic, queue_id)?;
            meta.push((record::is_dispatched(flag), tags, rec.len()));
            bufs.push(rec);
        }
        if n == 0 {
            return Ok(Vec::new());
        }
        let mut w = inner.write.lock();
        if inner.closed.load(Ordering::Acquire) {
            return Err(StoreError::ShutDown);
        }
        let ts = w.next_store_ts();
        let WriteState {
            tail,
            queues,
            units,
            offsets,
            ..
        } = &mut *w;
        let q = if meta.iter().any(|m| m.0) {
            Some(inner.queue_for_write(queues, topic, queue_id)?)
        } else {
            None
        };
        let base = q.map_or(0, |q| q.max_offset());
        let mut next_qo = base;
        let mut qos = Vec::with_capacity(n);
        offsets.clear();
        inner
            .cl
            .append_batch(tail, &mut bufs, offsets, |i, b, pos| {
                let qo = if meta[i].0 {
                    next_qo += 1;
                    next_qo - 1
                } else {
                    0
                };
                qos.push(qo);
                patch_record(b, qo, pos, ts);
            })?;
        let end = tail.pos;
        inner.cl.publish(end);
        units.clear();
        let mut results = Vec::with_capacity(n);
        for (i, &(dispatch, tags_code, size)) in meta.iter().enumerate() {
            if dispatch {
                let unit = CqUnit {
                    offset: offsets[i],
                    size: size as i32,
                    tags_code,
                };
                units.extend_from_slice(&unit.encode());
            }
            results.push(PutResult {
                commit_log_offset: offsets[i],
                queue_offset: qos[i],
                size,
                store_timestamp: ts,
            });
        }
        let unit_res = match q {
            Some(q) => q.append_units(base, units),
            None => Ok(()),
        };
        inner.dispatched.store(end, Ordering::Release);
        drop(w);
        inner.put_count.fetch_add(n as u64, Ordering::Relaxed);
        inner.put_bytes.fetch_add(
            results.iter().map(|r| r.size as u64).sum(),
            Ordering::Relaxed,
        );
        unit_res?;
        if let Some(l) = inner.listener() {
            for (r, m) in results.iter().zip(&meta).filter(|(_, m)| m.0) {
                l(topic, queue_id, r.queue_offset + 1, m.1);
            }
        }
        Ok(results)
    }

    /// Resolves true once the commit log is durable below `offset` (pass
    /// [`PutResult::end_offset`]); false after `timeout`. Wakes the flusher; concurrent waiters
    /// share one fsync.
    pub async fn wait_flushed(&self, offset: i64, timeout: Duration) -> bool {
        self.inner.signal.wait_flushed(offset, timeout).await
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
                let dir = inner.cq_root.join(topic);
                match fs::remove_dir_all(&dir) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(StoreError::io(e, format!("removing {}", dir.display()))),
                }
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
        inner.flush_all()?;
        let abort = inner.config.root_dir.join("abort");
        match fs::remove_file(&abort) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(StoreError::io(e, format!("removing {}", abort.display()))),
        }
        crate::segment::sync_dir(&inner.config.root_dir)?;
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

impl Inner {
    /// Validates a record handed to `put`; returns its sysFlag.
    fn check_record(&self, rec: &[u8], topic: &str, queue_id: i32) -> Result<i32, StoreError> {
        let layout = record::parse(rec).map_err(|why| StoreError::InvalidRecord(why.into()))?;
        if layout.total != rec.len() {
            return Err(StoreError::InvalidRecord(format!(
                "TOTALSIZE {} but {} bytes given",
                layout.total,
                rec.len()
            )));
        }
        let body = layout.body.len();
        if body > self.config.max_message_size {
            return Err(StoreError::MessageTooLarge {
                size: body,
                max: self.config.max_message_size,
            });
        }
        if rec.get(layout.topic.clone()) != Some(topic.as_bytes()) || layout.queue_id != queue_id {
            return Err(StoreError::InvalidRecord(format!(
                "record topic/queue differ from {topic}/{queue_id}"
            )));
        }
        Ok(layout.sys_flag)
    }

    /// The queue for `topic`/`queue_id`, created (and published to readers) if new.
    fn queue_for_write<'a>(
        &self,
        queues: &'a mut QueueMap,
        topic: &str,
        queue_id: i32,
    ) -> Result<&'a Arc<ConsumeQueue>, StoreError> {
        let exists = queues.get(topic).is_some_and(|m| m.contains_key(&queue_id));
        if !exists {
            if !valid_topic_dir(topic) {
                return Err(StoreError::InvalidTopic(topic.to_owned()));
            }
            let q = Arc::new(ConsumeQueue::new(
                &self.cq_root,
                topic,
                queue_id,
                self.config.consume_queue_units_per_file,
            ));
            queues
                .entry(topic.to_owned())
                .or_default()
                .insert(queue_id, q.clone());
            self.publish_queue(&q);
        }
        queues
            .get(topic)
            .and_then(|m| m.get(&queue_id))
            .ok_or_else(|| StoreError::InvalidTopic(topic.to_owned()))
    }

    /// Makes a queue visible to readers (no-op if it already is).
    pub(crate) fn publish_queue(&self, q: &Arc<ConsumeQueue>) {
        let known = self
            .queues
            .read()
            .get(q.topic())
            .is_some_and(|m| m.contains_key(&q.queue_id()));
        if !known {
            self.queues
                .write()
                .entry(q.topic().to_owned())
                .or_default()
                .entry(q.queue_id())
                .or_insert_with(|| q.clone());
        }
    }

    pub(crate) fn flushed(&self) -> i64 {
        self.signal.flushed()
    }

    /// The arrival listener, called without holding any store lock.
    pub(crate) fn listener(&self) -> Option<Arc<ArrivalListener>> {
        self.listener.read().clone()
    }

    pub(crate) fn queue(&self, topic: &str, queue_id: i32) -> Option<Arc<ConsumeQueue>> {
        self.queues.read().get(topic)?.get(&queue_id).cloned()
    }
}

/// Newest store timestamp among the queues' last units (keeps store times non-decreasing
/// across restarts).
fn last_store_time(cl: &CommitLog, queues: &QueueMap) -> Option<i64> {
    queues
        .values()
        .flat_map(|m| m.values())
        .filter_map(|q| {
            let n = q.max_offset() - 1;
            (n >= q.min_offset())
                .then(|| read::store_time_of(cl, q, n))
                .flatten()
        })
        .max()
}
