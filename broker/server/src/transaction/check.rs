//! The transaction check service: every `transactionCheckInterval` (master only) it walks the
//! half queue from the `CID_RMQ_SYS_TRANS` offset, like RocketMQ's
//! `TransactionalMessageServiceImpl.check`:
//! - resolved (an op record for this half or for its transaction) → skip;
//! - checked `transactionCheckMax` times → give up (copied to `TRANS_CHECK_MAX_TIME_TOPIC`);
//! - born less than `transactionTimeOut` (or `CHECK_IMMUNITY_TIME_IN_SECONDS`) ago, or stored
//!   after this round began (a copy made by this round) → stop until the next round;
//! - else re-append a copy (so the walk can move on) and send CHECK_TRANSACTION_STATE, oneway, to
//!   one live producer of the group. With no producer online the copy keeps its check count
//!   (the check is skipped and retried next round, not used up).
//!
//! The progress offsets are committed after each round (and flushed with the other consumer
//! offsets), so a restart resumes the walk; re-examining halves is harmless because resolved
//! transactions are recognised by id. Before a half is checked, the key index is asked whether
//! its commit was stored after all (a crash between the commit and its op record), so such a
//! transaction is not committed a second time.

use super::resolve::{CHECK_GROUP, Transactions, txn_id};
use crate::clients::ClientRegistry;
use crate::config::FeaturesConfig;
use crate::state::{TopicTable, now_ms};
use bytes::BytesMut;
use rmq_protocol::header::transaction::CheckTransactionStateRequestHeader;
use rmq_protocol::message::{
    MessageExt, decode_message, encode_record, offset_msg_id, patch_record, property,
};
use rmq_protocol::{RemotingCommand, names, request_code as rc};
use rmq_store::MessageStore;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// Longest time one round may take (Java `MAX_PROCESS_TIME_LIMIT`).
const ROUND_LIMIT: Duration = Duration::from_secs(60);
/// Halves born longer ago than this are skipped (Java: `fileReservedTime`, 72 h).
const MAX_AGE_MS: i64 = 72 * 3600 * 1000;
/// How long a round waits for the key index to catch up with the commit log.
const INDEX_WAIT: Duration = Duration::from_secs(2);

/// What the check service works with.
pub struct CheckService {
    /// The resolved set, the check progress and the writer for copies.
    pub transactions: Arc<Transactions>,
    /// Where given-up halves go (`TRANS_CHECK_MAX_TIME_TOPIC` is created on demand).
    pub topics: Arc<TopicTable>,
    /// The producers asked about their transactions.
    pub clients: Arc<ClientRegistry>,
    /// `transactionTimeOut`, `transactionCheckMax`, `transactionCheckInterval`,
    /// `messageIndexEnable`.
    pub features: FeaturesConfig,
    /// Named in CHECK_TRANSACTION_STATE.
    pub broker_name: String,
    /// Only a master checks.
    pub master: bool,
}

/// Loads the op records, then checks every `transactionCheckInterval` until `stop`.
pub fn spawn(svc: CheckService, stop: CancellationToken) {
    svc.transactions.load();
    let svc = Arc::new(svc);
    tokio::spawn(async move {
        let period = svc.features.transaction_check_interval;
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(period) => {}
            }
            if !svc.master {
                continue;
            }
            let s = svc.clone();
            if let Err(e) = tokio::task::spawn_blocking(move || s.round()).await {
                tracing::error!(error = %e, "transaction check round panicked");
            }
        }
    });
}

/// What to do with one half message.
#[derive(Debug, PartialEq, Eq)]
enum Decision {
    Skip,
    Discard,
    NotYet,
    Check { times: i32 },
}

impl CheckService {
    fn store(&self) -> &MessageStore {
        self.transactions.writer().store()
    }

    fn writer(&self) -> &crate::writer::MessageWriter {
        self.transactions.writer()
    }

    /// The decision for half message `m` (see the module docs).
    fn decide(&self, m: &MessageExt, round_start: i64, now: i64, phy_end: i64) -> Decision {
        if self.transactions.is_resolved(m) {
            return Decision::Skip;
        }
        let f = &self.features;
        let times = m
            .properties
            .get(property::TRANSACTION_CHECK_TIMES)
            .and_then(|t| t.parse::<i32>().ok())
            .unwrap_or(0);
        if times >= f.transaction_check_max {
            return Decision::Discard;
        }
        let age = now - m.born_timestamp;
        if age > MAX_AGE_MS {
            return Decision::Skip;
        }
        if m.store_timestamp >= round_start {
            return Decision::NotYet;
        }
        let timeout = f.transaction_timeout.as_millis() as i64;
        let immunity = m
            .properties
            .get(property::CHECK_IMMUNITY_TIME_IN_SECONDS)
            .and_then(|s| s.parse::<i64>().ok())
            .map_or(timeout, |s| s.saturating_mul(1000).max(timeout));
        if (0..immunity).contains(&age) {
            return Decision::NotYet;
        }
        if f.message_index_enable {
            if self.store().indexed_offset() < phy_end {
                return Decision::NotYet; // the key index must see every commit stored so far
            }
            if self.transactions.recover_lost_op(m) {
                return Decision::Skip;
            }
        }
        Decision::Check { times }
    }

    /// One pass over the half queue.
    pub(crate) fn round(&self) {
        let started = Instant::now();
        let round_start = now_ms();
        let phy_end = self.store().max_physical_offset();
        while self.store().indexed_offset() < phy_end && started.elapsed() < INDEX_WAIT {
            std::thread::sleep(Duration::from_millis(10));
        }
        self.transactions.read_new_ops();
        let min = self.store().min_offset(names::TRANS_HALF_TOPIC, 0);
        let offsets = self.transactions.offsets();
        let start = offsets
            .query(CHECK_GROUP, names::TRANS_HALF_TOPIC, 0)
            .unwrap_or(min)
            .max(min);
        let (progress, checks) = self.walk(start, started, round_start, phy_end);
        offsets.commit(CHECK_GROUP, names::TRANS_HALF_TOPIC, 0, progress);
        let forget = self.transactions.forget_before_ms();
        let op_progress = self.transactions.advance(progress, forget);
        offsets.commit(CHECK_GROUP, names::TRANS_OP_HALF_TOPIC, 0, op_progress);
        if checks > 0 || progress != start {
            tracing::debug!(
                from = start,
                to = progress,
                checks,
                op_progress,
                "transaction check round"
            );
        }
    }

    /// Walks the half queue from `progress` until a half is not due yet, a check fails, the end,
    /// or the round's time limit; returns where the next round starts and how many checks were
    /// sent.
    fn walk(
        &self,
        mut progress: i64,
        started: Instant,
        round_start: i64,
        phy_end: i64,
    ) -> (i64, u32) {
        let max = self.store().max_offset(names::TRANS_HALF_TOPIC, 0);
        let mut checks = 0;
        'walk: while progress < max && started.elapsed() < ROUND_LIMIT {
            let got = self.store().get_messages(
                names::TRANS_HALF_TOPIC,
                0,
                progress,
                32,
                4 << 20,
                &|_| true,
            );
            if got.messages.is_empty() {
                if got.next_begin_offset > progress {
                    progress = got.next_begin_offset;
                    continue;
                }
                break;
            }
            for raw in &got.messages {
                let m = match decode_message(raw) {
                    Ok((m, _)) => m,
                    Err(e) => {
                        tracing::error!(offset = progress, error = %e, "undecodable half message skipped");
                        progress += 1;
                        continue;
                    }
                };
                progress = progress.max(m.queue_offset);
                match self.decide(&m, round_start, now_ms(), phy_end) {
                    Decision::Skip => {}
                    Decision::NotYet => break 'walk,
                    Decision::Discard => self.discard(&m),
                    Decision::Check { times } => {
                        if let Err(e) = self.check(&m, times) {
                            tracing::warn!(offset = m.queue_offset, error = %e, "transaction check failed; retrying next round");
                            break 'walk;
                        }
                        checks += 1;
                    }
                }
                progress = m.queue_offset + 1;
            }
        }
        (progress, checks)
    }

    /// Gives a half message up after too many checks.
    fn discard(&self, m: &MessageExt) {
        tracing::warn!(msg_id = %m.msg_id(), "half message checked too often; giving up (kept in TRANS_CHECK_MAX_TIME_TOPIC)");
        let topic = names::TRANS_CHECK_MAX_TIME_TOPIC;
        if self.topics.get(topic).is_none() {
            let _ = self.topics.ensure(
                topic,
                1,
                rmq_protocol::body::route::perm::READ_WRITE,
                now_ms(),
            );
        }
        let mut rec = m.to_record();
        rec.topic = topic.to_owned();
        rec.queue_id = 0;
        rec.store_host = self.writer().store_host();
        if let Err(e) = self.writer().put(rec, false) {
            tracing::error!(error = %e, "cannot keep the given-up half message");
        }
    }

    /// Re-appends the half message and asks a producer of its group about it.
    fn check(&self, m: &MessageExt, times: i32) -> Result<(), String> {
        let group = m.properties.get(property::PRODUCER_GROUP).unwrap_or("");
        let channel = self.clients.producer_channel(group);
        let mut props = m.properties.clone();
        if channel.is_some() {
            props.insert(property::TRANSACTION_CHECK_TIMES, (times + 1).to_string());
        }
        let mut copy = m.to_record();
        copy.store_host = self.writer().store_host();
        copy.properties = props.encode();
        let put = self.writer().put(copy.clone(), false)?;
        let Some(ch) = channel else {
            tracing::debug!(group, msg_id = %m.msg_id(), "no producer of the group online; check skipped");
            return Ok(());
        };
        // the body: the copy as stored, with its real topic and queue
        let real_topic = props
            .get(property::REAL_TOPIC)
            .unwrap_or(&m.topic)
            .to_owned();
        copy.topic.clone_from(&real_topic);
        copy.queue_id = props
            .get(property::REAL_QUEUE_ID)
            .and_then(|q| q.parse().ok())
            .unwrap_or(0);
        let mut body = BytesMut::new();
        encode_record(&copy, &mut body).map_err(|e| e.to_string())?;
        patch_record(
            &mut body,
            put.queue_offset,
            put.commit_log_offset,
            put.store_timestamp,
        );
        let uniq = props.get(property::UNIQ_KEY).map(str::to_owned);
        let header = CheckTransactionStateRequestHeader {
            topic: Some(real_topic),
            tran_state_table_offset: put.queue_offset,
            commit_log_offset: put.commit_log_offset,
            msg_id: uniq.clone(),
            transaction_id: txn_id(&props).map(str::to_owned).or(uniq),
            offset_msg_id: Some(offset_msg_id(
                self.writer().store_host(),
                put.commit_log_offset,
            )),
            broker_name: Some(self.broker_name.clone()),
        };
        let cmd = RemotingCommand::request_with(rc::CHECK_TRANSACTION_STATE, &header)
            .with_body(body.freeze())
            .oneway();
        ch.send(cmd);
        Ok(())
    }
}
