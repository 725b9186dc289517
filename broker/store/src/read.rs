//! The read side: pulls by queue offset (statuses and next offsets exactly as RocketMQ's
//! `DefaultMessageStore.getMessage`), search by store timestamp, single records. The decision
//! logic (`plan`, `search_by_time`) is pure; I/O is a thin layer around it, over a commit log
//! and a consume queue ([`crate::MessageStore`] hands them in).

use crate::commit_log::CommitLog;
use crate::consume_queue::{CQ_UNIT_SIZE, ConsumeQueue, CqUnit, Units};
use bytes::Bytes;

/// Units examined per pull at least (Java: 16 000 bytes of units).
const MIN_UNITS_EXAMINED: usize = 800;
/// Largest single read when coalescing adjacent records.
const MAX_COALESCED_READ: i64 = 4 << 20;

/// Outcome of a pull (`GetMessageStatus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GetStatus {
    /// At least one message matched.
    Found,
    /// Units were examined but none matched the filter.
    NoMatchedMessage,
    /// The queue exists but has no messages (max offset 0).
    NoMessageInQueue,
    /// The offset is below the queue's min offset.
    OffsetTooSmall,
    /// The offset equals the max offset (nothing new yet).
    OffsetOverflowOne,
    /// The offset is past the max offset.
    OffsetOverflowBadly,
    /// The consume queue file holding the offset is gone.
    OffsetFoundNull,
    /// The queue does not exist.
    NoMatchedLogicQueue,
    /// The commit log data of the examined units is gone.
    MessageWasRemoving,
}

impl GetStatus {
    /// The Java enum name (used as the pull response remark).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Found => "FOUND",
            Self::NoMatchedMessage => "NO_MATCHED_MESSAGE",
            Self::NoMessageInQueue => "NO_MESSAGE_IN_QUEUE",
            Self::OffsetTooSmall => "OFFSET_TOO_SMALL",
            Self::OffsetOverflowOne => "OFFSET_OVERFLOW_ONE",
            Self::OffsetOverflowBadly => "OFFSET_OVERFLOW_BADLY",
            Self::OffsetFoundNull => "OFFSET_FOUND_NULL",
            Self::NoMatchedLogicQueue => "NO_MATCHED_LOGIC_QUEUE",
            Self::MessageWasRemoving => "MESSAGE_WAS_REMOVING",
        }
    }
}

/// Result of [`crate::MessageStore::get_messages`].
#[derive(Debug, Clone)]
pub struct GetResult {
    /// Outcome.
    pub status: GetStatus,
    /// Where the consumer continues.
    pub next_begin_offset: i64,
    /// Queue min offset.
    pub min_offset: i64,
    /// Queue max offset.
    pub max_offset: i64,
    /// Whole stored records, in queue order.
    pub messages: Vec<Bytes>,
    /// Sum of the record sizes.
    pub total_bytes: usize,
}

impl GetResult {
    fn empty(status: GetStatus, next: i64, min: i64, max: i64) -> Self {
        Self {
            status,
            next_begin_offset: next,
            min_offset: min,
            max_offset: max,
            messages: Vec::new(),
            total_bytes: 0,
        }
    }
}

/// Which end of a run of equal timestamps a search by time returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Boundary {
    /// First offset whose store time is >= the timestamp (default).
    #[default]
    Lower,
    /// Last offset whose store time is <= the timestamp.
    Upper,
}

/// A unit chosen for reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pick {
    /// Index of the unit among those examined.
    pub index: usize,
    /// Commit log offset.
    pub offset: i64,
    /// Record size.
    pub size: usize,
}

/// What to read for one pull, decided from the units alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Units to read, in order.
    pub picks: Vec<Pick>,
    /// Units examined (the next begin offset is `offset + examined`).
    pub examined: usize,
    /// Status if nothing is picked (NO_MATCHED_MESSAGE or MESSAGE_WAS_REMOVING).
    pub empty_status: GetStatus,
}

/// Chooses units like Java's `getMessage` loop: stop before the unit that would exceed
/// `max_count` messages or `max_bytes` (the first message always fits); skip units the filter
/// rejects, holes, and units whose record is below `commit_log_min` (removed).
pub fn plan(
    units: &[u8],
    commit_log_min: i64,
    max_count: usize,
    max_bytes: usize,
    filter: &dyn Fn(i64) -> bool,
) -> Plan {
    let max_count = max_count.max(1);
    let mut picks = Vec::new();
    let mut total = 0usize;
    let mut empty_status = GetStatus::NoMatchedMessage;
    let mut examined = 0;
    for (i, chunk) in units.chunks_exact(CQ_UNIT_SIZE).enumerate() {
        let Some(unit) = CqUnit::decode(chunk) else {
            break;
        };
        let size = usize::try_from(unit.size).unwrap_or(0);
        if !picks.is_empty() && (picks.len() >= max_count || total + size > max_bytes) {
            break;
        }
        examined = i + 1;
        if size == 0 || !filter(unit.tags_code) {
            if picks.is_empty() {
                empty_status = GetStatus::NoMatchedMessage;
            }
            continue;
        }
        if unit.offset < commit_log_min {
            if picks.is_empty() {
                empty_status = GetStatus::MessageWasRemoving;
            }
            continue;
        }
        picks.push(Pick {
            index: i,
            offset: unit.offset,
            size,
        });
        total += size;
    }
    Plan {
        picks,
        examined,
        empty_status,
    }
}

/// Pull: up to `max_count` records / `max_bytes` from `offset` whose tagsCode passes `filter`.
/// `visible` is the queue's end as readers may see it (its max offset, or less while reads are
/// capped, see [`crate::visible`]): an offset between it and the max offset waits like one at
/// the end (OFFSET_OVERFLOW_ONE), it is not "moved".
pub fn get_messages(
    cl: &CommitLog,
    q: Option<&ConsumeQueue>,
    visible: i64,
    offset: i64,
    (max_count, max_bytes): (usize, usize),
    filter: &dyn Fn(i64) -> bool,
) -> GetResult {
    let Some(q) = q else {
        return GetResult::empty(GetStatus::NoMatchedLogicQueue, 0, 0, 0);
    };
    let (min, written) = (q.min_offset(), q.max_offset());
    let max = visible.min(written);
    let empty = |status, next| GetResult::empty(status, next, min, max);
    if written == 0 {
        return empty(GetStatus::NoMessageInQueue, 0);
    }
    if offset < min {
        return empty(GetStatus::OffsetTooSmall, min);
    }
    if offset > written {
        return empty(GetStatus::OffsetOverflowBadly, max);
    }
    if offset >= max {
        return empty(GetStatus::OffsetOverflowOne, offset);
    }
    let want = max_count
        .max(MIN_UNITS_EXAMINED)
        .min((max - offset) as usize);
    let units = match q.read_units(offset, want) {
        Ok(Units::Found(u)) if !u.is_empty() => u,
        Ok(Units::Found(_)) => return empty(GetStatus::OffsetFoundNull, offset),
        Ok(Units::Missing(next)) => return empty(GetStatus::OffsetFoundNull, next.max(offset)),
        Err(e) => {
            tracing::warn!(error = %e, topic = q.topic(), queue_id = q.queue_id(), offset, "consume queue read failed");
            return empty(GetStatus::OffsetFoundNull, offset);
        }
    };
    let plan = plan(&units, cl.min_offset(), max_count, max_bytes, filter);
    let mut res = empty(plan.empty_status, offset + plan.examined as i64);
    read_picks(cl, &plan.picks, offset, &mut res);
    if !res.messages.is_empty() {
        res.status = GetStatus::Found;
    }
    res
}

/// Reads the picked records into `res`, one read per run of adjacent records in one segment
/// (at most [`MAX_COALESCED_READ`]); stops at the first record no longer readable (removed),
/// where the consumer then continues.
fn read_picks(cl: &CommitLog, picks: &[Pick], offset: i64, res: &mut GetResult) {
    let mut i = 0;
    while i < picks.len() {
        let start = picks[i].offset;
        let seg = cl.segment_start(start);
        let mut end = start + picks[i].size as i64;
        let mut j = i + 1;
        while j < picks.len()
            && picks[j].offset == end
            && cl.segment_start(picks[j].offset) == seg
            && end - start < MAX_COALESCED_READ
        {
            end += picks[j].size as i64;
            j += 1;
        }
        match cl.read(start, (end - start) as usize) {
            Ok(Some(buf)) => {
                let mut pos = 0;
                for p in &picks[i..j] {
                    res.messages.push(buf.slice(pos..pos + p.size));
                    pos += p.size;
                }
                res.total_bytes += buf.len();
            }
            other => {
                if let Err(e) = other {
                    tracing::warn!(error = %e, offset = start, "commit log read failed");
                }
                res.next_begin_offset = offset + picks[i].index as i64;
                if res.messages.is_empty() {
                    res.status = GetStatus::MessageWasRemoving;
                }
                break;
            }
        }
        i = j;
    }
}

/// Binary search over `[lo, hi)` whose store times are non-decreasing (`None` = removed, treated
/// as older than everything). Lower: first offset with time >= `ts`, `hi` if none. Upper: last
/// offset with time <= `ts`, 0 if none.
pub fn search_by_time(
    lo: i64,
    hi: i64,
    ts: i64,
    boundary: Boundary,
    mut time_at: impl FnMut(i64) -> Option<i64>,
) -> i64 {
    if lo >= hi {
        return 0;
    }
    let first_where = |pred: &mut dyn FnMut(i64) -> bool| {
        let (mut l, mut h) = (lo, hi);
        while l < h {
            let mid = l + (h - l) / 2;
            if pred(mid) { h = mid } else { l = mid + 1 }
        }
        l
    };
    match boundary {
        Boundary::Lower => first_where(&mut |n| time_at(n).is_some_and(|t| t >= ts)),
        Boundary::Upper => {
            let p = first_where(&mut |n| time_at(n).is_some_and(|t| t > ts));
            if p == lo { 0 } else { p - 1 }
        }
    }
}

/// Store time of the record at queue offset `n`.
pub fn store_time_of(cl: &CommitLog, q: &ConsumeQueue, n: i64) -> Option<i64> {
    let unit = q.unit(n).ok().flatten().filter(CqUnit::is_present)?;
    if unit.offset < cl.min_offset() {
        return None;
    }
    cl.store_timestamp_at(unit.offset).ok().flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn units(list: &[(i64, i32, i64)]) -> Vec<u8> {
        list.iter()
            .flat_map(|&(offset, size, tags_code)| {
                CqUnit {
                    offset,
                    size,
                    tags_code,
                }
                .encode()
            })
            .collect()
    }

    #[test]
    fn plan_limits_and_filters() {
        let u = units(&[(0, 100, 1), (100, 100, 2), (200, 100, 1), (300, 100, 1)]);
        let all = |_| true;
        let p = plan(&u, 0, 2, usize::MAX, &all);
        assert_eq!(p.picks.len(), 2);
        assert_eq!(p.examined, 2);
        let p = plan(&u, 0, 10, 250, &all);
        assert_eq!((p.picks.len(), p.examined), (2, 2));
        // the first message always fits
        let p = plan(&u, 0, 10, 10, &all);
        assert_eq!((p.picks.len(), p.examined), (1, 1));
        let only1 = |t| t == 1;
        let p = plan(&u, 0, 2, usize::MAX, &only1);
        assert_eq!(
            p.picks.iter().map(|x| x.offset).collect::<Vec<_>>(),
            vec![0, 200]
        );
        assert_eq!(p.examined, 3);
        let none = |_| false;
        let p = plan(&u, 0, 2, usize::MAX, &none);
        assert_eq!((p.picks.len(), p.examined), (0, 4));
        assert_eq!(p.empty_status, GetStatus::NoMatchedMessage);
        let p = plan(&u, 1000, 2, usize::MAX, &all);
        assert_eq!(p.empty_status, GetStatus::MessageWasRemoving);
    }

    #[test]
    fn time_search_semantics() {
        // offsets 10..16 with times
        let times = [100, 200, 200, 200, 300, 400];
        let t = |n: i64| Some(times[(n - 10) as usize]);
        let s = |ts, b| search_by_time(10, 16, ts, b, t);
        assert_eq!(s(200, Boundary::Lower), 11);
        assert_eq!(s(200, Boundary::Upper), 13);
        assert_eq!(s(250, Boundary::Lower), 14);
        assert_eq!(s(250, Boundary::Upper), 13);
        // all older: lower = max, upper = last
        assert_eq!(s(500, Boundary::Lower), 16);
        assert_eq!(s(500, Boundary::Upper), 15);
        // all newer: lower = first, upper = 0
        assert_eq!(s(50, Boundary::Lower), 10);
        assert_eq!(s(50, Boundary::Upper), 0);
        assert_eq!(s(100, Boundary::Upper), 10);
        assert_eq!(search_by_time(5, 5, 1, Boundary::Lower, t), 0);
    }
}
