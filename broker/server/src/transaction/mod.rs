//! Transactional messages (reference §5.8).
//!
//! - Prepare: a send with `TRAN_MSG=true` is stored as a *half message* in
//!   `RMQ_SYS_TRANS_HALF_TOPIC` queue 0 (real topic/queue in `REAL_TOPIC`/`REAL_QID`,
//!   `__transactionId__` = `UNIQ_KEY`, transaction bits reset so it gets a queue unit);
//!   consumers never see it.
//! - END_TRANSACTION ([`crate::processor`]): commit stores the message in its real queue, then an
//!   *op record* in `RMQ_SYS_TRANS_OP_HALF_TOPIC`; rollback only writes the op record.
//! - Check-back ([`check`]): unresolved halves older than `transactionTimeOut` are re-appended
//!   with `TRANSACTION_CHECK_TIMES + 1` and CHECK_TRANSACTION_STATE goes to a producer of the
//!   group, at most `transactionCheckMax` times, every `transactionCheckInterval`.
//! - Restarts: progress is the `CID_RMQ_SYS_TRANS` consumer offset of the half and op queues;
//!   the resolved set is rebuilt from the op queue ([`OpBook`]), so nothing is lost and — thanks
//!   to the transaction id on op records — nothing is committed twice.

mod check;
mod op_book;
#[cfg(test)]
mod tests;

pub use check::spawn as spawn_checker;
pub use op_book::{OpBook, parse_op_body};

use crate::broker::Broker;
use crate::state::now_ms;
use bytes::Bytes;
use parking_lot::Mutex;
use rmq_protocol::message::{MessageExt, MessageRecord, Properties, property, sys_flag};
use rmq_protocol::names;
use rmq_store::config::raw_property;
use std::time::Duration;

/// The system group whose offsets record the check progress.
pub const CHECK_GROUP: &str = "CID_RMQ_SYS_TRANS";
/// Tag of op records ("remove").
pub const OP_TAG: &str = "d";

/// Transaction bookkeeping shared by END_TRANSACTION and the check service.
#[derive(Debug, Default)]
pub struct Transactions {
    book: Mutex<OpBook>,
    /// Serialises resolutions (END_TRANSACTION) so one transaction is resolved once.
    resolving: Mutex<()>,
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
pub fn dedup_window_ms(b: &Broker) -> i64 {
    let f = &b.config.features;
    let checks = u32::try_from(f.transaction_check_max.max(0)).unwrap_or(0) + 2;
    let span = f.transaction_timeout + f.transaction_check_interval * checks;
    i64::try_from(span.max(Duration::from_secs(600)).as_millis()).unwrap_or(i64::MAX)
}

impl Transactions {
    /// Rebuilds the resolved set from the op queue (call once before serving).
    pub fn load(&self, b: &Broker) {
        let op_min = b.store.min_offset(names::TRANS_OP_HALF_TOPIC, 0);
        let committed = b
            .offsets
            .query(CHECK_GROUP, names::TRANS_OP_HALF_TOPIC, 0)
            .unwrap_or(op_min);
        let window_start = b.store.offset_by_time(
            names::TRANS_OP_HALF_TOPIC,
            0,
            now_ms() - dedup_window_ms(b),
            rmq_store::Boundary::Lower,
        );
        let from = committed.min(window_start).max(op_min);
        let mut book = OpBook::new(from);
        read_ops(b, &mut book);
        book.prune(now_ms() - dedup_window_ms(b));
        tracing::info!(
            from,
            to = book.op_read,
            remembered = book.resolved_len(),
            "transaction op records loaded"
        );
        *self.book.lock() = book;
    }

    /// Reads op records written since the last read.
    pub(crate) fn read_new_ops(&self, b: &Broker) {
        read_ops(b, &mut self.book.lock());
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
    pub fn resolve(&self, b: &Broker, half: &MessageExt, commit: bool) -> Result<bool, String> {
        let _one_at_a_time = self.resolving.lock();
        if self.is_resolved(half) {
            return Ok(false);
        }
        if commit {
            crate::store_put::put_record(b, commit_record(b, half)?, true)?;
        }
        let id = txn_id(&half.properties);
        let op = crate::store_put::put_record(b, op_record(b, half.queue_offset, id), false)?;
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
    pub(crate) fn recover_lost_op(&self, b: &Broker, half: &MessageExt) -> bool {
        let (Some(topic), Some(uniq)) = (
            half.properties.get(property::REAL_TOPIC),
            half.properties.get(property::UNIQ_KEY),
        ) else {
            return false;
        };
        let committed = [topic, names::SCHEDULE_TOPIC].iter().any(|t| {
            b.store
                .query_by_key(t, uniq, true, 32, 0, i64::MAX)
                .is_ok_and(|r| {
                    r.messages.iter().any(|raw| {
                        rmq_protocol::message::decode_message(raw).is_ok_and(|(m, _)| {
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
        match crate::store_put::put_record(b, op_record(b, half.queue_offset, id), false) {
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
}

/// Reads op records from `book.op_read` to the end of the op queue.
fn read_ops(b: &Broker, book: &mut OpBook) {
    loop {
        let got = b.store.get_messages(
            names::TRANS_OP_HALF_TOPIC,
            0,
            book.op_read,
            32,
            1 << 20,
            &|_| true,
        );
        for raw in &got.messages {
            match rmq_protocol::message::decode_message(raw) {
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
fn commit_record(b: &Broker, half: &MessageExt) -> Result<MessageRecord, String> {
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
    rec.store_host = b.store_host;
    rec.properties = props.encode();
    Ok(rec)
}

/// An op record resolving half-queue offset `half_offset`.
fn op_record(b: &Broker, half_offset: i64, txn: Option<&str>) -> MessageRecord {
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
        born_host: b.store_host,
        store_host: b.store_host,
        reconsume_times: 0,
        prepared_transaction_offset: 0,
        body: Bytes::from(half_offset.to_string()),
        properties: props.encode(),
    }
}
