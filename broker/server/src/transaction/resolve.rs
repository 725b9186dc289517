//! [`Transactions`]: the half-message transform, resolutions (commit / rollback → op record)
//! and the resolved set rebuilt from the op queue. It works through narrow handles: the
//! [`MessageWriter`] (store and put path) and the consumer offsets that hold the check
//! progress.

use super::op_book::{OpBook, parse_op_body};
use crate::config::FeaturesConfig;
use crate::state::{OffsetTable, now_ms};
use crate::writer::MessageWriter;
use bytes::Bytes;
use parking_lot::Mutex;
use rmq_protocol::message::{
    MessageExt, MessageRecord, Properties, SCHEDULE_TOPIC, decode_message, property, raw_property,
    sys_flag,
};
use rmq_protocol::names;
use rmq_store::MessageStore;
use std::sync::Arc;
use std::time::Duration;

/// The system group whose offsets record the check progress.
pub const CHECK_GROUP: &str = "CID_RMQ_SYS_TRANS";
/// Tag of op records ("remove").
pub const OP_TAG: &str = "d";

/// Transaction bookkeeping shared by END_TRANSACTION and the check service.
pub struct Transactions {
    book: Mutex<OpBook>,
    /// Serialises resolutions (END_TRANSACTION) so one transaction is resolved once.
    resolving: Mutex<()>,
    writer: MessageWriter,
    /// Where `CID_RMQ_SYS_TRANS` keeps the half and op queue progress.
    offsets: Arc<OffsetTable>,
    /// How long resolved transaction ids are remembered ([`dedup_window_ms`]).
    dedup_window_ms: i64,
}

/// The transaction id of a half message: `__transactionId__`, else `UNIQ_KEY`.
pub fn txn_id(props: &Properties) -> Option<&str> {
    props
        .get(property::TRANSACTION_ID)
        .or_else(|| props.get(property::UNIQ_KEY))
        .filter(|id| !id.is_empty())
}

/// The half-message transform for a send carrying `TRAN_MSG=true`; true if applied.
pub fn prepare_half(record: &mut MessageRecord, uniq: &str) -> bool {
    let prepared = raw_property(&record.properties, property::TRANSACTION_PREPARED)
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
    if !prepared {
        return false;
    }
    let mut props = Properties::parse(&record.properties);
    props.insert(property::REAL_TOPIC, record.topic.clone());
    props.insert(property::REAL_QUEUE_ID, record.queue_id.to_string());
    if props.get(property::TRANSACTION_ID).is_none() {
        props.insert(property::TRANSACTION_ID, uniq);
    }
    record.properties = props.encode();
    record.sys_flag = sys_flag::with_transaction_type(record.sys_flag, sys_flag::TRANSACTION_NOT);
    record.topic = names::TRANS_HALF_TOPIC.to_owned();
    record.queue_id = 0;
    true
}

/// How long resolved transaction ids are remembered: longer than any half message keeps
/// being checked (timeout + checks × interval), and at least 10 minutes.
pub fn dedup_window_ms(f: &FeaturesConfig) -> i64 {
    let checks = u32::try_from(f.transaction_check_max.max(0)).unwrap_or(0) + 2;
    let span = f.transaction_timeout + f.transaction_check_interval * checks;
    i64::try_from(span.max(Duration::from_secs(600)).as_millis()).unwrap_or(i64::MAX)
}

impl Transactions {
    /// Resolves through `writer`; the check progress is kept in `offsets`. Load the resolved
    /// set with [`Self::load`] before serving.
    pub fn new(
        writer: MessageWriter,
        offsets: Arc<OffsetTable>,
        features: &FeaturesConfig,
    ) -> Self {
        Self {
            book: Mutex::new(OpBook::default()),
            resolving: Mutex::new(()),
            writer,
            offsets,
            dedup_window_ms: dedup_window_ms(features),
        }
    }

    fn store(&self) -> &MessageStore {
        self.writer.store()
    }

    /// The writer resolutions and check copies go through.
    pub fn writer(&self) -> &MessageWriter {
        &self.writer
    }

    /// The consumer offsets that hold the check progress.
    pub fn offsets(&self) -> &OffsetTable {
        &self.offsets
    }

    /// Resolved transaction ids older than this (ms) may be forgotten.
    pub fn forget_before_ms(&self) -> i64 {
        now_ms() - self.dedup_window_ms
    }

    /// Rebuilds the resolved set from the op queue (call once before serving).
    pub fn load(&self) {
        let op_min = self.store().min_offset(names::TRANS_OP_HALF_TOPIC, 0);
        let committed = self
            .offsets
            .query(CHECK_GROUP, names::TRANS_OP_HALF_TOPIC, 0)
            .unwrap_or(op_min);
        let window_start = self.store().offset_by_time(
            names::TRANS_OP_HALF_TOPIC,
            0,
            self.forget_before_ms(),
            rmq_store::Boundary::Lower,
        );
        let from = committed.min(window_start).max(op_min);
        let mut book = OpBook::new(from);
        self.read_ops(&mut book);
        book.prune(self.forget_before_ms());
        tracing::info!(
            from,
            to = book.op_read,
            remembered = book.resolved_len(),
            "transaction op records loaded"
        );
        *self.book.lock() = book;
    }

    /// Reads op records written since the last read.
    pub(crate) fn read_new_ops(&self) {
        self.read_ops(&mut self.book.lock());
    }

    /// Is this half message (or another copy of its transaction) resolved?
    pub fn is_resolved(&self, half: &MessageExt) -> bool {
        self.book
            .lock()
            .is_resolved(half.queue_offset, txn_id(&half.properties))
    }

    /// Commits the check progress; returns the op queue offset that may be committed.
    pub(crate) fn advance(&self, half_progress: i64, forget_before_ms: i64) -> i64 {
        let mut book = self.book.lock();
        book.prune(forget_before_ms);
        book.advance(half_progress)
    }

    /// Resolves a half message: stores the commit (when `commit`) and the op record. Returns
    /// false if the transaction was already resolved (nothing done).
    pub fn resolve(&self, half: &MessageExt, commit: bool) -> Result<bool, String> {
        let _one_at_a_time = self.resolving.lock();
        if self.is_resolved(half) {
            return Ok(false);
        }
        if commit {
            self.writer.put(self.commit_record(half)?, true)?;
        }
        let id = txn_id(&half.properties);
        let op = self
            .writer
            .put(self.op_record(half.queue_offset, id), false)?;
        self.book.lock().record(
            op.queue_offset,
            &[half.queue_offset],
            id,
            op.store_timestamp,
        );
        Ok(true)
    }

    /// Recognises a half whose commit was stored but whose op record was not (a crash between
    /// the two writes): the key index holds a COMMIT record of its transaction in the real
    /// topic (or its schedule queue). Writes the missing op record and returns true then.
    pub(crate) fn recover_lost_op(&self, half: &MessageExt) -> bool {
        let (Some(topic), Some(uniq)) = (
            half.properties.get(property::REAL_TOPIC),
            half.properties.get(property::UNIQ_KEY),
        ) else {
            return false;
        };
        let committed = [topic, SCHEDULE_TOPIC].iter().any(|t| {
            self.store()
                .query_by_key(t, uniq, true, 32, 0, i64::MAX)
                .is_ok_and(|r| {
                    r.messages.iter().any(|raw| {
                        decode_message(raw).is_ok_and(|(m, _)| {
                            sys_flag::transaction_type(m.sys_flag) == sys_flag::TRANSACTION_COMMIT
                                && txn_id(&m.properties) == txn_id(&half.properties)
                        })
                    })
                })
        });
        if !committed {
            return false;
        }
        tracing::warn!(msg_id = %half.msg_id(), "committed transaction without op record (crash?); writing it");
        let _one_at_a_time = self.resolving.lock();
        let id = txn_id(&half.properties);
        match self
            .writer
            .put(self.op_record(half.queue_offset, id), false)
        {
            Ok(op) => self.book.lock().record(
                op.queue_offset,
                &[half.queue_offset],
                id,
                op.store_timestamp,
            ),
            Err(e) => tracing::error!(error = %e, "cannot write the op record"),
        }
        true
    }

    /// Reads op records from `book.op_read` to the end of the op queue.
    fn read_ops(&self, book: &mut OpBook) {
        loop {
            let got = self.store().get_messages(
                names::TRANS_OP_HALF_TOPIC,
                0,
                book.op_read,
                32,
                1 << 20,
                &|_| true,
            );
            for raw in &got.messages {
                match decode_message(raw) {
                    Ok((m, _)) if m.properties.get(property::TAGS) == Some(OP_TAG) => {
                        let halves = parse_op_body(&m.body);
                        let id = m.properties.get(property::TRANSACTION_ID);
                        book.record(m.queue_offset, &halves, id, m.store_timestamp);
                    }
                    Ok(_) => {}
                    Err(e) => {
                        tracing::warn!(offset = book.op_read, error = %e, "undecodable op record")
                    }
                }
            }
            let next = got.next_begin_offset;
            if next <= book.op_read {
                return;
            }
            book.read_to(next);
        }
    }

    /// The committed message: real topic/queue, transaction type COMMIT, pointing at the half.
    pub(crate) fn commit_record(&self, half: &MessageExt) -> Result<MessageRecord, String> {
        let mut props = half.properties.clone();
        let topic = props
            .remove(property::REAL_TOPIC)
            .ok_or("the half message has no REAL_TOPIC")?;
        let queue_id = props
            .remove(property::REAL_QUEUE_ID)
            .and_then(|q| q.parse::<i32>().ok())
            .ok_or("the half message has no REAL_QID")?;
        props.remove(property::TRANSACTION_PREPARED);
        props.insert(property::WAIT_STORE_MSG_OK, "false");
        let mut rec = half.to_record();
        rec.topic = topic;
        rec.queue_id = queue_id;
        rec.sys_flag = sys_flag::with_transaction_type(half.sys_flag, sys_flag::TRANSACTION_COMMIT);
        rec.prepared_transaction_offset = half.commit_log_offset;
        rec.store_host = self.writer.store_host();
        rec.properties = props.encode();
        Ok(rec)
    }

    /// An op record resolving half-queue offset `half_offset`.
    fn op_record(&self, half_offset: i64, txn: Option<&str>) -> MessageRecord {
        let mut props = Properties::new();
        props.insert(property::TAGS, OP_TAG);
        props.insert(property::WAIT_STORE_MSG_OK, "false");
        if let Some(id) = txn {
            props.insert(property::TRANSACTION_ID, id);
        }
        MessageRecord {
            topic: names::TRANS_OP_HALF_TOPIC.to_owned(),
            queue_id: 0,
            flag: 0,
            sys_flag: 0,
            born_timestamp: now_ms(),
            born_host: self.writer.store_host(),
            store_host: self.writer.store_host(),
            reconsume_times: 0,
            prepared_transaction_offset: 0,
            body: Bytes::from(half_offset.to_string()),
            properties: props.encode(),
        }
    }
}
