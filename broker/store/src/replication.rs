//! Seams for master/slave replication: the master reads raw commit log bytes, the slave appends
//! them at the same offsets and dispatches the records they complete into its consume queues.

use crate::error::StoreError;
use crate::inner::WriteState;
use crate::recovery;
use crate::scan::ScanStop;
use crate::store::MessageStore;
use bytes::Bytes;
use std::sync::atomic::Ordering;

impl MessageStore {
    /// Raw commit log bytes from `from` (HA master): at most `max_bytes`, never past the end of
    /// `from`'s segment or the written data; may cut records; the space after a segment's
    /// filler reads as zeros. `None` if `from` is outside `[min, max]` physical offsets. The
    /// commit log's write-back buffer is written out first, so a slave only ever holds bytes
    /// that are in this master's files (a `kill -9` cannot leave the master behind its slave).
    pub fn read_raw(&self, from: i64, max_bytes: usize) -> Result<Option<Bytes>, StoreError> {
        self.inner.cl.read_raw(from, max_bytes)
    }

    /// Appends raw commit log bytes at `at_offset` (HA slave; must equal the local end), then
    /// dispatches every record completed by them. Invalid replicated data is cut off again and
    /// reported as [`StoreError::Corrupt`].
    pub fn append_raw(&self, at_offset: i64, data: &[u8]) -> Result<(), StoreError> {
        let inner = &*self.inner;
        inner.check_open()?;
        let mut notify = Vec::new();
        {
            let mut w = inner.write.lock();
            let WriteState {
                tail,
                queues,
                last_store_ts,
                ..
            } = &mut *w;
            inner.check_open()?;
            if at_offset != tail.pos {
                return Err(StoreError::OffsetMismatch {
                    offset: at_offset,
                    expected: tail.pos,
                });
            }
            inner.cl.append_raw(tail, data)?;
            inner.cl.publish(tail.pos);
            let from = inner.dispatched.load(Ordering::Acquire);
            let (end, stop) = inner.cl.scan(from, tail.pos, true, |off, rec, layout| {
                *last_store_ts = (*last_store_ts).max(layout.store_timestamp);
                if let Some((q, unit)) = recovery::dispatch_record(
                    &inner.config,
                    queues,
                    &inner.cq_root,
                    off,
                    rec,
                    layout,
                    false,
                )? {
                    inner.publish_queue(&q);
                    notify.push((q, unit.tags_code));
                }
                Ok(())
            })?;
            inner.dispatched.store(end, Ordering::Release);
            if let ScanStop::Invalid(why) = stop {
                inner.cl.truncate(end)?;
                tail.pos = end;
                inner.cl.publish(end);
                inner.cl.prepare_tail(tail)?;
                let segment = inner.config.commit_log_segment_size;
                return Err(StoreError::Corrupt(format!(
                    "replicated data at offset {end} is not a valid record ({why}); \
                     if it crosses this broker's segment end, the master's \
                     mappedFileSizeCommitLog differs from this broker's ({segment}): \
                     set the same value on every broker of the group"
                )));
            }
        }
        inner
            .put_count
            .fetch_add(notify.len() as u64, Ordering::Relaxed);
        if let Some(l) = inner.listener() {
            for (q, tags) in notify {
                l(q.topic(), q.queue_id(), q.max_offset(), tags);
            }
        }
        Ok(())
    }
}
