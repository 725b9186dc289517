//! [`Inner`]: the state every part of the store shares — the files, the write lock over the
//! commit log tail and the queue offsets, the readers' queue map, the flush signal — and the
//! operations on it that the write path, the flusher, the indexer and replication all use.

use crate::checkpoint::{Checkpoint, CheckpointFile};
use crate::commit_log::{CommitLog, Tail};
use crate::config::StoreConfig;
use crate::consume_queue::{ConsumeQueue, valid_topic_dir};
use crate::error::StoreError;
use crate::flush::FlushSignal;
use crate::record;
use crate::recovery::QueueMap;
use parking_lot::{Mutex, RwLock};
use std::fs::File;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Called after each dispatched record: `(topic, queue_id, new max offset, tagsCode)`.
pub type ArrivalListener = dyn Fn(&str, i32, i64, i64) + Send + Sync;

/// Milliseconds since the epoch.
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// What the write lock guards.
pub(crate) struct WriteState {
    pub(crate) tail: Tail,
    /// The writer's queue map (readers use [`Inner::queues`]).
    pub(crate) queues: QueueMap,
    /// The newest store timestamp given out (store times never decrease).
    pub(crate) last_store_ts: i64,
    /// Reused buffer of encoded consume queue units (batches).
    pub(crate) units: Vec<u8>,
    /// Reused buffer of commit log offsets (batches).
    pub(crate) offsets: Vec<i64>,
}

impl WriteState {
    pub(crate) fn new(tail: Tail, queues: QueueMap, last_store_ts: i64) -> Self {
        Self {
            tail,
            queues,
            last_store_ts,
            units: Vec::new(),
            offsets: Vec::new(),
        }
    }

    /// The store timestamp of the next append: now, but never older than the last one.
    pub(crate) fn next_store_ts(&mut self) -> i64 {
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
    /// Readers see only records that end at or below this commit log offset (`i64::MAX`: no
    /// cap). See [`crate::visible`].
    pub(crate) read_limit: AtomicI64,
    pub(crate) put_count: AtomicU64,
    pub(crate) put_bytes: AtomicU64,
    /// Durations of the commit log fsyncs that wrote something.
    pub(crate) flush_times: crate::flush_times::FlushTimes,
    pub(crate) closed: AtomicBool,
    /// Holds the `lock` file's flock for as long as the store is open.
    pub(crate) _lock_file: File,
    /// Keeps `StoreConfig::fault` installed while the store is open (tests only).
    pub(crate) _fault: Option<crate::durable::HookGuard>,
}

impl Inner {
    /// Fails with [`StoreError::ShutDown`] once the store is closed and with
    /// [`StoreError::PersistFailed`] once an fsync failed.
    pub(crate) fn check_open(&self) -> Result<(), StoreError> {
        match self.closed.load(Ordering::Acquire) {
            true => Err(StoreError::ShutDown),
            false => self.signal.check(),
        }
    }

    /// Puts the store into the failed state when `e` is a failed fsync (logged once); returns
    /// `e`. Other errors (a write refused for lack of space) may be retried.
    pub(crate) fn on_flush_error(&self, e: StoreError) -> StoreError {
        if let StoreError::PersistFailed(why) = &e
            && self.signal.fail(why.clone())
        {
            tracing::error!(error = %e, flushed = self.signal.flushed(), "fsync failed: the store refuses writes and acknowledges nothing more until the broker is restarted");
        }
        e
    }

    /// Validates a record handed to `put`; returns its sysFlag.
    pub(crate) fn check_record(
        &self,
        rec: &[u8],
        topic: &str,
        queue_id: i32,
    ) -> Result<i32, StoreError> {
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
    pub(crate) fn queue_for_write<'a>(
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

    /// The arrival listener, called without holding any store lock.
    pub(crate) fn listener(&self) -> Option<Arc<ArrivalListener>> {
        self.listener.read().clone()
    }

    pub(crate) fn queue(&self, topic: &str, queue_id: i32) -> Option<Arc<ConsumeQueue>> {
        self.queues.read().get(topic)?.get(&queue_id).cloned()
    }

    /// Counts appended records for [`crate::StoreStats`].
    pub(crate) fn count_puts(&self, records: u64, bytes: u64) {
        self.put_count.fetch_add(records, Ordering::Relaxed);
        self.put_bytes.fetch_add(bytes, Ordering::Relaxed);
    }

    /// Writes the commit log's write-back buffer out, fsyncs the commit log up to the end
    /// published before that and publishes the flushed offset. A failed write-out or fsync
    /// publishes nothing; a failed fsync puts the store into the failed state; once failed,
    /// nothing is synced any more.
    pub(crate) fn flush_commit_log(&self) -> Result<i64, StoreError> {
        self.signal.check()?;
        // every byte below `end` was buffered before this write-out: the fsync covers it
        let end = self.cl.max_offset();
        self.cl.write_out()?;
        let from = self.signal.flushed();
        if end > from {
            let started = std::time::Instant::now();
            self.cl
                .sync_range(from, end)
                .map_err(|e| self.on_flush_error(e))?;
            self.flush_times.record(started.elapsed());
            self.signal.publish(end);
        }
        Ok(end)
    }

    /// Commit log, consume queues, then the checkpoint (skipped when nothing changed). Any
    /// failed fsync puts the store into the failed state (see [`Self::on_flush_error`]).
    pub(crate) fn flush_all(&self) -> Result<(), StoreError> {
        let _g = self.flush_lock.lock();
        self.signal.check()?;
        self.flush_all_locked().map_err(|e| self.on_flush_error(e))
    }

    /// [`Self::flush_all`] under the flush lock.
    fn flush_all_locked(&self) -> Result<(), StoreError> {
        let dispatched = self.dispatched.load(Ordering::Acquire);
        self.flush_commit_log()?;
        let queues: Vec<Arc<ConsumeQueue>> = self
            .queues
            .read()
            .values()
            .flat_map(|m| m.values().cloned())
            .collect();
        for q in queues {
            q.sync()?;
        }
        let mut cp = self.checkpoint.lock();
        if cp.last().is_some_and(|c| c.cq_flushed == dispatched) {
            return Ok(());
        }
        cp.write(Checkpoint {
            commit_log_flushed: dispatched,
            cq_flushed: dispatched,
            timestamp: now_ms(),
            ..Default::default()
        })
    }
}
