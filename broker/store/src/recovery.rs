//! Recovery at open, after a clean shutdown or a crash.
//!
//! 1. Pick a safe start: the checkpoint's `min(commit_log_flushed, cq_flushed)` (a record
//!    boundary below which the commit log and the consume queues were durable), or the start of
//!    the last three segments without a usable checkpoint, or the first segment when the
//!    `consumequeue/` directory is missing (full rebuild).
//! 2. Scan forward validating every record (magic, sizes, field layout, PHYSICALOFFSET == its
//!    position, body CRC, then the whole-record `__CRC32#` checksum or, for records without
//!    one, strict structure: [`crate::record::verify`]); a torn record (a zeroed page anywhere
//!    in it) fails. Fillers jump to the next segment. The first invalid byte is the end
//!    `E`. An invalid record below the checkpointed durable offset is reported as corruption
//!    instead of being cut.
//! 3. Cut the commit log at `E` (truncate that segment, delete later ones).
//! 4. Cut every consume queue to the units whose record ends at or before `E`.
//! 5. Re-dispatch the records in `[start, E)`: units that are missing are written, units in the
//!    not-yet-durable range are verified and rewritten if they differ. Only records whose
//!    transaction type is NOT or COMMIT are dispatched.
//! 6. Set each queue's min offset from the commit log's min offset: its first unit pointing at
//!    or above it, searched over all its files (a retention pass interrupted by a crash may
//!    leave files, and index entries, pointing below the first segment; see
//!    [`crate::retention`]). A `reset` marker (an interrupted [`crate::MessageStore::reset_to`])
//!    is completed before any of this.

use crate::checkpoint::Checkpoint;
use crate::commit_log::CommitLog;
use crate::config::StoreConfig;
use crate::consume_queue::{ConsumeQueue, CqUnit, valid_topic_dir};
use crate::error::StoreError;
use crate::read::store_time_of;
use crate::record::Layout;
use crate::scan::ScanStop;
use foldhash::HashMap;
use std::path::Path;
use std::sync::Arc;

/// topic → queue id → queue.
pub type QueueMap = HashMap<String, HashMap<i32, Arc<ConsumeQueue>>>;

/// What recovery found.
#[derive(Debug)]
pub struct Recovered {
    /// End of the valid commit log.
    pub end: i64,
    /// The consume queues, consistent with the commit log.
    pub queues: QueueMap,
    /// Where the scan started.
    pub scanned_from: i64,
    /// Bytes cut from the commit log tail.
    pub truncated: i64,
    /// Units written or rewritten during re-dispatch.
    pub redispatched: u64,
    /// Newest store timestamp of a record the queues point to (0 if none).
    pub last_store_ts: i64,
}

/// Loads every `consumequeue/<topic>/<queueId>/` directory. A queue whose files are
/// inconsistent (gap, wrong size or name, e.g. after `consume_queue_units_per_file` changed) is
/// removed and reported: consume queues are derived data, the caller rebuilds them from the
/// whole commit log. Returns the queues and whether a rebuild is needed.
pub fn load_queues(root: &Path, units_per_file: u64) -> Result<(QueueMap, bool), StoreError> {
    let mut map = QueueMap::default();
    let mut rebuild = false;
    let Ok(topics) = std::fs::read_dir(root) else {
        return Ok((map, rebuild));
    };
    for topic_dir in topics.flatten() {
        let Some(topic) = topic_dir.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        if !valid_topic_dir(&topic) || !topic_dir.path().is_dir() {
            continue;
        }
        let Ok(qdirs) = std::fs::read_dir(topic_dir.path()) else {
            continue;
        };
        for qdir in qdirs.flatten() {
            let Some(qid) = qdir
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<i32>().ok())
            else {
                tracing::warn!(path = %qdir.path().display(), "ignoring unexpected entry");
                continue;
            };
            let q = match ConsumeQueue::load(root, &topic, qid, units_per_file) {
                Ok(q) => q,
                Err(StoreError::Corrupt(why)) => {
                    tracing::warn!(%why, "dropping an inconsistent consume queue; rebuilding all queues from the commit log");
                    std::fs::remove_dir_all(qdir.path()).map_err(|e| {
                        StoreError::io(e, format!("removing {}", qdir.path().display()))
                    })?;
                    rebuild = true;
                    continue;
                }
                Err(e) => return Err(e),
            };
            map.entry(topic.clone())
                .or_default()
                .insert(qid, Arc::new(q));
        }
    }
    Ok((map, rebuild))
}

/// The dispatch step shared by recovery and replication: writes the record's unit unless the
/// queue already holds it. `verify` re-reads an existing unit and rewrites it if it differs.
/// Returns the queue and the unit if a unit was written.
pub fn dispatch_record(
    config: &StoreConfig,
    queues: &mut QueueMap,
    cq_root: &Path,
    offset: i64,
    rec: &[u8],
    layout: &Layout,
    verify: bool,
) -> Result<Option<(Arc<ConsumeQueue>, CqUnit)>, StoreError> {
    if !layout.dispatched() {
        return Ok(None);
    }
    let Some(topic) = rec
        .get(layout.topic.clone())
        .and_then(|t| std::str::from_utf8(t).ok())
        .filter(|t| valid_topic_dir(t))
    else {
        tracing::warn!(
            offset,
            "record with an unusable topic name is not dispatched"
        );
        return Ok(None);
    };
    let props = rec
        .get(layout.properties.clone())
        .and_then(|p| std::str::from_utf8(p).ok())
        .unwrap_or("");
    let unit = CqUnit {
        offset,
        size: layout.total as i32,
        tags_code: config.tags_code_of(topic, props, layout.store_timestamp),
    };
    let q = queue_of(config, queues, cq_root, topic, layout.queue_id);
    let qo = layout.queue_offset;
    if qo < 0 {
        tracing::warn!(
            offset,
            qo,
            "record with a negative queue offset is not dispatched"
        );
        return Ok(None);
    }
    Ok(place_unit(&q, qo, unit, verify)?.then_some((q, unit)))
}

/// The queue `topic`/`queue_id` of `queues`, created if new.
fn queue_of(
    config: &StoreConfig,
    queues: &mut QueueMap,
    cq_root: &Path,
    topic: &str,
    queue_id: i32,
) -> Arc<ConsumeQueue> {
    let per_topic = match queues.get_mut(topic) {
        Some(m) => m,
        None => queues.entry(topic.to_owned()).or_default(),
    };
    per_topic
        .entry(queue_id)
        .or_insert_with(|| {
            Arc::new(ConsumeQueue::new(
                cq_root,
                topic,
                queue_id,
                config.consume_queue_units_per_file,
            ))
        })
        .clone()
}

/// Writes `unit` at queue offset `qo` unless the queue holds it already (with `verify`, an
/// existing unit that differs is rewritten). True if written.
fn place_unit(q: &ConsumeQueue, qo: i64, unit: CqUnit, verify: bool) -> Result<bool, StoreError> {
    let max = q.max_offset();
    if qo < max {
        if verify && q.unit(qo)? != Some(unit) {
            q.write_units(qo, &unit.encode())?;
            return Ok(true);
        }
        return Ok(false);
    }
    if qo > max {
        if max == 0 || q.min_offset() == max {
            // an empty queue whose history starts later (older records are gone)
            q.set_min_offset(qo);
        } else {
            tracing::warn!(
                topic = q.topic(),
                queue_id = q.queue_id(),
                qo,
                max,
                "gap in a consume queue"
            );
        }
        q.write_units(qo, &unit.encode())?;
        q.publish_max(qo + 1);
    } else {
        q.append_units(qo, &unit.encode())?;
    }
    Ok(true)
}

/// Where the scan starts, what is known durable, and where existing units are verified.
struct Start {
    /// First record to scan and re-dispatch.
    from: i64,
    /// Data below this was acknowledged durable: it must not be cut.
    trusted: i64,
    /// Units of records at or above this are verified (they may not have been durable).
    verify_from: i64,
}

/// Step 1: the checkpoint's `min(commit_log_flushed, cq_flushed)` if the checkpoint matches the
/// files, else the start of the last three segments; the first segment for a full rebuild.
fn safe_start(
    cl: &CommitLog,
    checkpoint: Option<Checkpoint>,
    rebuild_all: bool,
) -> Result<Start, StoreError> {
    let segments = cl.segments();
    let cl_min = segments.first().map_or(0, |s| s.start());
    let usable = |off: i64| -> Result<bool, StoreError> {
        if segments.is_empty() {
            return Ok(off == 0);
        }
        Ok(match cl.segment_at(off) {
            Some(seg) => off - seg.start() <= seg.file_len()? as i64,
            None => false,
        })
    };
    let cp = match checkpoint {
        Some(cp) if cp.commit_log_flushed >= cl_min && usable(cp.commit_log_flushed)? => Some(cp),
        Some(cp) => {
            tracing::warn!(
                ?cp,
                "checkpoint does not match the commit log files; ignoring it"
            );
            None
        }
        None => None,
    };
    let mut start = match cp {
        Some(cp) => Start {
            from: cp.commit_log_flushed.min(cp.cq_flushed).max(cl_min),
            trusted: cp.commit_log_flushed,
            verify_from: cp.cq_flushed.max(cl_min),
        },
        None => {
            let from = segments
                .len()
                .checked_sub(3)
                .and_then(|i| segments.get(i))
                .or(segments.first())
                .map_or(0, |s| s.start());
            Start {
                from,
                trusted: from,
                verify_from: from,
            }
        }
    };
    if rebuild_all {
        start.from = cl_min;
    }
    Ok(start)
}

/// A truncation at `cap`: the scan starts at a record boundary at or below it (the start of
/// the segment holding it, when the checkpoint's start is above), and data above that start is
/// no longer trusted (it is cut on purpose, a record straddling `cap` included).
fn capped(start: Start, cap: i64, cl: &CommitLog, cl_min: i64) -> Result<Start, StoreError> {
    if cap < cl_min {
        return Err(StoreError::Corrupt(format!(
            "a truncation at {cap} is pending but the commit log starts at {cl_min}: the cut \
             point is gone (retention); reset the replica from its master instead"
        )));
    }
    tracing::warn!(cap, "cutting the commit log tail (a pending truncation)");
    if cap >= start.from {
        return Ok(Start {
            trusted: start.trusted.min(cap),
            ..start
        });
    }
    let size = cl.segment_size();
    let boundary = (cap - cap % size).max(cl_min);
    Ok(Start {
        from: boundary,
        trusted: start.trusted.min(boundary),
        verify_from: start.verify_from.min(boundary),
    })
}

/// Step 2: scans from `start` to the first invalid byte (or `limit`); returns that end and the
/// end of the files. Refuses to cut below `start.trusted`.
fn valid_end(cl: &CommitLog, start: &Start, limit: i64) -> Result<(i64, i64), StoreError> {
    let files_end = match cl.segments().last() {
        Some(s) => s.start() + s.file_len()? as i64,
        None => 0,
    };
    cl.publish(files_end.max(start.from));
    let (end, stop) = cl.scan(start.from, limit, true, |_, _, _| Ok(()))?;
    // a record straddling a truncation's limit goes with the tail (Incomplete: cut on purpose)
    if end < start.trusted && stop != ScanStop::Incomplete {
        return Err(StoreError::Corrupt(format!(
            "invalid data at commit log offset {end} ({stop:?}) below the checkpointed durable \
             offset {}; refusing to cut acknowledged data",
            start.trusted
        )));
    }
    if let ScanStop::Invalid(why) = stop
        && end < files_end
    {
        tracing::warn!(
            end,
            files_end,
            why,
            "commit log tail is torn; truncating {} bytes",
            files_end - end
        );
    }
    Ok((end, files_end))
}

/// Runs recovery (see the module docs).
/// `cap`: a pending [`crate::MessageStore::truncate_tail`]; the valid end is at most that.
pub fn recover(
    config: &StoreConfig,
    cl: &CommitLog,
    checkpoint: Option<Checkpoint>,
    cq_root: &Path,
    cap: Option<i64>,
) -> Result<Recovered, StoreError> {
    let missing = !cq_root.exists();
    let (mut queues, damaged) = load_queues(cq_root, config.consume_queue_units_per_file)?;
    let cl_min = cl.segments().first().map_or(0, |s| s.start());
    let mut start = safe_start(cl, checkpoint, missing || damaged)?;
    if let Some(cap) = cap {
        start = capped(start, cap, cl, cl_min)?;
    }
    let (end, files_end) = valid_end(cl, &start, cap.unwrap_or(i64::MAX))?;

    // 3. cut the commit log
    cl.truncate(end)?;
    cl.publish(end);

    // 4. cut the consume queues to the valid end
    for q in queues.values().flat_map(|m| m.values()) {
        trim_queue(q, end)?;
    }

    // 5. re-dispatch
    let mut redispatched = 0u64;
    cl.scan(start.from, end, false, |off, rec, layout| {
        let verify = off >= start.verify_from;
        if dispatch_record(config, &mut queues, cq_root, off, rec, layout, verify)?.is_some() {
            redispatched += 1;
        }
        Ok(())
    })?;

    // 6. min offsets
    for q in queues.values().flat_map(|m| m.values()) {
        q.init_min_offset(cl_min)?;
    }
    let last_store_ts = last_store_time(cl, &queues);
    Ok(Recovered {
        end,
        queues,
        scanned_from: start.from,
        truncated: (files_end - end).max(0),
        redispatched,
        last_store_ts,
    })
}

/// Newest store timestamp among the queues' last units, 0 without any (keeps store times
/// non-decreasing across restarts).
fn last_store_time(cl: &CommitLog, queues: &QueueMap) -> i64 {
    if cl.segments().is_empty() {
        return 0;
    }
    queues
        .values()
        .flat_map(|m| m.values())
        .filter_map(|q| {
            let n = q.max_offset() - 1;
            (n >= q.min_offset())
                .then(|| store_time_of(cl, q, n))
                .flatten()
        })
        .max()
        .unwrap_or(0)
}

/// Drops the tail units whose record does not end at or before `end`.
fn trim_queue(q: &ConsumeQueue, end: i64) -> Result<(), StoreError> {
    let max = q.max_offset();
    let ok = |n: i64| -> Result<bool, StoreError> {
        Ok(q.unit(n)?
            .is_some_and(|u| u.is_present() && u.offset + i64::from(u.size) <= end))
    };
    if max == 0 || ok(max - 1)? {
        return Ok(());
    }
    // units are ordered by commit log offset: binary search the first bad one
    let (mut lo, mut hi) = (q.min_offset(), max - 1);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if ok(mid)? { lo = mid + 1 } else { hi = mid }
    }
    tracing::warn!(
        topic = q.topic(),
        queue_id = q.queue_id(),
        from = max,
        to = lo,
        "consume queue points past the commit log end; truncating"
    );
    q.truncate(lo)
}
