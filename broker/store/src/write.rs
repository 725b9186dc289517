//! The write path: [`Inner::put`] and [`Inner::put_batch`]. Under the write lock a record gets
//! its queue offset (PREPARED/ROLLBACK transaction records get 0 and no unit), its physical
//! offset and its store timestamp patched in, is appended to the commit log, and its consume
//! queue unit is written; the arrival listener runs after the lock is released.

use crate::consume_queue::CqUnit;
use crate::error::StoreError;
use crate::inner::{Inner, WriteState};
use crate::record;
use bytes::BytesMut;
use rmq_protocol::message::{TagsCode, patch_record};
use std::sync::atomic::Ordering;

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
    /// The offset to pass to [`crate::MessageStore::wait_flushed`]: the end of the record.
    pub fn end_offset(&self) -> i64 {
        self.commit_log_offset + self.size as i64
    }
}

/// A checked batch record: gets a consume queue unit, its tagsCode, its size.
type BatchItem = (bool, TagsCode, usize);

/// The results of a batch append, and the result of writing its units (the records are in the
/// commit log either way).
type BatchAppended = (Vec<PutResult>, Result<(), StoreError>);

impl Inner {
    /// Appends one record (see [`crate::MessageStore::put`]).
    pub(crate) fn put(
        &self,
        topic: &str,
        queue_id: i32,
        mut record: BytesMut,
        tags: TagsCode,
    ) -> Result<PutResult, StoreError> {
        self.check_open()?;
        let dispatch = record::is_dispatched(self.check_record(&record, topic, queue_id)?);
        let size = record.len();
        let mut w = self.write.lock();
        self.check_open()?;
        let ts = w.next_store_ts();
        let tags_code = tags.at(ts);
        let WriteState { tail, queues, .. } = &mut *w;
        let q = match dispatch {
            true => Some(self.queue_for_write(queues, topic, queue_id)?),
            false => None,
        };
        let qo = q.map_or(0, |q| q.max_offset());
        let offset = self
            .cl
            .append(tail, &mut record, |b, pos| patch_record(b, qo, pos, ts))?;
        let end = tail.pos;
        self.cl.publish(end);
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
        self.dispatched.store(end, Ordering::Release);
        drop(w);
        self.count_puts(1, size as u64);
        unit_res?;
        if dispatch && let Some(l) = self.listener() {
            l(topic, queue_id, qo + 1, tags_code);
        }
        Ok(PutResult {
            commit_log_offset: offset,
            queue_offset: qo,
            size,
            store_timestamp: ts,
        })
    }

    /// Appends several records of one queue (see [`crate::MessageStore::put_batch`]).
    pub(crate) fn put_batch(
        &self,
        topic: &str,
        queue_id: i32,
        records: Vec<(BytesMut, TagsCode)>,
    ) -> Result<Vec<PutResult>, StoreError> {
        self.check_open()?;
        let n = records.len();
        let mut bufs = Vec::with_capacity(n);
        let mut items: Vec<BatchItem> = Vec::with_capacity(n);
        for (rec, tags) in records {
            let flag = self.check_record(&rec, topic, queue_id)?;
            items.push((record::is_dispatched(flag), tags, rec.len()));
            bufs.push(rec);
        }
        if n == 0 {
            return Ok(Vec::new());
        }
        let mut w = self.write.lock();
        self.check_open()?;
        let ts = w.next_store_ts();
        let (results, unit_res) = self.append_batch(&mut w, topic, queue_id, bufs, &items, ts)?;
        drop(w);
        self.count_puts(n as u64, results.iter().map(|r| r.size as u64).sum());
        unit_res?;
        if let Some(l) = self.listener() {
            for (r, item) in results.iter().zip(&items).filter(|(_, item)| item.0) {
                l(topic, queue_id, r.queue_offset + 1, item.1.at(ts));
            }
        }
        Ok(results)
    }

    /// Under the write lock: appends the batch with consecutive queue offsets, one write per
    /// segment touched, then its consume queue units in one write.
    fn append_batch(
        &self,
        w: &mut WriteState,
        topic: &str,
        queue_id: i32,
        mut bufs: Vec<BytesMut>,
        items: &[BatchItem],
        ts: i64,
    ) -> Result<BatchAppended, StoreError> {
        let WriteState {
            tail,
            queues,
            units,
            offsets,
            ..
        } = w;
        let q = match items.iter().any(|item| item.0) {
            true => Some(self.queue_for_write(queues, topic, queue_id)?),
            false => None,
        };
        let base = q.map_or(0, |q| q.max_offset());
        let mut next_qo = base;
        let mut qos = Vec::with_capacity(items.len());
        offsets.clear();
        self.cl
            .append_batch(tail, &mut bufs, offsets, |i, b, pos| {
                let qo = if items[i].0 {
                    next_qo += 1;
                    next_qo - 1
                } else {
                    0
                };
                qos.push(qo);
                patch_record(b, qo, pos, ts);
            })?;
        let end = tail.pos;
        self.cl.publish(end);
        units.clear();
        let mut results = Vec::with_capacity(items.len());
        for (i, &(dispatch, tags, size)) in items.iter().enumerate() {
            if dispatch {
                let unit = CqUnit {
                    offset: offsets[i],
                    size: size as i32,
                    tags_code: tags.at(ts),
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
        self.dispatched.store(end, Ordering::Release);
        Ok((results, unit_res))
    }
}
