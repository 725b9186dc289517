//! Op-record bookkeeping for the transaction check service (pure, no I/O).
//!
//! An op record (topic `RMQ_SYS_TRANS_OP_HALF_TOPIC`) says "the half message at this half-queue
//! offset is resolved"; its body is the offset as decimal text (4.9), or several offsets
//! separated by commas (5.x batches). rmq also stores the transaction id on it, so that copies
//! of a half message (re-appended by each check) count as resolved once any copy was committed
//! or rolled back — a late END_TRANSACTION for an older copy, or a check answer after a restart,
//! can then never commit a transaction twice.
//!
//! Progress follows RocketMQ: the half queue is walked from `CID_RMQ_SYS_TRANS`'s offset; op
//! records stay "pending" until the half progress has passed the offset they resolve, and the op
//! queue's committed offset is the first op record still pending (or the read position).

use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Parses an op record body: half offsets separated by commas (a trailing comma is fine).
pub fn parse_op_body(body: &[u8]) -> Vec<i64> {
    std::str::from_utf8(body)
        .unwrap_or("")
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect()
}

/// Resolved halves and transactions.
#[derive(Debug, Default)]
pub struct OpBook {
    /// Next op queue offset to read.
    pub op_read: i64,
    /// Op records not yet behind the half progress: op offset → half offsets.
    pending: BTreeMap<i64, Vec<i64>>,
    /// Resolved half offsets (at or above the half progress).
    done: BTreeSet<i64>,
    /// Resolved transaction ids → when they were resolved (ms).
    resolved: HashMap<String, i64>,
}

impl OpBook {
    /// Starts reading op records at `op_read`.
    pub fn new(op_read: i64) -> Self {
        Self {
            op_read,
            ..Self::default()
        }
    }

    /// Records an op record at `op_offset` resolving `halves` (of transaction `txn`), written
    /// at `at_ms`. Idempotent.
    pub fn record(&mut self, op_offset: i64, halves: &[i64], txn: Option<&str>, at_ms: i64) {
        self.pending
            .entry(op_offset)
            .or_insert_with(|| halves.to_vec());
        self.done.extend(halves.iter().copied());
        if let Some(id) = txn.filter(|id| !id.is_empty()) {
            let at = self.resolved.entry(id.to_owned()).or_insert(at_ms);
            *at = (*at).max(at_ms);
        }
    }

    /// Marks the op records read up to (excluding) `next`.
    pub fn read_to(&mut self, next: i64) {
        self.op_read = self.op_read.max(next);
    }

    /// Is the half message at `half_offset` (of transaction `txn`) already resolved?
    pub fn is_resolved(&self, half_offset: i64, txn: Option<&str>) -> bool {
        self.done.contains(&half_offset)
            || txn.is_some_and(|id| !id.is_empty() && self.resolved.contains_key(id))
    }

    /// The half progress moved to `half_progress`: forgets what lies behind it and returns the
    /// op queue offset that may be committed (first pending op record, else the read position).
    pub fn advance(&mut self, half_progress: i64) -> i64 {
        self.pending
            .retain(|_, halves| halves.iter().any(|h| *h >= half_progress));
        self.done = self.done.split_off(&half_progress);
        self.pending
            .keys()
            .next()
            .map_or(self.op_read, |first| (*first).min(self.op_read))
    }

    /// Forgets transaction ids resolved before `before_ms`.
    pub fn prune(&mut self, before_ms: i64) {
        self.resolved.retain(|_, at| *at >= before_ms);
    }

    /// Number of remembered transaction ids.
    pub fn resolved_len(&self) -> usize {
        self.resolved.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_in_both_dialects() {
        assert_eq!(parse_op_body(b"12"), vec![12]);
        assert_eq!(parse_op_body(b"12,13,27,"), vec![12, 13, 27]);
        assert!(parse_op_body(b"x").is_empty());
        assert!(parse_op_body(&[0xff]).is_empty());
    }

    #[test]
    fn progress_and_op_offsets() {
        let mut b = OpBook::new(0);
        // op records 0..3 resolve halves 5, 2, 9; read up to 3
        b.record(0, &[5], Some("t5"), 100);
        b.record(1, &[2], Some("t2"), 100);
        b.record(2, &[9], Some("t9"), 100);
        b.read_to(3);
        assert!(b.is_resolved(5, None));
        assert!(b.is_resolved(7, Some("t9")), "another copy of t9");
        assert!(!b.is_resolved(7, Some("t7")));
        // half progress 6: op 0 (half 5) and op 1 (half 2) are behind, op 2 pending
        assert_eq!(b.advance(6), 2);
        assert!(!b.is_resolved(5, None), "behind the progress: forgotten");
        assert!(
            b.is_resolved(5, Some("t5")),
            "but the transaction is remembered"
        );
        assert_eq!(b.advance(10), 3, "nothing pending: the read position");
        // an END ahead of the reader
        b.record(7, &[12], None, 200);
        assert_eq!(b.advance(10), 3, "not past unread op records");
        b.read_to(8);
        assert_eq!(b.advance(13), 8);
        // idempotent re-reading
        b.record(7, &[12], None, 200);
        assert!(b.is_resolved(12, None));
        b.prune(150);
        assert_eq!(b.resolved_len(), 0);
    }
}
